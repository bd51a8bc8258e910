/* Statistics of the pathint command, shared with the test suites (tests/support/stats.c builds
 * its sliced W2 on stats_sliced_w2_directions): one implementation, so the command and the
 * tests measure sample quality the same way. Pure C and libm; no library internals. */
#ifndef PATHINT_TOOL_STATISTICS_H
#define PATHINT_TOOL_STATISTICS_H

#include <stddef.h>

typedef struct stats_summary {
    double mean, sem; /* mean and its standard error */
} stats_summary;

/* Mean and standard error of the finite values among v[0..n) (NaN, NaN if none). */
stats_summary stats_summarize(size_t n, const double *v);

/* The q-quantile (linear interpolation) of the finite values (NaN if none or out of memory). */
double stats_quantile(size_t n, const double *v, double q);

/* Sliced Wasserstein-2 distance between two equally sized samples a and b (n × dim floats,
 * row-major) over the given unit directions (ndirections × dim): sqrt of the mean over the
 * directions of the 1-D squared W2 between the sorted projections (MATH.md §6).
 * *stderr_out (may be NULL) is the standard error of that estimate over the directions
 * (delta method). NaN on allocation failure. */
double stats_sliced_w2_directions(const float *a, const float *b, size_t n, size_t dim, size_t ndirections,
                                  const double *directions, double *stderr_out);

/* k directions evenly spaced over half the circle, (cos πi/k, sin πi/k): 2k doubles. */
void stats_directions_2d(size_t k, double *directions);

#endif
