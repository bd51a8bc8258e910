/* The empirical optimal denoiser: equals a zero-variance Gaussian mixture (and the small
 * variance limit), one Euler PF-ODE step is one mean-shift step (seed 002), D → nearest data
 * point as σ → 0, blocking and threads do not change the result, and n = 1e5, d = 64 runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/philox.h"
#include "gmm_fixtures.h"
#include "model/model_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static pi_sde_t *make_sde(pi_sde_kind kind)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    return sde;
}

static float *random_data(size_t n, size_t d, uint64_t seed, double scale)
{
    float *y = malloc(n * d * sizeof *y);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            y[i * d + j] = (float)(scale * pi_rng_normal1(seed, PI_STREAM_AUX, i, 0, j));
    return y;
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double e = 0.0, m = 1.0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return e / m;
}

/* Same data as a Gaussian mixture with equal weights and variance v. */
static pi_model_t *as_gmm(const pi_sde_t *sde, size_t n, size_t d, const float *y, double v)
{
    double *w = malloc(n * sizeof *w), *mu = malloc(n * d * sizeof *mu),
           *var = malloc(n * d * sizeof *var);
    for (size_t i = 0; i < n; i++)
        w[i] = 1.0;
    for (size_t i = 0; i < n * d; i++) {
        mu[i] = y[i];
        var[i] = v;
    }
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, d, n, w, mu, var, &m), PI_OK);
    free(w);
    free(mu);
    free(var);
    return m;
}

static void test_equals_zero_variance_gmm(void **state)
{
    (void)state;
    const size_t n = 37, d = 3;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    float *y = random_data(n, d, 1, 1.0);
    pi_model_t *e, *g = as_gmm(sde, n, d, y, 0.0);
    assert_int_equal(pi_model_create_empirical(sde, d, n, y, &e), PI_OK);
    const double times[3] = {0.05, 0.3, 0.9};
    for (int ti = 0; ti < 3; ti++) {
        double t = times[ti], x[3] = {0.3, -0.2, 0.5};
        double a[27], b[27], sa, sb;
        assert_int_equal(pi_model_score_d(e, x, t, a), PI_OK);
        assert_int_equal(pi_model_score_d(g, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d) < 1e-10);
        assert_int_equal(pi_model_jacobian_d(e, x, t, a), PI_OK);
        assert_int_equal(pi_model_jacobian_d(g, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d * d) < 1e-10);
        assert_int_equal(pi_model_jvp_d(e, x, t, x, a), PI_OK);
        assert_int_equal(pi_model_jvp_d(g, x, t, x, b), PI_OK);
        assert_true(rel_err(a, b, d) < 1e-10);
        assert_int_equal(pi_model_divergence_d(e, x, t, &sa), PI_OK);
        assert_int_equal(pi_model_divergence_d(g, x, t, &sb), PI_OK);
        assert_true(rel_err(&sa, &sb, 1) < 1e-10);
        assert_int_equal(pi_model_grad_div_d(e, x, t, a), PI_OK);
        assert_int_equal(pi_model_grad_div_d(g, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d) < 1e-9);
        assert_int_equal(pi_model_hessians_d(e, x, t, a), PI_OK);
        assert_int_equal(pi_model_hessians_d(g, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d * d * d) < 1e-9);
        assert_int_equal(pi_model_hess_div_d(e, x, t, a), PI_OK);
        assert_int_equal(pi_model_hess_div_d(g, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d * d) < 1e-9);
        assert_int_equal(pi_model_logpdf_d(e, x, t, &sa), PI_OK);
        assert_int_equal(pi_model_logpdf_d(g, x, t, &sb), PI_OK);
        assert_true(fabs(sa - sb) < 1e-10 * fmax(1.0, fabs(sb)));
    }
    /* float eval, every view */
    const size_t rows = 300;
    float *x = random_data(rows, d, 2, 1.2), *oe = malloc(rows * d * sizeof *oe),
          *og = malloc(rows * d * sizeof *og);
    double *t = malloc(rows * sizeof *t);
    for (size_t i = 0; i < rows; i++)
        t[i] = 0.1 + 0.8 * (double)(i % 17) / 17.0;
    for (int view = PI_VIEW_SCORE; view <= PI_VIEW_V; view++) {
        assert_int_equal(pi_model_eval(e, (pi_view)view, rows, x, t, oe), PI_OK);
        assert_int_equal(pi_model_eval(g, (pi_view)view, rows, x, t, og), PI_OK);
        for (size_t i = 0; i < rows * d; i++)
            assert_true(fabs(oe[i] - og[i]) <= 2e-4 * fmax(1.0, fabs(og[i])));
    }
    free(x); free(oe); free(og); free(t); free(y);
    pi_model_destroy(e);
    pi_model_destroy(g);
    pi_sde_destroy(sde);
}

