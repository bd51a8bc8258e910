/* Forward SDEs (MATH.md §1): identities, inverses, simulated marginals, prior, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"
#include "pathint.h"
#include "sde/sde_impl.h"

static const pi_sde_kind builtin[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP,
                                      PI_SDE_KIND_VE, PI_SDE_KIND_EDM, PI_SDE_KIND_RECTIFIED_FLOW,
                                      PI_SDE_KIND_DISCRETE};

/* Custom SDEs reproducing VP linear with β from 0.1 to 20: by marginal and by (f, g). */
static int vp_marginal(double t, double *alpha, double *sigma, double *dalpha, double *dsigma,
                       void *user)
{
    (void)user;
    double b = 0.1 * t + 0.5 * 19.9 * t * t, beta = 0.1 + 19.9 * t;
    *alpha = exp(-0.5 * b);
    *sigma = sqrt(-expm1(-b));
    *dalpha = -0.5 * beta * *alpha;
    *dsigma = *sigma > 0 ? 0.5 * beta * exp(-b) / *sigma : 0.0;
    return 0;
}

static int vp_coefficients(double t, double *f, double *g, void *user)
{
    (void)user;
    double beta = 0.1 + 19.9 * t;
    *f = -0.5 * beta;
    *g = sqrt(beta);
    return 0;
}

static int failing_marginal(double t, double *a, double *s, double *da, double *ds, void *user)
{
    (void)t, (void)a, (void)s, (void)da, (void)ds;
    return *(int *)user;
}

static pi_sde_t *make(pi_sde_kind kind)
{
    pi_sde_t *sde = NULL;
    if (kind == PI_SDE_KIND_CUSTOM)
        assert_int_equal(pi_sde_create_custom(1e-3, 1.0, vp_marginal, NULL, NULL, &sde), PI_OK);
    else if (kind == PI_SDE_KIND_DISCRETE) /* Stable Diffusion's table */
        assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085,
                                                     0.012, 0, &sde),
                         PI_OK);
    else
        assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    return sde;
}

/* f = α'/α and g² = (σ²)' − 2fσ² by central differences (h = 1e-6 · scale, rel. tol 1e-6). */
static void check_identities(pi_sde_t *sde)
{
    double t0, t1;
    assert_int_equal(pi_sde_time_range(sde, &t0, &t1), PI_OK);
    for (int i = 1; i < 50; i++) {
        double t = t0 + (t1 - t0) * i / 50.0, h = 1e-6 * fmax(1.0, t);
        double ap, sp, am, sm, a, s, f, g;
        assert_int_equal(pi_sde_marginal(sde, t + h, &ap, &sp), PI_OK);
        assert_int_equal(pi_sde_marginal(sde, t - h, &am, &sm), PI_OK);
        assert_int_equal(pi_sde_marginal(sde, t, &a, &s), PI_OK);
        assert_int_equal(pi_sde_coefficients(sde, t, &f, &g), PI_OK);
        double f_fd = (ap - am) / (2 * h) / a;
        double g2_fd = (sp * sp - sm * sm) / (2 * h) - 2 * f * s * s;
        assert_true(fabs(f - f_fd) <= 1e-6 * fmax(1.0, fabs(f)));
        assert_true(fabs(g * g - g2_fd) <= 1e-6 * fmax(1.0, g * g));
        double st, lambda;
        assert_int_equal(pi_sde_sigma_tilde(sde, t, &st, &lambda), PI_OK);
        assert_true(fabs(st - s / a) <= 1e-13 * st);
        assert_true(fabs(lambda + log(st)) <= 1e-15 * fmax(1.0, fabs(lambda)));
    }
}

static void test_identities(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++) {
        pi_sde_t *sde = make(builtin[k]);
        check_identities(sde);
        pi_sde_destroy(sde);
    }
    pi_sde_t *sde = make(PI_SDE_KIND_CUSTOM);
    check_identities(sde);
    pi_sde_destroy(sde);
    /* Hirono et al.'s SIMPLE (β0 = 0) and COSINE (s = 0) settings. */
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 0.0), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01), PI_OK);
    check_identities(sde);
    pi_sde_destroy(sde);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_COSINE, &sde), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_COSINE_S, 0.0), PI_OK);
    check_identities(sde);
    double a, s, f, g, t = 0.3;
    assert_int_equal(pi_sde_marginal(sde, t, &a, &s), PI_OK);
    assert_int_equal(pi_sde_coefficients(sde, t, &f, &g), PI_OK);
    assert_true(fabs(a - cos(M_PI * t / 2)) < 1e-15);
    assert_true(fabs(f + M_PI / 2 * tan(M_PI * t / 2)) < 1e-13);
    assert_true(fabs(g * g + 2 * f) < 1e-13);
    pi_sde_destroy(sde);
}

