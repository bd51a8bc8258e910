/* Measurements of the stochastic c2 (issue 18; docs/likelihood.md, "Second order,
 * stochastic"). Not a test.
 *
 *   pathint-wkb2-stochastic MODEL D N K RTOL INNER_RTOL [exact]
 *
 * MODEL "mix": the perturbed mixture of tests/test_wkb2_stochastic.c (gmm_fixture_random(d, 2,
 * 9 + d, 1, 0.1, 0.3), score × 1.1 at a time warped by 0.9, points from the mixture, seed 5);
 * "mlp": an untrained EDM-preconditioned MLP (width 16, 2 hidden layers, seed 21 + d, σ_data
 * 0.5), points 0.7·N(0, I) (seed 40 + d). VP linear SDE. N points, K replicates (seed 2026),
 * outer tolerances RTOL / 1e-9, inner INNER_RTOL (rtol = atol), one thread; "exact" also
 * runs the nested c2 (d <= 16). Prints per point c2 ± stderr, seconds, model calls. */
#include "likelihood/likelihood_impl.h"
#include "core/philox.h"
#include "gmm_fixtures.h"
#include "warped_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s mix|mlp D N K RTOL INNER_RTOL [exact]\n", argv[0]);
        return 2;
    }
    int mix = strcmp(argv[1], "mix") == 0;
    size_t d = strtoul(argv[2], NULL, 10), n = strtoul(argv[3], NULL, 10);
    size_t K = strtoul(argv[4], NULL, 10);
    double rtol = atof(argv[5]), irtol = atof(argv[6]);
    int exact = argc > 7 && strcmp(argv[7], "exact") == 0;
    pi_sde_t *sde = NULL;
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde) != PI_OK)
        return 1;
    pi_model_t *m = NULL;
    float *x = malloc(n * d * sizeof *x);
    gmm_fixture f;
    if (mix) {
        if (gmm_fixture_random(&f, d, 2, 9 + d, 1.0, 0.1, 0.3) != 0)
            return 1;
        m = warped_model_create(gmm_fixture_model(&f, sde), 1.1, 0.9);
        gmm_fixture_sample(&f, n, 5, x);
    } else {
        if (pi_model_create_mlp(sde, d, 16, 2, &m) != PI_OK || pi_model_mlp_init(m, 21 + d) != PI_OK ||
            pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5) != PI_OK)
            return 1;
        double *xd = malloc(n * d * sizeof *xd);
        for (size_t i = 0; i < n * d; i++)
            xd[i] = pi_rng_normal1(40 + d, PI_STREAM_AUX, 0, 0, i);
        for (size_t i = 0; i < n * d; i++)
            x[i] = (float)(0.7 * xd[i]);
        free(xd);
    }
    if (m == NULL)
        return 1;
    pi_lik_options o;
    pi_lik_options_default(&o);
    o.rtol = rtol;
    o.atol = 1e-9;
    o.ref_inner_rtol = irtol;
    o.ref_inner_atol = irtol;
    double *nll = malloc(n * sizeof *nll), *c1 = malloc(n * sizeof *c1);
    double *ce = malloc(n * sizeof *ce), *cs = malloc(n * sizeof *cs);
    pi_nll_point_stats *se = calloc(n, sizeof *se), *ss = calloc(n, sizeof *ss);
    if (exact && pi_likelihood_compute2(m, &o, n, x, nll, c1, ce, se) != PI_OK) {
        fprintf(stderr, "exact: %s\n", pi_last_error());
        return 1;
    }
    o.c1_mode = PI_C1_STOCHASTIC;
    o.c1_probes = K;
    o.seed = 2026;
    if (pi_likelihood_compute2(m, &o, n, x, nll, c1, cs, ss) != PI_OK) {
        fprintf(stderr, "stochastic: %s\n", pi_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s d=%zu point %zu: c1 %.5f ± %.5f, c2 %.5f ± %.5f (%.2f s, %zu calls)", argv[1],
               d, i, c1[i], ss[i].c1_stderr, cs[i], ss[i].c2_stderr, ss[i].seconds_c2,
               ss[i].nfe_c2);
        if (exact)
            printf("  exact %.5f (%.2f s, %zu calls) z %.2f", ce[i], se[i].seconds_c2,
                   se[i].nfe_c2, (cs[i] - ce[i]) / ss[i].c2_stderr);
        printf("\n");
    }
    free(nll);
    free(c1);
    free(ce);
    free(cs);
    free(se);
    free(ss);
    free(x);
    pi_model_destroy(m);
    if (mix)
        gmm_fixture_free(&f);
    pi_sde_destroy(sde);
    return 0;
}
