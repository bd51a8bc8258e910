/* The likelihood handle (pi_likelihood_t): options with their getters, cancellation, the
 * progress callback, and the public NLL entry points over the engine of nll.c (MATH.md §4,
 * docs/likelihood.md). The likelihood depends on the model only: ħ enters as
 * −log q^ħ ≈ NLL₀ − ħ c1, not through a sampler's integrator or schedule. */
#include "likelihood_impl.h"

#include "core/options.h"

#include <string.h>

struct pi_likelihood {
    const pi_model_t *model; /* borrowed */
    pi_lik_options o;        /* engine options (the WKB algorithm is o.c1_mode) */
    pi_likelihood_fn callback;
    void *callback_data;
    atomic_int cancel;  /* set by pi_likelihood_cancel() while running */
    atomic_int running; /* a computation is in progress */
    pi_pool *pool;      /* o.threads workers, made at the first computation with threads > 1,
                         * remade after a thread-count change, freed by destroy */
};

pi_status pi_likelihood_create(const pi_model_t *model, pi_likelihood_t **out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    if (model->type == NULL || model->dim == 0)
        return pi_fail(PI_EINVAL, "pi_likelihood_create: model is not initialised");
    pi_likelihood_t *lik = pi_calloc(1, sizeof *lik);
    if (lik == NULL)
        return pi_fail(PI_ENOMEM, "pi_likelihood_create: out of memory");
    lik->model = model;
    pi_lik_options_default(&lik->o);
    atomic_init(&lik->cancel, 0);
    atomic_init(&lik->running, 0);
    *out = lik;
    return PI_OK;
}

void pi_likelihood_destroy(pi_likelihood_t *lik)
{
    if (lik != NULL)
        pi_pool_destroy(lik->pool);
    pi_free(lik);
}

pi_status pi_likelihood_set_divergence(pi_likelihood_t *lik, pi_divergence mode, size_t probes)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_OPTION(pi_option_check_int, PI_OPTION_LIKELIHOOD_DIVERGENCE, (int)mode);
    if (mode != PI_DIVERGENCE_EXACT) /* exact: probes is ignored */
        PI_CHECK_OPTION(pi_option_check_size, PI_OPTION_LIKELIHOOD_PROBES, probes);
    lik->o.div_mode = mode;
    lik->o.probes = mode == PI_DIVERGENCE_EXACT ? 1 : probes;
    return PI_OK;
}

pi_status pi_likelihood_get_divergence(const pi_likelihood_t *lik, pi_divergence *mode,
                                       size_t *probes)
{
    PI_CHECK_NULL(lik);
    if (mode != NULL)
        *mode = lik->o.div_mode;
    if (probes != NULL)
        *probes = lik->o.probes;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER2(pi_likelihood_set_tolerances, pi_likelihood_t, lik,
                         double, rtol, pi_option_check, PI_OPTION_LIKELIHOOD_RTOL, lik->o.rtol,
                         double, atol, pi_option_check, PI_OPTION_LIKELIHOOD_ATOL, lik->o.atol)

pi_status pi_likelihood_get_tolerances(const pi_likelihood_t *lik, double *rtol, double *atol)
{
    PI_CHECK_NULL(lik);
    if (rtol != NULL)
        *rtol = lik->o.rtol;
    if (atol != NULL)
        *atol = lik->o.atol;
    return PI_OK;
}

pi_status pi_likelihood_set_wkb_algorithm(pi_likelihood_t *lik, pi_wkb_algorithm algorithm)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_OPTION(pi_option_check_int, PI_OPTION_LIKELIHOOD_WKB_ALGORITHM, (int)algorithm);
    lik->o.c1_mode = algorithm == PI_WKB_ALGORITHM_REFERENCE    ? PI_C1_REFERENCE
                     : algorithm == PI_WKB_ALGORITHM_STOCHASTIC ? PI_C1_STOCHASTIC
                                                                : PI_C1_SWEEP;
    return PI_OK;
}

PI_DEFINE_GETTER(pi_likelihood_get_wkb_algorithm, pi_likelihood_t, lik, pi_wkb_algorithm,
                 lik->o.c1_mode == PI_C1_REFERENCE    ? PI_WKB_ALGORITHM_REFERENCE
                 : lik->o.c1_mode == PI_C1_STOCHASTIC ? PI_WKB_ALGORITHM_STOCHASTIC
                                                      : PI_WKB_ALGORITHM_SWEEP)

PI_DEFINE_OPTION_SETTER(pi_likelihood_set_wkb_probes, pi_likelihood_t, lik, size_t, probes,
                        pi_option_check_size, PI_OPTION_LIKELIHOOD_WKB_PROBES, lik->o.c1_probes)

PI_DEFINE_GETTER(pi_likelihood_get_wkb_probes, pi_likelihood_t, lik, size_t, lik->o.c1_probes)

PI_DEFINE_OPTION_SETTER(pi_likelihood_set_dequantization, pi_likelihood_t, lik, double, bin_width,
                        pi_option_check, PI_OPTION_LIKELIHOOD_DEQUANTIZATION, lik->o.dequant_bin)

