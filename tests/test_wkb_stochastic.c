/* The stochastic WKB sweep (issue 18, MATH.md §8, lib/likelihood/wkb_stochastic.c): the MLP's
 * hyper-dual directional products against its dense Taylor derivatives; stochastic c1 against
 * the exact sweep within 3 standard errors on every point (perturbed mixtures d = 2, 16, 64;
 * MLPs d = 2, 16, 64); the exact sweep's large-d products against the dense derivatives; the
 * standard error falls as 1/√K; bitwise reproducibility across threads; the MLP in d = 256
 * (beyond the exact sweep) runs; bad options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "wkb_models.h"
#include "warped_model.h"
#include "likelihood/likelihood_impl.h"
#include "core/philox.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void randn(uint64_t seed, size_t n, double *out)
{
    pi_rng_normal_d(seed, PI_STREAM_AUX, 0, 0, n, out);
}

/* Hyper-dual products equal contractions of the dense Taylor derivatives (Jacobian, the
 * component Hessians, ∇∇(∇·s)), under every output view and preconditioning. */
static void test_directional_matches_dense(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t d = 3;
    for (int variant = 0; variant < 3; variant++) {
        pi_model_t *m = wkb_make_mlp(sde, d, 12, 2, 5 + (uint64_t)variant);
        if (variant == 1)
            assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.7), PI_OK);
        if (variant == 0)
            assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_EPS), PI_OK);
        if (variant == 2)
            assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_DENOISED), PI_OK);
        double x[3], b[3], c[3], a[6], t = 0.37;
        randn(1, 3, x);
        randn(2, 3, b);
        randn(3, 3, c);
        randn(4, 6, a);
        double jac[9], hess[27], hd[9], s_ref[3];
        assert_int_equal(pi_model_derivatives_d(m, x, t, s_ref, jac, NULL, NULL, hess, hd), PI_OK);
        double *scratch = malloc(pi_model_directional_scratch(m) * sizeof *scratch);
        double s[3], sb[3], sc[3], g[6], gb[6], gc[6], gbc[6];
        assert_int_equal(pi_model_directional_d(m, x, t, b, c, 2, a, s, sb, sc, g, gb, gc, gbc,
                                                scratch), PI_OK);
        double err = 0.0, scale = 0.0;
#define CMP(got, want)                                                                             \
    do {                                                                                           \
        err = fmax(err, fabs((got) - (want)));                                                     \
        scale = fmax(scale, fabs(want));                                                           \
    } while (0)
        for (size_t i = 0; i < d; i++) {
            CMP(s[i], s_ref[i]);
            double jb = 0, jc = 0;
            for (size_t j = 0; j < d; j++) {
                jb += jac[i * d + j] * b[j];
                jc += jac[i * d + j] * c[j];
            }
            CMP(sb[i], jb);
            CMP(sc[i], jc);
        }
        for (size_t q = 0; q < 2; q++) {
            const double *aq = a + q * d;
            for (size_t i = 0; i < d; i++) {
                double jt = 0, hb = 0, hc = 0;
                for (size_t k = 0; k < d; k++) {
                    jt += jac[k * d + i] * aq[k];
                    for (size_t j = 0; j < d; j++) {
                        hb += aq[k] * hess[(k * d + i) * d + j] * b[j];
                        hc += aq[k] * hess[(k * d + i) * d + j] * c[j];
                    }
                }
                CMP(g[q * d + i], jt);
                CMP(gb[q * d + i], hb);
                CMP(gc[q * d + i], hc);
            }
        }
        /* third order: Σ_k ∇ₓ(e_kᵀ D²s[b, e_k]) = ∇∇(∇·s) b */
        double e[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, acc[3] = {0, 0, 0};
        for (size_t k = 0; k < d; k++) {
            double o[3];
            assert_int_equal(pi_model_directional_d(m, x, t, b, e + k * d, 1, e + k * d, NULL,
                                                    NULL, NULL, NULL, NULL, NULL, o, scratch),
                             PI_OK);
            for (size_t i = 0; i < d; i++)
                acc[i] += o[i];
        }
        for (size_t i = 0; i < d; i++) {
            double want = 0;
            for (size_t j = 0; j < d; j++)
                want += hd[i * d + j] * b[j];
            CMP(acc[i], want);
        }
#undef CMP
        print_message("variant %d: max |hyper-dual − dense| = %.2e (scale %.2e)\n", variant, err,
                      scale);
        assert_true(err <= 1e-11 * fmax(1.0, scale));
        free(scratch);
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* The exact sweep's products for large dimensions (forward-over-reverse, no d³ tensor;
 * nn/mlp_derivatives.c) equal the dense Taylor derivatives they replace to 1e-12 relative:
 * s, J, ∇·s, ∇(∇·s), Σ_k u_k ∇∇s_k and ∇∇(∇·s), for every output view and preconditioning,
 * one to three hidden layers, widths that are not multiples of 4, d = 1 … 16. */
