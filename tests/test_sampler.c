/* The sampler API: defaults, every setter's bad input (with messages), steps = 1, σ → 0 at
 * the end, callbacks (cancel, model failure), trajectories, denoised output, SDEdit, the
 * corrector and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/philox.h"
#include "model/model_impl.h"
#include "pathint.h"
#include "sample/sampler_impl.h"
#include "sde/sde_impl.h"
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double W[2] = {0.4, 0.6};
static const double MU[4] = {-1.0, 0.5, 1.0, -0.5};
static const double VAR[4] = {0.1, 0.2, 0.15, 0.1};

typedef struct fixture {
    pi_sde_t *sde;
    pi_model_t *model;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &f->sde) != PI_OK ||
        pi_model_create_gmm(f->sde, 2, 2, W, MU, VAR, &f->model) != PI_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pi_model_destroy(f->model);
    pi_sde_destroy(f->sde);
    free(f);
    return 0;
}

static pi_sampler_t *make(fixture *f)
{
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    return s;
}

static void expect_error(pi_status st, pi_status code, const char *needle)
{
    assert_int_equal(st, code);
    if (strstr(pi_last_error(), needle) == NULL) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", pi_last_error(), needle);
        fail();
    }
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static void test_defaults(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = make(f);
    size_t count = 0, nfe = 1, acc = 1, rej = 1;
    assert_int_equal(pi_sampler_get_times(s, 0, NULL, &count), PI_OK);
    assert_int_equal(count, 51);
    double times[51];
    assert_int_equal(pi_sampler_get_times(s, 51, times, &count), PI_OK);
    assert_true(times[0] == 1.0);
    assert_true(times[50] == 1e-3);
    assert_int_equal(pi_sampler_get_stats(s, &nfe, &acc, &rej), PI_OK);
    assert_int_equal(nfe + acc + rej, 0);
    float x[20];
    assert_int_equal(pi_sampler_run(s, 10, x), PI_OK);
    assert_true(all_finite(x, 20));
    assert_int_equal(pi_sampler_get_stats(s, &nfe, &acc, &rej), PI_OK);
    assert_int_equal(nfe, 50);
    assert_int_equal(acc, 50);
    assert_int_equal(rej, 0);
    pi_sampler_destroy(s);
    pi_sampler_destroy(NULL);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = make(f);
    pi_sampler_t *none = NULL;
    expect_error(pi_sampler_create(NULL, &none), PI_EINVAL, "model");
    expect_error(pi_sampler_create(f->model, NULL), PI_EINVAL, "out");
    expect_error(pi_sampler_set_hbar(s, -1.0), PI_EINVAL, "hbar must be in [0, 1000000], got -1");
    expect_error(pi_sampler_set_hbar(s, NAN), PI_EINVAL, "hbar");
    expect_error(pi_sampler_set_hbar(s, INFINITY), PI_EINVAL, "hbar");
    expect_error(pi_sampler_set_hbar(s, 2e6), PI_EINVAL, "hbar");
    expect_error(pi_sampler_set_hbar(NULL, 0.0), PI_EINVAL, "sampler");
    expect_error(pi_sampler_set_steps(s, 0), PI_EINVAL, "steps must be in [1,");
    expect_error(pi_sampler_set_method(s, (pi_method)99), PI_EINVAL, "method");
    expect_error(pi_sampler_set_schedule(s, (pi_schedule)0, 7.0), PI_EINVAL, "schedule");
    expect_error(pi_sampler_set_schedule(s, PI_SCHEDULE_KARRAS, -2.0), PI_EINVAL, "rho");
    expect_error(pi_sampler_set_schedule(s, PI_SCHEDULE_CUSTOM, 7.0), PI_EINVAL, "pi_sampler_set_times");
    expect_error(pi_sampler_set_threads(s, 0), PI_EINVAL, "threads must be in [1, 256]");
    expect_error(pi_sampler_set_threads(s, 257), PI_EINVAL, "threads");
    expect_error(pi_sampler_set_tolerances(s, 0.0, 1e-6), PI_EINVAL, "rtol");
    expect_error(pi_sampler_set_tolerances(s, 1e-6, -1.0), PI_EINVAL, "atol");
    expect_error(pi_sampler_set_corrector(s, 1, 0.0), PI_EINVAL, "snr");
    expect_error(pi_sampler_set_corrector(s, 1000, 0.1), PI_EINVAL, "steps");
    expect_error(pi_sampler_set_time_range(s, 2.0, 0.5), PI_EINVAL, "t_start must be in");
    expect_error(pi_sampler_set_time_range(s, 0.5, 0.6), PI_EINVAL, "t_end");
    expect_error(pi_sampler_set_time_range(s, 0.5, 0.0), PI_EINVAL, "t_end");

    /* custom arrays */
    const double up[3] = {0.1, 0.5, 1.0}, flat[3] = {1.0, 0.5, 0.5}, out[3] = {1.5, 0.5, 0.1};
    const double low[3] = {1.0, 0.5, 1e-4}, nan3[3] = {1.0, NAN, 0.1}, ok[3] = {1.0, 0.5, 0.01};
    expect_error(pi_sampler_set_times(s, up, 3), PI_EINVAL, "strictly decreasing");
    expect_error(pi_sampler_set_times(s, flat, 3), PI_EINVAL, "strictly decreasing");
    expect_error(pi_sampler_set_times(s, out, 3), PI_EINVAL, "range");
    expect_error(pi_sampler_set_times(s, low, 3), PI_EINVAL, "range");
    expect_error(pi_sampler_set_times(s, nan3, 3), PI_EINVAL, "finite");
    expect_error(pi_sampler_set_times(s, ok, 1), PI_EINVAL, "count");
    expect_error(pi_sampler_set_times(s, NULL, 3), PI_EINVAL, "times");

    /* runs */
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, keep[8];
    memcpy(keep, x, sizeof x);
    expect_error(pi_sampler_run(s, 0, x), PI_EINVAL, "n must be >= 1");
    expect_error(pi_sampler_run(s, 4, NULL), PI_EINVAL, "x_out");
    expect_error(pi_sampler_run(NULL, 4, x), PI_EINVAL, "sampler");
    expect_error(pi_sampler_run_from(s, 1.5, 4, x), PI_EINVAL, "t_start must be in");
    expect_error(pi_sampler_run_from(s, NAN, 4, x), PI_EINVAL, "t_start");
    expect_error(pi_sampler_run_from(s, 1e-3, 4, x), PI_EINVAL, "t_start");
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_RK45), PI_OK);
    assert_int_equal(pi_sampler_set_hbar(s, 0.5), PI_OK);
    expect_error(pi_sampler_run(s, 4, x), PI_EINVAL, "needs hbar = 0");
    assert_int_equal(pi_sampler_set_hbar(s, 0.0), PI_OK);
    assert_int_equal(pi_sampler_set_corrector(s, 1, 0.1), PI_OK);
    expect_error(pi_sampler_run(s, 4, x), PI_EINVAL, "corrector");
    assert_int_equal(pi_sampler_set_corrector(s, 0, 0.1), PI_OK);
    x[3] = NAN;
    keep[3] = NAN;
    expect_error(pi_sampler_run_from(s, 0.5, 4, x), PI_EINVAL, "finite");
    assert_memory_equal(x, keep, sizeof x); /* untouched on bad input */
    x[3] = 4.0f;
    keep[3] = 4.0f;
    float small[8];
    assert_int_equal(pi_sampler_set_trajectory(s, 1, 8, small, NULL), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EULER), PI_OK);
    expect_error(pi_sampler_run(s, 4, x), PI_EINVAL, "capacity");
    assert_memory_equal(x, keep, sizeof x);
    expect_error(pi_sampler_set_trajectory(s, 1, 0, small, NULL), PI_EINVAL, "capacity");
    double t3[3];
    size_t count;
    expect_error(pi_sampler_get_times(s, 3, t3, &count), PI_EINVAL, "capacity");
    pi_sampler_destroy(s);
}

