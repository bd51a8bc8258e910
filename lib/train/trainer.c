/* pi_trainer_t: denoising score matching with AdamW, clipping, a learning-rate schedule and
 * an EMA of weights (MATH.md §5, docs/training.md).
 *
 * Randomness: step k (0-based, the trainer's step counter) draws everything from Philox
 * stream PI_STREAM_TRAIN with sample = k and step = purpose: 0 data indices (uniform),
 * 1 times (uniform), 2 noise z (normal, row-major batch × dim), 3 log-normal times (normal).
 * Batches are drawn with replacement, so n < batch is fine. With a fixed seed and thread
 * count, training is bitwise reproducible, and a checkpoint (step counter + seed) resumes the
 * same stream.
 *
 * Weights: the model holds the training ("raw") weights during steps; pi_trainer_fit ends by
 * moving them to tr->raw and putting the EMA weights in the model; the next step or fit moves
 * the raw weights back first. */
#define _POSIX_C_SOURCE 200809L
#include "train/train_impl.h"

#include "core/options.h"
#include "core/philox.h"

#include <string.h>
#include <time.h>

#define LOSS_EMA_DECAY 0.99

enum train_purpose { DRAW_INDEX = 0, DRAW_TIME = 1, DRAW_NOISE = 2, DRAW_LOGNORMAL = 3, DRAW_COND = 4 };

/* ---- creation -------------------------------------------------------------------------- */

pi_status pi_trainer_alloc(pi_model_t *model, pi_trainer_t **out)
{
    size_t count = 0;
    if (pi_model_param_vector(model, &count) == NULL || count == 0)
        return pi_fail(PI_EUNSUPPORTED,
                       "pi_trainer_create: model must be a trainable MLP (PI_MODEL_KIND_MLP), got a "
                       "%s model",
                       model->type->name);
    pi_trainer_t *tr = pi_calloc(1, sizeof *tr);
    if (tr == NULL)
        return pi_fail(PI_ENOMEM, "pi_trainer_create: out of memory");
    tr->model = model;
    tr->num_params = count;
    tr->raw = pi_alloc_array(count, sizeof(float));
    tr->ema = pi_alloc_array(count, sizeof(float));
    tr->adam_m = pi_calloc(count, sizeof(float));
    tr->adam_v = pi_calloc(count, sizeof(float));
    if (tr->raw == NULL || tr->ema == NULL || tr->adam_m == NULL || tr->adam_v == NULL) {
        pi_trainer_destroy(tr);
        return pi_fail(PI_ENOMEM, "pi_trainer_create: out of memory for 4 x %zu parameters",
                       count);
    }
    /* Defaults from the one option table (core/options.c). */
    tr->lr = pi_option_default(PI_OPTION_TRAINER_LEARNING_RATE);
    tr->cond_dropout = pi_option_default(PI_OPTION_TRAINER_COND_DROPOUT);
    tr->schedule = (pi_lr_schedule)pi_option_default(PI_OPTION_TRAINER_LR_SCHEDULE);
    tr->warmup = (uint64_t)pi_option_default(PI_OPTION_TRAINER_WARMUP_STEPS);
    tr->total = (uint64_t)pi_option_default(PI_OPTION_TRAINER_TOTAL_STEPS);
    tr->batch = (size_t)pi_option_default(PI_OPTION_TRAINER_BATCH_SIZE);
    tr->weighting = (pi_weighting)pi_option_default(PI_OPTION_TRAINER_WEIGHTING);
    tr->sampling = (pi_time_sampling)pi_option_default(PI_OPTION_TRAINER_TIME_SAMPLING);
    tr->p_mean = pi_option_default(PI_OPTION_TRAINER_LOGNORMAL_MEAN);
    tr->p_std = pi_option_default(PI_OPTION_TRAINER_LOGNORMAL_STD);
    tr->beta1 = pi_option_default(PI_OPTION_TRAINER_ADAM_BETA1);
    tr->beta2 = pi_option_default(PI_OPTION_TRAINER_ADAM_BETA2);
    tr->eps = pi_option_default(PI_OPTION_TRAINER_ADAM_EPS);
    tr->weight_decay = pi_option_default(PI_OPTION_TRAINER_WEIGHT_DECAY);
    tr->grad_clip = pi_option_default(PI_OPTION_TRAINER_GRAD_CLIP);
    tr->ema_decay = pi_option_default(PI_OPTION_TRAINER_EMA);
    tr->seed = (uint64_t)pi_option_default(PI_OPTION_TRAINER_SEED);
    tr->threads = (int)pi_option_default(PI_OPTION_TRAINER_THREADS);
    atomic_init(&tr->cancel, 0);
    atomic_init(&tr->running, 0);
    *out = tr;
    return PI_OK;
}