static void test_sweep_products_match_dense(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t dims[4] = {1, 3, 8, 16};
    for (size_t q = 0; q < 4; q++)
        for (int variant = 0; variant < 3; variant++) {
            size_t d = dims[q], width = variant == 0 ? 12 : variant == 1 ? 17 : 33;
            size_t layers = 1 + (size_t)variant;
            pi_model_t *m = wkb_make_mlp(sde, d, width, layers, 100 + 10 * q + (uint64_t)variant);
            if (variant == 0) {
                assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_NONE, 0.5),
                                 PI_OK);
                assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_EPS), PI_OK);
            }
            if (variant == 2) {
                assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_NONE, 0.5),
                                 PI_OK);
                assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_DENOISED), PI_OK);
            }
            assert_non_null(m->type->sweep_products_d);
            assert_true(m->type->sweep_dense(m)); /* the dense path fits: the reference */
            double *x = malloc(d * sizeof *x), *u = malloc(d * sizeof *u);
            double *s0 = malloc(d * sizeof *s0), *s1 = malloc(d * sizeof *s1);
            double *gd0 = malloc(d * sizeof *gd0), *gd1 = malloc(d * sizeof *gd1);
            double *j0 = malloc(d * d * sizeof *j0), *j1 = malloc(d * d * sizeof *j1);
            double *hd0 = malloc(d * d * sizeof *hd0), *hd1 = malloc(d * d * sizeof *hd1);
            double *uh0 = calloc(d * d, sizeof *uh0), *uh1 = malloc(d * d * sizeof *uh1);
            double *hess = malloc(d * d * d * sizeof *hess);
            double *scratch = malloc(m->type->sweep_scratch(m) * sizeof *scratch);
            double div0, div1, t = 0.23 + 0.1 * variant;
            randn(200 + d, d, x);
            randn(300 + d, d, u);
            assert_int_equal(pi_model_derivatives_d(m, x, t, s0, j0, &div0, gd0, hess, hd0),
                             PI_OK);
            for (size_t k = 0; k < d; k++)
                for (size_t e = 0; e < d * d; e++)
                    uh0[e] += u[k] * hess[k * d * d + e];
            assert_int_equal(m->type->sweep_products_d(m, x, t, u, s1, j1, &div1, gd1, uh1, hd1,
                                                       scratch),
                             PI_OK);
            /* scale floor: 1e-6 × max |J| (higher derivatives far below the score's first
             * ones are sums of cancelling terms; untrained denoiser views have such) */
            double jscale = 0.0;
            for (size_t e = 0; e < d * d; e++)
                jscale = fmax(jscale, fabs(j0[e]));
            double worst = 0.0;
            const double *want[6] = {s0, j0, &div0, gd0, uh0, hd0};
            const double *got[6] = {s1, j1, &div1, gd1, uh1, hd1};
            const size_t len[6] = {d, d * d, 1, d, d * d, d * d};
            for (int k = 0; k < 6; k++) {
                double err = 0.0, scale = 0.0;
                for (size_t e = 0; e < len[k]; e++) {
                    err = fmax(err, fabs(got[k][e] - want[k][e]));
                    scale = fmax(scale, fabs(want[k][e]));
                }
                assert_true(scale > 0.0);
                worst = fmax(worst, err / fmax(scale, 1e-6 * jscale));
            }
            print_message("d = %zu, variant %d (W %zu, L %zu): max relative |products − dense| "
                          "= %.2e\n", d, variant, width, layers, worst);
            assert_true(worst <= 1e-12);
            free(x), free(u), free(s0), free(s1), free(gd0), free(gd1), free(j0), free(j1);
            free(hd0), free(hd1), free(uh0), free(uh1), free(hess), free(scratch);
            pi_model_destroy(m);
        }
    pi_sde_destroy(sde);
}

