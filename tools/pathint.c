/* pathint: the command-line program.
 *
 *   pathint train | sample | nll | wkb | demo | info  [options]
 *
 * Exit codes: 0 success, 1 runtime failure (a library call, a file), 2 usage error,
 * 130 interrupted (Ctrl-C cancels the running step loop cleanly). Results go to stdout,
 * progress and messages to stderr. See docs/cli.md.
 */
#include <pathint.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plot.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* ------------------------------------------------------------------------ */
/* Ctrl-C: the first one sets a flag that the step callbacks turn into a clean cancel;
 * the handler then resets, so a second Ctrl-C kills the process. */
static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Messages */
static const char *current_command = "pathint";
static int quiet = 0;

/* A failed library call: the detailed per-thread message, then the generic one. */
static int fail_status(pi_status status, const char *fmt, ...)
{
    if (status == PI_ECANCELED && interrupted) {
        fprintf(stderr, "\npathint %s: interrupted\n", current_command);
        return EXIT_INTERRUPTED;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: error: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *detail = pi_last_error();
    fprintf(stderr, ": %s%s(%s)\n", detail && *detail ? detail : "", detail && *detail ? " " : "",
            pi_status_string(status));
    return EXIT_RUNTIME;
}

static int fail_runtime(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: error: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_RUNTIME;
}

static int fail_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pathint %s --help'.\n", current_command);
    return EXIT_USAGE;
}

static void note(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Progress: a redrawn bar with rate and ETA on a terminal, a few plain lines otherwise. */
typedef struct progress {
    const char *label;
    uint64_t total;
    double start, last_draw;
    int tty, last_tenth, active;
} progress;

static void format_duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%d:%02d", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02d", (int)s / 3600, ((int)s % 3600) / 60);
}

static void progress_begin(progress *p, const char *label, uint64_t total)
{
    p->label = label;
    p->total = total ? total : 1;
    p->start = p->last_draw = now_seconds();
    p->tty = isatty(STDERR_FILENO);
    p->last_tenth = 0;
    p->active = !quiet;
}

static void progress_update(progress *p, uint64_t done, const char *extra, int final)
{
    if (!p->active)
        return;
    double t = now_seconds(), elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
    double eta = rate > 0 ? (double)(p->total - (done < p->total ? done : p->total)) / rate : NAN;
    char eta_s[32], el_s[32];
    format_duration(eta_s, sizeof eta_s, eta);
    format_duration(el_s, sizeof el_s, elapsed);
    int percent = (int)(100.0 * (double)done / (double)p->total);
    if (p->tty) {
        if (!final && t - p->last_draw < 0.1)
            return;
        p->last_draw = t;
        enum { BAR = 24 };
        char bar[BAR + 1];
        int fill = (int)((double)BAR * (double)done / (double)p->total);
        for (int i = 0; i < BAR; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[BAR] = 0;
        fprintf(stderr, "\r%-8s [%s] %3d%% %llu/%llu  %.0f/s  %s %s%s%s\033[K", p->label, bar, percent,
                (unsigned long long)done, (unsigned long long)p->total, rate,
                final ? "in" : "ETA", final ? el_s : eta_s, extra ? "  " : "", extra ? extra : "");
        if (final)
            fputc('\n', stderr);
    } else {
        /* Plain lines: at most one per tenth of the work and per second, then a final one. */
        int tenth = (int)(10.0 * (double)done / (double)p->total);
        if (!final && (tenth <= p->last_tenth || tenth >= 10 || t - p->last_draw < 1.0))
            return;
        p->last_tenth = tenth;
        p->last_draw = t;
        fprintf(stderr, "%s: %3d%% (%llu/%llu) %.0f/s %s %s%s%s\n", p->label, percent,
                (unsigned long long)done, (unsigned long long)p->total, rate,
                final ? "done in" : "ETA", final ? el_s : eta_s, extra ? "  " : "", extra ? extra : "");
    }
}

/* ------------------------------------------------------------------------ */
/* Option parsing: each subcommand declares its options; values are looked up by name. */
typedef struct option_spec {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0 for none */
    const char *metavar; /* NULL for a flag */
    const char *help;
} option_spec;

enum { MAX_OPTIONS = 48, MAX_POSITIONAL = 4 };

typedef struct args {
    const option_spec *specs;
    const char *value[MAX_OPTIONS];
    int given[MAX_OPTIONS];
    const char *positional[MAX_POSITIONAL];
    int npositional;
    int bad; /* set by the typed getters on a malformed value */
} args;

static int find_spec(const option_spec *specs, const char *name, size_t len, char short_name)
{
    for (int i = 0; specs[i].name; i++)
        if (short_name ? specs[i].short_name == short_name
                       : strlen(specs[i].name) == len && strncmp(specs[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Returns 0, or EXIT_USAGE after printing a message. */
static int parse_args(int argc, char **argv, const option_spec *specs, args *a)
{
    memset(a, 0, sizeof *a);
    a->specs = specs;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++) {
                if (a->npositional == MAX_POSITIONAL)
                    return fail_usage("too many arguments");
                a->positional[a->npositional++] = argv[i];
            }
            break;
        }
        int k;
        const char *inline_value = NULL;
        if (arg[0] == '-' && arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            k = find_spec(specs, name, len, 0);
            if (k < 0)
                return fail_usage("unknown option '--%.*s'", (int)len, name);
            if (eq)
                inline_value = eq + 1;
        } else if (arg[0] == '-' && arg[1] && arg[2] == 0 && !(arg[1] >= '0' && arg[1] <= '9')) {
            k = find_spec(specs, NULL, 0, arg[1]);
            if (k < 0)
                return fail_usage("unknown option '%s'", arg);
        } else {
            if (a->npositional == MAX_POSITIONAL)
                return fail_usage("unexpected argument '%s'", arg);
            a->positional[a->npositional++] = arg;
            continue;
        }
        if (specs[k].metavar) {
            if (!inline_value) {
                if (i + 1 >= argc)
                    return fail_usage("option '--%s' needs a value (%s)", specs[k].name, specs[k].metavar);
                inline_value = argv[++i];
            }
            a->value[k] = inline_value;
        } else if (inline_value) {
            return fail_usage("option '--%s' takes no value", specs[k].name);
        }
        a->given[k] = 1;
    }
    return 0;
}

static int spec_index(const args *a, const char *name)
{
    int k = find_spec(a->specs, name, strlen(name), 0);
    if (k < 0) {
        fprintf(stderr, "internal error: option --%s is not declared for this command\n", name);
        abort();
    }
    return k;
}

static int has_opt(const args *a, const char *name) { return a->given[spec_index(a, name)]; }

static const char *opt_str(const args *a, const char *name, const char *def)
{
    int k = spec_index(a, name);
    return a->given[k] ? a->value[k] : def;
}

static double opt_double(args *a, const char *name, double def)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        fail_usage("--%s expects a finite number, got '%s'", name, s);
        a->bad = 1;
        return def;
    }
    return v;
}

static uint64_t opt_u64(args *a, const char *name, uint64_t def, uint64_t min, uint64_t max)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno == ERANGE || s[0] == '-' || v < min || v > max) {
        fail_usage("--%s expects an integer in [%llu, %llu], got '%s'", name, (unsigned long long)min,
                   (unsigned long long)max, s);
        a->bad = 1;
        return def;
    }
    return (uint64_t)v;
}

/* A name from a table; -1 (and a usage message) if unknown. */
typedef struct named_value {
    const char *name;
    int value;
} named_value;

static int opt_choice(args *a, const char *name, const named_value *table, int def)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    for (int i = 0; table[i].name; i++)
        if (strcmp(table[i].name, s) == 0)
            return table[i].value;
    char list[512] = "";
    for (int i = 0; table[i].name; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, table[i].name, sizeof list - strlen(list) - 1);
    }
    fail_usage("--%s: unknown value '%s' (choose from %s)", name, s, list);
    a->bad = 1;
    return def;
}

