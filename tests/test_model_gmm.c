/* The exact Gaussian mixture: every derivative against central finite differences of its own
 * exact log-density in double (d = 1, 2, 16, 64), views against closed forms, stability for far
 * points and tiny σ, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "model/gmm_rows.h"
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

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* max |a − b| / max(1, max |b|) */
static double rel_err(const double *a, const double *b, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e = fmax(e, fabs(a[i] - b[i]));
    return e / fmax(1.0, max_abs(b, n));
}

/* A test point near the diffused mixture so several components share responsibility. */
static void test_point(const gmm_fixture *f, pi_model_t *m, double t, uint64_t seed, double *x)
{
    double alpha, sigma;
    assert_int_equal(pi_sde_marginal(&m->sde, t, &alpha, &sigma), PI_OK);
    float *xf = malloc(f->dim * sizeof *xf);
    gmm_fixture_sample_at(f, 1, seed, alpha, sigma, xf);
    for (size_t j = 0; j < f->dim; j++)
        x[j] = xf[j];
    free(xf);
}

/* Central difference of a scalar function of x along e_j. */
typedef pi_status (*vec_fn)(const pi_model_t *, const double *, double, double *);

static void fd_columns(const pi_model_t *m, vec_fn fn, size_t out_len, const double *x, double t,
                       double h, double *out /* out_len × d, out[i*d + j] = ∂f_i/∂x_j */)
{
    size_t d = m->dim;
    double *xp = malloc(d * sizeof *xp), *fp = malloc(out_len * sizeof *fp),
           *fm = malloc(out_len * sizeof *fm);
    memcpy(xp, x, d * sizeof *xp);
    for (size_t j = 0; j < d; j++) {
        xp[j] = x[j] + h;
        assert_int_equal(fn(m, xp, t, fp), PI_OK);
        xp[j] = x[j] - h;
        assert_int_equal(fn(m, xp, t, fm), PI_OK);
        xp[j] = x[j];
        for (size_t i = 0; i < out_len; i++)
            out[i * d + j] = (fp[i] - fm[i]) / (2.0 * h);
    }
    free(xp);
    free(fp);
    free(fm);
}

static void check_all_derivatives(size_t d, size_t k, pi_sde_kind kind, double t, uint64_t seed)
{
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, k, seed, 1.0, 0.05, 0.5), 0);
    pi_sde_t *sde = make_sde(kind);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    assert_non_null(m);
    double *x = malloc(d * sizeof *x), *s = malloc(d * sizeof *s), *jac = malloc(d * d * sizeof *jac),
           *fd = malloc(d * d * d * sizeof *fd), *hess = malloc(d * d * d * sizeof *hess),
           *gd = malloc(d * sizeof *gd), *hd = malloc(d * d * sizeof *hd),
           *v = malloc(d * sizeof *v), *jv = malloc(d * sizeof *jv), *ref = malloc(d * d * sizeof *ref);
    test_point(&f, m, t, seed + 1, x);
    double alpha, sigma;
    assert_int_equal(pi_sde_marginal(sde, t, &alpha, &sigma), PI_OK);
    /* Step on the scale of the narrowest diffused component. */
    double h = 1e-4 * sqrt(alpha * alpha * 0.05 + sigma * sigma);

    /* log p against the independent formula */
    double logp;
    assert_int_equal(pi_model_logpdf_d(m, x, t, &logp), PI_OK);
    assert_true(fabs(logp - gmm_fixture_logpdf(&f, x, alpha, sigma)) < 1e-10 * fmax(1.0, fabs(logp)));

    /* score = ∇ log p */
    assert_int_equal(pi_model_score_d(m, x, t, s), PI_OK);
    fd_columns(m, pi_model_logpdf_d, 1, x, t, h, fd);
    assert_true(rel_err(fd, s, d) < 1e-6);

    /* Jacobian = FD of score; symmetric */
    assert_int_equal(pi_model_jacobian_d(m, x, t, jac), PI_OK);
    fd_columns(m, pi_model_score_d, d, x, t, h, fd);
    assert_true(rel_err(fd, jac, d * d) < 1e-6);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            assert_true(fabs(jac[i * d + j] - jac[j * d + i]) <= 1e-12 * fmax(1.0, max_abs(jac, d * d)));

    /* jvp = J v, divergence = tr J */
    for (size_t j = 0; j < d; j++)
        v[j] = cos(1.0 + (double)j);
    assert_int_equal(pi_model_jvp_d(m, x, t, v, jv), PI_OK);
    for (size_t i = 0; i < d; i++) {
        double acc = 0.0;
        for (size_t j = 0; j < d; j++)
            acc += jac[i * d + j] * v[j];
        ref[i] = acc;
    }
    assert_true(rel_err(jv, ref, d) < 1e-12);
    double div, tr = 0.0;
    assert_int_equal(pi_model_divergence_d(m, x, t, &div), PI_OK);
    for (size_t i = 0; i < d; i++)
        tr += jac[i * d + i];
    assert_true(fabs(div - tr) < 1e-10 * fmax(1.0, fabs(tr)));

    /* Hessians of s = FD of the Jacobian */
    assert_int_equal(pi_model_hessians_d(m, x, t, hess), PI_OK);
    fd_columns(m, pi_model_jacobian_d, d * d, x, t, h, fd);
    assert_true(rel_err(fd, hess, d * d * d) < 1e-5);

    /* ∇(∇·s) = FD of the divergence and = contraction of the Hessians */
    assert_int_equal(pi_model_grad_div_d(m, x, t, gd), PI_OK);
    fd_columns(m, pi_model_divergence_d, 1, x, t, h, fd);
    assert_true(rel_err(fd, gd, d) < 1e-5);
    for (size_t i = 0; i < d; i++) {
        double acc = 0.0;
        for (size_t q = 0; q < d; q++)
            acc += hess[(q * d + q) * d + i];
        ref[i] = acc;
    }
    assert_true(rel_err(gd, ref, d) < 1e-10);

    /* ∇∇(∇·s) = FD of the gradient of the divergence */
    assert_int_equal(pi_model_hess_div_d(m, x, t, hd), PI_OK);
    fd_columns(m, pi_model_grad_div_d, d, x, t, h, fd);
    assert_true(rel_err(fd, hd, d * d) < 1e-5);

    /* The all-in-one dispatch (no combined entry for a mixture: one by one) = the same bits. */
    double *all = malloc((2 * d + 2 * d * d + d * d * d) * sizeof *all), dv;
    double *s2 = all, *jac2 = s2 + d, *gd2 = jac2 + d * d, *hess2 = gd2 + d, *hd2 = hess2 + d * d * d;
    assert_int_equal(pi_model_derivatives_d(m, x, t, s2, jac2, &dv, gd2, hess2, hd2), PI_OK);
    assert_memory_equal(s2, s, d * sizeof *s);
    assert_memory_equal(jac2, jac, d * d * sizeof *jac);
    assert_true(dv == div);
    assert_memory_equal(gd2, gd, d * sizeof *gd);
    assert_memory_equal(hess2, hess, d * d * d * sizeof *hess);
    assert_memory_equal(hd2, hd, d * d * sizeof *hd);
    free(all);

    free(x); free(s); free(jac); free(fd); free(hess); free(gd); free(hd); free(v); free(jv); free(ref);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