/* The exact sweep on the products path gives the dense path's c1 (d = 2, 8, 16; the solver
 * sees values that differ by rounding only), and is the path beyond the dense bound: an MLP
 * of width 64 in d = 32 has no dense third-order propagation but an exact c1. */
static void test_sweep_products_c1(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t dims[3] = {2, 8, 16};
    for (size_t q = 0; q < 3; q++) {
        size_t d = dims[q], n = 2;
        if (wkb_quick() && d == 16)
            continue;
        pi_model_t *m = wkb_make_mlp(sde, d, 16, 2, 60 + d);
        float *x = malloc(n * d * sizeof *x);
        double *xd = malloc(n * d * sizeof *xd);
        randn(61 + d, n * d, xd);
        for (size_t i = 0; i < n * d; i++)
            x[i] = (float)(0.7 * xd[i]);
        pi_lik_options o;
        pi_lik_options_default(&o);
        assert_int_equal(o.sweep_products, 0);
        o.rtol = 1e-7;
        o.atol = 1e-9;
        double nll[2], c_dense[2], c_prod[2];
        assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c_dense, NULL), PI_OK);
        o.sweep_products = 1;
        assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c_prod, NULL), PI_OK);
        for (size_t i = 0; i < n; i++) {
            double rel = fabs(c_prod[i] - c_dense[i]) / fabs(c_dense[i]);
            print_message("d = %zu point %zu: c1 dense %.15g products %.15g (rel %.1e)\n", d, i,
                          c_dense[i], c_prod[i], rel);
            assert_true(rel <= 1e-9);
        }
        free(x);
        free(xd);
        pi_model_destroy(m);
    }
    pi_model_t *m = wkb_make_mlp(sde, 32, 64, 2, 5);
    assert_false(m->type->sweep_dense(m));
    double xd[32];
    float x[32];
    randn(7, 32, xd);
    for (size_t i = 0; i < 32; i++)
        x[i] = (float)(0.7 * xd[i]);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-5;
    o.atol = 1e-7;
    double nll, c1;
    pi_nll_point_stats st;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &nll, &c1, &st), PI_OK);
    print_message("d = 32, W = 64: c1 %.6f (%zu steps, %.2f s)\n", c1, st.steps_c1,
                  st.seconds_c1);
    assert_true(isfinite(c1));
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

static float *mlp_points_for_test(size_t n, size_t d)
{
    float *x = malloc(n * d * sizeof *x);
    double *xd = malloc(n * d * sizeof *xd);
    randn(50 + d, n * d, xd);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(0.7 * xd[i]);
    free(xd);
    return x;
}

typedef struct agreement {
    double max_z;              /* max |stochastic − exact| / stderr over points */
    double mean_exact, mean_stoch;
} agreement;

/* Stochastic (K probes) against exact on n points; every point within 3 standard errors. */
static agreement compare(const pi_model_t *m, const pi_model_t *exact_model, size_t n,
                         const float *x, size_t K, double rtol, const char *label)
{
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = rtol;
    o.atol = 1e-9;
    o.threads = 2;
    double *nll = malloc(n * sizeof *nll), *ce = malloc(n * sizeof *ce);
    double *cs = malloc(n * sizeof *cs);
    pi_nll_point_stats *st = malloc(n * sizeof *st), *se = malloc(n * sizeof *se);
    assert_int_equal(pi_likelihood_compute(exact_model, &o, n, x, nll, ce, se), PI_OK);
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = K;
    o.seed = 12345;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, cs, st), PI_OK);
    agreement a = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double z = fabs(cs[i] - ce[i]) / st[i].c1_stderr;
        if (i < 4)
            print_message("%s point %zu: exact %.6f  stochastic %.6f ± %.6f  (|z| %.2f, "
                          "nfe exact %zu, stochastic %zu)\n", label, i, ce[i], cs[i],
                          st[i].c1_stderr, z, se[i].nfe_c1, st[i].nfe_c1);
        assert_true(st[i].c1_stderr > 0.0 && isfinite(st[i].c1_stderr));
        assert_true(z < 3.0);
        a.max_z = fmax(a.max_z, z);
        a.mean_exact += ce[i] / (double)n;
        a.mean_stoch += cs[i] / (double)n;
    }
    print_message("%s: %zu points, K = %zu: max |z| %.2f, mean exact %.6f, stochastic %.6f "
                  "(%.2f %%)\n", label, n, K, a.max_z, a.mean_exact, a.mean_stoch,
                  100.0 * fabs(a.mean_stoch / a.mean_exact - 1.0));
    free(nll);
    free(ce);
    free(cs);
    free(st);
    free(se);
    return a;
}

