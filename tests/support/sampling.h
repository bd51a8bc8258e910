/* Sampler runs and sample-quality figures shared by the statistical suites (test_sampler_quality,
 * test_few_steps). Test-only code: every failure is a cmocka failure with the library's message. */
#ifndef PI_TEST_SAMPLING_H
#define PI_TEST_SAMPLING_H

#include "pathint.h"

#include <stddef.h>
#include <stdint.h>

/* One sampler configuration. A zero field keeps the sampler's default (method EXP2M, ħ 0,
 * 50 steps or RK45's adaptive run, seed 0, uniform-λ schedule, step-keyed noise), except
 * threads: 0 means 2 (as every statistical suite runs). */
typedef struct sample_spec {
    pi_method method;
    double hbar;
    size_t steps;
    uint64_t seed;
    pi_schedule schedule; /* with rho (Karras) */
    double rho;
    pi_noise noise;
    size_t threads;
} sample_spec;

/* A sampler on model configured by spec (the caller destroys it). */
pi_sampler_t *sample_sampler(pi_model_t *model, const sample_spec *spec);

/* n samples (n × the model's dimension, malloc'd; the caller frees) of model under spec. */
float *sample_draw(pi_model_t *model, const sample_spec *spec, size_t n);

/* The diffused mixture at (α, σ): means α μ and variances α² v + σ², for k × dim components. */
void sample_diffuse_mixture(size_t k, size_t dim, const double *mu, const double *var,
                            double alpha, double sigma, double *mu_t, double *var_t);

/* Mean and standard deviation of the sliced W2 (projections, seed 5) between ref and `pairs`
 * further independent exact sets of n samples of the diagonal mixture (w, mu, var: k × dim),
 * drawn with seeds first_seed, first_seed + 1, ...: the exact-vs-exact baseline. */
void sample_w2_baseline(size_t dim, size_t k, const double *w, const double *mu, const double *var,
                        const float *ref, size_t n, size_t projections, size_t pairs,
                        uint64_t first_seed, double *mean, double *sd);

#endif
