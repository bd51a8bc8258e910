/* The WKB coefficient c1 (MATH.md §4): both algorithms against the exact 1-D Gaussian case
 * (variance ODE of q^ħ solved here by RK4 and differentiated in ħ), c1 = 0 for exact mixture
 * scores, sweep against reference on a perturbed 2-D mixture, and their cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "warped_model.h"
#include "likelihood/likelihood_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static pi_sde_t *make_vp(void)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    return sde;
}

/* VP with β(1) = 80: α(T) = e^−20, so p_T equals the prior π to ~1e-9. An exact score has
 * c1 = 0 only if p_T = π: the prior mismatch alone (q^ħ_T = π ≠ p_T) gives c1 ≈ 3e-2 for a
 * mixture with means O(1) and variances ~0.1 at the default β(1) = 20, 4e-4 at β(1) = 40,
 * 4e-8 at β(1) = 80 (measured). */
static pi_sde_t *make_vp_long(void)
{
    pi_sde_t *sde = make_vp();
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 80.0), PI_OK);
    return sde;
}

/* ---- the exact 1-D model: data N(0, v0), score s = −(1+ε) x / v_t, v_t = α² v0 + σ² ---- */

typedef struct linear_model {
    double eps, v0;
} linear_model;

static double linear_gain(const pi_model_t *m, double t)
{
    const linear_model *lm = m->impl;
    pi_sde_point p;
    pi_sde_eval(&m->sde, t, &p);
    return -(1.0 + lm->eps) / (p.alpha * p.alpha * lm->v0 + p.sigma * p.sigma);
}

static pi_status linear_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                             float *out, const pi_eval_ctx *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(linear_gain(m, t[i]) * x[i]);
    return PI_OK;
}

static pi_status linear_score(const pi_model_t *m, const double *x, double t, double *s)
{
    s[0] = linear_gain(m, t) * x[0];
    return PI_OK;
}

static pi_status linear_jvp(const pi_model_t *m, const double *x, double t, const double *v,
                            double *out)
{
    (void)x;
    out[0] = linear_gain(m, t) * v[0];
    return PI_OK;
}

static pi_status linear_jac(const pi_model_t *m, const double *x, double t, double *out)
{
    (void)x;
    out[0] = linear_gain(m, t);
    return PI_OK;
}

static pi_status linear_zero(const pi_model_t *m, const double *x, double t, double *out)
{
    (void)m, (void)x, (void)t;
    out[0] = 0.0;
    return PI_OK;
}

static void linear_destroy(pi_model_t *m) { free(m->impl); }

static const struct pi_model_type linear_type = {
    .name = "test-linear", .kind = PI_MODEL_KIND_CALLBACK, .eval = linear_eval,
    .score_d = linear_score, .jvp_d = linear_jvp, .jacobian_d = linear_jac,
    .divergence_d = linear_jac, .grad_div_d = linear_zero, .hessians_d = linear_zero,
    .hess_div_d = linear_zero, .destroy = linear_destroy,
};

static pi_model_t *make_linear(const pi_sde_t *sde, double eps, double v0)
{
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_alloc(&linear_type, sde, 1, PI_VIEW_SCORE, &m), PI_OK);
    linear_model *lm = malloc(sizeof *lm);
    lm->eps = eps;
    lm->v0 = v0;
    m->impl = lm;
    return m;
}

/* Exact −log q^ħ_{t_min}(x0). The ħ-sampler's density is Gaussian with variance w(t); from the
 * continuity equation with velocity v = a x − ħ (g²/2) ∂log q, a = f + (1+ħ)(1+ε) g²/(2 v_t):
 *   dw/dt = 2 a w − ħ g²,   w(T) = 1 (the prior),
 * integrated backward from T to t_min by RK4 with many steps. */
static double exact_w_rhs(const pi_sde_t *sde, double eps, double v0, double hbar, double t,
                          double w)
{
    pi_sde_point p;
    pi_sde_eval(sde, t, &p);
    double vt = p.alpha * p.alpha * v0 + p.sigma * p.sigma;
    double a = p.f + (1.0 + hbar) * (1.0 + eps) * p.g2 / (2.0 * vt);
    return 2.0 * a * w - hbar * p.g2;
}