/* Every method runs with one step, and every fixed-step method on a custom SDE whose last
 * time has σ = 0 (no NaN). */
static int marginal_to_zero(double t, double *a, double *s, double *da, double *ds, void *u)
{
    (void)u;
    /* α = e^(−t), σ = sqrt(1 − e^(−2t)): VP with β = 2, down to t = 0 where σ = 0. */
    *a = exp(-t);
    *s = sqrt(-expm1(-2.0 * t));
    *da = -*a;
    *ds = t > 0.0 ? exp(-2.0 * t) / *s : 0.0;
    return 0;
}

static void test_one_step_and_sigma_zero(void **state)
{
    fixture *f = *state;
    float x[64];
    for (int m = PI_METHOD_EULER; m <= PI_METHOD_RK45; m++) {
        pi_sampler_t *s = make(f);
        assert_int_equal(pi_sampler_set_method(s, (pi_method)m), PI_OK);
        assert_int_equal(pi_sampler_set_steps(s, 1), PI_OK);
        assert_int_equal(pi_sampler_run(s, 32, x), PI_OK);
        assert_true(all_finite(x, 64));
        pi_sampler_destroy(s);
    }
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    assert_int_equal(pi_sde_create_custom(0.0, 5.0, marginal_to_zero, NULL, NULL, &sde), PI_OK);
    assert_int_equal(pi_model_create_gmm(sde, 2, 2, W, MU, VAR, &model), PI_OK);
    for (int m = PI_METHOD_EULER; m <= PI_METHOD_HEUN; m++) {
        for (int k = 0; k < 2; k++) {
            pi_sampler_t *s = NULL;
            assert_int_equal(pi_sampler_create(model, &s), PI_OK);
            assert_int_equal(pi_sampler_set_method(s, (pi_method)m), PI_OK);
            assert_int_equal(pi_sampler_set_hbar(s, k == 0 ? 0.0 : 1.0), PI_OK);
            assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_KARRAS, 7.0), PI_OK);
            assert_int_equal(pi_sampler_set_steps(s, 20), PI_OK);
            pi_status st = pi_sampler_run(s, 32, x);
            if (st != PI_OK)
                fprintf(stderr, "%s\n", pi_last_error());
            assert_int_equal(st, PI_OK);
            assert_true(all_finite(x, 64));
            assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_UNIFORM_LAMBDA, 7.0), PI_OK);
            expect_error(pi_sampler_run(s, 32, x), PI_EINVAL, "sigma_tilde = 0");
            pi_sampler_destroy(s);
        }
    }
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_RK45), PI_OK);
    assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_UNIFORM_T, 7.0), PI_OK);
    expect_error(pi_sampler_run(s, 32, x), PI_EINVAL, "sigma(t_end) > 0");
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
}

