/* Model files (docs/model-format.md): a versioned little-endian frame — magic, format version,
 * kind, dimension, SDE kind and parameters, payload length, the kind's payload, checksum.
 * Kinds write their payload through type->write_payload and read it back in
 * pi_<kind>_from_payload; this file frames and validates everything around it. */
#include "model_impl.h"

#include "core/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAGIC "PATHINT\0"
#define FILE_VERSION 1u
#define FILE_VERSION_TABLE 2u /* version 1 plus the SDE's ᾱ table after the header (discrete SDEs) */
#define HEADER_BYTES 104u  /* up to and including the payload length */
#define TRAILER_BYTES 8u   /* checksum */
#define MAX_FILE_BYTES ((size_t)1 << 34) /* 16 GiB: anything larger is rejected unread */
#define SDE_PARAMS 8

/* The SDE parameters in file order. */
static void sde_params(const pi_sde_t *s, double out[SDE_PARAMS])
{
    out[0] = s->beta_min;
    out[1] = s->beta_max;
    out[2] = s->cosine_s;
    out[3] = s->sigma_min;
    out[4] = s->sigma_max;
    out[5] = s->t_min;
    out[6] = s->t_max;
    out[7] = 0.0; /* reserved */
}

static const char *const param_names[SDE_PARAMS] = {
    "beta_min", "beta_max", "cosine_s", "sigma_min", "sigma_max", "t_min", "t_max", "reserved"};
static const pi_sde_param param_keys[7] = {PI_SDE_PARAM_BETA_MIN, PI_SDE_PARAM_BETA_MAX, PI_SDE_PARAM_COSINE_S,
                                           PI_SDE_PARAM_SIGMA_MIN, PI_SDE_PARAM_SIGMA_MAX, PI_SDE_PARAM_T_MIN,
                                           PI_SDE_PARAM_T_MAX};

/* ---- save ------------------------------------------------------------------------------ */

/* Render the kind's payload to memory. */
static pi_status write_payload_of(pi_file *file, const void *model)
{
    const pi_model_t *m = model;
    return m->type->write_payload(m, file);
}

/* The whole file image in one buffer (freed with pi_free): header | payload | checksum, the
 * checksum over header and payload. `fn` names the caller in messages. */
static pi_status render_image(const char *fn, const pi_model_t *model, unsigned char **out,
                              size_t *size)
{
    if (model->type->write_payload == NULL)
        return pi_fail(PI_EUNSUPPORTED,
                       "%s: a %s model cannot be saved (only Gaussian-mixture, empirical and MLP "
                       "models can)",
                       fn, model->type->name);
    if (model->sde.kind == PI_SDE_KIND_CUSTOM)
        return pi_fail(PI_EUNSUPPORTED,
                       "%s: the model's SDE is custom (host callbacks), which a file cannot "
                       "hold; rebuild the model on a built-in SDE to save it",
                       fn);
    unsigned char *payload = NULL;
    size_t payload_bytes = 0;
    pi_status st =
        pi_render_to_memory(write_payload_of, model, "the model payload", &payload, &payload_bytes);
    if (st != PI_OK)
        return st;
    /* A discrete SDE's table follows the header (format version 2): u64 N, then N f64 ᾱ.
     * Every other file stays version 1, readable by 1.0. */
    size_t table_bytes = model->sde.discrete != NULL ? 8 + 8 * model->sde.discrete_n : 0;
    size_t total = HEADER_BYTES + table_bytes + payload_bytes + TRAILER_BYTES;
    unsigned char *image = total > payload_bytes ? pi_malloc(total) : NULL;
    if (image == NULL) {
        pi_free(payload);
        return pi_fail(PI_ENOMEM, "%s: out of memory", fn);
    }
    unsigned char *header = image;
    memcpy(header, FILE_MAGIC, 8);
    pi_put_u32(header + 8, table_bytes ? FILE_VERSION_TABLE : FILE_VERSION);
    pi_put_u32(header + 12, (uint32_t)model->type->kind);
    pi_put_u64(header + 16, (uint64_t)model->dim);
    pi_put_u32(header + 24, (uint32_t)model->sde.kind);
    pi_put_u32(header + 28, 0u);
    double params[SDE_PARAMS];
    sde_params(&model->sde, params);
    for (int i = 0; i < SDE_PARAMS; i++)
        pi_put_f64(header + 32 + 8 * i, params[i]);
    pi_put_u64(header + 96, (uint64_t)payload_bytes);
    if (table_bytes) {
        pi_put_u64(image + HEADER_BYTES, (uint64_t)model->sde.discrete_n);
        for (size_t i = 0; i < model->sde.discrete_n; i++)
            pi_put_f64(image + HEADER_BYTES + 8 + 8 * i, model->sde.discrete[i]);
    }
    if (payload_bytes > 0)
        memcpy(image + HEADER_BYTES + table_bytes, payload, payload_bytes);
    pi_free(payload);
    size_t body = HEADER_BYTES + table_bytes + payload_bytes;
    pi_put_u64(image + body, pi_checksum64(image, body, 0));
    *out = image;
    *size = total;
    return PI_OK;
}

