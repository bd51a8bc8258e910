/* Trainer checkpoints (docs/training.md, "Checkpoint format").
 *
 * Little-endian, version 1:
 *   "PICKPT\0\0"  u32 version  u32 0  u64 body bytes
 *   body: SDE (u32 kind, u32 mask of stored parameters, 7 × f64 in pi_sde_param order),
 *         MLP (u64 dim, width, layers, features; u32 embedding, output view, precond, 0;
 *              f64 σ_data; u64 init seed; u64 parameter count P),
 *         options (f64 lr; u32 schedule, 0; u64 warm-up, total, batch; u32 weighting,
 *              time sampling; f64 P_mean, P_std, β1, β2, ε, weight decay, clip, EMA decay;
 *              u64 seed; u32 threads, 0),
 *         state (u64 step; u32 ema_valid, ema_in_model, have_loss_ema, 0; f64 loss EMA),
 *         f32 raw[P], ema[P], adam m[P], adam v[P]
 *   u64 pi_checksum64 of everything before it.
 * The RNG position is the step counter with the seed (Philox is counter-based), so a resumed
 * trainer draws exactly the batches an uninterrupted one would. The loader checks every
 * field and every size against the file length before it allocates anything. */
#include "train/train_impl.h"

#include "core/codec.h"
#include "nn/mlp_impl.h"

#include <string.h>

#define CKPT_MAGIC "PICKPT\0\0"
#define CKPT_VERSION 1u
#define CKPT_PREAMBLE 24
#define CKPT_MAX_BYTES ((size_t)1 << 36)
#define SDE_PARAMS 7

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

/* Fixed-size part of the body (everything but the four parameter arrays). */
#define BODY_FIXED (8 + 8 * SDE_PARAMS + 32 + 16 + 8 + 8 + 8 + 8 + 8 + 24 + 8 + 8 * 8 + 8 + 8 + \
                    8 + 16 + 8)

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

