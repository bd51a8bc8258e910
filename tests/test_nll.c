/* Order-0 probability-flow likelihood (MATH.md §4): exactness for Gaussian mixtures (d = 1, 2,
 * 16), Hutchinson unbiasedness, reproducibility across threads, per-point failures, the
 * public likelihood handle (setters, getters = the option table's defaults, progress
 * callback, cancellation), dequantisation and bits per dimension, and the
 * cost of the exact divergence against a plain ODE solve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "core/philox.h"
#include "likelihood/likelihood_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static pi_sde_t *make_vp(void)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    return sde;
}

/* For an exact score the PF-ODE transports p_{t_min} to p_T exactly, so
 *   log q⁰(x0) = log p_{t_min}(x0) − log p_T(x_T) + log π(x_T)
 * (the last two terms: the prior is not exactly p_T). Checked to 1e-4 nats at rtol 1e-8. */
static void check_order0_exact(size_t dim, size_t k, size_t n, uint64_t seed)
{
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, dim, k, seed, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    assert_non_null(m);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    pi_lik_ws *ws = NULL;
    assert_int_equal(pi_lik_ws_create(dim, &o, &ws), PI_OK);
    float *x = malloc(n * dim * sizeof *x);
    double *x0 = malloc(dim * sizeof *x0), *xT = malloc(dim * sizeof *xT);
    double *nll = malloc(n * sizeof *nll);
    gmm_fixture_sample(&f, n, seed + 1, x);
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, NULL, NULL), PI_OK);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < dim; j++)
            x0[j] = x[i * dim + j];
        double logq, lp0, lpT;
        pi_nll_point_stats st = {0};
        assert_int_equal(pi_order0_point(m, &o, ws, i, x0, &logq, xT, &st), PI_OK);
        assert_int_equal(pi_model_logpdf_d(m, x0, sde->t_min, &lp0), PI_OK);
        assert_int_equal(pi_model_logpdf_d(m, xT, sde->t_max, &lpT), PI_OK);
        double want = lp0 - lpT + pi_lik_prior_logpdf(sde, dim, xT, NULL);
        worst = fmax(worst, fabs(logq - want));
        assert_true(fabs(logq - want) < 1e-4);
        assert_true(nll[i] == -logq); /* the driver is the per-point function */
        assert_true(st.nfe_order0 > 0);
    }
    print_message("order 0, d = %zu, %zu components: max |log q0 - exact| = %.2e nats over %zu "
                  "points\n", dim, k, worst, n);
    free(x);
    free(x0);
    free(xT);
    free(nll);
    pi_lik_ws_destroy(ws);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

static void test_order0_exact_1d(void **state)
{
    (void)state;
    check_order0_exact(1, 3, quick() ? 4 : 20, 1);
}

static void test_order0_exact_2d(void **state)
{
    (void)state;
    check_order0_exact(2, 4, quick() ? 4 : 20, 2);
}

static void test_order0_exact_16d(void **state)
{
    (void)state;
    check_order0_exact(16, 3, quick() ? 2 : 8, 3);
}

/* With β(1) = 80 the prior equals p_T to ~1e-9 and NLL is −log p_{t_min} itself. */
static void test_order0_long_sde(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 80.0), PI_OK);
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 4, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float x[2 * 5];
    gmm_fixture_sample(&f, 5, 9, x);
    double nll[5];
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-8;
    o.atol = 1e-10;
    assert_int_equal(pi_likelihood_compute(m, &o, 5, x, nll, NULL, NULL), PI_OK);
    for (size_t i = 0; i < 5; i++) {
        double x0[2] = {x[2 * i], x[2 * i + 1]}, lp;
        assert_int_equal(pi_model_logpdf_d(m, x0, sde->t_min, &lp), PI_OK);
        assert_true(fabs(-nll[i] - lp) < 1e-4);
    }
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* The Hutchinson NLL is unbiased: over independent probe seeds, its mean is within 3 standard
 * errors of the exact-divergence NLL (and the spread is real: the estimate is not exact). */
