/* Bad input, table-driven (issue 9): every public function called with NULL, zero, huge, NaN
 * and Inf arguments (and out-of-range enums) must return the documented status code, leave
 * its out-parameters untouched, and pi_last_error() must name the offending argument.
 *
 * Each row: a label, the accepted status code(s), the argument name(s) the message must
 * mention ("a|b" = either), and the call. The calls run against a fixture of valid objects,
 * so each row breaks exactly one argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pathint.h"

/* An existing file with an unknown extension (created by main). */
static char bad_ext_path[64];

/* Rows that fail because of a reported library bug: printed, not counted (see the report of
 * issue 9). Remove a label once its bug is fixed. */
static const char *const known_bugs[] = {
    "", /* none open; a label goes here while its bug is open */
};

typedef struct fx {
    pi_sde_t *sde;
    pi_model_t *gmm, *mlp, *emp, *cb;
    pi_sampler_t *s;
    pi_likelihood_t *lik;
    pi_trainer_t *tr;
    pi_trainer_t *o_trainer;
    double w[2], mu[4], var[4];
    double w_nan[2], w_neg[2], mu_inf[4], var_neg[4], var_nan[4];
    float x[8], x_nan[8], x_inf[8];
    double t[4], t_nan[4], t_inf[4], t_big[4];
    float out[8];
    double dout[8];
    double times_up[3], times_nan[3], times_wide[3];
    float data[16];
    /* out-parameter sentinels: must stay untouched by failing calls */
    pi_sde_t *o_sde;
    pi_model_t *o_model;
    pi_sampler_t *o_sampler;
    pi_likelihood_t *o_lik;
    size_t o_size;
    double o_d;
    float *o_fp;
    /* getter outputs (the NULL-handle cases must leave them alone too) */
    int o_i;
    pi_noise o_noise;
    uint64_t o_u;
    const pi_model_t *o_cmodel;
    pi_model_t *o_model2;
    void *o_vp;
    pi_method o_method;
    pi_schedule o_sched;
    pi_divergence o_div;
    pi_wkb_algorithm o_wkb;
    pi_view o_view;
    pi_embedding o_emb;
    pi_precond o_pre;
    pi_lr_schedule o_lrs;
    pi_weighting o_weighting;
    pi_time_sampling o_ts;
    pi_step_fn o_stepfn;
    pi_likelihood_fn o_likfn;
    pi_train_fn o_trfn;
    int32_t labels[4]; /* issue 15 */
    float mask[8];
} fx;

#define SENT_PTR ((void *)0x5e5e5e5e)
#define HUGE_N ((size_t)-1)
#define VP PI_SDE_KIND_VP_LINEAR

static int marginal_ok(double t, double *a, double *s, double *da, double *ds, void *u)
{
    (void)u;
    *a = exp(-t);
    *s = sqrt(1 - exp(-2 * t));
    *da = -exp(-t);
    *ds = exp(-2 * t) / *s;
    return 0;
}

static int cond_fn(size_t n, size_t dim, const float *x, const double *t, const int32_t *labels,
                   size_t cond_dim, const float *cond, void *const *row_data, float *out, void *u)
{
    (void)t, (void)labels, (void)cond_dim, (void)cond, (void)row_data, (void)u;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

/* issue 18: a derivative callback for the argument checks (never called) */
static int deriv_fn(pi_derivative kind, size_t n, size_t dim, const double *x, const double *t,
                    const double *a, const double *b, const double *c, double *out, void *u)
{
    (void)kind, (void)n, (void)dim, (void)x, (void)t, (void)a, (void)b, (void)c, (void)out, (void)u;
    return 1;
}

static int model_fn(size_t n, size_t dim, const float *x, const double *t, float *out, void *u)
{
    (void)t;
    (void)u;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

/* Issue 14: discrete ᾱ tables, host timesteps, shifts (f->sde is VP linear, not discrete). */
#define CASES_ISSUE14(X)                                                                         \
    X(sde_discrete_null, PI_EINVAL, 1, "alphas_cumprod", pi_sde_create_discrete(NULL, 3, &f->o_sde)) \
    X(sde_discrete_n1, PI_EINVAL, 1, "n", pi_sde_create_discrete(f->w, 1, &f->o_sde))              \
    X(sde_discrete_nan, PI_EINVAL, 1, "alphas_cumprod", pi_sde_create_discrete(f->w_nan, 2, &f->o_sde)) \
    X(sde_discrete_rising, PI_EINVAL, 1, "alphas_cumprod",                                       \
      pi_sde_create_discrete(f->w, 2, &f->o_sde))                                                \
    X(sde_discrete_null_out, PI_EINVAL, 1, "out", pi_sde_create_discrete(f->w, 2, NULL))         \
    X(sde_beta_kind0, PI_EINVAL, 1, "schedule",                                                  \
      pi_sde_create_beta_schedule((pi_beta_schedule)0, 1000, 1e-4, 0.02, 0, &f->o_sde))          \
    X(sde_beta_n1, PI_EINVAL, 1, "n",                                                            \
      pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1, 1e-4, 0.02, 0, &f->o_sde))         \
    X(sde_beta_start_nan, PI_EINVAL, 1, "beta_start",                                            \
      pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, NAN, 0.02, 0, &f->o_sde))       \
    X(sde_beta_end_one, PI_EINVAL, 1, "beta_end",                                                \
      pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 1e-4, 1.0, 0, &f->o_sde)) \
    X(sde_beta_flags, PI_EINVAL, 1, "flags",                                                     \
      pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 1e-4, 0.02, 8u, &f->o_sde))     \
    X(sde_beta_null_out, PI_EINVAL, 1, "out",                                                    \
      pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_LINEAR, 1000, 1e-4, 0.02, 0, NULL))           \
    X(sde_abar_not_discrete, PI_EINVAL, 1, "sde", pi_sde_get_alphas_cumprod(f->sde, 0, NULL, &f->o_size)) \
    X(sde_abar_null, PI_EINVAL, 1, "sde", pi_sde_get_alphas_cumprod(NULL, 0, NULL, &f->o_size))  \
    X(sde_abar_null_count, PI_EINVAL, 1, "count", pi_sde_get_alphas_cumprod(f->sde, 0, NULL, NULL)) \
    X(sde_timestep_vp, PI_EINVAL, 1, "sde", pi_sde_timestep_from_time(f->sde, 0.5, &f->o_d))     \
    X(sde_timestep_null_out, PI_EINVAL, 1, "timestep", pi_sde_timestep_from_time(f->sde, 0.5, NULL)) \
    X(sde_from_timestep_vp, PI_EINVAL, 1, "sde", pi_sde_time_from_timestep(f->sde, 10.0, &f->o_d)) \
    X(sde_from_timestep_null, PI_EINVAL, 1, "sde", pi_sde_time_from_timestep(NULL, 10.0, &f->o_d)) \
    X(sde_spacing_vp, PI_EINVAL, 1, "sde",                                                       \
      pi_sde_discrete_times(f->sde, PI_TIMESTEP_SPACING_LEADING, 2, 0, 3, f->dout, &f->o_size))  \
    X(sde_spacing_null_times, PI_EINVAL, 1, "times",                                             \
      pi_sde_discrete_times(f->sde, PI_TIMESTEP_SPACING_LEADING, 2, 0, 3, NULL, &f->o_size))     \
    X(sde_spacing_null_count, PI_EINVAL, 1, "count",                                             \
      pi_sde_discrete_times(f->sde, PI_TIMESTEP_SPACING_LEADING, 2, 0, 3, f->dout, NULL))        \
    X(sde_shift_zero, PI_EINVAL, 1, "shift", pi_sde_shift_times(f->sde, 0.0, 3, f->dout))        \
    X(sde_shift_neg, PI_EINVAL, 1, "shift", pi_sde_shift_times(f->sde, -2.0, 3, f->dout))        \
    X(sde_shift_nan, PI_EINVAL, 1, "shift", pi_sde_shift_times(f->sde, NAN, 3, f->dout))         \
    X(sde_shift_count0, PI_EINVAL, 1, "count", pi_sde_shift_times(f->sde, 2.0, 0, f->dout))      \
    X(sde_shift_times_nan, PI_EINVAL, 1, "times", pi_sde_shift_times(f->sde, 2.0, 3, f->times_nan)) \
    X(sde_shift_times_up, PI_EINVAL, 1, "times", pi_sde_shift_times(f->sde, 2.0, 3, f->times_up)) \
    X(sde_shift_null, PI_EINVAL, 1, "times", pi_sde_shift_times(f->sde, 2.0, 3, NULL))           \
    X(shift_seq_zero, PI_EINVAL, 1, "seq_len",                                                   \
      pi_shift_from_sequence_length(0, 256, 4096, 0.5, 1.15, &f->o_d))                           \
    X(shift_seq_equal, PI_EINVAL, 1, "max_seq_len",                                              \
      pi_shift_from_sequence_length(512, 256, 256, 0.5, 1.15, &f->o_d))                          \
    X(shift_seq_nan_shift, PI_EINVAL, 1, "shift",                                                \
      pi_shift_from_sequence_length(512, 256, 4096, NAN, 1.15, &f->o_d))                         \
    X(shift_seq_null, PI_EINVAL, 1, "shift",                                                     \
      pi_shift_from_sequence_length(512, 256, 4096, 0.5, 1.15, NULL))                            \
    X(cb_timestep_vp, PI_EINVAL, 1, "sde",                                                       \
      pi_model_create_callback_timestep(f->sde, 2, PI_VIEW_EPS, model_fn, NULL, &f->o_model))    \
    X(cb_timestep_null_sde, PI_EINVAL, 1, "sde",                                                 \
      pi_model_create_callback_timestep(NULL, 2, PI_VIEW_EPS, model_fn, NULL, &f->o_model))      \
    X(cb_timestep_null_fn, PI_EINVAL, 1, "fn",                                                   \
      pi_model_create_callback_timestep(f->sde, 2, PI_VIEW_EPS, NULL, NULL, &f->o_model))        \
    X(cb_timestep_view6, PI_EINVAL, 1, "view",                                                   \
      pi_model_create_callback_timestep(f->sde, 2, (pi_view)6, model_fn, NULL, &f->o_model))     \
    X(cb_timestep_null_out, PI_EINVAL, 1, "out",                                                 \
      pi_model_create_callback_timestep(f->sde, 2, PI_VIEW_EPS, model_fn, NULL, NULL))