/* A mixture of very narrow Gaussians tends to the empirical model. */
static void test_small_variance_limit(void **state)
{
    (void)state;
    const size_t n = 20, d = 2;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_EDM);
    float *y = random_data(n, d, 3, 1.0);
    pi_model_t *e;
    assert_int_equal(pi_model_create_empirical(sde, d, n, y, &e), PI_OK);
    double x[2] = {0.2, 0.1}, se[2], sg[2], prev = INFINITY;
    for (int p = 2; p <= 8; p += 2) {
        pi_model_t *g = as_gmm(sde, n, d, y, pow(10.0, -p));
        assert_int_equal(pi_model_score_d(e, x, 0.3, se), PI_OK);
        assert_int_equal(pi_model_score_d(g, x, 0.3, sg), PI_OK);
        double err = rel_err(sg, se, d);
        assert_true(err < prev); /* converges monotonically */
        prev = err;
        pi_model_destroy(g);
    }
    assert_true(prev < 1e-6);
    free(y);
    pi_model_destroy(e);
    pi_sde_destroy(sde);
}

/* Seed 002: D* is the mean-shift of x̃ = x/α with a Gaussian kernel of bandwidth σ̃, and an
 * Euler step of the PF-ODE is a (relaxed) mean-shift step. */
static void test_euler_step_is_mean_shift(void **state)
{
    (void)state;
    const size_t n = 50, d = 2, rows = 5;
    float *y = random_data(n, d, 4, 1.0), *x = random_data(rows, d, 5, 1.0), den[10], sc[10];
    const pi_sde_kind kinds[2] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_EDM};
    for (int k = 0; k < 2; k++) {
        pi_sde_t *sde = make_sde(kinds[k]);
        pi_model_t *m;
        assert_int_equal(pi_model_create_empirical(sde, d, n, y, &m), PI_OK);
        double t = kinds[k] == PI_SDE_KIND_EDM ? 0.7 : 0.4, alpha, sigma, f, g;
        assert_int_equal(pi_sde_marginal(sde, t, &alpha, &sigma), PI_OK);
        assert_int_equal(pi_sde_coefficients(sde, t, &f, &g), PI_OK);
        assert_int_equal(pi_model_eval_at(m, PI_VIEW_DENOISED, rows, x, t, den), PI_OK);
        assert_int_equal(pi_model_eval_at(m, PI_VIEW_SCORE, rows, x, t, sc), PI_OK);
        double bw = sigma / alpha;
        for (size_t r = 0; r < rows; r++) {
            /* independent mean shift on x̃ */
            double xt[2] = {x[r * d] / alpha, x[r * d + 1] / alpha}, mean[2] = {0, 0}, ws = 0.0;
            double lmax = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                double dx = xt[0] - y[i * d], dy = xt[1] - y[i * d + 1];
                lmax = fmax(lmax, -(dx * dx + dy * dy) / (2 * bw * bw));
            }
            for (size_t i = 0; i < n; i++) {
                double dx = xt[0] - y[i * d], dy = xt[1] - y[i * d + 1];
                double w = exp(-(dx * dx + dy * dy) / (2 * bw * bw) - lmax);
                mean[0] += w * y[i * d];
                mean[1] += w * y[i * d + 1];
                ws += w;
            }
            mean[0] /= ws;
            mean[1] /= ws;
            for (size_t j = 0; j < d; j++)
                assert_true(fabs(den[r * d + j] - mean[j]) < 2e-5);
            if (kinds[k] == PI_SDE_KIND_EDM) {
                /* Euler PF-ODE step t → t' with dx/dt = f x − ½ g² s:
                 * x' = (1 − η) x + η m, η = 1 − t'/t (one relaxed mean-shift step; t' = 0
                 * lands exactly on the mean). */
                const double tps[2] = {0.0, 0.35};
                for (int q = 0; q < 2; q++) {
                    double tp = tps[q], eta = 1.0 - tp / t;
                    for (size_t j = 0; j < d; j++) {
                        double xn = x[r * d + j] + (tp - t) * (f * x[r * d + j] - 0.5 * g * g * sc[r * d + j]);
                        double ms = (1.0 - eta) * x[r * d + j] + eta * mean[j];
                        assert_true(fabs(xn - ms) < 2e-5);
                    }
                }
            }
        }
        pi_model_destroy(m);
        pi_sde_destroy(sde);
    }
    free(y);
    free(x);
}

