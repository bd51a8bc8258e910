/* Shared test helpers for Gaussian mixtures (see gmm_fixtures.h). */
#include "gmm_fixtures.h"

#include "core/philox.h"

#include <math.h>
#include <stdlib.h>

static int alloc_fixture(gmm_fixture *f, size_t dim, size_t k)
{
    f->dim = dim;
    f->k = k;
    f->weights = malloc(k * sizeof(double));
    f->means = malloc(k * dim * sizeof(double));
    f->vars = malloc(k * dim * sizeof(double));
    if (f->weights == NULL || f->means == NULL || f->vars == NULL) {
        gmm_fixture_free(f);
        return -1;
    }
    return 0;
}

int gmm_fixture_random(gmm_fixture *f, size_t dim, size_t k, uint64_t seed, double spread,
                       double vmin, double vmax)
{
    if (alloc_fixture(f, dim, k) != 0)
        return -1;
    double sum = 0.0;
    for (size_t c = 0; c < k; c++) {
        f->weights[c] = 0.2 + 0.8 * pi_rng_uniform1(seed, PI_STREAM_AUX, c, 0, 0);
        sum += f->weights[c];
        for (size_t j = 0; j < dim; j++) {
            f->means[c * dim + j] = spread * pi_rng_normal1(seed, PI_STREAM_AUX, c, 1, j);
            f->vars[c * dim + j] = vmin + (vmax - vmin) * pi_rng_uniform1(seed, PI_STREAM_AUX, c, 2, j);
        }
    }
    for (size_t c = 0; c < k; c++)
        f->weights[c] /= sum;
    return 0;
}

int gmm_fixture_25gaussians(gmm_fixture *f)
{
    if (alloc_fixture(f, 2, 25) != 0)
        return -1;
    const double scale = 2.828;
    for (size_t c = 0; c < 25; c++) {
        f->weights[c] = 1.0 / 25.0;
        f->means[2 * c] = (-4.0 + 2.0 * (double)(c / 5)) / scale;
        f->means[2 * c + 1] = (-4.0 + 2.0 * (double)(c % 5)) / scale;
        f->vars[2 * c] = f->vars[2 * c + 1] = (0.05 / scale) * (0.05 / scale);
    }
    return 0;
}

void gmm_fixture_free(gmm_fixture *f)
{
    free(f->weights);
    free(f->means);
    free(f->vars);
    f->weights = f->means = f->vars = NULL;
}

pi_model_t *gmm_fixture_model(const gmm_fixture *f, const pi_sde_t *sde)
{
    pi_model_t *m = NULL;
    if (pi_model_create_gmm(sde, f->dim, f->k, f->weights, f->means, f->vars, &m) != PI_OK)
        return NULL;
    return m;
}

void gmm_fixture_sample_at(const gmm_fixture *f, size_t n, uint64_t seed, double alpha,
                           double sigma, float *out)
{
    size_t d = f->dim;
    for (size_t i = 0; i < n; i++) {
        double u = pi_rng_uniform1(seed, PI_STREAM_AUX, i, 10, 0), cum = 0.0;
        size_t c = f->k - 1;
        for (size_t q = 0; q < f->k; q++) {
            cum += f->weights[q];
            if (u <= cum) {
                c = q;
                break;
            }
        }
        for (size_t j = 0; j < d; j++) {
            double z0 = pi_rng_normal1(seed, PI_STREAM_AUX, i, 11, j);
            double z1 = pi_rng_normal1(seed, PI_STREAM_AUX, i, 12, j);
            double x0 = f->means[c * d + j] + sqrt(f->vars[c * d + j]) * z0;
            out[i * d + j] = (float)(alpha * x0 + sigma * z1);
        }
    }
}

void gmm_fixture_sample(const gmm_fixture *f, size_t n, uint64_t seed, float *out)
{
    gmm_fixture_sample_at(f, n, seed, 1.0, 0.0, out);
}

double gmm_fixture_logpdf(const gmm_fixture *f, const double *x, double alpha, double sigma)
{
    size_t d = f->dim;
    double lmax = -INFINITY, *l = malloc(f->k * sizeof(double));
    for (size_t c = 0; c < f->k; c++) {
        double acc = log(f->weights[c]);
        for (size_t j = 0; j < d; j++) {
            double var = alpha * alpha * f->vars[c * d + j] + sigma * sigma;
            double dx = x[j] - alpha * f->means[c * d + j];
            acc += -0.5 * (dx * dx / var + 1.8378770664093454835606594728112 + log(var));
        }
        l[c] = acc;
        if (acc > lmax)
            lmax = acc;
    }
    double sum = 0.0;
    for (size_t c = 0; c < f->k; c++)
        sum += exp(l[c] - lmax);
    free(l);
    return lmax + log(sum);
}

pi_status fixture_action_bound(const pi_model_t *model, size_t n, const float *x, size_t samples,
                               uint64_t seed, double *bound, double *stderr_out)
{
    pi_likelihood_t *lik = NULL;
    int threads = 1;
    pi_status st = pi_likelihood_create(model, &lik);
    if (st == PI_OK)
        st = pi_model_get_threads(model, &threads);
    if (st == PI_OK)
        st = pi_likelihood_set_threads(lik, threads);
    if (st == PI_OK)
        st = pi_likelihood_set_seed(lik, seed);
    if (st == PI_OK)
        st = pi_likelihood_action_bound(lik, samples, n, x, bound, stderr_out);
    pi_likelihood_destroy(lik);
    return st;
}