static void check_hutchinson(pi_divergence mode)
{
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 4, 3, 5, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float x[4];
    gmm_fixture_sample(&f, 1, 3, x);
    pi_lik_options o;
    pi_lik_options_default(&o);
    double exact;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &exact, NULL, NULL), PI_OK);
    size_t seeds = quick() ? 30 : 200;
    o.div_mode = mode;
    o.probes = 2;
    double sum = 0.0, sum2 = 0.0;
    for (size_t s = 0; s < seeds; s++) {
        double v;
        o.seed = 1000 + s;
        assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &v, NULL, NULL), PI_OK);
        sum += v;
        sum2 += v * v;
    }
    double mean = sum / (double)seeds;
    double var = (sum2 - (double)seeds * mean * mean) / (double)(seeds - 1);
    double se = sqrt(var / (double)seeds);
    print_message("Hutchinson (%s, 2 probes): mean %.5f +- %.5f (sd %.4f) vs exact %.5f\n",
                  mode == PI_DIVERGENCE_HUTCHINSON_GAUSSIAN ? "Gaussian" : "Rademacher", mean, se,
                  sqrt(var), exact);
    assert_true(se > 1e-4);
    assert_true(fabs(mean - exact) < 3.0 * se);
    /* Same seed, same bits. */
    double a, b;
    o.seed = 77;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &a, NULL, NULL), PI_OK);
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, &b, NULL, NULL), PI_OK);
    assert_true(a == b);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

static void test_hutchinson_rademacher(void **state)
{
    (void)state;
    check_hutchinson(PI_DIVERGENCE_HUTCHINSON_RADEMACHER);
}

static void test_hutchinson_gaussian(void **state)
{
    (void)state;
    check_hutchinson(PI_DIVERGENCE_HUTCHINSON_GAUSSIAN);
}

/* Results do not depend on the thread count (probes depend on the point index only), and a
 * point's value does not depend on the batch it is in. */
static void test_threads_reproducible(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 6, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    enum { N = 7 };
    float x[2 * N];
    gmm_fixture_sample(&f, N, 4, x);
    double a[N], b[N], c1a[N], c1b[N];
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.div_mode = PI_DIVERGENCE_HUTCHINSON_RADEMACHER;
    o.probes = 3;
    o.seed = 5;
    assert_int_equal(pi_likelihood_compute(m, &o, N, x, a, c1a, NULL), PI_OK);
    o.threads = 3;
    assert_int_equal(pi_likelihood_compute(m, &o, N, x, b, c1b, NULL), PI_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(c1a, c1b, sizeof c1a);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* A NaN or Inf point gets PI_EINVAL and NaN outputs; the others are computed as if alone. A
 * solver failure (step limit) gives PI_ENOCONVERGE per point. */
static void test_bad_points(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 2, 8, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    float x[8];
    gmm_fixture_sample(&f, 4, 2, x);
    x[2] = NAN;
    x[7] = INFINITY;
    double nll[4], c1[4], alone, c1_alone;
    pi_nll_point_stats st[4];
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.threads = 2;
    assert_int_equal(pi_likelihood_compute(m, &o, 4, x, nll, c1, st), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "point 1"));
    assert_int_equal(st[0].status, PI_OK);
    assert_int_equal(st[1].status, PI_EINVAL);
    assert_int_equal(st[2].status, PI_OK);
    assert_int_equal(st[3].status, PI_EINVAL);
    assert_true(isnan(nll[1]) && isnan(c1[1]) && isnan(nll[3]) && isnan(c1[3]));
    o.threads = 1;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x + 4, &alone, &c1_alone, NULL), PI_OK);
    assert_true(alone == nll[2] && c1_alone == c1[2]);
    o.max_steps = 3;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, nll, c1, st), PI_ENOCONVERGE);
    assert_int_equal(st[0].status, PI_ENOCONVERGE);
    assert_true(isnan(nll[0]) && isnan(c1[0]));
    /* Bad options leave the outputs alone. */
    pi_lik_options_default(&o);
    o.rtol = -1.0;
    nll[0] = 42.0;
    assert_int_equal(pi_likelihood_compute(m, &o, 1, x, nll, NULL, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "rtol"));
    assert_true(nll[0] == 42.0);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* The public API: setters validate and name their argument; nll, nll_ex and nll_hbar agree
 * with the engine; dequantisation adds u·bin with u from Philox per point. */
