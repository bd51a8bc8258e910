/* Dormand–Prince 5(4) with first-same-as-last, local extrapolation and the elementary
 * step-size controller of Hairer, Nørsett & Wanner (Solving ODEs I, II.4 and II.5).
 * Per-point status codes only: the caller (nll.c) writes the message, because the solver runs
 * on worker threads and pi_last_error() is per thread. */
#include "ode_solver.h"

#include <float.h>
#include <string.h>

/* Butcher tableau of DOPRI5. */
static const double C2 = 1.0 / 5.0, C3 = 3.0 / 10.0, C4 = 4.0 / 5.0, C5 = 8.0 / 9.0;
static const double A21 = 1.0 / 5.0;
static const double A31 = 3.0 / 40.0, A32 = 9.0 / 40.0;
static const double A41 = 44.0 / 45.0, A42 = -56.0 / 15.0, A43 = 32.0 / 9.0;
static const double A51 = 19372.0 / 6561.0, A52 = -25360.0 / 2187.0, A53 = 64448.0 / 6561.0,
                    A54 = -212.0 / 729.0;
static const double A61 = 9017.0 / 3168.0, A62 = -355.0 / 33.0, A63 = 46732.0 / 5247.0,
                    A64 = 49.0 / 176.0, A65 = -5103.0 / 18656.0;
static const double A71 = 35.0 / 384.0, A73 = 500.0 / 1113.0, A74 = 125.0 / 192.0,
                    A75 = -2187.0 / 6784.0, A76 = 11.0 / 84.0;
/* Error weights: 5th-order minus embedded 4th-order solution. */
static const double E1 = 71.0 / 57600.0, E3 = -71.0 / 16695.0, E4 = 71.0 / 1920.0,
                    E5 = -17253.0 / 339200.0, E6 = 22.0 / 525.0, E7 = -1.0 / 40.0;

enum { NSTAGE_BUFFERS = 9 }; /* k1..k7, ytmp, ynew */

size_t pi_ode_workspace_doubles(size_t n)
{
    return NSTAGE_BUFFERS * n;
}

/* Weighted RMS norm of v with weights atol + rtol |y|. */
static double scaled_norm(size_t n, const double *v, const double *y, double rtol, double atol)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = v[i] / (atol + rtol * fabs(y[i]));
        acc += w * w;
    }
    return sqrt(acc / (double)(n ? n : 1));
}

