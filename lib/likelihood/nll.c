/* Likelihood driver: options, per-worker workspace, threads across points, dequantisation,
 * per-point status, progress (MATH.md §4, docs/likelihood.md). The public handle is likelihood.c. */
#include "likelihood_impl.h"

#include "core/options.h"
#include "core/philox.h"
#include "core/threads.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Largest dimensions of the c1 algorithms: the sweep integrates a d × d matrix and reads the
 * d³ Hessians; the reference runs 2d + 1 nested solves per outer evaluation. */
#define PI_SWEEP_MAX_DIM 128
#define PI_REFERENCE_MAX_DIM 64

void pi_lik_options_default(pi_lik_options *o)
{
    /* The public defaults come from the one option table (core/options.c). */
    o->div_mode = (pi_divergence)pi_option_default(PI_OPTION_LIKELIHOOD_DIVERGENCE);
    o->probes = (size_t)pi_option_default(PI_OPTION_LIKELIHOOD_PROBES);
    o->seed = (uint64_t)pi_option_default(PI_OPTION_LIKELIHOOD_SEED);
    o->first_row = (uint64_t)pi_option_default(PI_OPTION_LIKELIHOOD_FIRST_ROW);
    o->rtol = pi_option_default(PI_OPTION_LIKELIHOOD_RTOL);
    o->atol = pi_option_default(PI_OPTION_LIKELIHOOD_ATOL);
    o->max_steps = 100000;
    o->c1_mode = pi_option_default(PI_OPTION_LIKELIHOOD_WKB_ALGORITHM) == PI_WKB_ALGORITHM_REFERENCE
                     ? PI_C1_REFERENCE
                     : PI_C1_SWEEP;
    o->dequant_bin = pi_option_default(PI_OPTION_LIKELIHOOD_DEQUANTIZATION);
    o->threads = (int)pi_option_default(PI_OPTION_LIKELIHOOD_THREADS);
    o->cancel = NULL;
    o->progress = NULL;
    o->progress_data = NULL;
    o->pool = NULL;
    o->ref_inner_rtol = 1e-10;
    o->ref_inner_atol = 1e-10;
    o->ref_fd_step = 1e-2;
    o->c1_probes = (size_t)pi_option_default(PI_OPTION_LIKELIHOOD_WKB_PROBES);
    o->sweep_products = 0;
}

pi_status pi_lik_options_check(const pi_lik_options *o, const char *func)
{
    /* The public options' ranges are the option table's (core/options.c). */
    pi_status st = pi_option_check_int(PI_OPTION_LIKELIHOOD_DIVERGENCE, (int)o->div_mode, func);
    if (st == PI_OK)
        st = pi_option_check_size(PI_OPTION_LIKELIHOOD_PROBES, o->probes, func);
    if (st == PI_OK)
        st = pi_option_check(PI_OPTION_LIKELIHOOD_RTOL, o->rtol, func);
    if (st == PI_OK)
        st = pi_option_check(PI_OPTION_LIKELIHOOD_ATOL, o->atol, func);
    if (st == PI_OK)
        st = pi_option_check(PI_OPTION_LIKELIHOOD_DEQUANTIZATION, o->dequant_bin, func);
    if (st == PI_OK)
        st = pi_option_check_int(PI_OPTION_LIKELIHOOD_THREADS, o->threads, func);
    if (st != PI_OK)
        return st;
    if (o->max_steps < 1)
        return pi_fail(PI_EINVAL, "%s: max_steps must be >= 1, got %zu", func, o->max_steps);
    if (o->c1_mode != PI_C1_NONE && o->c1_mode != PI_C1_SWEEP && o->c1_mode != PI_C1_REFERENCE &&
        o->c1_mode != PI_C1_STOCHASTIC)
        return pi_fail(PI_EINVAL, "%s: c1 mode must be 0, 1, 2 or 3, got %d", func,
                       (int)o->c1_mode);
    st = pi_option_check_size(PI_OPTION_LIKELIHOOD_WKB_PROBES, o->c1_probes, func);
    if (st != PI_OK)
        return st;
    if (!(o->ref_inner_rtol > 0.0) || !(o->ref_inner_rtol < 1.0) || !(o->ref_inner_atol > 0.0) ||
        !isfinite(o->ref_inner_atol))
        return pi_fail(PI_EINVAL, "%s: reference inner tolerances must be in (0, 1) and "
                       "(0, inf), got %g, %g", func, o->ref_inner_rtol, o->ref_inner_atol);
    if (!(o->ref_fd_step > 0.0) || !isfinite(o->ref_fd_step))
        return pi_fail(PI_EINVAL, "%s: finite-difference step must be finite and > 0, got %g",
                       func, o->ref_fd_step);
    return PI_OK;
}