/* X(label, expected status, second accepted status (or 1 = none), argument name(s), call) */
#define CASES_SDE(X)                                                                             \
    X(sde_create_kind0, PI_EINVAL, 1, "kind", pi_sde_create((pi_sde_kind)0, &f->o_sde))          \
    X(sde_create_kind99, PI_EINVAL, 1, "kind", pi_sde_create((pi_sde_kind)99, &f->o_sde))        \
    X(sde_create_custom_kind, PI_EINVAL, 1, "kind", pi_sde_create(PI_SDE_KIND_CUSTOM, &f->o_sde))     \
    X(sde_create_null_out, PI_EINVAL, 1, "out", pi_sde_create(VP, NULL))                         \
    X(sde_custom_tmin_nan, PI_EINVAL, 1, "t_min",                                                \
      pi_sde_create_custom(NAN, 1.0, marginal_ok, NULL, NULL, &f->o_sde))                        \
    X(sde_custom_tmax_inf, PI_EINVAL, 1, "t_max",                                                \
      pi_sde_create_custom(0.0, INFINITY, marginal_ok, NULL, NULL, &f->o_sde))                   \
    X(sde_custom_tmax_le_tmin, PI_EINVAL, 1, "t_max",                                            \
      pi_sde_create_custom(0.5, 0.5, marginal_ok, NULL, NULL, &f->o_sde))                        \
    X(sde_custom_no_fn, PI_EINVAL, 1, "marginal|coefficients",                                   \
      pi_sde_create_custom(0.0, 1.0, NULL, NULL, NULL, &f->o_sde))                               \
    X(sde_custom_null_out, PI_EINVAL, 1, "out",                                                  \
      pi_sde_create_custom(0.0, 1.0, marginal_ok, NULL, NULL, NULL))                             \
    X(sde_clone_null, PI_EINVAL, 1, "sde", pi_sde_clone(NULL, &f->o_sde))                        \
    X(sde_clone_null_out, PI_EINVAL, 1, "out", pi_sde_clone(f->sde, NULL))                       \
    X(sde_get_kind_null, PI_EINVAL, 1, "sde", pi_sde_get_kind(NULL, &(pi_sde_kind){0}))          \
    X(sde_get_kind_null_out, PI_EINVAL, 1, "out", pi_sde_get_kind(f->sde, NULL))                 \
    X(sde_set_param_null, PI_EINVAL, 1, "sde", pi_sde_set_param(NULL, PI_SDE_PARAM_BETA_MIN, 0.1))     \
    X(sde_set_param_nan, PI_EINVAL, 1, "value|beta_min", pi_sde_set_param(f->sde, PI_SDE_PARAM_BETA_MIN, NAN))  \
    X(sde_set_param_inf, PI_EINVAL, 1, "value|beta_max|BETA_MAX",                                \
      pi_sde_set_param(f->sde, PI_SDE_PARAM_BETA_MAX, INFINITY))                                       \
    X(sde_set_param_neg, PI_EINVAL, 1, "beta_min|BETA_MIN|value",                                \
      pi_sde_set_param(f->sde, PI_SDE_PARAM_BETA_MIN, -1.0))                                           \
    X(sde_set_param_unknown, PI_EINVAL, 1, "param", pi_sde_set_param(f->sde, (pi_sde_param)99, 1)) \
    X(sde_set_param_wrong_kind, PI_EINVAL, 1, "param|SIGMA_MIN|sigma_min",                       \
      pi_sde_set_param(f->sde, PI_SDE_PARAM_SIGMA_MIN, 0.1))                                           \
    X(sde_get_param_null_out, PI_EINVAL, 1, "out",                                               \
      pi_sde_get_param(f->sde, PI_SDE_PARAM_BETA_MIN, NULL))                                           \
    X(sde_time_range_null, PI_EINVAL, 1, "sde", pi_sde_time_range(NULL, &f->o_d, &f->o_d))       \
    X(sde_marginal_null, PI_EINVAL, 1, "sde", pi_sde_marginal(NULL, 0.5, &f->o_d, &f->o_d))      \
    X(sde_marginal_nan, PI_EINVAL, 1, "t", pi_sde_marginal(f->sde, NAN, &f->o_d, &f->o_d))       \
    X(sde_marginal_inf, PI_EINVAL, 1, "t", pi_sde_marginal(f->sde, INFINITY, &f->o_d, &f->o_d))  \
    X(sde_marginal_neg, PI_EINVAL, 1, "t", pi_sde_marginal(f->sde, -1.0, &f->o_d, &f->o_d))      \
    X(sde_marginal_big, PI_EINVAL, 1, "t", pi_sde_marginal(f->sde, 1e9, &f->o_d, &f->o_d))       \
    X(sde_coefficients_nan, PI_EINVAL, 1, "t",                                                   \
      pi_sde_coefficients(f->sde, NAN, &f->o_d, &f->o_d))                                        \
    X(sde_sigma_tilde_inf, PI_EINVAL, 1, "t",                                                    \
      pi_sde_sigma_tilde(f->sde, -INFINITY, &f->o_d, &f->o_d))                                   \
    X(sde_time_from_st_nan, PI_EINVAL, 1, "sigma_tilde",                                         \
      pi_sde_time_from_sigma_tilde(f->sde, NAN, &f->o_d))                                        \
    X(sde_time_from_st_neg, PI_EINVAL, 1, "sigma_tilde",                                         \
      pi_sde_time_from_sigma_tilde(f->sde, -1.0, &f->o_d))                                       \
    X(sde_time_from_st_null_out, PI_EINVAL, 1, "t",                                              \
      pi_sde_time_from_sigma_tilde(f->sde, 1.0, NULL))                                           \
    X(sde_prior_std_null_out, PI_EINVAL, 1, "std", pi_sde_prior_std(f->sde, NULL))               \
    X(sde_prior_sample_n0, PI_EINVAL, 1, "n", pi_sde_prior_sample(f->sde, 0, 2, 1, f->out))      \
    X(sde_prior_sample_dim0, PI_EINVAL, 1, "dim", pi_sde_prior_sample(f->sde, 4, 0, 1, f->out))  \
    X(sde_prior_sample_huge, PI_EINVAL, 1, "n",                                                  \
      pi_sde_prior_sample(f->sde, HUGE_N, 2, 1, f->out))                                         \
    X(sde_prior_sample_overflow, PI_EINVAL, 1, "n|dim",                                          \
      pi_sde_prior_sample(f->sde, (size_t)1 << 33, (size_t)1 << 33, 1, f->out))                  \
    X(sde_prior_sample_null, PI_EINVAL, 1, "out", pi_sde_prior_sample(f->sde, 4, 2, 1, NULL))    \
    X(sde_prior_logpdf_null_x, PI_EINVAL, 1, "x",                                                \
      pi_sde_prior_logpdf(f->sde, 4, 2, NULL, f->dout))                                          \
    X(sde_prior_logpdf_null_out, PI_EINVAL, 1, "out",                                            \
      pi_sde_prior_logpdf(f->sde, 4, 2, f->x, NULL))                                             \
    X(sde_prior_logpdf_n0, PI_EINVAL, 1, "n", pi_sde_prior_logpdf(f->sde, 0, 2, f->x, f->dout))

