/* Discrete-time SDEs from ᾱ tables and the β schedules hosts train with, the hosts' timestep
 * conventions (training step τ, timestep spacing) and the flow-matching time shifts
 * (docs/samplers.md, "Discrete-time and flow-matching models"). */
#include "sde_impl.h"

#include <string.h>

#define PI_DISCRETE_MAX_N ((size_t)1 << 20)
#define PI_RF_TIMESTEPS 1000.0 /* SD3/Flux pipelines pass 1000 σ as the timestep */

static pi_status check_table(const double *a, size_t n, const char *fn)
{
    if (n < 2 || n > PI_DISCRETE_MAX_N)
        return pi_fail(PI_EINVAL, "%s: need 2 <= n <= 2^20 table entries, got %zu", fn, n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return pi_fail(PI_EINVAL, "%s: alphas_cumprod[%zu] must be finite, got %g", fn, i, a[i]);
        int last = i + 1 == n;
        if (!(a[i] < 1.0) || !(a[i] > 0.0 || (last && a[i] == 0.0)))
            return pi_fail(PI_EINVAL,
                           "%s: alphas_cumprod[%zu] = %.17g must be in (0, 1) (the last may be 0: "
                           "zero terminal SNR)",
                           fn, i, a[i]);
        if (i > 0 && !(a[i] < a[i - 1]))
            return pi_fail(PI_EINVAL,
                           "%s: alphas_cumprod must be strictly decreasing, got [%zu] = %.17g >= "
                           "[%zu] = %.17g",
                           fn, i, a[i], i - 1, a[i - 1]);
    }
    return PI_OK;
}

/* Takes ownership of block (3n doubles, ᾱ in the first n) on success and failure. */
static pi_status make_discrete(double *block, size_t n, pi_sde_t **out)
{
    pi_sde_t *s = pi_calloc(1, sizeof *s);
    if (s == NULL) {
        pi_free(block);
        return pi_fail(PI_ENOMEM, "out of memory creating an SDE");
    }
    pi_sde_init_defaults(s, PI_SDE_KIND_DISCRETE);
    s->discrete = block;
    s->discrete_n = n;
    s->t_min = 1.0 / (double)n;
    s->t_max = 1.0;
    pi_sde_discrete_build(s);
    *out = s;
    return PI_OK;
}

pi_status pi_sde_create_discrete(const double *alphas_cumprod, size_t n, pi_sde_t **out)
{
    PI_CHECK_NULL(alphas_cumprod);
    PI_CHECK_NULL(out);
    pi_status st = check_table(alphas_cumprod, n, __func__);
    if (st != PI_OK)
        return st;
    double *block = pi_alloc_array(3 * n, sizeof *block);
    if (block == NULL)
        return pi_fail(PI_ENOMEM, "pi_sde_create_discrete: out of memory for %zu entries", n);
    memcpy(block, alphas_cumprod, n * sizeof *block);
    return make_discrete(block, n, out);
}

/* ᾱ of Nichol & Dhariwal's cosine schedule at u ∈ [0, 1] (diffusers' betas_for_alpha_bar). */
static double cosine_alpha_bar(double u)
{
    double c = cos((u + 0.008) / 1.008 * 1.5707963267948966192313216916398);
    return c * c;
}