static void print_help(const char *usage, const char *description, const option_spec *specs)
{
    printf("Usage: %s\n\n%s\n\nOptions:\n", usage, description);
    for (int i = 0; specs[i].name; i++) {
        char left[64];
        if (specs[i].short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", specs[i].short_name, specs[i].name,
                     specs[i].metavar ? " " : "", specs[i].metavar ? specs[i].metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", specs[i].name, specs[i].metavar ? " " : "",
                     specs[i].metavar ? specs[i].metavar : "");
        printf("  %-26s %s\n", left, specs[i].help);
    }
    printf("\nExit status: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.\n");
}

/* ------------------------------------------------------------------------ */
/* Names */
static const named_value method_names[] = {
    {"euler", PI_METHOD_EULER}, {"exp1", PI_METHOD_EXP1}, {"ddim", PI_METHOD_EXP1},
    {"exp2m", PI_METHOD_EXP2M}, {"dpm2m", PI_METHOD_EXP2M}, {"heun", PI_METHOD_HEUN},
    {"rk45", PI_METHOD_RK45},   {NULL, 0}};
static const named_value schedule_names[] = {{"uniform-lambda", PI_SCHEDULE_UNIFORM_LAMBDA},
                                             {"uniform-t", PI_SCHEDULE_UNIFORM_T},
                                             {"karras", PI_SCHEDULE_KARRAS},
                                             {NULL, 0}};
/* SDE presets: the built-in kinds, plus Hirono et al.'s SIMPLE and COSINE (MATH.md §1). */
enum { SDE_HIRONO_SIMPLE = 101, SDE_HIRONO_COSINE = 102 };
static const named_value sde_names[] = {
    {"vp", PI_SDE_KIND_VP_LINEAR},   {"vp-cosine", PI_SDE_KIND_VP_COSINE},          {"subvp", PI_SDE_KIND_SUBVP},
    {"ve", PI_SDE_KIND_VE},          {"edm", PI_SDE_KIND_EDM},                      {"simple", SDE_HIRONO_SIMPLE},
    {"cosine", SDE_HIRONO_COSINE}, {NULL, 0}};
static const named_value dataset_names[] = {
    {"swiss-roll", PI_DATASET_SWISS_ROLL}, {"25-gaussians", PI_DATASET_GAUSSIANS_25},
    {"8-gaussians", PI_DATASET_RING_8},    {"moons", PI_DATASET_MOONS},
    {"checkerboard", PI_DATASET_CHECKERBOARD}, {NULL, 0}};
static const named_value weighting_names[] = {{"likelihood", PI_WEIGHTING_LIKELIHOOD},
                                              {"sigma2", PI_WEIGHTING_SIGMA2},
                                              {"edm", PI_WEIGHTING_EDM},
                                              {NULL, 0}};
static const named_value precond_names[] = {{"edm", PI_PRECOND_EDM},
                                            {"input", PI_PRECOND_INPUT},
                                            {"none", PI_PRECOND_NONE},
                                            {NULL, 0}};
static const named_value divergence_names[] = {{"exact", PI_DIVERGENCE_EXACT},
                                               {"rademacher", PI_DIVERGENCE_HUTCHINSON_RADEMACHER},
                                               {"gaussian", PI_DIVERGENCE_HUTCHINSON_GAUSSIAN},
                                               {NULL, 0}};
static const named_value wkb_names[] = {{"sweep", PI_WKB_ALGORITHM_SWEEP}, {"reference", PI_WKB_ALGORITHM_REFERENCE}, {NULL, 0}};

static const char *name_of(const named_value *table, int value)
{
    for (int i = 0; table[i].name; i++)
        if (table[i].value == value)
            return table[i].name;
    return "?";
}

/* The trainer's EMA starts from the initial weights, without warm-up: a long memory would
 * keep a visible share of them after a short run, so the decay follows the run length. */
static double default_ema(uint64_t steps) { return steps < 5000 ? 0.99 : steps < 50000 ? 0.998 : 0.999; }

static pi_status make_sde(int preset, pi_sde_t **out)
{
    pi_sde_t *sde = NULL;
    pi_status st;
    if (preset == SDE_HIRONO_SIMPLE) {
        st = pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);
        if (!st)
            st = pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 0.0);
        if (!st)
            st = pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01);
    } else if (preset == SDE_HIRONO_COSINE) {
        st = pi_sde_create(PI_SDE_KIND_VP_COSINE, &sde);
        if (!st)
            st = pi_sde_set_param(sde, PI_SDE_PARAM_COSINE_S, 0.0);
        if (!st)
            st = pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01);
    } else {
        st = pi_sde_create((pi_sde_kind)preset, &sde);
    }
    if (st) {
        pi_sde_destroy(sde);
        return st;
    }
    *out = sde;
    return PI_OK;
}

/* ------------------------------------------------------------------------ */
/* Callbacks with progress and Ctrl-C */
typedef struct run_progress {
    progress bar;
    uint64_t offset; /* steps done in earlier calls */
} run_progress;

static int on_sampler_step(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                           const float *denoised, void *user_data)
{
    (void)n, (void)dim, (void)x, (void)denoised;
    run_progress *rp = user_data;
    char extra[48];
    snprintf(extra, sizeof extra, "t=%.4f", t);
    rp->bar.total = nsteps;
    progress_update(&rp->bar, step, extra, 0);
    return interrupted ? 1 : 0;
}

static int on_train_step(uint64_t step, double loss, double ema_loss, double steps_per_second, void *user_data)
{
    (void)loss, (void)steps_per_second;
    run_progress *rp = user_data;
    char extra[48];
    snprintf(extra, sizeof extra, "loss %.4f", ema_loss);
    progress_update(&rp->bar, step - rp->offset, extra, 0);
    return interrupted ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Data */
static int is_png(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".png") == 0;
}

static int load_data(const char *path, float **data, size_t *n, size_t *dim)
{
    pi_status st = pi_data_load(path, data, n, dim);
    if (st)
        return fail_status(st, "cannot load data from '%s'", path);
    return 0;
}

/* Save n × dim floats: .npy/.csv/.f32 through the library, "-" as CSV on stdout. */
static int save_data(const char *path, size_t n, size_t dim, const float *data)
{
    if (strcmp(path, "-") == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++)
                printf("%.9g%c", data[i * dim + j], j + 1 < dim ? ',' : '\n');
        return fflush(stdout) == 0 ? 0 : fail_runtime("cannot write to stdout: %s", strerror(errno));
    }
    pi_status st = pi_data_save(path, n, dim, data);
    if (st)
        return fail_status(st, "cannot write '%s'", path);
    return 0;
}

static void data_bounds(size_t n, size_t dim, const float *x, double *lo, double *hi)
{
    /* A square window around the central 99.5% of both coordinates. */
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 2 && j < dim; j++) {
            double v = x[i * dim + j];
            if (isfinite(v)) {
                xmin = fmin(xmin, v);
                xmax = fmax(xmax, v);
            }
        }
    if (!(xmax > xmin)) {
        xmin = -1;
        xmax = 1;
    }
    double pad = 0.08 * (xmax - xmin);
    *lo = xmin - pad;
    *hi = xmax + pad;
}

static int write_scatter_png(const char *path, size_t n, size_t dim, const float *x, const char *title)
{
    if (dim < 2)
        return fail_runtime("a PNG scatter plot needs points of dimension >= 2 (these have %zu)", dim);
    plot_canvas c;
    if (plot_canvas_init(&c, 640, 680, 0xFFFFFF))
        return fail_runtime("out of memory");
    double lo, hi;
    data_bounds(n, dim, x, &lo, &hi);
    plot_panel p = {50, 50, 560, 560, lo, hi, lo, hi};
    plot_scatter(&c, &p, n, dim, x, 1.4, 0x1f4e99, n > 5000 ? 0.25 : 0.5);
    plot_panel_frame(&c, &p, title);
    plot_panel_ticks(&c, &p, 6, 6);
    char err[512];
    int rc = plot_write_png(&c, path, err, sizeof err);
    plot_canvas_free(&c);
    return rc ? fail_runtime("%s", err) : 0;
}