#define CASES_MODEL(X)                                                                           \
    X(gmm_null_sde, PI_EINVAL, 1, "sde",                                                         \
      pi_model_create_gmm(NULL, 2, 2, f->w, f->mu, f->var, &f->o_model))                         \
    X(gmm_dim0, PI_EINVAL, 1, "dim",                                                             \
      pi_model_create_gmm(f->sde, 0, 2, f->w, f->mu, f->var, &f->o_model))                       \
    X(gmm_k0, PI_EINVAL, 1, "k", pi_model_create_gmm(f->sde, 2, 0, f->w, f->mu, f->var, &f->o_model)) \
    X(gmm_dim_huge, PI_EINVAL, 1, "dim",                                                         \
      pi_model_create_gmm(f->sde, HUGE_N, 2, f->w, f->mu, f->var, &f->o_model))                  \
    X(gmm_k_huge, PI_EINVAL, 1, "k",                                                             \
      pi_model_create_gmm(f->sde, 2, HUGE_N, f->w, f->mu, f->var, &f->o_model))                  \
    X(gmm_null_weights, PI_EINVAL, 1, "weights",                                                 \
      pi_model_create_gmm(f->sde, 2, 2, NULL, f->mu, f->var, &f->o_model))                       \
    X(gmm_null_means, PI_EINVAL, 1, "means",                                                     \
      pi_model_create_gmm(f->sde, 2, 2, f->w, NULL, f->var, &f->o_model))                        \
    X(gmm_null_vars, PI_EINVAL, 1, "vars",                                                       \
      pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu, NULL, &f->o_model))                         \
    X(gmm_null_out, PI_EINVAL, 1, "out", pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu, f->var, NULL)) \
    X(gmm_weight_nan, PI_EINVAL, 1, "weights",                                                   \
      pi_model_create_gmm(f->sde, 2, 2, f->w_nan, f->mu, f->var, &f->o_model))                   \
    X(gmm_weight_neg, PI_EINVAL, 1, "weights",                                                   \
      pi_model_create_gmm(f->sde, 2, 2, f->w_neg, f->mu, f->var, &f->o_model))                   \
    X(gmm_mean_inf, PI_EINVAL, 1, "means",                                                       \
      pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu_inf, f->var, &f->o_model))                   \
    X(gmm_var_neg, PI_EINVAL, 1, "vars",                                                         \
      pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu, f->var_neg, &f->o_model))                   \
    X(gmm_var_nan, PI_EINVAL, 1, "vars",                                                         \
      pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu, f->var_nan, &f->o_model))                   \
    X(emp_n0, PI_EINVAL, 1, "n", pi_model_create_empirical(f->sde, 2, 0, f->data, &f->o_model))  \
    X(emp_dim0, PI_EINVAL, 1, "dim", pi_model_create_empirical(f->sde, 0, 4, f->data, &f->o_model)) \
    X(emp_null_data, PI_EINVAL, 1, "data", pi_model_create_empirical(f->sde, 2, 4, NULL, &f->o_model)) \
    X(emp_nan_data, PI_EINVAL, 1, "data",                                                        \
      pi_model_create_empirical(f->sde, 2, 4, f->x_nan, &f->o_model))                            \
    X(emp_huge, PI_EINVAL, 1, "n|dim",                                                           \
      pi_model_create_empirical(f->sde, 2, HUGE_N, f->data, &f->o_model))                        \
    X(emp_null_out, PI_EINVAL, 1, "out", pi_model_create_empirical(f->sde, 2, 4, f->data, NULL)) \
    X(mlp_dim0, PI_EINVAL, 1, "dim", pi_model_create_mlp(f->sde, 0, 8, 1, &f->o_model))          \
    X(mlp_width0, PI_EINVAL, 1, "hidden_width", pi_model_create_mlp(f->sde, 2, 0, 1, &f->o_model)) \
    X(mlp_layers0, PI_EINVAL, 1, "hidden_layers", pi_model_create_mlp(f->sde, 2, 8, 0, &f->o_model)) \
    X(mlp_width_huge, PI_EINVAL, 1, "hidden_width",                                              \
      pi_model_create_mlp(f->sde, 2, HUGE_N, 1, &f->o_model))                                    \
    X(mlp_layers_huge, PI_EINVAL, 1, "hidden_layers",                                            \
      pi_model_create_mlp(f->sde, 2, 8, HUGE_N, &f->o_model))                                    \
    X(mlp_null_sde, PI_EINVAL, 1, "sde", pi_model_create_mlp(NULL, 2, 8, 1, &f->o_model))        \
    X(mlp_null_out, PI_EINVAL, 1, "out", pi_model_create_mlp(f->sde, 2, 8, 1, NULL))             \
    X(mlp_init_null, PI_EINVAL, 1, "model", pi_model_mlp_init(NULL, 1))                          \
    X(mlp_init_gmm, PI_EUNSUPPORTED, PI_EINVAL, "model|MLP|mlp", pi_model_mlp_init(f->gmm, 1))   \
    X(mlp_view_bad, PI_EINVAL, 1, "view", pi_model_mlp_set_output_view(f->mlp, (pi_view)99))     \
    X(mlp_view_v, PI_EINVAL, PI_EUNSUPPORTED, "view",                                            \
      pi_model_mlp_set_output_view(f->mlp, PI_VIEW_V))                                           \
    X(mlp_embed_kind, PI_EINVAL, 1, "kind",                                                      \
      pi_model_mlp_set_embedding(f->mlp, (pi_embedding)99, 16))                                  \
    X(mlp_embed_odd, PI_EINVAL, 1, "features",                                                   \
      pi_model_mlp_set_embedding(f->mlp, PI_EMBEDDING_LOG_SIGMA, 3))                                 \
    X(mlp_embed_zero, PI_EINVAL, 1, "features",                                                  \
      pi_model_mlp_set_embedding(f->mlp, PI_EMBEDDING_LOG_SIGMA, 0))                                 \
    X(mlp_embed_huge, PI_EINVAL, 1, "features",                                                  \
      pi_model_mlp_set_embedding(f->mlp, PI_EMBEDDING_LOG_SIGMA, HUGE_N - 1))                        \
    X(mlp_precond_nan, PI_EINVAL, 1, "sigma_data",                                               \
      pi_model_mlp_set_preconditioning(f->mlp, PI_PRECOND_EDM, NAN))                                          \
    X(mlp_precond_neg, PI_EINVAL, 1, "sigma_data",                                               \
      pi_model_mlp_set_preconditioning(f->mlp, PI_PRECOND_EDM, -1.0))                                         \
    X(mlp_precond_mode, PI_EINVAL, 1, "mode",                                                    \
      pi_model_mlp_set_preconditioning(f->mlp, PI_PRECOND_INPUT + 1, 0.5))                       \
    X(mlp_precond_mode_neg, PI_EINVAL, 1, "mode",                                                \
      pi_model_mlp_set_preconditioning(f->mlp, (pi_precond)0, 0.5))                                         \
    X(kind_null, PI_EINVAL, 1, "model", pi_model_get_kind(NULL, &(pi_model_kind){0}))            \
    X(kind_null_out, PI_EINVAL, 1, "out", pi_model_get_kind(f->gmm, NULL))                       \
    X(dim_null_out, PI_EINVAL, 1, "out", pi_model_get_dim(f->gmm, NULL))                         \
    X(get_sde_null, PI_EINVAL, 1, "model", pi_model_get_sde(NULL, &(const pi_sde_t *){NULL}))    \
    X(threads0, PI_EINVAL, 1, "threads", pi_model_set_threads(f->gmm, 0))                        \
    X(threads_neg, PI_EINVAL, 1, "threads", pi_model_set_threads(f->gmm, -5))                    \
    X(threads_huge, PI_EINVAL, 1, "threads", pi_model_set_threads(f->gmm, 1 << 30))              \
    X(eval_null_model, PI_EINVAL, 1, "model",                                                    \
      pi_model_eval(NULL, PI_VIEW_SCORE, 4, f->x, f->t, f->out))                                 \
    X(eval_bad_view, PI_EINVAL, 1, "view",                                                       \
      pi_model_eval(f->gmm, (pi_view)99, 4, f->x, f->t, f->out))                                 \
    X(eval_n0, PI_EINVAL, 1, "n", pi_model_eval(f->gmm, PI_VIEW_SCORE, 0, f->x, f->t, f->out))   \
    X(eval_n_huge, PI_EINVAL, 1, "n",                                                            \
      pi_model_eval(f->gmm, PI_VIEW_SCORE, HUGE_N, f->x, f->t, f->out))                          \
    X(eval_null_x, PI_EINVAL, 1, "x", pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, NULL, f->t, f->out)) \
    X(eval_null_t, PI_EINVAL, 1, "t", pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x, NULL, f->out)) \
    X(eval_null_out, PI_EINVAL, 1, "out", pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x, f->t, NULL)) \
    X(eval_t_nan, PI_EINVAL, 1, "t",                                                             \
      pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x, f->t_nan, f->out))                           \
    X(eval_t_inf, PI_EINVAL, 1, "t",                                                             \
      pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x, f->t_inf, f->out))                           \
    X(eval_t_range, PI_EINVAL, 1, "t",                                                           \
      pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x, f->t_big, f->out))                           \
    X(eval_x_nan, PI_EINVAL, 1, "x",                                                             \
      pi_model_eval(f->gmm, PI_VIEW_SCORE, 4, f->x_nan, f->t, f->out))                           \
    X(eval_x_inf_mlp, PI_EINVAL, 1, "x",                                                         \
      pi_model_eval(f->mlp, PI_VIEW_EPS, 4, f->x_inf, f->t, f->out))                             \
    X(eval_at_t_nan, PI_EINVAL, 1, "t",                                                          \
      pi_model_eval_at(f->gmm, PI_VIEW_SCORE, 4, f->x, NAN, f->out))                             \
    X(eval_at_t_inf, PI_EINVAL, 1, "t",                                                          \
      pi_model_eval_at(f->mlp, PI_VIEW_SCORE, 4, f->x, INFINITY, f->out))                        \
    X(div_bad_mode, PI_EINVAL, 1, "mode",                                                        \
      pi_model_divergence(f->gmm, (pi_divergence)99, 1, 0, 4, f->x, f->t, f->dout))              \
    X(div_probes0, PI_EINVAL, 1, "probes",                                                       \
      pi_model_divergence(f->gmm, PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, 0, 0, 4, f->x, f->t, f->dout))     \
    X(div_null_out, PI_EINVAL, 1, "out",                                                         \
      pi_model_divergence(f->gmm, PI_DIVERGENCE_EXACT, 1, 0, 4, f->x, f->t, NULL))                      \
    X(div_t_nan, PI_EINVAL, 1, "t",                                                              \
      pi_model_divergence(f->gmm, PI_DIVERGENCE_EXACT, 1, 0, 4, f->x, f->t_nan, f->dout))               \
    X(jvp_null_v, PI_EINVAL, 1, "v", pi_model_jvp(f->gmm, 4, f->x, f->t, NULL, f->out))          \
    X(jvp_n0, PI_EINVAL, 1, "n", pi_model_jvp(f->gmm, 0, f->x, f->t, f->x, f->out))              \
    X(logpdf_null_out, PI_EINVAL, 1, "out", pi_model_logpdf(f->gmm, 4, f->x, f->t, NULL))        \
    X(logpdf_mlp, PI_EUNSUPPORTED, 1, "logpdf|MLP|mlp|model",                                    \
      pi_model_logpdf(f->mlp, 4, f->x, f->t, f->dout))                                           \
    X(num_params_null, PI_EINVAL, 1, "out", pi_model_get_num_params(f->mlp, NULL))                   \
    X(get_params_capacity, PI_EINVAL, PI_EMISMATCH, "capacity", pi_model_get_params(f->mlp, 3, f->out, NULL)) \
    X(get_params_null, PI_EINVAL, 1, "params", pi_model_get_params(f->mlp, 3, NULL, NULL))             \
    X(set_params_count, PI_EINVAL, PI_EMISMATCH, "count", pi_model_set_params(f->mlp, 3, f->out)) \
    X(set_params_gmm, PI_EUNSUPPORTED, PI_EINVAL, "model|count|MLP|mlp",                         \
      pi_model_set_params(f->gmm, 3, f->out))