typedef struct cb_state {
    size_t calls, stop_at, nsteps, n, dim;
    int saw_denoised;
    double last_t;
    float copy[64];
} cb_state;

static int step_cb(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                   const float *denoised, void *user)
{
    cb_state *c = user;
    c->calls++;
    assert_int_equal(step, c->calls);
    c->nsteps = nsteps;
    c->n = n;
    c->dim = dim;
    c->last_t = t;
    c->saw_denoised += denoised != NULL;
    memcpy(c->copy, x, n * dim * sizeof *x);
    return step == c->stop_at;
}

static void test_callback_cancel(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = make(f);
    cb_state c;
    memset(&c, 0, sizeof c);
    c.stop_at = 3;
    float x[64];
    assert_int_equal(pi_sampler_set_steps(s, 10), PI_OK);
    assert_int_equal(pi_sampler_set_callback(s, step_cb, &c), PI_OK);
    expect_error(pi_sampler_run(s, 32, x), PI_ECANCELED, "callback");
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.nsteps, 10);
    assert_int_equal(c.n, 32);
    assert_int_equal(c.dim, 2);
    assert_int_equal(c.saw_denoised, 3);
    assert_memory_equal(x, c.copy, sizeof x); /* x holds the states of step 3 */
    double times[11];
    size_t count;
    assert_int_equal(pi_sampler_get_times(s, 11, times, &count), PI_OK);
    assert_true(c.last_t == times[3]);
    /* A full run afterwards is not affected by the earlier cancel. */
    memset(&c, 0, sizeof c);
    assert_int_equal(pi_sampler_run(s, 32, x), PI_OK);
    assert_int_equal(c.calls, 10);
    /* pi_sampler_cancel while idle is harmless. */
    assert_int_equal(pi_sampler_cancel(s), PI_OK);
    assert_int_equal(pi_sampler_set_callback(s, NULL, NULL), PI_OK);
    assert_int_equal(pi_sampler_run(s, 32, x), PI_OK);
    pi_sampler_destroy(s);
}

/* A model whose evaluation fails after a number of calls (a host callback failing). */
typedef struct failing {
    int calls_left;
} failing;

static pi_status failing_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                              float *out, const pi_eval_ctx *ctx)
{
    (void)t;
    (void)ctx;
    failing *fl = m->impl;
    if (fl->calls_left-- <= 0)
        return pi_fail(PI_ECALLBACK, "test model: host callback failed");
    for (size_t i = 0; i < n * m->dim; i++)
        out[i] = -x[i]; /* score of N(0, 1) at every t for VP */
    return PI_OK;
}

static const struct pi_model_type failing_type = {
    .name = "failing", .kind = PI_MODEL_KIND_CALLBACK, .eval = failing_eval};

static void test_model_failure(void **state)
{
    fixture *f = *state;
    pi_model_t *model = NULL;
    failing fl = {4};
    assert_int_equal(pi_model_alloc(&failing_type, f->sde, 2, PI_VIEW_SCORE, &model), PI_OK);
    model->impl = &fl;
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EULER), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 10), PI_OK);
    cb_state c;
    memset(&c, 0, sizeof c);
    assert_int_equal(pi_sampler_set_callback(s, step_cb, &c), PI_OK);
    float x[64];
    expect_error(pi_sampler_run(s, 32, x), PI_ECALLBACK, "host callback failed");
    assert_int_equal(c.calls, 4);
    assert_memory_equal(x, c.copy, sizeof x); /* the states of the last completed step */
    pi_sampler_destroy(s);
    pi_model_destroy(model);
}

static void test_trajectory_and_denoise(void **state)
{
    fixture *f = *state;
    const size_t n = 16, steps = 8, total = 32;
    pi_sampler_t *s = make(f);
    assert_int_equal(pi_sampler_set_steps(s, steps), PI_OK);
    assert_int_equal(pi_sampler_set_seed(s, 11), PI_OK);
    assert_int_equal(pi_sampler_set_trajectory(s, 1, 0, NULL, NULL), PI_OK);
    float x[32], xd[32];
    assert_int_equal(pi_sampler_run(s, n, x), PI_OK);
    const float *tx = NULL, *td = NULL;
    size_t npoints = 0, nfe;
    assert_int_equal(pi_sampler_get_trajectory(s, &tx, &td, &npoints), PI_OK);
    assert_int_equal(npoints, steps + 1);
    assert_non_null(tx);
    assert_non_null(td);
    assert_memory_equal(tx + steps * total, x, sizeof x);
    float prior[32];
    assert_int_equal(pi_sde_prior_sample(f->sde, n, 2, 11, prior), PI_OK);
    assert_memory_equal(tx, prior, sizeof prior); /* point 0: the prior draw */
    /* The denoised trajectory at point k is D(x_k, t_k). */
    double times[9];
    size_t count;
    assert_int_equal(pi_sampler_get_times(s, 9, times, &count), PI_OK);
    float d[32];
    for (size_t k = 0; k <= steps; k += 4) {
        assert_int_equal(pi_model_eval_at(f->model, PI_VIEW_DENOISED, n, tx + k * total, times[k], d),
                         PI_OK);
        for (size_t i = 0; i < total; i++)
            assert_true(fabsf(d[i] - td[k * total + i]) <= 1e-6f * (1.0f + fabsf(d[i])));
    }
    assert_int_equal(pi_sampler_get_stats(s, &nfe, NULL, NULL), PI_OK);
    assert_int_equal(nfe, steps + 1); /* the last denoised point costs one evaluation */
    /* denoise_final returns that last denoised point. */
    assert_int_equal(pi_sampler_set_denoise_final(s, 1), PI_OK);
    assert_int_equal(pi_sampler_set_trajectory(s, 0, 0, NULL, NULL), PI_OK);
    assert_int_equal(pi_sampler_run(s, n, xd), PI_OK);
    assert_memory_equal(xd, td + steps * total, sizeof xd);
    /* Caller buffers. */
    float *bx = calloc((steps + 1) * total, sizeof *bx), *bd = calloc((steps + 1) * total, sizeof *bd);
    assert_int_equal(pi_sampler_set_denoise_final(s, 0), PI_OK);
    assert_int_equal(pi_sampler_set_trajectory(s, 1, (steps + 1) * total, bx, bd), PI_OK);
    assert_int_equal(pi_sampler_run(s, n, xd), PI_OK);
    assert_memory_equal(xd, x, sizeof x);
    assert_int_equal(pi_sampler_get_trajectory(s, &tx, &td, &npoints), PI_OK);
    assert_ptr_equal(tx, bx);
    assert_ptr_equal(td, bd);
    assert_memory_equal(bx + steps * total, x, sizeof x);
    pi_sampler_destroy(s);
    free(bx);
    free(bd);
}

