/* Measurements of the stochastic WKB sweep (issue 18; docs/likelihood.md). Not a test.
 *
 *   pathint-wkb-stochastic agree mix|mlp D N K THREADS   exact vs stochastic over N points
 *   pathint-wkb-stochastic variance D K1 K2 ...           standard error vs K (MLP, 4 points)
 *   pathint-wkb-stochastic cost D K WIDTH [exact|products] time and peak memory of one point
 *                                                          (products: the exact sweep on its
 *                                                          large-d path even where dense fits)
 *   pathint-wkb-stochastic derivs D WIDTH LAYERS REPS     one sweep step's derivatives, seconds
 *                                                          per call: dense Taylor order 3, the
 *                                                          forward-over-reverse products, d²
 *                                                          hyper-dual products, chunked Taylor
 *
 * Models: "mix" is the perturbed mixture of tests/test_wkb_stochastic.c (the fixture
 * gmm_fixture_random(d, 2, 9 + d, 1, 0.1, 0.3), score scaled by 1.1 and evaluated at a time
 * warped by 0.9); "mlp" an untrained EDM-preconditioned MLP (width 16, 2 hidden layers,
 * seed 21 + d; σ_data 0.5), points 0.7·N(0, I). VP linear SDE (β 0.1 → 20). Seeds fixed. */
#include "likelihood/likelihood_impl.h"
#include "core/philox.h"
#include "gmm_fixtures.h"
#include "warped_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static pi_model_t *make_mlp(const pi_sde_t *sde, size_t d, size_t width)
{
    pi_model_t *m = NULL;
    if (pi_model_create_mlp(sde, d, width, 2, &m) != PI_OK ||
        pi_model_mlp_init(m, 21 + d) != PI_OK ||
        pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5) != PI_OK) {
        fprintf(stderr, "mlp: %s\n", pi_last_error());
        exit(1);
    }
    return m;
}

static float *mlp_points(size_t n, size_t d)
{
    float *x = malloc(n * d * sizeof *x);
    double *xd = malloc(n * d * sizeof *xd);
    pi_rng_normal_d(40 + d, PI_STREAM_AUX, 0, 0, n * d, xd);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(0.7 * xd[i]);
    free(xd);
    return x;
}

static void run(const pi_model_t *m, pi_lik_options *o, size_t n, const float *x, double *nll,
                double *c1, pi_nll_point_stats *st)
{
    pi_status s = pi_likelihood_compute(m, o, n, x, nll, c1, st);
    if (s != PI_OK) {
        fprintf(stderr, "compute: %s\n", pi_last_error());
        exit(1);
    }
}

static int agree(int argc, char **argv, const pi_sde_t *sde)
{
    if (argc < 7)
        return 2;
    int mix = strcmp(argv[2], "mix") == 0;
    size_t d = strtoul(argv[3], NULL, 10), n = strtoul(argv[4], NULL, 10);
    size_t K = strtoul(argv[5], NULL, 10);
    int threads = atoi(argv[6]);
    pi_model_t *m;
    float *x;
    gmm_fixture f;
    if (mix) {
        gmm_fixture_random(&f, d, 2, 9 + d, 1.0, 0.1, 0.3);
        m = warped_model_create(gmm_fixture_model(&f, sde), 1.1, 0.9);
        x = malloc(n * d * sizeof *x);
        gmm_fixture_sample(&f, n, 5, x);
    } else {
        m = make_mlp(sde, d, 16);
        x = mlp_points(n, d);
    }
    double *nll = malloc(n * sizeof *nll), *ce = malloc(n * sizeof *ce);
    double *cs = malloc(n * sizeof *cs);
    pi_nll_point_stats *st = malloc(n * sizeof *st), *se = malloc(n * sizeof *se);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-7;
    o.atol = 1e-9;
    o.threads = threads;
    run(m, &o, n, x, nll, ce, se);
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = K;
    o.seed = 12345;
    run(m, &o, n, x, nll, cs, st);
    double me = 0, ms = 0, var = 0, maxz = 0, te = 0, ts = 0;
    size_t within = 0;
    for (size_t i = 0; i < n; i++) {
        double z = fabs(cs[i] - ce[i]) / st[i].c1_stderr;
        me += ce[i];
        ms += cs[i];
        var += st[i].c1_stderr * st[i].c1_stderr;
        maxz = fmax(maxz, z);
        within += z < 3.0;
        te += se[i].seconds_c1;
        ts += st[i].seconds_c1;
    }
    me /= (double)n;
    ms /= (double)n;
    printf("{\"model\": \"%s\", \"dim\": %zu, \"points\": %zu, \"probes\": %zu, "
           "\"mean_exact\": %.8g, \"mean_stochastic\": %.8g, \"stderr_of_mean\": %.3g, "
           "\"relative_difference\": %.4g, \"max_abs_z\": %.3g, \"within_3_stderr\": %zu, "
           "\"seconds_exact\": %.3g, \"seconds_stochastic\": %.3g}\n",
           argv[2], d, n, K, me, ms, sqrt(var) / (double)n, fabs(ms / me - 1.0), maxz, within,
           te, ts);
    return 0;
}

