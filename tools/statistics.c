/* Statistics of the pathint command and the test suites (statistics.h). */
#include "statistics.h"

#include <math.h>
#include <stdlib.h>

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

stats_summary stats_summarize(size_t n, const double *v)
{
    stats_summary s = {0, 0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s.mean += v[i];
            k++;
        }
    if (k == 0)
        return (stats_summary){NAN, NAN};
    s.mean /= (double)k;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sem = k > 1 ? sqrt(ss / (double)(k - 1) / (double)k) : 0.0;
    return s;
}

double stats_quantile(size_t n, const double *v, double q)
{
    double *w = malloc(n * sizeof *w);
    size_t k = 0;
    if (!w)
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            w[k++] = v[i];
    double r = NAN;
    if (k > 0) {
        qsort(w, k, sizeof *w, compare_double);
        double pos = q * (double)(k - 1);
        size_t i = (size_t)pos;
        r = i + 1 < k ? w[i] + (pos - (double)i) * (w[i + 1] - w[i]) : w[i];
    }
    free(w);
    return r;
}

double stats_sliced_w2_directions(const float *a, const float *b, size_t n, size_t dim, size_t ndirections,
                                  const double *directions, double *stderr_out)
{
    double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    double *w2 = malloc(ndirections * sizeof *w2);
    if (pa == NULL || pb == NULL || w2 == NULL) {
        free(pa);
        free(pb);
        free(w2);
        return NAN;
    }
    double mean = 0.0;
    for (size_t p = 0; p < ndirections; p++) {
        const double *dir = directions + p * dim;
        for (size_t i = 0; i < n; i++) {
            double sa = 0.0, sb = 0.0;
            for (size_t j = 0; j < dim; j++) {
                sa += dir[j] * a[i * dim + j];
                sb += dir[j] * b[i * dim + j];
            }
            pa[i] = sa;
            pb[i] = sb;
        }
        qsort(pa, n, sizeof *pa, compare_double);
        qsort(pb, n, sizeof *pb, compare_double);
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += (pa[i] - pb[i]) * (pa[i] - pb[i]);
        w2[p] = s / (double)n;
        mean += w2[p];
    }
    mean /= (double)ndirections;
    double var = 0.0;
    for (size_t p = 0; p < ndirections; p++)
        var += (w2[p] - mean) * (w2[p] - mean);
    var = ndirections > 1 ? var / (double)(ndirections - 1) : 0.0;
    double result = sqrt(mean);
    if (stderr_out != NULL) /* d sqrt(m) = dm / (2 sqrt(m)) */
        *stderr_out = result > 0.0 ? sqrt(var / (double)ndirections) / (2.0 * result) : 0.0;
    free(pa);
    free(pb);
    free(w2);
    return result;
}

void stats_directions_2d(size_t k, double *directions)
{
    for (size_t i = 0; i < k; i++) {
        double th = 3.14159265358979323846 * (double)i / (double)k;
        directions[2 * i] = cos(th);
        directions[2 * i + 1] = sin(th);
    }
}
