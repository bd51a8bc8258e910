/* pathint-bench: every benchmark of issues 4–7 and 9, printed as one JSON object on stdout
 * (progress on stderr). Each figure is the median of >= 5 repetitions after a warm-up, and
 * every reference (BLIS sgemm on the same shapes and thread count) is measured in the same run,
 * interleaved with the measured code so that machine noise hits both alike.
 *
 *   pathint-bench [--quick] [--reps N] [--only SUBSTRING] [--threads N] [--no-common]
 *
 * --threads N measures only the entries for N threads (1 or 2) of the benchmarks that run at
 * both; --no-common skips the ones that run at a fixed thread count (small batches, memory,
 * likelihood). bench/run uses them to measure one thread count per invocation, followed at
 * once by the hardware reference for that count.
 *
 * Library functions that have not landed yet are referenced weakly; their entries print
 * null with a note. bench/run merges this output with the PyTorch figures. */
#define _GNU_SOURCE
#include "bench_util.h"

#include "core/core.h"
#include "core/gemm.h"
#include "model/model_impl.h"
#include "nn/nn.h"
#include "pathint.h"
#include "likelihood/likelihood_impl.h"
#include "ode/ode.h"
#include "sample/sampler_impl.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#pragma weak pi_model_create_gmm
#pragma weak pi_sampler_set_noise
#pragma weak pi_model_create_empirical
#pragma weak pi_model_create_mlp
#pragma weak pi_model_mlp_init
#pragma weak pi_model_get_num_params
#pragma weak pi_sampler_create
#pragma weak pi_sampler_destroy
#pragma weak pi_sampler_set_hbar
#pragma weak pi_sampler_set_method
#pragma weak pi_sampler_set_steps
#pragma weak pi_sampler_set_seed
#pragma weak pi_sampler_set_threads
#pragma weak pi_sampler_get_stats
#pragma weak pi_sampler_run
#pragma weak pi_sampler_set_tolerances
#pragma weak pi_trainer_create
#pragma weak pi_trainer_destroy
#pragma weak pi_trainer_set_batch_size
#pragma weak pi_trainer_set_threads
#pragma weak pi_trainer_set_seed
#pragma weak pi_trainer_set_learning_rate
#pragma weak pi_trainer_step
#pragma weak pi_trainer_fit
#pragma weak pi_data_generate
#endif

#define HAVE(fn) ((void (*)(void))(fn) != NULL)

/* Time spent inside pi_model_eval_ctx, summed over all threads while g_eval_timing is set.
 * The bench is linked with -Wl,--wrap=pi_model_eval_ctx, so every call the sampler's workers
 * make goes through here. */
pi_status __real_pi_model_eval_ctx(const pi_model_t *m, pi_view view, size_t n, const float *x,
                                   const double *t, float *out, const pi_eval_ctx *ctx);
pi_status __wrap_pi_model_eval_ctx(const pi_model_t *m, pi_view view, size_t n, const float *x,
                                   const double *t, float *out, const pi_eval_ctx *ctx);
static atomic_int g_eval_timing;
static atomic_ullong g_eval_ns;
static atomic_ullong g_eval_calls;
static atomic_ullong g_eval_cpu_ns; /* CPU time of the calling threads inside the calls */

static double cpu_now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pi_status __wrap_pi_model_eval_ctx(const pi_model_t *m, pi_view view, size_t n, const float *x,
                                   const double *t, float *out, const pi_eval_ctx *ctx)
{
    if (!atomic_load_explicit(&g_eval_timing, memory_order_relaxed))
        return __real_pi_model_eval_ctx(m, view, n, x, t, out, ctx);
    double a = bench_now(), ca = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    pi_status st = __real_pi_model_eval_ctx(m, view, n, x, t, out, ctx);
    double b = bench_now(), cb = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    atomic_fetch_add(&g_eval_ns, (unsigned long long)((b - a) * 1e9));
    atomic_fetch_add(&g_eval_cpu_ns, (unsigned long long)((cb - ca) * 1e9));
    atomic_fetch_add(&g_eval_calls, 1);
    return st;
}

static int g_reps = 7;
static int g_quick = 0;
static const char *g_only = NULL;
static int g_threads = 0; /* 0: both 1 and 2 */
static int g_common = 1;

static int want_threads(int threads) { return g_threads == 0 || g_threads == threads; }

static int selected(const char *name) { return g_only == NULL || strstr(name, g_only) != NULL; }

/* Shapes of the benchmarked MLP (issues 4, 5, 7). */
enum { MLP_DIM = 2, MLP_WIDTH = 256, MLP_LAYERS = 3, MLP_BATCH = 4096 };

static pi_sde_t *g_sde;
static size_t g_mlp_features = 16; /* embedding features of the benchmarked MLP (measured) */

static const char *missing(void) { return "library function not available in this build yet"; }

/* The MLP's input width (dim + embedding features), from its parameter count. */
static size_t mlp_input_width(const pi_model_t *m, size_t dim, size_t width, size_t layers)
{
    size_t p = 0;
    if (pi_model_get_num_params(m, &p) != PI_OK)
        return 0;
    size_t rest = width + (layers - 1) * (width * width + width) + width * dim + dim;
    return p > rest ? (p - rest) / width : 0;
}

static pi_model_t *make_mlp(size_t dim, size_t width, size_t layers)
{
    if (!HAVE(pi_model_create_mlp) || !HAVE(pi_model_get_num_params))
        return NULL;
    pi_model_t *m = NULL;
    if (pi_model_create_mlp(g_sde, dim, width, layers, &m) != PI_OK)
        return NULL;
    if (HAVE(pi_model_mlp_init))
        (void)pi_model_mlp_init(m, 1234);
    return m;
}