#define CASES_SAMPLER(X)                                                                         \
    X(sampler_create_null, PI_EINVAL, 1, "model", pi_sampler_create(NULL, &f->o_sampler))        \
    X(sampler_create_null_out, PI_EINVAL, 1, "out", pi_sampler_create(f->gmm, NULL))             \
    X(hbar_neg, PI_EINVAL, 1, "hbar", pi_sampler_set_hbar(f->s, -1.0))                           \
    X(hbar_nan, PI_EINVAL, 1, "hbar", pi_sampler_set_hbar(f->s, NAN))                            \
    X(hbar_inf, PI_EINVAL, 1, "hbar", pi_sampler_set_hbar(f->s, INFINITY))                       \
    X(hbar_null, PI_EINVAL, 1, "sampler", pi_sampler_set_hbar(NULL, 0.5))                        \
    X(method0, PI_EINVAL, 1, "method", pi_sampler_set_method(f->s, (pi_method)0))                \
    X(method99, PI_EINVAL, 1, "method", pi_sampler_set_method(f->s, (pi_method)99))              \
    X(steps0, PI_EINVAL, 1, "steps", pi_sampler_set_steps(f->s, 0))                              \
    X(steps_huge, PI_EINVAL, 1, "steps", pi_sampler_set_steps(f->s, HUGE_N))                     \
    X(schedule_bad, PI_EINVAL, 1, "schedule",                                                    \
      pi_sampler_set_schedule(f->s, (pi_schedule)99, 7.0))                                       \
    X(schedule_custom_without_times, PI_EINVAL, 1, "schedule|times|CUSTOM",                      \
      pi_sampler_set_schedule(f->s, PI_SCHEDULE_CUSTOM, 7.0))                                    \
    X(schedule_rho_inf, PI_EINVAL, 1, "param|rho",                                               \
      pi_sampler_set_schedule(f->s, PI_SCHEDULE_KARRAS, INFINITY))                               \
    X(schedule_rho_neg, PI_EINVAL, 1, "param|rho",                                               \
      pi_sampler_set_schedule(f->s, PI_SCHEDULE_KARRAS, -2.0))                                   \
    X(times_null, PI_EINVAL, 1, "times", pi_sampler_set_times(f->s, NULL, 3))                    \
    X(times_count1, PI_EINVAL, 1, "count", pi_sampler_set_times(f->s, f->times_up, 1))           \
    X(times_increasing, PI_EINVAL, 1, "times", pi_sampler_set_times(f->s, f->times_up, 3))       \
    X(times_nan, PI_EINVAL, 1, "times", pi_sampler_set_times(f->s, f->times_nan, 3))             \
    X(times_out_of_range, PI_EINVAL, 1, "times", pi_sampler_set_times(f->s, f->times_wide, 3))   \
    X(get_times_small, PI_EINVAL, 1, "capacity",                                                 \
      pi_sampler_get_times(f->s, 1, f->dout, &f->o_size))                                        \
    X(time_range_nan, PI_EINVAL, 1, "t_start",                                                   \
      pi_sampler_set_time_range(f->s, NAN, 0.01))                                                \
    X(time_range_reversed, PI_EINVAL, 1, "t_start|t_end",                                        \
      pi_sampler_set_time_range(f->s, 0.2, 0.9))                                                 \
    X(time_range_outside, PI_EINVAL, 1, "t_start",                                               \
      pi_sampler_set_time_range(f->s, 5.0, 0.01))                                                \
    X(time_range_end_inf, PI_EINVAL, 1, "t_end",                                                 \
      pi_sampler_set_time_range(f->s, 0.9, -INFINITY))                                           \
    X(seed_null, PI_EINVAL, 1, "sampler", pi_sampler_set_seed(NULL, 1))                          \
    X(sthreads0, PI_EINVAL, 1, "threads", pi_sampler_set_threads(f->s, 0))                       \
    X(sthreads_big, PI_EINVAL, 1, "threads", pi_sampler_set_threads(f->s, 257))                  \
    X(denoise_null, PI_EINVAL, 1, "sampler", pi_sampler_set_denoise_final(NULL, 1))              \
    X(tol_rtol0, PI_EINVAL, 1, "rtol", pi_sampler_set_tolerances(f->s, 0.0, 1e-5))              \
    X(tol_rtol_nan, PI_EINVAL, 1, "rtol", pi_sampler_set_tolerances(f->s, NAN, 1e-5))           \
    X(tol_atol_neg, PI_EINVAL, 1, "atol", pi_sampler_set_tolerances(f->s, 1e-5, -1.0))          \
    X(tol_atol_inf, PI_EINVAL, 1, "atol", pi_sampler_set_tolerances(f->s, 1e-5, INFINITY))      \
    X(corrector_snr0, PI_EINVAL, 1, "snr", pi_sampler_set_corrector(f->s, 1, 0.0))               \
    X(corrector_snr_nan, PI_EINVAL, 1, "snr", pi_sampler_set_corrector(f->s, 1, NAN))             \
    X(corrector_steps_huge, PI_EINVAL, 1, "steps", pi_sampler_set_corrector(f->s, HUGE_N, 0.1))  \
    X(callback_null, PI_EINVAL, 1, "sampler", pi_sampler_set_callback(NULL, NULL, NULL))         \
    X(cancel_null, PI_EINVAL, 1, "sampler", pi_sampler_cancel(NULL))                             \
    X(record_small, PI_EINVAL, 1, "capacity",                                                    \
      pi_sampler_set_trajectory(f->s, 1, 0, f->out, NULL))                                    \
    X(trajectory_null, PI_EINVAL, 1, "sampler",                                                  \
      pi_sampler_get_trajectory(NULL, NULL, NULL, &f->o_size))                                   \
    X(stats_null, PI_EINVAL, 1, "sampler", pi_sampler_get_stats(NULL, &f->o_size, NULL, NULL))   \
    X(run_n0, PI_EINVAL, 1, "n", pi_sampler_run(f->s, 0, f->out))                                \
    X(run_n_huge, PI_EINVAL, 1, "n", pi_sampler_run(f->s, HUGE_N, f->out))                       \
    X(run_null_x, PI_EINVAL, 1, "x_out", pi_sampler_run(f->s, 4, NULL))                          \
    X(run_null_sampler, PI_EINVAL, 1, "sampler", pi_sampler_run(NULL, 4, f->out))                \
    X(run_from_t_nan, PI_EINVAL, 1, "t_start", pi_sampler_run_from(f->s, NAN, 4, f->out))        \
    X(run_from_t_big, PI_EINVAL, 1, "t_start", pi_sampler_run_from(f->s, 5.0, 4, f->out))        \
    X(run_from_null_x, PI_EINVAL, 1, "x_inout", pi_sampler_run_from(f->s, 0.5, 4, NULL))         \
    X(run_from_x_nan, PI_EINVAL, 1, "x_inout", pi_sampler_run_from(f->s, 0.5, 4, f->x_nan))      \
    X(run_from_n0, PI_EINVAL, 1, "n", pi_sampler_run_from(f->s, 0.5, 0, f->out))

#define CASES_DATA(X)                                                                            \
    X(data_gen_bad, PI_EINVAL, 1, "dataset", pi_data_generate((pi_dataset)99, 4, 1, f->out))     \
    X(data_gen_n0, PI_EINVAL, 1, "n", pi_data_generate(PI_DATASET_MOONS, 0, 1, f->out))             \
    X(data_gen_huge, PI_EINVAL, 1, "n", pi_data_generate(PI_DATASET_MOONS, HUGE_N, 1, f->out))      \
    X(data_gen_null, PI_EINVAL, 1, "out", pi_data_generate(PI_DATASET_MOONS, 4, 1, NULL))           \
    X(data_load_null_path, PI_EINVAL, 1, "path",                                                 \
      pi_data_load(NULL, &f->o_fp, &f->o_size, &f->o_size))                                      \
    X(data_load_null_data, PI_EINVAL, 1, "data",                                                 \
      pi_data_load("/nonexistent/x.npy", NULL, &f->o_size, &f->o_size))                          \
    X(data_load_null_n, PI_EINVAL, 1, "n", pi_data_load("/nonexistent/x.npy", &f->o_fp, NULL, &f->o_size)) \
    X(data_load_missing, PI_EIO, 1, "/nonexistent/x.npy",                                        \
      pi_data_load("/nonexistent/x.npy", &f->o_fp, &f->o_size, &f->o_size))                      \
    X(data_load_bad_ext, PI_EINVAL, PI_EFORMAT, "extension|.xyz|format",                         \
      pi_data_load(bad_ext_path, &f->o_fp, &f->o_size, &f->o_size))                              \
    X(data_save_null_path, PI_EINVAL, 1, "path", pi_data_save(NULL, 4, 2, f->data))              \
    X(data_save_n0, PI_EINVAL, 1, "n", pi_data_save("/tmp/pi_bad_input.npy", 0, 2, f->data))     \
    X(data_save_dim0, PI_EINVAL, 1, "dim", pi_data_save("/tmp/pi_bad_input.npy", 4, 0, f->data)) \
    X(data_save_huge, PI_EINVAL, 1, "n|dim",                                                     \
      pi_data_save("/tmp/pi_bad_input.npy", HUGE_N, 2, f->data))                                 \
    X(data_save_null_data, PI_EINVAL, 1, "data", pi_data_save("/tmp/pi_bad_input.npy", 4, 2, NULL)) \
    X(data_save_bad_ext, PI_EINVAL, 1, "extension|.xyz|format|path",                             \
      pi_data_save("/tmp/pi_bad_input.xyz", 4, 2, f->data))

#define CASES_FILES(X)                                                                           \
    X(model_save_null, PI_EINVAL, 1, "model", pi_model_save(NULL, "/tmp/pi_bad_input.pim"))      \
    X(model_save_null_path, PI_EINVAL, 1, "path", pi_model_save(f->gmm, NULL))                   \
    X(model_save_empty_path, PI_EINVAL, PI_EIO, "path", pi_model_save(f->gmm, ""))               \
    X(model_save_callback, PI_EUNSUPPORTED, 1, "callback|model",                                 \
      pi_model_save(f->cb, "/tmp/pi_bad_input.pim"))                                             \
    X(model_load_null_path, PI_EINVAL, 1, "path", pi_model_load(NULL, &f->o_model))              \
    X(model_load_null_out, PI_EINVAL, 1, "out", pi_model_load("/nonexistent/m.pim", NULL))       \
    X(model_load_missing, PI_EIO, 1, "/nonexistent/m.pim",                                       \
      pi_model_load("/nonexistent/m.pim", &f->o_model))                                          \
    X(model_load_not_a_model, PI_EFORMAT, 1, "pi_bad_input_|model file",                                    \
      pi_model_load(bad_ext_path, &f->o_model))                                                  \
    X(st_save_gmm, PI_EUNSUPPORTED, PI_EINVAL, "model|MLP|mlp",                                  \
      pi_model_save_safetensors(f->gmm, "/tmp/pi_bad_input.safetensors"))                        \
    X(st_save_null_path, PI_EINVAL, 1, "path", pi_model_save_safetensors(f->mlp, NULL))          \
    X(st_load_null_sde, PI_EINVAL, 1, "sde",                                                     \
      pi_model_load_safetensors(NULL, "/nonexistent/m.safetensors", &f->o_model))                \
    X(st_load_null_path, PI_EINVAL, 1, "path", pi_model_load_safetensors(f->sde, NULL, &f->o_model)) \
    X(st_load_null_out, PI_EINVAL, 1, "out",                                                     \
      pi_model_load_safetensors(f->sde, "/nonexistent/m.safetensors", NULL))                     \
    X(st_load_missing, PI_EIO, 1, "/nonexistent/m.safetensors",                                  \
      pi_model_load_safetensors(f->sde, "/nonexistent/m.safetensors", &f->o_model))              \
    X(st_load_garbage, PI_EFORMAT, 1, "pi_bad_input_",                                           \
      pi_model_load_safetensors(f->sde, bad_ext_path, &f->o_model))                              \
    X(callback_null_fn, PI_EINVAL, 1, "fn",                                                      \
      pi_model_create_callback(f->sde, 2, PI_VIEW_SCORE, NULL, NULL, &f->o_model))               \
    X(callback_bad_view, PI_EINVAL, 1, "view",                                                   \
      pi_model_create_callback(f->sde, 2, (pi_view)99, model_fn, NULL, &f->o_model))             \
    X(callback_dim0, PI_EINVAL, 1, "dim",                                                        \
      pi_model_create_callback(f->sde, 0, PI_VIEW_SCORE, model_fn, NULL, &f->o_model))           \
    X(callback_null_out, PI_EINVAL, 1, "out",                                                    \
      pi_model_create_callback(f->sde, 2, PI_VIEW_SCORE, model_fn, NULL, NULL))