static double exact_nll(const pi_sde_t *sde, double eps, double v0, double hbar, double x0)
{
    const size_t steps = 20000;
    double t = sde->t_max, h = (sde->t_min - sde->t_max) / (double)steps, w = 1.0;
    for (size_t i = 0; i < steps; i++) {
        double k1 = exact_w_rhs(sde, eps, v0, hbar, t, w);
        double k2 = exact_w_rhs(sde, eps, v0, hbar, t + 0.5 * h, w + 0.5 * h * k1);
        double k3 = exact_w_rhs(sde, eps, v0, hbar, t + 0.5 * h, w + 0.5 * h * k2);
        double k4 = exact_w_rhs(sde, eps, v0, hbar, t + h, w + h * k3);
        w += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        t = sde->t_max + (double)(i + 1) * h;
    }
    return 0.5 * log(2.0 * M_PI * w) + 0.5 * x0 * x0 / w;
}

/* c1 = −d NLL/dħ at ħ = 0: central differences with fine steps 2δ and δ, Richardson-
 * extrapolated (NLL is smooth in ħ but its higher derivatives are large when ε is). */
static double exact_c1(const pi_sde_t *sde, double eps, double v0, double x0)
{
    const double dh = 1e-5;
    double d1 = (exact_nll(sde, eps, v0, dh, x0) - exact_nll(sde, eps, v0, -dh, x0)) / (2.0 * dh);
    double d2 = (exact_nll(sde, eps, v0, 2.0 * dh, x0) - exact_nll(sde, eps, v0, -2.0 * dh, x0)) /
                (4.0 * dh);
    return -(4.0 * d1 - d2) / 3.0;
}

static void compute_one(const pi_model_t *m, const pi_lik_options *o, const double *x,
                        double *nll, double *c1, pi_nll_point_stats *st)
{
    size_t d = m->dim;
    float xf[16];
    for (size_t j = 0; j < d; j++)
        xf[j] = (float)x[j];
    memset(st, 0, sizeof *st);
    assert_int_equal(pi_likelihood_compute(m, o, 1, xf, nll, c1, st), PI_OK);
    assert_int_equal(st->status, PI_OK);
}