/* σ → 0: D tends to the nearest data point; at σ = 0 (internal path) it is exactly it. */
static void test_nearest_point_limit(void **state)
{
    (void)state;
    const size_t d = 2, rows = 4;
    /* well separated data on a grid */
    float y[2 * 16];
    for (size_t i = 0; i < 16; i++) {
        y[2 * i] = (float)(i % 4);
        y[2 * i + 1] = (float)(i / 4);
    }
    const float x[8] = {0.2f, 0.1f, 2.7f, 1.2f, 3.4f, 3.45f, 1.45f, 0.9f};
    const size_t nearest[4] = {0, 7, 15, 5};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_EDM);
    pi_model_t *m;
    assert_int_equal(pi_model_create_empirical(sde, d, 16, y, &m), PI_OK);
    float out[8];
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_DENOISED, rows, x, 0.002, out), PI_OK);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++)
            assert_true(fabs(out[r * d + j] - y[nearest[r] * d + j]) < 1e-6);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    /* σ(0) = 0 on the VP SDE: the internal eval picks the nearest point exactly */
    sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    assert_int_equal(pi_model_create_empirical(sde, d, 16, y, &m), PI_OK);
    double t0[4] = {0, 0, 0, 0};
    size_t bytes = pi_model_workspace_bytes(m, rows);
    void *raw = malloc(bytes + 64);
    pi_eval_ctx ctx = {(void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63), bytes, 1, NULL, NULL};
    assert_int_equal(pi_model_eval_ctx(m, PI_VIEW_DENOISED, rows, x, t0, out, &ctx), PI_OK);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++)
            assert_true(out[r * d + j] == y[nearest[r] * d + j]);
    free(raw);
    /* the double path needs σ > 0 */
    double xd[2] = {0.2, 0.1}, s[2];
    assert_int_equal(pi_model_score_d(m, xd, 0.0, s), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "sigma(t) > 0"));
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Row blocks, data blocks and thread counts do not change a bit; float = double path. */
static void test_blocking_and_threads(void **state)
{
    (void)state;
    const size_t n = quick() ? 700 : 1300, d = 5, rows = quick() ? 150 : 300;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_COSINE);
    float *y = random_data(n, d, 6, 1.0), *x = random_data(rows, d, 7, 0.8);
    float *o1 = malloc(rows * d * sizeof *o1), *o2 = malloc(rows * d * sizeof *o2),
          *o3 = malloc(rows * d * sizeof *o3);
    double *t = malloc(rows * sizeof *t);
    for (size_t i = 0; i < rows; i++)
        t[i] = 0.05 + 0.6 * (double)(i % 13) / 13.0;
    pi_model_t *m;
    assert_int_equal(pi_model_create_empirical(sde, d, n, y, &m), PI_OK);
    assert_int_equal(pi_model_eval(m, PI_VIEW_DENOISED, rows, x, t, o1), PI_OK);
    assert_int_equal(pi_model_set_threads(m, 3), PI_OK);
    assert_int_equal(pi_model_eval(m, PI_VIEW_DENOISED, rows, x, t, o2), PI_OK);
    assert_memory_equal(o1, o2, rows * d * sizeof *o1);
    /* row by row gives the same as the batch (rows do not interact) */
    for (size_t r = 0; r < rows; r += 37) {
        assert_int_equal(pi_model_eval(m, PI_VIEW_DENOISED, 1, x + r * d, t + r, o3), PI_OK);
        for (size_t j = 0; j < d; j++)
            assert_true(fabs(o3[j] - o1[r * d + j]) <= 1e-6 * fmax(1.0, fabs(o1[r * d + j])));
        double xd[5], s[5], alpha, sigma;
        for (size_t j = 0; j < d; j++)
            xd[j] = x[r * d + j];
        assert_int_equal(pi_model_score_d(m, xd, t[r], s), PI_OK);
        assert_int_equal(pi_sde_marginal(sde, t[r], &alpha, &sigma), PI_OK);
        for (size_t j = 0; j < d; j++) {
            double den = (xd[j] + sigma * sigma * s[j]) / alpha;
            assert_true(fabs(o1[r * d + j] - den) <= 1e-5 * fmax(1.0, fabs(den)));
        }
    }
    free(y); free(x); free(o1); free(o2); free(o3); free(t);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* The size the issue asks for: 1e5 points in d = 64 (2e4 under valgrind). */
