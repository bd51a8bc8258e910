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
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- the model's scratch (callback_impl.h): cold and warm calls, calls from threads -------
 * A pure host (safe from any thread): F_i = (tanh(u_i) + 0.1 x_i³)(1 + t), u = W x; a class
 * shifts F_0. Its products are exact. */
#define SD 3
static const double SW[SD][SD] = {{0.7, -0.3, 0.2}, {0.1, 0.5, -0.4}, {-0.6, 0.2, 0.9}};

static void pure_f(const double *x, double t, double *f)
{
    for (int i = 0; i < SD; i++) {
        double u = 0.0;
        for (int j = 0; j < SD; j++)
            u += SW[i][j] * x[j];
        f[i] = (tanh(u) + 0.1 * x[i] * x[i] * x[i]) * (1.0 + t);
    }
}

static int pure_cond(size_t n, size_t dim, const float *x, const double *t, const int32_t *labels,
                     size_t cond_dim, const float *cond, void *const *row_data, float *out,
                     void *user)
{
    (void)dim;
    (void)cond_dim;
    (void)cond;
    (void)row_data;
    (void)user;
    for (size_t r = 0; r < n; r++) {
        double xd[SD], f[SD];
        for (int j = 0; j < SD; j++)
            xd[j] = x[r * SD + j];
        pure_f(xd, t[r], f);
        for (int j = 0; j < SD; j++)
            out[r * SD + j] = (float)f[j] + (j == 0 && labels[r] >= 0 ? 1.0f : 0.0f);
    }
    return 0;
}

/* J, and the second and third derivatives of F at x. */
static void pure_derivs(const double *x, double t, double J[SD][SD], double H[SD][SD][SD],
                        double T[SD][SD][SD][SD])
{
    double s = 1.0 + t;
    for (int i = 0; i < SD; i++) {
        double u = 0.0;
        for (int j = 0; j < SD; j++)
            u += SW[i][j] * x[j];
        double th = tanh(u), d1 = 1.0 - th * th, d2 = -2.0 * th * d1;
        double d3 = -2.0 * d1 * d1 + 4.0 * th * th * d1;
        for (int j = 0; j < SD; j++) {
            J[i][j] = s * (d1 * SW[i][j] + (i == j ? 0.3 * x[i] * x[i] : 0.0));
            for (int k = 0; k < SD; k++) {
                H[i][j][k] = s * (d2 * SW[i][j] * SW[i][k] + (i == j && j == k ? 0.6 * x[i] : 0.0));
                for (int l = 0; l < SD; l++)
                    T[i][j][k][l] = s * (d3 * SW[i][j] * SW[i][k] * SW[i][l] +
                                         (i == j && j == k && k == l ? 0.6 : 0.0));
            }
        }
    }
}

static int pure_products(pi_derivative kind, size_t n, size_t dim, const double *x,
                         const double *t, const double *a, const double *b, const double *c,
                         double *out, void *user)
{
    (void)dim;
    (void)user;
    for (size_t r = 0; r < n; r++) {
        double J[SD][SD], H[SD][SD][SD], T[SD][SD][SD][SD];
        const double *xr = x + r * SD;
        pure_derivs(xr, t[r], J, H, T);
        for (int m = 0; m < SD; m++) {
            double acc = 0.0;
            for (int i = 0; i < SD; i++)
                for (int j = 0; j < SD; j++) {
                    if (kind == PI_DERIVATIVE_JVP)
                        acc += i == 0 ? J[m][j] * b[r * SD + j] : 0.0;
                    else if (kind == PI_DERIVATIVE_VJP)
                        acc += j == 0 ? a[r * SD + i] * J[i][m] : 0.0;
                    else if (kind == PI_DERIVATIVE_VJP_JVP)
                        acc += a[r * SD + i] * H[i][j][m] * b[r * SD + j];
                    else
                        for (int k = 0; k < SD; k++)
                            acc += a[r * SD + i] * T[i][j][k][m] * b[r * SD + j] * c[r * SD + k];
                }
            out[r * SD + m] = acc;
        }
    }
    return 0;
}

/* Everything the likelihood asks of a model at one point: s, J, ∇·s, ∇(∇·s), Hessians and
 * (with the products) ∇∇(∇·s), packed into one vector. */
#define ALL_VALUES (SD + SD * SD + 1 + SD + SD * SD * SD + SD * SD)
static pi_status all_derivatives(const pi_model_t *m, int products, const double *x, double *v)
{
    const double t = 0.45;
    pi_status st = pi_model_score_d(m, x, t, v);
    if (st == PI_OK)
        st = pi_model_jacobian_d(m, x, t, v + SD);
    if (st == PI_OK)
        st = pi_model_divergence_d(m, x, t, v + SD + SD * SD);
    if (st == PI_OK)
        st = pi_model_grad_div_d(m, x, t, v + SD + SD * SD + 1);
    if (st == PI_OK)
        st = pi_model_hessians_d(m, x, t, v + 2 * SD + SD * SD + 1);
    double *hd = v + 2 * SD + SD * SD + 1 + SD * SD * SD;
    if (st == PI_OK && products)
        st = pi_model_hess_div_d(m, x, t, hd);
    else if (st == PI_OK)
        memset(hd, 0, SD * SD * sizeof *hd);
    return st;
}

