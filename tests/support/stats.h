/* Statistics for tests and benchmarks (MATH.md §6): moments, sliced Wasserstein-2, the
 * Kolmogorov–Smirnov statistic and exact sampling from a diagonal Gaussian mixture.
 * Everything is deterministic in its seed (Philox, stream PI_STREAM_AUX). Point arrays are
 * row-major n × dim floats as everywhere in pathint. */
#ifndef PI_TEST_STATS_H
#define PI_TEST_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Mean and (population) variance of column `col` of an n × dim array. Either output may be NULL. */
void stats_mean_var(const float *x, size_t n, size_t dim, size_t col, double *mean, double *var);

/* Sliced Wasserstein-2 distance between two equally sized samples a and b (n × dim each):
 * sqrt of the mean over `projections` random unit directions (seed) of the 1-D squared W2
 * between the sorted projections. *stderr_out (may be NULL) is the standard error of that
 * estimate over the directions (delta method). Returns NaN on allocation failure. The
 * distance is stats_sliced_w2_directions() of tools/statistics.c, which the command uses. */
double stats_sliced_w2(const float *a, const float *b, size_t n, size_t dim, size_t projections,
                       uint64_t seed, double *stderr_out);

/* Two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b| (inputs are not modified). */
double stats_ks_two_sample(const double *a, size_t na, const double *b, size_t nb);

/* One-sample KS statistic of x against N(mean, std²). */
double stats_ks_normal(const double *x, size_t n, double mean, double std);

/* n exact samples of Σ_k w_k N(μ_k, diag(v_k)) (weights need not be normalised), row i
 * depending only on (seed, i). means and vars are k × dim. */
void stats_sample_gmm(size_t dim, size_t k, const double *weights, const double *means,
                      const double *vars, size_t n, uint64_t seed, float *out);

/* Least-squares slope of log(y) against log(x) over m points. */
double stats_loglog_slope(const double *x, const double *y, size_t m);

#endif
