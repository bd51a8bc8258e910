/* Likelihood driver: options, per-worker workspace, threads across points, dequantisation,
 * per-point status; and the public pi_sampler_nll* wrappers (MATH.md §4, docs/likelihood.md). */
#include "likelihood_impl.h"

#include "core/philox.h"
#include "core/threads.h"

#include <string.h>
#include <time.h>

/* Largest dimensions of the c1 algorithms: the sweep integrates a d × d matrix and reads the
 * d³ Hessians; the reference runs 2d + 1 nested solves per outer evaluation. */
#define PI_SWEEP_MAX_DIM 128
#define PI_REFERENCE_MAX_DIM 64
#define PI_NLL_MAX_PROBES 4096

void pi_lik_options_default(pi_lik_options *o)
{
    o->div_mode = PI_DIV_EXACT;
    o->probes = 1;
    o->seed = 0;
    o->rtol = 1e-6;
    o->atol = 1e-8;
    o->max_steps = 100000;
    o->c1_mode = PI_C1_SWEEP;
    o->dequant_bin = 0.0;
    o->threads = 1;
    o->cancel = NULL;
    o->ref_inner_rtol = 1e-10;
    o->ref_inner_atol = 1e-10;
    o->ref_fd_step = 1e-2;
}

pi_status pi_lik_options_check(const pi_lik_options *o, const char *func)
{
    if (o->div_mode != PI_DIV_EXACT && o->div_mode != PI_DIV_HUTCHINSON_RADEMACHER &&
        o->div_mode != PI_DIV_HUTCHINSON_GAUSSIAN)
        return pi_fail(PI_EINVAL, "%s: divergence mode must be PI_DIV_EXACT (0), "
                       "PI_DIV_HUTCHINSON_RADEMACHER (1) or PI_DIV_HUTCHINSON_GAUSSIAN (2), got %d",
                       func, (int)o->div_mode);
    if (o->probes < 1 || o->probes > PI_NLL_MAX_PROBES)
        return pi_fail(PI_EINVAL, "%s: probes must be in [1, %d], got %zu", func,
                       PI_NLL_MAX_PROBES, o->probes);
    if (!(o->rtol > 0.0) || !(o->rtol < 1.0) || !(o->atol > 0.0) || !isfinite(o->atol))
        return pi_fail(PI_EINVAL, "%s: tolerances must satisfy 0 < rtol < 1 and 0 < atol < inf, "
                       "got rtol %g, atol %g", func, o->rtol, o->atol);
    if (o->max_steps < 1)
        return pi_fail(PI_EINVAL, "%s: max_steps must be >= 1, got %zu", func, o->max_steps);
    if (o->c1_mode != PI_C1_NONE && o->c1_mode != PI_C1_SWEEP && o->c1_mode != PI_C1_REFERENCE)
        return pi_fail(PI_EINVAL, "%s: c1 mode must be 0, 1 or 2, got %d", func, (int)o->c1_mode);
    if (!(o->dequant_bin >= 0.0) || !isfinite(o->dequant_bin))
        return pi_fail(PI_EINVAL, "%s: dequantisation bin width must be finite and >= 0, got %g",
                       func, o->dequant_bin);
    if (o->threads < 1 || o->threads > 256)
        return pi_fail(PI_EINVAL, "%s: threads must be in [1, 256], got %d", func, o->threads);
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
    pi_free(ws->ode);
    pi_free(ws->state);
    pi_free(ws->vec);
    pi_free(ws->mat);
    pi_free(ws->hess);
    pi_free(ws->probe);
    pi_free(ws->inner_state);
    pi_free(ws->inner_ode);
    pi_free(ws->inner_vec);
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
    int ok = 1;
    ok &= (ws->ode = pi_alloc_array(pi_ode_workspace_doubles(n), sizeof(double))) != NULL;
    ok &= (ws->state = pi_alloc_array(n, sizeof(double))) != NULL;
    ok &= (ws->vec = pi_alloc_array(8 * d, sizeof(double))) != NULL;
    ok &= (ws->mat = pi_alloc_array(3 * d * d, sizeof(double))) != NULL;
    if (o->c1_mode == PI_C1_SWEEP)
        ok &= (ws->hess = pi_alloc_array(d * d * d, sizeof(double))) != NULL;
    if (o->div_mode != PI_DIV_EXACT)
        ok &= (ws->probe = pi_alloc_array(o->probes * d, sizeof(double))) != NULL;
    if (o->c1_mode == PI_C1_REFERENCE) {
        size_t m = (2 * d + 1) * (d + 1);
        ok &= (ws->inner_state = pi_alloc_array(m, sizeof(double))) != NULL;
        ok &= (ws->inner_ode = pi_alloc_array(pi_ode_workspace_doubles(m), sizeof(double))) != NULL;
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
    double *nll_out, *c1_out;
    pi_nll_point_stats *stats; /* n entries, always present (internal if the caller's is NULL) */
    pi_lik_ws **ws;            /* one per worker */
} driver_ctx;

/* One point. Always returns PI_OK: the point's status goes to stats[i].status so that every
 * point is computed whatever happens to the others. */
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
        return PI_OK;
    }
    for (size_t j = 0; j < d; j++) {
        x0[j] = (double)c->x[i * d + j];
        if (!isfinite(x0[j]))
            status = PI_EINVAL;
    }
    if (status == PI_OK && o->dequant_bin > 0.0) {
        for (size_t j = 0; j < d; j++)
            x0[j] += o->dequant_bin * pi_rng_uniform1(o->seed, PI_STREAM_DEQUANT, i, 0, j);
    }
    if (status == PI_OK) {
        double t0 = now_seconds(), logq = NAN;
        status = pi_order0_point(m, o, ws, i, x0, &logq, xT, st);
        st->seconds_order0 = now_seconds() - t0;
        if (status == PI_OK)
            nll = -logq;
    }
    if (status == PI_OK && c->c1_out != NULL && o->c1_mode != PI_C1_NONE) {
        double t0 = now_seconds();
        if (o->c1_mode == PI_C1_SWEEP)
            status = pi_wkb_sweep_point(m, o, ws, xT, &c1, st);
        else
            status = pi_wkb_reference_point(m, o, ws, x0, &c1, st);
        st->seconds_c1 = now_seconds() - t0;
        if (status != PI_OK)
            nll = NAN;
    }
    st->status = status;
    c->nll_out[i] = nll;
    if (c->c1_out != NULL)
        c->c1_out[i] = c1;
    return PI_OK;
}