pi_status pi_trainer_create(pi_model_t *model, pi_trainer_t **out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    return pi_trainer_alloc(model, out);
}

static void free_workspace(pi_trainer_t *tr)
{
    pi_free(tr->ws_raw);
    pi_free(tr->x0);
    pi_free(tr->z);
    pi_free(tr->xt);
    pi_free(tr->target);
    pi_free(tr->out);
    pi_free(tr->dout);
    pi_free(tr->grad);
    pi_free(tr->t);
    pi_free(tr->w);
    pi_free(tr->blabels);
    pi_free(tr->bcond);
    tr->blabels = NULL;
    tr->bcond = NULL;
    tr->ws_raw = tr->ws = NULL;
    tr->x0 = tr->z = tr->xt = tr->target = tr->out = tr->dout = tr->grad = NULL;
    tr->t = tr->w = NULL;
    tr->ws_batch = 0;
}

void pi_trainer_destroy(pi_trainer_t *trainer)
{
    if (trainer == NULL)
        return;
    free_workspace(trainer);
    pi_pool_destroy(trainer->pool);
    pi_free(trainer->raw);
    pi_free(trainer->ema);
    pi_free(trainer->adam_m);
    pi_free(trainer->adam_v);
    pi_free(trainer);
}

/* ---- setters --------------------------------------------------------------------------- */

PI_DEFINE_OPTION_SETTER(pi_trainer_set_learning_rate, pi_trainer_t, trainer, double, lr,
                        pi_option_check, PI_OPTION_TRAINER_LEARNING_RATE, trainer->lr)

pi_status pi_trainer_set_lr_schedule(pi_trainer_t *trainer, pi_lr_schedule schedule,
                                     uint64_t warmup_steps, uint64_t total_steps)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_OPTION(pi_option_check_int, PI_OPTION_TRAINER_LR_SCHEDULE, (int)schedule);
    PI_CHECK_OPTION(pi_option_check_u64, PI_OPTION_TRAINER_WARMUP_STEPS, warmup_steps);
    PI_CHECK_OPTION(pi_option_check_u64, PI_OPTION_TRAINER_TOTAL_STEPS, total_steps);
    if (schedule == PI_LR_SCHEDULE_COSINE && total_steps <= warmup_steps)
        return pi_fail(PI_EINVAL,
                       "pi_trainer_set_lr_schedule: total_steps must be > warmup_steps (%llu) for "
                       "the cosine schedule, got %llu",
                       (unsigned long long)warmup_steps, (unsigned long long)total_steps);
    trainer->schedule = schedule;
    trainer->warmup = warmup_steps;
    trainer->total = total_steps;
    return PI_OK;
}

pi_status pi_trainer_set_batch_size(pi_trainer_t *trainer, size_t batch)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_OPTION(pi_option_check_size, PI_OPTION_TRAINER_BATCH_SIZE, batch);
    if (batch != trainer->batch)
        free_workspace(trainer);
    trainer->batch = batch;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER(pi_trainer_set_weighting, pi_trainer_t, trainer, pi_weighting, weighting,
                        pi_option_check_int, PI_OPTION_TRAINER_WEIGHTING, trainer->weighting)

PI_DEFINE_OPTION_SETTER(pi_trainer_set_time_sampling, pi_trainer_t, trainer, pi_time_sampling,
                        sampling, pi_option_check_int, PI_OPTION_TRAINER_TIME_SAMPLING,
                        trainer->sampling)

PI_DEFINE_OPTION_SETTER2(pi_trainer_set_lognormal, pi_trainer_t, trainer,
                         double, p_mean, pi_option_check, PI_OPTION_TRAINER_LOGNORMAL_MEAN,
                         trainer->p_mean,
                         double, p_std, pi_option_check, PI_OPTION_TRAINER_LOGNORMAL_STD,
                         trainer->p_std)