/* Closed forms at t = 0.5 for the defaults. */
static void test_closed_forms(void **state)
{
    (void)state;
    pi_sde_t *sde = make(PI_SDE_KIND_VP_LINEAR);
    double a, s, f, g;
    assert_int_equal(pi_sde_marginal(sde, 0.5, &a, &s), PI_OK);
    double b = 0.1 * 0.5 + 0.5 * 19.9 * 0.25;
    assert_true(fabs(a - exp(-0.5 * b)) < 1e-15);
    assert_true(fabs(s - sqrt(1 - exp(-b))) < 1e-15);
    assert_int_equal(pi_sde_coefficients(sde, 0.5, &f, &g), PI_OK);
    assert_true(fabs(f + 0.5 * (0.1 + 19.9 * 0.5)) < 1e-14);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_SUBVP);
    assert_int_equal(pi_sde_marginal(sde, 0.5, &a, &s), PI_OK);
    assert_true(fabs(s - (1 - exp(-b))) < 1e-15);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_VE);
    assert_int_equal(pi_sde_marginal(sde, 0.5, &a, &s), PI_OK);
    assert_true(a == 1.0 && fabs(s - 0.01 * sqrt(5000.0)) < 1e-13);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_EDM);
    assert_int_equal(pi_sde_marginal(sde, 0.5, &a, &s), PI_OK);
    assert_true(a == 1.0 && s == 0.5);
    assert_int_equal(pi_sde_coefficients(sde, 0.5, &f, &g), PI_OK);
    assert_true(f == 0.0 && fabs(g * g - 1.0) < 1e-15);
    pi_sde_destroy(sde);
}

/* t(σ̃(t)) = t to 1e-12 relative over the range, including near t_min. Where the problem
 * itself is worse conditioned (VE near t = 0: σ̃ = σ_min e^{rt} carries t only in its last
 * bits), the bound is 1e-12 t plus the rounding of σ̃ propagated: 4 eps / (d log σ̃/dt). */
static void test_inverse(void **state)
{
    (void)state;
    pi_sde_kind kinds[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE, PI_SDE_KIND_EDM,
                           PI_SDE_KIND_CUSTOM, PI_SDE_KIND_RECTIFIED_FLOW, PI_SDE_KIND_DISCRETE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        pi_sde_t *sde = make(kinds[k]);
        double t0, t1;
        pi_sde_time_range(sde, &t0, &t1);
        for (int i = 0; i <= 200; i++) {
            double t = t0 * pow(t1 / t0, i / 200.0);
            double st, back = -1;
            assert_int_equal(pi_sde_sigma_tilde(sde, t, &st, NULL), PI_OK);
            assert_int_equal(pi_sde_time_from_sigma_tilde(sde, st, &back), PI_OK);
            pi_sde_point p;
            assert_int_equal(pi_sde_eval(sde, t, &p), PI_OK);
            double conditioning = 4 * 2.2e-16 / (p.g2 / (2 * p.sigma * p.sigma));
            assert_true(fabs(back - t) <= 1e-12 * t + conditioning);
            if (kinds[k] != PI_SDE_KIND_VE)
                assert_true(fabs(back - t) <= 1e-12 * t);
        }
        double st_max;
        pi_sde_sigma_tilde(sde, t1, &st_max, NULL);
        double t;
        assert_int_equal(pi_sde_time_from_sigma_tilde(sde, st_max * 1.01, &t), PI_EINVAL);
        assert_non_null(strstr(pi_last_error(), "sigma_tilde"));
        assert_int_equal(pi_sde_time_from_sigma_tilde(sde, NAN, &t), PI_EINVAL);
        pi_sde_destroy(sde);
    }
}

/* Simulate the forward SDE by Euler–Maruyama from x0 = 1.5 (10000 paths, 1000 steps, seed 7)
 * and compare mean and variance at t = T/2 and T with α x0 and σ² (+ σ(0)² for VE, whose
 * marginal at t = 0 is not a point mass). Tolerance: 5 standard errors + the O(h) bias. */
static void test_simulated_marginals(void **state)
{
    (void)state;
    const int quick = getenv("PI_TEST_QUICK") != NULL;
    const int paths = quick ? 2000 : 10000, steps = quick ? 500 : 1000;
    const double x0 = 1.5;
    for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++) {
        pi_sde_t *sde = make(builtin[k]);
        double t_end;
        pi_sde_time_range(sde, NULL, &t_end);
        /* VP cosine is stiff near T (f ~ −1/(T' − t)): explicit Euler–Maruyama stops at 0.9 T. */
        if (builtin[k] == PI_SDE_KIND_VP_COSINE || builtin[k] == PI_SDE_KIND_RECTIFIED_FLOW)
            t_end *= 0.9;
        double t_start = 0.0;
        double h = (t_end - t_start) / steps;
        double *x = malloc((size_t)paths * sizeof *x);
        assert_non_null(x);
        double s0 = 0.0, a0;
        pi_sde_marginal(sde, 0.0, &a0, &s0);
        for (int p = 0; p < paths; p++)
            x[p] = x0 + s0 * pi_rng_normal1(7, PI_STREAM_AUX, (uint64_t)p, 0, 0);
        for (int n = 0; n < steps; n++) {
            double t = t_start + n * h, f, g;
            pi_sde_point pt;
            assert_int_equal(pi_sde_eval(sde, t + 0.5 * h, &pt), PI_OK); /* midpoint coefficients */
            f = pt.f;
            g = sqrt(pt.g2);
            for (int p = 0; p < paths; p++)
                x[p] += f * x[p] * h + g * sqrt(h) * pi_rng_normal1(7, PI_STREAM_AUX, (uint64_t)p, (uint32_t)n + 1, 0);
            (void)t;
            if (n + 1 == steps / 2 || n + 1 == steps) {
                double te = fmin(t_start + (n + 1) * h, t_end), a, s;
                assert_int_equal(pi_sde_marginal(sde, te, &a, &s), PI_OK);
                double mean = 0, var = 0;
                for (int p = 0; p < paths; p++)
                    mean += x[p];
                mean /= paths;
                for (int p = 0; p < paths; p++)
                    var += (x[p] - mean) * (x[p] - mean);
                var /= paths - 1;
                double se_mean = s / sqrt(paths), se_var = s * s * sqrt(2.0 / paths);
                assert_true(fabs(mean - a * x0) < 5 * se_mean + 1e-3 * fabs(a * x0) + 1e-9);
                assert_true(fabs(var - s * s) < 5 * se_var + 2e-3 * s * s);
            }
        }
        free(x);
        pi_sde_destroy(sde);
    }
}

