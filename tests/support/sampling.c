/* Sampler runs shared by the statistical suites; see sampling.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sampling.h"

#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

pi_sampler_t *sample_sampler(pi_model_t *model, const sample_spec *spec)
{
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(model, &s), PI_OK);
    if (spec->method != 0)
        assert_int_equal(pi_sampler_set_method(s, spec->method), PI_OK);
    if (spec->hbar != 0.0)
        assert_int_equal(pi_sampler_set_hbar(s, spec->hbar), PI_OK);
    if (spec->steps != 0)
        assert_int_equal(pi_sampler_set_steps(s, spec->steps), PI_OK);
    if (spec->schedule != 0)
        assert_int_equal(pi_sampler_set_schedule(s, spec->schedule, spec->rho), PI_OK);
    if (spec->seed != 0)
        assert_int_equal(pi_sampler_set_seed(s, spec->seed), PI_OK);
    if (spec->noise != 0)
        assert_int_equal(pi_sampler_set_noise(s, spec->noise), PI_OK);
    assert_int_equal(pi_sampler_set_threads(s, spec->threads != 0 ? spec->threads : 2), PI_OK);
    return s;
}

float *sample_draw(pi_model_t *model, const sample_spec *spec, size_t n)
{
    size_t dim = 0;
    assert_int_equal(pi_model_get_dim(model, &dim), PI_OK);
    pi_sampler_t *s = sample_sampler(model, spec);
    float *x = malloc(n * dim * sizeof *x);
    assert_non_null(x);
    pi_status st = pi_sampler_run(s, n, x);
    if (st != PI_OK)
        fprintf(stderr, "sample_draw: %s\n", pi_last_error());
    assert_int_equal(st, PI_OK);
    pi_sampler_destroy(s);
    return x;
}

void sample_diffuse_mixture(size_t k, size_t dim, const double *mu, const double *var,
                            double alpha, double sigma, double *mu_t, double *var_t)
{
    for (size_t i = 0; i < k * dim; i++) {
        mu_t[i] = alpha * mu[i];
        var_t[i] = alpha * alpha * var[i] + sigma * sigma;
    }
}

void sample_w2_baseline(size_t dim, size_t k, const double *w, const double *mu, const double *var,
                        const float *ref, size_t n, size_t projections, size_t pairs,
                        uint64_t first_seed, double *mean, double *sd)
{
    float *other = malloc(n * dim * sizeof *other);
    double *base = malloc(pairs * sizeof *base);
    assert_true(other != NULL && base != NULL && pairs >= 2);
    double m = 0.0, v = 0.0;
    for (size_t p = 0; p < pairs; p++) {
        stats_sample_gmm(dim, k, w, mu, var, n, first_seed + p, other);
        base[p] = stats_sliced_w2(ref, other, n, dim, projections, 5, NULL);
        m += base[p] / (double)pairs;
    }
    for (size_t p = 0; p < pairs; p++)
        v += (base[p] - m) * (base[p] - m) / (double)(pairs - 1);
    *mean = m;
    *sd = sqrt(v);
    free(other);
    free(base);
}