static void test_derivatives_d1(void **state)
{
    (void)state;
    check_all_derivatives(1, 3, PI_SDE_KIND_VP_LINEAR, 0.3, 11);
    check_all_derivatives(1, 1, PI_SDE_KIND_VE, 0.2, 12);
}

static void test_derivatives_d2(void **state)
{
    (void)state;
    check_all_derivatives(2, 5, PI_SDE_KIND_VP_LINEAR, 0.2, 21);
    check_all_derivatives(2, 4, PI_SDE_KIND_EDM, 0.5, 22);
    check_all_derivatives(2, 3, PI_SDE_KIND_VP_COSINE, 0.1, 23);
    check_all_derivatives(2, 3, PI_SDE_KIND_SUBVP, 0.4, 24);
}

static void test_derivatives_d16(void **state)
{
    (void)state;
    check_all_derivatives(16, 4, PI_SDE_KIND_VP_LINEAR, 0.15, 31);
}

static void test_derivatives_d64(void **state)
{
    (void)state;
    if (quick())
        check_all_derivatives(24, 2, PI_SDE_KIND_EDM, 0.6, 41);
    else
        check_all_derivatives(64, 3, PI_SDE_KIND_EDM, 0.6, 41);
}

/* Every view of the float eval against its closed form (Tweedie for D). */
static void test_views_closed_form(void **state)
{
    (void)state;
    const size_t d = 3, k = 4, n = 7;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, k, 5, 1.0, 0.0, 0.3), 0);
    f.vars[0] = 0.0; /* a degenerate direction is fine at σ > 0 */
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    assert_non_null(m);
    float x[7 * 3];
    double t[7];
    for (size_t i = 0; i < n; i++)
        t[i] = 0.02 + 0.15 * (double)i;
    gmm_fixture_sample(&f, n, 99, x);
    float out[PI_VIEW_V + 1][7 * 3]; /* indexed by pi_view */
    for (int view = PI_VIEW_SCORE; view <= PI_VIEW_V; view++)
        assert_int_equal(pi_model_eval(m, (pi_view)view, n, x, t, out[view]), PI_OK);
    for (size_t i = 0; i < n; i++) {
        double alpha, sigma;
        assert_int_equal(pi_sde_marginal(sde, t[i], &alpha, &sigma), PI_OK);
        /* responsibilities, score and posterior mean independently */
        double l[4], lmax = -INFINITY;
        for (size_t c = 0; c < k; c++) {
            double acc = log(f.weights[c]);
            for (size_t j = 0; j < d; j++) {
                double var = alpha * alpha * f.vars[c * d + j] + sigma * sigma;
                double dx = x[i * d + j] - alpha * f.means[c * d + j];
                acc -= 0.5 * (dx * dx / var + log(var));
            }
            l[c] = acc;
            lmax = fmax(lmax, acc);
        }
        double sum = 0.0;
        for (size_t c = 0; c < k; c++)
            sum += (l[c] = exp(l[c] - lmax));
        for (size_t j = 0; j < d; j++) {
            double s = 0.0, den = 0.0;
            for (size_t c = 0; c < k; c++) {
                double r = l[c] / sum, var = alpha * alpha * f.vars[c * d + j] + sigma * sigma;
                double dx = x[i * d + j] - alpha * f.means[c * d + j];
                s += -r * dx / var;
                den += r * (f.means[c * d + j] + alpha * f.vars[c * d + j] * dx / var);
            }
            double eps = -sigma * s, v = alpha * eps - sigma * den;
            double tol = 2e-6;
            assert_true(fabs(out[PI_VIEW_SCORE][i * d + j] - s) <= tol * fmax(1.0, fabs(s)));
            assert_true(fabs(out[PI_VIEW_EPS][i * d + j] - eps) <= tol * fmax(1.0, fabs(eps)));
            assert_true(fabs(out[PI_VIEW_DENOISED][i * d + j] - den) <= tol * fmax(1.0, fabs(den)));
            assert_true(fabs(out[PI_VIEW_V][i * d + j] - v) <= tol * fmax(1.0, fabs(v)));
        }
    }
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* Far points and tiny σ: finite, and the score is that of the nearest component. */
static void test_far_points_and_tiny_sigma(void **state)
{
    (void)state;
    const double means[4] = {-1.0, 0.0, 1.0, 0.5};
    const double vars[4] = {0.0, 0.0, 0.01, 0.01};
    const double w[2] = {0.5, 0.5};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_EDM);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 2, 2, w, means, vars, &m), PI_OK);
    double t_min;
    assert_int_equal(pi_sde_time_range(sde, &t_min, NULL), PI_OK);
    const double pts[3][2] = {{1e6, -1e6}, {-1e8, 3.0}, {0.9, 0.5}};
    for (int p = 0; p < 3; p++) {
        for (int which = 0; which < 2; which++) {
            double t = which ? t_min : 60.0;
            double s[2], logp, div, gd[2], jac[4], hd[4], hess[8];
            assert_int_equal(pi_model_score_d(m, pts[p], t, s), PI_OK);
            assert_int_equal(pi_model_logpdf_d(m, pts[p], t, &logp), PI_OK);
            assert_int_equal(pi_model_divergence_d(m, pts[p], t, &div), PI_OK);
            assert_int_equal(pi_model_grad_div_d(m, pts[p], t, gd), PI_OK);
            assert_int_equal(pi_model_jacobian_d(m, pts[p], t, jac), PI_OK);
            assert_int_equal(pi_model_hessians_d(m, pts[p], t, hess), PI_OK);
            assert_int_equal(pi_model_hess_div_d(m, pts[p], t, hd), PI_OK);
            assert_true(isfinite(logp) && isfinite(div));
            for (int j = 0; j < 2; j++)
                assert_true(isfinite(s[j]) && isfinite(gd[j]));
            for (int j = 0; j < 4; j++)
                assert_true(isfinite(jac[j]) && isfinite(hd[j]));
            for (int j = 0; j < 8; j++)
                assert_true(isfinite(hess[j]));
            /* the dominant component (α = 1; far away the wider one wins): s = −(x − μ)/c */
            double l[2];
            for (int c = 0; c < 2; c++) {
                l[c] = 0.0;
                for (int j = 0; j < 2; j++) {
                    double var = vars[2 * c + j] + t * t, dx = pts[p][j] - means[2 * c + j];
                    l[c] -= 0.5 * (dx * dx / var + log(var));
                }
            }
            int c = l[0] > l[1] ? 0 : 1;
            if (fabs(l[0] - l[1]) > 60.0) {
                for (int j = 0; j < 2; j++) {
                    double var = vars[2 * c + j] + t * t;
                    double expect = -(pts[p][j] - means[2 * c + j]) / var;
                    assert_true(fabs(s[j] - expect) <= 1e-9 * fabs(expect) + 1e-9);
                }
            }
            float xf[2] = {(float)pts[p][0], (float)pts[p][1]}, out[2];
            assert_int_equal(pi_model_eval_at(m, PI_VIEW_DENOISED, 1, xf, t, out), PI_OK);
            assert_true(isfinite(out[0]) && isfinite(out[1]));
        }
    }
    /* beyond double / float range: PI_ENUMERIC, never a NaN with PI_OK */
    const double huge_means[4] = {1e300, 0.0, -1e300, 0.0};
    pi_model_t *h;
    assert_int_equal(pi_model_create_gmm(sde, 2, 2, w, huge_means, vars, &h), PI_OK);
    float xf[2] = {0.0f, 0.0f}, out[2];
    assert_int_equal(pi_model_eval_at(h, PI_VIEW_SCORE, 1, xf, 1.0, out), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "row 0"));
    double x0[2] = {0.0, 0.0}, s0[2];
    assert_int_equal(pi_model_score_d(h, x0, 1.0, s0), PI_ENUMERIC);
    pi_model_destroy(h);
    float big[2] = {3.0e38f, 0.0f};
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_SCORE, 1, big, 0.01, out), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "overflows"));
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Zero-variance components are singular at σ = 0: the internal double path rejects t = 0. */
static void test_zero_variance_at_sigma_zero(void **state)
{
    (void)state;
    const double mean = 0.3, var = 0.0, w = 1.0;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 1, 1, &w, &mean, &var, &m), PI_OK);
    double x = 0.1, s;
    assert_int_equal(pi_model_score_d(m, &x, 0.0, &s), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "zero variance"));
    float xf = 0.1f, out = 7.0f;
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_SCORE, 1, &xf, 0.0, &out), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "t[0]"));
    assert_true(out == 7.0f);
    /* at t > 0 it is a Gaussian N(α μ, σ²) */
    double alpha, sigma;
    assert_int_equal(pi_sde_marginal(sde, 0.5, &alpha, &sigma), PI_OK);
    assert_int_equal(pi_model_score_d(m, &x, 0.5, &s), PI_OK);
    assert_true(fabs(s + (x - alpha * mean) / (sigma * sigma)) < 1e-12);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* A single Gaussian: all closed forms. */