static void test_custom(void **state)
{
    (void)state;
    pi_sde_t *ref = make(PI_SDE_KIND_VP_LINEAR), *by_fg = NULL, *by_m = make(PI_SDE_KIND_CUSTOM);
    assert_int_equal(pi_sde_create_custom(1e-3, 1.0, NULL, vp_coefficients, NULL, &by_fg), PI_OK);
    for (int i = 0; i <= 100; i++) {
        double t = i / 100.0, a0, s0, a1, s1, a2, s2;
        pi_sde_marginal(ref, t, &a0, &s0);
        pi_sde_marginal(by_fg, t, &a1, &s1);
        pi_sde_marginal(by_m, t, &a2, &s2);
        assert_true(fabs(a1 - a0) < 1e-9 && fabs(s1 - s0) < 1e-9);
        assert_true(fabs(a2 - a0) < 1e-15 && fabs(s2 - s0) < 1e-15);
    }
    pi_sde_kind kind;
    assert_int_equal(pi_sde_get_kind(by_fg, &kind), PI_OK);
    assert_int_equal(kind, PI_SDE_KIND_CUSTOM);
    double std;
    assert_int_equal(pi_sde_prior_std(by_fg, &std), PI_OK);
    assert_true(fabs(std - sqrt(-expm1(-10.05))) < 1e-9);
    pi_sde_t *clone = NULL;
    assert_int_equal(pi_sde_clone(by_fg, &clone), PI_OK);
    double a, s;
    pi_sde_marginal(clone, 0.5, &a, &s);
    pi_sde_marginal(by_fg, 0.5, &std, NULL);
    assert_true(a == std);
    pi_sde_destroy(clone);
    /* Callback failures are reported at creation. */
    int code = 3;
    pi_sde_t *bad = (pi_sde_t *)0x1;
    assert_int_equal(pi_sde_create_custom(0, 1, failing_marginal, NULL, &code, &bad), PI_ECALLBACK);
    assert_true(bad == (pi_sde_t *)0x1);
    assert_int_equal(pi_sde_create_custom(0, 1, vp_marginal, vp_coefficients, NULL, &bad), PI_EINVAL);
    assert_int_equal(pi_sde_create_custom(0, 1, NULL, NULL, NULL, &bad), PI_EINVAL);
    assert_int_equal(pi_sde_create_custom(1, 0.5, vp_marginal, NULL, NULL, &bad), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "t_min"));
    assert_int_equal(pi_sde_create_custom(NAN, 1, vp_marginal, NULL, NULL, &bad), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(by_m, PI_SDE_PARAM_T_MAX, 2.0), PI_EINVAL);
    pi_sde_destroy(ref);
    pi_sde_destroy(by_fg);
    pi_sde_destroy(by_m);
}

static void test_prior(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++) {
        pi_sde_t *sde = make(builtin[k]);
        double std;
        assert_int_equal(pi_sde_prior_std(sde, &std), PI_OK);
        enum { N = 4000, D = 3 };
        static float x[N * D], y[N * D];
        assert_int_equal(pi_sde_prior_sample(sde, N, D, 11, x), PI_OK);
        /* Row i depends only on (seed, i). */
        assert_int_equal(pi_sde_prior_sample(sde, 10, D, 11, y), PI_OK);
        assert_memory_equal(x, y, 10 * D * sizeof(float));
        double ss = 0;
        for (int i = 0; i < N * D; i++)
            ss += (double)x[i] * x[i];
        double var = ss / (N * D);
        assert_true(fabs(var / (std * std) - 1) < 5 * sqrt(2.0 / (N * D)));
        double lp[5];
        assert_int_equal(pi_sde_prior_logpdf(sde, 5, D, x, lp), PI_OK);
        for (int i = 0; i < 5; i++) {
            double expect = 0;
            for (int j = 0; j < D; j++) {
                double v = x[i * D + j];
                expect += -0.5 * v * v / (std * std) - log(std) - 0.5 * log(2 * M_PI);
            }
            assert_true(fabs(lp[i] - expect) < 1e-12 * fmax(1, fabs(expect)));
        }
        pi_sde_destroy(sde);
    }
}