static void test_exact_1d(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    const double eps_list[] = {0.3, -0.2, 0.1, -0.05};
    const double x0_list[] = {0.25, -0.9, 1.7};
    const double v0 = 0.5;
    size_t neps = quick() ? 2 : 4, nx = quick() ? 2 : 3;
    for (size_t a = 0; a < neps; a++) {
        pi_model_t *m = make_linear(sde, eps_list[a], v0);
        for (size_t b = 0; b < nx; b++) {
            /* x0 exactly representable in float, as the engine reads floats. */
            double x0 = (double)(float)x0_list[b];
            double want_nll = exact_nll(sde, eps_list[a], v0, 0.0, x0);
            double want_c1 = exact_c1(sde, eps_list[a], v0, x0);
            pi_lik_options o;
            pi_lik_options_default(&o);
            o.rtol = 1e-10;
            o.atol = 1e-12;
            double nll, c1s, c1r;
            pi_nll_point_stats st;
            compute_one(m, &o, &x0, &nll, &c1s, &st);
            assert_true(fabs(nll - want_nll) < 1e-7 * fmax(1.0, fabs(want_nll)));
            o.c1_mode = PI_C1_REFERENCE;
            o.rtol = 1e-9;
            o.atol = 1e-11;
            o.ref_fd_step = 0.05; /* log q⁰_t is exactly quadratic here */
            o.ref_inner_rtol = 1e-12;
            o.ref_inner_atol = 1e-12;
            compute_one(m, &o, &x0, &nll, &c1r, &st);
            double scale = fmax(fabs(want_c1), 1e-2);
            print_message("eps %+.2f x0 %+.3f: c1 exact %.9f sweep %.9f reference %.9f\n",
                          eps_list[a], x0, want_c1, c1s, c1r);
            assert_true(fabs(want_c1) > 1e-3);
            assert_true(fabs(c1s - want_c1) < 1e-4 * scale);
            assert_true(fabs(c1r - want_c1) < 1e-4 * scale);
        }
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* ε = 0: the model is the exact score, so q^ħ does not depend on ħ and c1 = 0. */
static void test_exact_1d_true_score(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp_long();
    pi_model_t *m = make_linear(sde, 0.0, 0.5);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-9;
    o.atol = 1e-11;
    double x0 = 0.75, nll, c1;
    pi_nll_point_stats st;
    compute_one(m, &o, &x0, &nll, &c1, &st);
    print_message("exact score: c1 = %.3e\n", c1);
    assert_true(fabs(c1) < 1e-6);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* ---- mixtures ------------------------------------------------------------------------ */

/* The exact score of the 3-component 2-D mixture of seed 7 on sde, n exact samples of it
 * (seed 11; 3 with PI_TEST_QUICK, else 8), and NLL₀ and c1 there by the sweep (rtol 1e-9). */
typedef struct exact_mixture {
    gmm_fixture f;
    pi_model_t *m;
    size_t n;
    float *x;
    double *nll, *c1;
} exact_mixture;

static void exact_mixture_open(exact_mixture *e, const pi_sde_t *sde, pi_lik_options *o)
{
    assert_int_equal(gmm_fixture_random(&e->f, 2, 3, 7, 1.0, 0.05, 0.2), 0);
    e->m = gmm_fixture_model(&e->f, sde);
    assert_non_null(e->m);
    e->n = quick() ? 3 : 8;
    e->x = malloc(e->n * 2 * sizeof *e->x);
    gmm_fixture_sample(&e->f, e->n, 11, e->x);
    e->nll = malloc(e->n * sizeof *e->nll);
    e->c1 = malloc(e->n * sizeof *e->c1);
    pi_lik_options_default(o);
    o->rtol = 1e-9;
    o->atol = 1e-10;
    o->threads = 2;
    assert_int_equal(pi_likelihood_compute(e->m, o, e->n, e->x, e->nll, e->c1, NULL), PI_OK);
}

static void exact_mixture_close(exact_mixture *e)
{
    free(e->x);
    free(e->nll);
    free(e->c1);
    pi_model_destroy(e->m);
    gmm_fixture_free(&e->f);
}

/* c1 = 0 for the exact score of a mixture, at every point, by both algorithms. */
static void test_exact_mixture_c1_zero(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp_long();
    exact_mixture e;
    pi_lik_options o;
    exact_mixture_open(&e, sde, &o);
    pi_model_t *m = e.m;
    size_t n = e.n;
    float *x = e.x;
    double *nll = e.nll, *c1 = e.c1;
    for (size_t i = 0; i < n; i++) {
        print_message("exact mixture, point %zu: c1 sweep %.3e\n", i, c1[i]);
        assert_true(fabs(c1[i]) < 1e-5);
    }
    /* The reference on two points. */
    o.c1_mode = PI_C1_REFERENCE;
    o.rtol = 1e-7;
    o.atol = 1e-9;
    o.ref_fd_step = 2e-3;
    o.ref_inner_rtol = 1e-12;
    o.ref_inner_atol = 1e-12;
    assert_int_equal(pi_likelihood_compute(m, &o, 2, x, nll, c1, NULL), PI_OK);
    for (size_t i = 0; i < 2; i++) {
        print_message("exact mixture, point %zu: c1 reference %.3e\n", i, c1[i]);
        assert_true(fabs(c1[i]) < 1e-3);
    }
    exact_mixture_close(&e);
    pi_sde_destroy(sde);
}

/* Issue 14: on rectified flow with t_max = 1 − 1e-8 and on a table SDE ending at α(T) ≈ 1e-8,
 * p_T is the prior, so for the exact mixture NLL₀ = −log p_{t_min} (the exact density) and
 * c1 = 0. As for VP, the prior mismatch alone gives c1 ≠ 0: on rectified flow 6.6e-3 at the
 * default t_max = 1 − 1e-3, 8.7e-4 at 1 − 1e-4 (measured, point 0); on Stable Diffusion's
 * zero-SNR table (α(T)² = 2^-24) 3e-3. */
static void test_exact_mixture_new_sdes(void **state)
{
    (void)state;
    for (int which = 0; which < 2; which++) {
        pi_sde_t *sde = NULL;
        if (which == 0) {
            assert_int_equal(pi_sde_create(PI_SDE_KIND_RECTIFIED_FLOW, &sde), PI_OK);
            assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 1.0 - 1e-8), PI_OK);
        } else {
            /* linear β to 0.074: ᾱ_{N−1} ≈ e^−37, α(T) ≈ 1e-8 */
            assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 1e-4, 0.074, 0,
                                                         &sde),
                             PI_OK);
        }
        exact_mixture e;
        pi_lik_options o;
        exact_mixture_open(&e, sde, &o);
        pi_model_t *m = e.m;
        const float *x = e.x;
        const double *nll = e.nll, *c1 = e.c1;
        for (size_t i = 0; i < e.n; i++) {
            double x0[2] = {x[2 * i], x[2 * i + 1]}, lp0;
            assert_int_equal(pi_model_logpdf_d(m, x0, sde->t_min, &lp0), PI_OK);
            print_message("%s, point %zu: NLL0 %.6f, exact %.6f, c1 %.3e\n",
                          which ? "discrete (linear beta to 0.074)" : "rectified flow", i, nll[i], -lp0, c1[i]);
            assert_true(fabs(nll[i] + lp0) < 1e-5);
            assert_true(fabs(c1[i]) < 1e-5);
        }
        exact_mixture_close(&e);
        pi_sde_destroy(sde);
    }
}