#define CASES_LIKELIHOOD(X)                                                                      \
    X(nll_n0, PI_EINVAL, 1, "n", pi_likelihood_nll(f->lik, 0, f->x, f->dout, NULL))                   \
    X(nll_null_x, PI_EINVAL, 1, "x", pi_likelihood_nll(f->lik, 4, NULL, f->dout, NULL))               \
    X(nll_null_out, PI_EINVAL, 1, "nll_out", pi_likelihood_nll(f->lik, 4, f->x, NULL, NULL))       \
    X(nll_huge, PI_EINVAL, 1, "n", pi_likelihood_nll(f->lik, HUGE_N, f->x, f->dout, NULL))            \
    X(nll_hbar_null_out, PI_EINVAL, 1, "nll_out", pi_likelihood_nll_hbar(f->lik, 0.5, 4, f->x, NULL)) \
    X(nll_ex_null_lik, PI_EINVAL, 1, "lik",                                                     \
      pi_likelihood_nll_ex(NULL, 4, f->x, f->dout, NULL, NULL, NULL))                               \
    X(div_mode_bad, PI_EINVAL, 1, "mode", pi_likelihood_set_divergence(f->lik, (pi_divergence)99, 1)) \
    X(div_probes_zero, PI_EINVAL, 1, "probes",                                                   \
      pi_likelihood_set_divergence(f->lik, PI_DIVERGENCE_HUTCHINSON_RADEMACHER, 0))                          \
    X(nll_tol_zero, PI_EINVAL, 1, "rtol", pi_likelihood_set_tolerances(f->lik, 0.0, 1e-8))        \
    X(nll_tol_nan, PI_EINVAL, 1, "atol", pi_likelihood_set_tolerances(f->lik, 1e-6, NAN))         \
    X(wkb_bad, PI_EINVAL, 1, "algorithm", pi_likelihood_set_wkb_algorithm(f->lik, (pi_wkb_algorithm)9)) \
    X(dequant_neg, PI_EINVAL, 1, "bin_width", pi_likelihood_set_dequantization(f->lik, -1.0))         \
    X(dequant_nan, PI_EINVAL, 1, "bin_width", pi_likelihood_set_dequantization(f->lik, NAN))          \
    X(gits_steps0, PI_EINVAL, 1, "steps", pi_sampler_gits(f->s, 0, 100, 8, f->dout))             \
    X(gits_fine_small, PI_EINVAL, 1, "fine_steps", pi_sampler_gits(f->s, 6, 3, 8, f->dout))      \
    X(gits_samples0, PI_EINVAL, 1, "n_samples", pi_sampler_gits(f->s, 3, 100, 0, f->dout))       \
    X(gits_null_out, PI_EINVAL, 1, "times_out", pi_sampler_gits(f->s, 3, 100, 8, NULL))          \
    X(bound_null_lik, PI_EINVAL, 1, "lik",                                                       \
      pi_likelihood_action_bound(NULL, 4, 8, f->data, &f->o_d, NULL))                            \
    X(bound_n0, PI_EINVAL, 1, "n", pi_likelihood_action_bound(f->lik, 4, 0, f->data, &f->o_d, NULL)) \
    X(bound_null_data, PI_EINVAL, 1, "data",                                                     \
      pi_likelihood_action_bound(f->lik, 4, 8, NULL, &f->o_d, NULL))                             \
    X(bound_samples0, PI_EINVAL, 1, "samples",                                                   \
      pi_likelihood_action_bound(f->lik, 0, 8, f->data, &f->o_d, NULL))                          \
    X(bound_null_out, PI_EINVAL, 1, "bound",                                                     \
      pi_likelihood_action_bound(f->lik, 4, 8, f->data, NULL, NULL))                             \
    X(bound_nan_data, PI_EINVAL, 1, "data",                                                      \
      pi_likelihood_action_bound(f->lik, 4, 4, f->x_nan, &f->o_d, NULL))

#define CASES_TRAINER(X)                                                                         \
    X(tr_create_null, PI_EINVAL, 1, "model", pi_trainer_create(NULL, &f->o_trainer))             \
    X(tr_create_null_out, PI_EINVAL, 1, "out", pi_trainer_create(f->mlp, NULL))                  \
    X(tr_create_gmm, PI_EUNSUPPORTED, 1, "model|MLP|mlp", pi_trainer_create(f->gmm, &f->o_trainer)) \
    X(tr_lr_nan, PI_EINVAL, 1, "lr", pi_trainer_set_learning_rate(f->tr, NAN))                   \
    X(tr_lr_neg, PI_EINVAL, 1, "lr", pi_trainer_set_learning_rate(f->tr, -1.0))                  \
    X(tr_lr_inf, PI_EINVAL, 1, "lr", pi_trainer_set_learning_rate(f->tr, INFINITY))              \
    X(tr_sched_bad, PI_EINVAL, 1, "schedule",                                                    \
      pi_trainer_set_lr_schedule(f->tr, (pi_lr_schedule)9, 0, 100))                              \
    X(tr_batch0, PI_EINVAL, 1, "batch", pi_trainer_set_batch_size(f->tr, 0))                     \
    X(tr_batch_huge, PI_EINVAL, 1, "batch", pi_trainer_set_batch_size(f->tr, HUGE_N))            \
    X(tr_weighting_bad, PI_EINVAL, 1, "weighting",                                               \
      pi_trainer_set_weighting(f->tr, (pi_weighting)9))                                          \
    X(tr_sampling_bad, PI_EINVAL, 1, "sampling",                                                 \
      pi_trainer_set_time_sampling(f->tr, (pi_time_sampling)9))                                  \
    X(tr_lognormal_nan, PI_EINVAL, 1, "p_mean", pi_trainer_set_lognormal(f->tr, NAN, 1.2))       \
    X(tr_lognormal_std, PI_EINVAL, 1, "p_std", pi_trainer_set_lognormal(f->tr, -1.2, -1.0))      \
    X(tr_adam_beta1, PI_EINVAL, 1, "beta1", pi_trainer_set_adam(f->tr, 1.5, 0.999, 1e-8))        \
    X(tr_adam_beta2, PI_EINVAL, 1, "beta2", pi_trainer_set_adam(f->tr, 0.9, NAN, 1e-8))          \
    X(tr_adam_eps, PI_EINVAL, 1, "eps", pi_trainer_set_adam(f->tr, 0.9, 0.999, -1.0))            \
    X(tr_decay_neg, PI_EINVAL, 1, "decay", pi_trainer_set_weight_decay(f->tr, -0.1))             \
    X(tr_clip_nan, PI_EINVAL, 1, "max_norm", pi_trainer_set_grad_clip(f->tr, NAN))               \
    X(tr_ema_big, PI_EINVAL, 1, "decay", pi_trainer_set_ema(f->tr, 1.5))                         \
    X(tr_threads0, PI_EINVAL, 1, "threads", pi_trainer_set_threads(f->tr, 0))                    \
    X(tr_seed_null, PI_EINVAL, 1, "trainer", pi_trainer_set_seed(NULL, 1))                       \
    X(tr_callback_null, PI_EINVAL, 1, "trainer", pi_trainer_set_callback(NULL, NULL, NULL))      \
    X(tr_step_n0, PI_EINVAL, 1, "n", pi_trainer_step(f->tr, 0, f->data, NULL))                   \
    X(tr_step_null_data, PI_EINVAL, 1, "data", pi_trainer_step(f->tr, 8, NULL, NULL))            \
    X(tr_step_nan_data, PI_EINVAL, 1, "row|data", pi_trainer_step(f->tr, 4, f->x_nan, NULL))     \
    X(tr_fit_null_data, PI_EINVAL, 1, "data", pi_trainer_fit(f->tr, 8, NULL, 10))                \
    X(tr_fit_inf_data, PI_EINVAL, 1, "row|data", pi_trainer_fit(f->tr, 4, f->x_inf, 10))         \
    X(tr_loss_samples0, PI_EINVAL, 1, "samples", pi_trainer_loss(f->tr, 0, 8, f->data, &f->o_d)) \
    X(tr_loss_null_out, PI_EINVAL, 1, "loss_out", pi_trainer_loss(f->tr, 2, 8, f->data, NULL))   \
    X(tr_cancel_null, PI_EINVAL, 1, "trainer", pi_trainer_cancel(NULL))                          \
    X(tr_get_step_null, PI_EINVAL, 1, "step", pi_trainer_get_step(f->tr, NULL))                  \
    X(tr_save_null_path, PI_EINVAL, 1, "path", pi_trainer_save(f->tr, NULL))                     \
    X(tr_save_null, PI_EINVAL, 1, "trainer", pi_trainer_save(NULL, "/tmp/pi_bad_input.ckpt"))    \
    X(tr_resume_null_path, PI_EINVAL, 1, "path",                                                 \
      pi_trainer_resume(NULL, &f->o_model, &f->o_trainer))                                       \
    X(tr_resume_missing, PI_EIO, 1, "/nonexistent/c.ckpt",                                       \
      pi_trainer_resume("/nonexistent/c.ckpt", &f->o_model, &f->o_trainer))                      \
    X(tr_resume_garbage, PI_EFORMAT, 1, "pi_bad_input_",                                         \
      pi_trainer_resume(bad_ext_path, &f->o_model, &f->o_trainer))

