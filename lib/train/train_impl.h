/* Internal interface of the trainer (MATH.md §5): the trainer state, the optimiser pieces
 * (adam.c) and checkpoints (checkpoint.c); the denoising-score-matching terms it minimises are
 * the model's (model/dsm.h). Tests include this header to check each piece on its own. */
#ifndef PI_TRAIN_IMPL_H
#define PI_TRAIN_IMPL_H

#include "model/dsm.h"
#include "model/model_impl.h"

#include <stdatomic.h>

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
/* The same through a forced instruction set (0 scalar, 2 AVX-512F; -1 = the CPU's best), for
 * the test that both give the same bits; the caller checks that the CPU has it. */
void pi_adam_update_isa(int isa, float *p, const float *g, float *m, float *v, size_t count,
                        double lr, double beta1, double beta2, double eps, double weight_decay,
                        uint64_t step);

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
    atomic_int cancel;  /* set by pi_trainer_cancel() while fitting */
    atomic_int running; /* pi_trainer_fit is in progress */

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

    /* conditions (issue 15) */
    double cond_dropout;       /* probability that a row trains the null condition */
    const int32_t *fit_labels; /* borrowed for one pi_trainer_fit_cond, else NULL */
    const float *fit_cond;
    int32_t *blabels;          /* batch labels */
    float *bcond;              /* batch × cond_dim vectors */
};

/* The trainer's parameters live in the model: this returns them (NULL if the architecture
 * changed since the trainer was created, with the message set). */
float *pi_trainer_params(pi_trainer_t *tr, pi_status *st);

/* Put the training (raw) weights back into the model if it holds the EMA weights. */
void pi_trainer_use_raw(pi_trainer_t *tr, float *params);


/* Allocate the state arrays of a trainer for num_params parameters (trainer.c). */
pi_status pi_trainer_alloc(pi_model_t *model, pi_trainer_t **out);

#endif
