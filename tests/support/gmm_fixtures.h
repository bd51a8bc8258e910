/* Shared test helpers: random Gaussian mixtures, exact samples from them (Philox), and the
 * 25-Gaussians mixture of MATH.md §4. Test-only code: aborts are fine here. */
#ifndef PI_TEST_GMM_FIXTURES_H
#define PI_TEST_GMM_FIXTURES_H

#include "pathint.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmm_fixture {
    size_t dim, k;
    double *weights; /* k, normalised to sum 1 */
    double *means;   /* k × dim */
    double *vars;    /* k × dim */
} gmm_fixture;

/* A reproducible random mixture: means N(0, spread²), variances uniform in [vmin, vmax],
 * weights uniform in [0.2, 1] then normalised. Returns 0 on success. */
int gmm_fixture_random(gmm_fixture *f, size_t dim, size_t k, uint64_t seed, double spread,
                       double vmin, double vmax);

/* 25 Gaussians on a 5×5 grid of spacing 2, std 0.05, all divided by 2.828 (dim 2). */
int gmm_fixture_25gaussians(gmm_fixture *f);

void gmm_fixture_free(gmm_fixture *f);

/* The mixture as a model on sde (NULL on failure). */
pi_model_t *gmm_fixture_model(const gmm_fixture *f, const pi_sde_t *sde);

/* n exact samples of the data distribution (t = 0); row i depends only on (seed, i). */
void gmm_fixture_sample(const gmm_fixture *f, size_t n, uint64_t seed, float *out);

/* n exact samples of the diffused distribution at (alpha, sigma). */
void gmm_fixture_sample_at(const gmm_fixture *f, size_t n, uint64_t seed, double alpha,
                           double sigma, float *out);

/* Exact log-density of the diffused mixture at (alpha, sigma), computed independently of the
 * library (for cross-checks). */
double gmm_fixture_logpdf(const gmm_fixture *f, const double *x, double alpha, double sigma);

/* The public action bound (pi_likelihood_action_bound) of a model with an explicit seed and
 * the model's thread count, through a likelihood handle made for the call. */
pi_status fixture_action_bound(const pi_model_t *model, size_t n, const float *x, size_t samples,
                               uint64_t seed, double *bound, double *stderr_out);

#endif
