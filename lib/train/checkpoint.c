/* Trainer checkpoints (docs/training.md, "Checkpoint format").
 *
 * Little-endian, version 3:
 *   "PICKPT\0\0"  u32 version  u32 0  u64 body bytes
 *   body: u64 model bytes M, then M bytes: the model file that pi_model_save would write
 *              (docs/model-format.md: SDE, kind, shape, options, the weights the model holds),
 *         options (f64 lr; u32 schedule, 0; u64 warm-up, total, batch; u32 weighting,
 *              time sampling; f64 P_mean, P_std, β1, β2, ε, weight decay, clip, EMA decay;
 *              u64 seed; u32 threads, 0; f64 condition dropout (version 3 on)),
 *         state (u64 step; u32 ema_valid, ema_in_model, have_loss_ema, 0; f64 loss EMA),
 *         f32 raw[P], ema[P], adam m[P], adam v[P]   (P = the model's parameter count)
 *   u64 pi_checksum64 of everything before it.
 * The model travels as a model file so that the model kind's own code reads and writes it
 * (a change to a kind's fields changes its model-file payload, never this file). Version 2
 * (pathint 1.0 and 1.1) is version 3 without the condition dropout: it is read, and the
 * resumed trainer gets the default dropout. Version 1 (pathint 0.x: SDE and MLP fields written
 * out here) is refused with PI_EFORMAT.
 * The RNG position is the step counter with the seed (Philox is counter-based), so a resumed
 * trainer draws exactly the batches an uninterrupted one would. The loader checks every
 * field and every size against the file length before it allocates anything. */
#include "train/train_impl.h"

#include "core/codec.h"
#include "core/options.h"

#include <stdio.h>
#include <string.h>

#define CKPT_MAGIC "PICKPT\0\0"
#define CKPT_VERSION 3u
#define CKPT_PREAMBLE 24
#define CKPT_MAX_BYTES ((size_t)1 << 36)

/* ---- byte buffer --------------------------------------------------------------------- */

typedef struct wbuf {
    unsigned char *p;
    size_t pos;
} wbuf;

static void put_u32(wbuf *b, uint32_t v)
{
    pi_put_u32(b->p + b->pos, v);
    b->pos += 4;
}

static void put_u64(wbuf *b, uint64_t v)
{
    pi_put_u64(b->p + b->pos, v);
    b->pos += 8;
}

static void put_f64(wbuf *b, double v)
{
    pi_put_f64(b->p + b->pos, v);
    b->pos += 8;
}

static void put_f32s(wbuf *b, const float *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        pi_put_f32(b->p + b->pos + 4 * i, v[i]);
    b->pos += 4 * count;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t pos, size;
} rbuf;

/* Reads never run past the end: the caller checked the total size; these still clamp. */
static uint32_t get_u32(rbuf *b)
{
    if (b->pos + 4 > b->size)
        return 0;
    b->pos += 4;
    return pi_get_u32(b->p + b->pos - 4);
}

static uint64_t get_u64(rbuf *b)
{
    if (b->pos + 8 > b->size)
        return 0;
    b->pos += 8;
    return pi_get_u64(b->p + b->pos - 8);
}

static double get_f64(rbuf *b)
{
    if (b->pos + 8 > b->size)
        return 0.0;
    b->pos += 8;
    return pi_get_f64(b->p + b->pos - 8);
}

/* Fixed-size parts of the body: the model length, then options (136 bytes; 128 in version 2,
 * which lacks the condition dropout) and state (32 bytes) after the model. */
#define MODEL_LENGTH 8
#define OPTIONS_AND_STATE_V2 (8 + 8 + 24 + 8 + 8 * 8 + 8 + 8 + 8 + 16 + 8)
#define OPTIONS_AND_STATE (OPTIONS_AND_STATE_V2 + 8)

/* ---- saving ---------------------------------------------------------------------------- */

typedef struct ckpt_bytes {
    const unsigned char *p;
    size_t size;
} ckpt_bytes;

static pi_status write_bytes(pi_file *file, const void *ctx)
{
    const ckpt_bytes *c = ctx;
    return pi_file_write(file, c->p, c->size);
}

static pi_status write_model_image(pi_file *file, const void *model)
{
    return pi_model_write_image(model, file);
}