static void test_params(void **state)
{
    (void)state;
    pi_sde_t *sde = make(PI_SDE_KIND_VP_LINEAR);
    double v;
    assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_BETA_MAX, &v), PI_OK);
    assert_true(v == 20.0);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 30.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "beta_min"));
    assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_BETA_MIN, &v), PI_OK);
    assert_true(v == 0.1); /* unchanged after failure */
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 40.0), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 30.0), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, -1.0), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, NAN), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "finite"));
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 3.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "does not apply"));
    assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_SIGMA_MAX, &v), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, (pi_sde_param)99, 3.0), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 2.0), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 1e6), PI_EINVAL);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_VE);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MIN, 0.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "sigma_min"));
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 0.005), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 100.0), PI_OK);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_EDM);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 100.0), PI_OK);
    double t1;
    pi_sde_time_range(sde, NULL, &t1);
    assert_true(t1 == 100.0);
    pi_sde_destroy(sde);
    sde = make(PI_SDE_KIND_VP_COSINE);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0), PI_EINVAL);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_COSINE_S, -0.1), PI_EINVAL);
    pi_sde_destroy(sde);
}

static void test_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_CUSTOM, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "pi_sde_create_custom"));
    assert_int_equal(pi_sde_create((pi_sde_kind)0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VE, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "out"));
    assert_null(sde);
    pi_sde_destroy(NULL);
    sde = make(PI_SDE_KIND_VP_LINEAR);
    double a, f;
    float x[4] = {0, 1, NAN, 2};
    double lp[2];
    assert_int_equal(pi_sde_marginal(NULL, 0.5, &a, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "sde"));
    assert_int_equal(pi_sde_marginal(sde, NAN, &a, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "t must be"));
    assert_int_equal(pi_sde_marginal(sde, 1.5, &a, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_marginal(sde, -0.1, &a, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_coefficients(sde, INFINITY, &f, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_sigma_tilde(sde, 2.0, &a, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_time_from_sigma_tilde(sde, 1.0, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_time_from_sigma_tilde(sde, -1.0, &a), PI_EINVAL);
    assert_int_equal(pi_sde_prior_std(sde, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_prior_sample(sde, 0, 2, 1, (float *)x), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "n >= 1"));
    assert_int_equal(pi_sde_prior_sample(sde, 2, 0, 1, (float *)x), PI_EINVAL);
    assert_int_equal(pi_sde_prior_sample(sde, SIZE_MAX, 2, 1, (float *)x), PI_EINVAL);
    assert_int_equal(pi_sde_prior_sample(sde, 2, 2, 1, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_prior_logpdf(sde, 2, 2, x, lp), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "row 1"));
    assert_int_equal(pi_sde_prior_logpdf(sde, 2, 2, NULL, lp), PI_EINVAL);
    assert_int_equal(pi_sde_prior_logpdf(sde, 2, 2, x, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_get_kind(NULL, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_time_range(NULL, NULL, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_clone(sde, NULL), PI_EINVAL);
    assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_BETA_MIN, NULL), PI_EINVAL);
    /* t = 0 is valid for marginals: α = 1, σ = 0 for the VP family. */
    double s;
    assert_int_equal(pi_sde_marginal(sde, 0.0, &a, &s), PI_OK);
    assert_true(a == 1.0 && s == 0.0);
    pi_sde_destroy(sde);
}

/* The presets by hand, as the command-line program and the reproduction examples built them
 * before the library had presets: the same values, so the reproduction numbers cannot move. */
static pi_sde_t *hand_built(pi_sde_preset preset)
{
    pi_sde_t *sde = NULL;
    if (preset == PI_SDE_PRESET_SIMPLE) {
        assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 0.0), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 20.0), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01), PI_OK);
    } else {
        assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_COSINE, &sde), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_COSINE_S, 0.0), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0 - 1e-3), PI_OK);
        assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01), PI_OK);
    }
    return sde;
}

static void test_presets(void **state)
{
    (void)state;
    const pi_sde_preset presets[] = {PI_SDE_PRESET_SIMPLE, PI_SDE_PRESET_COSINE};
    const pi_sde_kind kinds[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE};
    const double t_max[] = {1.0, 1.0 - 1e-3};
    for (size_t k = 0; k < 2; k++) {
        pi_sde_t *sde = NULL, *ref = hand_built(presets[k]);
        assert_int_equal(pi_sde_create_preset(presets[k], &sde), PI_OK);
        assert_true(pi_sde_equal(sde, ref));
        pi_sde_kind kind = 0;
        assert_int_equal(pi_sde_get_kind(sde, &kind), PI_OK);
        assert_int_equal(kind, kinds[k]);
        double t0, t1, v;
        assert_int_equal(pi_sde_time_range(sde, &t0, &t1), PI_OK);
        assert_true(t0 == 0.01 && t1 == t_max[k]);
        if (kind == PI_SDE_KIND_VP_LINEAR) {
            assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_BETA_MIN, &v), PI_OK);
            assert_true(v == 0.0);
            assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_BETA_MAX, &v), PI_OK);
            assert_true(v == 20.0);
        } else {
            assert_int_equal(pi_sde_get_param(sde, PI_SDE_PARAM_COSINE_S, &v), PI_OK);
            assert_true(v == 0.0);
        }
        /* α and σ bit for bit, at the ends and inside the range. */
        for (int i = 0; i <= 20; i++) {
            double t = i == 20 ? t1 : t0 + (t1 - t0) * i / 20.0, a, s, ar, sr;
            assert_int_equal(pi_sde_marginal(sde, t, &a, &s), PI_OK);
            assert_int_equal(pi_sde_marginal(ref, t, &ar, &sr), PI_OK);
            assert_true(a == ar && s == sr);
        }
        check_identities(sde);
        pi_sde_destroy(ref);
        pi_sde_destroy(sde);
    }
    /* α at t = 1 for SIMPLE: exp(−½ ∫0^1 20 t dt) = exp(−5). */
    pi_sde_t *sde = NULL;
    double a;
    assert_int_equal(pi_sde_create_preset(PI_SDE_PRESET_SIMPLE, &sde), PI_OK);
    assert_int_equal(pi_sde_marginal(sde, 1.0, &a, NULL), PI_OK);
    assert_true(fabs(a - exp(-5.0)) < 1e-15);
    pi_sde_destroy(sde);

    sde = NULL;
    assert_int_equal(pi_sde_create_preset((pi_sde_preset)0, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "PI_SDE_PRESET_SIMPLE"));
    assert_int_equal(pi_sde_create_preset((pi_sde_preset)3, &sde), PI_EINVAL);
    assert_null(sde);
    assert_int_equal(pi_sde_create_preset(PI_SDE_PRESET_COSINE, NULL), PI_EINVAL);
}

