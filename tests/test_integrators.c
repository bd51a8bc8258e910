/* Integrators on the probability-flow ODE (ħ = 0) of a 2-D Gaussian mixture with exact
 * scores: convergence order of the endpoint error against RK45 at rtol 1e-10, EXP2M against an
 * independent DPM-Solver++(2M), EXP1 against an independent DDIM, and RK45's tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pathint.h"
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ROWS 64
#define DIM 2

typedef struct fixture {
    pi_sde_t *sde;
    pi_model_t *model;
    float x0[N_ROWS * DIM]; /* prior draws at T */
    float ref[N_ROWS * DIM];
} fixture;

static const double W[3] = {0.3, 0.5, 0.2};
static const double MU[6] = {-1.0, 0.5, 1.0, 1.0, 0.2, -1.2};
static const double VAR[6] = {0.10, 0.20, 0.15, 0.08, 0.25, 0.12};

static void run_method(fixture *f, pi_method m, size_t steps, pi_schedule sched, float *out)
{
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, m), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, steps), PI_OK);
    assert_int_equal(pi_sampler_set_schedule(s, sched, 7.0), PI_OK);
    assert_int_equal(pi_sampler_set_tolerances(s, 1e-10, 1e-10), PI_OK);
    double t_max;
    pi_sde_time_range(f->sde, NULL, &t_max);
    memcpy(out, f->x0, sizeof f->x0);
    pi_status st = pi_sampler_run_from(s, t_max, N_ROWS, out);
    if (st != PI_OK)
        fprintf(stderr, "%s\n", pi_last_error());
    assert_int_equal(st, PI_OK);
    pi_sampler_destroy(s);
}

static double rms_diff(const float *a, const float *b)
{
    double s = 0.0;
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (N_ROWS * DIM));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &f->sde) != PI_OK ||
        pi_model_create_gmm(f->sde, DIM, 3, W, MU, VAR, &f->model) != PI_OK)
        return -1;
    if (pi_sde_prior_sample(f->sde, N_ROWS, DIM, 7, f->x0) != PI_OK)
        return -1;
    *state = f;
    run_method(f, PI_METHOD_RK45, 50, PI_SCHEDULE_UNIFORM_LAMBDA, f->ref);
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

static void check_order(fixture *f, pi_method m, const size_t *steps, size_t count, double order,
                        const char *name)
{
    double ns[8], errs[8];
    float out[N_ROWS * DIM];
    for (size_t i = 0; i < count; i++) {
        run_method(f, m, steps[i], PI_SCHEDULE_UNIFORM_LAMBDA, out);
        ns[i] = (double)steps[i];
        errs[i] = rms_diff(out, f->ref);
        printf("  %-6s steps %4zu  error %.3e\n", name, steps[i], errs[i]);
    }
    double slope = -stats_loglog_slope(ns, errs, count);
    printf("  %-6s observed order %.3f (theory %.0f)\n", name, slope, order);
    assert_true(fabs(slope - order) <= 0.3);
}

static void test_order_euler(void **state)
{
    static const size_t steps[] = {32, 64, 128, 256};
    check_order(*state, PI_METHOD_EULER, steps, 4, 1.0, "euler");
}

static void test_order_exp1(void **state)
{
    static const size_t steps[] = {16, 32, 64, 128};
    check_order(*state, PI_METHOD_EXP1, steps, 4, 1.0, "exp1");
}

static void test_order_exp2m(void **state)
{
    static const size_t steps[] = {8, 16, 32, 64};
    check_order(*state, PI_METHOD_EXP2M, steps, 4, 2.0, "exp2m");
}

static void test_order_heun(void **state)
{
    static const size_t steps[] = {8, 16, 32, 64};
    check_order(*state, PI_METHOD_HEUN, steps, 4, 2.0, "heun");
}

/* Third order once the two warm-up steps are negligible (errors 6.5e-2 .. 3.7e-6 over 8..256
 * steps, slope 3.1 over 32..256). The DPM-Solver++(3M) weight of the quadratic term (half of
 * EXP3M's) measures 2.1 here and fails this test. */
static void test_order_exp3m(void **state)
{
    static const size_t steps[] = {32, 64, 128, 256};
    check_order(*state, PI_METHOD_EXP3M, steps, 4, 3.0, "exp3m");
}

/* iPNDM's equal-step coefficients make it fourth order only on equal steps in σ̃: on the EDM SDE
 * (σ̃ = t) with the uniform-t schedule from σ̃ = 2, against RK45 at rtol 1e-10. (On uniform-λ
 * steps, which grow geometrically in σ̃, the fixture's problem measures order 1.86:
 * docs/samplers.md.) */