pi_status pi_trainer_save(const pi_trainer_t *trainer, const char *path)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(path);
    const pi_model_t *m = trainer->model;
    size_t count = 0;
    const float *model_params = pi_model_param_vector(m, &count);
    if (model_params == NULL || count != trainer->num_params)
        return pi_fail(PI_EMISMATCH,
                       "pi_trainer_save: the model's architecture changed since pi_trainer_create");
    pi_sde_kind kind;
    pi_status st = pi_sde_get_kind(&m->sde, &kind);
    if (st != PI_OK)
        return st;
    if (kind == PI_SDE_KIND_CUSTOM)
        return pi_fail(PI_EUNSUPPORTED,
                       "pi_trainer_save: a model on a custom SDE cannot be checkpointed (its "
                       "callbacks cannot be stored)");
    size_t arrays;
    if (!pi_size_mul(count, 16, &arrays))
        return pi_fail(PI_EINVAL, "pi_trainer_save: %zu parameters are too many", count);
    unsigned char *image = NULL;
    size_t image_size = 0;
    st = pi_render_to_memory(write_model_image, m, "the checkpoint's model", &image, &image_size);
    if (st != PI_OK)
        return st;
    const size_t body = MODEL_LENGTH + image_size + OPTIONS_AND_STATE + arrays;
    const size_t size = CKPT_PREAMBLE + body + 8;
    unsigned char *buf = pi_malloc(size);
    if (buf == NULL) {
        pi_free(image);
        return pi_fail(PI_ENOMEM, "pi_trainer_save: out of memory for %zu bytes", size);
    }
    wbuf b = {buf, 0};
    memcpy(buf, CKPT_MAGIC, 8);
    b.pos = 8;
    put_u32(&b, CKPT_VERSION);
    put_u32(&b, 0);
    put_u64(&b, body);

    /* The model, exactly as pi_model_save writes it. */
    put_u64(&b, image_size);
    memcpy(buf + b.pos, image, image_size);
    b.pos += image_size;
    pi_free(image);

    /* Options. */
    put_f64(&b, trainer->lr);
    put_u32(&b, (uint32_t)trainer->schedule - 1u); /* 0-based codes, as in 0.1 */
    put_u32(&b, 0);
    put_u64(&b, trainer->warmup);
    put_u64(&b, trainer->total);
    put_u64(&b, trainer->batch);
    put_u32(&b, (uint32_t)trainer->weighting - 1u);
    put_u32(&b, (uint32_t)trainer->sampling - 1u);
    put_f64(&b, trainer->p_mean);
    put_f64(&b, trainer->p_std);
    put_f64(&b, trainer->beta1);
    put_f64(&b, trainer->beta2);
    put_f64(&b, trainer->eps);
    put_f64(&b, trainer->weight_decay);
    put_f64(&b, trainer->grad_clip);
    put_f64(&b, trainer->ema_decay);
    put_u64(&b, trainer->seed);
    put_u32(&b, (uint32_t)trainer->threads);
    put_u32(&b, 0);
    put_f64(&b, trainer->cond_dropout);

    /* State and arrays: raw weights are in the model unless it holds the EMA. */
    put_u64(&b, trainer->step);
    put_u32(&b, (uint32_t)trainer->ema_valid);
    put_u32(&b, (uint32_t)trainer->ema_in_model);
    put_u32(&b, (uint32_t)trainer->have_loss_ema);
    put_u32(&b, 0);
    put_f64(&b, trainer->loss_ema);
    put_f32s(&b, trainer->ema_in_model ? trainer->raw : model_params, count);
    put_f32s(&b, trainer->ema_valid ? trainer->ema : model_params, count);
    put_f32s(&b, trainer->adam_m, count);
    put_f32s(&b, trainer->adam_v, count);
    put_u64(&b, pi_checksum64(buf, b.pos, 0));

    if (b.pos != size) {
        pi_free(buf);
        return pi_fail(PI_EINVAL, "pi_trainer_save: internal size mismatch (%zu vs %zu)", b.pos,
                       size);
    }
    ckpt_bytes c = {buf, size};
    st = pi_write_file_atomic(path, write_bytes, &c);
    pi_free(buf);
    return st;
}

/* ---- loading --------------------------------------------------------------------------- */

/* The caller checked the arrays' total size against the body. */
static void get_f32s(rbuf *b, float *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        out[i] = pi_get_f32(b->p + b->pos + 4 * i);
    b->pos += 4 * count;
}