static void fill_times(double *t, size_t n, uint64_t seed)
{
    double t0, t1;
    pi_sde_time_range(g_sde, &t0, &t1);
    float *u = malloc(n * sizeof *u);
    bench_fill_uniform(u, n, seed, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        t[i] = t0 + (t1 - t0) * (double)u[i];
    free(u);
}

/* Plain layer-by-layer sgemm chain of an MLP (no bias, no activation): the reference. */
typedef struct gemm_chain {
    size_t nl;
    size_t in[8], out[8];
    float *w[8];
    float *act[9];
    size_t batch;
} gemm_chain;

static void chain_init(gemm_chain *c, size_t batch, size_t in, size_t width, size_t layers,
                       size_t dim)
{
    memset(c, 0, sizeof *c);
    c->nl = layers + 1;
    c->batch = batch;
    for (size_t l = 0; l < c->nl; l++) {
        c->in[l] = l == 0 ? in : width;
        c->out[l] = l == layers ? dim : width;
        c->w[l] = bench_alloc(c->in[l] * c->out[l] * sizeof(float));
        bench_fill_normal(c->w[l], c->in[l] * c->out[l], 11 + l);
        for (size_t i = 0; i < c->in[l] * c->out[l]; i++)
            c->w[l][i] *= 0.05f;
    }
    for (size_t l = 0; l <= c->nl; l++) {
        size_t cols = l == 0 ? in : c->out[l - 1];
        c->act[l] = bench_alloc(batch * cols * sizeof(float));
        bench_fill_normal(c->act[l], batch * cols, 31 + l);
    }
}

static void chain_free(gemm_chain *c)
{
    for (size_t l = 0; l < c->nl; l++)
        bench_free(c->w[l]);
    for (size_t l = 0; l <= c->nl; l++)
        bench_free(c->act[l]);
}

static double chain_forward_flops(const gemm_chain *c)
{
    double f = 0;
    for (size_t l = 0; l < c->nl; l++)
        f += 2.0 * (double)c->batch * (double)c->in[l] * (double)c->out[l];
    return f;
}

/* Forward: act[l+1] = act[l] · W_lᵀ (PyTorch layout W: out × in). */
static void chain_forward(gemm_chain *c, int threads)
{
    for (size_t l = 0; l < c->nl; l++)
        pi_sgemm(0, 1, c->batch, c->out[l], c->in[l], 1.0f, c->act[l], c->in[l], c->w[l],
                 c->in[l], 0.0f, c->act[l + 1], c->out[l], threads);
}

/* Backward GEMMs of one training step: dW_l = δ_lᵀ · act[l] (out × in) and, except for the
 * first layer, δ_{l-1} = δ_l · W_l. δ buffers reuse the activations (values do not matter). */
static double chain_backward(gemm_chain *c, float **grad, int threads)
{
    double flops = 0;
    for (size_t l = c->nl; l-- > 0;) {
        float *delta = c->act[l + 1];
        pi_sgemm(1, 0, c->out[l], c->in[l], c->batch, 1.0f, delta, c->out[l], c->act[l],
                 c->in[l], 0.0f, grad[l], c->in[l], threads);
        flops += 2.0 * (double)c->batch * (double)c->in[l] * (double)c->out[l];
        if (l > 0) {
            pi_sgemm(0, 0, c->batch, c->in[l], c->out[l], 1.0f, delta, c->out[l], c->w[l],
                     c->in[l], 0.0f, c->act[l], c->in[l], threads);
            flops += 2.0 * (double)c->batch * (double)c->in[l] * (double)c->out[l];
        }
    }
    return flops;
}

/* ---- issue 4: MLP forward vs sgemm --------------------------------------------------- */

static void bench_mlp_forward(int threads)
{
    const char *name = threads == 1 ? "mlp_forward_vs_sgemm_1t" : "mlp_forward_vs_sgemm";
    if (!selected(name))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL) {
        bench_null(name, "GFLOP/s", "BLIS sgemm, same shapes and threads", 0.75, "higher",
                   threads, missing());
        return;
    }
    size_t in = mlp_input_width(m, MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    g_mlp_features = in - MLP_DIM;
    size_t n = MLP_BATCH;
    float *x = bench_alloc(n * MLP_DIM * sizeof(float));
    float *out = bench_alloc(n * MLP_DIM * sizeof(float));
    double *t = malloc(n * sizeof *t);
    bench_fill_normal(x, n * MLP_DIM, 1);
    fill_times(t, n, 2);
    size_t wsb = pi_model_workspace_bytes(m, n);
    void *ws = bench_alloc(wsb);
    pi_eval_ctx ctx = {ws, wsb, threads, NULL, NULL};
    if (threads > 1 && pi_pool_create(threads, &ctx.pool) != PI_OK) /* made once, as a model does */
        ctx.pool = NULL;
    gemm_chain c;
    chain_init(&c, n, in, MLP_WIDTH, MLP_LAYERS, MLP_DIM);
    double flops = chain_forward_flops(&c);
    double tm[64], tr[64];
    int reps = g_reps, ok = 1;
    for (int r = -1; r < reps; r++) {
        double a = bench_now();
        if (pi_model_eval_ctx(m, m->native_view, n, x, t, out, &ctx) != PI_OK)
            ok = 0;
        double b = bench_now();
        chain_forward(&c, threads);
        double e = bench_now();
        if (r >= 0) {
            tm[r] = b - a;
            tr[r] = e - b;
        }
    }
    double gm = flops / bench_median(tm, (size_t)reps) * 1e-9;
    double gr = flops / bench_median(tr, (size_t)reps) * 1e-9;
    bench_result *res =
        bench_add(name, ok ? gm : NAN, "GFLOP/s", gr, "BLIS sgemm, same shapes and threads",
                  ok ? gm / gr : NAN, 0.75, "higher", threads);
    bench_note(res,
               "MLP d=%d, %dx%d SiLU, batch %zu, input width %zu (x + embedding); FLOPs counted "
               "= 2*batch*sum(in*out) of the %zu GEMMs for both; reference = the same GEMM chain "
               "without bias/activation/embedding%s",
               MLP_DIM, MLP_LAYERS, MLP_WIDTH, n, in, c.nl,
               ok ? "" : "; pi_model_eval_ctx FAILED");
    chain_free(&c);
    pi_pool_destroy(ctx.pool);
    bench_free(ws);
    bench_free(x);
    bench_free(out);
    free(t);
    pi_model_destroy(m);
}

/* ---- issue 4: empirical denoiser vs sgemm ------------------------------------------- */

static void bench_empirical(int threads)
{
    const char *name =
        threads == 1 ? "empirical_denoiser_vs_sgemm_1t" : "empirical_denoiser_vs_sgemm";
    if (!selected(name))
        return;
    const char *refname = "BLIS sgemm: distances (q x d)(d x N) + weights (q x N)(N x d)";
    if (!HAVE(pi_model_create_empirical)) {
        bench_null(name, "GFLOP/s", refname, 0.5, "higher", threads, missing());
        return;
    }
    size_t N = g_quick ? 2000 : 10000, d = 64, q = 1024;
    float *data = bench_alloc(N * d * sizeof(float));
    bench_fill_normal(data, N * d, 5);
    pi_model_t *m = NULL;
    if (pi_model_create_empirical(g_sde, d, N, data, &m) != PI_OK) {
        bench_null(name, "GFLOP/s", refname, 0.5, "higher", threads, pi_last_error());
        bench_free(data);
        return;
    }
    float *x = bench_alloc(q * d * sizeof(float));
    float *out = bench_alloc(q * d * sizeof(float));
    double *t = malloc(q * sizeof *t);
    bench_fill_normal(x, q * d, 6);
    for (size_t i = 0; i < q; i++)
        t[i] = 0.3;
    size_t wsb = pi_model_workspace_bytes(m, q);
    void *ws = bench_alloc(wsb);
    pi_eval_ctx ctx = {ws, wsb, threads, NULL, NULL};
    if (threads > 1 && pi_pool_create(threads, &ctx.pool) != PI_OK)
        ctx.pool = NULL;
    float *dist = bench_alloc(q * N * sizeof(float));
    float *ref_out = bench_alloc(q * d * sizeof(float));
    double flops = 4.0 * (double)q * (double)N * (double)d;
    double tm[64], tr[64];
    int ok = 1;
    for (int r = -1; r < g_reps; r++) {
        double a = bench_now();
        if (pi_model_eval_ctx(m, PI_VIEW_DENOISED, q, x, t, out, &ctx) != PI_OK)
            ok = 0;
        double b = bench_now();
        pi_sgemm(0, 1, q, N, d, -2.0f, x, d, data, d, 0.0f, dist, N, threads);
        pi_sgemm(0, 0, q, d, N, 1.0f, dist, N, data, d, 0.0f, ref_out, d, threads);
        double e = bench_now();
        if (r >= 0) {
            tm[r] = b - a;
            tr[r] = e - b;
        }
    }
    double gm = flops / bench_median(tm, (size_t)g_reps) * 1e-9;
    double gr = flops / bench_median(tr, (size_t)g_reps) * 1e-9;
    bench_result *res = bench_add(name, ok ? gm : NAN, "GFLOP/s", gr, refname,
                                  ok ? gm / gr : NAN, 0.5, "higher", threads);
    bench_note(res,
               "%zu data points, d=%zu, %zu queries at t=0.3 (VP linear), denoised view; FLOPs "
               "counted = 4*q*N*d for both%s",
               N, d, q, ok ? "" : "; pi_model_eval_ctx FAILED");
    bench_free(dist);
    bench_free(ref_out);
    pi_pool_destroy(ctx.pool);
    bench_free(ws);
    bench_free(x);
    bench_free(out);
    bench_free(data);
    free(t);
    pi_model_destroy(m);
}

/* ---- issue 5: sampler overhead and throughput ---------------------------------------- */

static int have_sampler(void)
{
    return HAVE(pi_sampler_create) && HAVE(pi_sampler_run) && HAVE(pi_sampler_set_method) &&
           HAVE(pi_sampler_set_hbar) && HAVE(pi_sampler_set_steps) &&
           HAVE(pi_sampler_set_threads) && HAVE(pi_sampler_get_stats) &&
           HAVE(pi_sampler_destroy);
}

typedef struct sampler_timing {
    double run_s;   /* median wall time of one pi_sampler_run */
    double net_s;   /* median wall time inside pi_model_eval_ctx (summed over workers / workers) */
    double cpu_frac; /* median share of the run's process CPU time outside the network */
    size_t nfe;
    pi_status status;
} sampler_timing;

static sampler_timing time_sampler(const pi_model_t *m, pi_method method, double hbar,
                                   size_t steps, size_t n, int threads)
{
    sampler_timing res = {NAN, NAN, NAN, 0, PI_OK};
    pi_sampler_t *s = NULL;
    pi_status st = pi_sampler_create(m, &s);
    if (st == PI_OK)
        st = pi_sampler_set_method(s, method);
    if (st == PI_OK)
        st = pi_sampler_set_hbar(s, hbar);
    if (st == PI_OK)
        st = pi_sampler_set_steps(s, steps);
    if (st == PI_OK)
        st = pi_sampler_set_threads(s, threads);
    if (st == PI_OK && HAVE(pi_sampler_set_seed))
        st = pi_sampler_set_seed(s, 42);
    float *x = bench_alloc(n * m->dim * sizeof(float));
    double tr[64], tf[64], cf[64];
    /* Workers run in parallel, each with one BLIS thread: the network's share of the wall
     * time is the time inside pi_model_eval_ctx summed over workers, divided by the workers. */
    size_t workers = (size_t)threads < n ? (size_t)threads : n;
    for (int r = -1; r < g_reps && st == PI_OK; r++) {
        atomic_store(&g_eval_ns, 0);
        atomic_store(&g_eval_cpu_ns, 0);
        atomic_store(&g_eval_timing, 1);
        double pa = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
        double a = bench_now();
        st = pi_sampler_run(s, n, x);
        double b = bench_now();
        double pb = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
        atomic_store(&g_eval_timing, 0);
        size_t nfe = 0;
        if (st == PI_OK)
            st = pi_sampler_get_stats(s, &nfe, NULL, NULL);
        res.nfe = nfe;
        if (r >= 0) {
            tr[r] = b - a;
            tf[r] = (double)atomic_load(&g_eval_ns) * 1e-9 / (double)workers;
            cf[r] = 1.0 - (double)atomic_load(&g_eval_cpu_ns) * 1e-9 / (pb - pa);
        }
    }
    res.status = st;
    if (st == PI_OK) {
        /* Median of the per-run fractions is more robust than a ratio of medians. */
        double frac[64];
        for (int r = 0; r < g_reps; r++)
            frac[r] = tf[r] / tr[r];
        double f = bench_median(frac, (size_t)g_reps);
        res.run_s = bench_median(tr, (size_t)g_reps);
        res.net_s = f * res.run_s;
        res.cpu_frac = bench_median(cf, (size_t)g_reps);
    }
    bench_free(x);
    pi_sampler_destroy(s);
    return res;
}

static const char *method_name(pi_method m)
{
    switch (m) {
    case PI_METHOD_EULER: return "euler";
    case PI_METHOD_EXP1: return "exp1";
    case PI_METHOD_EXP2M: return "exp2m";
    case PI_METHOD_HEUN: return "heun";
    case PI_METHOD_RK45: return "rk45";
    case PI_METHOD_EXP3M: return "exp3m";
    case PI_METHOD_IPNDM: return "ipndm";
    case PI_METHOD_SA: return "sa";
    case PI_METHOD_UNIPC: return "unipc";
    }
    return "?";
}

static void bench_sampler(int threads)
{
    const char *suffix = threads == 1 ? "_1t" : "";
    char name[96];
    snprintf(name, sizeof name, "sampler_overhead_fraction%s", suffix);
    const char *refname = "wall time inside pi_model_eval_ctx during the same runs (s)";
    if (!selected("sampler"))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_sampler()) {
        bench_null(name, "fraction", refname, 0.05, "lower", threads, missing());
        pi_model_destroy(m);
        return;
    }
    const pi_method methods[] = {PI_METHOD_EULER, PI_METHOD_EXP1, PI_METHOD_EXP2M,
                                 PI_METHOD_HEUN, PI_METHOD_RK45};
    const double hbars[] = {0.0, 1.0};
    size_t n = MLP_BATCH, steps = g_quick ? 4 : 10;
    double worst = -INFINITY, worst_cpu = -INFINITY;
    char worst_name[64] = "";
    int failures = 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        for (size_t h = 0; h < 2; h++) {
            if (methods[i] == PI_METHOD_RK45 && hbars[h] != 0.0)
                continue; /* RK45 is an ODE solver (ħ = 0 only) */
            char ename[96];
            snprintf(ename, sizeof ename, "sampler_overhead_fraction_%s_hbar%g%s",
                     method_name(methods[i]), hbars[h], suffix);
            sampler_timing st = time_sampler(m, methods[i], hbars[h], steps, n, threads);
            if (st.status != PI_OK) {
                char why[300];
                snprintf(why, sizeof why, "sampler run failed: %s (%s)",
                         pi_status_string(st.status), pi_last_error());
                bench_null(ename, "fraction", refname, 0.05, "lower", threads, why);
                failures++;
                continue;
            }
            double frac = (st.run_s - st.net_s) / st.run_s;
            bench_result *r = bench_add(ename, frac, "fraction", st.net_s, refname, frac, 0.05,
                                        "lower", threads);
            bench_note(r,
                       "MLP d=2 3x256, %zu rows, %zu steps, nfe %zu; run %.4g s; value = share of "
                       "the run's wall time outside pi_model_eval_ctx (median of %d runs)",
                       n, steps, st.nfe, st.run_s, g_reps);
            if (threads > 1) {
                char cname[112];
                snprintf(cname, sizeof cname, "sampler_overhead_cpu_fraction_%s_hbar%g",
                         method_name(methods[i]), hbars[h]);
                bench_result *rc = bench_add(cname, st.cpu_frac, "fraction", NAN,
                                             "process CPU time inside pi_model_eval_ctx", st.cpu_frac,
                                             NAN, "lower", threads);
                bench_note(rc, "share of the run's process CPU time (all threads) outside "
                               "pi_model_eval_ctx: insensitive to preemption by other processes, "
                               "which inflates the wall-time fraction on a busy machine");
                if (st.cpu_frac > worst_cpu)
                    worst_cpu = st.cpu_frac;
            }
            if (frac > worst) {
                worst = frac;
                snprintf(worst_name, sizeof worst_name, "%s hbar=%g", method_name(methods[i]),
                         hbars[h]);
            }
        }
    }
    bench_result *r = bench_add(name, failures ? NAN : worst, "fraction", NAN, refname,
                                failures ? NAN : worst, 0.05, "lower", threads);
    bench_note(r, "worst case over the integrators and hbar in {0, 1} (%s)%s", worst_name,
               failures ? "; some integrators failed (see their entries)" : "");
    if (threads > 1) {
        bench_result *rc = bench_add("sampler_overhead_cpu_fraction", failures ? NAN : worst_cpu,
                                     "fraction", NAN, "process CPU time inside pi_model_eval_ctx",
                                     failures ? NAN : worst_cpu, NAN, "lower", threads);
        bench_note(rc, "worst case of the CPU-time twins (informational; the target applies to "
                       "sampler_overhead_fraction)");
    }

    /* samples/s with the default schedule length of 50 steps, EXP2M, ħ = 0 and 1. */
    for (size_t h = 0; h < 2; h++) {
        char ename[96];
        snprintf(ename, sizeof ename, "sampler_samples_per_s_exp2m_hbar%g%s", hbars[h],
                 threads == 1 ? "_1t" : "_2t");
        sampler_timing st =
            time_sampler(m, PI_METHOD_EXP2M, hbars[h], g_quick ? 10 : 50, n, threads);
        if (st.status != PI_OK) {
            bench_null(ename, "samples/s", "network-bound throughput", NAN, "higher", threads,
                       pi_last_error());
            continue;
        }
        double v = (double)n / st.run_s, ref = (double)n / st.net_s;
        bench_result *rr = bench_add(ename, v, "samples/s", ref,
                                     "network-bound throughput (rows / time inside the network)",
                                     v / ref, NAN, "higher", threads);
        bench_note(rr, "MLP d=2 3x256, batch %zu per run, %d steps, nfe %zu", n,
                   g_quick ? 10 : 50, st.nfe);
    }
    pi_model_destroy(m);
}