PI_DEFINE_GETTER(pi_likelihood_get_dequantization, pi_likelihood_t, lik, double, lik->o.dequant_bin)

PI_DEFINE_OPTION_SETTER(pi_likelihood_set_seed, pi_likelihood_t, lik, uint64_t, seed,
                        pi_option_check_u64, PI_OPTION_LIKELIHOOD_SEED, lik->o.seed)

PI_DEFINE_GETTER(pi_likelihood_get_seed, pi_likelihood_t, lik, uint64_t, lik->o.seed)

/* any value; a computation checks first_row + n */
PI_DEFINE_OPTION_SETTER(pi_likelihood_set_first_row, pi_likelihood_t, lik, uint64_t, first_row,
                        pi_option_check_u64, PI_OPTION_LIKELIHOOD_FIRST_ROW, lik->o.first_row)

PI_DEFINE_GETTER(pi_likelihood_get_first_row, pi_likelihood_t, lik, uint64_t, lik->o.first_row)

PI_DEFINE_OPTION_SETTER(pi_likelihood_set_threads, pi_likelihood_t, lik, int, threads,
                        pi_option_check_int, PI_OPTION_LIKELIHOOD_THREADS, lik->o.threads)

PI_DEFINE_GETTER(pi_likelihood_get_threads, pi_likelihood_t, lik, int, lik->o.threads)

pi_status pi_likelihood_set_callback(pi_likelihood_t *lik, pi_likelihood_fn fn, void *user_data)
{
    PI_CHECK_NULL(lik);
    lik->callback = fn;
    lik->callback_data = fn != NULL ? user_data : NULL;
    return PI_OK;
}

pi_status pi_likelihood_get_callback(const pi_likelihood_t *lik, pi_likelihood_fn *fn,
                                     void **user_data)
{
    PI_CHECK_NULL(lik);
    if (fn != NULL)
        *fn = lik->callback;
    if (user_data != NULL)
        *user_data = lik->callback_data;
    return PI_OK;
}

PI_DEFINE_GETTER(pi_likelihood_get_model, pi_likelihood_t, lik, const pi_model_t *, lik->model)

pi_status pi_likelihood_cancel(pi_likelihood_t *lik)
{
    PI_CHECK_NULL(lik);
    /* Only a running computation is canceled: a cancel while idle must not stop the next. */
    if (atomic_load(&lik->running))
        atomic_store(&lik->cancel, 1);
    return PI_OK;
}

/* The handle's pool for its thread count: made at the first computation with threads > 1,
 * remade when the count changed; NULL runs on the caller. */
static pi_status likelihood_pool(pi_likelihood_t *lik, pi_pool **pool)
{
    return pi_pool_fit(&lik->pool, lik->o.threads, pool);
}

/* Marks point records the engine has not reached (failures before the points are processed). */
#define NOT_PROCESSED 1

/* The engine with per-point records; *processed says whether the points were reached (then
 * the outputs are defined, NaN for failed points). */
static pi_status run_engine2(const char *func, pi_likelihood_t *lik, size_t n, const float *x,
                             double *nll_out, double *c1_out, double *c2_out,
                             pi_nll_point_stats *stats, int *processed);

static pi_status run_engine(const char *func, pi_likelihood_t *lik, size_t n, const float *x, double *nll_out,
                            double *c1_out, pi_nll_point_stats *stats, int *processed)
{
    return run_engine2(func, lik, n, x, nll_out, c1_out, NULL, stats, processed);
}

static pi_status run_engine2(const char *func, pi_likelihood_t *lik, size_t n, const float *x,
                             double *nll_out, double *c1_out, double *c2_out,
                             pi_nll_point_stats *stats, int *processed)
{
    pi_lik_options o = lik->o;
    for (size_t i = 0; i < n; i++)
        stats[i].status = NOT_PROCESSED;
    *processed = 0;
    /* The pool and the engine's state belong to one computation at a time. */
    pi_status st = pi_enter_busy(&lik->running, func, "likelihood");
    if (st != PI_OK)
        return st;
    st = likelihood_pool(lik, &o.pool);
    if (st == PI_OK) {
        o.cancel = &lik->cancel;
        o.progress = lik->callback;
        o.progress_data = lik->callback_data;
        atomic_store(&lik->cancel, 0);
        st = pi_likelihood_compute2(lik->model, &o, n, x, nll_out, c1_out, c2_out, stats);
        *processed = stats[0].status != NOT_PROCESSED;
    }
    atomic_store(&lik->running, 0);
    atomic_store(&lik->cancel, 0);
    return st;
}

pi_status pi_likelihood_nll_ex(pi_likelihood_t *lik, size_t n, const float *x, double *nll_out,
                               double *c1_out, size_t *nfe_out, pi_status *status_out)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_SIZE(n);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (stats == NULL)
        return pi_fail(PI_ENOMEM, "pi_likelihood_nll_ex: out of memory for %zu point records", n);
    int processed = 0;
    pi_status st = run_engine(__func__, lik, n, x, nll_out, c1_out, stats, &processed);
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