/* Fail with code, prefixing the message of the failure just recorded (copied first: the
 * message buffer is also pi_fail's output). */
static pi_status refail(pi_status code, const char *path, const char *what)
{
    char cause[512];
    snprintf(cause, sizeof cause, "%s", pi_last_error());
    return pi_fail(code, "%s: %s (%s)", path, what, cause);
}

/* Apply an option through its public setter (the setters validate); a rejected value means a
 * corrupt file. */
#define SET_OPTION(call)                                                                       \
    do {                                                                                       \
        if (st == PI_OK && (call) != PI_OK)                                                    \
            st = refail(PI_EFORMAT, path, "invalid trainer option");                            \
    } while (0)

pi_status pi_trainer_resume(const char *path, pi_model_t **model_out, pi_trainer_t **out)
{
    PI_CHECK_NULL(path);
    PI_CHECK_NULL(model_out);
    PI_CHECK_NULL(out);
    unsigned char *buf;
    size_t size;
    pi_status st = pi_read_file(path, CKPT_MAX_BYTES, &buf, &size);
    if (st != PI_OK)
        return st;
    rbuf b = {buf, 0, size};
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    if (size < CKPT_PREAMBLE + MODEL_LENGTH + OPTIONS_AND_STATE_V2 + 8 ||
        memcmp(buf, CKPT_MAGIC, 8) != 0) {
        st = pi_fail(PI_EFORMAT, "%s: not a pathint trainer checkpoint", path);
        goto done;
    }
    b.pos = 8;
    uint32_t version = get_u32(&b);
    (void)get_u32(&b);
    uint64_t body = get_u64(&b);
    if (version == 1) {
        st = pi_fail(PI_EFORMAT,
                     "%s: checkpoint version 1 was written by pathint 0.x and is not read by "
                     "1.0 (this library reads version %u); resume it with 0.x, or start a new "
                     "trainer from a model saved with pi_model_save",
                     path, CKPT_VERSION);
        goto done;
    }
    if (version != 2 && version != CKPT_VERSION) {
        st = pi_fail(PI_EFORMAT,
                     "%s: checkpoint version %u is not supported (this library reads 2 and %u)",
                     path, version, CKPT_VERSION);
        goto done;
    }
    /* Version 2 ends its options before the condition dropout. */
    const size_t fixed = version == 2 ? OPTIONS_AND_STATE_V2 : OPTIONS_AND_STATE;
    if (size < CKPT_PREAMBLE + MODEL_LENGTH + fixed + 8) {
        st = pi_fail(PI_EFORMAT, "%s: a version %u checkpoint of %zu bytes is truncated", path,
                     version, size);
        goto done;
    }
    if (body != size - CKPT_PREAMBLE - 8) {
        st = pi_fail(PI_EFORMAT, "%s: checkpoint body is %llu bytes but the file holds %zu", path,
                     (unsigned long long)body, size - CKPT_PREAMBLE - 8);
        goto done;
    }
    rbuf tail = {buf, size - 8, size};
    if (get_u64(&tail) != pi_checksum64(buf, size - 8, 0)) {
        st = pi_fail(PI_EFORMAT, "%s: checksum mismatch (corrupt checkpoint)", path);
        goto done;
    }

    /* The model: its own file format, read by the model code. */
    uint64_t image_size = get_u64(&b);
    if (image_size > body - MODEL_LENGTH - fixed) {
        st = pi_fail(PI_EFORMAT, "%s: the model is %llu bytes but the body holds %llu", path,
                     (unsigned long long)image_size,
                     (unsigned long long)(body - MODEL_LENGTH - fixed));
        goto done;
    }
    st = pi_model_read_image(buf + b.pos, (size_t)image_size, &model);
    if (st != PI_OK) {
        st = refail(st, path, "the checkpoint's model");
        goto done;
    }
    b.pos += (size_t)image_size;
    size_t expect = 0;
    if (pi_model_param_vector(model, &expect) == NULL || expect == 0) {
        st = pi_fail(PI_EFORMAT, "%s: the checkpoint's model (%s) has no trainable parameters",
                     path, model->type->name);
        goto done;
    }
    uint64_t rest = body - MODEL_LENGTH - image_size - fixed;
    if (rest % 16 != 0 || rest / 16 != expect) {
        st = pi_fail(PI_EFORMAT,
                     "%s: %llu bytes of training arrays do not match the model's %zu parameters",
                     path, (unsigned long long)rest, expect);
        goto done;
    }
    st = pi_trainer_alloc(model, &tr);
    if (st != PI_OK)
        goto done;

    double lr = get_f64(&b);
    uint32_t schedule = get_u32(&b);
    (void)get_u32(&b);
    uint64_t warmup = get_u64(&b), total = get_u64(&b), batch = get_u64(&b);
    uint32_t weighting = get_u32(&b), sampling = get_u32(&b);
    double p_mean = get_f64(&b), p_std = get_f64(&b), beta1 = get_f64(&b), beta2 = get_f64(&b);
    double eps = get_f64(&b), decay = get_f64(&b), clip = get_f64(&b), ema = get_f64(&b);
    uint64_t seed = get_u64(&b);
    uint32_t threads = get_u32(&b);
    (void)get_u32(&b);
    double cond_dropout = version == 2 ? pi_option_default(PI_OPTION_TRAINER_COND_DROPOUT)
                                       : get_f64(&b);
    SET_OPTION(pi_trainer_set_learning_rate(tr, lr));
    SET_OPTION(pi_trainer_set_lr_schedule(tr, (pi_lr_schedule)(schedule + 1u), warmup, total));
    SET_OPTION(pi_trainer_set_batch_size(tr, batch > SIZE_MAX ? 0 : (size_t)batch));
    SET_OPTION(pi_trainer_set_weighting(tr, (pi_weighting)(weighting + 1u)));
    SET_OPTION(pi_trainer_set_time_sampling(tr, (pi_time_sampling)(sampling + 1u)));
    SET_OPTION(pi_trainer_set_lognormal(tr, p_mean, p_std));
    SET_OPTION(pi_trainer_set_adam(tr, beta1, beta2, eps));
    SET_OPTION(pi_trainer_set_weight_decay(tr, decay));
    SET_OPTION(pi_trainer_set_grad_clip(tr, clip));
    SET_OPTION(pi_trainer_set_ema(tr, ema));
    SET_OPTION(pi_trainer_set_seed(tr, seed));
    SET_OPTION(pi_trainer_set_threads(tr, threads > 256 ? 0 : (int)threads));
    SET_OPTION(pi_trainer_set_cond_dropout(tr, cond_dropout));
    if (st != PI_OK)
        goto done;

    tr->step = get_u64(&b);
    uint32_t ema_valid = get_u32(&b), ema_in_model = get_u32(&b), have_loss = get_u32(&b);
    (void)get_u32(&b);
    double loss_ema = get_f64(&b);
    if (ema_valid > 1 || ema_in_model > 1 || have_loss > 1 || (ema_in_model && !ema_valid) ||
        !isfinite(loss_ema)) {
        st = pi_fail(PI_EFORMAT, "%s: invalid trainer state flags", path);
        goto done;
    }
    tr->ema_valid = (int)ema_valid;
    tr->have_loss_ema = (int)have_loss;
    tr->loss_ema = loss_ema;
    get_f32s(&b, tr->raw, expect);
    get_f32s(&b, tr->ema, expect);
    get_f32s(&b, tr->adam_m, expect);
    get_f32s(&b, tr->adam_v, expect);
    if (pi_first_nonfinite_f(tr->raw, expect) != expect ||
        pi_first_nonfinite_f(tr->ema, expect) != expect ||
        pi_first_nonfinite_f(tr->adam_m, expect) != expect ||
        pi_first_nonfinite_f(tr->adam_v, expect) != expect) {
        st = pi_fail(PI_EFORMAT, "%s: non-finite weights or optimiser state", path);
        goto done;
    }
    for (size_t i = 0; i < expect; i++)
        if (tr->adam_v[i] < 0.0f) {
            st = pi_fail(PI_EFORMAT, "%s: negative Adam second moment at parameter %zu", path, i);
            goto done;
        }
    /* The model holds what the saved model held: EMA weights if they were in it, else the
     * training weights. */
    float *params = pi_model_param_vector(model, NULL);
    memcpy(params, ema_in_model ? tr->ema : tr->raw, expect * sizeof(float));
    tr->ema_in_model = (int)ema_in_model;

done:
    pi_free(buf);
    if (st != PI_OK) {
        pi_trainer_destroy(tr);
        pi_model_destroy(model);
        return st;
    }
    *model_out = model;
    *out = tr;
    return PI_OK;
}