pi_status pi_trainer_save(const pi_trainer_t *trainer, const char *path)
{
    PI_CHECK_NULL(trainer);
    PI_CHECK_NULL(path);
    const pi_model_t *m = trainer->model;
    const pi_mlp *net = pi_mlp_of(m);
    if (net == NULL || net->num_params != trainer->num_params)
        return pi_fail(PI_EMISMATCH,
                       "pi_trainer_save: the model's architecture changed since pi_trainer_create");
    pi_sde_kind kind;
    pi_status st = pi_sde_get_kind(&m->sde, &kind);
    if (st != PI_OK)
        return st;
    if (kind == PI_SDE_CUSTOM)
        return pi_fail(PI_EUNSUPPORTED,
                       "pi_trainer_save: a model on a custom SDE cannot be checkpointed (its "
                       "callbacks cannot be stored)");
    const size_t count = trainer->num_params;
    size_t arrays;
    if (!pi_size_mul(count, 16, &arrays))
        return pi_fail(PI_EINVAL, "pi_trainer_save: %zu parameters are too many", count);
    const size_t body = BODY_FIXED + arrays, size = CKPT_PREAMBLE + body + 8;
    unsigned char *buf = pi_malloc(size);
    if (buf == NULL)
        return pi_fail(PI_ENOMEM, "pi_trainer_save: out of memory for %zu bytes", size);
    wbuf b = {buf, 0};
    memcpy(buf, CKPT_MAGIC, 8);
    b.pos = 8;
    put_u32(&b, CKPT_VERSION);
    put_u32(&b, 0);
    put_u64(&b, body);

    /* SDE: the parameters its kind has. */
    uint32_t mask = 0;
    double values[SDE_PARAMS];
    for (int k = 0; k < SDE_PARAMS; k++) {
        values[k] = 0.0;
        if (pi_sde_get_param(&m->sde, (pi_sde_param)(k + 1), &values[k]) == PI_OK)
            mask |= 1u << k;
        else
            values[k] = 0.0;
    }
    put_u32(&b, (uint32_t)kind);
    put_u32(&b, mask);
    for (int k = 0; k < SDE_PARAMS; k++)
        put_f64(&b, values[k]);

    /* MLP shape. */
    put_u64(&b, net->dim);
    put_u64(&b, net->width);
    put_u64(&b, net->layers);
    put_u64(&b, net->features);
    put_u32(&b, (uint32_t)net->embedding);
    put_u32(&b, (uint32_t)net->output_view);
    put_u32(&b, (uint32_t)net->precond);
    put_u32(&b, 0);
    put_f64(&b, net->sigma_data);
    put_u64(&b, net->seed);
    put_u64(&b, count);

    /* Options. */
    put_f64(&b, trainer->lr);
    put_u32(&b, (uint32_t)trainer->schedule);
    put_u32(&b, 0);
    put_u64(&b, trainer->warmup);
    put_u64(&b, trainer->total);
    put_u64(&b, trainer->batch);
    put_u32(&b, (uint32_t)trainer->weighting);
    put_u32(&b, (uint32_t)trainer->sampling);
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

    /* State and arrays: raw weights are in the model unless it holds the EMA. */
    put_u64(&b, trainer->step);
    put_u32(&b, (uint32_t)trainer->ema_valid);
    put_u32(&b, (uint32_t)trainer->ema_in_model);
    put_u32(&b, (uint32_t)trainer->have_loss_ema);
    put_u32(&b, 0);
    put_f64(&b, trainer->loss_ema);
    const float *model_params = net->params;
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

/* Rebuild the SDE: set the stored parameters, twice, so that range checks that depend on the
 * order (β_min < β_max, ...) pass; then require every stored value to read back exactly. */
static pi_status rebuild_sde(const char *path, uint32_t kind, uint32_t mask,
                             const double *values, pi_sde_t **out)
{
    if (kind < PI_SDE_VP_LINEAR || kind > PI_SDE_EDM)
        return pi_fail(PI_EFORMAT, "%s: SDE kind %u is not a built-in kind", path, kind);
    pi_sde_t *sde = NULL;
    pi_status st = pi_sde_create((pi_sde_kind)kind, &sde);
    if (st != PI_OK)
        return st;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < SDE_PARAMS; k++)
            if (mask & (1u << k))
                (void)pi_sde_set_param(sde, (pi_sde_param)(k + 1), values[k]);
    for (int k = 0; k < SDE_PARAMS; k++) {
        double v;
        if ((mask & (1u << k)) &&
            (pi_sde_get_param(sde, (pi_sde_param)(k + 1), &v) != PI_OK || v != values[k])) {
            pi_sde_destroy(sde);
            return pi_fail(PI_EFORMAT, "%s: SDE parameter %d = %g is invalid for this SDE", path,
                           k + 1, values[k]);
        }
    }
    *out = sde;
    return PI_OK;
}

static void get_f32s(rbuf *b, float *out, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = get_u32(b);
        memcpy(&out[i], &bits, 4);
    }
}

/* Apply an option through its public setter (the setters validate); a rejected value means a
 * corrupt file. */