pi_status pi_sde_create_beta_schedule(pi_beta_schedule schedule, size_t n, double beta_start,
                                      double beta_end, unsigned flags, pi_sde_t **out)
{
    PI_CHECK_NULL(out);
    const char *fn = __func__;
    if (schedule < PI_BETA_SCHEDULE_LINEAR || schedule > PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2)
        return pi_fail(PI_EINVAL, "%s: schedule must be PI_BETA_SCHEDULE_LINEAR, _SCALED_LINEAR or "
                                  "_SQUAREDCOS_CAP_V2 (1..3), got %d", fn, (int)schedule);
    if (n < 2 || n > PI_DISCRETE_MAX_N)
        return pi_fail(PI_EINVAL, "%s: need 2 <= n <= 2^20 training steps, got %zu", fn, n);
    if ((flags & ~PI_BETA_FLAG_ZERO_TERMINAL_SNR) != 0)
        return pi_fail(PI_EINVAL, "%s: unknown flags 0x%x (only PI_BETA_FLAG_ZERO_TERMINAL_SNR)", fn,
                       flags);
    if (schedule != PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2
        && (!isfinite(beta_start) || !isfinite(beta_end) || !(beta_start > 0.0)
            || !(beta_start <= beta_end) || !(beta_end < 1.0)))
        return pi_fail(PI_EINVAL, "%s: need finite 0 < beta_start <= beta_end < 1, got %g, %g", fn,
                       beta_start, beta_end);
    double *block = pi_alloc_array(3 * n, sizeof *block);
    if (block == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu entries", fn, n);
    double *a = block;
    /* log ᾱ accumulated as a sum of log1p(−β): no drift over 1000 products. */
    double log_abar = 0.0, dn = (double)(n - 1);
    for (size_t i = 0; i < n; i++) {
        double beta, u = (double)i / dn;
        switch (schedule) {
        case PI_BETA_SCHEDULE_LINEAR: beta = beta_start + u * (beta_end - beta_start); break;
        case PI_BETA_SCHEDULE_SCALED_LINEAR: {
            double r = sqrt(beta_start) + u * (sqrt(beta_end) - sqrt(beta_start));
            beta = r * r;
            break;
        }
        default: {
            double t1 = (double)i / (double)n, t2 = (double)(i + 1) / (double)n;
            beta = 1.0 - cosine_alpha_bar(t2) / cosine_alpha_bar(t1);
            if (beta > 0.999)
                beta = 0.999;
            break;
        }
        }
        log_abar += log1p(-beta);
        a[i] = exp(log_abar);
    }
    if (flags & PI_BETA_FLAG_ZERO_TERMINAL_SNR) {
        /* diffusers' rescale_zero_terminal_snr: √ᾱ ← (√ᾱ − √ᾱ_T) · √ᾱ_0 / (√ᾱ_0 − √ᾱ_T). */
        double s0 = sqrt(a[0]), st = sqrt(a[n - 1]);
        for (size_t i = 0; i < n; i++) {
            double r = (sqrt(a[i]) - st) * s0 / (s0 - st);
            a[i] = r * r;
        }
        a[n - 1] = 0.0;
    }
    pi_status st = check_table(a, n, fn);
    if (st != PI_OK) {
        pi_free(block);
        return st;
    }
    return make_discrete(block, n, out);
}

pi_status pi_sde_get_alphas_cumprod(const pi_sde_t *sde, size_t capacity, double *alphas_cumprod,
                                    size_t *count)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(count);
    if (sde->kind != PI_SDE_KIND_DISCRETE)
        return pi_fail(PI_EINVAL, "pi_sde_get_alphas_cumprod: sde must be a discrete SDE, got kind %d",
                       (int)sde->kind);
    if (alphas_cumprod != NULL && capacity < sde->discrete_n)
        return pi_fail(PI_EINVAL, "pi_sde_get_alphas_cumprod: capacity must be >= %zu, got %zu",
                       sde->discrete_n, capacity);
    if (alphas_cumprod != NULL)
        memcpy(alphas_cumprod, sde->discrete, sde->discrete_n * sizeof(double));
    *count = sde->discrete_n;
    return PI_OK;
}

/* τ = scale · t + offset for the kinds that have a host timestep. */
static pi_status timestep_map(const pi_sde_t *sde, const char *fn, double *scale, double *offset)
{
    switch (sde->kind) {
    case PI_SDE_KIND_DISCRETE:
        *scale = (double)sde->discrete_n;
        *offset = -1.0;
        return PI_OK;
    case PI_SDE_KIND_RECTIFIED_FLOW:
        *scale = PI_RF_TIMESTEPS;
        *offset = 0.0;
        return PI_OK;
    default:
        return pi_fail(PI_EINVAL, "%s: sde must be discrete or rectified flow (the kinds with a host timestep), "
                                  "got kind %d", fn, (int)sde->kind);
    }
}