pi_status pi_trainer_set_adam(pi_trainer_t *trainer, double beta1, double beta2, double eps)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_TRAINER_ADAM_BETA1, beta1);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_TRAINER_ADAM_BETA2, beta2);
    PI_CHECK_OPTION(pi_option_check, PI_OPTION_TRAINER_ADAM_EPS, eps);
    trainer->beta1 = beta1;
    trainer->beta2 = beta2;
    trainer->eps = eps;
    return PI_OK;
}

PI_DEFINE_OPTION_SETTER(pi_trainer_set_weight_decay, pi_trainer_t, trainer, double, decay,
                        pi_option_check, PI_OPTION_TRAINER_WEIGHT_DECAY, trainer->weight_decay)

PI_DEFINE_OPTION_SETTER(pi_trainer_set_grad_clip, pi_trainer_t, trainer, double, max_norm,
                        pi_option_check, PI_OPTION_TRAINER_GRAD_CLIP, trainer->grad_clip)

PI_DEFINE_OPTION_SETTER(pi_trainer_set_ema, pi_trainer_t, trainer, double, decay,
                        pi_option_check, PI_OPTION_TRAINER_EMA, trainer->ema_decay)

PI_DEFINE_OPTION_SETTER(pi_trainer_set_seed, pi_trainer_t, trainer, uint64_t, seed,
                        pi_option_check_u64, PI_OPTION_TRAINER_SEED, trainer->seed)

PI_DEFINE_OPTION_SETTER(pi_trainer_set_threads, pi_trainer_t, trainer, int, threads,
                        pi_option_check_int, PI_OPTION_TRAINER_THREADS, trainer->threads)

/* The trainer's pool of `threads` workers (remade here, between steps, after a change). */
static pi_status trainer_pool(pi_trainer_t *tr, pi_pool **out)
{
    return pi_pool_fit(&tr->pool, tr->threads, out);
}

pi_status pi_trainer_set_callback(pi_trainer_t *trainer, pi_train_fn fn, void *user_data)
{
    PI_CHECK_NULL(trainer);
    trainer->callback = fn;
    trainer->user_data = fn != NULL ? user_data : NULL;
    return PI_OK;
}

pi_status pi_trainer_cancel(pi_trainer_t *trainer)
{
    PI_CHECK_NULL(trainer);
    /* Only a running fit is canceled: a cancel while idle must not stop the next one. */
    if (atomic_load(&trainer->running))
        atomic_store(&trainer->cancel, 1);
    return PI_OK;
}

/* ---- getters --------------------------------------------------------------------------- */

PI_DEFINE_GETTER(pi_trainer_get_model, pi_trainer_t, trainer, pi_model_t *, trainer->model)
PI_DEFINE_GETTER(pi_trainer_get_learning_rate, pi_trainer_t, trainer, double, trainer->lr)
PI_DEFINE_GETTER(pi_trainer_get_batch_size, pi_trainer_t, trainer, size_t, trainer->batch)
PI_DEFINE_GETTER(pi_trainer_get_weighting, pi_trainer_t, trainer, pi_weighting, trainer->weighting)
PI_DEFINE_GETTER(pi_trainer_get_time_sampling, pi_trainer_t, trainer, pi_time_sampling, trainer->sampling)
PI_DEFINE_GETTER(pi_trainer_get_weight_decay, pi_trainer_t, trainer, double, trainer->weight_decay)
PI_DEFINE_GETTER(pi_trainer_get_grad_clip, pi_trainer_t, trainer, double, trainer->grad_clip)
PI_DEFINE_GETTER(pi_trainer_get_ema, pi_trainer_t, trainer, double, trainer->ema_decay)
PI_DEFINE_GETTER(pi_trainer_get_seed, pi_trainer_t, trainer, uint64_t, trainer->seed)
PI_DEFINE_GETTER(pi_trainer_get_threads, pi_trainer_t, trainer, int, trainer->threads)

pi_status pi_trainer_get_lr_schedule(const pi_trainer_t *trainer, pi_lr_schedule *schedule,
                                     uint64_t *warmup_steps, uint64_t *total_steps)
{
    PI_CHECK_NULL(trainer);
    if (schedule != NULL)
        *schedule = trainer->schedule;
    if (warmup_steps != NULL)
        *warmup_steps = trainer->warmup;
    if (total_steps != NULL)
        *total_steps = trainer->total;
    return PI_OK;
}