static void test_order_ipndm(void **state)
{
    fixture *f = *state;
    pi_sde_t *edm = NULL;
    pi_model_t *model = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_EDM, &edm), PI_OK);
    assert_int_equal(pi_model_create_gmm(edm, DIM, 3, W, MU, VAR, &model), PI_OK);
    float x0[N_ROWS * DIM], ref[N_ROWS * DIM], out[N_ROWS * DIM];
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        x0[i] = 2.0f * f->x0[i];
    const size_t steps[] = {8, 16, 32, 64};
    double ns[5], errs[5];
    for (int k = -1; k < 4; k++) {
        pi_sampler_t *s = NULL;
        assert_int_equal(pi_sampler_create(model, &s), PI_OK);
        assert_int_equal(pi_sampler_set_method(s, k < 0 ? PI_METHOD_RK45 : PI_METHOD_IPNDM), PI_OK);
        assert_int_equal(pi_sampler_set_tolerances(s, 1e-10, 1e-10), PI_OK);
        assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_UNIFORM_T, 7.0), PI_OK);
        assert_int_equal(pi_sampler_set_steps(s, k < 0 ? 50 : steps[k]), PI_OK);
        float *dst = k < 0 ? ref : out;
        memcpy(dst, x0, sizeof x0);
        assert_int_equal(pi_sampler_run_from(s, 2.0, N_ROWS, dst), PI_OK);
        pi_sampler_destroy(s);
        if (k >= 0) {
            ns[k] = (double)steps[k];
            errs[k] = rms_diff(out, ref);
            printf("  ipndm  steps %4zu  error %.3e (EDM, uniform sigma from 2)\n", steps[k], errs[k]);
        }
    }
    double slope = -stats_loglog_slope(ns, errs, 4);
    printf("  ipndm  observed order %.3f (theory 4)\n", slope);
    assert_true(fabs(slope - 4.0) <= 0.4);
    pi_model_destroy(model);
    pi_sde_destroy(edm);
}

/* SA: a second-order predictor and a corrector exact for a linear D (local error O(h³)), so
 * second order in theory; measured 2.59 over 16 → 128 steps (1.2e-2 .. 5.7e-5), the corrector's
 * gain not yet asymptotic. The test takes 2.5 ± 0.3 (2.2 .. 2.8). */
static void test_order_sa(void **state)
{
    static const size_t steps[] = {16, 32, 64, 128};
    check_order(*state, PI_METHOD_SA, steps, 4, 2.5, "sa");
}

/* UniPC (issue 16): UniP-2 + UniC, whose corrected states are third order; the last step is first
 * order (lower order final) and uncorrected, but it ends at the SDE's t_min where D is nearly
 * linear, so its error is small beside the rest. Measured: 1.3e-2, 2.8e-3, 4.6e-4, 5.9e-5 at 16,
 * 32, 64, 128 steps (slope 2.6, the ratios rising towards 8); over 32 .. 256 (7.1e-6 at 256)
 * the slope is 2.89. */
static void test_order_unipc(void **state)
{
    static const size_t steps[] = {32, 64, 128, 256};
    check_order(*state, PI_METHOD_UNIPC, steps, 4, 3.0, "unipc");
}

/* RK45 at rtol 1e-5 lands near the reference, and its counters are consistent. */
static void test_rk45_tolerance(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = NULL;
    float out[N_ROWS * DIM];
    double err_prev = INFINITY;
    for (int k = 0; k < 3; k++) {
        double tol = k == 0 ? 1e-3 : k == 1 ? 1e-5 : 1e-7;
        assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
        assert_int_equal(pi_sampler_set_method(s, PI_METHOD_RK45), PI_OK);
        assert_int_equal(pi_sampler_set_tolerances(s, tol, tol), PI_OK);
        double t_max;
        pi_sde_time_range(f->sde, NULL, &t_max);
        memcpy(out, f->x0, sizeof out);
        assert_int_equal(pi_sampler_run_from(s, t_max, N_ROWS, out), PI_OK);
        size_t nfe, acc, rej;
        assert_int_equal(pi_sampler_get_stats(s, &nfe, &acc, &rej), PI_OK);
        assert_int_equal(nfe, 1 + 6 * (acc + rej));
        assert_true(acc >= 1);
        double err = rms_diff(out, f->ref);
        printf("  rk45 tol %.0e: error %.3e, %zu accepted, %zu rejected\n", tol, err, acc, rej);
        assert_true(err < 50.0 * tol);
        assert_true(err < err_prev || err < 1e-6);
        err_prev = err;
        pi_sampler_destroy(s);
    }
}

/* Independent DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in double, fed the same float
 * model inputs. */