#define SET_OPTION(call)                                                                       \
    do {                                                                                       \
        if (st == PI_OK && (call) != PI_OK)                                                    \
            st = pi_fail(PI_EFORMAT, "%s: invalid trainer option (%s)", path, pi_last_error()); \
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
    pi_sde_t *sde = NULL;
    if (size < CKPT_PREAMBLE + BODY_FIXED + 8 || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        st = pi_fail(PI_EFORMAT, "%s: not a pathint trainer checkpoint", path);
        goto done;
    }
    b.pos = 8;
    uint32_t version = get_u32(&b);
    (void)get_u32(&b);
    uint64_t body = get_u64(&b);
    if (version != CKPT_VERSION) {
        st = pi_fail(PI_EFORMAT, "%s: checkpoint version %u is not supported (expected %u)", path,
                     version, CKPT_VERSION);
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

    uint32_t kind = get_u32(&b), mask = get_u32(&b);
    double values[SDE_PARAMS];
    for (int k = 0; k < SDE_PARAMS; k++)
        values[k] = get_f64(&b);
    uint64_t dim = get_u64(&b), width = get_u64(&b), layers = get_u64(&b);
    uint64_t features = get_u64(&b);
    uint32_t embedding = get_u32(&b), view = get_u32(&b), precond = get_u32(&b);
    (void)get_u32(&b);
    double sigma_data = get_f64(&b);
    uint64_t init_seed = get_u64(&b), count = get_u64(&b);
    if (embedding > 1 || view > 2 || precond > PI_PRECOND_INPUT || !isfinite(sigma_data) ||
        !(sigma_data > 0.0) || dim == 0 || dim > PI_MAX_DIM || width == 0 ||
        width > PI_MLP_MAX_WIDTH || layers == 0 || layers > PI_MLP_MAX_LAYERS || features < 2 ||
        features > PI_MLP_MAX_FEATURES || features % 2 != 0) {
        st = pi_fail(PI_EFORMAT, "%s: invalid MLP description in the checkpoint", path);
        goto done;
    }
    size_t expect = pi_mlp_count_params((size_t)dim, (size_t)width, (size_t)layers,
                                        (size_t)features);
    if (expect == 0 || count != expect || (body - BODY_FIXED) / 16 != expect ||
        (body - BODY_FIXED) % 16 != 0) {
        st = pi_fail(PI_EFORMAT,
                     "%s: parameter count %llu does not match the MLP shape or the file size",
                     path, (unsigned long long)count);
        goto done;
    }
    st = rebuild_sde(path, kind, mask, values, &sde);
    if (st == PI_OK)
        st = pi_mlp_create_shaped(sde, (size_t)dim, (size_t)width, (size_t)layers,
                                  (size_t)features, (pi_embedding)embedding, (pi_view)view,
                                  (int)precond, sigma_data, &model);
    if (st == PI_OK) {
        pi_mlp_of(model)->seed = init_seed;
        st = pi_trainer_alloc(model, &tr);
    }
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
    SET_OPTION(pi_trainer_set_learning_rate(tr, lr));
    SET_OPTION(pi_trainer_set_lr_schedule(tr, (pi_lr_schedule)schedule, warmup, total));
    SET_OPTION(pi_trainer_set_batch_size(tr, batch > SIZE_MAX ? 0 : (size_t)batch));
    SET_OPTION(pi_trainer_set_weighting(tr, (pi_weighting)weighting));
    SET_OPTION(pi_trainer_set_time_sampling(tr, (pi_time_sampling)sampling));
    SET_OPTION(pi_trainer_set_lognormal(tr, p_mean, p_std));
    SET_OPTION(pi_trainer_set_adam(tr, beta1, beta2, eps));
    SET_OPTION(pi_trainer_set_weight_decay(tr, decay));
    SET_OPTION(pi_trainer_set_grad_clip(tr, clip));
    SET_OPTION(pi_trainer_set_ema(tr, ema));
    SET_OPTION(pi_trainer_set_seed(tr, seed));
    SET_OPTION(pi_trainer_set_threads(tr, threads > 256 ? 0 : (int)threads));
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
    float *params = pi_mlp_of(model)->params;
    memcpy(params, ema_in_model ? tr->ema : tr->raw, expect * sizeof(float));
    tr->ema_in_model = (int)ema_in_model;

done:
    pi_free(buf);
    pi_sde_destroy(sde);
    if (st != PI_OK) {
        pi_trainer_destroy(tr);
        pi_model_destroy(model);
        return st;
    }
    *model_out = model;
    *out = tr;
    return PI_OK;
}