#define CASES_GETTERS(X)                                                                         \
    X(sget_hbar_null, PI_EINVAL, 1, "sampler", pi_sampler_get_hbar(NULL, &f->o_d)) \
    X(sget_hbar_null_out, PI_EINVAL, 1, "out", pi_sampler_get_hbar(f->s, NULL)) \
    X(sget_method_null, PI_EINVAL, 1, "sampler", pi_sampler_get_method(NULL, &f->o_method)) \
    X(sget_method_null_out, PI_EINVAL, 1, "out", pi_sampler_get_method(f->s, NULL)) \
    X(sget_steps_null, PI_EINVAL, 1, "sampler", pi_sampler_get_steps(NULL, &f->o_size)) \
    X(sget_steps_null_out, PI_EINVAL, 1, "out", pi_sampler_get_steps(f->s, NULL)) \
    X(sget_seed_null, PI_EINVAL, 1, "sampler", pi_sampler_get_seed(NULL, &f->o_u)) \
    X(sget_seed_null_out, PI_EINVAL, 1, "out", pi_sampler_get_seed(f->s, NULL)) \
    X(sget_threads_null, PI_EINVAL, 1, "sampler", pi_sampler_get_threads(NULL, &f->o_i)) \
    X(sget_threads_null_out, PI_EINVAL, 1, "out", pi_sampler_get_threads(f->s, NULL)) \
    X(sget_denoise_final_null, PI_EINVAL, 1, "sampler", pi_sampler_get_denoise_final(NULL, &f->o_i)) \
    X(sget_denoise_final_null_out, PI_EINVAL, 1, "out", pi_sampler_get_denoise_final(f->s, NULL)) \
    X(sget_model_null, PI_EINVAL, 1, "sampler", pi_sampler_get_model(NULL, &f->o_cmodel)) \
    X(sget_model_null_out, PI_EINVAL, 1, "out", pi_sampler_get_model(f->s, NULL)) \
    X(sget_schedule_null, PI_EINVAL, 1, "sampler", pi_sampler_get_schedule(NULL, &f->o_sched, &f->o_d)) \
    X(sget_time_range_null, PI_EINVAL, 1, "sampler", pi_sampler_get_time_range(NULL, &f->o_d, &f->o_d)) \
    X(sget_tolerances_null, PI_EINVAL, 1, "sampler", pi_sampler_get_tolerances(NULL, &f->o_d, &f->o_d)) \
    X(sget_corrector_null, PI_EINVAL, 1, "sampler", pi_sampler_get_corrector(NULL, &f->o_size, &f->o_d)) \
    X(sget_callback_null, PI_EINVAL, 1, "sampler", pi_sampler_get_callback(NULL, &f->o_stepfn, &f->o_vp)) \
    X(sget_trajectory_settings_null, PI_EINVAL, 1, "sampler", pi_sampler_get_trajectory_settings(NULL, &f->o_i, &f->o_size)) \
    X(traj_flag_two, PI_EINVAL, 1, "enabled", pi_sampler_set_trajectory(f->s, 2, 0, NULL, NULL)) \
    X(traj_null, PI_EINVAL, 1, "sampler", pi_sampler_set_trajectory(NULL, 0, 0, NULL, NULL)) \
    X(lget_wkb_algorithm_null, PI_EINVAL, 1, "lik", pi_likelihood_get_wkb_algorithm(NULL, &f->o_wkb)) \
    X(lget_wkb_algorithm_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_wkb_algorithm(f->lik, NULL)) \
    X(lget_dequantization_null, PI_EINVAL, 1, "lik", pi_likelihood_get_dequantization(NULL, &f->o_d)) \
    X(lget_dequantization_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_dequantization(f->lik, NULL)) \
    X(lget_seed_null, PI_EINVAL, 1, "lik", pi_likelihood_get_seed(NULL, &f->o_u)) \
    X(lget_seed_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_seed(f->lik, NULL)) \
    X(lget_threads_null, PI_EINVAL, 1, "lik", pi_likelihood_get_threads(NULL, &f->o_i)) \
    X(lget_threads_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_threads(f->lik, NULL)) \
    X(lget_model_null, PI_EINVAL, 1, "lik", pi_likelihood_get_model(NULL, &f->o_cmodel)) \
    X(lget_model_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_model(f->lik, NULL)) \
    X(lget_divergence_null, PI_EINVAL, 1, "lik", pi_likelihood_get_divergence(NULL, &f->o_div, &f->o_size)) \
    X(lget_tolerances_null, PI_EINVAL, 1, "lik", pi_likelihood_get_tolerances(NULL, &f->o_d, &f->o_d)) \
    X(lget_callback_null, PI_EINVAL, 1, "lik", pi_likelihood_get_callback(NULL, &f->o_likfn, &f->o_vp)) \
    X(lset_tolerances_null, PI_EINVAL, 1, "lik", pi_likelihood_set_tolerances(NULL, 1e-6, 1e-8)) \
    X(lset_wkb_algorithm_null, PI_EINVAL, 1, "lik", pi_likelihood_set_wkb_algorithm(NULL, PI_WKB_ALGORITHM_SWEEP)) \
    X(lset_dequantization_null, PI_EINVAL, 1, "lik", pi_likelihood_set_dequantization(NULL, 0.0)) \
    X(lset_threads_null, PI_EINVAL, 1, "lik", pi_likelihood_set_threads(NULL, 1)) \
    X(lset_seed_null, PI_EINVAL, 1, "lik", pi_likelihood_set_seed(NULL, 1)) \
    X(lset_divergence_null, PI_EINVAL, 1, "lik", pi_likelihood_set_divergence(NULL, PI_DIVERGENCE_EXACT, 1)) \
    X(lset_threads_zero, PI_EINVAL, 1, "threads", pi_likelihood_set_threads(f->lik, 0)) \
    X(mget_threads_null, PI_EINVAL, 1, "model", pi_model_get_threads(NULL, &f->o_i)) \
    X(mget_threads_null_out, PI_EINVAL, 1, "threads", pi_model_get_threads(f->mlp, NULL)) \
    X(mlp_get_view_null, PI_EINVAL, 1, "model", pi_model_mlp_get_output_view(NULL, &f->o_view)) \
    X(mlp_get_view_null_out, PI_EINVAL, 1, "view", pi_model_mlp_get_output_view(f->mlp, NULL)) \
    X(mlp_get_view_gmm, PI_EUNSUPPORTED, 1, "MLP", pi_model_mlp_get_output_view(f->gmm, &f->o_view)) \
    X(mlp_get_emb_null, PI_EINVAL, 1, "model", pi_model_mlp_get_embedding(NULL, &f->o_emb, &f->o_size)) \
    X(mlp_get_emb_gmm, PI_EUNSUPPORTED, 1, "MLP", pi_model_mlp_get_embedding(f->gmm, &f->o_emb, &f->o_size)) \
    X(mlp_get_pre_null, PI_EINVAL, 1, "model", pi_model_mlp_get_preconditioning(NULL, &f->o_pre, &f->o_d)) \
    X(mlp_get_pre_emp, PI_EUNSUPPORTED, 1, "MLP", pi_model_mlp_get_preconditioning(f->emp, &f->o_pre, &f->o_d)) \
    X(mlp_get_shape_null, PI_EINVAL, 1, "model", pi_model_mlp_get_shape(NULL, &f->o_size, &f->o_size)) \
    X(mlp_get_shape_cb, PI_EUNSUPPORTED, 1, "MLP", pi_model_mlp_get_shape(f->cb, &f->o_size, &f->o_size)) \
    X(tget_learning_rate_null, PI_EINVAL, 1, "trainer", pi_trainer_get_learning_rate(NULL, &f->o_d)) \
    X(tget_learning_rate_null_out, PI_EINVAL, 1, "out", pi_trainer_get_learning_rate(f->tr, NULL)) \
    X(tget_batch_size_null, PI_EINVAL, 1, "trainer", pi_trainer_get_batch_size(NULL, &f->o_size)) \
    X(tget_batch_size_null_out, PI_EINVAL, 1, "out", pi_trainer_get_batch_size(f->tr, NULL)) \
    X(tget_weighting_null, PI_EINVAL, 1, "trainer", pi_trainer_get_weighting(NULL, &f->o_weighting)) \
    X(tget_weighting_null_out, PI_EINVAL, 1, "out", pi_trainer_get_weighting(f->tr, NULL)) \
    X(tget_time_sampling_null, PI_EINVAL, 1, "trainer", pi_trainer_get_time_sampling(NULL, &f->o_ts)) \
    X(tget_time_sampling_null_out, PI_EINVAL, 1, "out", pi_trainer_get_time_sampling(f->tr, NULL)) \
    X(tget_weight_decay_null, PI_EINVAL, 1, "trainer", pi_trainer_get_weight_decay(NULL, &f->o_d)) \
    X(tget_weight_decay_null_out, PI_EINVAL, 1, "out", pi_trainer_get_weight_decay(f->tr, NULL)) \
    X(tget_grad_clip_null, PI_EINVAL, 1, "trainer", pi_trainer_get_grad_clip(NULL, &f->o_d)) \
    X(tget_grad_clip_null_out, PI_EINVAL, 1, "out", pi_trainer_get_grad_clip(f->tr, NULL)) \
    X(tget_ema_null, PI_EINVAL, 1, "trainer", pi_trainer_get_ema(NULL, &f->o_d)) \
    X(tget_ema_null_out, PI_EINVAL, 1, "out", pi_trainer_get_ema(f->tr, NULL)) \
    X(tget_seed_null, PI_EINVAL, 1, "trainer", pi_trainer_get_seed(NULL, &f->o_u)) \
    X(tget_seed_null_out, PI_EINVAL, 1, "out", pi_trainer_get_seed(f->tr, NULL)) \
    X(tget_threads_null, PI_EINVAL, 1, "trainer", pi_trainer_get_threads(NULL, &f->o_i)) \
    X(tget_threads_null_out, PI_EINVAL, 1, "out", pi_trainer_get_threads(f->tr, NULL)) \
    X(tget_model_null, PI_EINVAL, 1, "trainer", pi_trainer_get_model(NULL, &f->o_model2)) \
    X(tget_model_null_out, PI_EINVAL, 1, "out", pi_trainer_get_model(f->tr, NULL)) \
    X(tget_lr_schedule_null, PI_EINVAL, 1, "trainer", pi_trainer_get_lr_schedule(NULL, &f->o_lrs, &f->o_u, &f->o_u)) \
    X(tget_lognormal_null, PI_EINVAL, 1, "trainer", pi_trainer_get_lognormal(NULL, &f->o_d, &f->o_d)) \
    X(tget_adam_null, PI_EINVAL, 1, "trainer", pi_trainer_get_adam(NULL, &f->o_d, &f->o_d, &f->o_d)) \
    X(tget_callback_null, PI_EINVAL, 1, "trainer", pi_trainer_get_callback(NULL, &f->o_trfn, &f->o_vp)) \
    X(option_info_zero, PI_EINVAL, 1, "option", pi_option_info((pi_option)0, NULL, NULL, NULL, NULL, NULL)) \
    /* issue 19: first row index of a run (sampler) and of a computation (likelihood) */ \
    X(set_first_row_null, PI_EINVAL, 1, "sampler", pi_sampler_set_first_row(NULL, 1)) \
    X(sget_first_row_null, PI_EINVAL, 1, "sampler", pi_sampler_get_first_row(NULL, &f->o_u)) \
    X(sget_first_row_null_out, PI_EINVAL, 1, "out", pi_sampler_get_first_row(f->s, NULL)) \
    X(lset_first_row_null, PI_EINVAL, 1, "lik", pi_likelihood_set_first_row(NULL, 1)) \
    X(lget_first_row_null, PI_EINVAL, 1, "lik", pi_likelihood_get_first_row(NULL, &f->o_u)) \
    X(lget_first_row_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_first_row(f->lik, NULL)) \
    X(run_first_row_overflow, PI_EINVAL, 1, "first_row", \
      (pi_sampler_set_first_row(f->s, UINT64_MAX - 2), pi_sampler_run(f->s, 4, f->out))) \
    X(run_from_first_row_overflow, PI_EINVAL, 1, "first_row", \
      (pi_sampler_set_first_row(f->s, UINT64_MAX), pi_sampler_run_from(f->s, 0.5, 2, f->out))) \
    X(nll_first_row_overflow, PI_EINVAL, 1, "first_row", \
      (pi_likelihood_set_first_row(f->lik, UINT64_MAX - 2), pi_likelihood_nll(f->lik, 4, f->x, f->dout, NULL))) \
    /* issue 16: time-keyed noise */                                                              \
    X(noise_null, PI_EINVAL, 1, "sampler", pi_sampler_set_noise(NULL, PI_NOISE_STEP))              \
    X(noise_zero, PI_EINVAL, 1, "noise", pi_sampler_set_noise(f->s, (pi_noise)0))                  \
    X(noise_high, PI_EINVAL, 1, "PI_NOISE_BROWNIAN", pi_sampler_set_noise(f->s, (pi_noise)3))     \
    X(sget_noise_null, PI_EINVAL, 1, "sampler", pi_sampler_get_noise(NULL, &f->o_noise))           \
    X(sget_noise_null_out, PI_EINVAL, 1, "out", pi_sampler_get_noise(f->s, NULL)) \
    /* issue 18: the stochastic WKB sweep */                                                     \
    X(wkb_probes_zero, PI_EINVAL, 1, "probes", pi_likelihood_set_wkb_probes(f->lik, 0))          \
    X(wkb_probes_huge, PI_EINVAL, 1, "probes", pi_likelihood_set_wkb_probes(f->lik, 4097))       \
    X(wkb_probes_null, PI_EINVAL, 1, "lik", pi_likelihood_set_wkb_probes(NULL, 4))               \
    X(wkb_probes_get_null, PI_EINVAL, 1, "lik", pi_likelihood_get_wkb_probes(NULL, &f->o_size))  \
    X(wkb_probes_get_null_out, PI_EINVAL, 1, "out", pi_likelihood_get_wkb_probes(f->lik, NULL))  \
    X(nll_wkb_null_lik, PI_EINVAL, 1, "lik",                                                     \
      pi_likelihood_nll_wkb(NULL, 4, f->x, f->dout, f->dout, f->dout))                           \
    X(nll_wkb_n0, PI_EINVAL, 1, "n", pi_likelihood_nll_wkb(f->lik, 0, f->x, f->dout, f->dout, f->dout)) \
    X(nll_wkb_null_x, PI_EINVAL, 1, "x",                                                         \
      pi_likelihood_nll_wkb(f->lik, 4, NULL, f->dout, f->dout, f->dout))                         \
    X(nll_wkb_null_c1, PI_EINVAL, 1, "c1_out",                                                   \
      pi_likelihood_nll_wkb(f->lik, 4, f->x, f->dout, NULL, f->dout))                            \
    X(nll_wkb_null_se, PI_EINVAL, 1, "c1_stderr_out",                                            \
      pi_likelihood_nll_wkb(f->lik, 4, f->x, f->dout, f->dout, NULL))                            \
    X(cb_deriv_null, PI_EINVAL, 1, "model", pi_model_callback_set_derivatives(NULL, deriv_fn, 1, NULL)) \
    X(cb_deriv_bits, PI_EINVAL, 1, "provided", pi_model_callback_set_derivatives(f->cb, deriv_fn, 32, NULL)) \
    X(cb_deriv_none, PI_EINVAL, 1, "provided", pi_model_callback_set_derivatives(f->cb, deriv_fn, 0, NULL)) \
    X(cb_deriv_null_fn, PI_EINVAL, 1, "fn", pi_model_callback_set_derivatives(f->cb, NULL, 3, NULL)) \
    X(cb_deriv_gmm, PI_EUNSUPPORTED, 1, "callback model",                                        \
      pi_model_callback_set_derivatives(f->gmm, deriv_fn, 1, NULL))                              \
    X(cb_deriv_get_null, PI_EINVAL, 1, "model", pi_model_callback_get_derivatives(NULL, NULL, NULL)) \
    X(cb_deriv_get_gmm, PI_EUNSUPPORTED, 1, "callback model",                                    \
      pi_model_callback_get_derivatives(f->gmm, NULL, NULL))

