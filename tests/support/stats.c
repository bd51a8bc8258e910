/* Statistics helpers for the test suites (see stats.h). */
#include "stats.h"

#include "core/philox.h"
#include "statistics.h"

#include <math.h>
#include <stdlib.h>

void stats_mean_var(const float *x, size_t n, size_t dim, size_t col, double *mean, double *var)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++)
        m += x[i * dim + col];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = x[i * dim + col] - m;
        v += e * e;
    }
    if (mean != NULL)
        *mean = m;
    if (var != NULL)
        *var = v / (double)n;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

double stats_sliced_w2(const float *a, const float *b, size_t n, size_t dim, size_t projections,
                       uint64_t seed, double *stderr_out)
{
    /* Random unit directions; the distance itself is the command's (tools/statistics.c). */
    double *dir = malloc(projections * dim * sizeof *dir);
    if (dir == NULL)
        return NAN;
    for (size_t p = 0; p < projections; p++) {
        double *d = dir + p * dim;
        pi_rng_normal_d(seed, PI_STREAM_AUX, p, 0x5157u, dim, d);
        double norm = 0.0;
        for (size_t j = 0; j < dim; j++)
            norm += d[j] * d[j];
        norm = sqrt(norm);
        for (size_t j = 0; j < dim; j++)
            d[j] /= norm;
    }
    double result = stats_sliced_w2_directions(a, b, n, dim, projections, dir, stderr_out);
    free(dir);
    return result;
}

double stats_ks_two_sample(const double *a, size_t na, const double *b, size_t nb)
{
    double *sa = malloc(na * sizeof *sa), *sb = malloc(nb * sizeof *sb);
    if (sa == NULL || sb == NULL) {
        free(sa);
        free(sb);
        return NAN;
    }
    for (size_t i = 0; i < na; i++)
        sa[i] = a[i];
    for (size_t i = 0; i < nb; i++)
        sb[i] = b[i];
    qsort(sa, na, sizeof *sa, cmp_double);
    qsort(sb, nb, sizeof *sb, cmp_double);
    size_t i = 0, j = 0;
    double d = 0.0;
    while (i < na && j < nb) {
        double v = sa[i] < sb[j] ? sa[i] : sb[j];
        while (i < na && sa[i] <= v)
            i++;
        while (j < nb && sb[j] <= v)
            j++;
        double diff = fabs((double)i / (double)na - (double)j / (double)nb);
        if (diff > d)
            d = diff;
    }
    free(sa);
    free(sb);
    return d;
}

double stats_ks_normal(const double *x, size_t n, double mean, double std)
{
    double *s = malloc(n * sizeof *s);
    if (s == NULL)
        return NAN;
    for (size_t i = 0; i < n; i++)
        s[i] = x[i];
    qsort(s, n, sizeof *s, cmp_double);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        double cdf = 0.5 * erfc(-(s[i] - mean) / (std * sqrt(2.0)));
        double lo = cdf - (double)i / (double)n, hi = (double)(i + 1) / (double)n - cdf;
        if (lo > d)
            d = lo;
        if (hi > d)
            d = hi;
    }
    free(s);
    return d;
}

void stats_sample_gmm(size_t dim, size_t k, const double *weights, const double *means,
                      const double *vars, size_t n, uint64_t seed, float *out)
{
    double total = 0.0;
    for (size_t c = 0; c < k; c++)
        total += weights[c];
    for (size_t i = 0; i < n; i++) {
        double u = pi_rng_uniform1(seed, PI_STREAM_AUX, i, 0x6d6du, 0) * total;
        size_t c = 0;
        double acc = weights[0];
        while (c + 1 < k && u > acc)
            acc += weights[++c];
        for (size_t j = 0; j < dim; j++) {
            double z = pi_rng_normal1(seed, PI_STREAM_AUX, i, 0x6d6eu, j);
            out[i * dim + j] = (float)(means[c * dim + j] + sqrt(vars[c * dim + j]) * z);
        }
    }
}

double stats_loglog_slope(const double *x, const double *y, size_t m)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < m; i++) {
        double lx = log(x[i]), ly = log(y[i]);
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
    }
    double mm = (double)m;
    return (mm * sxy - sx * sy) / (mm * sxx - sx * sx);
}