/* RK45: the callback sees accepted steps with nsteps = 0 and no denoised array; the
 * trajectory records accepted points while they fit. */
static void test_rk45_callback_and_trajectory(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = make(f);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_RK45), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 200), PI_OK); /* room for every accepted point */
    cb_state c;
    memset(&c, 0, sizeof c);
    c.stop_at = 1000;
    assert_int_equal(pi_sampler_set_callback(s, step_cb, &c), PI_OK);
    assert_int_equal(pi_sampler_set_trajectory(s, 1, 0, NULL, NULL), PI_OK);
    float x[64];
    assert_int_equal(pi_sampler_run(s, 32, x), PI_OK);
    size_t acc, npoints;
    assert_int_equal(pi_sampler_get_stats(s, NULL, &acc, NULL), PI_OK);
    assert_int_equal(c.calls, acc);
    assert_int_equal(c.nsteps, 0);
    assert_int_equal(c.saw_denoised, 0);
    assert_true(c.last_t == 1e-3);
    const float *tx = NULL, *td = NULL;
    assert_int_equal(pi_sampler_get_trajectory(s, &tx, &td, &npoints), PI_OK);
    assert_int_equal(npoints, acc + 1);
    assert_null(td);
    assert_memory_equal(tx + acc * 64, x, sizeof x);
    pi_sampler_destroy(s);
}

/* SDEdit: noise data with the forward marginal at t = 0.4 and denoise back; the output stays
 * close to the mixture (each point near one of the two means). */
static void test_run_from(void **state)
{
    fixture *f = *state;
    const size_t n = 200;
    float *x = malloc(n * 2 * sizeof *x);
    stats_sample_gmm(2, 2, W, MU, VAR, n, 3, x);
    double a, sg;
    assert_int_equal(pi_sde_marginal(f->sde, 0.4, &a, &sg), PI_OK);
    float *z = malloc(n * 2 * sizeof *z);
    const double one = 1.0, zero2[2] = {0.0, 0.0}, unit2[2] = {1.0, 1.0};
    stats_sample_gmm(2, 1, &one, zero2, unit2, n, 9, z);
    for (size_t i = 0; i < n * 2; i++)
        x[i] = (float)(a * x[i] + sg * z[i]); /* the forward marginal at t = 0.4 */
    free(z);
    pi_sampler_t *s = make(f);
    assert_int_equal(pi_sampler_set_steps(s, 20), PI_OK);
    assert_int_equal(pi_sampler_set_hbar(s, 1.0), PI_OK);
    assert_int_equal(pi_sampler_run_from(s, 0.4, n, x), PI_OK);
    size_t nfe;
    assert_int_equal(pi_sampler_get_stats(s, &nfe, NULL, NULL), PI_OK);
    assert_int_equal(nfe, 20);
    double m0, v0;
    stats_mean_var(x, n, 2, 0, &m0, &v0);
    double exact_mean = W[0] * MU[0] + W[1] * MU[2];
    assert_true(fabs(m0 - exact_mean) < 0.2);
    pi_sampler_destroy(s);
    free(x);
}

/* Predictor–corrector: NFE counts and a corrected ħ = 1 run keeps a 1-component target's
 * variance. */
static void test_corrector(void **state)
{
    fixture *f = *state;
    const double w1 = 1.0, mu1[2] = {0.5, -0.5}, v1[2] = {0.3, 0.3};
    pi_model_t *model = NULL;
    assert_int_equal(pi_model_create_gmm(f->sde, 2, 1, &w1, mu1, v1, &model), PI_OK);
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EXP1), PI_OK);
    assert_int_equal(pi_sampler_set_hbar(s, 1.0), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 100), PI_OK);
    assert_int_equal(pi_sampler_set_corrector(s, 2, 0.1), PI_OK);
    const size_t n = 4000;
    float *x = malloc(n * 2 * sizeof *x);
    assert_int_equal(pi_sampler_run(s, n, x), PI_OK);
    size_t nfe;
    assert_int_equal(pi_sampler_get_stats(s, &nfe, NULL, NULL), PI_OK);
    assert_int_equal(nfe, 100 * 3);
    double m, v;
    stats_mean_var(x, n, 2, 0, &m, &v);
    printf("  corrector: mean %.4f var %.4f (exact 0.5, ~0.3)\n", m, v);
    assert_true(fabs(m - 0.5) < 0.05);
    assert_true(fabs(v - 0.3) < 0.035);
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    free(x);
}