static void test_single_gaussian(void **state)
{
    (void)state;
    const double mean[2] = {0.5, -2.0}, var[2] = {0.3, 2.0}, w = 3.0;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 2, 1, &w, mean, var, &m), PI_OK);
    double t = 0.4, alpha, sigma, x[2] = {0.7, 1.5};
    assert_int_equal(pi_sde_marginal(sde, t, &alpha, &sigma), PI_OK);
    double c[2] = {alpha * alpha * var[0] + sigma * sigma, alpha * alpha * var[1] + sigma * sigma};
    double logp, div, gd[2], hd[4], jac[4];
    assert_int_equal(pi_model_logpdf_d(m, x, t, &logp), PI_OK);
    double expect = 0.0;
    for (int j = 0; j < 2; j++) {
        double dx = x[j] - alpha * mean[j];
        expect -= 0.5 * (dx * dx / c[j] + log(2.0 * 3.14159265358979323846 * c[j]));
    }
    assert_true(fabs(logp - expect) < 1e-12);
    assert_int_equal(pi_model_divergence_d(m, x, t, &div), PI_OK);
    assert_true(fabs(div + 1.0 / c[0] + 1.0 / c[1]) < 1e-12);
    assert_int_equal(pi_model_jacobian_d(m, x, t, jac), PI_OK);
    assert_true(fabs(jac[0] + 1.0 / c[0]) < 1e-12 && jac[1] == 0.0 && jac[2] == 0.0);
    assert_int_equal(pi_model_grad_div_d(m, x, t, gd), PI_OK);
    assert_int_equal(pi_model_hess_div_d(m, x, t, hd), PI_OK);
    for (int j = 0; j < 2; j++)
        assert_true(fabs(gd[j]) < 1e-12);
    for (int j = 0; j < 4; j++)
        assert_true(fabs(hd[j]) < 1e-12);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Batched float eval = double score; thread count does not change a bit. */
