/* The sampler handle: creation, options (validated setters, sticky until changed), counters,
 * trajectories and the public run entry points. The run itself is in driver.c. */
#include "sampler_impl.h"

#include "core/options.h"

#include <string.h>

pi_status pi_sampler_create(const pi_model_t *model, pi_sampler_t **out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    if (model->type == NULL || model->dim == 0)
        return pi_fail(PI_EINVAL, "pi_sampler_create: model is not initialised");
    pi_sampler_t *s = pi_calloc(1, sizeof *s);
    if (s == NULL)
        return pi_fail(PI_ENOMEM, "pi_sampler_create: out of memory");
    s->model = model;
    s->sde = &model->sde;
    s->dim = model->dim;
    /* Defaults from the one option table (core/options.c). */
    s->hbar = pi_option_default(PI_OPTION_SAMPLER_HBAR);
    s->method = PI_METHOD_EXP2M;
    s->integrator = pi_integrator_exp2m;
    s->steps = (size_t)pi_option_default(PI_OPTION_SAMPLER_STEPS);
    s->schedule = (pi_schedule)pi_option_default(PI_OPTION_SAMPLER_SCHEDULE);
    s->schedule_param = pi_option_default(PI_OPTION_SAMPLER_KARRAS_RHO);
    s->t_start = s->sde->t_max;
    s->t_end = s->sde->t_min;
    s->seed = (uint64_t)pi_option_default(PI_OPTION_SAMPLER_SEED);
    s->first_row = (uint64_t)pi_option_default(PI_OPTION_SAMPLER_FIRST_ROW);
    s->threads = (int)pi_option_default(PI_OPTION_SAMPLER_THREADS);
    s->denoise_final = (int)pi_option_default(PI_OPTION_SAMPLER_DENOISE_FINAL);
    s->noise = (pi_noise)pi_option_default(PI_OPTION_SAMPLER_NOISE);
    s->rtol = pi_option_default(PI_OPTION_SAMPLER_RTOL);
    s->atol = pi_option_default(PI_OPTION_SAMPLER_ATOL);
    s->corrector_steps = (size_t)pi_option_default(PI_OPTION_SAMPLER_CORRECTOR_STEPS);
    s->corrector_snr = pi_option_default(PI_OPTION_SAMPLER_CORRECTOR_SNR);
    pi_sampler_init_guidance(s);
    atomic_init(&s->cancel, 0);
    atomic_init(&s->running, 0);
    *out = s;
    return PI_OK;
}

void pi_sampler_destroy(pi_sampler_t *sampler)
{
    if (sampler == NULL)
        return;
    pi_sampler_release_workspace(sampler);
    pi_sampler_free_conditions(sampler);
    pi_pool_destroy(sampler->pool);
    pi_free(sampler->custom_times);
    pi_free(sampler);
}

PI_DEFINE_GETTER(pi_sampler_get_model, pi_sampler_t, sampler, const pi_model_t *, sampler->model)
PI_DEFINE_GETTER(pi_sampler_get_hbar, pi_sampler_t, sampler, double, sampler->hbar)
PI_DEFINE_GETTER(pi_sampler_get_method, pi_sampler_t, sampler, pi_method, sampler->method)
PI_DEFINE_GETTER(pi_sampler_get_steps, pi_sampler_t, sampler, size_t, sampler->steps)
PI_DEFINE_GETTER(pi_sampler_get_seed, pi_sampler_t, sampler, uint64_t, sampler->seed)
PI_DEFINE_GETTER(pi_sampler_get_first_row, pi_sampler_t, sampler, uint64_t, sampler->first_row)
PI_DEFINE_GETTER(pi_sampler_get_threads, pi_sampler_t, sampler, int, sampler->threads)
PI_DEFINE_GETTER(pi_sampler_get_denoise_final, pi_sampler_t, sampler, int, sampler->denoise_final)
PI_DEFINE_GETTER(pi_sampler_get_noise, pi_sampler_t, sampler, pi_noise, sampler->noise)