pi_status pi_trainer_get_lognormal(const pi_trainer_t *trainer, double *p_mean, double *p_std)
{
    PI_CHECK_NULL(trainer);
    if (p_mean != NULL)
        *p_mean = trainer->p_mean;
    if (p_std != NULL)
        *p_std = trainer->p_std;
    return PI_OK;
}

pi_status pi_trainer_get_adam(const pi_trainer_t *trainer, double *beta1, double *beta2,
                              double *eps)
{
    PI_CHECK_NULL(trainer);
    if (beta1 != NULL)
        *beta1 = trainer->beta1;
    if (beta2 != NULL)
        *beta2 = trainer->beta2;
    if (eps != NULL)
        *eps = trainer->eps;
    return PI_OK;
}

pi_status pi_trainer_get_callback(const pi_trainer_t *trainer, pi_train_fn *fn, void **user_data)
{
    PI_CHECK_NULL(trainer);
    if (fn != NULL)
        *fn = trainer->callback;
    if (user_data != NULL)
        *user_data = trainer->user_data;
    return PI_OK;
}

pi_status pi_trainer_get_step(const pi_trainer_t *trainer, uint64_t *step)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(step);
    *step = trainer->step;
    return PI_OK;
}

/* ---- weights --------------------------------------------------------------------------- */

float *pi_trainer_params(pi_trainer_t *tr, pi_status *st)
{
    size_t count = 0;
    float *params = pi_model_param_vector(tr->model, &count);
    if (params == NULL || count != tr->num_params) {
        *st = pi_fail(PI_EMISMATCH,
                      "the model's architecture changed since pi_trainer_create (%zu parameters, "
                      "now %zu)",
                      tr->num_params, count);
        return NULL;
    }
    *st = PI_OK;
    return params;
}

void pi_trainer_use_raw(pi_trainer_t *tr, float *params)
{
    if (tr->ema_in_model) {
        memcpy(params, tr->raw, tr->num_params * sizeof(float));
        tr->ema_in_model = 0;
    }
}

static void use_ema(pi_trainer_t *tr, float *params)
{
    if (!tr->ema_in_model && tr->ema_valid) {
        memcpy(tr->raw, params, tr->num_params * sizeof(float));
        memcpy(params, tr->ema, tr->num_params * sizeof(float));
        tr->ema_in_model = 1;
    }
}

/* ---- one step -------------------------------------------------------------------------- */

static pi_status ensure_workspace(pi_trainer_t *tr)
{
    if (tr->ws_batch == tr->batch)
        return PI_OK;
    free_workspace(tr);
    size_t b = tr->batch, d = tr->model->dim, rows;
    if (!pi_size_mul(b, d, &rows))
        return pi_fail(PI_EINVAL, "batch %zu x dim %zu is too large", b, d);
    size_t bytes = pi_model_train_workspace_bytes(tr->model, b);
    if (bytes == 0 || bytes > SIZE_MAX - 64)
        return pi_fail(PI_ENOMEM, "training workspace for batch %zu is too large", b);
    tr->ws_raw = pi_malloc(bytes + 64);
    tr->x0 = pi_alloc_array(rows, sizeof(float));
    tr->z = pi_alloc_array(rows + 1, sizeof(float)); /* normals come in pairs */
    tr->xt = pi_alloc_array(rows, sizeof(float));
    tr->target = pi_alloc_array(rows, sizeof(float));
    tr->out = pi_alloc_array(rows, sizeof(float));
    tr->dout = pi_alloc_array(rows, sizeof(float));
    tr->grad = pi_alloc_array(tr->num_params, sizeof(float));
    tr->t = pi_alloc_array(b, sizeof(double));
    tr->w = pi_alloc_array(b, sizeof(double));
    tr->blabels = pi_alloc_array(b, sizeof(int32_t));
    size_t cd = tr->model->cond_dim;
    tr->bcond = cd > 0 ? pi_alloc_array(b * cd, sizeof(float)) : NULL;
    if ((cd > 0 && tr->bcond == NULL) || tr->blabels == NULL || tr->ws_raw == NULL || tr->x0 == NULL || tr->z == NULL || tr->xt == NULL ||
        tr->target == NULL || tr->out == NULL || tr->dout == NULL || tr->grad == NULL ||
        tr->t == NULL || tr->w == NULL) {
        free_workspace(tr);
        return pi_fail(PI_ENOMEM, "out of memory for the training workspace (batch %zu)", b);
    }
    tr->ws = (void *)(((uintptr_t)tr->ws_raw + 63u) & ~(uintptr_t)63u);
    tr->ws_batch = b;
    return PI_OK;
}