static void test_eval_matches_double_and_threads(void **state)
{
    (void)state;
    const size_t d = 5, n = quick() ? 64 : 1000;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, 6, 7, 1.5, 0.01, 0.2), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_COSINE);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float *x = malloc(n * d * sizeof *x), *o1 = malloc(n * d * sizeof *o1),
          *o2 = malloc(n * d * sizeof *o2);
    double *t = malloc(n * sizeof *t);
    gmm_fixture_sample(&f, n, 3, x);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.01 + 0.9 * (double)(i % 10) / 10.0;
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, n, x, t, o1), PI_OK);
    assert_int_equal(pi_model_set_threads(m, 3), PI_OK);
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, n, x, t, o2), PI_OK);
    assert_memory_equal(o1, o2, n * d * sizeof *o1);
    for (size_t i = 0; i < n; i += 7) {
        double xd[5], s[5];
        for (size_t j = 0; j < d; j++)
            xd[j] = x[i * d + j];
        assert_int_equal(pi_model_score_d(m, xd, t[i], s), PI_OK);
        for (size_t j = 0; j < d; j++)
            assert_true(fabs(o1[i * d + j] - s[j]) <= 1e-6 * fmax(1.0, fabs(s[j])));
    }
    free(x); free(o1); free(o2); free(t);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* The vectorised row kernel (issue 17): its exp against libm, every instruction-set path bit
 * for bit against the baseline, and the float output within one float ulp of the double
 * closed form computed with libm's exp (pi_model_score_d), on 25 Gaussians and a 6-D mixture. */