/* ---- issue 13: small-batch sampling (per-region dispatch cost of the worker pool) ------- */

/* 64 rows × 50 EXP2M steps of the MLP above: ~100 parallel regions per run on rows that take
 * little time each, so thread start-up and wake-up latency show. Both samplers persist over
 * all runs (as an application's would); 1 and 2 threads are timed interleaved. */
static void bench_sampler_small_batch(void)
{
    const char *name = "sampler_small_batch_64x50_2t";
    const char *refname = "the same runs on 1 thread (samples/s)";
    if (!selected(name))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_sampler()) {
        bench_null(name, "samples/s", refname, NAN, "higher", 2, missing());
        pi_model_destroy(m);
        return;
    }
    enum { ROWS = 64, STEPS = 50, RUNS = 10 };
    pi_sampler_t *s[2] = {NULL, NULL};
    pi_status st = PI_OK;
    for (int k = 0; k < 2 && st == PI_OK; k++) {
        st = pi_sampler_create(m, &s[k]);
        if (st == PI_OK)
            st = pi_sampler_set_method(s[k], PI_METHOD_EXP2M);
        if (st == PI_OK)
            st = pi_sampler_set_steps(s[k], STEPS);
        if (st == PI_OK)
            st = pi_sampler_set_threads(s[k], k + 1);
    }
    float *x = bench_alloc(ROWS * MLP_DIM * sizeof(float));
    double t1[64], t2[64];
    for (int r = -1; r < g_reps && st == PI_OK; r++) {
        double a = bench_now();
        for (int i = 0; i < RUNS && st == PI_OK; i++)
            st = pi_sampler_run(s[1], ROWS, x);
        double b = bench_now();
        for (int i = 0; i < RUNS && st == PI_OK; i++)
            st = pi_sampler_run(s[0], ROWS, x);
        double e = bench_now();
        if (r >= 0) {
            t2[r] = (b - a) / RUNS;
            t1[r] = (e - b) / RUNS;
        }
    }
    if (st != PI_OK) {
        bench_null(name, "samples/s", refname, NAN, "higher", 2, pi_last_error());
    } else {
        double v = ROWS / bench_median(t2, (size_t)g_reps);
        double ref = ROWS / bench_median(t1, (size_t)g_reps);
        bench_result *res = bench_add(name, v, "samples/s", ref, refname, v / ref, NAN, "higher", 2);
        bench_note(res, "MLP d=2 3x256, %d rows, %d EXP2M steps, hbar 0, median over reps of %d "
                        "runs on one persistent sampler per thread count",
                   ROWS, STEPS, RUNS);
    }
    bench_free(x);
    pi_sampler_destroy(s[0]);
    pi_sampler_destroy(s[1]);
    pi_model_destroy(m);
}