/* Arguments shared by step and fit; data rows must be finite (the first bad row is named). */
static pi_status check_data(const pi_trainer_t *tr, size_t n, const float *data, const char *fn)
{
    size_t total;
    if (n == 0 || !pi_size_mul(n, tr->model->dim, &total))
        return pi_fail(PI_EINVAL, "%s: n must be in [1, 2^40 / dim], got %zu", fn, n);
    size_t bad = pi_first_nonfinite_f(data, total);
    if (bad != total)
        return pi_fail(PI_EINVAL, "%s: data must be finite; row %zu, column %zu is %g", fn,
                       bad / tr->model->dim, bad % tr->model->dim, (double)data[bad]);
    return PI_OK;
}

/* Draw the batch of step tr->step: x0 rows, times, noise, x_t, targets and weights. */
static pi_status draw_batch(pi_trainer_t *tr, const pi_dsm_setup *setup, size_t n,
                            const float *data)
{
    const size_t b = tr->batch, d = tr->model->dim;
    const uint64_t k = tr->step;
    pi_rng_normal_f(tr->seed, PI_STREAM_TRAIN, k, DRAW_NOISE, b * d, tr->z);
    for (size_t i = 0; i < b; i++) {
        double u = pi_rng_uniform1(tr->seed, PI_STREAM_TRAIN, k, DRAW_INDEX, i);
        size_t row = (size_t)(u * (double)n);
        if (row >= n)
            row = n - 1;
        memcpy(tr->x0 + i * d, data + row * d, d * sizeof(float));
        if (pi_model_is_conditional(tr->model)) {
            /* The row's condition, or the null one with probability cond_dropout (and always
             * when the fit has no conditions). */
            size_t cd = tr->model->cond_dim;
            int has = tr->fit_labels != NULL || tr->fit_cond != NULL;
            int32_t label = !has ? -1 : tr->fit_labels != NULL ? tr->fit_labels[row] : 0;
            if (label >= 0 && tr->cond_dropout > 0.0 &&
                pi_rng_uniform1(tr->seed, PI_STREAM_TRAIN, k, DRAW_COND, i) <= tr->cond_dropout)
                label = -1;
            tr->blabels[i] = label;
            for (size_t j = 0; j < cd; j++)
                tr->bcond[i * cd + j] = label >= 0 && tr->fit_cond != NULL ? tr->fit_cond[row * cd + j] : 0.0f;
        }
        double ut = pi_rng_uniform1(tr->seed, PI_STREAM_TRAIN, k, DRAW_TIME, i);
        double normal = tr->sampling == PI_TIME_SAMPLING_LOGNORMAL
                            ? pi_rng_normal1(tr->seed, PI_STREAM_TRAIN, k, DRAW_LOGNORMAL, i)
                            : 0.0;
        double t, ratio;
        pi_dsm_row r;
        pi_status st = pi_dsm_sample_time(setup, ut, normal, &t, &ratio);
        if (st == PI_OK)
            st = pi_dsm_row_at(setup, t, ratio, &r);
        if (st != PI_OK)
            return st;
        tr->t[i] = t;
        tr->w[i] = r.weight;
        pi_dsm_target(tr->model->native_view, d, tr->x0 + i * d, tr->z + i * d, r.alpha, r.sigma,
                      tr->xt + i * d, tr->target + i * d);
    }
    return PI_OK;
}