static void test_row_kernel_exp_and_paths(void **state)
{
    (void)state;
    double xs[8], got[8], worst = 0.0;
    for (int i = 0; i < 200000; i++) {
        for (int l = 0; l < 8; l++)
            xs[l] = -708.0 + 709.0 * (double)(i * 8 + l) / 1.6e6 + 1e-3 * l;
        pi_gmm_exp8(xs, got);
        for (int l = 0; l < 8; l++)
            worst = fmax(worst, fabs(got[l] - exp(xs[l])) / exp(xs[l]));
    }
    print_message("vectorised exp: worst relative error %.3g on [-708, 1]\n", worst);
    assert_true(worst < 5e-16); /* ~2 ulp: Estrin's order rounds a little more than Horner's */
    const double special[8] = {-INFINITY, -709.0, -1e300, -708.5, 0.0, -0.0, NAN, -745.2};
    pi_gmm_exp8(special, got);
    assert_true(got[0] == 0.0 && got[1] == 0.0 && got[2] == 0.0 && got[3] == 0.0);
    assert_true(got[4] == 1.0 && got[5] == 1.0 && got[6] == 0.0 && got[7] == 0.0);

    for (int which = 0; which < 2; which++) {
        gmm_fixture f;
        size_t d = which == 0 ? 2 : 6;
        if (which == 0)
            assert_int_equal(gmm_fixture_25gaussians(&f), 0);
        else
            assert_int_equal(gmm_fixture_random(&f, d, 13, 17, 1.5, 0.01, 0.3), 0);
        pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
        pi_model_t *m = gmm_fixture_model(&f, sde);
        const size_t n = quick() ? 200 : 3000;
        float *x = malloc(n * d * sizeof *x), *out = malloc(n * d * sizeof *out);
        double *t = malloc(n * sizeof *t);
        gmm_fixture_sample(&f, n, 41, x);
        for (size_t i = 0; i < n; i++) {
            t[i] = 1e-3 + 0.998 * (double)(i % 17) / 16.0;
            for (size_t j = 0; j < d; j++) /* spread the points: near and far from modes */
                x[i * d + j] *= (float)(0.5 + (double)(i % 5));
        }
        assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, n, x, t, out), PI_OK);
        double *logw = malloc(f.k * sizeof *logw);
        for (size_t c = 0; c < f.k; c++)
            logw[c] = log(f.weights[c]);
        double *base = malloc(pi_gmm_tables_doubles(f.k, d) * sizeof *base);
        pi_gmm_tables tab;
        pi_gmm_tables_bind(&tab, f.k, d, base);
        size_t paths = 0;
        for (size_t i = 0; i < n; i++) {
            double alpha, sigma, s[8], ref[8], wide[8];
            assert_int_equal(pi_sde_marginal(sde, t[i], &alpha, &sigma), PI_OK);
            pi_gmm_tables_fill(&tab, logw, f.means, f.vars, alpha, alpha * alpha, sigma * sigma);
            assert_int_equal(pi_gmm_row_score_isa(0, &tab, x + i * d, ref), 1);
            for (int isa = 1; isa <= 2; isa++)
                if (pi_gmm_row_score_isa(isa, &tab, x + i * d, wide) == 1) {
                    assert_memory_equal(wide, ref, d * sizeof *ref);
                    paths += i == 0;
                }
            double xd[8];
            for (size_t j = 0; j < d; j++)
                xd[j] = x[i * d + j];
            assert_int_equal(pi_model_score_d(m, xd, t[i], s), PI_OK);
            for (size_t j = 0; j < d; j++) {
                float fs = (float)s[j];
                assert_true(fabsf(out[i * d + j] - fs) <= nextafterf(fabsf(fs), INFINITY) - fabsf(fs));
            }
        }
        print_message("mixture %d: %zu wide paths agree bit for bit with the baseline\n", which, paths);
        free(base);
        free(logw);
        free(x);
        free(out);
        free(t);
        pi_model_destroy(m);
        pi_sde_destroy(sde);
        gmm_fixture_free(&f);
    }
}

/* A mixture too large for the per-worker row tables (k·d > 2^16) takes the GEMM path (issue
 * 17): its float output within 1e-6 (relative, floor 1) of the double closed form computed
 * with libm (pi_model_score_d) — measured and printed in float ulps — at times from near the
 * data to the prior and points from near the modes to far away (rows whose expansion could
 * cancel go through the direct formula); bitwise the same for 1 and 3 threads and for a run of
 * a sub-batch (rows independent of the batch). */