/* Every SDE kind with every method: finite samples whose mean is near the mixture's. */
static void test_all_sdes(void **state)
{
    (void)state;
    const pi_sde_kind kinds[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE,
                                 PI_SDE_KIND_EDM};
    const size_t n = 1000;
    float *x = malloc(n * 2 * sizeof *x);
    const double exact = W[0] * MU[0] + W[1] * MU[2];
    for (size_t k = 0; k < 5; k++) {
        pi_sde_t *sde = NULL;
        pi_model_t *model = NULL;
        assert_int_equal(pi_sde_create(kinds[k], &sde), PI_OK);
        assert_int_equal(pi_model_create_gmm(sde, 2, 2, W, MU, VAR, &model), PI_OK);
        for (int m = PI_METHOD_EULER; m <= PI_METHOD_RK45; m++) {
            for (int h = 0; h < (m == PI_METHOD_RK45 ? 1 : 2); h++) {
                pi_sampler_t *s = NULL;
                assert_int_equal(pi_sampler_create(model, &s), PI_OK);
                assert_int_equal(pi_sampler_set_method(s, (pi_method)m), PI_OK);
                assert_int_equal(pi_sampler_set_hbar(s, (double)h), PI_OK);
                assert_int_equal(pi_sampler_set_steps(s, 60), PI_OK);
                assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_KARRAS, 7.0), PI_OK);
                pi_status st = pi_sampler_run(s, n, x);
                if (st != PI_OK)
                    fprintf(stderr, "sde %d method %d: %s\n", (int)kinds[k], m, pi_last_error());
                assert_int_equal(st, PI_OK);
                assert_true(all_finite(x, n * 2));
                double mean;
                stats_mean_var(x, n, 2, 0, &mean, NULL);
                if (!(fabs(mean - exact) < 0.15))
                    fprintf(stderr, "sde %d method %d hbar %d: mean %g, exact %g\n", (int)kinds[k], m,
                            h, mean, exact);
                assert_true(fabs(mean - exact) < 0.15);
                pi_sampler_destroy(s);
            }
        }
        pi_model_destroy(model);
        pi_sde_destroy(sde);
    }
    free(x);
}

/* Issue 19: a run of rows [a, b) with first_row = a reproduces, bit for bit, rows a … b − 1
 * of one whole run, for any split, every fixed-step method (with and without the corrector),
 * threads, pi_sampler_run_from; first_row + n − 1 = 2^64 − 1 is allowed, one more is not. */
static void test_first_row_partitions(void **state)
{
    fixture *f = *state;
    enum { N = 23, D = 2 };
    const struct {
        pi_method method;
        double hbar;
        size_t corrector;
        int threads;
    } cfg[] = {{PI_METHOD_EULER, 1.0, 0, 1}, {PI_METHOD_EXP1, 0.5, 0, 2}, {PI_METHOD_EXP2M, 0.7, 1, 3},
               {PI_METHOD_HEUN, 0.3, 0, 2}};
    const size_t splits[] = {1, 7, 11, 22};
    float whole[N * D], part[N * D], start[N * D];
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        pi_sampler_t *s = make(f);
        assert_int_equal(pi_sampler_set_method(s, cfg[c].method), PI_OK);
        assert_int_equal(pi_sampler_set_hbar(s, cfg[c].hbar), PI_OK);
        assert_int_equal(pi_sampler_set_steps(s, 12), PI_OK);
        assert_int_equal(pi_sampler_set_seed(s, 77), PI_OK);
        assert_int_equal(pi_sampler_set_threads(s, cfg[c].threads), PI_OK);
        if (cfg[c].corrector > 0)
            assert_int_equal(pi_sampler_set_corrector(s, cfg[c].corrector, 0.1), PI_OK);
        assert_int_equal(pi_sampler_run(s, N, whole), PI_OK);
        for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
            size_t a = splits[k];
            memset(part, 0, sizeof part);
            assert_int_equal(pi_sampler_set_first_row(s, 0), PI_OK);
            assert_int_equal(pi_sampler_run(s, a, part), PI_OK);
            assert_int_equal(pi_sampler_set_first_row(s, a), PI_OK);
            assert_int_equal(pi_sampler_run(s, N - a, part + a * D), PI_OK);
            if (memcmp(whole, part, sizeof whole) != 0)
                fail_msg("method %d: rows [0, %zu) + [%zu, %d) differ from one run", (int)cfg[c].method,
                         a, a, N);
        }
        /* A middle partition alone, and the first row really moves the noise. */
        assert_int_equal(pi_sampler_set_first_row(s, 5), PI_OK);
        assert_int_equal(pi_sampler_run(s, 3, part), PI_OK);
        assert_memory_equal(part, whole + 5 * D, 3 * D * sizeof *part);
        assert_int_equal(pi_sampler_set_first_row(s, 6), PI_OK); /* row 6's prior differs */
        assert_int_equal(pi_sampler_run(s, 1, part), PI_OK);
        assert_true(memcmp(part, whole + 5 * D, D * sizeof *part) != 0);
        /* SDEdit from given states: the same split property. */
        for (size_t i = 0; i < N * D; i++)
            start[i] = (float)(0.3 * sin((double)i));
        memcpy(whole, start, sizeof start);
        assert_int_equal(pi_sampler_set_first_row(s, 0), PI_OK);
        assert_int_equal(pi_sampler_run_from(s, 0.5, N, whole), PI_OK);
        memcpy(part, start, sizeof start);
        assert_int_equal(pi_sampler_run_from(s, 0.5, 9, part), PI_OK);
        assert_int_equal(pi_sampler_set_first_row(s, 9), PI_OK);
        assert_int_equal(pi_sampler_run_from(s, 0.5, N - 9, part + 9 * D), PI_OK);
        assert_memory_equal(whole, part, sizeof whole);
        /* The last representable rows: first_row + n − 1 = 2^64 − 1 runs, one more fails. */
        uint64_t back = 0;
        assert_int_equal(pi_sampler_set_first_row(s, UINT64_MAX - 2), PI_OK);
        assert_int_equal(pi_sampler_get_first_row(s, &back), PI_OK);
        assert_true(back == UINT64_MAX - 2);
        assert_int_equal(pi_sampler_run(s, 3, part), PI_OK);
        assert_true(all_finite(part, 3 * D));
        memcpy(start, part, 3 * D * sizeof *part);
        expect_error(pi_sampler_run(s, 4, part), PI_EINVAL, "first_row");
        assert_memory_equal(start, part, 3 * D * sizeof *part); /* untouched on failure */
        pi_sampler_destroy(s);
    }
}