static void test_large_data_set(void **state)
{
    (void)state;
    const size_t n = quick() ? 20000 : 100000, d = 64, rows = quick() ? 8 : 256;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    float *y = random_data(n, d, 8, 1.0), *x = random_data(rows, d, 9, 1.0),
          *out = malloc(rows * d * sizeof *out);
    pi_model_t *m;
    assert_int_equal(pi_model_create_empirical(sde, d, n, y, &m), PI_OK);
    assert_int_equal(pi_model_set_threads(m, 2), PI_OK);
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_DENOISED, rows, x, 0.5, out), PI_OK);
    for (size_t r = 0; r < rows; r += rows / 4) {
        double xd[64], s[64], alpha, sigma;
        for (size_t j = 0; j < d; j++)
            xd[j] = x[r * d + j];
        assert_int_equal(pi_model_score_d(m, xd, 0.5, s), PI_OK);
        assert_int_equal(pi_sde_marginal(sde, 0.5, &alpha, &sigma), PI_OK);
        for (size_t j = 0; j < d; j++) {
            double den = (xd[j] + sigma * sigma * s[j]) / alpha;
            assert_true(fabs(out[r * d + j] - den) <= 1e-4 * fmax(1.0, fabs(den)));
        }
    }
    double lp;
    double xd[64];
    for (size_t j = 0; j < d; j++)
        xd[j] = x[j];
    assert_int_equal(pi_model_logpdf_d(m, xd, 0.5, &lp), PI_OK);
    assert_true(isfinite(lp));
    free(y); free(x); free(out);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

#define EXPECT_FAIL(call, code, word)                                                           \
    do {                                                                                        \
        assert_int_equal((call), (code));                                                       \
        if (strstr(pi_last_error(), (word)) == NULL)                                            \
            fail_msg("message '%s' does not name '%s'", pi_last_error(), (word));               \
    } while (0)