pi_status pi_sde_timestep_from_time(const pi_sde_t *sde, double t, double *timestep)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(timestep);
    double scale = 1.0, offset = 0.0;
    pi_status st = timestep_map(sde, __func__, &scale, &offset);
    if (st != PI_OK)
        return st;
    if (!isfinite(t) || t < 0.0 || t > sde->t_max)
        return pi_fail(PI_EINVAL, "%s: t must be in [0, %g] (the SDE's range), got %g", __func__,
                       sde->t_max, t);
    *timestep = scale * t + offset;
    return PI_OK;
}

pi_status pi_sde_time_from_timestep(const pi_sde_t *sde, double timestep, double *t)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(t);
    double scale = 1.0, offset = 0.0;
    pi_status st = timestep_map(sde, __func__, &scale, &offset);
    if (st != PI_OK)
        return st;
    double value = (timestep - offset) / scale;
    if (!isfinite(timestep) || value < 0.0 || value > sde->t_max)
        return pi_fail(PI_EINVAL,
                       "%s: timestep %g maps to t = %g, outside the SDE's range [0, %g] (timesteps "
                       "%g to %g)",
                       __func__, timestep, value, sde->t_max, offset, scale * sde->t_max + offset);
    *t = value;
    return PI_OK;
}

pi_status pi_sde_discrete_times(const pi_sde_t *sde, pi_timestep_spacing spacing, size_t steps,
                                size_t steps_offset, size_t capacity, double *times, size_t *count)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(times);
    PI_CHECK_NULL(count);
    const char *fn = __func__;
    if (sde->kind != PI_SDE_KIND_DISCRETE)
        return pi_fail(PI_EINVAL, "%s: sde must be a discrete SDE, got kind %d", fn, (int)sde->kind);
    size_t n = sde->discrete_n;
    if (spacing < PI_TIMESTEP_SPACING_LEADING || spacing > PI_TIMESTEP_SPACING_LINSPACE)
        return pi_fail(PI_EINVAL, "%s: spacing must be PI_TIMESTEP_SPACING_LEADING, _TRAILING or "
                                  "_LINSPACE (1..3), got %d", fn, (int)spacing);
    if (steps < 1 || steps > n)
        return pi_fail(PI_EINVAL, "%s: steps must be in [1, %zu] (the table's length), got %zu", fn,
                       n, steps);
    if (steps_offset != 0 && spacing != PI_TIMESTEP_SPACING_LEADING)
        return pi_fail(PI_EINVAL, "%s: steps_offset applies to leading spacing only, got %zu", fn,
                       steps_offset);
    if (capacity < steps + 1)
        return pi_fail(PI_EINVAL, "%s: capacity must be >= steps + 1 = %zu, got %zu", fn, steps + 1,
                       capacity);
    /* Two passes: check every τ and time, then write. Rounding is half-to-even (nearbyint), as
     * numpy's round in diffusers' set_timesteps. */
    double big_n = (double)n, ratio = big_n / (double)steps;
    for (int pass = 0; pass < 2; pass++) {
        double prev = INFINITY;
        for (size_t k = 0; k < steps; k++) {
            double tau;
            if (spacing == PI_TIMESTEP_SPACING_LEADING)
                tau = (double)((steps - 1 - k) * (n / steps) + steps_offset);
            else if (spacing == PI_TIMESTEP_SPACING_TRAILING)
                tau = nearbyint(big_n - (double)k * ratio) - 1.0;
            else
                tau = steps == 1 ? big_n - 1.0
                                 : nearbyint((big_n - 1.0) * (double)(steps - 1 - k)
                                             / (double)(steps - 1));
            if (tau < 0.0 || tau > big_n - 1.0)
                return pi_fail(PI_EINVAL, "%s: timestep %g does not fit the table (0 .. %zu)", fn,
                               tau, n - 1);
            if (!(tau < prev))
                return pi_fail(PI_EINVAL, "%s: timesteps are not strictly decreasing at %zu (%g)",
                               fn, k, tau);
            double t = (tau + 1.0) / big_n;
            if (t < sde->t_min || t > sde->t_max)
                return pi_fail(PI_EINVAL,
                               "%s: timestep %g gives t = %g, outside the SDE's range [%g, %g]", fn,
                               tau, t, sde->t_min, sde->t_max);
            if (pass == 1)
                times[k] = t;
            prev = tau;
        }
        size_t written = steps;
        if (prev > 0.0) { /* the final step to τ = 0 */
            double t = 1.0 / big_n;
            if (t < sde->t_min)
                return pi_fail(PI_EINVAL, "%s: the final time 1/N = %g is below t_min = %g", fn, t,
                               sde->t_min);
            if (pass == 1)
                times[steps] = t;
            written = steps + 1;
        }
        if (pass == 1)
            *count = written;
    }
    return PI_OK;
}

