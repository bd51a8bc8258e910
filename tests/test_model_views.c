/* Views (views.c) and the derivative dispatch (model.c): conversions against the closed forms
 * of MATH.md §2 and round trips for every pair, in place too; finite-difference fallbacks
 * against the exact mixture for kinds that supply only some vtable entries. */
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

static pi_sde_t *make_sde(pi_sde_kind kind)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    return sde;
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

static void test_closed_forms(void **state)
{
    (void)state;
    const size_t n = 3, d = 2;
    const float x[6] = {0.5f, -1.0f, 2.0f, 0.25f, -3.0f, 1.5f};
    const float s[6] = {1.0f, 2.0f, -0.5f, 0.75f, 3.0f, -2.0f};
    const double alpha[3] = {1.0, 0.6, 0.01}, sigma[3] = {0.5, 0.8, 0.99995};
    float out[PI_VIEW_V + 1][6]; /* indexed by pi_view */
    for (int v = PI_VIEW_SCORE; v <= PI_VIEW_V; v++)
        pi_view_convert(PI_VIEW_SCORE, (pi_view)v, n, d, x, alpha, sigma, s, out[v]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            size_t q = i * d + j;
            double eps = -sigma[i] * s[q];
            double den = (x[q] + sigma[i] * sigma[i] * s[q]) / alpha[i];
            double vel = alpha[i] * eps - sigma[i] * den;
            assert_true(out[PI_VIEW_SCORE][q] == s[q]);
            assert_true(fabs(out[PI_VIEW_EPS][q] - eps) <= 1e-6 * fmax(1.0, fabs(eps)));
            assert_true(fabs(out[PI_VIEW_DENOISED][q] - den) <= 1e-6 * fmax(1.0, fabs(den)));
            assert_true(fabs(out[PI_VIEW_V][q] - vel) <= 1e-6 * fmax(1.0, fabs(vel)));
        }
}

static void test_round_trips_every_pair(void **state)
{
    (void)state;
    const size_t n = 4, d = 3;
    float x[12], s[12];
    double alpha[4] = {1.0, 0.9, 0.3, 1.0}, sigma[4] = {0.002, 0.43, 0.95, 80.0};
    for (size_t i = 0; i < n * d; i++) {
        x[i] = (float)sin(1.0 + (double)i);
        s[i] = (float)cos(2.0 + (double)i);
    }
    for (int from = PI_VIEW_SCORE; from <= PI_VIEW_V; from++)
        for (int to = PI_VIEW_SCORE; to <= PI_VIEW_V; to++) {
            float a[12], b[12], c[12];
            pi_view_convert(PI_VIEW_SCORE, (pi_view)from, n, d, x, alpha, sigma, s, a);
            pi_view_convert((pi_view)from, (pi_view)to, n, d, x, alpha, sigma, a, b);
            /* in place */
            memcpy(c, a, sizeof c);
            pi_view_convert((pi_view)from, (pi_view)to, n, d, x, alpha, sigma, c, c);
            assert_memory_equal(b, c, sizeof b);
            /* back through the score in double */
            for (size_t i = 0; i < n; i++) {
                double xd[3], bd[3], sd[3], direct[3];
                for (size_t j = 0; j < d; j++) {
                    xd[j] = x[i * d + j];
                    bd[j] = a[i * d + j];
                }
                pi_view_convert_d((pi_view)from, (pi_view)to, d, xd, alpha[i], sigma[i], bd, direct);
                for (size_t j = 0; j < d; j++)
                    assert_true(fabs(direct[j] - b[i * d + j]) <= 1e-6 * fmax(1.0, fabs(direct[j])));
                pi_view_convert_d((pi_view)to, PI_VIEW_SCORE, d, xd, alpha[i], sigma[i], direct, sd);
                /* the float view values a[] carry float rounding; relative to |s| scaled by
                 * the amplification 1/σ² of the denoiser view */
                double amp = 1.0 + (alpha[i] * alpha[i] + 1.0) / (sigma[i] * sigma[i]);
                for (size_t j = 0; j < d; j++)
                    assert_true(fabs(sd[j] - s[i * d + j]) <= 2e-7 * amp * (1.0 + fabs(x[i * d + j])));
            }
        }
}

/* ---- partial kinds for the dispatch fallbacks -------------------------------------------- */

static pi_status inner_score(const pi_model_t *m, const double *x, double t, double *s)
{
    return pi_model_score_d(m->impl, x, t, s);
}

static pi_status inner_jvp(const pi_model_t *m, const double *x, double t, const double *v,
                           double *out)
{
    return pi_model_jvp_d(m->impl, x, t, v, out);
}