static void test_names(void **state)
{
    (void)state;
    const char *expected[] = {"vp", "vp-cosine", "subvp", "ve", "edm", "simple", "cosine",
                              "rectified_flow"};
    const size_t count = sizeof expected / sizeof expected[0];
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL, *description = NULL;
        assert_int_equal(pi_sde_name_at(i, &name, &description), PI_OK);
        assert_string_equal(name, expected[i]);
        assert_non_null(description);
        assert_true(strlen(description) > 10);
        assert_int_equal(pi_sde_name_at(i, &name, NULL), PI_OK); /* description is optional */
        /* The name creates what it names: a kind with its defaults, or the preset. */
        pi_sde_t *sde = NULL, *ref = NULL;
        assert_int_equal(pi_sde_create_named(name, &sde), PI_OK);
        if (i < 5)
            assert_int_equal(pi_sde_create(builtin[i], &ref), PI_OK);
        else if (i == 7)
            assert_int_equal(pi_sde_create(PI_SDE_KIND_RECTIFIED_FLOW, &ref), PI_OK);
        else
            assert_int_equal(pi_sde_create_preset(i == 5 ? PI_SDE_PRESET_SIMPLE : PI_SDE_PRESET_COSINE, &ref),
                             PI_OK);
        assert_true(pi_sde_equal(sde, ref));
        pi_sde_destroy(ref);
        pi_sde_destroy(sde);
    }
    const char *name = "untouched", *description = "untouched";
    assert_int_equal(pi_sde_name_at(count, &name, &description), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "past the end"));
    assert_int_equal(pi_sde_name_at(SIZE_MAX, &name, &description), PI_EINVAL);
    assert_string_equal(name, "untouched");
    assert_string_equal(description, "untouched");
    assert_int_equal(pi_sde_name_at(0, NULL, &description), PI_EINVAL);

    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create_named("nope", &sde), PI_EINVAL);
    assert_null(sde);
    const char *message = pi_last_error();
    assert_non_null(strstr(message, "'nope'"));
    for (size_t i = 0; i < count; i++)
        assert_non_null(strstr(message, expected[i]));
    assert_int_equal(pi_sde_create_named("SIMPLE", &sde), PI_EINVAL); /* names are case-sensitive */
    assert_int_equal(pi_sde_create_named("", &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_named(NULL, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_named("simple", NULL), PI_EINVAL);
    assert_null(sde);
}

/* ---- issue 14: rectified flow, discrete ᾱ tables, host timesteps, shifts ---------------- */

static void test_rectified_flow(void **state)
{
    (void)state;
    pi_sde_t *sde = make(PI_SDE_KIND_RECTIFIED_FLOW);
    double t0, t1;
    assert_int_equal(pi_sde_time_range(sde, &t0, &t1), PI_OK);
    assert_true(t0 == 1e-3 && t1 == 1.0 - 1e-3);
    for (int i = 1; i < 20; i++) {
        double t = i / 20.0, a, s, f, g, st;
        assert_int_equal(pi_sde_marginal(sde, t, &a, &s), PI_OK);
        assert_true(a == 1.0 - t && s == t);
        assert_int_equal(pi_sde_coefficients(sde, t, &f, &g), PI_OK);
        assert_true(fabs(f + 1.0 / (1.0 - t)) < 1e-14 * fabs(f));
        assert_true(fabs(g * g - 2.0 * t / (1.0 - t)) < 1e-14 * g * g);
        assert_int_equal(pi_sde_sigma_tilde(sde, t, &st, NULL), PI_OK);
        assert_true(fabs(st - t / (1.0 - t)) < 1e-15 * st);
    }
    double std;
    assert_int_equal(pi_sde_prior_std(sde, &std), PI_OK);
    assert_true(std == 1.0);
    /* α(1) = 0 makes λ infinite: t_max stays below 1. */
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "t_max < 1"));
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0 - 1e-6), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 0.1), PI_EINVAL);
    /* The host timestep of SD3/Flux pipelines: 1000 t. */
    double tau, back;
    assert_int_equal(pi_sde_timestep_from_time(sde, 0.25, &tau), PI_OK);
    assert_true(tau == 250.0);
    assert_int_equal(pi_sde_time_from_timestep(sde, 750.0, &back), PI_OK);
    assert_true(back == 0.75);
    assert_int_equal(pi_sde_time_from_timestep(sde, 1000.0, &back), PI_EINVAL);
    pi_sde_destroy(sde);
}