pi_status pi_sampler_get_schedule(const pi_sampler_t *sampler, pi_schedule *schedule, double *rho)
{
    PI_CHECK_NULL(sampler);
    if (schedule != NULL)
        *schedule = sampler->schedule;
    if (rho != NULL)
        *rho = sampler->schedule_param;
    return PI_OK;
}

pi_status pi_sampler_get_time_range(const pi_sampler_t *sampler, double *t_start, double *t_end)
{
    PI_CHECK_NULL(sampler);
    if (t_start != NULL)
        *t_start = sampler->t_start;
    if (t_end != NULL)
        *t_end = sampler->t_end;
    return PI_OK;
}

pi_status pi_sampler_get_tolerances(const pi_sampler_t *sampler, double *rtol, double *atol)
{
    PI_CHECK_NULL(sampler);
    if (rtol != NULL)
        *rtol = sampler->rtol;
    if (atol != NULL)
        *atol = sampler->atol;
    return PI_OK;
}

pi_status pi_sampler_get_corrector(const pi_sampler_t *sampler, size_t *steps, double *snr)
{
    PI_CHECK_NULL(sampler);
    if (steps != NULL)
        *steps = sampler->corrector_steps;
    if (snr != NULL)
        *snr = sampler->corrector_snr;
    return PI_OK;
}

pi_status pi_sampler_get_callback(const pi_sampler_t *sampler, pi_step_fn *fn, void **user_data)
{
    PI_CHECK_NULL(sampler);
    if (fn != NULL)
        *fn = sampler->callback;
    if (user_data != NULL)
        *user_data = sampler->callback_data;
    return PI_OK;
}

pi_status pi_sampler_get_trajectory_settings(const pi_sampler_t *sampler, int *enabled,
                                             size_t *capacity)
{
    PI_CHECK_NULL(sampler);
    if (enabled != NULL)
        *enabled = sampler->record;
    if (capacity != NULL)
        *capacity = sampler->traj_user_capacity;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER(pi_sampler_set_hbar, pi_sampler_t, sampler, double, hbar,
                        pi_option_check, PI_OPTION_SAMPLER_HBAR, sampler->hbar)

pi_status pi_sampler_set_method(pi_sampler_t *sampler, pi_method method)
{
    PI_CHECK_NULL(sampler);
    const struct pi_integrator_type *type = NULL;
    switch (method) {
    case PI_METHOD_EULER: type = pi_integrator_euler; break;
    case PI_METHOD_EXP1: type = pi_integrator_exp1; break;
    case PI_METHOD_EXP2M: type = pi_integrator_exp2m; break;
    case PI_METHOD_HEUN: type = pi_integrator_heun; break;
    case PI_METHOD_RK45: type = pi_integrator_rk45; break;
    case PI_METHOD_EXP3M: type = pi_integrator_exp3m; break;
    case PI_METHOD_IPNDM: type = pi_integrator_ipndm; break;
    case PI_METHOD_SA: type = pi_integrator_sa; break;
    case PI_METHOD_UNIPC: type = pi_integrator_unipc; break;
    }
    if (type == NULL)
        return pi_option_check_int(PI_OPTION_SAMPLER_METHOD, (int)method, __func__);
    sampler->method = method;
    sampler->integrator = type;
    return PI_OK;
}

#define PI_MAX_STEPS ((size_t)1 << 24)

pi_status pi_sampler_set_steps(pi_sampler_t *sampler, size_t steps)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_OPTION(pi_option_check_size, PI_OPTION_SAMPLER_STEPS, steps);
    sampler->steps = steps;
    if (sampler->schedule == PI_SCHEDULE_CUSTOM)
        sampler->schedule = PI_SCHEDULE_UNIFORM_LAMBDA; /* the custom array no longer fits */
    return PI_OK;
}