/* ---- issue 14: DDIM on a discrete ᾱ table, against the DDIM paper's update ---------------- */

typedef struct ddim_host {
    const pi_sde_t *sde;
    double max_frac; /* largest distance of a received timestep from an integer */
    size_t calls;
} ddim_host;

/* A known ε "network" of the training timestep τ. */
static double eps_net(double x, double tau) { return 0.5 * tanh(x) * (1.0 + tau / 1000.0) + 0.1 * x; }

static int ddim_eps_fn(size_t n, size_t dim, const float *x, const double *t, float *out, void *u)
{
    ddim_host *h = u;
    for (size_t i = 0; i < n; i++) {
        double tau;
        if (pi_sde_timestep_from_time(h->sde, t[i], &tau) != PI_OK)
            return 1;
        h->max_frac = fmax(h->max_frac, fabs(tau - nearbyint(tau)));
        for (size_t j = 0; j < dim; j++)
            out[i * dim + j] = (float)eps_net(x[i * dim + j], tau);
    }
    h->calls++;
    return 0;
}

/* The same network, called with the host timestep τ directly. */
static int ddim_eps_tau_fn(size_t n, size_t dim, const float *x, const double *tau, float *out,
                           void *u)
{
    ddim_host *h = u;
    for (size_t i = 0; i < n; i++) {
        h->max_frac = fmax(h->max_frac, fabs(tau[i] - nearbyint(tau[i])));
        for (size_t j = 0; j < dim; j++)
            out[i * dim + j] = (float)eps_net(x[i * dim + j], tau[i]);
    }
    return 0;
}

typedef struct ddim_check {
    const double *abar; /* the table */
    const double *taus; /* the timesteps of the run, then 0 */
    float prev[8];      /* x before the step */
    double max_err;
    size_t steps_seen;
} ddim_check;

/* DDIM (Song et al. 2021, eq. 12 with σ_t = 0), from the state before the step:
 * x_prev = √ᾱ_prev (x − √(1 − ᾱ_t) ε)/√ᾱ_t + √(1 − ᾱ_prev) ε. */
static int ddim_step_check(size_t step, size_t nsteps, double t, size_t n, size_t dim,
                           const float *x, const float *denoised, void *u)
{
    (void)nsteps, (void)t, (void)denoised;
    ddim_check *c = u;
    double tau = c->taus[step - 1], tau_prev = c->taus[step];
    double at = c->abar[(size_t)tau], ap = c->abar[(size_t)tau_prev];
    for (size_t i = 0; i < n * dim; i++) {
        double xs = c->prev[i], e = (double)(float)eps_net(xs, tau);
        double x0 = (xs - sqrt(1.0 - at) * e) / sqrt(at);
        double ref = sqrt(ap) * x0 + sqrt(1.0 - ap) * e;
        c->max_err = fmax(c->max_err, fabs((double)x[i] - ref) / fmax(1.0, fabs(ref)));
        c->prev[i] = x[i];
    }
    c->steps_seen++;
    return 0;
}