static void test_mixture_agrees(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    size_t dims[3] = {2, 16, 64};
    for (size_t q = 0; q < 3; q++) {
        size_t d = dims[q];
        if (wkb_quick() && d == 64)
            continue;
        gmm_fixture f;
        assert_int_equal(gmm_fixture_random(&f, d, 2, 9 + d, 1.0, 0.1, 0.3), 0);
        pi_model_t *m = warped_model_create(gmm_fixture_model(&f, sde), 1.1, 0.9);
        assert_non_null(m);
        size_t n = d == 64 ? 3 : wkb_quick() ? 4 : 8;
        float *x = malloc(n * d * sizeof *x);
        gmm_fixture_sample(&f, n, 5, x);
        char label[64];
        snprintf(label, sizeof label, "perturbed mixture d = %zu", d);
        compare(m, m, n, x, 64, 1e-7, label);
        free(x);
        pi_model_destroy(m);
        gmm_fixture_free(&f);
    }
    pi_sde_destroy(sde);
}

/* MLPs (native hyper-dual path: every term probed) against the exact sweep (d = 64: on its
 * forward-over-reverse products, the dense third-order Taylor pass does not fit there). */
static void test_mlp_agrees(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    size_t dims[3] = {2, 16, 64};
    for (size_t q = 0; q < 3; q++) {
        size_t d = dims[q];
        if (wkb_quick() && d == 64)
            continue;
        pi_model_t *m = wkb_make_mlp(sde, d, 16, 2, 21 + d);
        assert_true(m->type->sweep_dense(m) == (d < 64));
        size_t n = d == 64 ? 2 : wkb_quick() ? (d == 16 ? 1 : 2) : 8;
        float *x = malloc(n * d * sizeof *x);
        double *xd = malloc(n * d * sizeof *xd);
        randn(40 + d, n * d, xd);
        for (size_t i = 0; i < n * d; i++)
            x[i] = (float)(0.7 * xd[i]);
        char label[64];
        snprintf(label, sizeof label, "MLP d = %zu", d);
        double tol = d == 64 ? 1e-6 : wkb_quick() ? 1e-5 : 1e-7;
        compare(m, m, n, x, wkb_quick() ? 32 : 64, tol, label);
        free(x);
        free(xd);
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* The standard error falls as 1/√K (K = 8 → 128: by 4, within the noise of the estimates of
 * the standard error itself; PI_TEST_QUICK: K = 8 → 32, by 2, in the same relative band); same
 * bits on 1 and 3 threads. */
static void test_stderr_and_threads(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t d = 8, n = wkb_quick() ? 4 : 6;
    pi_model_t *m = wkb_make_mlp(sde, d, 16, 2, 77);
    float x[6 * 8];
    double xd[6 * 8];
    randn(78, n * d, xd);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(0.5 * xd[i]);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.c1_mode = PI_C1_STOCHASTIC;
    o.rtol = wkb_quick() ? 1e-4 : 1e-6;
    double nll[6], c8[6], c128[6], ca[6], cb[6];
    pi_nll_point_stats s8[6], s128[6];
    const size_t k_hi = wkb_quick() ? 32 : 128; /* "128" below: k_hi */
    o.c1_probes = 8;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c8, s8), PI_OK);
    o.c1_probes = k_hi;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, c128, s128), PI_OK);
    double v8 = 0.0, v128 = 0.0;
    for (size_t i = 0; i < n; i++) {
        print_message("point %zu: K = 8: %.5f ± %.5f, K = %zu: %.5f ± %.5f\n", i, c8[i],
                      s8[i].c1_stderr, k_hi, c128[i], s128[i].c1_stderr);
        v8 += s8[i].c1_stderr * s8[i].c1_stderr;
        v128 += s128[i].c1_stderr * s128[i].c1_stderr;
        assert_true(fabs(c8[i] - c128[i]) <
                    3.0 * sqrt(s8[i].c1_stderr * s8[i].c1_stderr +
                               s128[i].c1_stderr * s128[i].c1_stderr));
    }
    /* pooled over the points: the per-probe variance estimates of K = 8 are themselves noisy */
    double ratio = sqrt(v8 / v128), predicted = sqrt((double)k_hi / 8.0);
    print_message("pooled stderr ratio K = 8 / K = %zu: %.2f (1/√K predicts %.0f)\n", k_hi, ratio,
                  predicted);
    assert_true(ratio > 0.625 * predicted && ratio < 1.625 * predicted); /* 2.5 .. 6.5 at 128 */
    o.c1_probes = 4;
    o.threads = 1;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, ca, NULL), PI_OK);
    o.threads = 3;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, cb, NULL), PI_OK);
    assert_memory_equal(ca, cb, n * sizeof ca[0]);
    /* a different seed gives different probes */
    o.seed = 1;
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, cb, NULL), PI_OK);
    assert_true(ca[0] != cb[0]);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Beyond the exact sweep's limit (d = 256 > 128) the MLP's stochastic c1 runs; the exact
 * sweep refuses. */