pi_status pi_sampler_set_schedule(pi_sampler_t *sampler, pi_schedule schedule, double rho)
{
    PI_CHECK_NULL(sampler);
    switch (schedule) {
    case PI_SCHEDULE_UNIFORM_T:
    case PI_SCHEDULE_UNIFORM_LAMBDA:
        break;
    case PI_SCHEDULE_KARRAS:
        PI_CHECK_OPTION(pi_option_check, PI_OPTION_SAMPLER_KARRAS_RHO, rho);
        sampler->schedule_param = rho;
        break;
    case PI_SCHEDULE_CUSTOM:
        if (sampler->custom_times == NULL)
            return pi_fail(PI_EINVAL,
                           "pi_sampler_set_schedule: PI_SCHEDULE_CUSTOM needs an array: call "
                           "pi_sampler_set_times()");
        sampler->steps = sampler->custom_count - 1;
        break;
    default:
        return pi_option_check_int(PI_OPTION_SAMPLER_SCHEDULE, (int)schedule, __func__);
    }
    sampler->schedule = schedule;
    return PI_OK;
}

pi_status pi_sampler_set_times(pi_sampler_t *sampler, const double *times, size_t count)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(times);
    if (count > PI_MAX_STEPS + 1)
        return pi_fail(PI_EINVAL, "pi_sampler_set_times: count must be in [2, %zu], got %zu",
                       PI_MAX_STEPS + 1, count);
    pi_status st = pi_schedule_validate(sampler->sde, times, count, "pi_sampler_set_times");
    if (st != PI_OK)
        return st;
    double *copy = pi_alloc_array(count, sizeof *copy);
    if (copy == NULL)
        return pi_fail(PI_ENOMEM, "pi_sampler_set_times: out of memory");
    memcpy(copy, times, count * sizeof *copy);
    pi_free(sampler->custom_times);
    sampler->custom_times = copy;
    sampler->custom_count = count;
    sampler->steps = count - 1;
    sampler->schedule = PI_SCHEDULE_CUSTOM;
    return PI_OK;
}

pi_status pi_sampler_get_times(const pi_sampler_t *sampler, size_t capacity, double *times,
                               size_t *count)
{
    PI_CHECK_NULL(sampler);
    size_t need = sampler->schedule == PI_SCHEDULE_CUSTOM ? sampler->custom_count
                                                          : sampler->steps + 1;
    if (times == NULL && capacity == 0) {
        PI_CHECK_NULL(count);
        *count = need;
        return PI_OK;
    }
    PI_CHECK_NULL(times);
    if (capacity < need)
        return pi_fail(PI_EINVAL, "pi_sampler_get_times: capacity must be >= %zu (steps + 1), got %zu",
                       need, capacity);
    double t0 = sampler->schedule == PI_SCHEDULE_CUSTOM ? sampler->custom_times[0]
                                                         : sampler->t_start;
    size_t steps;
    pi_status st = pi_sampler_build_times(sampler, t0, times, &steps);
    if (st != PI_OK)
        return st;
    if (count != NULL)
        *count = steps + 1;
    return PI_OK;
}