pi_status pi_likelihood_compute(const pi_model_t *model, const pi_lik_options *o, size_t n,
                                const float *x, double *nll_out, double *c1_out,
                                pi_nll_point_stats *stats_out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(o);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_SIZE(n);
    size_t d = model->dim, total;
    if (!pi_size_mul(n, d, &total))
        return pi_fail(PI_EINVAL, "%s: n × dim must be at most 2^40, got %zu × %zu", __func__, n, d);
    pi_status st = pi_lik_options_check(o, __func__);
    if (st != PI_OK)
        return st;
    if (c1_out != NULL && o->c1_mode == PI_C1_SWEEP && d > PI_SWEEP_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: the c1 sweep integrates a dim × dim matrix and "
                       "supports dim <= %d, got %zu", __func__, PI_SWEEP_MAX_DIM, d);
    if (c1_out != NULL && o->c1_mode == PI_C1_REFERENCE && d > PI_REFERENCE_MAX_DIM)
        return pi_fail(PI_EUNSUPPORTED, "%s: the c1 reference algorithm supports dim <= %d, "
                       "got %zu", __func__, PI_REFERENCE_MAX_DIM, d);
    pi_lik_options opt = *o;
    if (c1_out == NULL)
        opt.c1_mode = PI_C1_NONE;
    int nthreads = opt.threads;
    if ((size_t)nthreads > n)
        nthreads = (int)n;
    pi_nll_point_stats *stats = stats_out;
    if (stats == NULL && (stats = pi_alloc_array(n, sizeof *stats)) == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu point records", __func__, n);
    pi_lik_ws **ws = pi_calloc((size_t)nthreads, sizeof *ws);
    if (ws == NULL)
        st = pi_fail(PI_ENOMEM, "%s: out of memory", __func__);
    for (int w = 0; w < nthreads && st == PI_OK; w++)
        st = pi_lik_ws_create(d, &opt, &ws[w]);
    if (st == PI_OK) {
        driver_ctx c = {model, &opt, x, nll_out, c1_out, stats, ws};
        st = pi_parallel_for(nthreads, n, point_task, &c);
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
            if (st == PI_EINVAL)
                pi_fail(st, "%s: point %zu has a non-finite coordinate", __func__, i);
            else if (st == PI_ECANCELED)
                pi_fail(st, "%s: canceled at point %zu (points not started are NaN with "
                            "status PI_ECANCELED; finished points keep their values)",
                        __func__, i);
            else
                pi_fail(st, "%s: point %zu failed: %s", __func__, i, pi_status_string(st));
            break;
        }
    }
    if (stats != stats_out)
        pi_free(stats);
    return st;
}