static void test_exp2m_is_dpm_solver_pp_2m(void **state)
{
    fixture *f = *state;
    const size_t steps = 12;
    float out[N_ROWS * DIM];
    run_method(f, PI_METHOD_EXP2M, steps, PI_SCHEDULE_UNIFORM_LAMBDA, out);

    pi_sampler_t *s = NULL;
    double times[13];
    size_t count;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, steps), PI_OK);
    assert_int_equal(pi_sampler_get_times(s, 13, times, &count), PI_OK);
    assert_int_equal(count, steps + 1);
    pi_sampler_destroy(s);

    double x[N_ROWS * DIM], dprev[N_ROWS * DIM];
    float xf[N_ROWS * DIM], den[N_ROWS * DIM];
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        x[i] = f->x0[i];
    double h_prev = 0.0;
    for (size_t k = 0; k < steps; k++) {
        double a_s, s_s, a_t, s_t;
        pi_sde_marginal(f->sde, times[k], &a_s, &s_s);
        pi_sde_marginal(f->sde, times[k + 1], &a_t, &s_t);
        double lam_s = log(a_s / s_s), lam_t = log(a_t / s_t), h = lam_t - lam_s;
        for (size_t i = 0; i < N_ROWS * DIM; i++)
            xf[i] = (float)x[i];
        assert_int_equal(pi_model_eval_at(f->model, PI_VIEW_DENOISED, N_ROWS, xf, times[k], den),
                         PI_OK);
        for (size_t i = 0; i < N_ROWS * DIM; i++) {
            double d = den[i];
            if (k > 0) {
                double r = h_prev / h;
                d = (1.0 + 1.0 / (2.0 * r)) * den[i] - 1.0 / (2.0 * r) * dprev[i];
            }
            x[i] = (s_t / s_s) * x[i] - a_t * (exp(-h) - 1.0) * d;
            dprev[i] = den[i];
        }
        h_prev = h;
    }
    double maxdiff = 0.0;
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        maxdiff = fmax(maxdiff, fabs(x[i] - out[i]));
    printf("  exp2m vs DPM-Solver++(2M): max |diff| = %.3e\n", maxdiff);
    assert_true(maxdiff < 2e-5);
}

/* EXP1 at ħ = 0 is DDIM: x_t = α_t D + σ_t ε̂, ε̂ = (x_s − α_s D)/σ_s. */
static void test_exp1_is_ddim(void **state)
{
    fixture *f = *state;
    const size_t steps = 10;
    float out[N_ROWS * DIM];
    run_method(f, PI_METHOD_EXP1, steps, PI_SCHEDULE_UNIFORM_T, out);
    double t_min, t_max;
    pi_sde_time_range(f->sde, &t_min, &t_max);
    double x[N_ROWS * DIM];
    float xf[N_ROWS * DIM], den[N_ROWS * DIM];
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        x[i] = f->x0[i];
    for (size_t k = 0; k < steps; k++) {
        double ts = t_max + (t_min - t_max) * (double)k / steps;
        double tt = k + 1 == steps ? t_min : t_max + (t_min - t_max) * (double)(k + 1) / steps;
        double a_s, s_s, a_t, s_t;
        pi_sde_marginal(f->sde, ts, &a_s, &s_s);
        pi_sde_marginal(f->sde, tt, &a_t, &s_t);
        for (size_t i = 0; i < N_ROWS * DIM; i++)
            xf[i] = (float)x[i];
        assert_int_equal(pi_model_eval_at(f->model, PI_VIEW_DENOISED, N_ROWS, xf, ts, den), PI_OK);
        for (size_t i = 0; i < N_ROWS * DIM; i++) {
            double eps = (x[i] - a_s * den[i]) / s_s;
            x[i] = a_t * den[i] + s_t * eps;
        }
    }
    double maxdiff = 0.0;
    for (size_t i = 0; i < N_ROWS * DIM; i++)
        maxdiff = fmax(maxdiff, fabs(x[i] - out[i]));
    printf("  exp1 vs DDIM: max |diff| = %.3e\n", maxdiff);
    assert_true(maxdiff < 2e-5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_euler),
        cmocka_unit_test(test_order_exp1),
        cmocka_unit_test(test_order_exp2m),
        cmocka_unit_test(test_order_heun),
        cmocka_unit_test(test_order_exp3m),
        cmocka_unit_test(test_order_ipndm),
        cmocka_unit_test(test_order_unipc),
        cmocka_unit_test(test_order_sa),
        cmocka_unit_test(test_rk45_tolerance),
        cmocka_unit_test(test_exp2m_is_dpm_solver_pp_2m),
        cmocka_unit_test(test_exp1_is_ddim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