/* issue 15: conditions, guidance, inpainting (f->s samples the unconditional GMM). */
#define CASES_ISSUE15(X)                                                                         \
    X(cond_cb_no_condition, PI_EINVAL, 1, "classes|cond_dim",                                     \
      pi_model_create_callback_cond(f->sde, 2, PI_VIEW_SCORE, 0, 0, 1, cond_fn, NULL, &f->o_model)) \
    X(cond_cb_null_fn, PI_EINVAL, 1, "fn",                                                       \
      pi_model_create_callback_cond(f->sde, 2, PI_VIEW_SCORE, 3, 0, 1, NULL, NULL, &f->o_model)) \
    X(cond_cb_unconditional_2, PI_EINVAL, 1, "unconditional",                                    \
      pi_model_create_callback_cond(f->sde, 2, PI_VIEW_SCORE, 3, 0, 2, cond_fn, NULL, &f->o_model)) \
    X(cond_cb_dim0, PI_EINVAL, 1, "dim",                                                         \
      pi_model_create_callback_cond(f->sde, 0, PI_VIEW_SCORE, 3, 0, 1, cond_fn, NULL, &f->o_model)) \
    X(cond_cb_view0, PI_EINVAL, 1, "view",                                                       \
      pi_model_create_callback_cond(f->sde, 2, (pi_view)0, 3, 0, 1, cond_fn, NULL, &f->o_model)) \
    X(cond_cb_null_out, PI_EINVAL, 1, "out",                                                     \
      pi_model_create_callback_cond(f->sde, 2, PI_VIEW_SCORE, 3, 0, 1, cond_fn, NULL, NULL))     \
    X(get_conditions_null, PI_EINVAL, 1, "model",                                                \
      pi_model_get_conditions(NULL, &f->o_size, &f->o_size, &f->o_i))                            \
    X(eval_cond_unconditional, PI_EINVAL, 1, "condition",                                        \
      pi_model_eval_cond(f->gmm, PI_VIEW_SCORE, 4, f->x, f->t, f->labels, 0, NULL, NULL, f->out)) \
    X(eval_cond_null_x, PI_EINVAL, 1, "x",                                                       \
      pi_model_eval_cond(f->gmm, PI_VIEW_SCORE, 4, NULL, f->t, NULL, 0, NULL, NULL, f->out))     \
    X(set_conditions_null, PI_EINVAL, 1, "sampler",                                              \
      pi_sampler_set_conditions(NULL, 4, f->labels, 0, NULL, NULL))                              \
    X(set_conditions_unconditional, PI_EINVAL, 1, "condition",                                   \
      pi_sampler_set_conditions(f->s, 4, f->labels, 0, NULL, NULL))                              \
    X(set_conditions_clear_with_arrays, PI_EINVAL, 1, "n",                                       \
      pi_sampler_set_conditions(f->s, 0, f->labels, 0, NULL, NULL))                              \
    X(get_conditions_sampler_null, PI_EINVAL, 1, "sampler", pi_sampler_get_conditions(NULL, &f->o_size)) \
    X(get_conditions_null_out, PI_EINVAL, 1, "n", pi_sampler_get_conditions(f->s, NULL))         \
    X(guidance_nan, PI_EINVAL, 1, "w", pi_sampler_set_guidance(f->s, NAN))                       \
    X(guidance_neg, PI_EINVAL, 1, "w", pi_sampler_set_guidance(f->s, -1.0))                      \
    X(guidance_unconditional, PI_EINVAL, 1, "unconditional", pi_sampler_set_guidance(f->s, 2.0)) \
    X(guidance_null, PI_EINVAL, 1, "sampler", pi_sampler_set_guidance(NULL, 1.0))               \
    X(get_guidance_null, PI_EINVAL, 1, "sampler", pi_sampler_get_guidance(NULL, &f->o_d))        \
    X(rescale_nan, PI_EINVAL, 1, "phi", pi_sampler_set_guidance_rescale(f->s, NAN))              \
    X(rescale_big, PI_EINVAL, 1, "phi", pi_sampler_set_guidance_rescale(f->s, 1.5))              \
    X(get_rescale_null, PI_EINVAL, 1, "sampler", pi_sampler_get_guidance_rescale(NULL, &f->o_d)) \
    X(interval_nan, PI_EINVAL, 1, "sigma_min", pi_sampler_set_guidance_interval(f->s, NAN, 1.0)) \
    X(interval_reversed, PI_EINVAL, 1, "sigma_min",                                              \
      pi_sampler_set_guidance_interval(f->s, 2.0, 1.0))                                          \
    X(get_interval_null, PI_EINVAL, 1, "sampler",                                                \
      pi_sampler_get_guidance_interval(NULL, &f->o_d, &f->o_d))                                  \
    X(cfgpp_2, PI_EINVAL, 1, "enabled", pi_sampler_set_cfgpp(f->s, 2))                           \
    X(get_cfgpp_null, PI_EINVAL, 1, "sampler", pi_sampler_get_cfgpp(NULL, &f->o_i))              \
    X(inpaint_null_known, PI_EINVAL, 1, "known", pi_sampler_set_inpainting(f->s, 4, NULL, f->x)) \
    X(inpaint_nan_known, PI_EINVAL, 1, "known",                                                  \
      pi_sampler_set_inpainting(f->s, 4, f->x_nan, f->mask))                                     \
    X(inpaint_mask_range, PI_EINVAL, 1, "mask", pi_sampler_set_inpainting(f->s, 4, f->x, f->data)) \
    X(inpaint_null, PI_EINVAL, 1, "sampler", pi_sampler_set_inpainting(NULL, 4, f->x, f->mask))  \
    X(get_inpaint_null, PI_EINVAL, 1, "sampler", pi_sampler_get_inpainting(NULL, &f->o_size))                 \
    X(mlp_cond_none, PI_EINVAL, 1, "classes|cond_dim",                                           \
      pi_model_create_mlp_cond(f->sde, 2, 8, 1, 0, 0, &f->o_model))                              \
    X(mlp_cond_huge_classes, PI_EINVAL, 1, "classes",                                            \
      pi_model_create_mlp_cond(f->sde, 2, 8, 1, HUGE_N, 0, &f->o_model))                         \
    X(mlp_cond_null_out, PI_EINVAL, 1, "out", pi_model_create_mlp_cond(f->sde, 2, 8, 1, 3, 0, NULL)) \
    X(cond_dropout_one, PI_EINVAL, 1, "p", pi_trainer_set_cond_dropout(f->tr, 1.0))              \
    X(cond_dropout_nan, PI_EINVAL, 1, "p", pi_trainer_set_cond_dropout(f->tr, NAN))              \
    X(cond_dropout_null, PI_EINVAL, 1, "trainer", pi_trainer_set_cond_dropout(NULL, 0.1))       \
    X(get_cond_dropout_null, PI_EINVAL, 1, "trainer", pi_trainer_get_cond_dropout(NULL, &f->o_d)) \
    X(fit_cond_unconditional, PI_EINVAL, 1, "condition",                                         \
      pi_trainer_fit_cond(f->tr, 4, f->data, f->labels, 0, NULL, 1))                             \
    X(fit_cond_null_data, PI_EINVAL, 1, "data", pi_trainer_fit_cond(f->tr, 4, NULL, f->labels, 0, NULL, 1))

/* Issue 17: what this process runs. */
#define CASES_ISSUE17(X)                                                                         \
    X(cpu_feature_null_name, PI_EINVAL, 1, "name", pi_cpu_feature_at(0, NULL, &f->o_i))          \
    X(cpu_feature_null_supported, PI_EINVAL, 1, "supported", pi_cpu_feature_at(0, &(const char *){NULL}, NULL)) \
    X(cpu_feature_past_end, PI_EINVAL, 1, "index", pi_cpu_feature_at(9, &(const char *){NULL}, &f->o_i))

/* Issue 18 (second round): the second WKB coefficient. */
#define CASES_ISSUE18B(X)                                                                        \
    X(nll_wkb2_null_lik, PI_EINVAL, 1, "lik",                                                    \
      pi_likelihood_nll_wkb2(NULL, 4, f->x, f->dout, f->dout, f->dout))                          \
    X(nll_wkb2_n0, PI_EINVAL, 1, "n", pi_likelihood_nll_wkb2(f->lik, 0, f->x, f->dout, f->dout, f->dout)) \
    X(nll_wkb2_null_x, PI_EINVAL, 1, "x",                                                        \
      pi_likelihood_nll_wkb2(f->lik, 4, NULL, f->dout, f->dout, f->dout))                        \
    X(nll_wkb2_null_nll, PI_EINVAL, 1, "nll_out",                                                \
      pi_likelihood_nll_wkb2(f->lik, 4, f->x, NULL, f->dout, f->dout))                           \
    X(nll_wkb2_null_c1, PI_EINVAL, 1, "c1_out",                                                  \
      pi_likelihood_nll_wkb2(f->lik, 4, f->x, f->dout, NULL, f->dout))                           \
    X(nll_wkb2_null_c2, PI_EINVAL, 1, "c2_out",                                                  \
      pi_likelihood_nll_wkb2(f->lik, 4, f->x, f->dout, f->dout, NULL))                           \
    X(nll_wkb2_huge, PI_EINVAL, 1, "n", pi_likelihood_nll_wkb2(f->lik, HUGE_N, f->x, f->dout, f->dout, f->dout))