static void test_ddim_on_discrete_table(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085, 0.012,
                                                 0, &sde),
                     PI_OK);
    static double abar[1000];
    size_t count;
    assert_int_equal(pi_sde_get_alphas_cumprod(sde, 1000, abar, &count), PI_OK);
    const pi_timestep_spacing spacings[3] = {PI_TIMESTEP_SPACING_LEADING, PI_TIMESTEP_SPACING_TRAILING,
                                             PI_TIMESTEP_SPACING_LINSPACE};
    for (int sp = 0; sp < 3; sp++) {
        ddim_host host = {sde, 0.0, 0};
        pi_model_t *m = NULL;
        assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_EPS, ddim_eps_fn, &host, &m), PI_OK);
        double times[32], taus[32];
        size_t nt = 0;
        assert_int_equal(pi_sde_discrete_times(sde, spacings[sp], 20, sp == 0 ? 1 : 0, 32, times, &nt),
                         PI_OK);
        for (size_t k = 0; k < nt; k++)
            assert_int_equal(pi_sde_timestep_from_time(sde, times[k], &taus[k]), PI_OK);
        for (size_t k = 0; k < nt; k++)
            taus[k] = nearbyint(taus[k]);
        pi_sampler_t *s = NULL;
        assert_int_equal(pi_sampler_create(m, &s), PI_OK);
        assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EXP1), PI_OK);
        assert_int_equal(pi_sampler_set_hbar(s, 0.0), PI_OK);
        assert_int_equal(pi_sampler_set_times(s, times, nt), PI_OK);
        ddim_check check = {abar, taus, {0}, 0.0, 0};
        float x[8] = {1.2f, -0.4f, 0.3f, 2.0f, -1.5f, 0.05f, 0.7f, -0.9f};
        memcpy(check.prev, x, sizeof x);
        assert_int_equal(pi_sampler_set_callback(s, ddim_step_check, &check), PI_OK);
        assert_int_equal(pi_sampler_run_from(s, times[0], 4, x), PI_OK);
        printf("  DDIM spacing %d: %zu steps, max relative deviation %.2e, timestep off-integer %.1e\n",
               sp + 1, check.steps_seen, check.max_err, host.max_frac);
        assert_int_equal(check.steps_seen, nt - 1);
        assert_true(check.max_err < 1e-6);
        assert_true(host.max_frac < 1e-9);
        pi_sampler_destroy(s);
        pi_model_destroy(m);
    }
    /* The host-timestep convention: the callback receives τ itself, and the run is the same. */
    {
        ddim_host host = {sde, 0.0, 0};
        pi_model_t *m_t = NULL, *m_tau = NULL;
        assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_EPS, ddim_eps_fn, &host, &m_t), PI_OK);
        assert_int_equal(pi_model_create_callback_timestep(sde, 2, PI_VIEW_EPS, ddim_eps_tau_fn, &host,
                                                           &m_tau),
                         PI_OK);
        double times[32];
        size_t nt = 0;
        assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_TRAILING, 20, 0, 32, times, &nt),
                         PI_OK);
        float a[8] = {1.2f, -0.4f, 0.3f, 2.0f, -1.5f, 0.05f, 0.7f, -0.9f}, b[8];
        memcpy(b, a, sizeof a);
        pi_model_t *models[2] = {m_t, m_tau};
        float *xs[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            pi_sampler_t *s = NULL;
            assert_int_equal(pi_sampler_create(models[k], &s), PI_OK);
            assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EXP1), PI_OK);
            assert_int_equal(pi_sampler_set_hbar(s, 0.0), PI_OK);
            assert_int_equal(pi_sampler_set_times(s, times, nt), PI_OK);
            assert_int_equal(pi_sampler_run_from(s, times[0], 4, xs[k]), PI_OK);
            pi_sampler_destroy(s);
        }
        assert_memory_equal(a, b, sizeof a);
        assert_true(host.max_frac < 1e-9); /* τ received were the integer timesteps */
        pi_model_t *bad = (pi_model_t *)0x1;
        pi_sde_t *vp = NULL;
        assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &vp), PI_OK);
        assert_int_equal(pi_model_create_callback_timestep(vp, 2, PI_VIEW_EPS, ddim_eps_tau_fn, &host, &bad),
                         PI_EINVAL);
        assert_non_null(strstr(pi_last_error(), "sde must be discrete or rectified flow"));
        assert_true(bad == (pi_model_t *)0x1);
        pi_sde_destroy(vp);
        pi_model_destroy(m_t);
        pi_model_destroy(m_tau);
    }
    pi_sde_destroy(sde);
}

/* ---- time-keyed noise: the step noise is the documented tree's, bit for bit ------------- */

/* W(t) of (seed, row) by a fresh walk from the root, as docs/samplers.md defines it. */
static void reference_brownian(uint64_t seed, uint64_t row, double lo, double hi, double t,
                               size_t dim, double *out)
{
    double wa[8], wb[8], xi[8];
    pi_rng_normal_d(seed, PI_STREAM_BROWNIAN, row, 0, dim, wb);
    double sr = sqrt(hi - lo), a = lo, b = hi;
    for (size_t j = 0; j < dim; j++) {
        wa[j] = 0.0;
        wb[j] *= sr;
    }
    uint32_t k = 1;
    for (int l = 0; l < PI_BROWNIAN_DEPTH; l++) {
        pi_rng_normal_d(seed, PI_STREAM_BROWNIAN, row, k, dim, xi);
        double m = a + 0.5 * (b - a), sd = sqrt(0.25 * (b - a));
        int right = t >= m;
        double *mid = right ? wa : wb;
        for (size_t j = 0; j < dim; j++)
            mid[j] = 0.5 * (wa[j] + wb[j]) + sd * xi[j];
        if (right)
            a = m;
        else
            b = m;
        k = 2 * k + (uint32_t)right;
    }
    double len = b - a, u = (t - a) / len, sd = sqrt(fmax(0.0, (t - a) * (b - t) / len));
    pi_rng_normal_d(seed, PI_STREAM_BROWNIAN, row, k, dim, xi);
    for (size_t j = 0; j < dim; j++)
        out[j] = wa[j] + u * (wb[j] - wa[j]) + sd * xi[j];
}