double pi_bits_per_dim(double nll, size_t dim, double scale)
{
    if (dim == 0 || !(scale > 0.0) || !isfinite(scale))
        return NAN;
    return (nll + (double)dim * log(scale)) / ((double)dim * log(2.0));
}

/* ---- public API: the likelihood of the distribution a sampler generates ------------------ */

#include "sample/sampler_impl.h"

pi_status pi_sampler_set_divergence(pi_sampler_t *sampler, pi_divergence mode, size_t probes)
{
    PI_CHECK_NULL(sampler);
    if (mode != PI_DIV_EXACT && mode != PI_DIV_HUTCHINSON_RADEMACHER &&
        mode != PI_DIV_HUTCHINSON_GAUSSIAN)
        return pi_fail(PI_EINVAL, "pi_sampler_set_divergence: mode must be PI_DIV_EXACT (0), "
                       "PI_DIV_HUTCHINSON_RADEMACHER (1) or PI_DIV_HUTCHINSON_GAUSSIAN (2), got %d",
                       (int)mode);
    if (mode != PI_DIV_EXACT && (probes < 1 || probes > PI_NLL_MAX_PROBES))
        return pi_fail(PI_EINVAL, "pi_sampler_set_divergence: probes must be in [1, %d], got %zu",
                       PI_NLL_MAX_PROBES, probes);
    sampler->nll.div_mode = mode;
    sampler->nll.probes = mode == PI_DIV_EXACT ? 1 : probes;
    return PI_OK;
}

pi_status pi_sampler_set_nll_tolerances(pi_sampler_t *sampler, double rtol, double atol)
{
    PI_CHECK_NULL(sampler);
    if (!(rtol > 0.0) || !(rtol < 1.0))
        return pi_fail(PI_EINVAL, "pi_sampler_set_nll_tolerances: rtol must be in (0, 1), got %g",
                       rtol);
    if (!(atol > 0.0) || !isfinite(atol))
        return pi_fail(PI_EINVAL, "pi_sampler_set_nll_tolerances: atol must be finite and > 0, "
                       "got %g", atol);
    sampler->nll.rtol = rtol;
    sampler->nll.atol = atol;
    return PI_OK;
}

pi_status pi_sampler_set_wkb_algorithm(pi_sampler_t *sampler, pi_wkb_algorithm algorithm)
{
    PI_CHECK_NULL(sampler);
    if (algorithm != PI_WKB_SWEEP && algorithm != PI_WKB_REFERENCE)
        return pi_fail(PI_EINVAL, "pi_sampler_set_wkb_algorithm: algorithm must be PI_WKB_SWEEP "
                       "(0) or PI_WKB_REFERENCE (1), got %d", (int)algorithm);
    sampler->nll.wkb = algorithm;
    return PI_OK;
}

