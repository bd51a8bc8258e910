/* Host-callback models: every declared view reproduces the wrapped exact mixture in every
 * output view, finite-difference derivatives agree with the exact ones to their documented
 * accuracy, and failures surface as PI_ECALLBACK / PI_ENUMERIC / PI_EUNSUPPORTED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "model/model_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct host {
    pi_model_t *truth; /* an exact mixture */
    pi_view view;      /* the view this host returns */
    int fail_code;     /* nonzero: return it */
    int emit_nan;
    int calls;
} host;

static int host_fn(size_t n, size_t dim, const float *x, const double *t, float *out,
                   void *user_data)
{
    host *h = user_data;
    h->calls++;
    if (h->fail_code != 0)
        return h->fail_code;
    (void)dim;
    if (pi_model_eval(h->truth, h->view, n, x, t, out) != PI_OK)
        return -99;
    if (h->emit_nan)
        out[n * dim - 1] = NAN;
    return 0;
}

static pi_sde_t *make_sde(pi_sde_kind kind)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    return sde;
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double e = 0.0, m = 1e-300;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return e / m;
}

static void test_views_roundtrip(void **state)
{
    (void)state;
    const size_t d = 3, n = 40;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, 4, 3, 1.0, 0.1, 0.5), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    host h = {gmm_fixture_model(&f, sde), PI_VIEW_SCORE, 0, 0, 0};
    float *x = malloc(n * d * sizeof *x), *a = malloc(n * d * sizeof *a), *b = malloc(n * d * sizeof *b);
    double *t = malloc(n * sizeof *t);
    gmm_fixture_sample_at(&f, n, 1, 0.7, 0.7, x);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.05 + 0.9 * (double)i / (double)n;
    for (int declared = PI_VIEW_SCORE; declared <= PI_VIEW_V; declared++) {
        h.view = (pi_view)declared;
        pi_model_t *m;
        assert_int_equal(pi_model_create_callback(sde, d, h.view, host_fn, &h, &m), PI_OK);
        for (int view = PI_VIEW_SCORE; view <= PI_VIEW_V; view++) {
            assert_int_equal(pi_model_eval(m, (pi_view)view, n, x, t, a), PI_OK);
            assert_int_equal(pi_model_eval(h.truth, (pi_view)view, n, x, t, b), PI_OK);
            for (size_t i = 0; i < n * d; i++)
                assert_true(fabs(a[i] - b[i]) <= 1e-4 * fmax(1.0, fabs(b[i])));
        }
        pi_model_kind kind;
        assert_int_equal(pi_model_get_kind(m, &kind), PI_OK);
        assert_int_equal(kind, PI_MODEL_KIND_CALLBACK);
        pi_model_destroy(m);
    }
    free(x); free(a); free(b); free(t);
    pi_model_destroy(h.truth);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* Double-precision views convert exactly (round trip to a few ulps). */
static void test_view_convert_d_roundtrip(void **state)
{
    (void)state;
    const double x[2] = {0.3, -1.7}, s[2] = {2.5, -0.25};
    const double alphas[3] = {1.0, 0.3, 0.999}, sigmas[3] = {80.0, 0.954, 0.002};
    for (int c = 0; c < 3; c++)
        for (int from = PI_VIEW_SCORE; from <= PI_VIEW_V; from++)
            for (int to = PI_VIEW_SCORE; to <= PI_VIEW_V; to++) {
                double a[2], b[2], back[2];
                pi_view_convert_d(PI_VIEW_SCORE, (pi_view)from, 2, x, alphas[c], sigmas[c], s, a);
                pi_view_convert_d((pi_view)from, (pi_view)to, 2, x, alphas[c], sigmas[c], a, b);
                pi_view_convert_d((pi_view)to, PI_VIEW_SCORE, 2, x, alphas[c], sigmas[c], b, back);
                for (int j = 0; j < 2; j++)
                    assert_true(fabs(back[j] - s[j]) <= 1e-9 * fabs(s[j]) * (1.0 + 1.0 / (sigmas[c] * sigmas[c])));
            }
}