static void test_large_mixture_eval(void **state)
{
    (void)state;
    const size_t d = 64, k = 1100, n = quick() ? 40 : 150;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, k, 91, 1.0, 0.05, 0.5), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float *x = malloc(n * d * sizeof *x), *out = malloc(n * d * sizeof *out),
          *o3 = malloc(n * d * sizeof *o3), *sub = malloc(n * d * sizeof *sub);
    double *t = malloc(n * sizeof *t);
    gmm_fixture_sample_at(&f, n, 5, 0.9, 0.4, x);
    for (size_t i = 0; i < n; i++) {
        t[i] = (i / 20) % 4 == 0 ? 0.05 : (i / 20) % 4 == 1 ? 0.3 : (i / 20) % 4 == 2 ? 0.7 : 0.999;
        if (i % 9 == 8) /* a few points far from everything */
            for (size_t j = 0; j < d; j++)
                x[i * d + j] *= 6.0f;
    }
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, n, x, t, out), PI_OK);
    assert_int_equal(pi_model_set_threads(m, 3), PI_OK);
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, n, x, t, o3), PI_OK);
    assert_memory_equal(out, o3, n * d * sizeof *out);
    const size_t a = 7, nb = n - 20; /* rows a .. a + nb - 1 alone */
    assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, nb, x + a * d, t + a, sub), PI_OK);
    assert_memory_equal(sub, out + a * d, nb * d * sizeof *sub);
    double worst_ulp = 0.0;
    for (size_t i = 0; i < n; i++) {
        double xd[64], s[64];
        for (size_t j = 0; j < d; j++)
            xd[j] = x[i * d + j];
        assert_int_equal(pi_model_score_d(m, xd, t[i], s), PI_OK);
        for (size_t j = 0; j < d; j++) {
            assert_true(fabs(out[i * d + j] - s[j]) <= 1e-6 * fmax(1.0, fabs(s[j])));
            float fs = (float)s[j];
            double ulp = (double)(nextafterf(fabsf(fs), INFINITY) - fabsf(fs));
            worst_ulp = fmax(worst_ulp, fabs(out[i * d + j] - fs) / ulp);
        }
    }
    print_message("GEMM path: worst deviation %.3g float ulps from the double closed form\n", worst_ulp);
    free(x);
    free(out);
    free(o3);
    free(sub);
    free(t);
    pi_model_destroy(m);
    gmm_fixture_free(&f);

    /* d > 2^12 keeps the direct formula (k·d = 70 000 > 2^16 too): same tolerance */
    const size_t d2 = 5000, k2 = 14, n2 = 3;
    assert_int_equal(gmm_fixture_random(&f, d2, k2, 93, 1.0, 0.05, 0.5), 0);
    m = gmm_fixture_model(&f, sde);
    x = malloc(n2 * d2 * sizeof *x);
    out = malloc(n2 * d2 * sizeof *out);
    double *xd = malloc(d2 * sizeof *xd), *s = malloc(d2 * sizeof *s);
    gmm_fixture_sample_at(&f, n2, 7, 0.9, 0.4, x);
    assert_int_equal(pi_model_eval_at(m, PI_VIEW_SCORE, n2, x, 0.2, out), PI_OK);
    for (size_t i = 0; i < n2; i++) {
        for (size_t j = 0; j < d2; j++)
            xd[j] = x[i * d2 + j];
        assert_int_equal(pi_model_score_d(m, xd, 0.2, s), PI_OK);
        for (size_t j = 0; j < d2; j++)
            assert_true(fabs(out[i * d2 + j] - s[j]) <= 1e-6 * fmax(1.0, fabs(s[j])));
    }
    free(xd);
    free(s);
    free(x);
    free(out);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* Public divergence (exact and Hutchinson), jvp and logpdf. */
static void test_public_divergence_jvp_logpdf(void **state)
{
    (void)state;
    const size_t d = 4, n = 6;
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, d, 3, 17, 1.0, 0.05, 0.4), 0);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float x[6 * 4], v[6 * 4], jv[6 * 4];
    double t[6], exact[6], hr[6], hg[6], hr2[6], lp[6];
    gmm_fixture_sample_at(&f, n, 4, 0.8, 0.5, x);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.1 + 0.1 * (double)i;
    for (size_t i = 0; i < n * d; i++)
        v[i] = (float)sin((double)i);
    assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_EXACT, 0, 0, n, x, t, exact), PI_OK);
    size_t probes = quick() ? 400 : 4000;
    assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_HUTCHINSON_RADEMACHER, probes, 5, n, x, t, hr), PI_OK);
    assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, probes, 5, n, x, t, hg), PI_OK);
    assert_int_equal(pi_model_set_threads(m, 2), PI_OK);
    assert_int_equal(pi_model_divergence(m, PI_DIVERGENCE_HUTCHINSON_RADEMACHER, probes, 5, n, x, t, hr2), PI_OK);
    assert_memory_equal(hr, hr2, sizeof hr); /* reproducible whatever the threads */
    assert_int_equal(pi_model_jvp(m, n, x, t, v, jv), PI_OK);
    assert_int_equal(pi_model_logpdf(m, n, x, t, lp), PI_OK);
    for (size_t i = 0; i < n; i++) {
        double xd[4], jac[16], vd[4], sd = 0.0;
        for (size_t j = 0; j < d; j++) {
            xd[j] = x[i * d + j];
            vd[j] = v[i * d + j];
        }
        assert_int_equal(pi_model_jacobian_d(m, xd, t[i], jac), PI_OK);
        double div;
        assert_int_equal(pi_model_divergence_d(m, xd, t[i], &div), PI_OK);
        assert_true(exact[i] == div);
        /* Hutchinson standard deviations: Rademacher 2 Σ_{a≠b} J_ab², Gaussian 2 ‖J‖_F² */
        double off = 0.0, fro = 0.0;
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b < d; b++) {
                fro += jac[a * d + b] * jac[a * d + b];
                if (a != b)
                    off += jac[a * d + b] * jac[a * d + b];
            }
        sd = sqrt(2.0 * off / (double)probes);
        assert_true(fabs(hr[i] - div) <= 5.0 * sd + 1e-12);
        assert_true(fabs(hg[i] - div) <= 5.0 * sqrt(2.0 * fro / (double)probes));
        for (size_t a = 0; a < d; a++) {
            double acc = 0.0;
            for (size_t b = 0; b < d; b++)
                acc += jac[a * d + b] * vd[b];
            assert_true(fabs(jv[i * d + a] - acc) <= 1e-6 * fmax(1.0, fabs(acc)));
        }
        double alpha, sigma;
        assert_int_equal(pi_sde_marginal(sde, t[i], &alpha, &sigma), PI_OK);
        assert_true(fabs(lp[i] - gmm_fixture_logpdf(&f, xd, alpha, sigma)) < 1e-10);
    }
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    gmm_fixture_free(&f);
}