static pi_status inner_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                            float *out, const pi_eval_ctx *ctx)
{
    /* the wrapped mixture in the denoiser view */
    return pi_model_eval_ctx(m->impl, PI_VIEW_DENOISED, n, x, t, out, ctx);
}

static size_t inner_ws(const pi_model_t *m, size_t n) { return pi_model_workspace_bytes(m->impl, n); }

static const struct pi_model_type score_only_type = {
    .name = "score-only", .kind = PI_MODEL_KIND_CALLBACK, .workspace_bytes = inner_ws,
    .eval = inner_eval, .score_d = inner_score};
static const struct pi_model_type jvp_only_type = {
    .name = "jvp-only", .kind = PI_MODEL_KIND_CALLBACK, .workspace_bytes = inner_ws,
    .eval = inner_eval, .score_d = inner_score, .jvp_d = inner_jvp};
static const struct pi_model_type eval_only_type = {
    .name = "eval-only", .kind = PI_MODEL_KIND_CALLBACK, .workspace_bytes = inner_ws,
    .eval = inner_eval};

static pi_model_t *wrap(const struct pi_model_type *type, pi_model_t *inner, const pi_sde_t *sde)
{
    pi_model_t *m;
    assert_int_equal(pi_model_alloc(type, sde, inner->dim, PI_VIEW_DENOISED, &m), PI_OK);
    m->impl = inner; /* borrowed: the type has no destroy */
    return m;
}

static void compare_dispatch(pi_model_t *m, pi_model_t *truth, double tol1, double tol2,
                             double tol3)
{
    size_t d = truth->dim;
    double x[4] = {0.3, -0.5, 0.8, 0.1}, v[4] = {1.0, -2.0, 0.5, 0.25}, t = 0.45;
    double *a = malloc(d * d * d * sizeof *a), *b = malloc(d * d * d * sizeof *b), da, db;
    assert_int_equal(pi_model_score_d(m, x, t, a), PI_OK);
    assert_int_equal(pi_model_score_d(truth, x, t, b), PI_OK);
    assert_true(rel_err(a, b, d) < (m->type->score_d ? 1e-14 : 1e-6));
    assert_int_equal(pi_model_jvp_d(m, x, t, v, a), PI_OK);
    assert_int_equal(pi_model_jvp_d(truth, x, t, v, b), PI_OK);
    assert_true(rel_err(a, b, d) < tol1);
    assert_int_equal(pi_model_jacobian_d(m, x, t, a), PI_OK);
    assert_int_equal(pi_model_jacobian_d(truth, x, t, b), PI_OK);
    assert_true(rel_err(a, b, d * d) < tol1);
    assert_int_equal(pi_model_divergence_d(m, x, t, &da), PI_OK);
    assert_int_equal(pi_model_divergence_d(truth, x, t, &db), PI_OK);
    assert_true(fabs(da - db) < tol1 * fmax(1.0, fabs(db)));
    assert_int_equal(pi_model_hessians_d(m, x, t, a), PI_OK);
    assert_int_equal(pi_model_hessians_d(truth, x, t, b), PI_OK);
    assert_true(rel_err(a, b, d * d * d) < tol2);
    assert_int_equal(pi_model_grad_div_d(m, x, t, a), PI_OK);
    assert_int_equal(pi_model_grad_div_d(truth, x, t, b), PI_OK);
    assert_true(rel_err(a, b, d) < tol2);
    assert_int_equal(pi_model_hess_div_d(m, x, t, a), PI_OK);
    assert_int_equal(pi_model_hess_div_d(truth, x, t, b), PI_OK);
    assert_true(rel_err(a, b, d * d) < tol3);
    assert_int_equal(pi_model_logpdf_d(m, x, t, &da), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), m->type->name));
    free(a);
    free(b);
}