/* diffusers' alphas_cumprod, written out from the definitions in double. */
static void reference_table(pi_beta_schedule schedule, size_t n, double b0, double b1, double *abar)
{
    double prod = 1.0;
    for (size_t i = 0; i < n; i++) {
        double beta, u = (double)i / (double)(n - 1);
        if (schedule == PI_BETA_SCHEDULE_LINEAR)
            beta = b0 + u * (b1 - b0);
        else if (schedule == PI_BETA_SCHEDULE_SCALED_LINEAR)
            beta = pow(sqrt(b0) + u * (sqrt(b1) - sqrt(b0)), 2);
        else {
            double c1 = cos(((double)i / n + 0.008) / 1.008 * M_PI / 2);
            double c2 = cos(((double)(i + 1) / n + 0.008) / 1.008 * M_PI / 2);
            beta = fmin(1.0 - c2 * c2 / (c1 * c1), 0.999);
        }
        prod *= 1.0 - beta;
        abar[i] = prod;
    }
}

static void test_discrete_nodes(void **state)
{
    (void)state;
    enum { N = 1000 };
    static double ref[N], got[N];
    const pi_beta_schedule schedules[3] = {PI_BETA_SCHEDULE_LINEAR, PI_BETA_SCHEDULE_SCALED_LINEAR,
                                           PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2};
    const double b0[3] = {1e-4, 0.00085, 0}, b1[3] = {0.02, 0.012, 0};
    for (int k = 0; k < 3; k++) {
        reference_table(schedules[k], N, b0[k], b1[k], ref);
        pi_sde_t *sde = NULL, *direct = NULL;
        assert_int_equal(pi_sde_create_beta_schedule(schedules[k], N, b0[k], b1[k], 0, &sde), PI_OK);
        assert_int_equal(pi_sde_create_discrete(ref, N, &direct), PI_OK);
        size_t count = 0;
        assert_int_equal(pi_sde_get_alphas_cumprod(sde, N, got, &count), PI_OK);
        assert_int_equal(count, N);
        pi_sde_kind kind;
        assert_int_equal(pi_sde_get_kind(sde, &kind), PI_OK);
        assert_int_equal(kind, PI_SDE_KIND_DISCRETE);
        double t0, t1;
        assert_int_equal(pi_sde_time_range(sde, &t0, &t1), PI_OK);
        assert_true(t0 == 1.0 / N && t1 == 1.0);
        for (size_t i = 0; i < N; i++) {
            assert_true(fabs(got[i] - ref[i]) <= 1e-12 * ref[i]);
            /* α at table index i (t = (i + 1)/N) is √ᾱ_i to 1e-12, on both SDEs. */
            double t = (double)(i + 1) / N, a, s, a2, tau;
            assert_int_equal(pi_sde_marginal(sde, t, &a, &s), PI_OK);
            assert_int_equal(pi_sde_marginal(direct, t, &a2, NULL), PI_OK);
            assert_true(fabs(a - sqrt(ref[i])) <= 1e-12);
            assert_true(fabs(a2 - sqrt(ref[i])) <= 1e-12);
            assert_true(fabs(s - sqrt(1.0 - ref[i])) <= 1e-12);
            assert_int_equal(pi_sde_timestep_from_time(sde, t, &tau), PI_OK);
            assert_true(fabs(tau - (double)i) < 1e-9);
        }
        /* Between the nodes log σ̃² is monotone: σ̃ increases on a fine grid. */
        double prev = 0.0;
        for (int j = 0; j <= 20000; j++) {
            double t = j / 20000.0, st;
            assert_int_equal(pi_sde_sigma_tilde(sde, t, &st, NULL), PI_OK);
            assert_true(j == 0 ? st == 0.0 : st > prev);
            prev = st;
        }
        pi_sde_destroy(sde);
        pi_sde_destroy(direct);
    }
}

static void test_discrete_zero_snr(void **state)
{
    (void)state;
    enum { N = 1000 };
    static double ref[N], got[N];
    reference_table(PI_BETA_SCHEDULE_SCALED_LINEAR, N, 0.00085, 0.012, ref);
    /* diffusers' rescale_zero_terminal_snr, in √ᾱ. */
    double s0 = sqrt(ref[0]), sT = sqrt(ref[N - 1]);
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, N, 0.00085, 0.012,
                                                 PI_BETA_FLAG_ZERO_TERMINAL_SNR, &sde),
                     PI_OK);
    size_t count;
    assert_int_equal(pi_sde_get_alphas_cumprod(sde, N, got, &count), PI_OK);
    assert_true(got[N - 1] == 0.0);
    assert_true(fabs(got[0] - ref[0]) < 1e-15);
    for (size_t i = 0; i + 1 < N; i++) {
        double r = (sqrt(ref[i]) - sT) * s0 / (s0 - sT);
        assert_true(fabs(got[i] - r * r) <= 1e-12 * r * r + 1e-300);
    }
    /* The last node is read as ᾱ = 2^-24: finite λ, sampling works from t = 1. */
    double a, s;
    assert_int_equal(pi_sde_marginal(sde, 1.0, &a, &s), PI_OK);
    assert_true(fabs(a * a - ldexp(1.0, -24)) < 1e-12 * ldexp(1.0, -24));
    pi_sde_destroy(sde);
}