static int all_finite(size_t n, const double *v)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Hairer's starting step (II.4): one extra evaluation of the right-hand side. k1 = F(t0, y). */
static pi_status initial_step(pi_ode_rhs_fn rhs, void *ctx, size_t n, double t0, double span,
                              const double *y, const double *k1, double *ytmp, double *k2,
                              const pi_ode_options *o, pi_ode_stats *stats, double *h_out)
{
    double d0 = scaled_norm(n, y, y, o->rtol, o->atol);
    double d1 = scaled_norm(n, k1, y, o->rtol, o->atol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    if (h0 > fabs(span))
        h0 = fabs(span);
    double dir = span > 0.0 ? 1.0 : -1.0;
    for (size_t i = 0; i < n; i++)
        ytmp[i] = y[i] + dir * h0 * k1[i];
    pi_status st = rhs(t0 + dir * h0, ytmp, k2, ctx);
    stats->rhs_evals++;
    if (st != PI_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        ytmp[i] = (k2[i] - k1[i]) / h0;
    double d2 = scaled_norm(n, ytmp, y, o->rtol, o->atol);
    double dmax = d1 > d2 ? d1 : d2;
    double h1 = dmax <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dmax, 0.2);
    double h = fmin(100.0 * h0, h1);
    if (!isfinite(h) || h <= 0.0)
        h = 1e-6;
    *h_out = fmin(h, fabs(span));
    return PI_OK;
}

pi_status pi_ode_solve(pi_ode_rhs_fn rhs, void *ctx, size_t n, double t0, double t1, double *y,
                       const pi_ode_options *o, double *work, pi_ode_stats *stats_out)
{
    pi_ode_stats stats = {0, 0, 0};
    double span = t1 - t0;
    if (span == 0.0 || n == 0)
        return PI_OK;
    double dir = span > 0.0 ? 1.0 : -1.0;
    double *k1 = work, *k2 = work + n, *k3 = work + 2 * n, *k4 = work + 3 * n;
    double *k5 = work + 4 * n, *k6 = work + 5 * n, *k7 = work + 6 * n;
    double *ytmp = work + 7 * n, *ynew = work + 8 * n;

    pi_status st = rhs(t0, y, k1, ctx);
    stats.rhs_evals++;
    double h = 0.0;
    if (st == PI_OK && !all_finite(n, k1))
        st = PI_ENUMERIC;
    if (st == PI_OK) {
        if (o->h0 > 0.0)
            h = fmin(o->h0, fabs(span));
        else
            st = initial_step(rhs, ctx, n, t0, span, y, k1, ytmp, k2, o, &stats, &h);
    }
    double t = t0;
    int last_rejected = 0, last_nonfinite = 0;
    while (st == PI_OK) {
        double remaining = fabs(t1 - t);
        if (remaining <= 0.0)
            break;
        if (stats.accepted + stats.rejected >= o->max_steps) {
            st = PI_ENOCONVERGE;
            break;
        }
        /* Step size underflow: h no longer changes t in double precision. */
        if (h < 16.0 * DBL_EPSILON * fmax(fabs(t), fabs(t1)) && h < remaining) {
            st = last_nonfinite ? PI_ENUMERIC : PI_ENOCONVERGE;
            break;
        }
        int final_step = 0;
        if (h >= remaining || 1.01 * h >= remaining) {
            h = remaining;
            final_step = 1;
        }
        double hs = dir * h;
        for (size_t i = 0; i < n; i++)
            ytmp[i] = y[i] + hs * A21 * k1[i];
        if ((st = rhs(t + C2 * hs, ytmp, k2, ctx)) != PI_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ytmp[i] = y[i] + hs * (A31 * k1[i] + A32 * k2[i]);
        if ((st = rhs(t + C3 * hs, ytmp, k3, ctx)) != PI_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ytmp[i] = y[i] + hs * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
        if ((st = rhs(t + C4 * hs, ytmp, k4, ctx)) != PI_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ytmp[i] = y[i] + hs * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
        if ((st = rhs(t + C5 * hs, ytmp, k5, ctx)) != PI_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ytmp[i] = y[i] + hs * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] +
                                   A65 * k5[i]);
        /* The last stages sit exactly on t + h (avoids t + h rounding past t1). */
        double t_next = final_step ? t1 : t + hs;
        if ((st = rhs(t_next, ytmp, k6, ctx)) != PI_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ynew[i] = y[i] + hs * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] +
                                   A76 * k6[i]);
        if ((st = rhs(t_next, ynew, k7, ctx)) != PI_OK)
            break;
        stats.rhs_evals += 6;
        /* Error estimate, reusing ytmp. */
        double err = 0.0;
        for (size_t i = 0; i < n; i++) {
            double e = hs * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] +
                             E7 * k7[i]);
            double sc = o->atol + o->rtol * fmax(fabs(y[i]), fabs(ynew[i]));
            double w = e / sc;
            err += w * w;
        }
        err = sqrt(err / (double)n);
        if (!isfinite(err) || !all_finite(n, ynew) || !all_finite(n, k7)) {
            stats.rejected++;
            last_rejected = 1;
            last_nonfinite = 1;
            h *= 0.2;
            continue;
        }
        last_nonfinite = 0;
        double fac = err > 0.0 ? 0.9 * pow(err, -0.2) : 10.0;
        if (err <= 1.0) {
            stats.accepted++;
            t = t_next;
            memcpy(y, ynew, n * sizeof *y);
            memcpy(k1, k7, n * sizeof *k1); /* FSAL */
            if (final_step)
                break;
            if (fac > 10.0)
                fac = 10.0;
            if (last_rejected && fac > 1.0)
                fac = 1.0;
            h *= fac;
            last_rejected = 0;
        } else {
            stats.rejected++;
            last_rejected = 1;
            h *= fmax(0.2, fac);
        }
    }
    if (stats_out != NULL) {
        stats_out->accepted += stats.accepted;
        stats_out->rejected += stats.rejected;
        stats_out->rhs_evals += stats.rhs_evals;
    }
    return st;
}