/* ------------------------------------------------------------------------ */
/* Sampler options shared by sample, nll, wkb */
#define SAMPLER_OPTIONS                                                                             \
    {"hbar", 0, "H", "ħ >= 0: 0 = probability-flow ODE, 1 = reverse SDE (default 0)"},              \
        {"steps", 0, "N", "integration steps (default 50)"},                                      \
        {"method", 0, "NAME", "euler, exp1 (= ddim), exp2m (= dpm2m, default), heun, rk45"},       \
        {"schedule", 0, "NAME", "uniform-lambda (default), uniform-t, karras"},                    \
        {"rho", 0, "R", "Karras schedule exponent (default 7)"},                                   \
        {"seed", 0, "S", "seed of all noise (default 0)"},                                         \
        {"threads", 'j', "K", "worker threads (default 1; results do not depend on it)"},          \
        {"quiet", 'q', NULL, "no progress output"},                                                \
        {"help", 'h', NULL, "show this help"}

/* Parse the sampler options once without applying them, so that a usage error is reported
 * (exit 2) before any file is opened. */
static int check_sampler_options(args *a)
{
    (void)opt_double(a, "hbar", 0.0);
    (void)opt_choice(a, "method", method_names, PI_METHOD_EXP2M);
    (void)opt_u64(a, "steps", 50, 1, 1000000);
    (void)opt_choice(a, "schedule", schedule_names, PI_SCHEDULE_UNIFORM_LAMBDA);
    (void)opt_double(a, "rho", NAN);
    (void)opt_u64(a, "seed", 0, 0, UINT64_MAX);
    (void)opt_u64(a, "threads", 1, 1, 256);
    return a->bad ? EXIT_USAGE : 0;
}

static pi_status configure_sampler(args *a, pi_sampler_t *s)
{
    pi_status st = PI_OK;
    if (!st && has_opt(a, "hbar"))
        st = pi_sampler_set_hbar(s, opt_double(a, "hbar", 0.0));
    if (!st && has_opt(a, "method"))
        st = pi_sampler_set_method(s, (pi_method)opt_choice(a, "method", method_names, PI_METHOD_EXP2M));
    if (!st && has_opt(a, "steps"))
        st = pi_sampler_set_steps(s, (size_t)opt_u64(a, "steps", 50, 1, 1000000));
    if (!st && (has_opt(a, "schedule") || has_opt(a, "rho")))
        st = pi_sampler_set_schedule(
            s, (pi_schedule)opt_choice(a, "schedule", schedule_names, PI_SCHEDULE_UNIFORM_LAMBDA),
            opt_double(a, "rho", 7.0));
    if (!st && has_opt(a, "seed"))
        st = pi_sampler_set_seed(s, opt_u64(a, "seed", 0, 0, UINT64_MAX));
    if (!st && has_opt(a, "threads"))
        st = pi_sampler_set_threads(s, (int)opt_u64(a, "threads", 1, 1, 256));
    return st;
}