static void test_fallbacks(void **state)
{
    (void)state;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 4, 3, 77, 0.6, 0.4, 0.9), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *truth = gmm_fixture_model(&f, sde);
    pi_model_t *m = wrap(&jvp_only_type, truth, sde);
    compare_dispatch(m, truth, 1e-12, 1e-7, 1e-4);
    pi_model_destroy(m);
    m = wrap(&score_only_type, truth, sde);
    compare_dispatch(m, truth, 1e-8, 1e-5, 1e-2);
    pi_model_destroy(m);
    /* only the float eval: FD with float-sized steps, so much looser */
    m = wrap(&eval_only_type, truth, sde);
    double x[4] = {0.3, -0.5, 0.8, 0.1}, a[16], b[16], da, db;
    assert_int_equal(pi_model_score_d(m, x, 0.45, a), PI_OK);
    assert_int_equal(pi_model_score_d(truth, x, 0.45, b), PI_OK);
    assert_true(rel_err(a, b, 4) < 1e-5);
    assert_int_equal(pi_model_jacobian_d(m, x, 0.45, a), PI_OK);
    assert_int_equal(pi_model_jacobian_d(truth, x, 0.45, b), PI_OK);
    assert_true(rel_err(a, b, 16) < 1e-3);
    assert_int_equal(pi_model_divergence_d(m, x, 0.45, &da), PI_OK);
    assert_int_equal(pi_model_divergence_d(truth, x, 0.45, &db), PI_OK);
    assert_true(fabs(da - db) < 1e-3 * fmax(1.0, fabs(db)));
    /* the public eval goes through the same type and view conversion */
    float xf[4] = {0.3f, -0.5f, 0.8f, 0.1f}, o1[4], o2[4];
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_SCORE, 1, xf, 0.45, o1), PI_OK);
    assert_int_equal(pi_model_eval_at(truth, PI_VIEW_SCORE, 1, xf, 0.45, o2), PI_OK);
    for (int j = 0; j < 4; j++)
        assert_true(fabs(o1[j] - o2[j]) <= 1e-5 * fmax(1.0, fabs(o2[j])));
    pi_model_destroy(m);
    pi_model_destroy(truth);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* The internal eval with caller scratch equals the public eval. */
static void test_eval_ctx_matches_public(void **state)
{
    (void)state;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 3, 5, 9, 1.0, 0.05, 0.3), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_SUBVP);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    const size_t n = 100;
    float x[300], a[300], b[300];
    double t[100];
    gmm_fixture_sample(&f, n, 2, x);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.01 + 0.98 * (double)i / (double)n;
    size_t bytes = pi_model_workspace_bytes(m, n);
    void *raw = malloc(bytes + 64);
    pi_eval_ctx ctx = {(void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63), bytes, 1, NULL, NULL};
    for (int v = PI_VIEW_SCORE; v <= PI_VIEW_V; v++) {
        assert_int_equal(pi_model_eval_ctx(m, (pi_view)v, n, x, t, a, &ctx), PI_OK);
        assert_int_equal(pi_model_eval(m, (pi_view)v, n, x, t, b), PI_OK);
        assert_memory_equal(a, b, sizeof a);
    }
    free(raw);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* ---- issue 14: the flow view on every SDE kind ------------------------------------------ */

static pi_sde_t *make_any_sde(int k)
{
    pi_sde_t *sde = NULL;
    if (k == 0)
        assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085,
                                                     0.012, 0, &sde),
                         PI_OK);
    else
        sde = make_sde((pi_sde_kind)(k == 6 ? PI_SDE_KIND_RECTIFIED_FLOW : k));
    return sde;
}

/* A single Gaussian N(μ, v) per dimension: E[x0 | x] and E[ε | x] in closed form, so the flow
 * u = α' E[x0|x] + σ' E[ε|x] is known; α', σ' by central differences of the marginal. */
static void test_flow_view_closed_form(void **state)
{
    (void)state;
    const double w[1] = {1.0}, mu[2] = {0.4, -1.2}, var[2] = {0.3, 0.05};
    const float x[6] = {-1.0f, 0.5f, 0.2f, -2.0f, 1.5f, 0.0f};
    for (int k = 0; k <= 6; k++) { /* 0 discrete, 1..5 VP .. EDM, 6 rectified flow */
        pi_sde_t *sde = make_any_sde(k);
        pi_model_t *m = NULL;
        assert_int_equal(pi_model_create_gmm(sde, 2, 1, w, mu, var, &m), PI_OK);
        double t0, t1;
        pi_sde_time_range(sde, &t0, &t1);
        for (int j = 1; j <= 4; j++) {
            double t = t0 + (t1 - t0) * j / 5.0, h = 1e-6 * fmax(1.0, t);
            double a, sg, ap, sp, am, sm;
            pi_sde_marginal(sde, t, &a, &sg);
            pi_sde_marginal(sde, t + h, &ap, &sp);
            pi_sde_marginal(sde, t - h, &am, &sm);
            double da = (ap - am) / (2 * h), ds = (sp - sm) / (2 * h);
            double tt[3] = {t, t, t};
            float u[6], sc[6], back[6];
            assert_int_equal(pi_model_eval(m, PI_VIEW_FLOW, 3, x, tt, u), PI_OK);
            assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, 3, x, tt, sc), PI_OK);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 2; c++) {
                    double q = a * a * var[c] + sg * sg, dx = x[r * 2 + c] - a * mu[c];
                    double ex0 = mu[c] + a * var[c] / q * dx, eeps = sg / q * dx;
                    double expect = da * ex0 + ds * eeps;
                    double scale = fabs(da) * fabs(ex0) + fabs(ds) * fabs(eeps) + 1e-3;
                    if (fabs(u[r * 2 + c] - expect) > 2e-5 * scale)
                        fail_msg("SDE %d, t = %g: flow %g, closed form %g", k, t, u[r * 2 + c], expect);
                }
            /* flow → every view → flow, and flow → score against the score view. */
            pi_sde_point p;
            assert_int_equal(pi_sde_eval(sde, t, &p), PI_OK);
            float s2[6];
            pi_view_convert_at(PI_VIEW_FLOW, PI_VIEW_SCORE, 3, 2, x, &p, u, s2);
            for (int e = 0; e < 6; e++)
                assert_true(fabs(s2[e] - sc[e]) <= 2e-4 * (fabs(sc[e]) + 1.0));
            for (int v = PI_VIEW_SCORE; v <= PI_VIEW_FLOW; v++) {
                float mid[6];
                pi_view_convert_at(PI_VIEW_FLOW, (pi_view)v, 3, 2, x, &p, u, mid);
                pi_view_convert_at((pi_view)v, PI_VIEW_FLOW, 3, 2, x, &p, mid, back);
                for (int e = 0; e < 6; e++)
                    if (fabs(back[e] - u[e]) > 1e-4 * (fabs(u[e]) + 1.0))
                        fail_msg("SDE %d view %d t = %g: round trip %g -> %g", k, v, t, u[e], back[e]);
            }
        }
        pi_model_destroy(m);
        pi_sde_destroy(sde);
    }
}