enum { SCRATCH_POINTS = 4, SCRATCH_THREADS = 4, SCRATCH_ROUNDS = 40 };

typedef struct scratch_job {
    const pi_model_t *m;
    int products;
    const double (*points)[SD];
    const double (*ref)[ALL_VALUES];
    int first;
    atomic_int *mismatches;
} scratch_job;

static void *scratch_worker(void *arg)
{
    scratch_job *job = arg;
    double v[ALL_VALUES];
    for (int r = 0; r < SCRATCH_ROUNDS; r++) {
        int p = (job->first + r) % SCRATCH_POINTS;
        if (all_derivatives(job->m, job->products, job->points[p], v) != PI_OK ||
            memcmp(v, job->ref[p], sizeof v) != 0)
            atomic_fetch_add(job->mismatches, 1);
    }
    return NULL;
}

static void test_scratch_cold_warm_threads(void **state)
{
    (void)state;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    static const double points[SCRATCH_POINTS][SD] = {
        {0.3, -0.8, 1.2}, {-1.1, 0.4, 0.05}, {2.0, 1.5, -0.7}, {0.0, 0.0, 0.0}};
    for (int products = 0; products < 2; products++) {
        pi_model_t *m;
        assert_int_equal(pi_model_create_callback_cond(sde, SD, PI_VIEW_EPS, 2, 1, 1, pure_cond,
                                                       NULL, &m),
                         PI_OK);
        if (products)
            assert_int_equal(pi_model_callback_set_derivatives(
                                 m, pure_products,
                                 PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP | PI_DERIVATIVE_VJP_JVP,
                                 NULL),
                             PI_OK);
        /* cold (every piece from the heap), then warm (the model's buffer): the same bits */
        double ref[SCRATCH_POINTS][ALL_VALUES], warm[ALL_VALUES];
        for (int p = 0; p < SCRATCH_POINTS; p++) {
            pi_model_t *fresh;
            assert_int_equal(pi_model_create_callback_cond(sde, SD, PI_VIEW_EPS, 2, 1, 1,
                                                           pure_cond, NULL, &fresh),
                             PI_OK);
            if (products)
                assert_int_equal(pi_model_callback_set_derivatives(
                                     fresh, pure_products,
                                     PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP |
                                         PI_DERIVATIVE_VJP_JVP,
                                     NULL),
                                 PI_OK);
            assert_int_equal(all_derivatives(fresh, products, points[p], ref[p]), PI_OK);
            pi_model_destroy(fresh);
            assert_int_equal(all_derivatives(m, products, points[p], warm), PI_OK);
            assert_int_equal(all_derivatives(m, products, points[p], warm), PI_OK);
            assert_memory_equal(warm, ref[p], sizeof warm);
        }
        if (products) {
            /* the products are exact: ∇(∇·s) against the contracted Hessians of F */
            double J[SD][SD], H[SD][SD][SD], T[SD][SD][SD][SD];
            pure_derivs(points[0], 0.45, J, H, T);
            pi_sde_point pt = {1.0, 0.0, 0.0, 0.0, 0.0};
            assert_int_equal(pi_sde_eval(&m->sde, 0.45, &pt), PI_OK);
            for (int i = 0; i < SD; i++) {
                double gd = 0.0;
                for (int k = 0; k < SD; k++)
                    gd += H[k][k][i];
                gd *= -1.0 / pt.sigma; /* s = −ε/σ */
                assert_true(fabs(ref[0][SD + SD * SD + 1 + i] - gd) <= 1e-12 * (1.0 + fabs(gd)));
            }
        }
        /* threads share the model: each call gets the buffer or its own heap scratch */
        atomic_int mismatches = 0;
        pthread_t th[SCRATCH_THREADS];
        scratch_job jobs[SCRATCH_THREADS];
        for (int i = 0; i < SCRATCH_THREADS; i++) {
            jobs[i] = (scratch_job){m, products, points, (const double(*)[ALL_VALUES])ref, i,
                                    &mismatches};
            assert_int_equal(pthread_create(&th[i], NULL, scratch_worker, &jobs[i]), 0);
        }
        for (int i = 0; i < SCRATCH_THREADS; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(atomic_load(&mismatches), 0);
        pi_model_destroy(m);
    }
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
        cmocka_unit_test(test_scratch_cold_warm_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
