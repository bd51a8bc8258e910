/* pathint nll and pathint wkb: per-point likelihoods in blocks, so progress and Ctrl-C work. */
#include "commands.h"
#include "messages.h"
#include "progress.h"
#include "statistics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const named_value divergence_names[] = {{"exact", PI_DIVERGENCE_EXACT},
                                               {"rademacher", PI_DIVERGENCE_HUTCHINSON_RADEMACHER},
                                               {"gaussian", PI_DIVERGENCE_HUTCHINSON_GAUSSIAN},
                                               {NULL, 0}};
static const named_value wkb_names[] = {{"sweep", PI_WKB_ALGORITHM_SWEEP}, {"reference", PI_WKB_ALGORITHM_REFERENCE},
                                        {"stochastic", PI_WKB_ALGORITHM_STOCHASTIC}, {NULL, 0}};

pi_status likelihood_in_blocks(pi_likelihood_t *lik, size_t n, size_t dim, const float *x, double *nll,
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
        stats_summary sm = stats_summarize(i + m, nll);
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
    {"algorithm", 0, "NAME", "wkb only: sweep (default), reference or stochastic"},
    {"wkb-probes", 0, "K", "wkb only: probes of the stochastic sweep (default 16)"},
    {"order", 0, "N", "wkb only: 2 adds c2 (NLL ≈ NLL0 − ħ c1 − ħ² c2; slow; dimension <= 16, "
                      "any for an MLP with --algorithm stochastic)"},
    SAMPLER_OPTIONS,
    {NULL, 0, NULL, NULL}};