/* Rectified flow: u = ε − x0 exactly, so the flow view of the conditional is the FM target. */
static void test_flow_view_rectified_flow_identity(void **state)
{
    (void)state;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_RECTIFIED_FLOW);
    pi_sde_point p;
    const double t = 0.3;
    assert_int_equal(pi_sde_eval(sde, t, &p), PI_OK);
    const double x0[2] = {0.7, -1.1}, eps[2] = {0.2, 0.9};
    double x[2], eps_view[2], u[2];
    for (int j = 0; j < 2; j++)
        x[j] = (1 - t) * x0[j] + t * eps[j];
    memcpy(eps_view, eps, sizeof eps);
    pi_view_convert_at_d(PI_VIEW_EPS, PI_VIEW_FLOW, 2, x, &p, eps_view, u);
    for (int j = 0; j < 2; j++)
        assert_true(fabs(u[j] - (eps[j] - x0[j])) < 1e-14);
    pi_sde_destroy(sde);
}

typedef struct flow_host {
    pi_model_t *truth;
} flow_host;

static int flow_callback(size_t n, size_t dim, const float *x, const double *t, float *out, void *u)
{
    (void)dim;
    const flow_host *h = u;
    return pi_model_eval(h->truth, PI_VIEW_FLOW, n, x, t, out) != PI_OK;
}

/* A host network declared as predicting the flow velocity: pathint converts to the score. */
static void test_flow_callback(void **state)
{
    (void)state;
    const double w[2] = {0.3, 0.7}, mu[4] = {-1.0, 0.5, 1.0, -0.5}, var[4] = {0.1, 0.2, 0.05, 0.1};
    for (int k = 0; k <= 6; k += 6) {
        pi_sde_t *sde = make_any_sde(k);
        pi_model_t *truth = NULL, *cb = NULL;
        assert_int_equal(pi_model_create_gmm(sde, 2, 2, w, mu, var, &truth), PI_OK);
        flow_host h = {truth};
        assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_FLOW, flow_callback, &h, &cb), PI_OK);
        const float x[4] = {0.3f, -0.2f, -1.0f, 0.8f};
        for (int j = 1; j <= 3; j++) {
            double t = 0.25 * j, tt[2] = {t, t};
            float s_cb[4], s_true[4];
            assert_int_equal(pi_model_eval(cb, PI_VIEW_SCORE, 2, x, tt, s_cb), PI_OK);
            assert_int_equal(pi_model_eval(truth, PI_VIEW_SCORE, 2, x, tt, s_true), PI_OK);
            for (int e = 0; e < 4; e++)
                assert_true(fabs(s_cb[e] - s_true[e]) <= 1e-4 * (fabs(s_true[e]) + 1.0));
            /* the double-precision score path (likelihood, WKB) converts too */
            double xd[2] = {x[0], x[1]}, sd[2];
            assert_int_equal(pi_model_score_d(cb, xd, t, sd), PI_OK);
            assert_true(fabs(sd[0] - s_true[0]) <= 1e-4 * (fabs(s_true[0]) + 1.0));
        }
        pi_model_destroy(cb);
        pi_model_destroy(truth);
        pi_sde_destroy(sde);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_forms),
        cmocka_unit_test(test_round_trips_every_pair),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_eval_ctx_matches_public),
        cmocka_unit_test(test_flow_view_closed_form),
        cmocka_unit_test(test_flow_view_rectified_flow_identity),
        cmocka_unit_test(test_flow_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