static void test_mlp_high_dim(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t d = 256;
    pi_model_t *m = wkb_make_mlp(sde, d, 32, 2, 3);
    float *x = malloc(d * sizeof *x);
    double *xd = malloc(d * sizeof *xd);
    randn(9, d, xd);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(0.5 * xd[i]);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-4;
    o.atol = 1e-6;
    double nll, c1;
    pi_nll_point_stats st;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &nll, &c1, NULL), PI_EUNSUPPORTED);
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = 4;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &nll, &c1, &st), PI_OK);
    print_message("MLP d = 256: NLL0 %.4f, c1 %.4f ± %.4f (%zu steps, %.2f s)\n", nll, c1,
                  st.c1_stderr, st.steps_c1, st.seconds_c1);
    assert_true(isfinite(c1) && st.c1_stderr > 0.0);
    free(x);
    free(xd);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Options: K = 0 and K > 4096 are refused, naming the option; the public setter too. */
static void test_bad_options(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    pi_model_t *m = wkb_make_mlp(sde, 2, 8, 1, 1);
    float x[2] = {0.1f, 0.2f};
    double nll, c1, se;
    pi_lik_options o;
    pi_lik_options_default(&o);
    assert_int_equal((int)o.c1_probes, 16);
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = 0;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &nll, &c1, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "probes"));
    pi_likelihood_t *lik;
    assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
    assert_int_equal(pi_likelihood_set_wkb_probes(lik, 0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "probes"));
    assert_int_equal(pi_likelihood_set_wkb_probes(lik, 4097), PI_EINVAL);
    assert_int_equal(pi_likelihood_set_wkb_probes(lik, 1), PI_OK);
    assert_int_equal(pi_likelihood_set_wkb_algorithm(lik, PI_WKB_ALGORITHM_STOCHASTIC), PI_OK);
    pi_wkb_algorithm alg;
    size_t k;
    assert_int_equal(pi_likelihood_get_wkb_algorithm(lik, &alg), PI_OK);
    assert_int_equal(alg, PI_WKB_ALGORITHM_STOCHASTIC);
    assert_int_equal(pi_likelihood_get_wkb_probes(lik, &k), PI_OK);
    assert_int_equal((int)k, 1);
    /* one probe: an estimate without a standard error */
    assert_int_equal(pi_likelihood_nll_wkb(lik, 1, x, &nll, &c1, &se), PI_OK);
    assert_true(isfinite(c1) && isnan(se));
    /* the exact sweep reports a zero standard error */
    assert_int_equal(pi_likelihood_set_wkb_algorithm(lik, PI_WKB_ALGORITHM_SWEEP), PI_OK);
    assert_int_equal(pi_likelihood_nll_wkb(lik, 1, x, &nll, &c1, &se), PI_OK);
    assert_true(se == 0.0);
    pi_likelihood_destroy(lik);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* ---- callback models with derivative callbacks (issue 18, slice 2) ---------------------- */

typedef struct host_ctx {
    pi_model_t *mlp; /* what the host "is": an MLP, evaluated in the score view */
    double *scratch;
    int fail_kind;   /* a pi_derivative to fail (1: nonzero return, 2: NaN), 0 none */
    int fail_mode;
    size_t calls[9];
} host_ctx;

static int host_value(size_t n, size_t dim, const float *x, const double *t, float *out,
                      void *user)
{
    (void)dim;
    host_ctx *h = user;
    return pi_model_eval(h->mlp, PI_VIEW_SCORE, n, x, t, out) == PI_OK ? 0 : 1;
}