void pi_lik_ws_destroy(pi_lik_ws *ws)
{
    if (ws == NULL)
        return;
    pi_ode_evolve_free(ws->ode);
    pi_free(ws->state);
    pi_free(ws->vec);
    pi_free(ws->mat);
    pi_free(ws->hess);
    pi_free(ws->probe);
    pi_free(ws->inner_state);
    pi_ode_evolve_free(ws->inner_ode);
    pi_free(ws->inner_vec);
    pi_wkb_stochastic_ws_destroy(ws->stoch);
    pi_wkb2_ws_destroy(ws->wkb2);
    pi_free(ws->sweep_scratch);
    pi_wkb2s_ws_destroy(ws->wkb2s);
    pi_free(ws);
}

pi_status pi_lik_ws_create(size_t d, const pi_lik_options *o, pi_lik_ws **out)
{
    pi_lik_ws *ws = pi_calloc(1, sizeof *ws);
    if (ws == NULL)
        return pi_fail(PI_ENOMEM, "out of memory for the likelihood workspace");
    ws->dim = d;
    ws->probes = o->probes;
    size_t n = 2 * d + 1; /* order 0 (d + 1) and the reference's outer state (2d + 1) */
    if (o->c1_mode == PI_C1_SWEEP)
        n = 2 * d + d * d + 1;
    if (o->c1_mode == PI_C1_STOCHASTIC && pi_wkb_stochastic_state(d, o->c1_probes) > n)
        n = pi_wkb_stochastic_state(d, o->c1_probes);
    int ok = 1;
    ok &= pi_ode_evolve_alloc(pi_ode_dopri5, n, &ws->ode) == PI_OK;
    ok &= (ws->state = pi_alloc_array(n, sizeof(double))) != NULL;
    ok &= (ws->vec = pi_alloc_array(8 * d, sizeof(double))) != NULL;
    ok &= (ws->mat = pi_alloc_array(3 * d * d, sizeof(double))) != NULL;
    if (o->c1_mode == PI_C1_SWEEP)
        ok &= (ws->hess = pi_alloc_array(d * d * d, sizeof(double))) != NULL;
    if (o->div_mode != PI_DIVERGENCE_EXACT)
        ok &= (ws->probe = pi_alloc_array(o->probes * d, sizeof(double))) != NULL;
    if (o->c1_mode == PI_C1_REFERENCE) {
        size_t m = (2 * d + 1) * (d + 1);
        ok &= (ws->inner_state = pi_alloc_array(m, sizeof(double))) != NULL;
        ok &= pi_ode_evolve_alloc(pi_ode_dopri5, m, &ws->inner_ode) == PI_OK;
        ok &= (ws->inner_vec = pi_alloc_array(4 * d, sizeof(double))) != NULL;
    }
    if (!ok) {
        pi_lik_ws_destroy(ws);
        return pi_fail(PI_ENOMEM, "out of memory for the likelihood workspace (dim %zu)", d);
    }
    *out = ws;
    return PI_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct driver_ctx {
    const pi_model_t *model;
    const pi_lik_options *o;
    const float *x;
    double *nll_out, *c1_out, *c2_out;
    pi_nll_point_stats *stats; /* n entries, always present (internal if the caller's is NULL) */
    pi_lik_ws **ws;            /* one per worker */
    size_t n;
    pthread_mutex_t progress_lock; /* serialises the progress callback */
    size_t done;                   /* finished points (under progress_lock) */
    int stopped;                   /* the callback asked to stop (under progress_lock) */
} driver_ctx;

/* Report one finished point; a nonzero return of the callback cancels the points not yet
 * started. */
static void report_progress(driver_ctx *c)
{
    const pi_lik_options *o = c->o;
    if (o->progress == NULL)
        return;
    pthread_mutex_lock(&c->progress_lock);
    c->done++;
    if (!c->stopped && o->progress(c->done, c->n, o->progress_data) != 0) {
        c->stopped = 1;
        if (o->cancel != NULL)
            atomic_store(o->cancel, 1);
    }
    pthread_mutex_unlock(&c->progress_lock);
}

/* One point. Its status goes to stats[i].status, and is returned so that the pool hands the
 * first failing point's message to the caller; the pool runs every point whatever happens
 * to the others. */
static pi_status point_task(size_t i, int worker, void *p)
{
    driver_ctx *c = p;
    const pi_model_t *m = c->model;
    const pi_lik_options *o = c->o;
    pi_lik_ws *ws = c->ws[worker];
    size_t d = m->dim;
    pi_nll_point_stats *st = &c->stats[i];
    memset(st, 0, sizeof *st);
    double *x0 = ws->vec + 6 * d, *xT = ws->vec + 7 * d;
    double nll = NAN, c1 = NAN;
    pi_status status = PI_OK;
    if (o->cancel != NULL && atomic_load(o->cancel)) {
        st->status = PI_ECANCELED;
        c->nll_out[i] = NAN;
        if (c->c1_out != NULL)
            c->c1_out[i] = NAN;
        if (c->c2_out != NULL)
            c->c2_out[i] = NAN;
        return PI_OK;
    }
    for (size_t j = 0; j < d && status == PI_OK; j++) {
        x0[j] = (double)c->x[i * d + j];
        if (!isfinite(x0[j]))
            status = pi_fail(PI_EINVAL, "coordinate %zu is %g (not finite)", j, x0[j]);
    }
    if (status == PI_OK && o->dequant_bin > 0.0) {
        for (size_t j = 0; j < d; j++)
            x0[j] += o->dequant_bin * pi_rng_uniform1(o->seed, PI_STREAM_DEQUANT, o->first_row + i, 0, j);
    }
    if (status == PI_OK) {
        double t0 = now_seconds(), logq = NAN;
        status = pi_order0_point(m, o, ws, o->first_row + i, x0, &logq, xT, st);
        st->seconds_order0 = now_seconds() - t0;
        if (status == PI_OK)
            nll = -logq;
    }
    if (status == PI_OK && c->c1_out != NULL && o->c1_mode != PI_C1_NONE) {
        double t0 = now_seconds();
        if (o->c1_mode == PI_C1_SWEEP)
            status = pi_wkb_sweep_point(m, o, ws, xT, &c1, st);
        else if (o->c1_mode == PI_C1_STOCHASTIC)
            status = pi_wkb_stochastic_point(m, o, ws, o->first_row + i, xT, &c1,
                                             &st->c1_stderr, st);
        else
            status = pi_wkb_reference_point(m, o, ws, x0, &c1, st);
        st->seconds_c1 = now_seconds() - t0;
        if (status != PI_OK)
            nll = NAN;
    }
    double c2 = NAN;
    if (status == PI_OK && c->c2_out != NULL) {
        double t0 = now_seconds();
        if (o->c1_mode == PI_C1_STOCHASTIC)
            status = pi_wkb2s_point(m, o, ws->wkb2s, o->first_row + i, x0, &c2, &st->c2_stderr,
                                    st);
        else
            status = pi_wkb2_point(m, o, ws->wkb2, x0, &c2, st);
        st->seconds_c2 = now_seconds() - t0;
        if (status != PI_OK)
            nll = c1 = NAN;
    }
    st->status = status;
    c->nll_out[i] = nll;
    if (c->c1_out != NULL)
        c->c1_out[i] = c1;
    if (c->c2_out != NULL)
        c->c2_out[i] = c2;
    report_progress(c);
    return status;
}

static pi_status compute_points(const char *func, const pi_model_t *model,
                                const pi_lik_options *o, size_t n, const float *x,
                                double *nll_out, double *c1_out, double *c2_out,
                                pi_nll_point_stats *stats_out);

pi_status pi_likelihood_compute(const pi_model_t *model, const pi_lik_options *o, size_t n,
                                const float *x, double *nll_out, double *c1_out,
                                pi_nll_point_stats *stats_out)
{
    return compute_points("pi_likelihood_compute", model, o, n, x, nll_out, c1_out, NULL,
                          stats_out);
}

pi_status pi_likelihood_compute2(const pi_model_t *model, const pi_lik_options *o, size_t n,
                                 const float *x, double *nll_out, double *c1_out,
                                 double *c2_out, pi_nll_point_stats *stats_out)
{
    return compute_points(__func__, model, o, n, x, nll_out, c1_out, c2_out, stats_out);
}

/* Both entry points; messages name the one called. */
static pi_status compute_points(const char *func, const pi_model_t *model,
                                const pi_lik_options *o, size_t n, const float *x,
                                double *nll_out, double *c1_out, double *c2_out,
                                pi_nll_point_stats *stats_out)
{
    const void *need[4] = {model, o, x, nll_out};
    const char *names[4] = {"model", "o", "x", "nll_out"};
    for (int k = 0; k < 4; k++)
        if (need[k] == NULL)
            return pi_fail(PI_EINVAL, "%s: %s must not be NULL", func, names[k]);
    if (n == 0 || n > PI_MAX_ELEMENTS)
        return pi_fail(PI_EINVAL, "%s: n must be in [1, 2^40], got %zu", func, n);
    size_t d = model->dim, total;
    if (!pi_size_mul(n, d, &total))
        return pi_fail(PI_EINVAL, "%s: n × dim must be at most 2^40, got %zu × %zu", func, n, d);
    pi_status st = pi_lik_options_check(o, func);
    if (st != PI_OK)
        return st;
    if ((uint64_t)(n - 1) > UINT64_MAX - o->first_row)
        return pi_fail(PI_EINVAL, "%s: first_row + n - 1 must be at most 2^64 - 1, got first_row = %llu "
                       "with n = %zu", func, (unsigned long long)o->first_row, n);
    if (c1_out != NULL && o->c1_mode == PI_C1_SWEEP && d > PI_SWEEP_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: the c1 sweep integrates a dim × dim matrix and "
                       "supports dim <= %d, got %zu", func, PI_SWEEP_MAX_DIM, d);
    if (c1_out != NULL && o->c1_mode == PI_C1_REFERENCE && d > PI_REFERENCE_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: the c1 reference algorithm supports dim <= %d, "
                       "got %zu", func, PI_REFERENCE_MAX_DIM, d);
    if (c1_out != NULL && o->c1_mode == PI_C1_STOCHASTIC &&
        model->type->directional_d == NULL && d > PI_SWEEP_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: the stochastic c1 sweep needs directional "
                       "products in dimension %zu (> %d), and the %s model has none",
                       func, d, PI_SWEEP_MAX_DIM, model->type->name);
    if (c2_out != NULL && c1_out == NULL)
        return pi_fail(PI_EINVAL, "%s: c2 needs c1 (c1_out is NULL)", func);
    /* the stochastic c2 runs the stochastic c1 sweep inside: the check above covers it */
    if (c2_out != NULL && o->c1_mode != PI_C1_STOCHASTIC && d > PI_C2_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: c2 runs 2 dim + 1 nested sweeps per step and "
                       "supports dim <= %d, got %zu", func, PI_C2_MAX_DIM, d);
    pi_lik_options opt = *o;
    if (c1_out == NULL)
        opt.c1_mode = PI_C1_NONE;
    int nthreads = opt.threads;
    if ((size_t)nthreads > n)
        nthreads = (int)n;
    /* A host callback is never called from two threads within one library call (pi_model_fn's
     * promise): callback models run on one worker, as in the sampler and pi_model_eval. */
    if (model->type->serial)
        nthreads = 1;
    pi_nll_point_stats *stats = stats_out;
    if (stats == NULL && (stats = pi_alloc_array(n, sizeof *stats)) == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu point records", func, n);
    pi_lik_ws **ws = pi_calloc((size_t)nthreads, sizeof *ws);
    if (ws == NULL)
        st = pi_fail(PI_ENOMEM, "%s: out of memory", func);
    for (int w = 0; w < nthreads && st == PI_OK; w++)
    {
        st = pi_lik_ws_create(d, &opt, &ws[w]);
        if (st == PI_OK && opt.c1_mode == PI_C1_STOCHASTIC)
            st = pi_wkb_stochastic_ws_create(model, opt.c1_probes, &ws[w]->stoch);
        if (st == PI_OK && c2_out != NULL && opt.c1_mode == PI_C1_STOCHASTIC)
            st = pi_wkb2s_ws_create(model, &ws[w]->wkb2s);
        else if (st == PI_OK && c2_out != NULL)
            st = pi_wkb2_ws_create(d, &ws[w]->wkb2);
    }
    char first_message[512] = "";
    if (st == PI_OK) {
        driver_ctx c = {.model = model, .o = &opt, .x = x, .nll_out = nll_out, .c1_out = c1_out,
                        .c2_out = c2_out, .stats = stats, .ws = ws, .n = n, .done = 0};
        if (pthread_mutex_init(&c.progress_lock, NULL) != 0) {
            st = pi_fail(PI_ENOMEM, "%s: cannot create the progress lock", func);
        } else {
            /* Failed points are reported below from stats; keep the first one's message. */
            if (pi_pool_run(opt.pool, nthreads, n, point_task, &c) != PI_OK)
                snprintf(first_message, sizeof first_message, "%s", pi_last_error());
            pthread_mutex_destroy(&c.progress_lock);
            if (c.stopped)
                st = pi_fail(PI_ECANCELED, "%s: stopped by the progress callback after %zu of "
                             "%zu points (points not started are NaN with status PI_ECANCELED)",
                             func, c.done, n);
        }
    }
    if (ws != NULL)
        for (int w = 0; w < nthreads; w++)
            pi_lik_ws_destroy(ws[w]);
    pi_free(ws);
    if (st == PI_OK) {
        for (size_t i = 0; i < n; i++) {
            if (stats[i].status == PI_OK)
                continue;
            st = stats[i].status;
            if (st == PI_ECANCELED)
                pi_fail(st, "%s: canceled at point %zu (points not started are NaN with "
                            "status PI_ECANCELED; finished points keep their values)",
                        func, i);
            else
                pi_fail(st, "%s: point %zu failed: %s", func, i,
                        first_message[0] != '\0' ? first_message : pi_status_string(st));
            break;
        }
    }
    if (stats != stats_out)
        pi_free(stats);
    return st;
}

pi_status pi_bits_per_dim(double nll, size_t dim, double scale, double *out)
{
    PI_CHECK_NULL(out);
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "pi_bits_per_dim: dim must be in [1, 2^20], got %zu", dim);
    if (!(scale > 0.0) || !isfinite(scale))
        return pi_fail(PI_EINVAL, "pi_bits_per_dim: scale must be finite and > 0, got %g", scale);
    if (!isfinite(nll))
        return pi_fail(PI_EINVAL, "pi_bits_per_dim: nll must be finite, got %g", nll);
    *out = (nll + (double)dim * log(scale)) / ((double)dim * log(2.0));
    return PI_OK;
}