/* One AdamW step. On failure nothing is updated: the weights stay the last good ones. */
static pi_status step_once(pi_trainer_t *tr, const pi_dsm_setup *setup, float *params, size_t n,
                           const float *data, double *loss_out)
{
    const size_t b = tr->batch, d = tr->model->dim, count = tr->num_params;
    if (!tr->ema_valid) {
        memcpy(tr->ema, params, count * sizeof(float));
        tr->ema_valid = 1;
    }
    pi_pool *pool = NULL;
    pi_status st = trainer_pool(tr, &pool);
    if (st == PI_OK)
        st = draw_batch(tr, setup, n, data);
    if (st == PI_OK) {
        pi_cond_rows cond = {tr->blabels, tr->bcond, NULL};
        st = pi_model_forward_train_cond(tr->model, b, tr->xt, tr->t,
                                         pi_model_is_conditional(tr->model) ? &cond : NULL,
                                         tr->out, tr->ws, tr->threads, pool);
    }
    if (st != PI_OK)
        return st;
    double loss = pi_dsm_loss(b, d, tr->out, tr->target, tr->w, tr->dout);
    if (!isfinite(loss))
        return pi_fail(PI_ENUMERIC,
                       "training diverged at step %llu: the loss is %g (weights of the last good "
                       "step kept)",
                       (unsigned long long)tr->step, loss);
    st = pi_model_backward(tr->model, b, tr->dout, tr->grad, tr->ws, tr->threads, pool);
    if (st != PI_OK)
        return st;
    double norm = pi_grad_norm(tr->grad, count);
    if (!isfinite(norm))
        return pi_fail(PI_ENUMERIC,
                       "training diverged at step %llu: the gradient norm is %g (weights of the "
                       "last good step kept)",
                       (unsigned long long)tr->step, norm);
    pi_grad_clip(tr->grad, count, norm, tr->grad_clip);
    double lr = pi_lr_at(tr->lr, tr->schedule, tr->warmup, tr->total, tr->step);
    pi_adam_update(params, tr->grad, tr->adam_m, tr->adam_v, count, lr, tr->beta1, tr->beta2,
                   tr->eps, tr->weight_decay, tr->step + 1);
    /* EMA warm-up (as in common EMA implementations): the effective decay after k steps is
     * min(decay, (1 + k)/(10 + k)), so a short run's EMA is not dominated by the random
     * initial weights it started from. */
    double k_done = (double)(tr->step + 1);
    double warm = (1.0 + k_done) / (10.0 + k_done);
    pi_ema_update(tr->ema, params, count, tr->ema_decay < warm ? tr->ema_decay : warm);
    tr->step++;
    if (tr->have_loss_ema) {
        tr->loss_ema = LOSS_EMA_DECAY * tr->loss_ema + (1.0 - LOSS_EMA_DECAY) * loss;
    } else {
        tr->loss_ema = loss;
        tr->have_loss_ema = 1;
    }
    *loss_out = loss;
    return PI_OK;
}

/* Everything a step or fit needs before it may touch the weights. */
static pi_status prepare(pi_trainer_t *tr, size_t n, const float *data, const char *fn,
                         pi_dsm_setup *setup, float **params)
{
    pi_status st = check_data(tr, n, data, fn);
    if (st != PI_OK)
        return st;
    *params = pi_trainer_params(tr, &st);
    if (*params == NULL)
        return st;
    st = pi_dsm_setup_init(setup, tr->model, tr->weighting, tr->sampling, tr->p_mean, tr->p_std);
    if (st == PI_OK)
        st = ensure_workspace(tr);
    return st;
}