/* ---- time-keyed noise: its cost over the step-keyed noise ------------------------------ */

/* CPU time of a run with PI_NOISE_BROWNIAN over the same run with PI_NOISE_STEP (interleaved),
 * where the noise is most of the work: a 16-D 10-component mixture on VP linear, 4000 rows x 50
 * EXP2M steps at hbar 1, one thread. */
static void bench_sampler_brownian(void)
{
    const char *name = "sampler_brownian_noise_cost_1t";
    const char *refname = "the run with step-keyed noise (CPU s)";
    if (!selected(name))
        return;
    if (!have_sampler() || !HAVE(pi_model_create_gmm) || !HAVE(pi_sampler_set_noise)) {
        bench_null(name, "x", refname, NAN, "lower", 1, missing());
        return;
    }
    enum { D = 16, K = 10, STEPS = 50 };
    const size_t n = g_quick ? 1000 : 4000;
    double w[K], mu[K * D], var[K * D];
    for (size_t k = 0; k < K; k++) {
        w[k] = 1.0;
        for (size_t j = 0; j < D; j++) {
            mu[k * D + j] = (double)((k * 7 + j * 3) % 11) / 5.0 - 1.0;
            var[k * D + j] = 0.05;
        }
    }
    pi_model_t *m = NULL;
    pi_sampler_t *s[2] = {NULL, NULL};
    pi_status st = pi_model_create_gmm(g_sde, D, K, w, mu, var, &m);
    for (int k = 0; k < 2 && st == PI_OK; k++) {
        st = pi_sampler_create(m, &s[k]);
        if (st == PI_OK)
            st = pi_sampler_set_method(s[k], PI_METHOD_EXP2M);
        if (st == PI_OK)
            st = pi_sampler_set_hbar(s[k], 1.0);
        if (st == PI_OK)
            st = pi_sampler_set_steps(s[k], STEPS);
        if (st == PI_OK)
            st = pi_sampler_set_noise(s[k], k == 0 ? PI_NOISE_STEP : PI_NOISE_BROWNIAN);
    }
    float *x = bench_alloc(n * D * sizeof(float));
    double ts[64], tb[64], ratio[64];
    for (int r = -1; r < g_reps && st == PI_OK; r++) {
        double a = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
        st = pi_sampler_run(s[0], n, x);
        double b = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
        if (st == PI_OK)
            st = pi_sampler_run(s[1], n, x);
        double c = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0) {
            ts[r] = b - a;
            tb[r] = c - b;
            ratio[r] = tb[r] / ts[r];
        }
    }
    if (st != PI_OK) {
        bench_null(name, "x", refname, NAN, "lower", 1, pi_last_error());
    } else {
        double v = bench_median(ratio, (size_t)g_reps);
        bench_result *res = bench_add(name, v, "x", bench_median(ts, (size_t)g_reps), refname, v,
                                      NAN, "lower", 1);
        bench_note(res, "CPU time of PI_NOISE_BROWNIAN over PI_NOISE_STEP (median of per-rep "
                        "ratios; Brownian %.3f s): 16-D 10-component mixture, VP linear, %zu rows "
                        "x %d EXP2M steps, hbar 1",
                   bench_median(tb, (size_t)g_reps), n, (int)STEPS);
    }
    bench_free(x);
    pi_sampler_destroy(s[0]);
    pi_sampler_destroy(s[1]);
    pi_model_destroy(m);
}

/* ---- issue 17: small-batch throughput (16, 64, 256, 4096 rows x 20 steps) -------------- */

static void bench_sampler_batches(void)
{
    if (!selected("sampler_batch"))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_sampler()) {
        pi_model_destroy(m);
        return;
    }
    static const size_t rows[] = {16, 64, 256, 4096};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t i = 0; want_threads(threads) && i < sizeof rows / sizeof rows[0]; i++) {
            size_t n = rows[i];
            sampler_timing r = time_sampler(m, PI_METHOD_EXP2M, 1.0, 20, n, threads);
            char name[96];
            snprintf(name, sizeof name, "sampler_batch_%zux20_%dt", n, threads);
            if (r.status != PI_OK) {
                bench_null(name, "samples/s", "", NAN, "higher", threads, pi_last_error());
                continue;
            }
            bench_result *res = bench_add(name, (double)n / r.run_s, "samples/s", NAN, "", NAN,
                                          NAN, "higher", threads);
            bench_note(res, "MLP d=2 3x256, EXP2M, hbar 1, 20 steps, one persistent sampler "
                            "(workspace and pool made by the warm-up run); %.3g ms per run",
                       r.run_s * 1e3);
            /* The overhead targets of issue 17: <= 15 % at 16 rows, <= 5 % at 4096 rows. */
            double target = n == 16 ? 0.15 : n == 4096 ? 0.05 : NAN;
            snprintf(name, sizeof name, "sampler_batch_overhead_%zux20_%dt", n, threads);
            double f = 1.0 - r.net_s / r.run_s;
            bench_result *o = bench_add(name, f, "fraction", r.run_s, "wall time of one run (s)", f,
                                        target, "lower", threads);
            bench_note(o, "share of the run outside pi_model_eval_ctx (network time summed over "
                          "workers / workers), median over runs");
        }
    pi_model_destroy(m);
}