static int likelihood_command(args *a, int with_c1)
{
    const char *model_path = opt_str(a, "model", NULL), *data_path = opt_str(a, "data", NULL);
    if (!model_path)
        return fail_usage("missing --model FILE");
    if (!data_path)
        return fail_usage("missing --data FILE");
    if (!with_c1 && (has_opt(a, "algorithm") || has_opt(a, "wkb-probes") || has_opt(a, "order")))
        return fail_usage("--algorithm, --wkb-probes and --order apply to 'pathint wkb' only");
    int order = (int)opt_u64(a, "order", 1, 1, 2);
    int threads = (int)opt_u64(a, "threads", 1, 1, 256);
    int div = opt_choice(a, "divergence", divergence_names, PI_DIVERGENCE_EXACT);
    size_t probes = (size_t)opt_u64(a, "probes", 1, 1, 100000);
    double rtol = opt_double(a, "rtol", 1e-6), atol = opt_double(a, "atol", 1e-8);
    double deq = opt_double(a, "dequantize", 0.0), bpd_scale = opt_double(a, "bpd-scale", 0.0);
    int algorithm = opt_choice(a, "algorithm", wkb_names, PI_WKB_ALGORITHM_SWEEP);
    opt_library_range(a, "rtol", PI_OPTION_LIKELIHOOD_RTOL);
    opt_library_range(a, "atol", PI_OPTION_LIKELIHOOD_ATOL);
    opt_library_range(a, "probes", PI_OPTION_LIKELIHOOD_PROBES);
    opt_library_range(a, "dequantize", PI_OPTION_LIKELIHOOD_DEQUANTIZATION);
    size_t wkb_probes = (size_t)opt_u64(a, "wkb-probes", 16, 1, 4096);
    if (a->bad || check_sampler_options(a))
        return EXIT_USAGE;
    const char *out = opt_str(a, "out", NULL);
    int rc = check_output(out);
    if (rc)
        return rc;
    pi_model_t *model = NULL;
    pi_sampler_t *s = NULL;
    pi_likelihood_t *lik = NULL;
    float *x = NULL, *table = NULL;
    double *nll = NULL, *c1 = NULL;
    size_t n = 0, dim = 0, mdim = 0;
    rc = load_model(model_path, &model);
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
    if (!st && with_c1 && has_opt(a, "wkb-probes"))
        st = pi_likelihood_set_wkb_probes(lik, wkb_probes);
    if (st) {
        rc = fail_option(st, "invalid option");
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
    stats_summary s0 = stats_summarize(n, nll);
    printf("points      %zu (dimension %zu)\n", n, dim);
    printf("NLL0        %.4f ± %.4f nats per point (probability-flow ODE, ħ = 0)\n", s0.mean, s0.sem);
    double bpd = NAN;
    if (bpd_scale > 0 && pi_bits_per_dim(s0.mean, dim, bpd_scale, &bpd) == PI_OK)
        printf("bits/dim    %.4f (scale %g)\n", bpd, bpd_scale);
    if (with_c1) {
        stats_summary sc = stats_summarize(n, c1);
        printf("c1          %.4f ± %.4f   (log q^ħ ≈ log q^0 + ħ c1)\n", sc.mean, sc.sem);
        /* Second order: the first-order value is trusted while the ħ² term is at most a
         * tenth of the ħ term, ħ <= 0.1 |c1 / c2| (on the means over points). */
        double trust = INFINITY;
        if (order == 2) {
            double *n2 = malloc(4 * n * sizeof *n2);
            if (n2 == NULL) {
                rc = fail_status(PI_ENOMEM, "out of memory");
                goto done;
            }
            st = pi_likelihood_nll_wkb2_ex(lik, n, x, n2, c1, n2 + 2 * n, n2 + n, n2 + 3 * n);
            if (st) {
                free(n2);
                rc = fail_status(st, "second-order coefficient failed");
                goto done;
            }
            stats_summary s2 = stats_summarize(n, n2 + n);
            /* the probe noise alone in the mean over points: √(Σ se_i²) / n */
            double noise2 = 0.0;
            for (size_t i = 0; i < n; i++)
                noise2 += n2[3 * n + i] * n2[3 * n + i];
            noise2 = sqrt(noise2) / (double)n;
            /* Per point too: the smallest range says where every point's line holds. */
            double smallest = INFINITY;
            for (size_t i = 0; i < n; i++)
                if (isfinite(n2[n + i]) && isfinite(c1[i]))
                    smallest = fmin(smallest, 0.1 * fabs(c1[i] / n2[n + i]));
            free(n2);
            trust = 0.1 * fabs(sc.mean / s2.mean);
            printf("c2          %.4f ± %.4f   (log q^ħ ≈ log q^0 + ħ c1 + ħ² c2)\n", s2.mean, s2.sem);
            if (algorithm == PI_WKB_ALGORITHM_STOCHASTIC)
                printf("            (stochastic c2: probe noise in the mean %.4f, from the "
                       "per-point standard errors)\n", noise2);
            printf("first order trustworthy up to ħ ≈ 0.1 |c1/c2| = %.4g for the mean NLL (there "
                   "|ħ² c2| = 0.1 |ħ c1|); smallest over points %.4g\n", trust, smallest);
        }
        printf("\n   ħ     NLL(ħ) ≈ NLL0 − ħ c1\n");
        double hb = has_opt(a, "hbar") ? opt_double(a, "hbar", 0) : -1;
        const double hbars[] = {0.0, 0.25, 0.5, 1.0};
        for (size_t i = 0; i < 4; i++)
            printf("%6.2f   %10.4f%s\n", hbars[i], s0.mean - hbars[i] * sc.mean,
                   hbars[i] > trust ? "   (beyond the first-order range: not an estimate)" : "");
        if (hb >= 0)
            printf("%6.2f   %10.4f   (--hbar)\n", hb, s0.mean - hb * sc.mean);
    } else if (has_opt(a, "hbar") && opt_double(a, "hbar", 0) != 0) {
        printf("(for NLL at ħ = %g use 'pathint wkb', which adds the first-order term)\n", opt_double(a, "hbar", 0));
    }
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

const command nll_command = {
    .name = "nll",
    .usage = "pathint nll --model MODEL --data FILE [options]",
    .description = "Negative log-likelihood NLL0 = -log q⁰(x) of points under the probability-flow ODE.",
    .options = nll_options,
    .max_positional = 0,
    .run = cmd_nll,
};

const command wkb_command = {
    .name = "wkb",
    .usage = "pathint wkb --model MODEL --data FILE [--algorithm sweep|reference] [options]",
    .description = "NLL0 and the WKB coefficient c1: NLL at ħ is NLL(ħ) ≈ NLL0 - ħ c1 (MATH.md §4).",
    .options = nll_options,
    .max_positional = 0,
    .run = cmd_wkb,
};