pi_status pi_likelihood_nll_wkb(pi_likelihood_t *lik, size_t n, const float *x,
                                double *nll_out, double *c1_out, double *c1_stderr_out)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_NULL(c1_out);
    PI_CHECK_NULL(c1_stderr_out);
    PI_CHECK_SIZE(n);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (stats == NULL)
        return pi_fail(PI_ENOMEM, "pi_likelihood_nll_wkb: out of memory for %zu point records", n);
    int processed = 0;
    pi_status st = run_engine(__func__, lik, n, x, nll_out, c1_out, stats, &processed);
    if (processed)
        for (size_t i = 0; i < n; i++)
            c1_stderr_out[i] = stats[i].status == PI_OK ? stats[i].c1_stderr : NAN;
    pi_free(stats);
    return st;
}

pi_status pi_likelihood_nll(pi_likelihood_t *lik, size_t n, const float *x, double *nll_out,
                            double *c1_out)
{
    return pi_likelihood_nll_ex(lik, n, x, nll_out, c1_out, NULL, NULL);
}

pi_status pi_likelihood_action_bound(pi_likelihood_t *lik, size_t samples, size_t n,
                                     const float *data, double *bound, double *stderr_out)
{
    PI_CHECK_NULL(lik);
    pi_pool *pool;
    pi_status st = pi_enter_busy(&lik->running, __func__, "likelihood");
    if (st != PI_OK)
        return st;
    st = likelihood_pool(lik, &pool);
    if (st == PI_OK)
        st = pi_lik_action_bound(lik->model, n, data, samples, lik->o.seed, lik->o.threads, pool,
                                 bound, stderr_out);
    atomic_store(&lik->running, 0);
    atomic_store(&lik->cancel, 0);
    return st;
}

pi_status pi_likelihood_nll_hbar(pi_likelihood_t *lik, double hbar, size_t n, const float *x,
                                 double *nll_out)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_SIZE(n);
    pi_status st = pi_option_check(PI_OPTION_SAMPLER_HBAR, hbar, __func__);
    if (st != PI_OK)
        return st;
    double *buf = pi_alloc_array(n, 2 * sizeof *buf);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (buf == NULL || stats == NULL) {
        pi_free(buf);
        pi_free(stats);
        return pi_fail(PI_ENOMEM, "pi_likelihood_nll_hbar: out of memory for %zu points", n);
    }
    int processed = 0;
    st = run_engine(__func__, lik, n, x, buf, hbar == 0.0 ? NULL : buf + n, stats, &processed);
    /* −log q^ħ ≈ −log q⁰ − ħ c1 (MATH.md §4); failed points stay NaN. */
    if (processed)
        for (size_t i = 0; i < n; i++)
            nll_out[i] = hbar == 0.0 ? buf[i] : buf[i] - hbar * buf[n + i];
    pi_free(buf);
    pi_free(stats);
    return st;
}

pi_status pi_likelihood_nll_wkb2(pi_likelihood_t *lik, size_t n, const float *x,
                                 double *nll_out, double *c1_out, double *c2_out)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_NULL(c1_out);
    PI_CHECK_NULL(c2_out);
    PI_CHECK_SIZE(n);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (stats == NULL)
        return pi_fail(PI_ENOMEM, "pi_likelihood_nll_wkb2: out of memory for %zu point records",
                       n);
    int processed = 0;
    pi_status st = run_engine2(__func__, lik, n, x, nll_out, c1_out, c2_out, stats, &processed);
    pi_free(stats);
    return st;
}

pi_status pi_likelihood_nll_wkb2_ex(pi_likelihood_t *lik, size_t n, const float *x,
                                    double *nll_out, double *c1_out, double *c1_stderr_out,
                                    double *c2_out, double *c2_stderr_out)
{
    PI_CHECK_NULL(lik);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(nll_out);
    PI_CHECK_NULL(c1_out);
    PI_CHECK_NULL(c1_stderr_out);
    PI_CHECK_NULL(c2_out);
    PI_CHECK_NULL(c2_stderr_out);
    PI_CHECK_SIZE(n);
    pi_nll_point_stats *stats = pi_alloc_array(n, sizeof *stats);
    if (stats == NULL)
        return pi_fail(PI_ENOMEM, "pi_likelihood_nll_wkb2_ex: out of memory for %zu point "
                       "records", n);
    int processed = 0;
    pi_status st = run_engine2(__func__, lik, n, x, nll_out, c1_out, c2_out, stats, &processed);
    if (processed)
        for (size_t i = 0; i < n; i++) {
            int ok = stats[i].status == PI_OK;
            c1_stderr_out[i] = ok ? stats[i].c1_stderr : NAN;
            c2_stderr_out[i] = ok ? stats[i].c2_stderr : NAN;
        }
    pi_free(stats);
    return st;
}