/* ---- issue 5/9: peak memory of sampling 1e5 points ----------------------------------- */

typedef struct rss_monitor {
    atomic_int stop;
    size_t peak;
} rss_monitor;

static void *monitor_rss(void *p)
{
    rss_monitor *mon = p;
    while (!atomic_load(&mon->stop)) {
        size_t v = bench_rss_bytes("VmRSS");
        if (v > mon->peak)
            mon->peak = v;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* The measuring child: a fresh process (exec'd), so that no heap freed by earlier benchmarks
 * can absorb the run's allocations. Prints "before peak hwm ok" on stdout. */
static int memory_child(void)
{
    size_t n = 100000, threads = 2;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_sampler())
        return 1;
    size_t d = m->dim;
    pi_sampler_t *s = NULL;
    float *warm = malloc(64 * d * sizeof(float));
    if (pi_sampler_create(m, &s) != PI_OK || pi_sampler_set_threads(s, (int)threads) != PI_OK ||
        pi_sampler_set_steps(s, 10) != PI_OK || pi_sampler_run(s, 64, warm) != PI_OK)
        return 1;
    /* BLIS pools, the sampler's small state and the code pages exist now. x_out is allocated
     * but untouched: its pages count as the run touches them. */
    float *x = malloc(n * d * sizeof(float));
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    int reset = fp != NULL && fputs("5", fp) >= 0;
    if (fp)
        reset = (fclose(fp) == 0) && reset;
    size_t before = bench_rss_bytes("VmRSS");
    rss_monitor mon;
    atomic_init(&mon.stop, 0);
    mon.peak = before;
    pthread_t th;
    int have_mon = pthread_create(&th, NULL, monitor_rss, &mon) == 0;
    pi_status st = x ? pi_sampler_run(s, n, x) : PI_ENOMEM;
    atomic_store(&mon.stop, 1);
    if (have_mon)
        pthread_join(th, NULL);
    printf("%zu %zu %zu %d\n", before, mon.peak, reset ? bench_rss_bytes("VmHWM") : (size_t)0,
           st == PI_OK);
    free(x);
    free(warm);
    pi_sampler_destroy(s);
    pi_model_destroy(m);
    return 0;
}

static void bench_memory(void)
{
    const char *name = "sampler_peak_rss_vs_promised";
    const char *refname = "bytes of x_out + documented sampler state and worker scratch";
    if (!selected(name))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_sampler()) {
        bench_null(name, "ratio", refname, 1.5, "lower", 2, missing());
        pi_model_destroy(m);
        return;
    }
    size_t n = 100000, threads = 2, d = m->dim;
    double got[4] = {NAN, NAN, NAN, 0};
    char self[1024], cmd[1100];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    snprintf(cmd, sizeof cmd, "exec '%s' --memory-child", self);
    FILE *p = len > 0 ? popen(cmd, "r") : NULL;
    if (p != NULL) {
        unsigned long long b = 0, pk = 0, hwm = 0;
        int ok = 0;
        if (fscanf(p, "%llu %llu %llu %d", &b, &pk, &hwm, &ok) == 4 && ok) {
            got[0] = (double)b;
            got[1] = (double)pk;
            got[2] = hwm ? (double)hwm : NAN;
            got[3] = 1;
        }
        pclose(p);
    }
    if (got[3] != 1.0) {
        bench_null(name, "ratio", refname, 1.5, "lower", (int)threads,
                   "measurement failed (the sampler run failed in the child)");
        pi_model_destroy(m);
        return;
    }
    /* What docs/samplers.md promises (driver.c): the caller's x_out (n x d floats); solver
     * state n x d doubles plus two n x d float arrays (denoised, previous denoised); per
     * worker the model workspace for a chunk of PI_SAMPLER_CHUNK rows, chunk times, two
     * chunk x d float buffers, the noise buffer and PI_WORKER_BUFFERS chunk x d doubles. */
    size_t chunk = PI_SAMPLER_CHUNK;
    double arrays = (double)(n * d * sizeof(float));
    double state = (double)(n * d) * (sizeof(double) + 2 * sizeof(float));
    double worker = (double)pi_model_workspace_bytes(m, chunk) + (double)(chunk * sizeof(double)) +
                    (double)(2 * chunk * d * sizeof(float)) +
                    (double)((1 + PI_WORKER_BUFFERS) * chunk * d * sizeof(double));
    double promised = arrays + state + (double)threads * worker;
    double used = got[1] - got[0];
    if (isfinite(got[2]) && got[2] - got[0] > used)
        used = got[2] - got[0];
    bench_result *r = bench_add(name, used / promised, "ratio", promised, refname,
                                used / promised, 1.5, "lower", (int)threads);
    bench_note(r,
               "n=%zu, MLP d=2 3x256, EXP2M 10 steps, 2 threads, in a fresh process: peak RSS "
               "growth during the run %.0f bytes (max of a 0.2 ms VmRSS monitor and VmHWM after "
               "clear_refs, minus VmRSS before; x_out allocated untouched before); promised "
               "%.0f = x_out %.0f + state %.0f + 2 workers x %.0f",
               n, used, promised, arrays, state, worker);
    pi_model_destroy(m);
}

/* ---- issue 7: training ------------------------------------------------------------- */

static int have_trainer(void)
{
    return HAVE(pi_trainer_create) && HAVE(pi_trainer_step) && HAVE(pi_trainer_set_batch_size) &&
           HAVE(pi_trainer_set_threads) && HAVE(pi_trainer_destroy);
}

static double g_train_steps_per_s[3];

/* ---- issue 17: the exact mixture's score, rows/s (bench/run compares with PyTorch) ---- */
static double g_gmm_rows_per_s[3];

static void bench_gmm(int threads)
{
    char name[64];
    snprintf(name, sizeof name, "gmm_score_rows_per_s_%dt", threads);
    if (!selected(name) && !selected("gmm_score_vs_torch"))
        return;
    if (!HAVE(pi_model_create_gmm))
        return;
    /* 25 Gaussians on a 5 x 5 grid (means -2..2, variance 0.01, equal weights), VP linear at
     * t = 0.3, rows uniform on the grid's square scaled by alpha: as bench/torch_gmm.py. */
    double w[25], mu[50], var[50];
    for (int c = 0; c < 25; c++) {
        w[c] = 1.0;
        mu[2 * c] = (double)(c / 5) - 2.0;
        mu[2 * c + 1] = (double)(c % 5) - 2.0;
        var[2 * c] = var[2 * c + 1] = 0.01;
    }
    pi_model_t *m = NULL;
    if (pi_model_create_gmm(g_sde, 2, 25, w, mu, var, &m) != PI_OK)
        return;
    const size_t n = 4096;
    double alpha, sigma;
    pi_sde_marginal(g_sde, 0.3, &alpha, &sigma);
    float *x = bench_alloc(n * 2 * sizeof(float)), *out = bench_alloc(n * 2 * sizeof(float));
    bench_fill_uniform(x, n * 2, 17, (float)(-2.0 * alpha), (float)(2.0 * alpha));
    double *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.3;
    size_t wsb = pi_model_workspace_bytes(m, n);
    void *ws = bench_alloc(wsb);
    pi_eval_ctx ctx = {ws, wsb, threads, NULL, NULL};
    if (threads > 1 && pi_pool_create(threads, &ctx.pool) != PI_OK)
        ctx.pool = NULL;
    double tm[64];
    int ok = 1, reps = g_reps < 15 ? 15 : g_reps;
    if (reps > 64)
        reps = 64;
    for (int r = -1; r < reps; r++) {
        double a = bench_now();
        if (pi_model_eval_ctx(m, PI_VIEW_SCORE, n, x, t, out, &ctx) != PI_OK)
            ok = 0;
        if (r >= 0)
            tm[r] = bench_now() - a;
    }
    double rate = (double)n / bench_median(tm, (size_t)reps);
    g_gmm_rows_per_s[threads] = ok ? rate : NAN;
    bench_result *res = bench_add(name, ok ? rate : NAN, "rows/s", NAN, "", NAN, NAN, "higher", threads);
    bench_note(res, "exact 25-Gaussian mixture score (d = 2), 4096 rows at one t, pi_model_eval_ctx; "
                    "double log-sum-exp, float output; bench/run compares with PyTorch float64");
    pi_pool_destroy(ctx.pool);
    bench_free(ws);
    bench_free(x);
    bench_free(out);
    free(t);
    pi_model_destroy(m);
}

/* A mixture too large for the row kernel's tables (k·d = 1024 × 128 > 2^16): the GEMM path
 * (issue 17) against the scalar closed form of one row at a time (pi_model_score_d, libm's
 * exp; the path such mixtures took before), interleaved, both on one thread for the
 * reference's sake and the GEMM path at the entry's thread count. */
static void bench_gmm_large(int threads)
{
    char name[64];
    snprintf(name, sizeof name, "gmm_large_vs_scalar%s", threads == 1 ? "_1t" : "");
    if (!selected(name) || !HAVE(pi_model_create_gmm))
        return;
    enum { K = 1024, D = 128 };
    double *w = malloc(K * sizeof *w), *mu = malloc(K * D * sizeof *mu), *var = malloc(K * D * sizeof *var);
    float *fm = bench_alloc(K * D * sizeof(float)), *fv = bench_alloc(K * D * sizeof(float));
    bench_fill_normal(fm, K * D, 23);
    bench_fill_uniform(fv, K * D, 29, 0.05f, 0.5f);
    for (int c = 0; c < K; c++)
        w[c] = 1.0 + (double)(c % 7);
    for (int i = 0; i < K * D; i++) {
        mu[i] = fm[i];
        var[i] = fv[i];
    }
    pi_model_t *m = NULL;
    if (pi_model_create_gmm(g_sde, D, K, w, mu, var, &m) != PI_OK) {
        free(w); free(mu); free(var); bench_free(fm); bench_free(fv);
        return;
    }
    const size_t n = g_quick ? 256 : 1024, nref = g_quick ? 16 : 64;
    float *x = bench_alloc(n * D * sizeof(float)), *out = bench_alloc(n * D * sizeof(float));
    bench_fill_normal(x, n * D, 31);
    double *t = malloc(n * sizeof *t), xd[D], sd[D];
    for (size_t i = 0; i < n; i++)
        t[i] = 0.3;
    size_t wsb = pi_model_workspace_bytes(m, n);
    void *ws = bench_alloc(wsb);
    pi_eval_ctx ctx = {ws, wsb, threads, NULL, NULL};
    if (threads > 1 && pi_pool_create(threads, &ctx.pool) != PI_OK)
        ctx.pool = NULL;
    double tm[64], tr[64], worst = 0.0;
    int ok = 1, reps = g_reps;
    for (int r = -1; r < reps; r++) {
        double a = bench_now();
        if (pi_model_eval_ctx(m, PI_VIEW_SCORE, n, x, t, out, &ctx) != PI_OK)
            ok = 0;
        double b = bench_now();
        for (size_t i = 0; i < nref; i++) {
            for (size_t j = 0; j < D; j++)
                xd[j] = x[i * D + j];
            if (pi_model_score_d(m, xd, 0.3, sd) != PI_OK)
                ok = 0;
            if (r == 0)
                for (size_t j = 0; j < D; j++)
                    worst = fmax(worst, fabs(out[i * D + j] - sd[j]) / fmax(1.0, fabs(sd[j])));
        }
        double c = bench_now();
        if (r >= 0) {
            tm[r] = b - a;
            tr[r] = c - b;
        }
    }
    double rate = (double)n / bench_median(tm, (size_t)reps);
    double ref = (double)nref / bench_median(tr, (size_t)reps);
    bench_result *res = bench_add(name, ok ? rate : NAN, "rows/s", ok ? ref : NAN,
                                  "scalar closed form, one row at a time (pi_model_score_d), 1 thread",
                                  ok ? rate / ref : NAN, NAN, "higher", threads);
    char note[256];
    snprintf(note, sizeof note, "%d-component %d-D mixture (k*d > 2^16: GEMM path), %zu rows at one t; "
             "worst |out - closed form| / max(1, |s|) = %.2g", K, D, n, worst);
    bench_note(res, "%s", note);
    pi_pool_destroy(ctx.pool);
    bench_free(ws);
    bench_free(x);
    bench_free(out);
    bench_free(fm);
    bench_free(fv);
    free(t);
    free(w);
    free(mu);
    free(var);
    pi_model_destroy(m);
}

static void bench_train(int threads)
{
    const char *name = threads == 1 ? "mlp_train_vs_sgemm_1t" : "mlp_train_vs_sgemm";
    const char *refname = "BLIS sgemm: forward + backward GEMMs, same shapes and threads";
    if (!selected("train"))
        return;
    pi_model_t *m = make_mlp(MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    if (m == NULL || !have_trainer()) {
        bench_null(name, "GFLOP/s", refname, 0.70, "higher", threads, missing());
        pi_model_destroy(m);
        return;
    }
    size_t batch = MLP_BATCH, ndata = 65536, params = 0;
    pi_model_get_num_params(m, &params);
    size_t in = mlp_input_width(m, MLP_DIM, MLP_WIDTH, MLP_LAYERS);
    float *data = bench_alloc(ndata * MLP_DIM * sizeof(float));
    if (HAVE(pi_data_generate))
        (void)pi_data_generate(PI_DATASET_GAUSSIANS_25, ndata, 3, data);
    else
        bench_fill_normal(data, ndata * MLP_DIM, 3);
    pi_trainer_t *tr = NULL;
    pi_status st = pi_trainer_create(m, &tr);
    if (st == PI_OK)
        st = pi_trainer_set_batch_size(tr, batch);
    if (st == PI_OK)
        st = pi_trainer_set_threads(tr, threads);
    if (st == PI_OK && HAVE(pi_trainer_set_learning_rate))
        st = pi_trainer_set_learning_rate(tr, 1e-4);
    gemm_chain c;
    chain_init(&c, batch, in, MLP_WIDTH, MLP_LAYERS, MLP_DIM);
    float *grad[8];
    for (size_t l = 0; l < c.nl; l++)
        grad[l] = bench_alloc(c.in[l] * c.out[l] * sizeof(float));
    double tm[64], tr_s[64], ref_flops = 0;
    for (int r = -1; r < g_reps && st == PI_OK; r++) {
        double loss = 0;
        double a = bench_now();
        st = pi_trainer_step(tr, ndata, data, &loss);
        double b = bench_now();
        chain_forward(&c, threads);
        ref_flops = chain_forward_flops(&c) + chain_backward(&c, grad, threads);
        double e = bench_now();
        if (r >= 0) {
            tm[r] = b - a;
            tr_s[r] = e - b;
        }
    }
    if (st != PI_OK) {
        char why[400];
        snprintf(why, sizeof why, "trainer failed: %s", pi_last_error());
        bench_null(name, "GFLOP/s", refname, 0.70, "higher", threads, why);
    } else {
        double t_step = bench_median(tm, (size_t)g_reps);
        double flops = 6.0 * (double)batch * (double)params;
        double gm = flops / t_step * 1e-9;
        double gr = ref_flops / bench_median(tr_s, (size_t)g_reps) * 1e-9;
        bench_result *res = bench_add(name, gm, "GFLOP/s", gr, refname, gm / gr, 0.70, "higher",
                                      threads);
        bench_note(res,
                   "one pi_trainer_step (Adam) batch %zu, %zu params; value counts 6*batch*params "
                   "FLOPs; reference counts the %zu-layer forward + backward GEMM FLOPs it ran",
                   batch, params, c.nl);
        g_train_steps_per_s[threads] = 1.0 / t_step;
        char sname[64];
        snprintf(sname, sizeof sname, "mlp_train_steps_per_s_%dt", threads);
        bench_result *s2 = bench_add(sname, 1.0 / t_step, "steps/s", NAN, "", NAN, NAN,
                                     "higher", threads);
        bench_note(s2, "pathint Adam steps/s (batch %zu); bench/run compares it with PyTorch",
                   batch);
    }
    for (size_t l = 0; l < c.nl; l++)
        bench_free(grad[l]);
    chain_free(&c);
    pi_trainer_destroy(tr);
    bench_free(data);
    pi_model_destroy(m);
}

/* ---- issue 6: likelihood ----------------------------------------------------------- */

/* A small 2-D MLP trained briefly on 25 Gaussians (random weights when no trainer yet). */
static pi_model_t *likelihood_model(char *how, size_t cap)
{
    pi_model_t *m = make_mlp(2, 64, 2);
    if (m == NULL)
        return NULL;
    snprintf(how, cap, "MLP 2x64 with random weights");
    if (have_trainer() && HAVE(pi_trainer_fit) && HAVE(pi_data_generate)) {
        size_t n = 4096;
        float *data = malloc(n * 2 * sizeof(float));
        pi_trainer_t *tr = NULL;
        if (pi_data_generate(PI_DATASET_GAUSSIANS_25, n, 9, data) == PI_OK &&
            pi_trainer_create(m, &tr) == PI_OK && pi_trainer_set_batch_size(tr, 256) == PI_OK &&
            pi_trainer_set_threads(tr, 2) == PI_OK &&
            pi_trainer_fit(tr, n, data, g_quick ? 100 : 600) == PI_OK)
            snprintf(how, cap, "MLP 2x64 trained %d Adam steps on 25 Gaussians",
                     g_quick ? 100 : 600);
        pi_trainer_destroy(tr);
        free(data);
    }
    return m;
}

/* Plain PF-ODE solve of one point in the likelihood's engine (double, per point). */
typedef struct plain_ctx {
    const pi_model_t *m;
    double s[64];
    size_t nfe;
} plain_ctx;

static pi_status plain_rhs(double t, const double *y, double *dydt, void *p)
{
    plain_ctx *c = p;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&c->m->sde, t, &sp);
    if (st == PI_OK)
        st = pi_model_score_d(c->m, y, t, c->s);
    c->nfe++;
    for (size_t i = 0; st == PI_OK && i < c->m->dim; i++)
        dydt[i] = sp.f * y[i] - 0.5 * sp.g2 * c->s[i];
    return st;
}

static void bench_likelihood(void)
{
    if (!selected("wkb") && !selected("nll"))
        return;
    const char *wname = "wkb_sweep_vs_reference_nfe";
    const char *nname = "nll_exact_div_vs_ode";
    const char *wref = "published nested finite-difference reference (NFE/point)";
    const char *nref = "plain PF-ODE solve, same engine and tolerances (s/point)";
    int have = HAVE(pi_model_create_mlp) && HAVE(pi_model_get_num_params);
    char how[128] = "";
    pi_model_t *m = have ? likelihood_model(how, sizeof how) : NULL;
    if (m == NULL) {
        bench_null(wname, "NFE/point", wref, 20, "higher", 1, missing());
        bench_null(nname, "s/point", nref, 3, "lower", 1, missing());
        return;
    }
    fprintf(stderr, "  likelihood model ready (%s)\n", how);
    size_t n = g_quick ? 1 : 2;
    float x[64];
    if (HAVE(pi_data_generate))
        (void)pi_data_generate(PI_DATASET_GAUSSIANS_25, n, 77, x);
    else
        bench_fill_normal(x, n * 2, 77);
    double nll[8], c1_true[8], c1_ref[8], c1_sw[8];
    pi_nll_point_stats ps_ref[8], ps_sw[8];
    /* Truth: the sweep at very tight tolerances. */
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.c1_mode = PI_C1_SWEEP;
    o.rtol = 1e-10;
    o.atol = 1e-12;
    pi_status st = pi_likelihood_compute(m, &o, n, x, nll, c1_true, NULL);
    /* The reference as published: outer rtol 1e-3, inner 1e-5 (MATH.md §4), FD step 1e-2. */
    pi_lik_options r;
    pi_lik_options_default(&r);
    r.c1_mode = PI_C1_REFERENCE;
    r.rtol = 1e-3;
    r.atol = 1e-5;
    r.ref_inner_rtol = 1e-5;
    r.ref_inner_atol = 1e-7;
    double t0 = bench_now();
    if (st == PI_OK)
        st = pi_likelihood_compute(m, &r, n, x, nll, c1_ref, ps_ref);
    double t1 = bench_now();
    fprintf(stderr, "  wkb reference: %.3g s for %zu points\n", t1 - t0, n);
    double err_ref = 0;
    for (size_t i = 0; st == PI_OK && i < n; i++)
        err_ref = fmax(err_ref, fabs(c1_ref[i] - c1_true[i]));
    /* The sweep at matched accuracy: the loosest tolerance whose error is no larger. */
    double tol = 1e-3, err_sw = INFINITY, t_sw = NAN;
    for (; st == PI_OK && tol >= 1e-9; tol *= 0.1) {
        pi_lik_options w;
        pi_lik_options_default(&w);
        w.c1_mode = PI_C1_SWEEP;
        w.rtol = tol;
        w.atol = tol * 1e-2;
        double a = bench_now();
        st = pi_likelihood_compute(m, &w, n, x, nll, c1_sw, ps_sw);
        t_sw = bench_now() - a;
        err_sw = 0;
        for (size_t i = 0; st == PI_OK && i < n; i++)
            err_sw = fmax(err_sw, fabs(c1_sw[i] - c1_true[i]));
        if (err_sw <= err_ref)
            break;
    }
    if (st != PI_OK) {
        char why[400];
        snprintf(why, sizeof why, "pi_likelihood_compute failed: %s", pi_last_error());
        bench_null(wname, "NFE/point", wref, 20, "higher", 1, why);
    } else {
        double ns = 0, nr = 0, maxc1 = 0;
        for (size_t i = 0; i < n; i++) {
            ns += (double)(ps_sw[i].nfe_order0 + ps_sw[i].nfe_c1);
            nr += (double)(ps_ref[i].nfe_order0 + ps_ref[i].nfe_c1);
            maxc1 = fmax(maxc1, fabs(c1_true[i]));
        }
        ns /= (double)n;
        nr /= (double)n;
        bench_result *res = bench_add(wname, ns, "NFE/point", nr, wref, nr / ns, 20, "higher", 1);
        bench_note(res,
                   "%s, VP linear, %zu points of 25 Gaussians; ratio = reference NFE / sweep NFE "
                   "(order 0 + c1, every model call counted once); reference: outer rtol 1e-3, "
                   "inner 1e-5, h=1e-2, |c1 error| %.3g; sweep at rtol %.0e (loosest with error "
                   "<= the reference's): |c1 error| %.3g; truth = sweep at rtol 1e-10 (|c1| %.3g)",
                   how, n, err_ref, tol, err_sw, maxc1);
        bench_result *rt = bench_add("wkb_sweep_vs_reference_time", t_sw / (double)n, "s/point",
                                     (t1 - t0) / (double)n,
                                     "published nested reference (s/point)",
                                     (t1 - t0) / t_sw, NAN, "higher", 1);
        bench_note(rt, "same run as wkb_sweep_vs_reference_nfe; ratio = reference / sweep time");
    }

    /* Order 0 with the exact divergence vs a plain PF-ODE solve: same engine (double, one
     * point at a time, Dormand-Prince 5(4)), same tolerances (the defaults 1e-6 / 1e-8). */
    {
        size_t nn = g_quick ? 16 : 64, d = m->dim;
        float *xs = malloc(nn * d * sizeof(float));
        double *nl = malloc(nn * sizeof *nl);
        pi_nll_point_stats *ps = malloc(nn * sizeof *ps);
        if (HAVE(pi_data_generate))
            (void)pi_data_generate(PI_DATASET_GAUSSIANS_25, nn, 78, xs);
        else
            bench_fill_normal(xs, nn * d, 78);
        pi_lik_options z;
        pi_lik_options_default(&z);
        z.c1_mode = PI_C1_NONE;
        z.div_mode = PI_DIVERGENCE_EXACT;
        double *work = malloc(pi_ode_workspace_doubles(d) * sizeof(double));
        pi_ode_options so = {z.rtol, z.atol, z.max_steps, 0.0};
        double tmin = 0, tmax = 1;
        pi_sde_time_range(&m->sde, &tmin, &tmax);
        double tn[64], to[64];
        size_t nfe_plain = 0;
        double nfe_nll = 0;
        pi_status s3 = PI_OK;
        for (int rep = -1; rep < g_reps && s3 == PI_OK; rep++) {
            double a = bench_now();
            s3 = pi_likelihood_compute(m, &z, nn, xs, nl, NULL, ps);
            double b = bench_now();
            plain_ctx pc;
            memset(&pc, 0, sizeof pc);
            pc.m = m;
            for (size_t i = 0; s3 == PI_OK && i < nn; i++) {
                double y[64];
                for (size_t k = 0; k < d; k++)
                    y[k] = (double)xs[i * d + k];
                s3 = pi_ode_solve(plain_rhs, &pc, d, tmin, tmax, y, &so, work, NULL);
            }
            double e = bench_now();
            nfe_plain = pc.nfe;
            if (rep >= 0) {
                tn[rep] = b - a;
                to[rep] = e - b;
            }
        }
        if (s3 != PI_OK) {
            char why[400];
            snprintf(why, sizeof why, "failed: %s", pi_last_error());
            bench_null(nname, "s/point", nref, 3, "lower", 1, why);
        } else {
            for (size_t i = 0; i < nn; i++)
                nfe_nll += (double)ps[i].nfe_order0;
            nfe_nll /= (double)nn;
            double vn = bench_median(tn, (size_t)g_reps) / (double)nn;
            double vo = bench_median(to, (size_t)g_reps) / (double)nn;
            bench_result *res = bench_add(nname, vn, "s/point", vo, nref, vn / vo, 3, "lower", 1);
            bench_note(res,
                       "%s, d=2, %zu points, rtol 1e-6 atol 1e-8, 1 thread; order-0 NLL "
                       "(pi_likelihood_compute, exact divergence, no c1) vs pi_ode_solve of the "
                       "PF-ODE with pi_model_score_d from t_min to T; model calls/point: nll "
                       "%.1f, plain %.1f",
                       how, nn, nfe_nll, (double)nfe_plain / (double)nn);
        }
        free(work);
        free(xs);
        free(nl);
        free(ps);
    }
    pi_model_destroy(m);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            g_quick = 1;
            g_reps = 5;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            g_only = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            g_threads = atoi(argv[++i]);
            if (g_threads != 1 && g_threads != 2) {
                fprintf(stderr, "--threads: 1 or 2\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--no-common") == 0) {
            g_common = 0;
        } else if (strcmp(argv[i], "--memory-child") == 0) {
            /* handled below */
        } else if (strcmp(argv[i], "--json") == 0) {
            /* JSON is the only output format */
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--only SUBSTRING] [--threads N] [--no-common]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_reps < 5)
        g_reps = 5;
    if (g_reps > 63)
        g_reps = 63;
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &g_sde) != PI_OK) {
        fprintf(stderr, "cannot create the SDE: %s\n", pi_last_error());
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "--memory-child") == 0) {
        int rc = memory_child();
        pi_sde_destroy(g_sde);
        return rc;
    }
    double start = bench_now();
    for (int threads = 2; threads >= 1; threads--) {
        if (!want_threads(threads))
            continue;
        bench_mlp_forward(threads);
        bench_empirical(threads);
        bench_train(threads);
        bench_gmm(threads);
        bench_gmm_large(threads);
        bench_sampler(threads);
    }
    bench_sampler_batches();
    if (g_common) {
        bench_sampler_small_batch();
        bench_sampler_brownian();
        bench_memory();
        bench_likelihood();
    }
    /* The reference GEMM chains, for bench/run's hardware reference (blis-reference chain):
     * "m,n,k,ta,tb;..." exactly as chain_forward, chain_backward and bench_empirical run them. */
    char chain_fwd[256] = "", chain_train[768] = "", chain_emp[128];
    {
        size_t in = MLP_DIM + g_mlp_features, nl = MLP_LAYERS + 1, cin[8], cout[8];
        for (size_t l = 0; l < nl; l++) {
            cin[l] = l == 0 ? in : MLP_WIDTH;
            cout[l] = l == MLP_LAYERS ? MLP_DIM : MLP_WIDTH;
            snprintf(chain_fwd + strlen(chain_fwd), sizeof chain_fwd - strlen(chain_fwd),
                     "%s%d,%zu,%zu,0,1", l ? ";" : "", MLP_BATCH, cout[l], cin[l]);
        }
        snprintf(chain_train, sizeof chain_train, "%s", chain_fwd);
        for (size_t l = nl; l-- > 0;) {
            snprintf(chain_train + strlen(chain_train), sizeof chain_train - strlen(chain_train),
                     ";%zu,%zu,%d,1,0", cout[l], cin[l], MLP_BATCH);
            if (l > 0)
                snprintf(chain_train + strlen(chain_train), sizeof chain_train - strlen(chain_train),
                         ";%d,%zu,%zu,0,0", MLP_BATCH, cin[l], cout[l]);
        }
        const int N = g_quick ? 2000 : 10000, d = 64, q = 1024;
        snprintf(chain_emp, sizeof chain_emp, "%d,%d,%d,0,1;%d,%d,%d,0,0", q, N, d, q, d, N);
    }
    char config[2048];
    snprintf(config, sizeof config,
             "{\"mlp_dim\": %d, \"mlp_width\": %d, \"mlp_layers\": %d, \"mlp_features\": %zu, "
             "\"batch\": %d, "
             "\"reps\": %d, \"quick\": %s, \"seconds\": %.1f, \"train_steps_per_s_1t\": %.6g, "
             "\"train_steps_per_s_2t\": %.6g, \"gmm_rows_per_s_1t\": %.6g, \"gmm_rows_per_s_2t\": %.6g, \"chain_forward\": \"%s\", \"chain_train\": \"%s\", "
             "\"chain_empirical\": \"%s\"}",
             MLP_DIM, MLP_WIDTH, MLP_LAYERS, g_mlp_features, MLP_BATCH, g_reps, g_quick ? "true" : "false",
             bench_now() - start, g_train_steps_per_s[1], g_train_steps_per_s[2],
             g_gmm_rows_per_s[1], g_gmm_rows_per_s[2], chain_fwd,
             chain_train, chain_emp);
    bench_print_json(stdout, config);
    pi_sde_destroy(g_sde);
    return 0;
}