typedef struct image_bytes {
    const unsigned char *data;
    size_t size;
} image_bytes;

static pi_status write_image_bytes(pi_file *file, const void *ctx)
{
    const image_bytes *c = ctx;
    return pi_file_write(file, c->data, c->size);
}

pi_status pi_model_write_image(const pi_model_t *m, pi_file *file)
{
    PI_CHECK_NULL(m);
    PI_CHECK_NULL(file);
    unsigned char *image = NULL;
    size_t size = 0;
    pi_status st = render_image(__func__, m, &image, &size);
    if (st != PI_OK)
        return st;
    st = pi_file_write(file, image, size);
    pi_free(image);
    return st;
}

pi_status pi_model_save(const pi_model_t *model, const char *path)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(path);
    if (path[0] == '\0')
        return pi_fail(PI_EINVAL, "pi_model_save: path must be a non-empty string");
    unsigned char *image = NULL;
    size_t size = 0;
    pi_status st = render_image(__func__, model, &image, &size);
    if (st != PI_OK)
        return st;
    image_bytes c = {image, size};
    st = pi_write_file_atomic(path, write_image_bytes, &c);
    pi_free(image);
    return st;
}

/* ---- load ------------------------------------------------------------------------------ */

/* Rebuild the SDE from the file's kind and parameters, validating them as
 * pi_sde_set_param() would. Parameters a kind does not have must hold their defaults. */
static pi_status load_sde(uint32_t kind, const double params[SDE_PARAMS], const double *table,
                         size_t table_n, pi_sde_t *out)
{
    if (kind < (uint32_t)PI_SDE_KIND_VP_LINEAR || kind > (uint32_t)PI_SDE_KIND_DISCRETE
        || kind == (uint32_t)PI_SDE_KIND_CUSTOM)
        return pi_fail(PI_EFORMAT, "model file: SDE kind %u is not a built-in SDE (1..5, 7, 8)",
                       kind);
    if ((kind == (uint32_t)PI_SDE_KIND_DISCRETE) != (table != NULL))
        return pi_fail(PI_EFORMAT, "model file: %s",
                       table ? "an SDE table is present but the SDE kind is not discrete"
                             : "a discrete SDE needs its table (format version 2)");
    for (int i = 0; i < SDE_PARAMS; i++)
        if (!isfinite(params[i]))
            return pi_fail(PI_EFORMAT, "model file: SDE parameter %s is not finite (%g)",
                           param_names[i], params[i]);
    if (params[7] != 0.0)
        return pi_fail(PI_EFORMAT, "model file: reserved SDE parameter is %g, not 0", params[7]);
    pi_sde_t *sde;
    pi_status st = table ? pi_sde_create_discrete(table, table_n, &sde)
                         : pi_sde_create((pi_sde_kind)kind, &sde);
    if (st != PI_OK && table != NULL) {
        char why[256]; /* pi_last_error() is the buffer pi_fail writes: copy it first */
        snprintf(why, sizeof why, "%s", pi_last_error());
        return pi_fail(PI_EFORMAT, "model file: invalid SDE table: %s", why);
    }
    if (st != PI_OK)
        return st;
    /* Two passes so a range may move past its old other end (set_param checks each step). */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 7; i++) {
            double current;
            if (pi_sde_get_param(sde, param_keys[i], &current) != PI_OK)
                continue; /* not a parameter of this kind */
            if (current == params[i])
                continue;
            st = pi_sde_set_param(sde, param_keys[i], params[i]);
            if (st != PI_OK && pass == 1) {
                pi_status code = pi_fail(PI_EFORMAT, "model file: invalid SDE parameter %s = %g",
                                         param_names[i], params[i]);
                pi_sde_destroy(sde);
                return code;
            }
        }
    double now[SDE_PARAMS];
    sde_params(sde, now);
    for (int i = 0; i < SDE_PARAMS; i++)
        if (memcmp(&now[i], &params[i], sizeof(double)) != 0) {
            pi_status code = pi_fail(PI_EFORMAT,
                                     "model file: SDE parameter %s = %g is inconsistent with the "
                                     "SDE kind (expected %g)",
                                     param_names[i], params[i], now[i]);
            pi_sde_destroy(sde);
            return code;
        }
    *out = *sde;
    pi_free(sde); /* the struct moves to *out with the table it owns */
    return PI_OK;
}

