/* Error norm and step-size control, shared by the evolve loop (evolve.c) and the sampler's
 * batched RK45 (lib/sample/rk_adaptive.c).
 *
 * The controller is the elementary one of Hairer, Nørsett & Wanner (Solving ODEs I, II.4):
 * h_new = h · clamp(0.9 err^(−1/(q+1)), 0.2, 10), no growth right after a rejection. Of the
 * two Dormand–Prince solvers this module replaced, it is the likelihood's (the sampler's
 * clamped growth at 5): the likelihood's NLL, c1 and costs are its calibrated numbers, and a
 * PI controller buys little on the smooth, non-stiff probability-flow ODEs both integrate.
 * The starting step is Hairer's (II.4, one extra evaluation) where the caller gives none; the
 * sampler keeps its own guess (t_start − t_end)/steps, which the user sets through steps. */
#include "ode.h"

#include <float.h>

double pi_ode_error_sumsq(const struct pi_ode_stepper_type *type, size_t n, double h,
                          const double *y, const double *y_new, const double *const *k,
                          double rtol, double atol)
{
    const pi_ode_tableau *tab = type->tableau;
    double ez[PI_ODE_MAX_STAGES];
    const double *kz[PI_ODE_MAX_STAGES];
    int nz = 0;
    for (int j = 0; j < tab->stages; j++) {
        if (tab->e[j] != 0.0) {
            ez[nz] = tab->e[j];
            kz[nz] = k[j];
            nz++;
        }
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double err = 0.0;
        for (int j = 0; j < nz; j++)
            err += ez[j] * kz[j][i];
        err *= h;
        double sc = atol + rtol * fmax(fabs(y[i]), fabs(y_new[i]));
        double w = err / sc;
        sum += w * w;
    }
    return sum;
}

double pi_ode_error_norm(double sumsq, size_t count)
{
    return sqrt(sumsq / (double)(count ? count : 1));
}

pi_status pi_ode_check_tolerances(double rtol, double atol, const char *who)
{
    if (!(rtol > 0.0) || !(rtol < 1.0) || !(atol > 0.0) || !isfinite(atol))
        return pi_fail(PI_EINVAL, "%s: tolerances must satisfy 0 < rtol < 1 and 0 < atol < inf, "
                       "got rtol %g, atol %g", who, rtol, atol);
    return PI_OK;
}

pi_status pi_ode_control_init(pi_ode_control *ctl, const struct pi_ode_stepper_type *type,
                              double rtol, double atol, size_t max_steps, double t0, double t1,
                              double h0)
{
    if (type == NULL || !type->embedded)
        return pi_fail(PI_EINVAL, "ode: step-size control needs an embedded stepper, got %s",
                       type ? type->name : "NULL");
    pi_status st = pi_ode_check_tolerances(rtol, atol, "ode");
    if (st != PI_OK)
        return st;
    if (max_steps < 1)
        return pi_fail(PI_EINVAL, "ode: max_steps must be >= 1, got %zu", max_steps);
    if (!isfinite(t0) || !isfinite(t1) || !(h0 > 0.0) || !isfinite(h0))
        return pi_fail(PI_EINVAL, "ode: need finite t0, t1 and a finite initial step > 0, got "
                       "t0 %g, t1 %g, h0 %g", t0, t1, h0);
    int q = type->order < type->error_order ? type->order : type->error_order;
    ctl->type = type;
    ctl->rtol = rtol;
    ctl->atol = atol;
    ctl->max_steps = max_steps;
    ctl->t = t0;
    ctl->t1 = t1;
    ctl->h = h0;
    ctl->h_wanted = h0;
    ctl->exponent = 1.0 / (double)(q + 1);
    ctl->last_rejected = 0;
    ctl->last_nonfinite = 0;
    ctl->shortened = 0;
    ctl->accepted = 0;
    ctl->rejected = 0;
    return PI_OK;
}

pi_status pi_ode_control_next(pi_ode_control *ctl, double *h_signed, double *t_next, int *final)
{
    double t = ctl->t, t1 = ctl->t1, h = ctl->h;
    double remaining = fabs(t1 - t);
    if (ctl->accepted + ctl->rejected >= ctl->max_steps)
        return pi_fail(PI_ENOCONVERGE, "ode (%s): no convergence after %zu steps (max_steps) at "
                       "t = %.17g on the way to %.17g", ctl->type->name, ctl->max_steps, t, t1);
    /* Step-size underflow: h no longer changes t in double precision. */
    if (h < 16.0 * DBL_EPSILON * fmax(fabs(t), fabs(t1)) && h < remaining) {
        if (ctl->last_nonfinite)
            return pi_fail(PI_ENUMERIC, "ode (%s): the state or its derivative is not finite "
                           "at t = %.17g for every step size down to %g", ctl->type->name, t, h);
        return pi_fail(PI_ENOCONVERGE, "ode (%s): step size underflow (h = %g) at t = %.17g",
                       ctl->type->name, h, t);
    }
    ctl->h_wanted = h;
    ctl->shortened = 0;
    *final = 0;
    if (h >= remaining || 1.01 * h >= remaining) {
        ctl->shortened = h > remaining;
        h = remaining;
        ctl->h = h;
        *final = 1;
    }
    double dir = t1 > t ? 1.0 : -1.0;
    *h_signed = dir * h;
    *t_next = *final ? t1 : t + dir * h;
    return PI_OK;
}

void pi_ode_control_judge(pi_ode_control *ctl, double err, double t_next, int *accept)
{
    if (!isfinite(err)) {
        ctl->rejected++;
        ctl->last_rejected = 1;
        ctl->last_nonfinite = 1;
        ctl->h *= PI_ODE_FAC_MIN;
        *accept = 0;
        return;
    }
    ctl->last_nonfinite = 0;
    double fac = err > 0.0 ? PI_ODE_SAFETY * pow(err, -ctl->exponent) : PI_ODE_FAC_MAX;
    if (err <= 1.0) {
        ctl->accepted++;
        ctl->t = t_next;
        if (fac > PI_ODE_FAC_MAX)
            fac = PI_ODE_FAC_MAX;
        if (ctl->last_rejected && fac > 1.0)
            fac = 1.0;
        /* A step cut short to land on the end (an output time) says nothing about the step
         * size: resume with the one planned before the cut (as GSL's evolve does). */
        ctl->h = ctl->shortened ? ctl->h_wanted : ctl->h * fac;
        ctl->last_rejected = 0;
        *accept = 1;
    } else {
        ctl->rejected++;
        ctl->last_rejected = 1;
        ctl->h *= fmax(PI_ODE_FAC_MIN, fac);
        *accept = 0;
    }
}

double pi_ode_weighted_norm(size_t n, const double *v, const double *y, double rtol, double atol)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = v[i] / (atol + rtol * fabs(y[i]));
        acc += w * w;
    }
    return sqrt(acc / (double)(n ? n : 1));
}

double pi_ode_initial_guess(double d0, double d1, double span)
{
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    return fmin(h0, fabs(span));
}

double pi_ode_initial_step(const struct pi_ode_stepper_type *type, double h0, double d1,
                           double d2, double span)
{
    double dmax = d1 > d2 ? d1 : d2;
    double h1 = dmax <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dmax, 1.0 / type->order);
    double h = fmin(100.0 * h0, h1);
    if (!isfinite(h) || h <= 0.0)
        h = 1e-6;
    return fmin(h, fabs(span));
}