pi_status pi_sampler_set_dequantization(pi_sampler_t *sampler, double bin_width)
{
    PI_CHECK_NULL(sampler);
    if (!(bin_width >= 0.0) || !isfinite(bin_width))
        return pi_fail(PI_EINVAL, "pi_sampler_set_dequantization: bin_width must be finite and "
                       ">= 0 (0 disables), got %g", bin_width);
    sampler->nll.dequant_bin = bin_width;
    return PI_OK;
}

/* The engine options of a sampler. */
static void options_of_sampler(const pi_sampler_t *s, pi_lik_options *o)
{
    pi_lik_options_default(o);
    o->div_mode = s->nll.div_mode;
    o->probes = s->nll.probes;
    o->rtol = s->nll.rtol;
    o->atol = s->nll.atol;
    o->c1_mode = s->nll.wkb == PI_WKB_REFERENCE ? PI_C1_REFERENCE : PI_C1_SWEEP;
    o->dequant_bin = s->nll.dequant_bin;
    o->seed = s->seed;
    o->threads = s->threads;
}

/* Marks point records the engine has not reached (failures before the points are processed). */
#define NOT_PROCESSED 1

/* The engine with per-point records; *processed says whether the points were reached (then
 * the outputs are defined, NaN for failed points). */
static pi_status run_engine(pi_sampler_t *sampler, size_t n, const float *x, double *nll_out,
                            double *c1_out, pi_nll_point_stats *stats, int *processed)
{
    pi_lik_options o;
    options_of_sampler(sampler, &o);
    for (size_t i = 0; i < n; i++)
        stats[i].status = NOT_PROCESSED;
    /* pi_sampler_cancel() reaches likelihood runs too (between points). */
    o.cancel = &sampler->cancel;
    atomic_store(&sampler->cancel, 0);
    atomic_store(&sampler->running, 1);
    pi_status st = pi_likelihood_compute(sampler->model, &o, n, x, nll_out, c1_out, stats);
    atomic_store(&sampler->running, 0);
    atomic_store(&sampler->cancel, 0);
    *processed = stats[0].status != NOT_PROCESSED;
    return st;
}

pi_status pi_sampler_nll_ex(pi_sampler_t *sampler, size_t n, const float *x, double *nll_out,
                            double *c1_out, size_t *nfe_out, int *status_out)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_SIZE(n);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (stats == NULL)
        return pi_fail(PI_ENOMEM, "pi_sampler_nll_ex: out of memory for %zu point records", n);
    int processed = 0;
    pi_status st = run_engine(sampler, n, x, nll_out, c1_out, stats, &processed);
    if (processed) {
        for (size_t i = 0; i < n; i++) {
            if (nfe_out != NULL)
                nfe_out[i] = stats[i].nfe_order0 + stats[i].nfe_c1;
            if (status_out != NULL)
                status_out[i] = stats[i].status;
        }
    }
    pi_free(stats);
    return st;
}

pi_status pi_sampler_nll(pi_sampler_t *sampler, size_t n, const float *x, double *nll_out,
                         double *c1_out)
{
    return pi_sampler_nll_ex(sampler, n, x, nll_out, c1_out, NULL, NULL);
}

pi_status pi_sampler_nll_hbar(pi_sampler_t *sampler, size_t n, const float *x, double *nll_out)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_SIZE(n);
    double hbar = sampler->hbar;
    double *buf = pi_alloc_array(n, 2 * sizeof *buf);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (buf == NULL || stats == NULL) {
        pi_free(buf);
        pi_free(stats);
        return pi_fail(PI_ENOMEM, "pi_sampler_nll_hbar: out of memory for %zu points", n);
    }
    int processed = 0;
    pi_status st = run_engine(sampler, n, x, buf, hbar == 0.0 ? NULL : buf + n, stats, &processed);
    /* −log q^ħ ≈ −log q⁰ − ħ c1 (MATH.md §4); failed points stay NaN. */
    if (processed)
        for (size_t i = 0; i < n; i++)
            nll_out[i] = hbar == 0.0 ? buf[i] : buf[i] - hbar * buf[n + i];
    pi_free(buf);
    pi_free(stats);
    return st;
}