static void test_discrete_spacing(void **state)
{
    (void)state;
    pi_sde_t *sde = make(PI_SDE_KIND_DISCRETE);
    double times[16];
    size_t count = 0;
    /* diffusers, N = 1000, 10 steps: leading (steps_offset 1) 901, 801, ..., 1; trailing 999,
     * 899, ..., 99; linspace round(linspace(0, 999, 10)) reversed = 999, 888, ..., 111, 0. */
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_LEADING, 10, 1, 16, times, &count),
                     PI_OK);
    assert_int_equal(count, 11);
    for (int k = 0; k < 10; k++)
        assert_true(fabs(times[k] - (901.0 - 100.0 * k + 1.0) / 1000.0) < 1e-15);
    assert_true(times[10] == 1e-3);
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_TRAILING, 10, 0, 16, times, &count),
                     PI_OK);
    assert_int_equal(count, 11);
    for (int k = 0; k < 10; k++)
        assert_true(fabs(times[k] - (999.0 - 100.0 * k + 1.0) / 1000.0) < 1e-15);
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_LINSPACE, 10, 0, 16, times, &count),
                     PI_OK);
    assert_int_equal(count, 10); /* the last timestep is already 0 */
    for (int k = 0; k < 10; k++)
        assert_true(fabs(times[k] - (999.0 - 111.0 * k + 1.0) / 1000.0) < 1e-15);
    /* Conventions that do not fit: nothing written. */
    times[0] = -7;
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_LEADING, 10, 200, 16, times, &count),
                     PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "does not fit"));
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_TRAILING, 10, 1, 16, times, &count),
                     PI_EINVAL);
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_TRAILING, 1001, 0, 2000, times, &count),
                     PI_EINVAL);
    assert_int_equal(pi_sde_discrete_times(sde, PI_TIMESTEP_SPACING_TRAILING, 10, 0, 10, times, &count),
                     PI_EINVAL);
    assert_int_equal(pi_sde_discrete_times(sde, (pi_timestep_spacing)4, 10, 0, 16, times, &count),
                     PI_EINVAL);
    assert_true(times[0] == -7);
    pi_sde_t *rf = make(PI_SDE_KIND_RECTIFIED_FLOW);
    assert_int_equal(pi_sde_discrete_times(rf, PI_TIMESTEP_SPACING_TRAILING, 10, 0, 16, times, &count),
                     PI_EINVAL);
    double tau;
    assert_int_equal(pi_sde_time_from_timestep(sde, 999.5, &tau), PI_EINVAL);
    assert_int_equal(pi_sde_time_from_timestep(sde, 499.5, &tau), PI_OK);
    assert_true(fabs(tau - 0.5005) < 1e-15);
    pi_sde_t *vp = make(PI_SDE_KIND_VP_LINEAR);
    assert_int_equal(pi_sde_timestep_from_time(vp, 0.5, &tau), PI_EINVAL);
    pi_sde_destroy(vp);
    pi_sde_destroy(rf);
    pi_sde_destroy(sde);
}

static void test_discrete_bad_tables(void **state)
{
    (void)state;
    pi_sde_t *sde = (pi_sde_t *)0x1;
    const double up[3] = {0.9, 0.95, 0.5}, one[3] = {1.0, 0.9, 0.5}, neg[3] = {0.9, 0.5, -0.1};
    const double nan3[3] = {0.9, NAN, 0.5}, zero_mid[3] = {0.9, 0.0, 0.0}, ok[2] = {0.9, 0.0};
    assert_int_equal(pi_sde_create_discrete(up, 3, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "decreasing"));
    assert_int_equal(pi_sde_create_discrete(one, 3, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "(0, 1)"));
    assert_int_equal(pi_sde_create_discrete(neg, 3, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_discrete(nan3, 3, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "finite"));
    assert_int_equal(pi_sde_create_discrete(zero_mid, 3, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_discrete(up, 1, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "n <="));
    assert_int_equal(pi_sde_create_discrete(NULL, 3, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_DISCRETE, &sde), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "pi_sde_create_discrete"));
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 0.02, 0.01, 0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 0.0, 0.01, 0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 1e-4, 1.0, 0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1, 1e-4, 0.02, 0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_beta_schedule((pi_beta_schedule)4, 1000, 1e-4, 0.02, 0, &sde), PI_EINVAL);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 1e-4, 0.02, 2u, &sde), PI_EINVAL);
    assert_true(sde == (pi_sde_t *)0x1);
    sde = NULL;
    assert_int_equal(pi_sde_create_discrete(ok, 2, &sde), PI_OK); /* zero terminal SNR, N = 2 */
    double a;
    assert_int_equal(pi_sde_marginal(sde, 0.75, &a, NULL), PI_OK);
    assert_true(a > 0.0 && a < sqrt(0.9));
    size_t count = 0;
    double small[1];
    assert_int_equal(pi_sde_get_alphas_cumprod(sde, 1, small, &count), PI_EINVAL);
    assert_int_equal(pi_sde_get_alphas_cumprod(sde, 0, NULL, &count), PI_OK);
    assert_int_equal(count, 2);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.5), PI_EINVAL);
    pi_sde_t *clone = NULL;
    assert_int_equal(pi_sde_clone(sde, &clone), PI_OK);
    assert_true(pi_sde_equal(sde, clone));
    pi_sde_destroy(clone);
    pi_sde_destroy(sde);
}