/* A perturbed 2-D mixture score (tests/support/warped_model.h). */
static pi_model_t *make_warped(const pi_sde_t *sde, const gmm_fixture *f, double scale,
                               double warp)
{
    pi_model_t *m = warped_model_create(gmm_fixture_model(f, sde), scale, warp);
    assert_non_null(m);
    return m;
}

/* Sweep and reference agree on a perturbed 2-D mixture; the sweep is >= 20× cheaper. */
static void test_sweep_matches_reference_2d(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 3, 1.0, 0.05, 0.2), 0);
    pi_model_t *m = make_warped(sde, &f, 1.1, 0.9);
    size_t n = quick() ? 1 : 3;
    float x[6];
    gmm_fixture_sample(&f, n, 5, x);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-9;
    o.atol = 1e-10;
    double nll[3], c1s[3], c1r[3], c1r2[3];
    pi_nll_point_stats sts[3], str[3];
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c1s, sts), PI_OK);
    o.c1_mode = PI_C1_REFERENCE;
    o.rtol = 1e-7;
    o.atol = 1e-9;
    o.ref_inner_rtol = 1e-12;
    o.ref_inner_atol = 1e-12;
    o.ref_fd_step = 2e-3;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c1r, str), PI_OK);
    /* The reference's own error estimate: the same with a twice larger FD step and looser
     * outer tolerance. */
    o.ref_fd_step = 4e-3;
    o.rtol = 1e-6;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c1r2, NULL), PI_OK);
    for (size_t i = 0; i < n; i++) {
        double err = fabs(c1r[i] - c1r2[i]) + 1e-5 * fmax(1.0, fabs(c1r[i]));
        print_message("point %zu: c1 sweep %.8f (nfe %zu, steps %zu)  reference %.8f (nfe %zu, "
                      "outer steps %zu), reference error estimate %.2e\n", i, c1s[i],
                      sts[i].nfe_c1, sts[i].steps_c1, c1r[i], str[i].nfe_c1, str[i].steps_c1,
                      err);
        assert_true(fabs(c1s[i]) > 1e-2); /* the perturbation matters */
        assert_true(fabs(c1s[i] - c1r[i]) < 3.0 * err);
        assert_true(str[i].nfe_c1 >= 20 * sts[i].nfe_c1);
    }
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* The sweep in d = 16 (exact traces) still gives c1 = 0 for the exact score and a finite,
 * thread-independent c1 for a perturbed one. */