static void test_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VE);
    float y[6] = {0, 1, 2, 3, 4, 5};
    pi_model_t *m = (pi_model_t *)0x1;
    EXPECT_FAIL(pi_model_create_empirical(NULL, 2, 3, y, &m), PI_EINVAL, "sde");
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 3, NULL, &m), PI_EINVAL, "data");
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 3, y, NULL), PI_EINVAL, "out");
    EXPECT_FAIL(pi_model_create_empirical(sde, 0, 3, y, &m), PI_EINVAL, "dim");
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 0, y, &m), PI_EINVAL, "n must");
    EXPECT_FAIL(pi_model_create_empirical(sde, 1 << 20, (size_t)1 << 21, y, &m), PI_EINVAL, "n must");
    y[4] = NAN;
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 3, y, &m), PI_EINVAL, "row 2");
    y[4] = -INFINITY;
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 3, y, &m), PI_EINVAL, "data must be finite");
    /* huge but finite data would overflow the float logits: rejected at creation */
    y[4] = 3.0e37f;
    EXPECT_FAIL(pi_model_create_empirical(sde, 2, 3, y, &m), PI_EINVAL, "within");
    assert_true(m == (pi_model_t *)0x1);
    y[4] = 4;
    assert_int_equal(pi_model_create_empirical(sde, 2, 3, y, &m), PI_OK);
    pi_model_kind kind;
    assert_int_equal(pi_model_get_kind(m, &kind), PI_OK);
    assert_int_equal(kind, PI_MODEL_KIND_EMPIRICAL);
    double lp[1] = {7.0};
    float x[2] = {0.0f, 0.0f};
    double t = 2.0;
    EXPECT_FAIL(pi_model_logpdf(m, 1, x, &t, lp), PI_EINVAL, "t[0]");
    assert_true(lp[0] == 7.0);
    t = 0.5;
    assert_int_equal(pi_model_logpdf(m, 1, x, &t, lp), PI_OK);
    assert_true(isfinite(lp[0]));
    /* a point too far for float arithmetic: PI_ENUMERIC, never NaN with PI_OK */
    float far[2] = {3.0e38f, -3.0e38f}, out[2];
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_DENOISED, 1, far, &t, out), PI_ENUMERIC, "too far");
    far[0] = 1e30f;
    far[1] = -2e30f;
    assert_int_equal(pi_model_eval(m, PI_VIEW_DENOISED, 1, far, &t, out), PI_OK);
    assert_true(isfinite(out[0]) && isfinite(out[1]));
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}


/* Issue 17: the softmax pass 16 lanes wide (AVX-512F) gives the same bits as the SSE2 pass,
 * values and sum, on lengths with every tail and on logits across the clamp. */
static void test_softmax_same_bits_every_isa(void **state)
{
    (void)state;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        print_message("no AVX-512F here: nothing to compare\n");
        return;
    }
    static float g0[600], a[600], b[600];
    for (int i = 0; i < 600; i++)
        g0[i] = (float)((i * 53) % 211) * 0.37f - 60.0f;
    g0[17] = NAN;
    g0[18] = -INFINITY;
    for (size_t nb = 0; nb < 600; nb += 37) {
        memcpy(a, g0, sizeof g0);
        memcpy(b, g0, sizeof g0);
        double sa = pi_empirical_exp_block_isa(0, a, nb, 1.3f, 17.0f);
        double sb = pi_empirical_exp_block_isa(2, b, nb, 1.3f, 17.0f);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_equal(&sa, &sb, sizeof sa);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_same_bits_every_isa),
        cmocka_unit_test(test_equals_zero_variance_gmm),
        cmocka_unit_test(test_small_variance_limit),
        cmocka_unit_test(test_euler_step_is_mean_shift),
        cmocka_unit_test(test_nearest_point_limit),
        cmocka_unit_test(test_blocking_and_threads),
        cmocka_unit_test(test_large_data_set),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