static int variance(int argc, char **argv, const pi_sde_t *sde)
{
    size_t d = strtoul(argv[2], NULL, 10), n = 4;
    pi_model_t *m = make_mlp(sde, d, 16);
    float *x = mlp_points(n, d);
    for (int a = 3; a < argc; a++) {
        size_t K = strtoul(argv[a], NULL, 10);
        pi_lik_options o;
        pi_lik_options_default(&o);
        o.c1_mode = PI_C1_STOCHASTIC;
        o.c1_probes = K;
        o.rtol = 1e-6;
        double nll[4], c1[4];
        pi_nll_point_stats st[4];
        run(m, &o, n, x, nll, c1, st);
        double v = 0, sec = 0;
        for (size_t i = 0; i < n; i++) {
            v += st[i].c1_stderr * st[i].c1_stderr / (double)n;
            sec += st[i].seconds_c1 / (double)n;
        }
        /* per-probe variance = K · stderr² */
        printf("{\"dim\": %zu, \"probes\": %zu, \"stderr\": %.4g, \"per_probe_std\": %.4g, "
               "\"c1_point0\": %.6g, \"seconds_per_point\": %.3g}\n", d, K, sqrt(v),
               sqrt(v * (double)K), c1[0], sec);
    }
    return 0;
}

static int cost(int argc, char **argv, const pi_sde_t *sde)
{
    size_t d = strtoul(argv[2], NULL, 10), K = strtoul(argv[3], NULL, 10);
    size_t width = strtoul(argv[4], NULL, 10);
    int products = argc > 5 && strcmp(argv[5], "products") == 0;
    int exact = products || (argc > 5 && strcmp(argv[5], "exact") == 0);
    pi_model_t *m = make_mlp(sde, d, width);
    float *x = mlp_points(1, d);
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = 1e-5;
    o.atol = 1e-7;
    /* order 0 with one Rademacher probe: its exact divergence costs d Jacobian-vector
     * products per step and is not what is measured here */
    o.div_mode = PI_DIVERGENCE_HUTCHINSON_RADEMACHER;
    o.probes = 1;
    if (!exact) {
        o.c1_mode = PI_C1_STOCHASTIC;
        o.c1_probes = K;
    }
    o.sweep_products = products;
    struct rusage r0;
    getrusage(RUSAGE_SELF, &r0);
    double nll, c1;
    pi_nll_point_stats st;
    pi_status s = pi_likelihood_compute(m, &o, 1, x, &nll, &c1, &st);
    struct rusage r1;
    getrusage(RUSAGE_SELF, &r1);
    printf("{\"dim\": %zu, \"probes\": %zu, \"width\": %zu, \"algorithm\": \"%s\", "
           "\"status\": %d, \"c1\": %.6g, \"stderr\": %.3g, \"steps\": %zu, \"nfe\": %zu, "
           "\"seconds_order0\": %.3g, \"seconds_c1\": %.3g, \"state_doubles\": %zu, "
           "\"peak_rss_mib\": %.1f}\n",
           d, exact ? 0 : K, width,
           products ? "exact-products" : exact ? "exact" : "stochastic", (int)s, c1, st.c1_stderr,
           st.steps_c1, st.nfe_c1, st.seconds_order0, st.seconds_c1,
           exact ? 2 * d + d * d + 1 : pi_wkb_stochastic_state(d, K),
           (double)r1.ru_maxrss / 1024.0);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per call of the ways to get one exact-sweep step's derivatives at one point. */
static int derivs(int argc, char **argv, const pi_sde_t *sde)
{
    (void)argc;
    size_t d = strtoul(argv[2], NULL, 10), width = strtoul(argv[3], NULL, 10);
    size_t layers = strtoul(argv[4], NULL, 10), reps = strtoul(argv[5], NULL, 10);
    pi_model_t *m = NULL;
    if (pi_model_create_mlp(sde, d, width, layers, &m) != PI_OK ||
        pi_model_mlp_init(m, 21 + d) != PI_OK ||
        pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5) != PI_OK)
        return 1;
    double *x = malloc(d * sizeof *x), *u = malloc(d * sizeof *u), *s = malloc(d * sizeof *s);
    double *gd = malloc(d * sizeof *gd), *e = calloc(2 * d, sizeof *e);
    double *jac = malloc(d * d * sizeof *jac), *hd = malloc(d * d * sizeof *hd);
    double *uh = malloc(d * d * sizeof *uh), *hess = malloc(d * d * d * sizeof *hess);
    double *ps = malloc(m->type->sweep_scratch(m) * sizeof *ps);
    double *ds = malloc(pi_model_directional_scratch(m) * sizeof *ds);
    pi_rng_normal_d(3, PI_STREAM_AUX, 0, 0, d, x);
    pi_rng_normal_d(4, PI_STREAM_AUX, 0, 0, d, u);
    double t = 0.4, t0, dense = -1.0, prod, hyper, chunk;
    if (m->type->sweep_dense(m)) {
        t0 = now();
        for (size_t r = 0; r < reps; r++)
            pi_model_derivatives_d(m, x, t, s, jac, NULL, gd, hess, hd);
        dense = (now() - t0) / (double)reps;
    }
    t0 = now();
    for (size_t r = 0; r < reps; r++)
        m->type->sweep_products_d(m, x, t, u, s, jac, NULL, gd, uh, hd, ps);
    prod = (now() - t0) / (double)reps;
    /* ∇∇(∇·s) alone from d² hyper-dual products (the assembly tests used before): one row k
     * of the d² timed, times d */
    t0 = now();
    for (size_t j = 0; j < d; j++) {
        e[j] = 1.0;
        e[d] = 1.0;
        pi_model_directional_d(m, x, t, e, e + d, 1, e + d, NULL, NULL, NULL, NULL, NULL, NULL,
                               gd, ds);
        e[j] = 0.0;
    }
    hyper = (now() - t0) * (double)d;
    /* chunked Taylor (order 2 in the d seeds × order 1 in e_k, per k): at least 2d order-2
     * propagations' worth of columns; one order-2 propagation timed, times 2d */
    t0 = now();
    pi_model_hessians_d(m, x, t, hess);
    chunk = (now() - t0) * 2.0 * (double)d;
    printf("{\"dim\": %zu, \"width\": %zu, \"layers\": %zu, \"dense_order3_s\": %.4g, "
           "\"products_s\": %.4g, \"hyperdual_d2_s\": %.4g, \"chunked_taylor_s\": %.4g, "
           "\"products_scratch_mib\": %.2f}\n", d, width, layers, dense, prod, hyper, chunk,
           (double)m->type->sweep_scratch(m) * 8.0 / 1048576.0);
    free(x), free(u), free(s), free(gd), free(e), free(jac), free(hd), free(uh), free(hess);
    free(ps), free(ds);
    pi_model_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    pi_sde_t *sde = NULL;
    pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);
    int rc = 2;
    if (argc > 2 && strcmp(argv[1], "agree") == 0)
        rc = agree(argc, argv, sde);
    else if (argc > 3 && strcmp(argv[1], "variance") == 0)
        rc = variance(argc, argv, sde);
    else if (argc > 4 && strcmp(argv[1], "cost") == 0)
        rc = cost(argc, argv, sde);
    else if (argc > 5 && strcmp(argv[1], "derivs") == 0)
        rc = derivs(argc, argv, sde);
    if (rc == 2)
        fprintf(stderr, "usage: see the comment at the top of bench/wkb_stochastic.c\n");
    return rc;
}