static void test_sweep_16d(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp_long();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 16, 2, 9, 1.0, 0.1, 0.3), 0);
    pi_model_t *exact = gmm_fixture_model(&f, sde);
    pi_model_t *pert = make_warped(sde, &f, 1.05, 0.95);
    float x[2 * 16];
    gmm_fixture_sample(&f, 2, 1, x);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    double nll[2], c1[2], c1b[2];
    assert_int_equal(pi_likelihood_compute(exact, &o, 2, x, nll, c1, NULL), PI_OK);
    for (size_t i = 0; i < 2; i++)
        assert_true(fabs(c1[i]) < 1e-4);
    assert_int_equal(pi_likelihood_compute(pert, &o, 2, x, nll, c1, NULL), PI_OK);
    o.threads = 2;
    assert_int_equal(pi_likelihood_compute(pert, &o, 2, x, nll, c1b, NULL), PI_OK);
    for (size_t i = 0; i < 2; i++) {
        assert_true(isfinite(c1[i]) && fabs(c1[i]) > 1e-3);
        assert_true(c1[i] == c1b[i]);
    }
    pi_model_destroy(exact);
    pi_model_destroy(pert);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* ---- the second-order coefficient c2 (issue 18): log q^ħ = log q⁰ + ħ c1 + ħ² c2 + O(ħ³) -- */

/* c2 = −½ d²NLL/dħ² at ħ = 0 of the exact model: second differences with steps 2δ and δ,
 * Richardson-extrapolated. */
static double exact_c2(const pi_sde_t *sde, double eps, double v0, double x0)
{
    const double dh = 2e-4;
    double n0 = exact_nll(sde, eps, v0, 0.0, x0);
    double d1 = (exact_nll(sde, eps, v0, dh, x0) - 2.0 * n0 + exact_nll(sde, eps, v0, -dh, x0)) /
                (dh * dh);
    double d2 = (exact_nll(sde, eps, v0, 2.0 * dh, x0) - 2.0 * n0 +
                 exact_nll(sde, eps, v0, -2.0 * dh, x0)) / (4.0 * dh * dh);
    return -0.5 * (4.0 * d1 - d2) / 3.0;
}

static void compute_c2(const pi_model_t *m, const pi_lik_options *o, const double *x,
                       double *nll, double *c1, double *c2)
{
    size_t d = m->dim;
    float xf[16];
    for (size_t j = 0; j < d; j++)
        xf[j] = (float)x[j];
    pi_nll_point_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(pi_likelihood_compute2(m, o, 1, xf, nll, c1, c2, &st), PI_OK);
    assert_int_equal(st.status, PI_OK);
    assert_true(st.nfe_c2 > 0);
}

/* The case (data N(0, 1), ε = 0.3, x0 = 0.7: c1 ≈ 231.8, NLL 4.41 at ħ = 0 and 1.07
 * at ħ = 0.25) and the c1 test's cases: c2 of the nested sweeps against the exact value.
 * ℓ1 is quadratic in x here, so the central differences are exact and the agreement is the
 * solvers'. */