/* σ̃ ↦ s σ̃ for one time, clamped to t_max. */
static pi_status shift_one(const pi_sde_t *sde, double shift, double t, double top, double *out)
{
    if (t == 0.0) {
        *out = 0.0;
        return PI_OK;
    }
    double sig;
    pi_status st = pi_sde_eval_sigma_tilde(sde, t, &sig);
    if (st != PI_OK)
        return st;
    double target = shift * sig;
    if (!(target < top)) {
        *out = sde->t_max;
        return PI_OK;
    }
    return pi_sde_invert_sigma_tilde(sde, target, out);
}

pi_status pi_sde_shift_times(const pi_sde_t *sde, double shift, size_t count, double *times)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(times);
    const char *fn = __func__;
    if (!isfinite(shift) || !(shift > 0.0))
        return pi_fail(PI_EINVAL, "%s: shift must be finite and > 0, got %g", fn, shift);
    if (count < 1)
        return pi_fail(PI_EINVAL, "%s: count must be >= 1, got %zu", fn, count);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(times[i]) || times[i] < 0.0 || times[i] > sde->t_max)
            return pi_fail(PI_EINVAL, "%s: times[%zu] must be in [0, %g] (the SDE's range), got %g",
                           fn, i, sde->t_max, times[i]);
        if (i > 0 && !(times[i] < times[i - 1]))
            return pi_fail(PI_EINVAL, "%s: times must be strictly decreasing, got [%zu] = %.17g >= "
                                      "[%zu] = %.17g", fn, i, times[i], i - 1, times[i - 1]);
    }
    double top;
    pi_status st = pi_sde_eval_sigma_tilde(sde, sde->t_max, &top);
    if (st != PI_OK)
        return st;
    double prev = INFINITY;
    for (size_t i = 0; i < count; i++) { /* check pass: nothing written on failure */
        double t;
        st = shift_one(sde, shift, times[i], top, &t);
        if (st != PI_OK)
            return st;
        if (!(t < prev))
            return pi_fail(PI_EINVAL,
                           "%s: shifted times[%zu] = %.17g is not below times[%zu] = %.17g (several "
                           "times reach t_max = %g after the shift %g)",
                           fn, i, t, i - 1, prev, sde->t_max, shift);
        prev = t;
    }
    for (size_t i = 0; i < count; i++)
        (void)shift_one(sde, shift, times[i], top, &times[i]);
    return PI_OK;
}

pi_status pi_shift_from_sequence_length(double seq_len, double base_seq_len, double max_seq_len,
                                        double base_shift, double max_shift, double *shift)
{
    PI_CHECK_NULL(shift);
    if (!isfinite(seq_len) || !isfinite(base_seq_len) || !isfinite(max_seq_len) || !(seq_len > 0.0)
        || !(base_seq_len > 0.0) || !(max_seq_len > 0.0) || base_seq_len == max_seq_len)
        return pi_fail(PI_EINVAL, "pi_shift_from_sequence_length: need finite lengths > 0 with "
                                  "base_seq_len != max_seq_len, got %g, %g, %g",
                       seq_len, base_seq_len, max_seq_len);
    if (!isfinite(base_shift) || !isfinite(max_shift))
        return pi_fail(PI_EINVAL, "pi_shift_from_sequence_length: shifts must be finite, got %g, %g",
                       base_shift, max_shift);
    /* diffusers' calculate_shift: μ = m L + b through the two points. */
    double m = (max_shift - base_shift) / (max_seq_len - base_seq_len);
    double mu = base_shift + m * (seq_len - base_seq_len);
    double s = exp(mu);
    if (!isfinite(s) || !(s > 0.0))
        return pi_fail(PI_EINVAL, "pi_shift_from_sequence_length: e^mu = %g is not a usable shift "
                                  "(mu = %g)", s, mu);
    *shift = s;
    return PI_OK;
}