static int host_deriv(pi_derivative kind, size_t n, size_t dim, const double *x,
                      const double *t, const double *a, const double *b, const double *c,
                      double *out, void *user)
{
    host_ctx *h = user;
    h->calls[kind]++;
    if ((int)kind == h->fail_kind && h->fail_mode == 1)
        return 7;
    for (size_t r = 0; r < n; r++) {
        const double *xr = x + r * dim, *ar = a ? a + r * dim : NULL;
        const double *br = b ? b + r * dim : NULL, *cr = c ? c + r * dim : NULL;
        double *o = out + r * dim;
        pi_status st;
        switch (kind) {
        case PI_DERIVATIVE_JVP:
            st = pi_model_directional_d(h->mlp, xr, t[r], br, NULL, 0, NULL, NULL, o, NULL, NULL,
                                        NULL, NULL, NULL, h->scratch);
            break;
        case PI_DERIVATIVE_VJP:
            st = pi_model_directional_d(h->mlp, xr, t[r], NULL, NULL, 1, ar, NULL, NULL, NULL, o,
                                        NULL, NULL, NULL, h->scratch);
            break;
        case PI_DERIVATIVE_VJP_JVP:
            st = pi_model_directional_d(h->mlp, xr, t[r], br, NULL, 1, ar, NULL, NULL, NULL, NULL,
                                        o, NULL, NULL, h->scratch);
            break;
        case PI_DERIVATIVE_VALUE:
            st = pi_model_score_d(h->mlp, xr, t[r], o);
            break;
        default:
            st = pi_model_directional_d(h->mlp, xr, t[r], br, cr, 1, ar, NULL, NULL, NULL, NULL,
                                        NULL, NULL, o, h->scratch);
            break;
        }
        if (st != PI_OK)
            return 1;
        if ((int)kind == h->fail_kind && h->fail_mode == 2)
            o[0] = NAN;
    }
    return 0;
}

/* A callback model whose derivative callbacks are an MLP's gives the MLP's c1 (exact sweep and
 * stochastic, same probes) up to the float rounding of the value callback; with only JVP and
 * VJP the second- and third-order products are finite differences (reported) and c1 still
 * agrees; failing or non-finite derivative callbacks give PI_ECALLBACK / PI_ENUMERIC naming
 * the product; the stochastic sweep without them is PI_EUNSUPPORTED with a message. */