static int load_model(const char *path, pi_model_t **model)
{
    pi_status st = pi_model_load(path, model);
    if (st)
        return fail_status(st, "cannot load model '%s'", path);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* pathint sample */
static const option_spec sample_options[] = {
    {"model", 'm', "FILE", "model file (required)"},
    {"n", 'n', "N", "number of samples (default 1000)"},
    {"out", 'o', "FILE", "output: .csv, .npy, .f32, .png (scatter) or - for CSV on stdout (default -)"},
    {"denoise-final", 0, NULL, "return the denoiser output at the last step"},
    SAMPLER_OPTIONS,
    {NULL, 0, NULL, NULL}};

static int cmd_sample(args *a)
{
    const char *model_path = opt_str(a, "model", a->npositional ? a->positional[0] : NULL);
    if (!model_path)
        return fail_usage("missing --model FILE");
    size_t n = (size_t)opt_u64(a, "n", 1000, 1, 100000000);
    const char *out = opt_str(a, "out", "-");
    if (a->bad || check_sampler_options(a))
        return EXIT_USAGE;
    pi_model_t *model = NULL;
    pi_sampler_t *s = NULL;
    float *x = NULL;
    int rc = load_model(model_path, &model);
    if (rc)
        return rc;
    size_t dim = 0;
    pi_model_get_dim(model, &dim);
    pi_status st = pi_sampler_create(model, &s);
    if (st) {
        rc = fail_status(st, "cannot create a sampler");
        goto done;
    }
    st = configure_sampler(a, s);
    if (a->bad) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (!st && has_opt(a, "denoise-final"))
        st = pi_sampler_set_denoise_final(s, 1);
    if (st) {
        rc = fail_status(st, "invalid sampler option");
        goto done;
    }
    run_progress rp = {0};
    progress_begin(&rp.bar, "sample", 1);
    pi_sampler_set_callback(s, on_sampler_step, &rp);
    x = malloc(n * dim * sizeof *x);
    if (!x) {
        rc = fail_runtime("out of memory for %zu samples of dimension %zu", n, dim);
        goto done;
    }
    st = pi_sampler_run(s, n, x);
    if (st) {
        rc = fail_status(st, "sampling failed");
        goto done;
    }
    progress_update(&rp.bar, rp.bar.total, NULL, 1);
    if (is_png(out)) {
        char title[96];
        snprintf(title, sizeof title, "%zu samples, ħ = %g", n, opt_double(a, "hbar", 0.0));
        rc = write_scatter_png(out, n, dim, x, title);
    } else {
        rc = save_data(out, n, dim, x);
    }
    if (!rc && strcmp(out, "-") != 0)
        note("wrote %zu samples of dimension %zu to %s\n", n, dim, out);
done:
    free(x);
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* pathint nll / wkb: per-point likelihoods in blocks, so progress and Ctrl-C work. */
typedef struct summary {
    double mean, sem;
} summary;

static summary summarize(size_t n, const double *v)
{
    summary s = {0, 0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s.mean += v[i];
            k++;
        }
    if (k == 0)
        return (summary){NAN, NAN};
    s.mean /= (double)k;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sem = k > 1 ? sqrt(ss / (double)(k - 1) / (double)k) : 0.0;
    return s;
}

/* NLL₀ (and c1 when c1 != NULL) of n points, in blocks. Returns a pi_status; points that
 * failed get NaN and are counted in *failed. */
static pi_status likelihood_in_blocks(pi_likelihood_t *lik, size_t n, size_t dim, const float *x, double *nll,
                                      double *c1, int threads, const char *label, size_t *failed)
{
    size_t block = (size_t)(threads > 0 ? threads : 1) * 4;
    pi_status *status = malloc(block * sizeof *status);
    if (!status)
        return PI_ENOMEM;
    progress bar;
    progress_begin(&bar, label, n);
    pi_status first = PI_OK;
    *failed = 0;
    for (size_t i = 0; i < n; i += block) {
        if (interrupted) {
            free(status);
            return PI_ECANCELED;
        }
        size_t m = n - i < block ? n - i : block;
        pi_status st = pi_likelihood_nll_ex(lik, m, x + i * dim, nll + i, c1 ? c1 + i : NULL, NULL, status);
        if (st) {
            if (st == PI_EINVAL || st == PI_EMISMATCH || st == PI_ENOMEM || st == PI_EUNSUPPORTED) {
                free(status);
                return st;
            }
            for (size_t j = 0; j < m; j++)
                if (status[j]) {
                    nll[i + j] = NAN;
                    if (c1)
                        c1[i + j] = NAN;
                    (*failed)++;
                }
            if (!first)
                first = st;
        }
        char extra[64];
        summary sm = summarize(i + m, nll);
        snprintf(extra, sizeof extra, "NLL0 %.3f", sm.mean);
        progress_update(&bar, i + m, extra, 0);
    }
    progress_update(&bar, n, NULL, 1);
    free(status);
    return first;
}

static const option_spec nll_options[] = {
    {"model", 'm', "FILE", "model file (required)"},
    {"data", 'd', "FILE", "points: .csv, .npy or .f32 (required)"},
    {"out", 'o', "FILE", "per-point results (.csv, .npy, .f32; columns nll0[, c1])"},
    {"divergence", 0, "MODE", "exact (default), rademacher, gaussian"},
    {"probes", 0, "K", "Hutchinson probes (default 1)"},
    {"rtol", 0, "R", "ODE relative tolerance (default 1e-6)"},
    {"atol", 0, "A", "ODE absolute tolerance (default 1e-8)"},
    {"dequantize", 0, "W", "uniform dequantisation bin width (default 0: off)"},
    {"bpd-scale", 0, "S", "also print bits/dim with this data scale (e.g. 256)"},
    {"algorithm", 0, "NAME", "wkb only: sweep (default) or reference"},
    SAMPLER_OPTIONS,
    {NULL, 0, NULL, NULL}};

static int likelihood_command(args *a, int with_c1)
{
    const char *model_path = opt_str(a, "model", NULL), *data_path = opt_str(a, "data", NULL);
    if (!model_path)
        return fail_usage("missing --model FILE");
    if (!data_path)
        return fail_usage("missing --data FILE");
    if (!with_c1 && has_opt(a, "algorithm"))
        return fail_usage("--algorithm applies to 'pathint wkb' only");
    int threads = (int)opt_u64(a, "threads", 1, 1, 256);
    int div = opt_choice(a, "divergence", divergence_names, PI_DIVERGENCE_EXACT);
    size_t probes = (size_t)opt_u64(a, "probes", 1, 1, 100000);
    double rtol = opt_double(a, "rtol", 1e-6), atol = opt_double(a, "atol", 1e-8);
    double deq = opt_double(a, "dequantize", 0.0), bpd_scale = opt_double(a, "bpd-scale", 0.0);
    int algorithm = opt_choice(a, "algorithm", wkb_names, PI_WKB_ALGORITHM_SWEEP);
    if (a->bad || check_sampler_options(a))
        return EXIT_USAGE;
    pi_model_t *model = NULL;
    pi_sampler_t *s = NULL;
    pi_likelihood_t *lik = NULL;
    float *x = NULL, *table = NULL;
    double *nll = NULL, *c1 = NULL;
    size_t n = 0, dim = 0, mdim = 0;
    int rc = load_model(model_path, &model);
    if (!rc)
        rc = load_data(data_path, &x, &n, &dim);
    if (rc)
        goto done;
    pi_model_get_dim(model, &mdim);
    if (mdim != dim) {
        rc = fail_runtime("'%s' has points of dimension %zu but the model's dimension is %zu", data_path, dim,
                          mdim);
        goto done;
    }
    pi_status st = pi_sampler_create(model, &s);
    if (!st)
        st = configure_sampler(a, s);
    if (a->bad) {
        rc = EXIT_USAGE;
        goto done;
    }
    /* The likelihood handle takes the sampler's seed and threads (shared options). */
    if (!st)
        st = pi_likelihood_create(model, &lik);
    if (!st && has_opt(a, "seed"))
        st = pi_likelihood_set_seed(lik, opt_u64(a, "seed", 0, 0, UINT64_MAX));
    if (!st && has_opt(a, "threads"))
        st = pi_likelihood_set_threads(lik, (int)opt_u64(a, "threads", 1, 1, 256));
    if (!st && (has_opt(a, "divergence") || has_opt(a, "probes")))
        st = pi_likelihood_set_divergence(lik, (pi_divergence)div, probes);
    if (!st && (has_opt(a, "rtol") || has_opt(a, "atol")))
        st = pi_likelihood_set_tolerances(lik, rtol, atol);
    if (!st && has_opt(a, "dequantize"))
        st = pi_likelihood_set_dequantization(lik, deq);
    if (!st && with_c1)
        st = pi_likelihood_set_wkb_algorithm(lik, (pi_wkb_algorithm)algorithm);
    if (st) {
        rc = fail_status(st, "invalid option");
        goto done;
    }
    nll = malloc(n * sizeof *nll);
    c1 = with_c1 ? malloc(n * sizeof *c1) : NULL;
    if (!nll || (with_c1 && !c1)) {
        rc = fail_runtime("out of memory");
        goto done;
    }
    size_t failed = 0;
    st = likelihood_in_blocks(lik, n, dim, x, nll, c1, threads, with_c1 ? "wkb" : "nll", &failed);
    if (st == PI_ECANCELED || (st && failed == 0)) {
        rc = fail_status(st, "likelihood failed");
        goto done;
    }
    if (failed)
        fprintf(stderr, "pathint %s: warning: %zu of %zu points failed (%s); they are NaN in the output\n",
                current_command, failed, n, pi_status_string(st));
    summary s0 = summarize(n, nll);
    printf("points      %zu (dimension %zu)\n", n, dim);
    printf("NLL0        %.4f ± %.4f nats per point (probability-flow ODE, ħ = 0)\n", s0.mean, s0.sem);
    double bpd = NAN;
    if (bpd_scale > 0 && pi_bits_per_dim(s0.mean, dim, bpd_scale, &bpd) == PI_OK)
        printf("bits/dim    %.4f (scale %g)\n", bpd, bpd_scale);
    if (with_c1) {
        summary sc = summarize(n, c1);
        printf("c1          %.4f ± %.4f   (log q^ħ ≈ log q^0 + ħ c1)\n", sc.mean, sc.sem);
        printf("\n   ħ     NLL(ħ) ≈ NLL0 − ħ c1\n");
        double hb = has_opt(a, "hbar") ? opt_double(a, "hbar", 0) : -1;
        const double hbars[] = {0.0, 0.25, 0.5, 1.0};
        for (size_t i = 0; i < 4; i++)
            printf("%6.2f   %10.4f\n", hbars[i], s0.mean - hbars[i] * sc.mean);
        if (hb >= 0)
            printf("%6.2f   %10.4f   (--hbar)\n", hb, s0.mean - hb * sc.mean);
    } else if (has_opt(a, "hbar") && opt_double(a, "hbar", 0) != 0) {
        printf("(for NLL at ħ = %g use 'pathint wkb', which adds the first-order term)\n", opt_double(a, "hbar", 0));
    }
    const char *out = opt_str(a, "out", NULL);
    if (out) {
        size_t cols = with_c1 ? 2 : 1;
        table = malloc(n * cols * sizeof *table);
        if (!table) {
            rc = fail_runtime("out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            table[i * cols] = (float)nll[i];
            if (with_c1)
                table[i * cols + 1] = (float)c1[i];
        }
        rc = save_data(out, n, cols, table);
        if (!rc && strcmp(out, "-"))
            note("wrote per-point results to %s\n", out);
    }
done:
    free(table);
    free(nll);
    free(c1);
    pi_free(x);
    pi_sampler_destroy(s);
    pi_likelihood_destroy(lik);
    pi_model_destroy(model);
    return rc;
}

static int cmd_nll(args *a) { return likelihood_command(a, 0); }
static int cmd_wkb(args *a) { return likelihood_command(a, 1); }

/* ------------------------------------------------------------------------ */
/* pathint train */
static const option_spec train_options[] = {
    {"data", 'd', "FILE", "training points: .csv, .npy or .f32"},
    {"dataset", 0, "NAME", "or a built-in 2-D set: swiss-roll, 25-gaussians, 8-gaussians, moons, checkerboard"},
    {"n", 'n', "N", "points to generate for --dataset (default 20000)"},
    {"out", 'o', "FILE", "model file to write (required unless --checkpoint)"},
    {"sde", 0, "NAME", "vp, vp-cosine, subvp, ve, edm, simple (default), cosine"},
    {"width", 0, "W", "hidden width (default 128)"},
    {"layers", 0, "L", "hidden layers (default 3)"},
    {"steps", 0, "N", "Adam steps (default 16000)"},
    {"batch", 0, "B", "batch size (default 128)"},
    {"lr", 0, "LR", "learning rate (default 4e-3, cosine decay)"},
    {"weighting", 0, "NAME", "likelihood (default), sigma2, edm"},
    {"precond", 0, "NAME", "input/output scaling: edm (default), input (unit-scale input, eps output), none (x/alpha)"},
    {"sigma-data", 0, "S", "sigma_data of the scaling (default 0.5)"},
    {"ema", 0, "D", "EMA decay of the weights (default 0.99 below 5000 steps, 0.998 below 50000, else 0.999)"},
    {"seed", 0, "S", "seed of weights, batches and noise (default 0)"},
    {"threads", 'j', "K", "worker threads (default 1)"},
    {"checkpoint", 0, "FILE", "also write a resumable trainer checkpoint"},
    {"resume", 0, "FILE", "continue from a checkpoint (--steps more steps)"},
    {"safetensors", 0, "FILE", "also export the weights as .safetensors"},
    {"quiet", 'q', NULL, "no progress output"},
    {"help", 'h', NULL, "show this help"},
    {NULL, 0, NULL, NULL}};

static int cmd_train(args *a)
{
    const char *data_path = opt_str(a, "data", NULL), *out = opt_str(a, "out", NULL);
    const char *ckpt = opt_str(a, "checkpoint", NULL), *resume = opt_str(a, "resume", NULL);
    int dataset = opt_choice(a, "dataset", dataset_names, 0);
    size_t ngen = (size_t)opt_u64(a, "n", 20000, 1, 100000000);
    int sde_preset = opt_choice(a, "sde", sde_names, SDE_HIRONO_SIMPLE);
    size_t width = (size_t)opt_u64(a, "width", 128, 1, 65536);
    size_t layers = (size_t)opt_u64(a, "layers", 3, 1, 64);
    uint64_t steps = opt_u64(a, "steps", 16000, 1, UINT64_MAX / 2);
    size_t batch = (size_t)opt_u64(a, "batch", 128, 1, 1u << 24);
    double lr = opt_double(a, "lr", 4e-3);
    double ema = opt_double(a, "ema", default_ema(steps));
    int weighting = opt_choice(a, "weighting", weighting_names, PI_WEIGHTING_LIKELIHOOD);
    int precond = opt_choice(a, "precond", precond_names, PI_PRECOND_EDM);
    double sigma_data = opt_double(a, "sigma-data", 0.5);
    uint64_t seed = opt_u64(a, "seed", 0, 0, UINT64_MAX);
    int threads = (int)opt_u64(a, "threads", 1, 1, 256);
    if (a->bad)
        return EXIT_USAGE;
    if (resume && (has_opt(a, "precond") || has_opt(a, "sigma-data")))
        return fail_usage("--resume takes the model from the checkpoint; drop --precond/--sigma-data");
    if (!data_path == !has_opt(a, "dataset"))
        return fail_usage("give exactly one of --data FILE and --dataset NAME");
    if (!out && !ckpt)
        return fail_usage("missing --out FILE (or --checkpoint FILE)");
    if (resume && (has_opt(a, "sde") || has_opt(a, "width") || has_opt(a, "layers")))
        return fail_usage("--resume takes the model from the checkpoint; drop --sde/--width/--layers");

    float *x = NULL;
    size_t n = 0, dim = 0;
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    int rc = 0;
    pi_status st;
    if (data_path) {
        if ((rc = load_data(data_path, &x, &n, &dim)))
            return rc;
    } else {
        n = ngen;
        dim = 2;
        x = malloc(n * dim * sizeof *x);
        if (!x)
            return fail_runtime("out of memory");
        if ((st = pi_data_generate((pi_dataset)dataset, n, seed, x))) {
            free(x);
            return fail_status(st, "cannot generate the data set");
        }
    }
    uint64_t offset = 0;
    if (resume) {
        if ((st = pi_trainer_resume(resume, &model, &tr))) {
            rc = fail_status(st, "cannot resume from '%s'", resume);
            goto done;
        }
        pi_trainer_get_step(tr, &offset);
        note("resumed from %s at step %llu\n", resume, (unsigned long long)offset);
    } else {
        st = make_sde(sde_preset, &sde);
        if (!st)
            st = pi_model_create_mlp(sde, dim, width, layers, &model);
        if (!st)
            st = pi_model_mlp_init(model, seed);
        /* EDM preconditioning with σ_data = 0.5 by default. With --precond none the network
         * sees x̃ = x/α of size ~1/α(T) and the WKB slope c1 is dominated by its Jacobian
         * errors; EDM with σ_data = 1 (the built-in sets' own scale) starts exactly at the
         * best Gaussian fit, a saddle the 25-Gaussian set never left (loss 13.9 against 7.0
         * with σ_data = 0.5); docs/reproduction.md. */
        if (!st)
            st = pi_model_mlp_set_preconditioning(model, (pi_precond)precond, sigma_data);
        if (!st)
            st = pi_trainer_create(model, &tr);
        if (!st)
            st = pi_trainer_set_learning_rate(tr, lr);
        if (!st)
            st = pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, steps / 50, steps);
        if (!st)
            st = pi_trainer_set_batch_size(tr, batch);
        if (!st)
            st = pi_trainer_set_weighting(tr, (pi_weighting)weighting);
        if (!st && weighting == PI_WEIGHTING_LIKELIHOOD)
            st = pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE);
        if (!st)
            st = pi_trainer_set_ema(tr, ema);
        if (!st)
            st = pi_trainer_set_seed(tr, seed);
        if (st) {
            rc = fail_status(st, "cannot set up training");
            goto done;
        }
    }
    if ((st = pi_trainer_set_threads(tr, threads))) {
        rc = fail_status(st, "invalid --threads");
        goto done;
    }
    size_t nparams = 0;
    pi_model_get_num_params(model, &nparams);
    note("training an MLP (%zu parameters) on %zu points of dimension %zu for %llu steps\n", nparams, n, dim,
         (unsigned long long)steps);
    run_progress rp = {0};
    rp.offset = offset;
    progress_begin(&rp.bar, "train", steps);
    pi_trainer_set_callback(tr, on_train_step, &rp);
    double t0 = now_seconds();
    st = pi_trainer_fit(tr, n, x, steps);
    if (st) {
        rc = fail_status(st, "training failed");
        goto done;
    }
    progress_update(&rp.bar, steps, NULL, 1);
    double loss = NAN;
    pi_trainer_loss(tr, 1, n < 4096 ? n : 4096, x, &loss);
    printf("trained %llu steps in %.1f s; loss %.4f\n", (unsigned long long)steps, now_seconds() - t0, loss);
    if (out && (st = pi_model_save(model, out))) {
        rc = fail_status(st, "cannot write model '%s'", out);
        goto done;
    }
    if (out)
        note("wrote model to %s\n", out);
    if (ckpt) {
        if ((st = pi_trainer_save(tr, ckpt))) {
            rc = fail_status(st, "cannot write checkpoint '%s'", ckpt);
            goto done;
        }
        note("wrote checkpoint to %s\n", ckpt);
    }
    const char *st_path = opt_str(a, "safetensors", NULL);
    if (st_path) {
        if ((st = pi_model_save_safetensors(model, st_path))) {
            rc = fail_status(st, "cannot write '%s'", st_path);
            goto done;
        }
        note("wrote weights to %s\n", st_path);
    }
done:
    if (data_path)
        pi_free(x);
    else
        free(x);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* pathint info */
static const option_spec info_options[] = {{"help", 'h', NULL, "show this help"}, {NULL, 0, NULL, NULL}};

static const named_value model_kind_names[] = {{"gaussian mixture", PI_MODEL_KIND_GMM},
                                               {"empirical", PI_MODEL_KIND_EMPIRICAL},
                                               {"mlp", PI_MODEL_KIND_MLP},
                                               {"callback", PI_MODEL_KIND_CALLBACK},
                                               {NULL, 0}};
static const named_value sde_kind_names[] = {{"vp (linear beta)", PI_SDE_KIND_VP_LINEAR}, {"vp cosine", PI_SDE_KIND_VP_COSINE},
                                             {"sub-vp", PI_SDE_KIND_SUBVP},           {"ve", PI_SDE_KIND_VE},
                                             {"edm", PI_SDE_KIND_EDM},                {"custom", PI_SDE_KIND_CUSTOM},
                                             {NULL, 0}};

static int cmd_info(args *a)
{
    printf("pathint %s (library %s, ABI %u)\n", PI_VERSION_STRING, pi_version_string(),
           pi_version_number() / 10000);
    printf("png output  %s\n", plot_have_png() ? "yes (libpng)" : "no (built without libpng)");
    if (a->npositional == 0)
        return 0;
    pi_model_t *model = NULL;
    int rc = load_model(a->positional[0], &model);
    if (rc)
        return rc;
    pi_model_kind kind = 0;
    size_t dim = 0, nparams = 0;
    const pi_sde_t *sde = NULL;
    pi_sde_kind skind = 0;
    double t0 = 0, t1 = 0;
    pi_model_get_kind(model, &kind);
    pi_model_get_dim(model, &dim);
    pi_model_get_num_params(model, &nparams);
    pi_model_get_sde(model, &sde);
    pi_sde_get_kind(sde, &skind);
    pi_sde_time_range(sde, &t0, &t1);
    printf("model       %s\nkind        %s\ndimension   %zu\n", a->positional[0], name_of(model_kind_names, kind),
           dim);
    if (kind == PI_MODEL_KIND_MLP)
        printf("parameters  %zu\n", nparams);
    printf("sde         %s, t in [%g, %g]\n", name_of(sde_kind_names, skind), t0, t1);
    static const struct {
        pi_sde_param p;
        const char *name;
    } params[] = {{PI_SDE_PARAM_BETA_MIN, "beta_min"}, {PI_SDE_PARAM_BETA_MAX, "beta_max"}, {PI_SDE_PARAM_COSINE_S, "cosine_s"},
                  {PI_SDE_PARAM_SIGMA_MIN, "sigma_min"}, {PI_SDE_PARAM_SIGMA_MAX, "sigma_max"}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        double v;
        if (pi_sde_get_param(sde, params[i].p, &v) == PI_OK)
            printf("  %-10s %g\n", params[i].name, v);
    }
    pi_model_destroy(model);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* pathint demo */
static const option_spec demo_options[] = {
    {"out", 'o', "FILE", "figure to write (default pathint-demo.png)"},
    {"dataset", 0, "NAME", "swiss-roll (default), 25-gaussians, 8-gaussians, moons, checkerboard"},
    {"train-steps", 0, "N", "Adam steps (default 14000, batch 128)"},
    {"precond", 0, "NAME", "input/output scaling: edm (default), input, none (as in 'pathint train')"},
    {"sigma-data", 0, "S", "sigma_data of the scaling (default 0.5)"},
    {"samples", 'n', "N", "samples per ħ (default 2000)"},
    {"eval-points", 0, "N", "held-out points for NLL0 and c1 (default 48)"},
    {"steps", 0, "N", "sampling steps (default 100)"},
    {"seed", 0, "S", "seed (default 0)"},
    {"threads", 'j', "K", "worker threads (default 2)"},
    {"save-model", 0, "FILE", "also save the trained model"},
    {"quick", 0, NULL, "a much smaller run (seconds), for tests"},
    {"quiet", 'q', NULL, "no progress output"},
    {"help", 'h', NULL, "show this help"},
    {NULL, 0, NULL, NULL}};

/* Sliced Wasserstein-2 distance between two 2-D point sets (first m rows of each),
 * over evenly spaced directions: a cheap, deterministic sample-quality number. */
static int compare_float(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The q-quantile of the finite values (NaN if none); sorts a copy. */
static double quantile(size_t n, const double *v, double q)
{
    double *w = malloc(n * sizeof *w);
    size_t k = 0;
    if (!w)
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            w[k++] = v[i];
    double r = NAN;
    if (k > 0) {
        qsort(w, k, sizeof *w, compare_double);
        double pos = q * (double)(k - 1);
        size_t i = (size_t)pos;
        r = i + 1 < k ? w[i] + (pos - (double)i) * (w[i + 1] - w[i]) : w[i];
    }
    free(w);
    return r;
}

static double sliced_w2(size_t m, const float *a, const float *b)
{
    enum { DIRECTIONS = 64 };
    float *pa = malloc(m * sizeof *pa), *pb = malloc(m * sizeof *pb);
    if (!pa || !pb) {
        free(pa);
        free(pb);
        return NAN;
    }
    double total = 0;
    for (int k = 0; k < DIRECTIONS; k++) {
        double th = 3.14159265358979323846 * k / DIRECTIONS, c = cos(th), s = sin(th);
        for (size_t i = 0; i < m; i++) {
            pa[i] = (float)(c * a[2 * i] + s * a[2 * i + 1]);
            pb[i] = (float)(c * b[2 * i] + s * b[2 * i + 1]);
        }
        qsort(pa, m, sizeof *pa, compare_float);
        qsort(pb, m, sizeof *pb, compare_float);
        double d = 0;
        for (size_t i = 0; i < m; i++)
            d += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
        total += d / (double)m;
    }
    free(pa);
    free(pb);
    return sqrt(total / DIRECTIONS);
}

enum { DEMO_HBARS = 3 };
static const double demo_hbar[DEMO_HBARS] = {0.0, 0.5, 1.0};
static const uint32_t demo_colour[DEMO_HBARS] = {0x1f4e99, 0x7b3fa0, 0xd0621b};

typedef struct demo_result {
    const char *dataset;
    size_t ntrain, train_steps, nsamples, neval, sample_steps;
    const float *data;   /* held-out points to show */
    size_t nshow;
    float *samples[DEMO_HBARS];
    summary nll0, c1, nll_hbar[DEMO_HBARS];
    double w2[DEMO_HBARS], w2_baseline;
    double bound, bound_sem; /* NaN when unavailable */
    double c1_median, c1_lo, c1_hi; /* median and quartiles of the per-point c1 */
} demo_result;

static int draw_demo(const char *path, const demo_result *r)
{
    enum { P = 300, GAP = 40, LEFT = 30, TOP = 64 };
    int chart_x = LEFT + 4 * (P + GAP) + 30;
    int width = chart_x + P + 30, height = TOP + P + 96;
    plot_canvas c;
    if (plot_canvas_init(&c, width, height, 0xFFFFFF))
        return fail_runtime("out of memory for the figure");
    double lo, hi;
    data_bounds(r->nshow, 2, r->data, &lo, &hi);
    char title[128];
    snprintf(title, sizeof title, "pathint demo: %s, MLP 3x128, %zu training steps", r->dataset, r->train_steps);
    plot_text(&c, LEFT, 10, title, 2, 0x000000);

    plot_panel p = {LEFT, TOP, P, P, lo, hi, lo, hi};
    plot_scatter(&c, &p, r->nshow, 2, r->data, 1.3, 0x303030, 0.45);
    plot_panel_frame(&c, &p, "data (held out)");
    for (int h = 0; h < DEMO_HBARS; h++) {
        plot_panel q = {LEFT + (h + 1) * (P + GAP), TOP, P, P, lo, hi, lo, hi};
        plot_scatter(&c, &q, r->nsamples, 2, r->samples[h], 1.3, demo_colour[h], 0.45);
        snprintf(title, sizeof title, "ħ = %g%s", demo_hbar[h], h == 0 ? " (ODE)" : h == 2 ? " (SDE)" : "");
        plot_panel_frame(&c, &q, title);
        snprintf(title, sizeof title, "sliced W2 %.3f", r->w2[h]);
        plot_text(&c, q.x + 4, q.y + q.height + 8, title, 1, 0x404040);
    }
    snprintf(title, sizeof title, "data vs data: %.3f", r->w2_baseline);
    plot_text(&c, LEFT + 4, TOP + P + 8, title, 1, 0x404040);

    /* NLL(ħ) ≈ NLL0 − ħ c1 with a ±2 s.e. band, and the three sampled ħ marked. */
    double hmax = 1.2;
    double y_at0 = r->nll0.mean, y_at1 = r->nll0.mean - hmax * r->c1.mean;
    double ylo = fmin(y_at0, y_at1), yhi = fmax(y_at0, y_at1);
    double band = 2 * (r->nll0.sem + hmax * r->c1.sem);
    ylo -= band;
    yhi += band;
    if (isfinite(r->bound)) {
        ylo = fmin(ylo, r->bound - 2 * r->bound_sem);
        yhi = fmax(yhi, r->bound + 2 * r->bound_sem);
    }
    double pad = 0.15 * (yhi - ylo) + 0.05;
    plot_panel ch = {chart_x, TOP, P, P, 0.0, hmax, ylo - pad, yhi + pad};
    for (int px = 0; px < P; px++) {
        double h = hmax * (px + 0.5) / P;
        double mid = r->nll0.mean - h * r->c1.mean, half = 2 * (r->nll0.sem + h * r->c1.sem);
        int ya = (int)lround(plot_panel_py(&ch, mid + half)), yb = (int)lround(plot_panel_py(&ch, mid - half));
        plot_fill_rect(&c, ch.x + px, ya < ch.y ? ch.y : ya, ch.x + px,
                       yb > ch.y + P - 1 ? ch.y + P - 1 : yb, 0xdde6f3);
    }
    double xs[2] = {0.0, hmax}, ys[2] = {y_at0, y_at1};
    plot_polyline(&c, &ch, 2, xs, ys, 2.0, 0x1f4e99);
    for (int h = 0; h < DEMO_HBARS; h++)
        plot_dot(&c, plot_panel_px(&ch, demo_hbar[h]), plot_panel_py(&ch, r->nll_hbar[h].mean), 5.0,
                 demo_colour[h], 1.0);
    if (isfinite(r->bound)) {
        double bx = plot_panel_px(&ch, 1.0), by = plot_panel_py(&ch, r->bound);
        plot_line(&c, bx - 8, by, bx + 8, by, 2.0, 0x2a8a3a);
        plot_text(&c, (int)bx + 12, (int)by - 3, "bound", 1, 0x2a8a3a);
    }
    plot_panel_frame(&c, &ch, "NLL(ħ) ≈ NLL0 − ħ c1");
    plot_panel_ticks(&c, &ch, 6, 6);
    plot_text(&c, ch.x + P / 2 - 3, ch.y + P + 22, "ħ", 2, 0x202020);
    plot_text(&c, ch.x + 4, ch.y + 6, "nats per point", 1, 0x404040);

    snprintf(title, sizeof title,
             "NLL0 = %.3f ± %.3f, c1 = %.3f ± %.3f (median %.3f) on %zu held-out points", r->nll0.mean,
             r->nll0.sem, r->c1.mean, r->c1.sem, r->c1_median, r->neval);
    plot_text(&c, LEFT, height - 34, title, 2, 0x202020);
    char err[512];
    int rc = plot_write_png(&c, path, err, sizeof err);
    if (rc && !plot_have_png()) {
        /* Without libpng still produce a picture, next to the requested name. */
        char alt[4096];
        snprintf(alt, sizeof alt, "%s.ppm", path);
        if (plot_write_ppm(&c, alt, err, sizeof err) == 0) {
            note("this build has no PNG support; wrote %s instead\n", alt);
            rc = 0;
        }
    }
    plot_canvas_free(&c);
    return rc ? fail_runtime("%s", err) : 0;
}

static int cmd_demo(args *a)
{
    int quick = has_opt(a, "quick");
    const char *out = opt_str(a, "out", "pathint-demo.png");
    int dataset = opt_choice(a, "dataset", dataset_names, PI_DATASET_SWISS_ROLL);
    uint64_t train_steps = opt_u64(a, "train-steps", quick ? 200 : 14000, 1, 10000000);
    size_t nsamples = (size_t)opt_u64(a, "samples", quick ? 300 : 2000, 10, 10000000);
    size_t neval = (size_t)opt_u64(a, "eval-points", quick ? 8 : 48, 2, 1000000);
    size_t sample_steps = (size_t)opt_u64(a, "steps", quick ? 20 : 100, 1, 100000);
    uint64_t seed = opt_u64(a, "seed", 0, 0, UINT64_MAX);
    int threads = (int)opt_u64(a, "threads", 2, 1, 256);
    int precond = opt_choice(a, "precond", precond_names, PI_PRECOND_EDM);
    double sigma_data = opt_double(a, "sigma-data", 0.5);
    if (a->bad)
        return EXIT_USAGE;
    size_t ntrain = 20000, nheld = nsamples > neval ? nsamples : neval;

    demo_result r;
    memset(&r, 0, sizeof r);
    r.dataset = name_of(dataset_names, dataset);
    r.ntrain = ntrain;
    r.train_steps = (size_t)train_steps;
    r.nsamples = nsamples;
    r.neval = neval;
    r.sample_steps = sample_steps;
    r.bound = NAN;
    float *train = malloc(ntrain * 2 * sizeof *train), *held = malloc(nheld * 2 * sizeof *held);
    double *nll = malloc(neval * sizeof *nll), *c1 = malloc(neval * sizeof *c1);
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    pi_sampler_t *s = NULL;
    pi_likelihood_t *lik = NULL;
    int rc = 0;
    pi_status st;
    double t_start = now_seconds();
    if (!train || !held || !nll || !c1) {
        rc = fail_runtime("out of memory");
        goto done;
    }
    for (int h = 0; h < DEMO_HBARS; h++)
        if (!(r.samples[h] = malloc(nsamples * 2 * sizeof(float)))) {
            rc = fail_runtime("out of memory");
            goto done;
        }
    /* Training and held-out points come from different seeds of the same generator. */
    if ((st = pi_data_generate((pi_dataset)dataset, ntrain, seed, train)) ||
        (st = pi_data_generate((pi_dataset)dataset, nheld, seed + 1000003, held))) {
        rc = fail_status(st, "cannot generate the data set");
        goto done;
    }
    r.data = held;
    r.nshow = nsamples < nheld ? nsamples : nheld;

    /* 1. Train: Hirono et al.'s SIMPLE SDE, MLP 3×128, likelihood weighting (MATH.md §4, §5). */
    st = make_sde(SDE_HIRONO_SIMPLE, &sde);
    if (!st)
        st = pi_model_create_mlp(sde, 2, 128, 3, &model);
    if (!st)
        st = pi_model_mlp_init(model, seed);
    if (!st) /* EDM, σ_data = 0.5 by default: see cmd_train */
        st = pi_model_mlp_set_preconditioning(model, (pi_precond)precond, sigma_data);
    if (!st)
        st = pi_trainer_create(model, &tr);
    if (!st)
        st = pi_trainer_set_learning_rate(tr, 4e-3);
    if (!st)
        st = pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, train_steps / 50, train_steps);
    if (!st)
        st = pi_trainer_set_batch_size(tr, 128);
    if (!st)
        st = pi_trainer_set_weighting(tr, PI_WEIGHTING_LIKELIHOOD);
    if (!st)
        st = pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE);
    if (!st)
        st = pi_trainer_set_ema(tr, default_ema(train_steps));
    if (!st)
        st = pi_trainer_set_seed(tr, seed);
    if (!st)
        st = pi_trainer_set_threads(tr, threads);
    if (st) {
        rc = fail_status(st, "cannot set up training");
        goto done;
    }
    note("pathint demo: %s, %zu training points, MLP 3x128, %llu Adam steps, %d threads\n", r.dataset, ntrain,
         (unsigned long long)train_steps, threads);
    run_progress rp = {0};
    progress_begin(&rp.bar, "train", train_steps);
    pi_trainer_set_callback(tr, on_train_step, &rp);
    if ((st = pi_trainer_fit(tr, ntrain, train, train_steps))) {
        rc = fail_status(st, "training failed");
        goto done;
    }
    progress_update(&rp.bar, train_steps, NULL, 1);
    double bound = NAN, bound_sem = NAN;
    if ((st = pi_likelihood_create(model, &lik)) || (st = pi_likelihood_set_seed(lik, seed)) ||
        (st = pi_likelihood_set_threads(lik, threads))) {
        rc = fail_status(st, "cannot set up the likelihood");
        goto done;
    }
    if (pi_likelihood_action_bound(lik, quick ? 4 : 32, neval, held, &bound, &bound_sem) == PI_OK) {
        r.bound = bound;
        r.bound_sem = bound_sem;
    }
    const char *model_path = opt_str(a, "save-model", NULL);
    if (model_path && (st = pi_model_save(model, model_path))) {
        rc = fail_status(st, "cannot write model '%s'", model_path);
        goto done;
    }

    /* 2. Sample at ħ = 0, 0.5, 1 with the same seed. */
    if ((st = pi_sampler_create(model, &s)) || (st = pi_sampler_set_steps(s, sample_steps)) ||
        (st = pi_sampler_set_method(s, PI_METHOD_EXP2M)) || (st = pi_sampler_set_seed(s, seed)) ||
        (st = pi_sampler_set_threads(s, threads))) {
        rc = fail_status(st, "cannot set up the sampler");
        goto done;
    }
    for (int h = 0; h < DEMO_HBARS; h++) {
        char label[32];
        snprintf(label, sizeof label, "ħ=%g", demo_hbar[h]);
        run_progress sp = {0};
        progress_begin(&sp.bar, label, sample_steps);
        pi_sampler_set_callback(s, on_sampler_step, &sp);
        if ((st = pi_sampler_set_hbar(s, demo_hbar[h])) || (st = pi_sampler_run(s, nsamples, r.samples[h]))) {
            rc = fail_status(st, "sampling at ħ = %g failed", demo_hbar[h]);
            goto done;
        }
        progress_update(&sp.bar, sample_steps, NULL, 1);
        r.w2[h] = sliced_w2(r.nshow, r.samples[h], held);
    }
    pi_sampler_set_callback(s, NULL, NULL);
    {
        /* What sampling noise alone gives: two independent draws from the data set. */
        float *other = malloc(r.nshow * 2 * sizeof *other);
        if (other && pi_data_generate((pi_dataset)dataset, r.nshow, seed + 2000003, other) == PI_OK)
            r.w2_baseline = sliced_w2(r.nshow, other, held);
        else
            r.w2_baseline = NAN;
        free(other);
    }

    /* 3. NLL0 and c1 on held-out points (WKB sweep), at tolerances that keep the demo short
     * (the per-point values move by far less than their spread between points). */
    size_t failed = 0;
    if ((st = pi_likelihood_set_tolerances(lik, 1e-4, 1e-6))) {
        rc = fail_status(st, "cannot set likelihood tolerances");
        goto done;
    }
    st = likelihood_in_blocks(lik, neval, 2, held, nll, c1, threads, "nll+c1", &failed);
    if (st == PI_ECANCELED || (st && failed == neval) || (st && failed == 0)) {
        rc = fail_status(st, "likelihood failed");
        goto done;
    }
    if (failed)
        fprintf(stderr, "pathint demo: warning: %zu of %zu points failed in the likelihood (%s)\n", failed, neval,
                pi_status_string(st));
    r.nll0 = summarize(neval, nll);
    r.c1 = summarize(neval, c1);
    r.c1_median = quantile(neval, c1, 0.5);
    r.c1_lo = quantile(neval, c1, 0.25);
    r.c1_hi = quantile(neval, c1, 0.75);
    for (int h = 0; h < DEMO_HBARS; h++) {
        for (size_t i = 0; i < neval; i++)
            nll[i] = nll[i] - demo_hbar[h] * c1[i];
        r.nll_hbar[h] = summarize(neval, nll);
        for (size_t i = 0; i < neval; i++)
            nll[i] = nll[i] + demo_hbar[h] * c1[i];
    }

    /* 4. Table and figure. */
    printf("\n%s: MLP 3x128 trained %zu steps; %zu samples per ħ (exp2m, %zu steps); %zu held-out points\n\n",
           r.dataset, r.train_steps, nsamples, sample_steps, neval);
    printf("   ħ    NLL(ħ) ≈ NLL0 − ħ c1 [nats]    sliced W2 to data\n");
    for (int h = 0; h < DEMO_HBARS; h++)
        printf("%5.2f    %8.3f ± %.3f               %.4f\n", demo_hbar[h], r.nll_hbar[h].mean, r.nll_hbar[h].sem,
               r.w2[h]);
    printf("\nNLL0 = %.3f ± %.3f nats, c1 = %.3f ± %.3f  (log q^ħ ≈ log q^0 + ħ c1)\n", r.nll0.mean, r.nll0.sem,
           r.c1.mean, r.c1.sem);
    printf("per-point c1: median %.3f, quartiles %.3f .. %.3f\n", r.c1_median, r.c1_lo, r.c1_hi);
    printf("sliced W2 between two draws of the data: %.4f\n", r.w2_baseline);
    if (isfinite(r.bound))
        printf("action bound on NLL at ħ = 1: %.3f ± %.3f nats\n", r.bound, r.bound_sem);
    if ((rc = draw_demo(out, &r)))
        goto done;
    printf("wrote %s (%.0f s)\n", out, now_seconds() - t_start);
done:
    for (int h = 0; h < DEMO_HBARS; h++)
        free(r.samples[h]);
    free(train);
    free(held);
    free(nll);
    free(c1);
    pi_sampler_destroy(s);
    pi_likelihood_destroy(lik);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    return rc;
}

/* ------------------------------------------------------------------------ */
typedef struct command {
    const char *name, *usage, *description;
    const option_spec *options;
    int (*run)(args *a);
} command;

static const command commands[] = {
    {"train", "pathint train (--data FILE | --dataset NAME) --out MODEL [options]",
     "Fit an MLP score model by denoising score matching (likelihood weighting by default)\n"
     "and write it as a pathint model file.",
     train_options, cmd_train},
    {"sample", "pathint sample --model MODEL [-n N] [--out FILE] [options]",
     "Draw samples with the ħ sampler: dx = [f x - (1+ħ)/2 g² s] dt + √ħ g dw̄.", sample_options, cmd_sample},
    {"nll", "pathint nll --model MODEL --data FILE [options]",
     "Negative log-likelihood NLL0 = -log q⁰(x) of points under the probability-flow ODE.", nll_options, cmd_nll},
    {"wkb", "pathint wkb --model MODEL --data FILE [--algorithm sweep|reference] [options]",
     "NLL0 and the WKB coefficient c1: NLL at ħ is NLL(ħ) ≈ NLL0 - ħ c1 (MATH.md §4).", nll_options, cmd_wkb},
    {"demo", "pathint demo [--out FILE] [options]",
     "Train a small model, sample at ħ = 0, 0.5, 1 and plot NLL(ħ) ≈ NLL0 - ħ c1.\n"
     "On a built-in data set: trains an MLP, samples at ħ = 0, 0.5 and 1, computes NLL0 and c1\n"
     "on held-out points, prints a table and writes one PNG figure (about a minute on 2 cores).",
     demo_options, cmd_demo},
    {"info", "pathint info [MODEL]", "Print the library version and build, and describe a model file.",
     info_options, cmd_info},
    {NULL, NULL, NULL, NULL, NULL}};

static void print_usage(FILE *f)
{
    fprintf(f, "Usage: pathint COMMAND [options]\n\n"
               "Score-based diffusion models in the path-integral (ħ) view.\n\nCommands:\n");
    for (int i = 0; commands[i].name; i++) {
        const char *d = commands[i].description, *nl = strchr(d, '\n');
        fprintf(f, "  %-8s %.*s\n", commands[i].name, nl ? (int)(nl - d) : (int)strlen(d), d);
    }
    fprintf(f, "\n'pathint COMMAND --help' describes a command's options.\n"
               "Exit status: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2)
            for (int i = 0; commands[i].name; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    print_help(commands[i].usage, commands[i].description, commands[i].options);
                    return EXIT_OK;
                }
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("pathint %s\n", pi_version_string());
        return EXIT_OK;
    }
    for (int i = 0; commands[i].name; i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        current_command = name;
        args a;
        int rc = parse_args(argc - 2, argv + 2, commands[i].options, &a);
        if (rc)
            return rc;
        if (has_opt(&a, "help")) {
            print_help(commands[i].usage, commands[i].description, commands[i].options);
            return EXIT_OK;
        }
        int qk = find_spec(a.specs, "quiet", 5, 0);
        quiet = qk >= 0 && a.given[qk];
        if (commands[i].run != cmd_info && a.npositional > (commands[i].run == cmd_sample ? 1 : 0))
            return fail_usage("unexpected argument '%s'", a.positional[a.npositional - 1]);
        install_sigint();
        return commands[i].run(&a);
    }
    fprintf(stderr, "pathint: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return EXIT_USAGE;
}
