/* The one place where model views are converted (MATH.md §2).
 *
 * Every view is affine in the score at fixed (x, α, σ):
 *   score s;  ε = −σ s;  D = (x + σ² s)/α;  v = α ε − σ D = −(σ/α)(x + (α² + σ²) s).
 * So a conversion is out = c_x · x + c_in · in with coefficients that depend only on (α, σ).
 * They are written out per pair below in closed form (no subtraction of nearly equal
 * numbers), so the double conversion is exact up to a few roundings and a round trip returns
 * the input to within a few ulps. Conversions *from* ε, D or v need σ > 0.
 *
 * The flow view u = α' D + σ' ε (the velocity of the conditional interpolant α x0 + σ ε) is
 * u = f x − ½ g² s (since σ' − fσ = g²/(2σ)), the probability-flow drift: it needs f and g²
 * as well and goes through the score, s = (2f/g²) x − (2/g²) u (needs g² > 0). */
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
        default: break;
        }
        break;
    case PI_VIEW_EPS: /* s = −ε/σ */
        switch (to) {
        case PI_VIEW_SCORE: a = 0.0; b = -1.0 / sigma; break;
        case PI_VIEW_EPS: a = 0.0; b = 1.0; break;
        case PI_VIEW_DENOISED: a = 1.0 / alpha; b = -sigma / alpha; break;
        case PI_VIEW_V: a = -sigma / alpha; b = q / alpha; break;
        default: break;
        }
        break;
    case PI_VIEW_DENOISED: /* s = (α D − x)/σ² */
        switch (to) {
        case PI_VIEW_SCORE: a = -1.0 / (sigma * sigma); b = alpha / (sigma * sigma); break;
        case PI_VIEW_EPS: a = 1.0 / sigma; b = -alpha / sigma; break;
        case PI_VIEW_DENOISED: a = 0.0; b = 1.0; break;
        case PI_VIEW_V: a = alpha / sigma; b = -q / sigma; break;
        default: break;
        }
        break;
    case PI_VIEW_V: /* s = −(α v/σ + x)/q */
        switch (to) {
        case PI_VIEW_SCORE: a = -1.0 / q; b = -alpha / (sigma * q); break;
        case PI_VIEW_EPS: a = sigma / q; b = alpha / q; break;
        case PI_VIEW_DENOISED: a = alpha / q; b = -sigma / q; break;
        case PI_VIEW_V: a = 0.0; b = 1.0; break;
        default: break;
        }
        break;
    default: break;
    }
    *cx = a;
    *cin = b;
}

/* Pairs with the flow view, composed through the score. */
static void point_coefficients(pi_view from, pi_view to, const pi_sde_point *p, double *cx,
                               double *cin)
{
    if (from != PI_VIEW_FLOW && to != PI_VIEW_FLOW) {
        view_coefficients(from, to, p->alpha, p->sigma, cx, cin);
        return;
    }
    if (from == to) {
        *cx = 0.0;
        *cin = 1.0;
        return;
    }
    double a1, b1; /* s = a1 x + b1 in */
    if (from == PI_VIEW_FLOW) {
        a1 = 2.0 * p->f / p->g2;
        b1 = -2.0 / p->g2;
    } else {
        view_coefficients(from, PI_VIEW_SCORE, p->alpha, p->sigma, &a1, &b1);
    }
    double a2, b2; /* out = a2 x + b2 s */
    if (to == PI_VIEW_FLOW) {
        a2 = p->f;
        b2 = -0.5 * p->g2;
    } else {
        view_coefficients(PI_VIEW_SCORE, to, p->alpha, p->sigma, &a2, &b2);
    }
    *cx = a2 + b2 * a1;
    *cin = b2 * b1;
}

void pi_view_convert_at(pi_view from, pi_view to, size_t n, size_t dim, const float *x,
                        const pi_sde_point *p, const float *in, float *out)
{
    if (from == to) {
        if (in != out)
            memmove(out, in, n * dim * sizeof *out);
        return;
    }
    double cx, cin;
    point_coefficients(from, to, p, &cx, &cin);
    for (size_t j = 0; j < n * dim; j++)
        out[j] = (float)(cx * x[j] + cin * in[j]);
}

void pi_view_convert_at_d(pi_view from, pi_view to, size_t dim, const double *x,
                          const pi_sde_point *p, const double *in, double *out)
{
    if (from == to) {
        if (in != out)
            memmove(out, in, dim * sizeof *out);
        return;
    }
    double cx, cin;
    point_coefficients(from, to, p, &cx, &cin);
    for (size_t j = 0; j < dim; j++)
        out[j] = cx * x[j] + cin * in[j];
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
