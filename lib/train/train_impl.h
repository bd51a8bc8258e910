/* Internal interface of the trainer (MATH.md §5): the trainer state, the denoising score
 * matching terms (loss.c), the optimiser pieces (adam.c), checkpoints (checkpoint.c) and the
 * action bound (bound.c). Tests include this header to check each piece on its own. */
#ifndef PI_TRAIN_IMPL_H
#define PI_TRAIN_IMPL_H

#include "model/model_impl.h"

/* ---- denoising score matching terms (loss.c) ------------------------------------------- */

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

/* ---- optimiser (adam.c) --------------------------------------------------------------- */

/* Learning rate for the step with 0-based index k: linear warm-up over warmup steps, then
 * constant or cosine decay to 0 at total steps. */
double pi_lr_at(double lr, pi_lr_schedule schedule, uint64_t warmup, uint64_t total, uint64_t k);

/* ‖g‖₂ accumulated in double (NaN/Inf propagate). */
double pi_grad_norm(const float *g, size_t count);

/* PyTorch's clip_grad_norm_: if norm > max_norm, g *= max_norm / (norm + 1e-6). Returns the
 * factor applied (1 if none). max_norm <= 0 disables clipping. */
double pi_grad_clip(float *g, size_t count, double norm, double max_norm);

/* One AdamW step (PyTorch's torch.optim.AdamW, foreach=False arithmetic in float):
 *   p ← p (1 − lr·wd);  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
 *   p ← p − (lr / (1 − β1^k)) · m / (√v / √(1 − β2^k) + ε),   k = step (1-based). */
void pi_adam_update(float *p, const float *g, float *m, float *v, size_t count, double lr,
                    double beta1, double beta2, double eps, double weight_decay, uint64_t step);

/* ema ← decay · ema + (1 − decay) · p. */
void pi_ema_update(float *ema, const float *p, size_t count, double decay);

/* ---- the trainer ---------------------------------------------------------------------- */

struct pi_trainer {
    pi_model_t *model; /* borrowed */
    size_t num_params;

    /* options (sticky) */
    double lr;
    pi_lr_schedule schedule;
    uint64_t warmup, total;
    size_t batch;
    pi_weighting weighting;
    pi_time_sampling sampling;
    double p_mean, p_std;
    double beta1, beta2, eps;
    double weight_decay, grad_clip, ema_decay;
    uint64_t seed;
    int threads;
    pi_pool *pool;      /* `threads` workers, made at first use, remade after a thread change */
    pi_train_fn callback;
    void *user_data;

    /* state */
    uint64_t step;      /* steps taken; also the RNG position (Philox sample index) */
    int ema_valid;      /* ema holds a copy (set at the first step) */
    int ema_in_model;   /* the model holds the EMA weights, raw holds the training weights */
    double loss_ema;    /* smoothed loss reported to the callback */
    int have_loss_ema;
    float *raw, *ema, *adam_m, *adam_v; /* num_params each */

    /* per-batch workspace (allocated at the first step after a batch-size change) */
    size_t ws_batch;
    void *ws_raw, *ws;   /* MLP training scratch, 64-byte aligned */
    float *x0, *z, *xt, *target, *out, *dout, *grad;
    double *t, *w;
};

/* The trainer's parameters live in the model: this returns them (NULL if the architecture
 * changed since the trainer was created, with the message set). */
float *pi_trainer_params(pi_trainer_t *tr, pi_status *st);

/* Put the training (raw) weights back into the model if it holds the EMA weights. */
void pi_trainer_use_raw(pi_trainer_t *tr, float *params);

/* The action bound with an explicit thread count (bound.c). */
pi_status pi_action_bound_threads(const pi_model_t *model, size_t n, const float *data,
                                  size_t samples, uint64_t seed, int threads, pi_pool *pool,
                                  double *bound, double *stderr_out);

/* Allocate the state arrays of a trainer for num_params parameters (trainer.c). */
pi_status pi_trainer_alloc(pi_model_t *model, pi_trainer_t **out);

#endif
