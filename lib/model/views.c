/* The one place where model views are converted (MATH.md §2).
 *
 * Every view is affine in the score at fixed (x, α, σ):
 *   score s;  ε = −σ s;  D = (x + σ² s)/α;  v = α ε − σ D = −(σ/α)(x + (α² + σ²) s).
 * So a conversion is out = c_x · x + c_in · in with coefficients that depend only on (α, σ).
 * They are written out per pair below in closed form (no subtraction of nearly equal
 * numbers), so the double conversion is exact up to a few roundings and a round trip returns
 * the input to within a few ulps. Conversions *from* ε, D or v need σ > 0. */
#include "model_impl.h"

#include <string.h>

/* out = cx · x + cin · in for the pair (from, to) at (α, σ). q = α² + σ². */
static void view_coefficients(pi_view from, pi_view to, double alpha, double sigma, double *cx,
                              double *cin)
{
    double q = alpha * alpha + sigma * sigma;
    double a = 0.0, b = 1.0;
    switch (from) {
    case PI_VIEW_SCORE:
        switch (to) {
        case PI_VIEW_SCORE: a = 0.0; b = 1.0; break;
        case PI_VIEW_EPS: a = 0.0; b = -sigma; break;
        case PI_VIEW_DENOISED: a = 1.0 / alpha; b = sigma * sigma / alpha; break;
        case PI_VIEW_V: a = -sigma / alpha; b = -sigma * q / alpha; break;
        }
        break;
    case PI_VIEW_EPS: /* s = −ε/σ */
        switch (to) {
        case PI_VIEW_SCORE: a = 0.0; b = -1.0 / sigma; break;
        case PI_VIEW_EPS: a = 0.0; b = 1.0; break;
        case PI_VIEW_DENOISED: a = 1.0 / alpha; b = -sigma / alpha; break;
        case PI_VIEW_V: a = -sigma / alpha; b = q / alpha; break;
        }
        break;
    case PI_VIEW_DENOISED: /* s = (α D − x)/σ² */
        switch (to) {
        case PI_VIEW_SCORE: a = -1.0 / (sigma * sigma); b = alpha / (sigma * sigma); break;
        case PI_VIEW_EPS: a = 1.0 / sigma; b = -alpha / sigma; break;
        case PI_VIEW_DENOISED: a = 0.0; b = 1.0; break;
        case PI_VIEW_V: a = alpha / sigma; b = -q / sigma; break;
        }
        break;
    case PI_VIEW_V: /* s = −(α v/σ + x)/q */
        switch (to) {
        case PI_VIEW_SCORE: a = -1.0 / q; b = -alpha / (sigma * q); break;
        case PI_VIEW_EPS: a = sigma / q; b = alpha / q; break;
        case PI_VIEW_DENOISED: a = alpha / q; b = -sigma / q; break;
        case PI_VIEW_V: a = 0.0; b = 1.0; break;
        }
        break;
    }
    *cx = a;
    *cin = b;
}

void pi_view_convert(pi_view from, pi_view to, size_t n, size_t dim, const float *x,
                     const double *alpha, const double *sigma, const float *in, float *out)
{
    if (from == to) {
        if (in != out)
            memmove(out, in, n * dim * sizeof *out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double cx, cin;
        view_coefficients(from, to, alpha[i], sigma[i], &cx, &cin);
        const float *xr = x + i * dim;
        const float *ir = in + i * dim;
        float *orow = out + i * dim;
        for (size_t j = 0; j < dim; j++)
            orow[j] = (float)(cx * xr[j] + cin * ir[j]);
    }
}

void pi_view_convert_d(pi_view from, pi_view to, size_t dim, const double *x, double alpha,
                       double sigma, const double *in, double *out)
{
    if (from == to) {
        if (in != out)
            memmove(out, in, dim * sizeof *out);
        return;
    }
    double cx, cin;
    view_coefficients(from, to, alpha, sigma, &cx, &cin);
    for (size_t j = 0; j < dim; j++)
        out[j] = cx * x[j] + cin * in[j];
}