static void test_fd_derivatives(void **state)
{
    (void)state;
    const size_t d = 3;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, 3, 8, 0.7, 0.3, 0.8), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    host h = {gmm_fixture_model(&f, sde), PI_VIEW_EPS, 0, 0, 0};
    pi_model_t *m;
    for (int declared = PI_VIEW_SCORE; declared <= PI_VIEW_DENOISED; declared++) {
        h.view = (pi_view)declared;
        assert_int_equal(pi_model_create_callback(sde, d, h.view, host_fn, &h, &m), PI_OK);
        double x[3] = {0.2, -0.4, 0.6}, t = 0.5;
        double a[27], b[27], da, db, v[3] = {0.5, 1.0, -2.0};
        assert_int_equal(pi_model_score_d(m, x, t, a), PI_OK);
        assert_int_equal(pi_model_score_d(h.truth, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d) < 1e-5);
        assert_int_equal(pi_model_jacobian_d(m, x, t, a), PI_OK);
        assert_int_equal(pi_model_jacobian_d(h.truth, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d * d) < 1e-3);
        assert_int_equal(pi_model_jvp_d(m, x, t, v, a), PI_OK);
        assert_int_equal(pi_model_jvp_d(h.truth, x, t, v, b), PI_OK);
        assert_true(rel_err(a, b, d) < 1e-3);
        assert_int_equal(pi_model_divergence_d(m, x, t, &da), PI_OK);
        assert_int_equal(pi_model_divergence_d(h.truth, x, t, &db), PI_OK);
        assert_true(fabs(da - db) < 1e-3 * fabs(db));
        assert_int_equal(pi_model_hessians_d(m, x, t, a), PI_OK);
        assert_int_equal(pi_model_hessians_d(h.truth, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d * d * d) < 2e-2);
        assert_int_equal(pi_model_grad_div_d(m, x, t, a), PI_OK);
        assert_int_equal(pi_model_grad_div_d(h.truth, x, t, b), PI_OK);
        assert_true(rel_err(a, b, d) < 2e-2);
        assert_int_equal(pi_model_hess_div_d(m, x, t, a), PI_EUNSUPPORTED);
        assert_non_null(strstr(pi_last_error(), "third derivatives"));
        assert_int_equal(pi_model_logpdf_d(m, x, t, &da), PI_EUNSUPPORTED);
        float xf[3] = {0.2f, -0.4f, 0.6f};
        double lp = 5.0;
        assert_int_equal(pi_model_logpdf(m, 1, xf, &t, &lp), PI_EUNSUPPORTED);
        assert_non_null(strstr(pi_last_error(), "log-density"));
        assert_true(lp == 5.0);
        /* public divergence and jvp go through the same derivatives */
        double dv;
        assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_EXACT, 1, 0, 1, xf, &t, &dv), PI_OK);
        assert_true(fabs(dv - db) < 1e-3 * fabs(db));
        pi_model_destroy(m);
    }
    pi_model_destroy(h.truth);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

static void test_failing_callback(void **state)
{
    (void)state;
    const double w = 1.0, mu[2] = {0, 0}, var[2] = {1, 1};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_EDM);
    host h = {NULL, PI_VIEW_DENOISED, 3, 0, 0};
    assert_int_equal(pi_model_create_gmm(sde, 2, 1, &w, mu, var, &h.truth), PI_OK);
    pi_model_t *m;
    assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_DENOISED, host_fn, &h, &m), PI_OK);
    float x[4] = {1, 2, 3, 4}, out[4];
    double t[2] = {1.0, 2.0}, xd[2] = {1, 2}, s[2], div;
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, out), PI_ECALLBACK);
    assert_non_null(strstr(pi_last_error(), "returned 3"));
    assert_int_equal(h.calls, 1);
    assert_int_equal(pi_model_score_d(m, xd, 1.0, s), PI_ECALLBACK);
    assert_int_equal(pi_model_divergence_d(m, xd, 1.0, &div), PI_ECALLBACK);
    assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, 4, 1, 2, x, t, t), PI_ECALLBACK);
    assert_true(t[0] == 1.0 && t[1] == 2.0); /* caller buffer untouched */
    h.fail_code = 0;
    h.emit_nan = 1;
    assert_int_equal(pi_model_eval(m, PI_VIEW_EPS, 2, x, t, out), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "non-finite"));
    h.emit_nan = 0;
    assert_int_equal(pi_model_eval(m, PI_VIEW_EPS, 2, x, t, out), PI_OK);
    pi_model_destroy(m);
    pi_model_destroy(h.truth);
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
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    host h = {NULL, PI_VIEW_SCORE, 0, 0, 0};
    pi_model_t *m = (pi_model_t *)0x1;
    EXPECT_FAIL(pi_model_create_callback(NULL, 2, PI_VIEW_SCORE, host_fn, &h, &m), PI_EINVAL, "sde");
    EXPECT_FAIL(pi_model_create_callback(sde, 2, PI_VIEW_SCORE, NULL, &h, &m), PI_EINVAL, "fn");
    EXPECT_FAIL(pi_model_create_callback(sde, 2, PI_VIEW_SCORE, host_fn, &h, NULL), PI_EINVAL, "out");
    EXPECT_FAIL(pi_model_create_callback(sde, 0, PI_VIEW_SCORE, host_fn, &h, &m), PI_EINVAL, "dim");
    EXPECT_FAIL(pi_model_create_callback(sde, 2, (pi_view)6, host_fn, &h, &m), PI_EINVAL, "view");
    EXPECT_FAIL(pi_model_create_callback(sde, 2, (pi_view)0, host_fn, &h, &m), PI_EINVAL, "view");
    assert_true(m == (pi_model_t *)0x1);
    /* user_data may be NULL */
    assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_SCORE, host_fn, NULL, &m), PI_OK);
    size_t np = 7;
    assert_int_equal(pi_model_get_num_params(m, &np), PI_OK);
    assert_int_equal(np, 0);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_roundtrip),
        cmocka_unit_test(test_view_convert_d_roundtrip),
        cmocka_unit_test(test_fd_derivatives),
        cmocka_unit_test(test_failing_callback),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