/* Weights are normalised; the kind and dimension are reported. */
static void test_normalisation_and_getters(void **state)
{
    (void)state;
    const double w1[2] = {2.0, 6.0}, w2[2] = {0.25, 0.75};
    const double means[2] = {-1.0, 2.0}, vars[2] = {0.1, 0.2};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VE);
    pi_model_t *a, *b;
    assert_int_equal(pi_model_create_gmm(sde, 1, 2, w1, means, vars, &a), PI_OK);
    assert_int_equal(pi_model_create_gmm(sde, 1, 2, w2, means, vars, &b), PI_OK);
    double x = 0.3, la, lb;
    assert_int_equal(pi_model_logpdf_d(a, &x, 0.5, &la), PI_OK);
    assert_int_equal(pi_model_logpdf_d(b, &x, 0.5, &lb), PI_OK);
    assert_true(fabs(la - lb) < 1e-14);
    pi_model_kind kind;
    size_t dim, np = 99;
    const pi_sde_t *got;
    assert_int_equal(pi_model_get_kind(a, &kind), PI_OK);
    assert_int_equal(kind, PI_MODEL_KIND_GMM);
    assert_int_equal(pi_model_get_dim(a, &dim), PI_OK);
    assert_int_equal(dim, 1);
    assert_int_equal(pi_model_get_sde(a, &got), PI_OK);
    assert_true(pi_sde_equal(got, sde));
    assert_int_equal(pi_model_get_num_params(a, &np), PI_OK);
    assert_int_equal(np, 0);
    float p = 0.0f;
    assert_int_equal(pi_model_get_params(a, 1, &p, NULL), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_set_params(a, 1, &p), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_set_threads(a, 0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "threads"));
    pi_model_destroy(a);
    pi_model_destroy(b);
    pi_model_destroy(NULL);
    pi_sde_destroy(sde);
}

#define EXPECT_FAIL(call, code, word)                                                           \
    do {                                                                                        \
        assert_int_equal((call), (code));                                                       \
        if (strstr(pi_last_error(), (word)) == NULL)                                            \
            fail_msg("message '%s' does not name '%s'", pi_last_error(), (word));               \
    } while (0)

static void test_bad_input_create(void **state)
{
    (void)state;
    const double w[2] = {0.5, 0.5}, means[4] = {0, 0, 1, 1}, vars[4] = {0.1, 0.1, 0.1, 0.1};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m = (pi_model_t *)0x1;
    EXPECT_FAIL(pi_model_create_gmm(NULL, 2, 2, w, means, vars, &m), PI_EINVAL, "sde");
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, NULL, means, vars, &m), PI_EINVAL, "weights");
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, NULL, vars, &m), PI_EINVAL, "means");
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, means, NULL, &m), PI_EINVAL, "vars");
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, means, vars, NULL), PI_EINVAL, "out");
    EXPECT_FAIL(pi_model_create_gmm(sde, 0, 2, w, means, vars, &m), PI_EINVAL, "dim");
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 0, w, means, vars, &m), PI_EINVAL, "k must");
    EXPECT_FAIL(pi_model_create_gmm(sde, (size_t)1 << 21, 1, w, means, vars, &m), PI_EINVAL, "dim");
    double bad[4];
    memcpy(bad, w, sizeof w);
    bad[1] = -0.5;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, bad, means, vars, &m), PI_EINVAL, "weights[1]");
    bad[1] = 0.0;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, bad, means, vars, &m), PI_EINVAL, "weights[1]");
    bad[1] = NAN;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, bad, means, vars, &m), PI_EINVAL, "weights[1]");
    bad[0] = bad[1] = 1e308 * 10;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, bad, means, vars, &m), PI_EINVAL, "weights");
    bad[0] = bad[1] = 1.7e308;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, bad, means, vars, &m), PI_EINVAL, "finite sum");
    memcpy(bad, means, sizeof means);
    bad[3] = INFINITY;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, bad, vars, &m), PI_EINVAL, "means[3]");
    memcpy(bad, vars, sizeof vars);
    bad[2] = -1e-3;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, means, bad, &m), PI_EINVAL, "vars[2]");
    bad[2] = NAN;
    EXPECT_FAIL(pi_model_create_gmm(sde, 2, 2, w, means, bad, &m), PI_EINVAL, "vars[2]");
    assert_true(m == (pi_model_t *)0x1); /* untouched */
    pi_sde_destroy(sde);
}