static pi_status trainer_step(pi_trainer_t *trainer, size_t n, const float *data, double *loss_out)
{
    pi_dsm_setup setup;
    float *params;
    pi_status st = prepare(trainer, n, data, "pi_trainer_step", &setup, &params);
    if (st != PI_OK)
        return st;
    pi_trainer_use_raw(trainer, params);
    double loss = 0.0;
    st = step_once(trainer, &setup, params, n, data, &loss);
    if (st == PI_OK && loss_out != NULL)
        *loss_out = loss;
    return st;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pi_status trainer_fit(pi_trainer_t *trainer, size_t n, const float *data, uint64_t steps)
{
    if (steps == 0 || steps > ((uint64_t)1 << 53))
        return pi_fail(PI_EINVAL, "pi_trainer_fit: steps must be in [1, 2^53], got %llu",
                       (unsigned long long)steps);
    pi_dsm_setup setup;
    float *params;
    pi_status st = prepare(trainer, n, data, "pi_trainer_fit", &setup, &params);
    if (st != PI_OK)
        return st;
    pi_trainer_use_raw(trainer, params);
    atomic_store(&trainer->cancel, 0);
    double start = seconds_now();
    for (uint64_t k = 0; k < steps; k++) {
        double loss;
        st = step_once(trainer, &setup, params, n, data, &loss);
        if (st != PI_OK)
            break;
        if (atomic_load(&trainer->cancel)) {
            st = pi_fail(PI_ECANCELED, "pi_trainer_fit: canceled by pi_trainer_cancel() after "
                                       "step %llu", (unsigned long long)trainer->step);
            break;
        }
        if (trainer->callback != NULL) {
            double elapsed = seconds_now() - start;
            double rate = elapsed > 0.0 ? (double)(k + 1) / elapsed : 0.0;
            if (trainer->callback(trainer->step, loss, trainer->loss_ema, rate,
                                  trainer->user_data) != 0) {
                st = pi_fail(PI_ECANCELED, "pi_trainer_fit: canceled by the callback at step %llu",
                             (unsigned long long)trainer->step);
                break;
            }
        }
    }
    atomic_store(&trainer->cancel, 0);
    use_ema(trainer, params);
    return st;
}

/* The public training calls hold the trainer (its workspace, weights and counters) for one call
 * at a time: a second concurrent call fails with PI_EBUSY instead of sharing them. */
pi_status pi_trainer_step(pi_trainer_t *trainer, size_t n, const float *data, double *loss_out)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(data);
    pi_status st = pi_enter_busy(&trainer->running, __func__, "trainer");
    if (st != PI_OK)
        return st;
    st = trainer_step(trainer, n, data, loss_out);
    atomic_store(&trainer->running, 0);
    atomic_store(&trainer->cancel, 0);
    return st;
}

pi_status pi_trainer_fit(pi_trainer_t *trainer, size_t n, const float *data, uint64_t steps)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(data);
    pi_status st = pi_enter_busy(&trainer->running, __func__, "trainer");
    if (st != PI_OK)
        return st;
    st = trainer_fit(trainer, n, data, steps);
    atomic_store(&trainer->running, 0);
    atomic_store(&trainer->cancel, 0);
    return st;
}

/* ---- evaluation ------------------------------------------------------------------------ */

#define EVAL_BLOCK ((size_t)1024)

static pi_status trainer_loss(pi_trainer_t *trainer, size_t samples, size_t n, const float *data,
                              double *loss_out);

pi_status pi_trainer_loss(pi_trainer_t *trainer, size_t samples, size_t n, const float *data,
                          double *loss_out)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(data);
    PI_CHECK_NULL(loss_out);
    pi_status st = pi_enter_busy(&trainer->running, __func__, "trainer");
    if (st != PI_OK)
        return st;
    st = trainer_loss(trainer, samples, n, data, loss_out);
    atomic_store(&trainer->running, 0);
    atomic_store(&trainer->cancel, 0);
    return st;
}

