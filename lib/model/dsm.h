/* Denoising score matching terms of a model (MATH.md §5): time draws, per-row weights and
 * native-view targets, and the weighted loss. The trainer minimises them; the likelihood's
 * action bound evaluates them with the likelihood weighting. */
#ifndef PI_MODEL_DSM_H
#define PI_MODEL_DSM_H

#include "model_impl.h"

/* ---- denoising score matching terms (dsm.c) ------------------------------------------- */

/* Per-run constants of the loss: weighting, time sampling and the SDE's range. */
typedef struct pi_dsm_setup {
    const pi_model_t *model;
    pi_weighting weighting;
    pi_time_sampling sampling;
    double p_mean, p_std;  /* log-normal σ̃ sampling */
    double sigma_data;     /* EDM weighting (the MLP's σ_data, else 0.5) */
    double t_min, t_max;
    double log_st_min, log_st_max; /* log σ̃ at t_min and T */
} pi_dsm_setup;

/* Prepare the constants; PI_EUNSUPPORTED if σ̃(t_min) is not > 0 (no finite loss). */
pi_status pi_dsm_setup_init(pi_dsm_setup *s, const pi_model_t *m, pi_weighting weighting,
                            pi_time_sampling sampling, double p_mean, double p_std);

/* A time from one uniform u ∈ (0, 1] (uniform and importance sampling) or one standard normal
 * (log-normal), and the density ratio that makes the estimate unbiased for the uniform-t loss
 * (1 for uniform and log-normal sampling; see docs/training.md). */
pi_status pi_dsm_sample_time(const pi_dsm_setup *s, double u, double normal, double *t,
                             double *ratio);

/* What one row of the loss needs at time t: x_t = α x0 + σ z, and the native-view output is
 * compared with a target with weight w so that  w ‖out − target‖² = ratio · λ ‖s + z/σ‖². */
typedef struct pi_dsm_row {
    double t, alpha, sigma;
    double weight; /* w = ratio · λ / a², out = a · s + b in the native view */
} pi_dsm_row;

pi_status pi_dsm_row_at(const pi_dsm_setup *s, double t, double ratio, pi_dsm_row *row);

/* x_t and the native-view target of one row from x0 and z (dim values each). */
void pi_dsm_target(pi_view view, size_t dim, const float *x0, const float *z, double alpha,
                   double sigma, float *x_t, float *target);

/* σ-scaled residual factor: ‖s + z/σ‖² = ‖out − target‖² / a², a of the native view. */
double pi_dsm_view_scale(pi_view view, double alpha, double sigma);

/* (1/n) Σ_i w_i ‖out_i − target_i‖² in double; if dout is not NULL it receives the gradient
 * 2 w_i (out_i − target_i) / n. */
double pi_dsm_loss(size_t n, size_t dim, const float *out, const float *target, const double *w,
                   float *dout);

#endif