static void test_bad_input_eval(void **state)
{
    (void)state;
    const double w = 1.0, mean[2] = {0, 0}, var[2] = {1, 1};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 2, 1, &w, mean, var, &m), PI_OK);
    float x[4] = {0.1f, 0.2f, 0.3f, 0.4f}, out[4] = {9, 9, 9, 9}, v[4] = {1, 1, 1, 1};
    double t[2] = {0.5, 0.5}, dout[2] = {9, 9};
    EXPECT_FAIL(pi_model_eval(NULL, PI_VIEW_SCORE, 2, x, t, out), PI_EINVAL, "model");
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, NULL, t, out), PI_EINVAL, "x");
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, NULL, out), PI_EINVAL, "t");
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, NULL), PI_EINVAL, "out");
    EXPECT_FAIL(pi_model_eval(m, (pi_view)6, 2, x, t, out), PI_EINVAL, "view");
    EXPECT_FAIL(pi_model_eval(m, (pi_view)0, 2, x, t, out), PI_EINVAL, "view");
    EXPECT_FAIL(pi_model_eval(m, (pi_view)-1, 2, x, t, out), PI_EINVAL, "view");
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 0, x, t, out), PI_EINVAL, "n must");
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, x + 1), PI_EINVAL, "overlap");
    x[3] = NAN;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, out), PI_EINVAL, "x must be finite");
    assert_non_null(strstr(pi_last_error(), "row 1"));
    x[3] = INFINITY;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_EPS, 2, x, t, out), PI_EINVAL, "x must be finite");
    x[3] = 0.4f;
    t[1] = NAN;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, out), PI_EINVAL, "t[1]");
    t[1] = 1.5;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, out), PI_EINVAL, "t[1]");
    t[1] = -0.1;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_SCORE, 2, x, t, out), PI_EINVAL, "t[1]");
    t[1] = 0.0;
    EXPECT_FAIL(pi_model_eval(m, PI_VIEW_DENOISED, 2, x, t, out), PI_EINVAL, "t[1]");
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == 9.0f);
    EXPECT_FAIL(pi_model_divergence(m, PI_DIVERGENCE_EXACT, 1, 0, 2, x, t, dout), PI_EINVAL, "t[1]");
    t[1] = 0.5;
    EXPECT_FAIL(pi_model_divergence(m, (pi_divergence)4, 1, 0, 2, x, t, dout), PI_EINVAL, "mode");
    EXPECT_FAIL(pi_model_divergence(m, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, 0, 0, 2, x, t, dout), PI_EINVAL, "probes");
    EXPECT_FAIL(pi_model_divergence(m, PI_DIVERGENCE_EXACT, 1, 0, 2, x, t, NULL), PI_EINVAL, "out");
    v[2] = NAN;
    EXPECT_FAIL(pi_model_jvp(m, 2, x, t, v, out), PI_EINVAL, "v must be finite");
    EXPECT_FAIL(pi_model_jvp(m, 2, x, t, NULL, out), PI_EINVAL, "v");
    EXPECT_FAIL(pi_model_logpdf(m, 2, x, NULL, dout), PI_EINVAL, "t");
    EXPECT_FAIL(pi_model_eval_at(m, PI_VIEW_SCORE, 2, x, NAN, out), PI_EINVAL, "t[0]");
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == 9.0f);
    assert_true(dout[0] == 9.0 && dout[1] == 9.0);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derivatives_d1),
        cmocka_unit_test(test_derivatives_d2),
        cmocka_unit_test(test_derivatives_d16),
        cmocka_unit_test(test_derivatives_d64),
        cmocka_unit_test(test_views_closed_form),
        cmocka_unit_test(test_far_points_and_tiny_sigma),
        cmocka_unit_test(test_zero_variance_at_sigma_zero),
        cmocka_unit_test(test_single_gaussian),
        cmocka_unit_test(test_eval_matches_double_and_threads),
        cmocka_unit_test(test_large_mixture_eval),
        cmocka_unit_test(test_row_kernel_exp_and_paths),
        cmocka_unit_test(test_public_divergence_jvp_logpdf),
        cmocka_unit_test(test_normalisation_and_getters),
        cmocka_unit_test(test_bad_input_create),
        cmocka_unit_test(test_bad_input_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
