/* Step schedules (MATH.md §3): generators of strictly decreasing time arrays. Integrators only
 * consume such arrays; a custom array is always accepted once validated. */
#include "sampler_impl.h"

#include <math.h>
#include <string.h>

static const char *schedule_name(pi_schedule schedule)
{
    switch (schedule) {
    case PI_SCHEDULE_UNIFORM_T: return "uniform-t";
    case PI_SCHEDULE_KARRAS: return "Karras";
    case PI_SCHEDULE_UNIFORM_LAMBDA: return "uniform-lambda";
    case PI_SCHEDULE_CUSTOM: return "custom";
    }
    return "unknown";
}

/* Check that a generated array is strictly decreasing (the σ̃ ↔ t inverse can merge
 * neighbouring times when steps are absurdly many). */
static pi_status check_decreasing(const double *times, size_t steps, pi_schedule schedule)
{
    for (size_t i = 0; i < steps; i++)
        if (!(times[i + 1] < times[i]) || !isfinite(times[i + 1]))
            return pi_fail(PI_EINVAL,
                           "%s schedule: times[%zu] = %.17g and times[%zu] = %.17g are not strictly "
                           "decreasing (too many steps for this range?)",
                           schedule_name(schedule), i, times[i], i + 1, times[i + 1]);
    return PI_OK;
}

pi_status pi_schedule_fill(const pi_sde_t *sde, pi_schedule schedule, double param,
                           double t_start, double t_end, size_t steps, double *times)
{
    double sig_start, sig_end;
    pi_status st;
    times[0] = t_start;
    times[steps] = t_end;
    switch (schedule) {
    case PI_SCHEDULE_UNIFORM_T:
        for (size_t i = 1; i < steps; i++)
            times[i] = t_start + (t_end - t_start) * ((double)i / (double)steps);
        break;
    case PI_SCHEDULE_KARRAS: {
        double rho = param;
        st = pi_sde_eval_sigma_tilde(sde, t_start, &sig_start);
        if (st == PI_OK)
            st = pi_sde_eval_sigma_tilde(sde, t_end, &sig_end);
        if (st != PI_OK)
            return st;
        double a = pow(sig_start, 1.0 / rho), b = pow(sig_end, 1.0 / rho);
        for (size_t i = 1; i < steps; i++) {
            double sig = pow(a + ((double)i / (double)steps) * (b - a), rho);
            st = pi_sde_invert_sigma_tilde(sde, sig, &times[i]);
            if (st != PI_OK)
                return st;
        }
        break;
    }
    case PI_SCHEDULE_UNIFORM_LAMBDA: {
        st = pi_sde_eval_sigma_tilde(sde, t_start, &sig_start);
        if (st == PI_OK)
            st = pi_sde_eval_sigma_tilde(sde, t_end, &sig_end);
        if (st != PI_OK)
            return st;
        if (!(sig_end > 0.0))
            return pi_fail(PI_EINVAL,
                           "uniform-lambda schedule: the end time %g has sigma_tilde = 0 (lambda = "
                           "inf); use a Karras or uniform-t schedule or an end time with sigma > 0",
                           t_end);
        double l0 = -log(sig_start), l1 = -log(sig_end);
        for (size_t i = 1; i < steps; i++) {
            double lam = l0 + (l1 - l0) * ((double)i / (double)steps);
            st = pi_sde_invert_sigma_tilde(sde, exp(-lam), &times[i]);
            if (st != PI_OK)
                return st;
        }
        break;
    }
    case PI_SCHEDULE_CUSTOM:
        return pi_fail(PI_EINVAL, "pi_schedule_fill: the custom schedule has no generator");
    }
    return check_decreasing(times, steps, schedule);
}

pi_status pi_schedule_validate(const pi_sde_t *sde, const double *times, size_t count,
                               const char *fn)
{
    if (count < 2)
        return pi_fail(PI_EINVAL, "%s: count must be >= 2 (steps + 1), got %zu", fn, count);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(times[i]))
            return pi_fail(PI_EINVAL, "%s: times[%zu] must be finite, got %g", fn, i, times[i]);
        if (times[i] < sde->t_min || times[i] > sde->t_max)
            return pi_fail(PI_EINVAL, "%s: times[%zu] must be in the SDE's range [%g, %g], got %.17g",
                           fn, i, sde->t_min, sde->t_max, times[i]);
        if (i > 0 && !(times[i] < times[i - 1]))
            return pi_fail(PI_EINVAL,
                           "%s: times must be strictly decreasing, got times[%zu] = %.17g >= "
                           "times[%zu] = %.17g",
                           fn, i, times[i], i - 1, times[i - 1]);
    }
    return PI_OK;
}

pi_status pi_sampler_build_times(const pi_sampler_t *s, double t_start, double *times,
                                 size_t *steps_out)
{
    if (s->schedule == PI_SCHEDULE_CUSTOM) {
        /* A run from t_start keeps the custom times below t_start, preceded by t_start. */
        const double *c = s->custom_times;
        size_t count = s->custom_count;
        if (t_start == c[0]) {
            memcpy(times, c, count * sizeof *times);
            *steps_out = count - 1;
            return PI_OK;
        }
        size_t first = 0;
        while (first < count && !(c[first] < t_start))
            first++;
        if (first == count)
            return pi_fail(PI_EINVAL, "t_start = %.17g must be above the custom schedule's end %.17g",
                           t_start, c[count - 1]);
        times[0] = t_start;
        memcpy(times + 1, c + first, (count - first) * sizeof *times);
        *steps_out = count - first;
        return PI_OK;
    }
    if (!(t_start > s->t_end))
        return pi_fail(PI_EINVAL, "t_start = %.17g must be above t_end = %.17g", t_start, s->t_end);
    *steps_out = s->steps;
    return pi_schedule_fill(s->sde, s->schedule, s->schedule_param, t_start, s->t_end, s->steps,
                            times);
}