/* Issue 18 (part B): the stochastic c2 with standard errors. */
#define CASES_ISSUE18C(X)                                                                        \
    X(nll_wkb2_ex_null_lik, PI_EINVAL, 1, "lik",                                                 \
      pi_likelihood_nll_wkb2_ex(NULL, 4, f->x, f->dout, f->dout, f->dout, f->dout, f->dout))     \
    X(nll_wkb2_ex_n0, PI_EINVAL, 1, "n",                                                         \
      pi_likelihood_nll_wkb2_ex(f->lik, 0, f->x, f->dout, f->dout, f->dout, f->dout, f->dout))   \
    X(nll_wkb2_ex_null_x, PI_EINVAL, 1, "x",                                                     \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, NULL, f->dout, f->dout, f->dout, f->dout, f->dout))   \
    X(nll_wkb2_ex_null_nll, PI_EINVAL, 1, "nll_out",                                             \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, f->x, NULL, f->dout, f->dout, f->dout, f->dout))      \
    X(nll_wkb2_ex_null_c1, PI_EINVAL, 1, "c1_out",                                               \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, f->x, f->dout, NULL, f->dout, f->dout, f->dout))      \
    X(nll_wkb2_ex_null_c1se, PI_EINVAL, 1, "c1_stderr_out",                                      \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, f->x, f->dout, f->dout, NULL, f->dout, f->dout))      \
    X(nll_wkb2_ex_null_c2, PI_EINVAL, 1, "c2_out",                                               \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, f->x, f->dout, f->dout, f->dout, NULL, f->dout))      \
    X(nll_wkb2_ex_null_c2se, PI_EINVAL, 1, "c2_stderr_out",                                      \
      pi_likelihood_nll_wkb2_ex(f->lik, 4, f->x, f->dout, f->dout, f->dout, f->dout, NULL))      \
    X(nll_wkb2_ex_huge, PI_EINVAL, 1, "n",                                                       \
      pi_likelihood_nll_wkb2_ex(f->lik, HUGE_N, f->x, f->dout, f->dout, f->dout, f->dout, f->dout))

#define ALL_CASES(X)                                                                             \
    CASES_SDE(X) CASES_MODEL(X) CASES_SAMPLER(X) CASES_DATA(X) CASES_FILES(X)                    \
    CASES_LIKELIHOOD(X) CASES_TRAINER(X) CASES_GETTERS(X) CASES_ISSUE14(X) CASES_ISSUE15(X) \
    CASES_ISSUE17(X) CASES_ISSUE18B(X) CASES_ISSUE18C(X)

#define DEFINE_CASE(label, e1, e2, arg, call)                                                    \
    static pi_status case_##label(fx *f)                                                         \
    {                                                                                            \
        (void)f;                                                                                 \
        return (call);                                                                           \
    }
ALL_CASES(DEFINE_CASE)

typedef struct bad_case {
    const char *label;
    pi_status (*call)(fx *f);
    int expect1, expect2;
    const char *arg;
} bad_case;

#define TABLE_ROW(label, e1, e2, arg, call) {#label, case_##label, e1, e2, arg},
static const bad_case cases[] = {ALL_CASES(TABLE_ROW)};

static void fixture_init(fx *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(pi_sde_create(VP, &f->sde), PI_OK);
    f->w[0] = 0.4;
    f->w[1] = 0.6;
    for (int i = 0; i < 4; i++) {
        f->mu[i] = i - 1.5;
        f->var[i] = 0.1;
        f->mu_inf[i] = i == 3 ? INFINITY : f->mu[i];
        f->var_neg[i] = i == 2 ? -0.1 : 0.1;
        f->var_nan[i] = i == 1 ? NAN : 0.1;
    }
    f->w_nan[0] = 0.4;
    f->w_nan[1] = NAN;
    f->w_neg[0] = -0.4;
    f->w_neg[1] = 0.6;
    for (int i = 0; i < 8; i++) {
        f->x[i] = 0.1f * (float)i - 0.3f;
        f->x_nan[i] = i == 5 ? NAN : f->x[i];
        f->x_inf[i] = i == 6 ? INFINITY : f->x[i];
        f->out[i] = 123.0f;
    }
    for (int i = 0; i < 16; i++)
        f->data[i] = (float)i * 0.25f;
    for (int i = 0; i < 8; i++)
        f->mask[i] = 0.5f;
    for (int i = 0; i < 4; i++)
        f->labels[i] = i % 2;
    for (int i = 0; i < 4; i++) {
        f->t[i] = 0.2 + 0.2 * i;
        f->t_nan[i] = i == 2 ? NAN : f->t[i];
        f->t_inf[i] = i == 3 ? INFINITY : f->t[i];
        f->t_big[i] = i == 1 ? 7.5 : f->t[i];
    }
    f->times_up[0] = 0.1;
    f->times_up[1] = 0.5;
    f->times_up[2] = 0.9;
    f->times_nan[0] = 0.9;
    f->times_nan[1] = NAN;
    f->times_nan[2] = 0.01;
    f->times_wide[0] = 3.0;
    f->times_wide[1] = 0.5;
    f->times_wide[2] = 0.01;
    assert_int_equal(pi_model_create_gmm(f->sde, 2, 2, f->w, f->mu, f->var, &f->gmm), PI_OK);
    assert_int_equal(pi_model_create_mlp(f->sde, 2, 8, 1, &f->mlp), PI_OK);
    assert_int_equal(pi_model_create_empirical(f->sde, 2, 8, f->data, &f->emp), PI_OK);
    assert_int_equal(pi_sampler_create(f->gmm, &f->s), PI_OK);
    assert_int_equal(pi_likelihood_create(f->gmm, &f->lik), PI_OK);
    assert_int_equal(pi_model_create_callback(f->sde, 2, PI_VIEW_SCORE, model_fn, NULL, &f->cb),
                     PI_OK);
    assert_int_equal(pi_trainer_create(f->mlp, &f->tr), PI_OK);
    f->o_trainer = SENT_PTR;
    f->o_sde = SENT_PTR;
    f->o_model = SENT_PTR;
    f->o_sampler = SENT_PTR;
    f->o_size = 777;
    f->o_d = 777.0;
    f->o_fp = SENT_PTR;
    f->o_i = 777;
    f->o_u = 777;
    f->o_cmodel = SENT_PTR;
    f->o_model2 = SENT_PTR;
    f->o_vp = SENT_PTR;
    f->o_method = (pi_method)77;
    f->o_view = (pi_view)77;
    f->o_weighting = (pi_weighting)77;
}

static void fixture_free(fx *f)
{
    pi_trainer_destroy(f->tr);
    pi_model_destroy(f->cb);
    pi_sampler_destroy(f->s);
    pi_likelihood_destroy(f->lik);
    pi_model_destroy(f->gmm);
    pi_model_destroy(f->mlp);
    pi_model_destroy(f->emp);
    pi_sde_destroy(f->sde);
}

static int names_argument(const char *msg, const char *args)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", args);
    for (char *tok = strtok(buf, "|"); tok != NULL; tok = strtok(NULL, "|"))
        if (strstr(msg, tok) != NULL)
            return 1;
    return 0;
}

static void test_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        fx f;
        fixture_init(&f); /* a fresh fixture per row: rows cannot influence each other */
        pi_status st = c->call(&f);
        const char *msg = pi_last_error();
        int ok_status = st == c->expect1 || st == c->expect2;
        int ok_msg = names_argument(msg, c->arg);
        int ok_out = f.o_sde == SENT_PTR && f.o_model == SENT_PTR && f.o_sampler == SENT_PTR &&
                     f.o_trainer == SENT_PTR &&
                     f.o_size == 777 && f.o_d == 777.0 && f.o_fp == SENT_PTR && f.o_i == 777 &&
                     f.o_u == 777 && f.o_cmodel == SENT_PTR && f.o_model2 == SENT_PTR &&
                     f.o_vp == SENT_PTR && (int)f.o_method == 77 && (int)f.o_view == 77 &&
                     (int)f.o_weighting == 77;
        int ok_buf = 1;
        for (int k = 0; k < 8; k++)
            ok_buf &= f.out[k] == 123.0f;
        if (!ok_status || !ok_msg || !ok_out || !ok_buf) {
            int known = 0;
            for (size_t k = 0; k < sizeof known_bugs / sizeof known_bugs[0]; k++)
                known |= strcmp(known_bugs[k], c->label) == 0;
            failures += !known;
            print_message("%s %-28s status %d (%s), want %d; message \"%s\" %s; out-params %s; "
                          "buffers %s\n",
                          known ? "KNOWN BUG" : "FAIL", c->label, st, pi_status_string(st),
                          c->expect1, msg, ok_msg ? "ok" : "does not name the argument",
                          ok_out ? "ok" : "TOUCHED", ok_buf ? "ok" : "TOUCHED");
        }
        /* Clean up anything a wrongly succeeding call created. */
        if (f.o_sde != SENT_PTR)
            pi_sde_destroy(f.o_sde);
        if (f.o_model != SENT_PTR)
            pi_model_destroy(f.o_model);
        if (f.o_sampler != SENT_PTR)
            pi_sampler_destroy(f.o_sampler);
        if (f.o_trainer != SENT_PTR)
            pi_trainer_destroy(f.o_trainer);
        if (f.o_fp != SENT_PTR)
            pi_free(f.o_fp);
        fixture_free(&f);
    }
    print_message("%zu rows, %d failures\n", sizeof cases / sizeof cases[0], failures);
    assert_int_equal(failures, 0);
}

/* Functions without a status: destroy(NULL) is a no-op, strings are never NULL. */
static void test_total_functions(void **state)
{
    (void)state;
    pi_sde_destroy(NULL);
    pi_model_destroy(NULL);
    pi_sampler_destroy(NULL);
    pi_trainer_destroy(NULL);
    pi_free(NULL);
    const int codes[] = {0, -1, -11, 1, 12345, -2147483647 - 1};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_non_null(pi_status_string(codes[i]));
    assert_non_null(pi_last_error());
    assert_non_null(pi_version_string());
}

int main(void)
{
    snprintf(bad_ext_path, sizeof bad_ext_path, "/tmp/pi_bad_input_%ld.xyz", (long)getpid());
    FILE *fp = fopen(bad_ext_path, "w");
    if (fp != NULL) {
        fputs("1,2\n3,4\n", fp);
        fclose(fp);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_total_functions),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove(bad_ext_path);
    remove("/tmp/pi_bad_input.npy");
    remove("/tmp/pi_bad_input.pim");
    remove("/tmp/pi_bad_input.safetensors");
    remove("/tmp/pi_bad_input.ckpt");
    return rc;
}