static void test_exact_1d_c2(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    const double cases[][3] = {/* eps, v0, x0 */
                               {0.3, 1.0, 0.7}, {0.3, 0.5, 0.25}, {-0.2, 0.5, -0.9}, {0.1, 0.5, 1.7}};
    size_t ncase = quick() ? 2 : 4;
    for (size_t k = 0; k < ncase; k++) {
        double eps = cases[k][0], v0 = cases[k][1], x0 = (double)(float)cases[k][2];
        pi_model_t *m = make_linear(sde, eps, v0);
        pi_lik_options o;
        pi_lik_options_default(&o);
        o.rtol = 1e-9;
        o.atol = 1e-11;
        o.ref_fd_step = 0.05;
        o.ref_inner_rtol = 1e-11;
        o.ref_inner_atol = 1e-12;
        double nll, c1, c2;
        compute_c2(m, &o, &x0, &nll, &c1, &c2);
        double want_c1 = exact_c1(sde, eps, v0, x0), want_c2 = exact_c2(sde, eps, v0, x0);
        print_message("eps %+.2f v0 %.2f x0 %+.3f: NLL0 %.6f, c1 %.6f (exact %.6f), c2 %.6f "
                      "(exact %.6f, rel. diff %.2e); exact NLL(0.25) %.4f, first order %.4f, "
                      "second order %.4f\n", eps, v0, x0, nll, c1, want_c1, c2, want_c2,
                      fabs(c2 - want_c2) / fabs(want_c2), exact_nll(sde, eps, v0, 0.25, x0),
                      nll - 0.25 * c1, nll - 0.25 * c1 - 0.0625 * c2);
        assert_true(fabs(want_c2) > 1e-2);
        assert_true(fabs(c1 - want_c1) < 1e-4 * fabs(want_c1));
        assert_true(fabs(c2 - want_c2) < 1e-4 * fabs(want_c2));
        if (k == 0) {
            /* The numbers. */
            assert_true(fabs(nll - 4.41) < 0.01);
            assert_true(fabs(c1 - 231.8) < 0.1);
            assert_true(fabs(exact_nll(sde, eps, v0, 0.25, x0) - 1.07) < 0.01);
        }
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* The stochastic c2 (wkb_second_order_stochastic.c) on the same cases: in 1-D the Rademacher
 * direction ξ = ±1 and the probes make the Hutchinson estimates exact and u is exact (dense
 * path), so every replicate gives the exact c2 up to the solvers and the central differences
 * (exact here: ℓ1 is quadratic); the standard error is that spread. */
static void test_exact_1d_c2_stochastic(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    const double cases[][3] = {/* eps, v0, x0 */
                               {0.3, 1.0, 0.7}, {-0.2, 0.5, -0.9}, {0.1, 0.5, 1.7}};
    size_t ncase = quick() ? 1 : 3;
    for (size_t k = 0; k < ncase; k++) {
        double eps = cases[k][0], v0 = cases[k][1], x0 = (double)(float)cases[k][2];
        pi_model_t *m = make_linear(sde, eps, v0);
        pi_lik_options o;
        pi_lik_options_default(&o);
        o.rtol = 1e-9;
        o.atol = 1e-11;
        o.ref_fd_step = 0.05;
        o.ref_inner_rtol = 1e-11;
        o.ref_inner_atol = 1e-12;
        o.c1_mode = PI_C1_STOCHASTIC;
        o.c1_probes = 3;
        o.seed = 7;
        float xf = (float)x0;
        double nll, c1, c2;
        pi_nll_point_stats st;
        assert_int_equal(pi_likelihood_compute2(m, &o, 1, &xf, &nll, &c1, &c2, &st), PI_OK);
        double want_c2 = exact_c2(sde, eps, v0, x0);
        print_message("eps %+.2f v0 %.2f x0 %+.3f: stochastic c2 %.6f ± %.2e (exact %.6f, "
                      "rel. diff %.2e), c1 %.6f ± %.2e, nfe %zu, %.2f s\n", eps, v0, x0, c2,
                      st.c2_stderr, want_c2, fabs(c2 - want_c2) / fabs(want_c2), c1,
                      st.c1_stderr, st.nfe_c2, st.seconds_c2);
        assert_true(st.nfe_c2 > 0);
        assert_true(isfinite(st.c2_stderr) && st.c2_stderr < 1e-5 * fabs(want_c2));
        assert_true(fabs(c2 - want_c2) < 1e-4 * fabs(want_c2));
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* The exact score of a mixture: q^ħ does not depend on ħ, so c2 = 0 as c1 is (β(1) = 80 so
 * that p_T = π). */
static void test_exact_mixture_c2_zero(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp_long();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 7, 1.0, 0.05, 0.2), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    assert_non_null(m);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    float xs[2];
    gmm_fixture_sample(&f, 1, 11, xs);
    const double x[2] = {xs[0], xs[1]};
    double nll, c1, c2;
    compute_c2(m, &o, x, &nll, &c1, &c2);
    print_message("exact mixture: c1 %.3e, c2 %.3e\n", c1, c2);
    assert_true(fabs(c1) < 1e-5);
    assert_true(fabs(c2) < 1e-3);
    /* c2 needs c1; beyond the dimension limit it is unsupported. */
    assert_int_equal(pi_likelihood_compute2(m, &o, 1, xs, &nll, NULL, &c2, NULL), PI_EINVAL);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_1d),
        cmocka_unit_test(test_exact_1d_true_score),
        cmocka_unit_test(test_exact_mixture_c1_zero),
        cmocka_unit_test(test_exact_mixture_new_sdes),
        cmocka_unit_test(test_sweep_matches_reference_2d),
        cmocka_unit_test(test_sweep_16d),
        cmocka_unit_test(test_exact_1d_c2),
        cmocka_unit_test(test_exact_1d_c2_stochastic),
        cmocka_unit_test(test_exact_mixture_c2_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