/* Validate a whole file image and build the model. */
pi_status pi_model_read_image(const unsigned char *data, size_t size, pi_model_t **out)
{
    PI_CHECK_NULL(data);
    PI_CHECK_NULL(out);
    if (size < HEADER_BYTES + TRAILER_BYTES)
        return pi_fail(PI_EFORMAT, "model file: %zu bytes is shorter than the %u-byte frame "
                                   "(truncated or not a pathint model)",
                       size, HEADER_BYTES + TRAILER_BYTES);
    if (memcmp(data, FILE_MAGIC, 8) != 0)
        return pi_fail(PI_EFORMAT, "model file: wrong magic (not a pathint model file)");
    uint32_t version = pi_get_u32(data + 8);
    if (version != FILE_VERSION && version != FILE_VERSION_TABLE)
        return pi_fail(PI_EFORMAT, "model file: format version %u is not supported (this library "
                                   "reads versions %u and %u)",
                       version, FILE_VERSION, FILE_VERSION_TABLE);
    uint64_t payload_bytes = pi_get_u64(data + 96);
    size_t table_bytes = 0, table_n = 0;
    if (version == FILE_VERSION_TABLE) {
        if (size < HEADER_BYTES + 8 + TRAILER_BYTES)
            return pi_fail(PI_EFORMAT, "model file: truncated before the SDE table");
        uint64_t n = pi_get_u64(data + HEADER_BYTES);
        if (n < 2 || n > ((uint64_t)1 << 20) || 8 + 8 * n > size - HEADER_BYTES - TRAILER_BYTES)
            return pi_fail(PI_EFORMAT, "model file: SDE table length %llu is out of range or "
                                       "past the end of the file",
                           (unsigned long long)n);
        table_n = (size_t)n;
        table_bytes = 8 + 8 * table_n;
    }
    /* The declared size must match the bytes present: nothing is allocated from it. */
    if (payload_bytes != (uint64_t)(size - HEADER_BYTES - table_bytes - TRAILER_BYTES))
        return pi_fail(PI_EFORMAT,
                       "model file: payload length %llu does not match the file size %zu "
                       "(truncated or corrupt)",
                       (unsigned long long)payload_bytes, size);
    uint64_t stored = pi_get_u64(data + size - TRAILER_BYTES);
    uint64_t actual = pi_checksum64(data, size - TRAILER_BYTES, 0);
    if (stored != actual)
        return pi_fail(PI_EFORMAT, "model file: checksum mismatch (stored %016llx, computed "
                                   "%016llx): the file is corrupt",
                       (unsigned long long)stored, (unsigned long long)actual);
    uint32_t kind = pi_get_u32(data + 12);
    uint64_t dim = pi_get_u64(data + 16);
    uint32_t sde_kind = pi_get_u32(data + 24);
    if (pi_get_u32(data + 28) != 0)
        return pi_fail(PI_EFORMAT, "model file: reserved header field is not 0");
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EFORMAT, "model file: dimension %llu is out of range [1, 2^20]",
                       (unsigned long long)dim);
    double params[SDE_PARAMS];
    for (int i = 0; i < SDE_PARAMS; i++)
        params[i] = pi_get_f64(data + 32 + 8 * i);
    double *table = NULL;
    if (table_n > 0) {
        table = pi_alloc_array(table_n, sizeof *table);
        if (table == NULL)
            return pi_fail(PI_ENOMEM, "model file: out of memory for the SDE table");
        for (size_t i = 0; i < table_n; i++)
            table[i] = pi_get_f64(data + HEADER_BYTES + 8 + 8 * i);
    }
    pi_sde_t sde;
    pi_status st = load_sde(sde_kind, params, table, table_n, &sde);
    pi_free(table);
    if (st != PI_OK)
        return st;
    const unsigned char *payload = data + HEADER_BYTES + table_bytes;
    size_t bytes = (size_t)payload_bytes;
    switch (kind) {
    case PI_MODEL_KIND_GMM: st = pi_gmm_from_payload(&sde, (size_t)dim, payload, bytes, out); break;
    case PI_MODEL_KIND_EMPIRICAL:
        st = pi_empirical_from_payload(&sde, (size_t)dim, payload, bytes, out);
        break;
    case PI_MODEL_KIND_MLP: st = pi_mlp_from_payload(&sde, (size_t)dim, payload, bytes, out); break;
    default:
        st = pi_fail(PI_EFORMAT, "model file: model kind %u cannot be stored in a file "
                                 "(1 = mixture, 2 = empirical, 3 = MLP)",
                     kind);
        break;
    }
    pi_sde_release(&sde);
    return st;
}

pi_status pi_model_load(const char *path, pi_model_t **out)
{
    PI_CHECK_NULL(path);
    PI_CHECK_NULL(out);
    unsigned char *data;
    size_t size;
    pi_status st = pi_read_file(path, MAX_FILE_BYTES, &data, &size);
    if (st != PI_OK)
        return st;
    pi_model_t *m = NULL;
    st = pi_model_read_image(data, size, &m);
    pi_free(data);
    if (st == PI_OK)
        *out = m;
    return st;
}