pi_status pi_sampler_set_time_range(pi_sampler_t *sampler, double t_start, double t_end)
{
    PI_CHECK_NULL(sampler);
    const pi_sde_t *sde = sampler->sde;
    if (!isfinite(t_start) || t_start < sde->t_min || t_start > sde->t_max)
        return pi_fail(PI_EINVAL, "pi_sampler_set_time_range: t_start must be in [%g, %g], got %g",
                       sde->t_min, sde->t_max, t_start);
    if (!isfinite(t_end) || t_end < sde->t_min || !(t_end < t_start))
        return pi_fail(PI_EINVAL,
                       "pi_sampler_set_time_range: t_end must be in [%g, t_start = %g), got %g",
                       sde->t_min, t_start, t_end);
    sampler->t_start = t_start;
    sampler->t_end = t_end;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER(pi_sampler_set_seed, pi_sampler_t, sampler, uint64_t, seed,
                        pi_option_check_u64, PI_OPTION_SAMPLER_SEED, sampler->seed)
/* any value; a run checks first_row + n */
PI_DEFINE_OPTION_SETTER(pi_sampler_set_first_row, pi_sampler_t, sampler, uint64_t, first_row,
                        pi_option_check_u64, PI_OPTION_SAMPLER_FIRST_ROW, sampler->first_row)

PI_DEFINE_OPTION_SETTER(pi_sampler_set_threads, pi_sampler_t, sampler, int, threads,
                        pi_option_check_int, PI_OPTION_SAMPLER_THREADS, sampler->threads)

PI_DEFINE_OPTION_SETTER(pi_sampler_set_noise, pi_sampler_t, sampler, pi_noise, noise,
                        pi_option_check_int, PI_OPTION_SAMPLER_NOISE, sampler->noise)

PI_DEFINE_OPTION_SETTER(pi_sampler_set_denoise_final, pi_sampler_t, sampler, int, enabled,
                        pi_option_check_int, PI_OPTION_SAMPLER_DENOISE_FINAL,
                        sampler->denoise_final)

PI_DEFINE_OPTION_SETTER2(pi_sampler_set_tolerances, pi_sampler_t, sampler,
                         double, rtol, pi_option_check, PI_OPTION_SAMPLER_RTOL, sampler->rtol,
                         double, atol, pi_option_check, PI_OPTION_SAMPLER_ATOL, sampler->atol)

PI_DEFINE_OPTION_SETTER2(pi_sampler_set_corrector, pi_sampler_t, sampler,
                         size_t, steps, pi_option_check_size, PI_OPTION_SAMPLER_CORRECTOR_STEPS,
                         sampler->corrector_steps,
                         double, snr, pi_option_check, PI_OPTION_SAMPLER_CORRECTOR_SNR,
                         sampler->corrector_snr)

/* Guidance (issue 15; the guided evaluation itself is in guidance.c). */

pi_status pi_sampler_set_guidance(pi_sampler_t *sampler, double w)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_SAMPLER_GUIDANCE, w);
    const pi_model_t *m = sampler->model;
    if (w != 1.0 && (!pi_model_is_conditional(m) || !m->unconditional))
        return pi_fail(PI_EINVAL,
                       "%s: guidance w = %g needs a conditional model with an unconditional branch "
                       "(the null condition); this %s model %s (only w = 1 is allowed)",
                       __func__, w, m->type->name,
                       pi_model_is_conditional(m) ? "has no null condition" : "takes no condition");
    sampler->guidance = w;
    return PI_OK;
}

PI_DEFINE_GETTER(pi_sampler_get_guidance, pi_sampler_t, sampler, double, sampler->guidance)
PI_DEFINE_GETTER(pi_sampler_get_guidance_rescale, pi_sampler_t, sampler, double,
                 sampler->guidance_rescale)
PI_DEFINE_GETTER(pi_sampler_get_cfgpp, pi_sampler_t, sampler, int, sampler->cfgpp)

PI_DEFINE_OPTION_SETTER(pi_sampler_set_guidance_rescale, pi_sampler_t, sampler, double, phi,
                        pi_option_check, PI_OPTION_SAMPLER_GUIDANCE_RESCALE,
                        sampler->guidance_rescale)

pi_status pi_sampler_set_guidance_interval(pi_sampler_t *sampler, double sigma_min,
                                           double sigma_max)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN, sigma_min);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX, sigma_max);
    if (!(sigma_min <= sigma_max))
        return pi_fail(PI_EINVAL, "%s: sigma_min must be <= sigma_max, got %g > %g", __func__,
                       sigma_min, sigma_max);
    sampler->guidance_sigma_min = sigma_min;
    sampler->guidance_sigma_max = sigma_max;
    return PI_OK;
}