static void test_shift(void **state)
{
    (void)state;
    pi_sde_t *rf = make(PI_SDE_KIND_RECTIFIED_FLOW);
    /* Static shift s = 3 (SD3): σ ↦ 3σ/(1 + 2σ); t_max clamps, 0 stays. */
    double t[5] = {0.999, 0.5, 0.25, 0.001, 0.0};
    assert_int_equal(pi_sde_shift_times(rf, 3.0, 5, t), PI_OK);
    const double in[5] = {0.999, 0.5, 0.25, 0.001, 0.0};
    assert_true(t[0] == 0.999);
    for (int i = 1; i < 5; i++) {
        double expect = 3.0 * in[i] / (1.0 + 2.0 * in[i]);
        assert_true(fabs(t[i] - expect) <= 1e-14 * fmax(expect, 1e-300));
    }
    /* Resolution-dependent shift (Flux): μ linear in L through (256, 0.5), (4096, 1.15). */
    double s;
    assert_int_equal(pi_shift_from_sequence_length(256, 256, 4096, 0.5, 1.15, &s), PI_OK);
    assert_true(fabs(s - exp(0.5)) < 1e-15 * s);
    assert_int_equal(pi_shift_from_sequence_length(4096, 256, 4096, 0.5, 1.15, &s), PI_OK);
    assert_true(fabs(s - exp(1.15)) < 1e-14 * s);
    assert_int_equal(pi_shift_from_sequence_length(1024, 256, 4096, 0.5, 1.15, &s), PI_OK);
    double mu = 0.5 + 0.65 * 768.0 / 3840.0;
    assert_true(fabs(s - exp(mu)) < 1e-14 * s);
    double u[3] = {0.9, 0.4, 0.05};
    assert_int_equal(pi_sde_shift_times(rf, s, 3, u), PI_OK);
    const double uin[3] = {0.9, 0.4, 0.05};
    for (int i = 0; i < 3; i++) {
        double expect = exp(mu) / (exp(mu) + (1.0 / uin[i] - 1.0));
        assert_true(fabs(u[i] - expect) < 1e-14);
    }
    /* On any schedule: σ̃ ↦ s σ̃ (here VP linear and a discrete table). */
    pi_sde_kind kinds[2] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_DISCRETE};
    for (int k = 0; k < 2; k++) {
        pi_sde_t *sde = make(kinds[k]);
        double v[4] = {0.8, 0.5, 0.2, 0.05}, before[4];
        memcpy(before, v, sizeof v);
        assert_int_equal(pi_sde_shift_times(sde, 2.5, 4, v), PI_OK);
        for (int i = 0; i < 4; i++) {
            double s0, s1;
            pi_sde_sigma_tilde(sde, before[i], &s0, NULL);
            pi_sde_sigma_tilde(sde, v[i], &s1, NULL);
            assert_true(fabs(s1 - 2.5 * s0) < 1e-10 * s1);
        }
        pi_sde_destroy(sde);
    }
    /* Bad input: nothing changed. */
    double w[3] = {0.99, 0.98, 0.5};
    assert_int_equal(pi_sde_shift_times(rf, 50.0, 3, w), PI_EINVAL); /* two times reach t_max */
    assert_non_null(strstr(pi_last_error(), "t_max"));
    assert_true(w[0] == 0.99 && w[1] == 0.98 && w[2] == 0.5);
    assert_int_equal(pi_sde_shift_times(rf, 0.0, 3, w), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "shift"));
    assert_int_equal(pi_sde_shift_times(rf, -1.0, 3, w), PI_EINVAL);
    assert_int_equal(pi_sde_shift_times(rf, NAN, 3, w), PI_EINVAL);
    double unordered[2] = {0.2, 0.5};
    assert_int_equal(pi_sde_shift_times(rf, 2.0, 2, unordered), PI_EINVAL);
    assert_int_equal(pi_shift_from_sequence_length(0, 256, 4096, 0.5, 1.15, &s), PI_EINVAL);
    assert_int_equal(pi_shift_from_sequence_length(100, 256, 256, 0.5, 1.15, &s), PI_EINVAL);
    assert_int_equal(pi_shift_from_sequence_length(100, 256, 4096, NAN, 1.15, &s), PI_EINVAL);
    assert_int_equal(pi_shift_from_sequence_length(1e9, 256, 4096, 0.5, 1.15, &s), PI_EINVAL);
    pi_sde_destroy(rf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identities),  cmocka_unit_test(test_closed_forms),
        cmocka_unit_test(test_inverse),     cmocka_unit_test(test_simulated_marginals),
        cmocka_unit_test(test_custom),      cmocka_unit_test(test_prior),
        cmocka_unit_test(test_params),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_presets),     cmocka_unit_test(test_names),
        cmocka_unit_test(test_rectified_flow), cmocka_unit_test(test_discrete_nodes),
        cmocka_unit_test(test_discrete_zero_snr), cmocka_unit_test(test_discrete_spacing),
        cmocka_unit_test(test_discrete_bad_tables), cmocka_unit_test(test_shift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