static void test_callback_derivatives(void **state)
{
    (void)state;
    pi_sde_t *sde = wkb_make_vp();
    const size_t d = 4, n = wkb_quick() ? 1 : 2;
    pi_model_t *mlp = wkb_make_mlp(sde, d, 16, 2, 31);
    host_ctx h = {mlp, malloc(pi_model_directional_scratch(mlp) * sizeof(double)), 0, 0, {0}};
    pi_model_t *cbm = NULL;
    assert_int_equal(pi_model_create_callback(sde, d, PI_VIEW_SCORE, host_value, &h, &cbm),
                     PI_OK);
    float *x = mlp_points_for_test(n, d);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    double nll[2], c1[2], nll_cb[2], c1_cb[2];
    /* no derivative callbacks: the stochastic sweep is refused with a clear status */
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = 8;
    assert_int_equal(pi_likelihood_compute(cbm, &o, n, x, nll_cb, c1_cb, NULL), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), "vector-Jacobian"));
    unsigned prov = 99, fd = 99;
    assert_int_equal(pi_model_callback_get_derivatives(cbm, &prov, &fd), PI_OK);
    assert_true(prov == 0 && fd == 0);
    /* all four products */
    unsigned all = PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP | PI_DERIVATIVE_VJP_JVP |
                   PI_DERIVATIVE_VJP_JVP2;
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv, all, &h), PI_OK);
    for (int mode = 0; mode < 2; mode++) {
        o.c1_mode = mode == 0 ? PI_C1_SWEEP : PI_C1_STOCHASTIC;
        assert_int_equal(pi_likelihood_compute(mlp, &o, n, x, nll, c1, NULL), PI_OK);
        assert_int_equal(pi_likelihood_compute(cbm, &o, n, x, nll_cb, c1_cb, NULL), PI_OK);
        for (size_t i = 0; i < n; i++) {
            print_message("%s: NLL0 MLP %.10f callback %.10f; c1 MLP %.8f callback %.8f\n",
                          mode == 0 ? "exact" : "stochastic", nll[i], nll_cb[i], c1[i], c1_cb[i]);
            assert_true(fabs(nll_cb[i] - nll[i]) < 1e-5 * fmax(1.0, fabs(nll[i])));
            assert_true(fabs(c1_cb[i] - c1[i]) < 1e-4 * fmax(1.0, fabs(c1[i])));
        }
    }
    assert_true(h.calls[PI_DERIVATIVE_VJP_JVP2] > 0);
    /* only JVP and VJP: the rest by differences, said by the getter */
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv,
                                                       PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP, &h),
                     PI_OK);
    assert_int_equal(pi_model_callback_get_derivatives(cbm, &prov, &fd), PI_OK);
    assert_int_equal(prov, PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP);
    assert_int_equal(fd, PI_DERIVATIVE_VJP_JVP | PI_DERIVATIVE_VJP_JVP2);
    memset(h.calls, 0, sizeof h.calls);
    o.c1_mode = PI_C1_SWEEP;
    assert_int_equal(pi_likelihood_compute(mlp, &o, n, x, nll, c1, NULL), PI_OK);
    assert_int_equal(pi_likelihood_compute(cbm, &o, n, x, nll_cb, c1_cb, NULL), PI_OK);
    for (size_t i = 0; i < n; i++) {
        print_message("differences: c1 MLP %.8f callback %.8f\n", c1[i], c1_cb[i]);
        assert_true(fabs(c1_cb[i] - c1[i]) < 1e-3 * fmax(1.0, fabs(c1[i])));
    }
    assert_true(h.calls[PI_DERIVATIVE_VJP_JVP] == 0 && h.calls[PI_DERIVATIVE_VJP_JVP2] == 0);
    /* with the value in double too, NLL0 and the exact c1 are the MLP's to solver rounding */
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv,
                                                       all | PI_DERIVATIVE_VALUE, &h), PI_OK);
    assert_int_equal(pi_likelihood_compute(cbm, &o, n, x, nll_cb, c1_cb, NULL), PI_OK);
    for (size_t i = 0; i < n; i++) {
        print_message("double value: NLL0 MLP %.12f callback %.12f; c1 MLP %.10f callback "
                      "%.10f\n", nll[i], nll_cb[i], c1[i], c1_cb[i]);
        assert_true(fabs(nll_cb[i] - nll[i]) < 1e-9 * fmax(1.0, fabs(nll[i])));
        assert_true(fabs(c1_cb[i] - c1[i]) < 1e-8 * fmax(1.0, fabs(c1[i])));
    }
    /* failures name the product */
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv, all, &h), PI_OK);
    o.c1_mode = PI_C1_STOCHASTIC;
    h.fail_kind = PI_DERIVATIVE_VJP_JVP;
    h.fail_mode = 1;
    assert_int_equal(pi_likelihood_compute(cbm, &o, 1, x, nll_cb, c1_cb, NULL), PI_ECALLBACK);
    assert_non_null(strstr(pi_last_error(), "vjp_jvp"));
    assert_non_null(strstr(pi_last_error(), "returned 7"));
    h.fail_kind = PI_DERIVATIVE_VJP;
    h.fail_mode = 2;
    assert_int_equal(pi_likelihood_compute(cbm, &o, 1, x, nll_cb, c1_cb, NULL), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "(vjp)"));
    assert_non_null(strstr(pi_last_error(), "non-finite"));
    /* bad arguments */
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv, 32, &h), PI_EINVAL);
    assert_int_equal(pi_model_callback_set_derivatives(cbm, host_deriv, 0, &h), PI_EINVAL);
    assert_int_equal(pi_model_callback_set_derivatives(cbm, NULL, 1, &h), PI_EINVAL);
    assert_int_equal(pi_model_callback_set_derivatives(mlp, host_deriv, 1, &h), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_callback_set_derivatives(cbm, NULL, 0, NULL), PI_OK);
    free(x);
    free(h.scratch);
    pi_model_destroy(cbm);
    pi_model_destroy(mlp);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directional_matches_dense),
        cmocka_unit_test(test_sweep_products_match_dense),
        cmocka_unit_test(test_sweep_products_c1),
        cmocka_unit_test(test_mixture_agrees),
        cmocka_unit_test(test_mlp_agrees),
        cmocka_unit_test(test_stderr_and_threads),
        cmocka_unit_test(test_mlp_high_dim),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_callback_derivatives),
    };
    if (getenv("PI_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("PI_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