pi_status pi_sampler_get_guidance_interval(const pi_sampler_t *sampler, double *sigma_min,
                                           double *sigma_max)
{
    PI_CHECK_NULL(sampler);
    if (sigma_min != NULL)
        *sigma_min = sampler->guidance_sigma_min;
    if (sigma_max != NULL)
        *sigma_max = sampler->guidance_sigma_max;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER(pi_sampler_set_cfgpp, pi_sampler_t, sampler, int, enabled,
                        pi_option_check_int, PI_OPTION_SAMPLER_CFGPP, sampler->cfgpp)

pi_status pi_sampler_set_callback(pi_sampler_t *sampler, pi_step_fn fn, void *user_data)
{
    PI_CHECK_NULL(sampler);
    sampler->callback = fn;
    sampler->callback_data = fn != NULL ? user_data : NULL;
    return PI_OK;
}

pi_status pi_sampler_cancel(pi_sampler_t *sampler)
{
    PI_CHECK_NULL(sampler);
    /* Only a running sampler is canceled: a cancel while idle must not stop the next run. */
    if (atomic_load(&sampler->running))
        atomic_store(&sampler->cancel, 1);
    return PI_OK;
}

pi_status pi_sampler_set_trajectory(pi_sampler_t *sampler, int enabled, size_t capacity,
                                    float *x_buf, float *denoised_buf)
{
    PI_CHECK_NULL(sampler);
    if (enabled != 0 && enabled != 1)
        return pi_fail(PI_EINVAL, "pi_sampler_set_trajectory: enabled must be 0 or 1, got %d",
                       enabled);
    if (enabled && (x_buf != NULL || denoised_buf != NULL) && capacity == 0)
        return pi_fail(PI_EINVAL,
                       "pi_sampler_set_trajectory: capacity must be > 0 with caller buffers");
    sampler->record = enabled != 0;
    sampler->traj_x_user = enabled ? x_buf : NULL;
    sampler->traj_d_user = enabled ? denoised_buf : NULL;
    sampler->traj_user_capacity = enabled ? capacity : 0;
    return PI_OK;
}

pi_status pi_sampler_get_trajectory(const pi_sampler_t *sampler, const float **x,
                                    const float **denoised, size_t *npoints)
{
    PI_CHECK_NULL(sampler);
    if (x != NULL)
        *x = sampler->traj_x;
    if (denoised != NULL)
        *denoised = sampler->traj_d;
    if (npoints != NULL)
        *npoints = sampler->traj_points;
    return PI_OK;
}

pi_status pi_sampler_get_stats(const pi_sampler_t *sampler, size_t *nfe, size_t *accepted,
                               size_t *rejected)
{
    PI_CHECK_NULL(sampler);
    if (nfe != NULL)
        *nfe = sampler->nfe;
    if (accepted != NULL)
        *accepted = sampler->accepted;
    if (rejected != NULL)
        *rejected = sampler->rejected;
    return PI_OK;
}

pi_status pi_sampler_run(pi_sampler_t *sampler, size_t n, float *x_out)
{
    PI_CHECK_NULL(sampler);
    double t0 = sampler->schedule == PI_SCHEDULE_CUSTOM ? sampler->custom_times[0]
                                                         : sampler->t_start;
    pi_status st = pi_enter_busy(&sampler->running, __func__, "sampler");
    if (st != PI_OK)
        return st;
    atomic_store(&sampler->cancel, 0);
    st = pi_sampler_execute(sampler, t0, n, x_out, 0);
    atomic_store(&sampler->running, 0);
    atomic_store(&sampler->cancel, 0);
    return st;
}

pi_status pi_sampler_run_from(pi_sampler_t *sampler, double t_start, size_t n, float *x_inout)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(x_inout);
    const pi_sde_t *sde = sampler->sde;
    double t_end = sampler->schedule == PI_SCHEDULE_CUSTOM
                       ? sampler->custom_times[sampler->custom_count - 1]
                       : sampler->t_end;
    if (!isfinite(t_start) || t_start > sde->t_max || !(t_start > t_end))
        return pi_fail(PI_EINVAL,
                       "pi_sampler_run_from: t_start must be in (t_end = %g, t_max = %g], got %g",
                       t_end, sde->t_max, t_start);
    pi_status st = pi_enter_busy(&sampler->running, __func__, "sampler");
    if (st != PI_OK)
        return st;
    atomic_store(&sampler->cancel, 0);
    st = pi_sampler_execute(sampler, t_start, n, x_inout, 1);
    atomic_store(&sampler->running, 0);
    atomic_store(&sampler->cancel, 0);
    return st;
}