static void test_public_api(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 10, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    pi_likelihood_t *s = NULL;
    assert_int_equal(pi_likelihood_create(NULL, &s), PI_EINVAL);
    assert_int_equal(pi_likelihood_create(m, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_create(m, &s), PI_OK);
    const pi_model_t *back = NULL;
    assert_int_equal(pi_likelihood_get_model(s, &back), PI_OK);
    assert_ptr_equal(back, m);

    assert_int_equal(pi_likelihood_set_divergence(NULL, PI_DIVERGENCE_EXACT, 1), PI_EINVAL);
    assert_int_equal(pi_likelihood_set_divergence(s, (pi_divergence)7, 1), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "mode"));
    assert_int_equal(pi_likelihood_set_divergence(s, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, 0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "probes"));
    assert_int_equal(pi_likelihood_set_tolerances(s, 0.0, 1e-8), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "rtol"));
    assert_int_equal(pi_likelihood_set_tolerances(s, 1e-6, NAN), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "atol"));
    assert_int_equal(pi_likelihood_set_wkb_algorithm(s, (pi_wkb_algorithm)5), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "algorithm"));
    assert_int_equal(pi_likelihood_set_dequantization(s, -1.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "bin_width"));
    assert_int_equal(pi_likelihood_set_dequantization(s, INFINITY), PI_EINVAL);

    assert_int_equal(pi_likelihood_set_tolerances(s, 1e-7, 1e-9), PI_OK);
    enum { N = 3 };
    float x[2 * N];
    gmm_fixture_sample(&f, N, 6, x);
    double nll[N], c1[N], nll2[N], c1b[N], nh[N];
    size_t nfe[N];
    pi_status status[N];
    assert_int_equal(pi_likelihood_nll(s, N, x, nll, c1), PI_OK);
    assert_int_equal(pi_likelihood_nll_ex(s, N, x, nll2, c1b, nfe, status), PI_OK);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    double ref[N], ref_c1[N];
    assert_int_equal(pi_likelihood_compute(m, &o, N, x, ref, ref_c1, NULL), PI_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(nll[i] == ref[i] && nll2[i] == ref[i]);
        assert_true(c1[i] == ref_c1[i] && c1b[i] == ref_c1[i]);
        assert_int_equal(status[i], PI_OK);
        assert_true(nfe[i] > 100);
    }
    assert_int_equal(pi_likelihood_nll_hbar(s, -0.5, N, x, nh), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "hbar"));
    assert_int_equal(pi_likelihood_nll_hbar(s, 0.5, N, x, nh), PI_OK);
    for (size_t i = 0; i < N; i++)
        assert_true(fabs(nh[i] - (ref[i] - 0.5 * ref_c1[i])) < 1e-12 * fmax(1.0, fabs(nh[i])));

    /* Dequantisation: the same as the engine on x + u·bin, u = Philox uniforms of the point. */
    const double bin = 1.0 / 64.0;
    assert_int_equal(pi_likelihood_set_dequantization(s, bin), PI_OK);
    assert_int_equal(pi_likelihood_set_seed(s, 99), PI_OK);
    assert_int_equal(pi_likelihood_nll(s, N, x, nll, NULL), PI_OK);
    o.dequant_bin = bin;
    o.seed = 99;
    assert_int_equal(pi_likelihood_compute(m, &o, N, x, ref, NULL, NULL), PI_OK);
    for (size_t i = 0; i < N; i++)
        assert_true(nll[i] == ref[i]);
    /* ... which is the NLL of the shifted point (up to its rounding to float). */
    float xs[2];
    pi_lik_options plain;
    pi_lik_options_default(&plain);
    plain.rtol = 1e-7;
    plain.atol = 1e-9;
    for (size_t j = 0; j < 2; j++)
        xs[j] = (float)(x[j] + bin * pi_rng_uniform1(99, PI_STREAM_DEQUANT, 0, 0, j));
    double shifted;
    assert_int_equal(pi_likelihood_compute(m, &plain, 1, xs, &shifted, NULL, NULL), PI_OK);
    assert_true(fabs(shifted - nll[0]) < 1e-4);

    /* A NaN point: per-point status, the others computed; NULL diagnostics are fine. */
    x[0] = NAN;
    assert_int_equal(pi_likelihood_nll_ex(s, N, x, nll, NULL, nfe, status), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "point 0"));
    assert_non_null(strstr(pi_last_error(), "coordinate 0 is nan (not finite)"));
    assert_int_equal(status[0], PI_EINVAL);
    assert_int_equal(status[1], PI_OK);
    assert_true(isnan(nll[0]) && isfinite(nll[1]));
    assert_int_equal(pi_likelihood_nll(NULL, N, x, nll, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_nll(s, 0, x, nll, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_nll(s, N, NULL, nll, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_nll_hbar(s, 0.5, N, x, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_nll_hbar(NULL, 0.5, N, x, nll), PI_EINVAL);
    assert_int_equal(pi_likelihood_cancel(NULL), PI_EINVAL);

    pi_likelihood_destroy(s);
    pi_likelihood_destroy(NULL);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

static void test_bits_per_dim(void **state)
{
    (void)state;
    /* 8-bit data scaled to [0, 1): scale = 256 bins per unit. */
    double bpd = 0.0;
    assert_int_equal(pi_bits_per_dim(2.0, 3, 256.0, &bpd), PI_OK);
    assert_true(fabs(bpd - (2.0 + 3.0 * log(256.0)) / (3.0 * log(2.0))) < 1e-15);
    assert_int_equal(pi_bits_per_dim(0.0, 2, 1.0, &bpd), PI_OK);
    assert_true(fabs(bpd) < 1e-15);
    /* Errors leave the output alone and name the argument. */
    bpd = 42.0;
    assert_int_equal(pi_bits_per_dim(1.0, 0, 256.0, &bpd), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "dim"));
    assert_int_equal(pi_bits_per_dim(1.0, 2, 0.0, &bpd), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "scale"));
    assert_int_equal(pi_bits_per_dim(1.0, 2, NAN, &bpd), PI_EINVAL);
    assert_int_equal(pi_bits_per_dim(NAN, 2, 256.0, &bpd), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "nll"));
    assert_int_equal(pi_bits_per_dim(1.0, 2, 256.0, NULL), PI_EINVAL);
    assert_true(bpd == 42.0);
}

/* Cost of order 0 with exact divergence against a plain PF-ODE solve (x only) at the same
 * tolerance, d = 2: model calls and wall time. Target: <= 3× (issue 6). */
typedef struct plain_ctx {
    const pi_model_t *m;
    double s[2];
    size_t nfe;
} plain_ctx;

static pi_status plain_rhs(double t, const double *y, double *dydt, void *p)
{
    plain_ctx *c = p;
    pi_sde_point sp;
    pi_sde_eval(&c->m->sde, t, &sp);
    pi_status st = pi_model_score_d(c->m, y, t, c->s);
    c->nfe++;
    for (size_t j = 0; j < 2; j++)
        dydt[j] = sp.f * y[j] - 0.5 * sp.g2 * c->s[j];
    return st;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_order0_cost(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_25gaussians(&f), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    size_t n = quick() ? 4 : 64;
    float *x = malloc(n * 2 * sizeof *x);
    double *nll = malloc(n * sizeof *nll);
    pi_nll_point_stats *st = malloc(n * sizeof *st);
    gmm_fixture_sample(&f, n, 12, x);
    pi_lik_options o;
    pi_lik_options_default(&o);
    double t0 = seconds();
    assert_int_equal(pi_likelihood_compute(m, &o, n, x, nll, NULL, st), PI_OK);
    double t_nll = seconds() - t0;
    size_t nfe_nll = 0;
    for (size_t i = 0; i < n; i++)
        nfe_nll += st[i].nfe_order0;
    double work[9 * 2];
    pi_ode_options so = {o.rtol, o.atol, o.max_steps, 0.0};
    plain_ctx c = {m, {0, 0}, 0};
    t0 = seconds();
    for (size_t i = 0; i < n; i++) {
        double y[2] = {x[2 * i], x[2 * i + 1]};
        assert_int_equal(pi_ode_solve(plain_rhs, &c, 2, sde->t_min, sde->t_max, y, &so, work, NULL),
                         PI_OK);
    }
    double t_plain = seconds() - t0;
    double ratio_nfe = (double)nfe_nll / (double)c.nfe, ratio_time = t_nll / t_plain;
    print_message("order 0 (exact divergence), 25 Gaussians d = 2, rtol 1e-6: %.0f model calls "
                  "and %.3g ms per point; plain PF-ODE solve: %.0f calls, %.3g ms; ratios %.2f "
                  "(calls), %.2f (time)\n", (double)nfe_nll / (double)n, 1e3 * t_nll / (double)n,
                  (double)c.nfe / (double)n, 1e3 * t_plain / (double)n, ratio_nfe, ratio_time);
    assert_true(ratio_nfe <= 3.0);
    free(x);
    free(nll);
    free(st);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* A cancel flag that is already set: nothing is computed, every point is NaN with
 * PI_ECANCELED, and the message says so. */
static void test_cancel_flag(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 10, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    pi_lik_options o;
    pi_lik_options_default(&o);
    atomic_int flag = 1;
    o.cancel = &flag;
    float x[8] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f};
    double nll[4], c1[4];
    pi_nll_point_stats stats[4];
    assert_int_equal(pi_likelihood_compute(m, &o, 4, x, nll, c1, stats), PI_ECANCELED);
    assert_non_null(strstr(pi_last_error(), "canceled at point 0"));
    for (int i = 0; i < 4; i++) {
        assert_true(isnan(nll[i]) && isnan(c1[i]));
        assert_int_equal(stats[i].status, PI_ECANCELED);
        assert_int_equal(stats[i].nfe_order0, 0);
    }
    flag = 0; /* the same options without the flag compute every point */
    assert_int_equal(pi_likelihood_compute(m, &o, 4, x, nll, c1, stats), PI_OK);
    for (int i = 0; i < 4; i++)
        assert_true(isfinite(nll[i]) && isfinite(c1[i]));
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

typedef struct cancel_ctx {
    pi_likelihood_t *s;
    atomic_int started;
} cancel_ctx;

static void *cancel_later(void *p)
{
    cancel_ctx *c = p;
    while (!atomic_load(&c->started))
        usleep(1000);
    usleep(50000);
    pi_likelihood_cancel(c->s);
    return NULL;
}

/* pi_likelihood_cancel from another thread stops a long pi_likelihood_nll between points: the
 * call returns PI_ECANCELED, every point is either computed (finite) or NaN, at least one is
 * NaN, and a later call on the same handle runs to the end. */
static void test_cancel_from_thread(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 10, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    pi_likelihood_t *s = NULL;
    assert_int_equal(pi_likelihood_create(m, &s), PI_OK);
    assert_int_equal(pi_likelihood_set_wkb_algorithm(s, PI_WKB_ALGORITHM_REFERENCE), PI_OK);
    const size_t n = 4000; /* far longer than 50 ms even on a fast machine */
    float *x = malloc(n * 2 * sizeof *x);
    double *nll = malloc(n * sizeof *nll), *c1 = malloc(n * sizeof *c1);
    assert_true(x && nll && c1);
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (float)(0.5 * pi_rng_normal1(3, PI_STREAM_AUX, i, 0, 0));
    cancel_ctx c = {s, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    atomic_store(&c.started, 1);
    pi_status st = pi_likelihood_nll(s, n, x, nll, c1);
    pthread_join(th, NULL);
    assert_int_equal(st, PI_ECANCELED);
    size_t computed = 0, canceled = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(nll[i]) && isfinite(c1[i]))
            computed++;
        else if (isnan(nll[i]) && isnan(c1[i]))
            canceled++;
    }
    assert_int_equal(computed + canceled, n);
    assert_true(canceled > 0);
    /* Not sticky: the next run completes. */
    assert_int_equal(pi_likelihood_nll(s, 3, x, nll, NULL), PI_OK);
    free(x);
    free(nll);
    free(c1);
    pi_likelihood_destroy(s);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* A fresh handle reports the option table's defaults through its getters; setters round
 * trip; single-valued getters reject NULL. */
static void test_defaults_and_getters(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 10, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    pi_likelihood_t *lik = NULL;
    assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
    double def, def2;
    pi_divergence mode;
    size_t probes;
    assert_int_equal(pi_likelihood_get_divergence(lik, &mode, &probes), PI_OK);
    assert_int_equal(pi_option_info(PI_OPTION_LIKELIHOOD_DIVERGENCE, NULL, &def, NULL, NULL, NULL), PI_OK);
    assert_int_equal((int)mode, (int)def);
    assert_int_equal(pi_option_info(PI_OPTION_LIKELIHOOD_PROBES, NULL, &def, NULL, NULL, NULL), PI_OK);
    assert_int_equal(probes, (size_t)def);
    double rtol, atol;
    assert_int_equal(pi_likelihood_get_tolerances(lik, &rtol, &atol), PI_OK);
    assert_int_equal(pi_option_info(PI_OPTION_LIKELIHOOD_RTOL, NULL, &def, NULL, NULL, NULL), PI_OK);
    assert_int_equal(pi_option_info(PI_OPTION_LIKELIHOOD_ATOL, NULL, &def2, NULL, NULL, NULL), PI_OK);
    assert_true(rtol == def && atol == def2 && rtol == 1e-6 && atol == 1e-8);
    pi_wkb_algorithm alg;
    assert_int_equal(pi_likelihood_get_wkb_algorithm(lik, &alg), PI_OK);
    assert_int_equal(pi_option_info(PI_OPTION_LIKELIHOOD_WKB_ALGORITHM, NULL, &def, NULL, NULL, NULL), PI_OK);
    assert_int_equal((int)alg, (int)def);
    double bin;
    assert_int_equal(pi_likelihood_get_dequantization(lik, &bin), PI_OK);
    assert_true(bin == 0.0);
    uint64_t seed;
    assert_int_equal(pi_likelihood_get_seed(lik, &seed), PI_OK);
    assert_true(seed == 0);
    int threads;
    assert_int_equal(pi_likelihood_get_threads(lik, &threads), PI_OK);
    assert_int_equal(threads, 1);
    pi_likelihood_fn fn = (pi_likelihood_fn)1;
    void *ud = &fn;
    assert_int_equal(pi_likelihood_get_callback(lik, &fn, &ud), PI_OK);
    assert_null(fn);
    assert_null(ud);

    /* Round trips. */
    assert_int_equal(pi_likelihood_set_divergence(lik, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, 7), PI_OK);
    assert_int_equal(pi_likelihood_get_divergence(lik, &mode, NULL), PI_OK);
    assert_int_equal(pi_likelihood_get_divergence(lik, NULL, &probes), PI_OK);
    assert_int_equal((int)mode, (int)PI_DIVERGENCE_HUTCHINSON_GAUSSIAN);
    assert_int_equal(probes, 7);
    assert_int_equal(pi_likelihood_set_divergence(lik, PI_DIVERGENCE_EXACT, 7), PI_OK);
    assert_int_equal(pi_likelihood_get_divergence(lik, &mode, &probes), PI_OK);
    assert_int_equal(probes, 1); /* exact: probes are meaningless and stored as 1 */
    assert_int_equal(pi_likelihood_set_tolerances(lik, 1e-4, 1e-7), PI_OK);
    assert_int_equal(pi_likelihood_get_tolerances(lik, &rtol, &atol), PI_OK);
    assert_true(rtol == 1e-4 && atol == 1e-7);
    assert_int_equal(pi_likelihood_set_tolerances(lik, 1.0, 1e-7), PI_EINVAL); /* rtol < 1 */
    assert_non_null(strstr(pi_last_error(), "rtol"));
    assert_int_equal(pi_likelihood_set_wkb_algorithm(lik, PI_WKB_ALGORITHM_REFERENCE), PI_OK);
    assert_int_equal(pi_likelihood_get_wkb_algorithm(lik, &alg), PI_OK);
    assert_int_equal((int)alg, (int)PI_WKB_ALGORITHM_REFERENCE);
    assert_int_equal(pi_likelihood_set_dequantization(lik, 0.25), PI_OK);
    assert_int_equal(pi_likelihood_get_dequantization(lik, &bin), PI_OK);
    assert_true(bin == 0.25);
    assert_int_equal(pi_likelihood_set_seed(lik, UINT64_MAX), PI_OK);
    assert_int_equal(pi_likelihood_get_seed(lik, &seed), PI_OK);
    assert_true(seed == UINT64_MAX);
    assert_int_equal(pi_likelihood_set_threads(lik, 0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "threads"));
    assert_int_equal(pi_likelihood_set_threads(lik, 257), PI_EINVAL);
    assert_int_equal(pi_likelihood_set_threads(lik, 256), PI_OK);
    assert_int_equal(pi_likelihood_get_threads(lik, &threads), PI_OK);
    assert_int_equal(threads, 256);
    /* A rejected value leaves the option as it was. */
    assert_int_equal(pi_likelihood_get_threads(lik, &threads), PI_OK);
    assert_int_equal(threads, 256);
    /* NULLs. */
    assert_int_equal(pi_likelihood_get_wkb_algorithm(lik, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_get_dequantization(lik, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_get_seed(lik, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_get_threads(lik, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_get_model(lik, NULL), PI_EINVAL);
    assert_int_equal(pi_likelihood_get_tolerances(NULL, &rtol, &atol), PI_EINVAL);
    assert_int_equal(pi_likelihood_set_seed(NULL, 1), PI_EINVAL);
    assert_int_equal(pi_likelihood_set_callback(NULL, NULL, NULL), PI_EINVAL);
    pi_likelihood_destroy(lik);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

typedef struct progress_log {
    size_t calls, last_done, n, stop_at;
    int monotone;
} progress_log;

static int on_progress(size_t done, size_t n, void *user_data)
{
    progress_log *p = user_data;
    if (done != p->last_done + 1)
        p->monotone = 0;
    p->last_done = done;
    p->n = n;
    p->calls++;
    return p->stop_at != 0 && done >= p->stop_at;
}

/* The progress callback runs once per point with done = 1..n, serialised even with several
 * threads; a nonzero return stops the call with PI_ECANCELED, the points not started are NaN,
 * and the numbers of the finished points equal an uninterrupted run's. */
static void test_progress_callback(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 10, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    enum { N = 40 };
    float x[2 * N];
    gmm_fixture_sample(&f, N, 11, x);
    double full[N], nll[N];
    for (int threads = 1; threads <= 3; threads += 2) {
        pi_likelihood_t *lik = NULL;
        assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
        assert_int_equal(pi_likelihood_set_threads(lik, threads), PI_OK);
        assert_int_equal(pi_likelihood_set_tolerances(lik, 1e-4, 1e-6), PI_OK);
        progress_log log = {0, 0, 0, 0, 1};
        assert_int_equal(pi_likelihood_set_callback(lik, on_progress, &log), PI_OK);
        pi_likelihood_fn fn = NULL;
        void *ud = NULL;
        assert_int_equal(pi_likelihood_get_callback(lik, &fn, &ud), PI_OK);
        assert_true(fn == on_progress && ud == &log);
        assert_int_equal(pi_likelihood_nll(lik, N, x, full, NULL), PI_OK);
        assert_int_equal(log.calls, N);
        assert_int_equal(log.last_done, N);
        assert_int_equal(log.n, N);
        assert_true(log.monotone);

        progress_log stop = {0, 0, 0, 5, 1};
        assert_int_equal(pi_likelihood_set_callback(lik, on_progress, &stop), PI_OK);
        assert_int_equal(pi_likelihood_nll(lik, N, x, nll, NULL), PI_ECANCELED);
        assert_non_null(strstr(pi_last_error(), "callback"));
        size_t finished = 0;
        for (size_t i = 0; i < N; i++) {
            if (isnan(nll[i]))
                continue;
            assert_true(nll[i] == full[i]);
            finished++;
        }
        assert_true(finished >= 5 && finished < N);
        assert_int_equal(stop.calls, 5); /* never called again after it asked to stop */
        /* Stopping at the very last point still reports the stop. */
        progress_log last = {0, 0, 0, N, 1};
        assert_int_equal(pi_likelihood_set_callback(lik, on_progress, &last), PI_OK);
        assert_int_equal(pi_likelihood_nll(lik, N, x, nll, NULL), PI_ECANCELED);
        /* Removed callback: runs to the end. */
        assert_int_equal(pi_likelihood_set_callback(lik, NULL, &log), PI_OK);
        assert_int_equal(pi_likelihood_get_callback(lik, &fn, &ud), PI_OK);
        assert_true(fn == NULL && ud == NULL);
        assert_int_equal(pi_likelihood_nll(lik, N, x, nll, NULL), PI_OK);
        pi_likelihood_destroy(lik);
    }
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

/* Issue 19: points [a, b) computed with first_row = a give, bit for bit, those points of one
 * computation over all (Hutchinson probes and dequantisation keyed by the global row), for
 * any split; with the exact divergence and c1 too; first_row + n − 1 may reach 2^64 − 1. */
static void test_first_row_partitions(void **state)
{
    (void)state;
    pi_sde_t *sde = make_vp();
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 11, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    enum { N = 9 };
    float x[2 * N];
    gmm_fixture_sample(&f, N, 4, x);
    x[2] = x[0]; /* points 0 and 1 equal: only their row index tells their probes apart */
    x[3] = x[1];
    const pi_divergence modes[] = {PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, PI_DIVERGENCE_HUTCHINSON_RADEMACHER,
                                   PI_DIVERGENCE_EXACT};
    for (size_t md = 0; md < 3; md++) {
        pi_likelihood_t *lik = NULL;
        assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
        assert_int_equal(pi_likelihood_set_divergence(lik, modes[md], 2), PI_OK);
        assert_int_equal(pi_likelihood_set_seed(lik, 5), PI_OK);
        assert_int_equal(pi_likelihood_set_dequantization(lik, md == 0 ? 0.01 : 0.0), PI_OK);
        assert_int_equal(pi_likelihood_set_threads(lik, 2), PI_OK);
        double whole[N], whole_c1[N], part[N], part_c1[N];
        assert_int_equal(pi_likelihood_nll(lik, N, x, whole, whole_c1), PI_OK);
        if (modes[md] == PI_DIVERGENCE_HUTCHINSON_GAUSSIAN) /* (±1 probes in 2-D may tie) */
            assert_true(whole[0] != whole[1]); /* different probes for equal points */
        for (size_t a = 1; a < N; a += 3) {
            assert_int_equal(pi_likelihood_set_first_row(lik, 0), PI_OK);
            assert_int_equal(pi_likelihood_nll(lik, a, x, part, part_c1), PI_OK);
            assert_int_equal(pi_likelihood_set_first_row(lik, a), PI_OK);
            assert_int_equal(pi_likelihood_nll(lik, N - a, x + 2 * a, part + a, part_c1 + a), PI_OK);
            assert_memory_equal(whole, part, sizeof whole);
            assert_memory_equal(whole_c1, part_c1, sizeof whole_c1);
        }
        /* nll_ex and nll_hbar follow the same rows. */
        double ex[N], hb[N], hb_whole[N];
        assert_int_equal(pi_likelihood_set_first_row(lik, 0), PI_OK);
        assert_int_equal(pi_likelihood_nll_hbar(lik, 0.5, N, x, hb_whole), PI_OK);
        assert_int_equal(pi_likelihood_set_first_row(lik, 1), PI_OK);
        assert_int_equal(pi_likelihood_nll_ex(lik, N - 1, x + 2, ex + 1, NULL, NULL, NULL), PI_OK);
        assert_memory_equal(whole + 1, ex + 1, (N - 1) * sizeof *ex);
        assert_int_equal(pi_likelihood_nll_hbar(lik, 0.5, N - 1, x + 2, hb + 1), PI_OK);
        assert_memory_equal(hb_whole + 1, hb + 1, (N - 1) * sizeof *hb);
        /* The top of the row range, and one past it. */
        assert_int_equal(pi_likelihood_set_first_row(lik, UINT64_MAX - 1), PI_OK);
        assert_int_equal(pi_likelihood_nll(lik, 2, x, part, NULL), PI_OK);
        assert_true(isfinite(part[0]) && isfinite(part[1]));
        part[2] = 42.0;
        assert_int_equal(pi_likelihood_nll(lik, 3, x, part, NULL), PI_EINVAL);
        assert_non_null(strstr(pi_last_error(), "first_row"));
        assert_true(part[2] == 42.0);
        pi_likelihood_destroy(lik);
    }
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order0_exact_1d),
        cmocka_unit_test(test_order0_exact_2d),
        cmocka_unit_test(test_order0_exact_16d),
        cmocka_unit_test(test_order0_long_sde),
        cmocka_unit_test(test_hutchinson_rademacher),
        cmocka_unit_test(test_hutchinson_gaussian),
        cmocka_unit_test(test_threads_reproducible),
        cmocka_unit_test(test_bad_points),
        cmocka_unit_test(test_public_api),
        cmocka_unit_test(test_defaults_and_getters),
        cmocka_unit_test(test_progress_callback),
        cmocka_unit_test(test_bits_per_dim),
        cmocka_unit_test(test_order0_cost),
        cmocka_unit_test(test_cancel_flag),
        cmocka_unit_test(test_cancel_from_thread),
        cmocka_unit_test(test_first_row_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