/* pi_run_step_noise with PI_NOISE_BROWNIAN walks from the levels it kept of the row's last walk
 * (a speed-up): its normalised increments must equal those of fresh walks of the reference bit
 * for bit, for schedules of every density (steps sharing 0 to 20 levels), replayed steps (SA's
 * corrector: not the step being taken) in between, several rows, and every cache depth. */
static void test_brownian_noise_matches_fresh_walks(void **state)
{
    (void)state;
    enum { DIM = 5, ROWS = 3, STEPS = 40 };
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_sampler_t *s = NULL;
    const double W[1] = {1.0}, MU[DIM] = {0}, VAR[DIM] = {1, 1, 1, 1, 1};
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    assert_int_equal(pi_model_create_gmm(sde, DIM, 1, W, MU, VAR, &model), PI_OK);
    assert_int_equal(pi_sampler_create(model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_noise(s, PI_NOISE_BROWNIAN), PI_OK);
    const double lo = sde->t_min, hi = sde->t_max;
    double times[STEPS + 1];
    const size_t caps[] = {SIZE_MAX, 0, 1, 3, 7, PI_BROWNIAN_DEPTH}; /* SIZE_MAX: no stack */
    for (int sched = 0; sched < 4; sched++) {
        /* uniform in t; geometric towards t_min (deep shared prefixes); the smallest steps
         * the tree resolves near one point (about 20 shared levels); one long step, then
         * those (the second walk shares levels the first made after t_s and t_t parted) */
        for (int i = 0; i <= STEPS; i++) {
            double u = (double)i / STEPS;
            times[i] = sched == 0   ? hi - (hi - lo) * u
                       : sched == 1 ? lo + (hi - lo) * pow(1e-5, u)
                       : sched == 2 ? 0.3 - (hi - lo) * 0x1p-19 * i
                       : i == 0     ? hi
                                    : 0.3 - (hi - lo) * 0x1p-19 * (i - 1);
        }
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            double wcur[ROWS * DIM], wtime[ROWS], stack[ROWS * (PI_BROWNIAN_DEPTH + 1) * DIM];
            uint32_t depth[ROWS] = {0};
            double scratch[PI_BROWNIAN_SCRATCH * DIM];
            pi_worker w;
            memset(&w, 0, sizeof w);
            w.brownian = scratch;
            pi_run run;
            memset(&run, 0, sizeof run);
            run.s = s;
            run.sde = sde;
            run.n = ROWS;
            run.dim = DIM;
            run.hbar = 1.0;
            run.seed = 77 + (uint64_t)sched;
            run.first_row = 1000;
            run.wcur = wcur;
            run.wtime = wtime;
            run.wstack = caps[c] == SIZE_MAX ? NULL : stack;
            run.wdepth = depth;
            run.wlevels = caps[c] == SIZE_MAX ? 0 : caps[c];
            for (int r = 0; r < ROWS; r++)
                wtime[r] = NAN;
            for (int k = 0; k < STEPS; k++) {
                pi_step_coeffs co;
                memset(&co, 0, sizeof co);
                co.t_s = times[k];
                co.t_t = times[k + 1];
                co.step = (size_t)k;
                run.step = (size_t)k;
                for (size_t r = 0; r < ROWS; r++) {
                    double got[DIM], ws[DIM], wt[DIM], want[DIM];
                    reference_brownian(run.seed, 1000 + r, lo, hi, co.t_s, DIM, ws);
                    reference_brownian(run.seed, 1000 + r, lo, hi, co.t_t, DIM, wt);
                    double inv = 1.0 / sqrt(co.t_s - co.t_t);
                    for (int j = 0; j < DIM; j++)
                        want[j] = (ws[j] - wt[j]) * inv;
                    if (k % 7 == 3) { /* a replay of the previous step first (it keeps nothing) */
                        pi_step_coeffs re = co;
                        re.t_s = times[k - 1];
                        re.t_t = times[k];
                        re.step = (size_t)k - 1;
                        double old[DIM], a[DIM], b[DIM];
                        pi_run_step_noise(&run, &re, r, &w, old);
                        reference_brownian(run.seed, 1000 + r, lo, hi, re.t_s, DIM, a);
                        reference_brownian(run.seed, 1000 + r, lo, hi, re.t_t, DIM, b);
                        double inv2 = 1.0 / sqrt(re.t_s - re.t_t);
                        for (int j = 0; j < DIM; j++)
                            a[j] = (a[j] - b[j]) * inv2;
                        assert_memory_equal(old, a, sizeof a);
                    }
                    pi_run_step_noise(&run, &co, r, &w, got);
                    if (memcmp(got, want, sizeof got) != 0)
                        fail_msg("schedule %d, cache %zu levels, step %d, row %zu: %.17g != %.17g",
                                 sched, caps[c], k, r, got[0], want[0]);
                    assert_true(wtime[r] == co.t_t);
                    assert_memory_equal(wcur + r * DIM, wt, sizeof wt);
                }
            }
        }
    }
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_one_step_and_sigma_zero),
        cmocka_unit_test(test_callback_cancel),
        cmocka_unit_test(test_model_failure),
        cmocka_unit_test(test_trajectory_and_denoise),
        cmocka_unit_test(test_rk45_callback_and_trajectory),
        cmocka_unit_test(test_run_from),
        cmocka_unit_test(test_corrector),
        cmocka_unit_test(test_all_sdes),
        cmocka_unit_test(test_first_row_partitions),
        cmocka_unit_test(test_ddim_on_discrete_table),
        cmocka_unit_test(test_brownian_noise_matches_fresh_walks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