static pi_status trainer_loss(pi_trainer_t *trainer, size_t samples, size_t n, const float *data,
                              double *loss_out)
{
    if (samples == 0 || samples > ((size_t)1 << 20))
        return pi_fail(PI_EINVAL, "pi_trainer_loss: samples must be in [1, 2^20], got %zu",
                       samples);
    pi_status st = check_data(trainer, n, data, "pi_trainer_loss");
    if (st != PI_OK)
        return st;
    pi_dsm_setup setup;
    st = pi_dsm_setup_init(&setup, trainer->model, trainer->weighting, trainer->sampling,
                           trainer->p_mean, trainer->p_std);
    pi_pool *pool = NULL;
    if (st == PI_OK)
        st = trainer_pool(trainer, &pool);
    if (st != PI_OK)
        return st;
    const pi_model_t *m = trainer->model;
    const size_t d = m->dim;
    size_t ws_bytes = pi_model_workspace_bytes(m, EVAL_BLOCK);
    void *ws_raw = pi_malloc(ws_bytes + 64);
    float *z = pi_alloc_array(EVAL_BLOCK * d + 1, sizeof(float));
    float *xt = pi_alloc_array(EVAL_BLOCK * d, sizeof(float));
    float *target = pi_alloc_array(EVAL_BLOCK * d, sizeof(float));
    float *out = pi_alloc_array(EVAL_BLOCK * d, sizeof(float));
    double *t = pi_alloc_array(EVAL_BLOCK, sizeof(double));
    double *w = pi_alloc_array(EVAL_BLOCK, sizeof(double));
    if (ws_raw == NULL || z == NULL || xt == NULL || target == NULL ||
        out == NULL || t == NULL || w == NULL)
        st = pi_fail(PI_ENOMEM, "pi_trainer_loss: out of memory");
    pi_eval_ctx ctx = {(void *)(((uintptr_t)ws_raw + 63u) & ~(uintptr_t)63u), ws_bytes,
                       trainer->threads, pool, NULL};
    /* Pair p = i·samples + j is point i, draw j: (seed, AUX, sample = i, step = 3j / 3j+1 /
     * 3j+2) for time, noise and the log-normal draw. */
    double total = 0.0;
    const size_t pairs = n * samples;
    for (size_t start = 0; st == PI_OK && start < pairs; start += EVAL_BLOCK) {
        size_t rows = pairs - start < EVAL_BLOCK ? pairs - start : EVAL_BLOCK;
        for (size_t r = 0; st == PI_OK && r < rows; r++) {
            size_t i = (start + r) / samples, j = (start + r) % samples;
            uint32_t base = (uint32_t)(3 * j);
            double u = pi_rng_uniform1(trainer->seed, PI_STREAM_AUX, i, base, 0);
            double normal = pi_rng_normal1(trainer->seed, PI_STREAM_AUX, i, base + 2, 0);
            pi_rng_normal_f(trainer->seed, PI_STREAM_AUX, i, base + 1, d, z + r * d);
            double ti, ratio;
            pi_dsm_row row;
            st = pi_dsm_sample_time(&setup, u, normal, &ti, &ratio);
            if (st == PI_OK)
                st = pi_dsm_row_at(&setup, ti, ratio, &row);
            if (st != PI_OK)
                break;
            t[r] = ti;
            w[r] = row.weight;
            pi_dsm_target(m->native_view, d, data + i * d, z + r * d, row.alpha, row.sigma,
                          xt + r * d, target + r * d);
        }
        if (st == PI_OK)
            st = pi_model_eval_ctx(m, m->native_view, rows, xt, t, out, &ctx);
        if (st == PI_OK)
            total += pi_dsm_loss(rows, d, out, target, w, NULL) * (double)rows;
    }
    pi_free(ws_raw);
    pi_free(z);
    pi_free(xt);
    pi_free(target);
    pi_free(out);
    pi_free(t);
    pi_free(w);
    if (st != PI_OK)
        return st;
    double loss = total / (double)pairs;
    if (!isfinite(loss))
        return pi_fail(PI_ENUMERIC, "pi_trainer_loss: the loss is %g", loss);
    *loss_out = loss;
    return PI_OK;
}

/* ---- conditions (issue 15) --------------------------------------------------------------- */

PI_DEFINE_OPTION_SETTER(pi_trainer_set_cond_dropout, pi_trainer_t, trainer, double, p,
                        pi_option_check, PI_OPTION_TRAINER_COND_DROPOUT, trainer->cond_dropout)

PI_DEFINE_GETTER(pi_trainer_get_cond_dropout, pi_trainer_t, trainer, double, trainer->cond_dropout)

pi_status pi_trainer_fit_cond(pi_trainer_t *trainer, size_t n, const float *data,
                              const int32_t *labels, size_t cond_dim, const float *cond,
                              uint64_t steps)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(data);
    const pi_model_t *m = trainer->model;
    if (n == 0)
        return pi_fail(PI_EINVAL, "%s: n must be >= 1, got 0", __func__);
    if (!pi_model_is_conditional(m))
        return pi_fail(PI_EINVAL, "%s: the model takes no condition (create it with classes or "
                                  "cond_dim)", __func__);
    if (m->classes > 0 && labels == NULL)
        return pi_fail(PI_EINVAL, "%s: the model has %zu classes; labels must not be NULL", __func__,
                       m->classes);
    if (m->cond_dim > 0 && cond == NULL)
        return pi_fail(PI_EINVAL, "%s: the model takes a condition vector of length %zu; cond must "
                                  "not be NULL", __func__, m->cond_dim);
    pi_status st = pi_model_check_conditions(__func__, m, n, labels, cond_dim, cond);
    if (st != PI_OK)
        return st;
    trainer->fit_labels = labels;
    trainer->fit_cond = cond;
    st = pi_trainer_fit(trainer, n, data, steps);
    trainer->fit_labels = NULL;
    trainer->fit_cond = NULL;
    return st;
}
