/* .safetensors interchange of MLP weights with PyTorch (docs/safetensors.md).
 *
 * File: u64 little-endian header length N, N bytes of JSON (padded with spaces), then the raw
 * little-endian tensor bytes; every tensor's "data_offsets" [begin, end) are relative to the
 * start of the data, and the tensors must tile the data exactly (no holes, no overlap).
 *
 * Tensor names: those of the state_dict of a torch module that holds the network as
 * `self.net = nn.Sequential(Linear, SiLU, Linear, SiLU, ..., Linear)`:
 *   net.<2l>.weight  shape [out_l, in_l]   (nn.Linear.weight, row-major)
 *   net.<2l>.bias    shape [out_l]
 * for Linear layers l = 0 … L (L hidden layers; SiLU modules hold no tensors, hence 2l).
 * The reader also accepts the names of a bare nn.Sequential ("<2l>.weight") and of an
 * nn.ModuleList of Linear layers ("layers.<l>.weight"), one scheme per file.
 * Shapes alone determine dim, width, L and features (= in_0 − dim).
 *
 * "__metadata__" (all values strings, as the format requires) carries pathint's options:
 *   format "pathint-mlp" (PyTorch's own writers put "pt": also accepted), dim,
 *   hidden_width, hidden_layers, features,
 *   embedding "log_sigma" | "time", output_view "score" | "eps" | "denoised",
 *   preconditioning "0" | "1" | "2" (pi_precond), sigma_data (decimal),
 *   classes, cond_dim (issue 15; absent = 0): a conditional network's first layer has
 *   cond_in = (classes ? classes + 1 : 0) + (cond_dim ? cond_dim + 1 : 0) more input columns
 *   after the embedding (nn.h), so features = in_0 − dim − cond_in.
 * On load the metadata is optional (defaults: log_sigma, eps, off, 0.5); keys present must
 * agree with the shapes, unknown keys are ignored. dtypes F32 (written), F64, F16 and BF16
 * (read, converted to float; non-finite values are rejected).
 *
 * The reader is a strict, bounded parser of exactly this JSON subset: objects, strings,
 * arrays of non-negative integers. Anything else, any size that disagrees with the file, and
 * any header over 100 MiB is PI_EFORMAT; nothing is allocated from a size read in the file
 * beyond the file's own length. */
#include "core/options.h"
#include "model/mlp_model.h"

#include "core/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER ((uint64_t)100 << 20)
#define ST_MAX_FILE ((size_t)1 << 34)
#define ST_MAX_TENSORS (2 * (PI_MLP_MAX_LAYERS + 1))
#define ST_MAX_STRING 256
#define ST_MAX_INT ((uint64_t)1 << 53)

enum st_dtype { ST_F32, ST_F64, ST_F16, ST_BF16 };
static const size_t st_dtype_size[] = {4, 8, 2, 2};

typedef struct st_tensor {
    size_t layer;
    int is_bias;
    int dtype;
    size_t rank;
    uint64_t shape[2];
    uint64_t begin, end;
} st_tensor;

typedef struct st_meta {
    char format[ST_MAX_STRING], embedding[ST_MAX_STRING], output_view[ST_MAX_STRING];
    char precond[ST_MAX_STRING], sigma_data[ST_MAX_STRING];
    char dim[ST_MAX_STRING], width[ST_MAX_STRING], layers[ST_MAX_STRING], features[ST_MAX_STRING];
    char sde[ST_MAX_STRING], sde_steps[ST_MAX_STRING]; /* issue 14: the SDE kind it was trained on */
    char classes[ST_MAX_STRING], cond_dim[ST_MAX_STRING];
} st_meta;

/* The SDE kinds by the metadata name written on save ("sde"); checked against the caller's
 * SDE on load when present (older files and PyTorch's do not have it). */
static const char *sde_meta_name(pi_sde_kind kind)
{
    switch (kind) {
    case PI_SDE_KIND_VP_LINEAR: return "vp";
    case PI_SDE_KIND_VP_COSINE: return "vp-cosine";
    case PI_SDE_KIND_SUBVP: return "subvp";
    case PI_SDE_KIND_VE: return "ve";
    case PI_SDE_KIND_EDM: return "edm";
    case PI_SDE_KIND_CUSTOM: return "custom";
    case PI_SDE_KIND_RECTIFIED_FLOW: return "rectified_flow";
    case PI_SDE_KIND_DISCRETE: return "discrete";
    }
    return "unknown";
}

typedef struct st_parser {
    const char *path;
    const char *begin, *p, *end;
} st_parser;

static pi_status st_error(const st_parser *ps, const char *what)
{
    return pi_fail(PI_EFORMAT, "pi_model_load_safetensors: %s: header byte %zu: %s", ps->path,
                   (size_t)(ps->p - ps->begin), what);
}

static void skip_ws(st_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Skip white space and consume ch, or fail. */
static pi_status expect(st_parser *ps, char ch)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ch) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", ch);
        return st_error(ps, msg);
    }
    ps->p++;
    return PI_OK;
}

/* Next non-blank character (0 at the end), not consumed. */
static char peek(st_parser *ps)
{
    skip_ws(ps);
    return ps->p < ps->end ? *ps->p : '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A JSON string of at most ST_MAX_STRING − 1 bytes. Escapes are decoded; a \u escape beyond
 * ASCII becomes '?' (no name or option pathint reads uses one). */
static pi_status parse_string(st_parser *ps, char *buf)
{
    pi_status st = expect(ps, '"');
    if (st != PI_OK)
        return st;
    size_t len = 0;
    for (;;) {
        if (ps->p >= ps->end)
            return st_error(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return st_error(ps, "control character in a string");
        if (c == '\\') {
            if (ps->p >= ps->end)
                return st_error(ps, "unterminated escape");
            char e = *ps->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (ps->end - ps->p < 4)
                    return st_error(ps, "truncated \\u escape");
                unsigned code = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hex_value(ps->p[k]);
                    if (h < 0)
                        return st_error(ps, "bad \\u escape");
                    code = code * 16 + (unsigned)h;
                }
                ps->p += 4;
                c = code < 0x80 && code >= 0x20 ? (unsigned char)code : '?';
                break;
            }
            default: return st_error(ps, "unknown escape in a string");
            }
        }
        if (len + 1 >= ST_MAX_STRING)
            return st_error(ps, "string longer than 255 bytes");
        buf[len++] = (char)c;
    }
    buf[len] = '\0';
    return PI_OK;
}

/* A non-negative integer below 2^53, no sign, no leading zeros, no fraction or exponent. */
static pi_status parse_uint(st_parser *ps, uint64_t *out)
{
    skip_ws(ps);
    const char *start = ps->p;
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        v = v * 10 + (uint64_t)(*ps->p - '0');
        if (v > ST_MAX_INT)
            return st_error(ps, "integer too large");
        ps->p++;
    }
    if (ps->p == start)
        return st_error(ps, "expected a non-negative integer");
    if (ps->p - start > 1 && *start == '0')
        return st_error(ps, "integer with a leading zero");
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        return st_error(ps, "expected an integer");
    *out = v;
    return PI_OK;
}

/* [n0, n1, ...] with at most max_count entries. */
static pi_status parse_uint_array(st_parser *ps, uint64_t *vals, size_t max_count, size_t *count)
{
    pi_status st = expect(ps, '[');
    if (st != PI_OK)
        return st;
    size_t n = 0;
    if (peek(ps) == ']') {
        ps->p++;
        *count = 0;
        return PI_OK;
    }
    for (;;) {
        if (n == max_count)
            return st_error(ps, "array has too many entries");
        st = parse_uint(ps, &vals[n++]);
        if (st != PI_OK)
            return st;
        char c = peek(ps);
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == ']') {
            ps->p++;
            break;
        }
        return st_error(ps, "expected ',' or ']'");
    }
    *count = n;
    return PI_OK;
}

/* Tensor name → Linear layer and weight/bias. Schemes (one per file): 1 "net.<2l>.<w|b>"
 * (written by pathint), 2 "<2l>.<w|b>" (a bare nn.Sequential's state_dict), 3 "layers.<l>.<w|b>"
 * (an nn.ModuleList of Linear layers). Returns the scheme, 0 if the name is none of these. */
static int parse_tensor_name(const char *name, size_t *layer, int *is_bias)
{
    int scheme = 2;
    const char *p = name;
    if (strncmp(name, "net.", 4) == 0) {
        scheme = 1;
        p += 4;
    } else if (strncmp(name, "layers.", 7) == 0) {
        scheme = 3;
        p += 7;
    }
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return 0;
    size_t k = 0;
    while (*p >= '0' && *p <= '9') {
        k = k * 10 + (size_t)(*p - '0');
        if (k > 2 * PI_MLP_MAX_LAYERS)
            return 0;
        p++;
    }
    if (scheme != 3) {
        if (k % 2 != 0)
            return 0;
        k /= 2;
    }
    if (k > PI_MLP_MAX_LAYERS)
        return 0;
    if (strcmp(p, ".weight") == 0)
        *is_bias = 0;
    else if (strcmp(p, ".bias") == 0)
        *is_bias = 1;
    else
        return 0;
    *layer = k;
    return scheme;
}

static pi_status parse_tensor(st_parser *ps, st_tensor *t)
{
    pi_status st = expect(ps, '{');
    if (st != PI_OK)
        return st;
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    char key[ST_MAX_STRING], value[ST_MAX_STRING];
    for (;;) {
        st = parse_string(ps, key);
        if (st == PI_OK)
            st = expect(ps, ':');
        if (st != PI_OK)
            return st;
        if (strcmp(key, "dtype") == 0 && !have_dtype) {
            st = parse_string(ps, value);
            if (st != PI_OK)
                return st;
            if (strcmp(value, "F32") == 0)
                t->dtype = ST_F32;
            else if (strcmp(value, "F64") == 0)
                t->dtype = ST_F64;
            else if (strcmp(value, "F16") == 0)
                t->dtype = ST_F16;
            else if (strcmp(value, "BF16") == 0)
                t->dtype = ST_BF16;
            else
                return st_error(ps, "dtype must be F32, F64, F16 or BF16");
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            st = parse_uint_array(ps, t->shape, 2, &t->rank);
            if (st != PI_OK)
                return st;
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0 && !have_offsets) {
            uint64_t off[2];
            size_t n = 0;
            st = parse_uint_array(ps, off, 2, &n);
            if (st != PI_OK)
                return st;
            if (n != 2 || off[0] > off[1])
                return st_error(ps, "data_offsets must be [begin, end] with begin <= end");
            t->begin = off[0];
            t->end = off[1];
            have_offsets = 1;
        } else {
            return st_error(ps, "unknown or repeated key in a tensor entry");
        }
        char c = peek(ps);
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == '}') {
            ps->p++;
            break;
        }
        return st_error(ps, "expected ',' or '}'");
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return st_error(ps, "a tensor entry needs dtype, shape and data_offsets");
    return PI_OK;
}

static pi_status parse_metadata(st_parser *ps, st_meta *meta)
{
    pi_status st = expect(ps, '{');
    if (st != PI_OK)
        return st;
    if (peek(ps) == '}') {
        ps->p++;
        return PI_OK;
    }
    char key[ST_MAX_STRING], value[ST_MAX_STRING];
    struct {
        const char *name;
        char *dst;
    } known[] = {{"format", meta->format},           {"embedding", meta->embedding},
                 {"output_view", meta->output_view}, {"preconditioning", meta->precond},
                 {"sigma_data", meta->sigma_data},   {"dim", meta->dim},
                 {"hidden_width", meta->width},      {"hidden_layers", meta->layers},
                 {"features", meta->features},       {"sde", meta->sde},
                 {"sde_steps", meta->sde_steps},     {"classes", meta->classes},
                 {"cond_dim", meta->cond_dim}};
    for (;;) {
        st = parse_string(ps, key);
        if (st == PI_OK)
            st = expect(ps, ':');
        if (st == PI_OK)
            st = parse_string(ps, value);
        if (st != PI_OK)
            return st;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(key, known[k].name) == 0) {
                if (known[k].dst[0] != '\0')
                    return st_error(ps, "repeated metadata key");
                if (value[0] == '\0')
                    return st_error(ps, "empty metadata value");
                memcpy(known[k].dst, value, strlen(value) + 1);
            }
        char c = peek(ps);
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == '}') {
            ps->p++;
            return PI_OK;
        }
        return st_error(ps, "expected ',' or '}'");
    }
}

/* The whole header: one object of tensors and an optional "__metadata__". */
static pi_status parse_header(st_parser *ps, st_tensor *tensors, size_t *count, st_meta *meta)
{
    pi_status st = expect(ps, '{');
    if (st != PI_OK)
        return st;
    size_t n = 0;
    int have_meta = 0, scheme = 0;
    if (peek(ps) == '}')
        return st_error(ps, "the header lists no tensors");
    char name[ST_MAX_STRING];
    for (;;) {
        st = parse_string(ps, name);
        if (st == PI_OK)
            st = expect(ps, ':');
        if (st != PI_OK)
            return st;
        if (strcmp(name, "__metadata__") == 0) {
            if (have_meta)
                return st_error(ps, "repeated __metadata__");
            have_meta = 1;
            st = parse_metadata(ps, meta);
        } else {
            if (n == ST_MAX_TENSORS)
                return st_error(ps, "too many tensors");
            st_tensor *t = &tensors[n];
            int sc = parse_tensor_name(name, &t->layer, &t->is_bias);
            if (sc == 0)
                return st_error(ps,
                                "tensor names must be net.<2l>.weight|bias (or <2l>.weight|bias, "
                                "layers.<l>.weight|bias)");
            if (scheme != 0 && sc != scheme)
                return st_error(ps, "tensor names mix naming schemes");
            scheme = sc;
            for (size_t k = 0; k < n; k++)
                if (tensors[k].layer == t->layer && tensors[k].is_bias == t->is_bias)
                    return st_error(ps, "repeated tensor name");
            st = parse_tensor(ps, t);
            n++;
        }
        if (st != PI_OK)
            return st;
        char c = peek(ps);
        if (c == ',') {
            ps->p++;
            continue;
        }
        if (c == '}') {
            ps->p++;
            break;
        }
        return st_error(ps, "expected ',' or '}'");
    }
    skip_ws(ps);
    if (ps->p != ps->end)
        return st_error(ps, "trailing bytes after the header object");
    *count = n;
    return PI_OK;
}

/* ---- numbers --------------------------------------------------------------------------- */

static float half_to_float(uint16_t h)
{
    unsigned exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    return (h & 0x8000u) ? -v : v;
}

static float read_element(const unsigned char *p, int dtype)
{
    uint64_t bits = 0;
    for (size_t k = st_dtype_size[dtype]; k-- > 0;)
        bits = (bits << 8) | p[k];
    switch (dtype) {
    case ST_F64: {
        double d;
        memcpy(&d, &bits, 8);
        return (float)d;
    }
    case ST_F16: return half_to_float((uint16_t)bits);
    case ST_BF16: {
        uint32_t u = (uint32_t)bits << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    }
}

/* ---- metadata values ------------------------------------------------------------------- */

static int meta_size(const char *s, size_t *out)
{
    if (s[0] == '\0')
        return 1; /* absent: nothing to check */
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9')
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > PI_MAX_DIM * 64)
        return 0;
    *out = (size_t)v;
    return 1;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Shapes, offsets and metadata → a new model filled from the data section. */
static pi_status build_model(const char *path, const pi_sde_t *sde, st_tensor *tensors,
                             size_t count, const st_meta *meta, const unsigned char *data,
                             uint64_t data_len, pi_model_t **out)
{
#define BAD(...) pi_fail(PI_EFORMAT, "pi_model_load_safetensors: " __VA_ARGS__)
    size_t linear = 0;
    for (size_t k = 0; k < count; k++)
        linear = tensors[k].layer + 1 > linear ? tensors[k].layer + 1 : linear;
    if (linear < 2 || count != 2 * linear)
        return BAD("%s: expected weight and bias for each of >= 2 Linear layers net.0, net.2, "
                   "..., got %zu tensors",
                   path, count);
    st_tensor *by_layer[ST_MAX_TENSORS];
    for (size_t k = 0; k < 2 * linear; k++)
        by_layer[k] = NULL;
    for (size_t k = 0; k < count; k++)
        by_layer[2 * tensors[k].layer + (size_t)tensors[k].is_bias] = &tensors[k];
    for (size_t k = 0; k < 2 * linear; k++)
        if (by_layer[k] == NULL)
            return BAD("%s: tensor net.%zu.%s is missing", path, 2 * (k / 2),
                       k % 2 ? "bias" : "weight");
    size_t layers = linear - 1;
    const st_tensor *w0 = by_layer[0], *wl = by_layer[2 * layers];
    if (w0->rank != 2 || wl->rank != 2)
        return BAD("%s: weights must have rank 2", path);
    uint64_t width = w0->shape[0], in_all = w0->shape[1], dim = wl->shape[0];
    size_t classes = 0, cond_dim = 0;
    if (!meta_size(meta->classes, &classes) || !meta_size(meta->cond_dim, &cond_dim) ||
        classes > PI_MAX_CLASSES || cond_dim > PI_MAX_COND_DIM)
        return BAD("%s: metadata classes/cond_dim must be integers in [0, 65536]", path);
    uint64_t cond_in = (classes > 0 ? classes + 1 : 0) + (cond_dim > 0 ? cond_dim + 1 : 0);
    if (in_all < cond_in)
        return BAD("%s: net.0.weight has %llu inputs, fewer than the %llu condition columns", path,
                   (unsigned long long)in_all, (unsigned long long)cond_in);
    uint64_t in = in_all - cond_in;
    if (dim == 0 || dim > PI_MAX_DIM || width == 0 || width > PI_MLP_MAX_WIDTH || in <= dim ||
        in - dim < 2 || in - dim > PI_MLP_MAX_FEATURES || (in - dim) % 2 != 0)
        return BAD("%s: shapes give dim %llu, width %llu, %llu inputs: need width in [1, 65536] "
                   "and an even number of embedding features (inputs − dim) in [2, 4096]",
                   path, (unsigned long long)dim, (unsigned long long)width,
                   (unsigned long long)in);
    size_t features = (size_t)(in - dim);
    for (size_t l = 0; l <= layers; l++) {
        uint64_t o = l == layers ? dim : width, i = l == 0 ? in_all : width;
        const st_tensor *w = by_layer[2 * l], *b = by_layer[2 * l + 1];
        if (w->rank != 2 || w->shape[0] != o || w->shape[1] != i)
            return BAD("%s: net.%zu.weight must have shape [%llu, %llu]", path, 2 * l,
                       (unsigned long long)o, (unsigned long long)i);
        if (b->rank != 1 || b->shape[0] != o)
            return BAD("%s: net.%zu.bias must have shape [%llu]", path, 2 * l,
                       (unsigned long long)o);
    }
    size_t nparams = pi_mlp_count_params_cond((size_t)dim, (size_t)width, layers, features,
                                              (size_t)cond_in);
    if (nparams == 0)
        return BAD("%s: network too large", path);
    /* Every byte range matches its shape and dtype, and together they tile the data. */
    st_tensor *order[ST_MAX_TENSORS];
    for (size_t k = 0; k < count; k++) {
        st_tensor *t = &tensors[k];
        uint64_t numel = t->rank == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
        if (t->end - t->begin != numel * st_dtype_size[t->dtype])
            return BAD("%s: data_offsets of net.%zu.%s do not match its shape and dtype", path,
                       2 * t->layer, t->is_bias ? "bias" : "weight");
        order[k] = t;
    }
    qsort(order, count, sizeof order[0], cmp_begin);
    uint64_t pos = 0;
    for (size_t k = 0; k < count; k++) {
        if (order[k]->begin != pos)
            return BAD("%s: tensor data overlap or leave a hole at byte %llu", path,
                       (unsigned long long)pos);
        pos = order[k]->end;
    }
    if (pos != data_len)
        return BAD("%s: tensors cover %llu data bytes, the file has %llu", path,
                   (unsigned long long)pos, (unsigned long long)data_len);
    /* Options from the metadata, checked against the shapes. */
    if (meta->format[0] != '\0' && strcmp(meta->format, "pathint-mlp") != 0 &&
        strcmp(meta->format, "pt") != 0)
        return BAD("%s: metadata format \"%s\" is not \"pathint-mlp\" or \"pt\"", path,
                   meta->format);
    size_t md = (size_t)dim, mw = (size_t)width, ml = layers, mf = features;
    if (!meta_size(meta->dim, &md) || md != dim || !meta_size(meta->width, &mw) || mw != width ||
        !meta_size(meta->layers, &ml) || ml != layers || !meta_size(meta->features, &mf) ||
        mf != features)
        return BAD("%s: metadata dim/hidden_width/hidden_layers/features disagree with the "
                   "tensor shapes (%llu, %llu, %zu, %zu)",
                   path, (unsigned long long)dim, (unsigned long long)width, layers, features);
    pi_embedding embedding = PI_EMBEDDING_LOG_SIGMA;
    if (strcmp(meta->embedding, "time") == 0)
        embedding = PI_EMBEDDING_TIME;
    else if (meta->embedding[0] != '\0' && strcmp(meta->embedding, "log_sigma") != 0)
        return BAD("%s: metadata embedding must be \"log_sigma\" or \"time\"", path);
    pi_view view = PI_VIEW_EPS;
    if (strcmp(meta->output_view, "score") == 0)
        view = PI_VIEW_SCORE;
    else if (strcmp(meta->output_view, "denoised") == 0)
        view = PI_VIEW_DENOISED;
    else if (meta->output_view[0] != '\0' && strcmp(meta->output_view, "eps") != 0)
        return BAD("%s: metadata output_view must be \"score\", \"eps\" or \"denoised\"", path);
    pi_precond precond = PI_PRECOND_NONE;
    if (strcmp(meta->precond, "1") == 0)
        precond = PI_PRECOND_EDM;
    else if (strcmp(meta->precond, "2") == 0)
        precond = PI_PRECOND_INPUT;
    else if (meta->precond[0] != '\0' && strcmp(meta->precond, "0") != 0)
        return BAD("%s: metadata preconditioning must be \"0\", \"1\" or \"2\"", path);
    double sigma_data = 0.5;
    if (meta->sigma_data[0] != '\0') {
        /* In the C locale whatever the host's (issue 20): files use '.'. */
        if (!pi_parse_double(meta->sigma_data, &sigma_data) ||
            pi_option_check(PI_OPTION_MLP_SIGMA_DATA, sigma_data, "safetensors") != PI_OK)
            return BAD("%s: metadata sigma_data must be a number in (0, 1e30]", path);
    }
    /* The SDE the weights were trained on, when the file says (a network trained on rectified
     * flow is wrong on a VP SDE, and a table network on a table of another length). */
    if (meta->sde[0] != '\0' && strcmp(meta->sde, sde_meta_name(sde->kind)) != 0)
        return pi_fail(PI_EMISMATCH, "pi_model_load_safetensors: %s: the weights were trained on a "
                                     "\"%s\" SDE (metadata sde), the sde given is \"%s\"",
                       path, meta->sde, sde_meta_name(sde->kind));
    if (meta->sde_steps[0] != '\0' && sde->kind == PI_SDE_KIND_DISCRETE) {
        size_t steps = 0;
        if (!meta_size(meta->sde_steps, &steps) || steps != sde->discrete_n)
            return pi_fail(PI_EMISMATCH, "pi_model_load_safetensors: %s: metadata sde_steps \"%s\" "
                                         "differs from the sde's table of %zu entries",
                           path, meta->sde_steps, sde->discrete_n);
    }
    /* Values: converted to float, all finite. */
    pi_model_t *m = NULL;
    pi_status st = pi_mlp_create_shaped(sde, (size_t)dim, (size_t)width, layers, features,
                                        embedding, view, precond, sigma_data, &m);
    if (st == PI_OK)
        st = pi_mlp_model_set_conditions(m, classes, cond_dim);
    if (st != PI_OK) {
        pi_model_destroy(m);
        return st;
    }
    pi_mlp *net = m->impl;
    for (size_t l = 0; l <= layers; l++)
        for (int bias = 0; bias <= 1; bias++) {
            const st_tensor *t = by_layer[2 * l + (size_t)bias];
            size_t o = pi_mlp_layer_out(net, l), i = pi_mlp_layer_in(net, l);
            float *dst = net->params + pi_mlp_weight_offset(net, l) + (bias ? o * i : 0);
            size_t numel = bias ? o : o * i, es = st_dtype_size[t->dtype];
            const unsigned char *src = data + t->begin;
            for (size_t e = 0; e < numel; e++) {
                float v = read_element(src + e * es, t->dtype);
                if (!isfinite(v)) {
                    pi_model_destroy(m);
                    return BAD("%s: net.%zu.%s[%zu] is not finite (as float)", path, 2 * l,
                               bias ? "bias" : "weight", e);
                }
                dst[e] = v;
            }
        }
    *out = m;
    return PI_OK;
#undef BAD
}

pi_status pi_model_load_safetensors(const pi_sde_t *sde, const char *path, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(path);
    PI_CHECK_NULL(out);
    unsigned char *file = NULL;
    size_t size = 0;
    pi_status st = pi_read_file(path, ST_MAX_FILE, &file, &size);
    if (st != PI_OK)
        return st;
    uint64_t hlen = size >= 8 ? pi_get_u64(file) : 0;
    if (size < 8 || hlen < 2 || hlen > ST_MAX_HEADER || hlen > size - 8) {
        pi_free(file);
        return pi_fail(
            PI_EFORMAT,
            "pi_model_load_safetensors: %s: header length %llu does not fit the %zu-byte "
            "file (or exceeds 100 MiB)",
            path, (unsigned long long)hlen, size);
    }
    st_tensor *tensors = pi_calloc(ST_MAX_TENSORS, sizeof *tensors);
    st_meta *meta = pi_calloc(1, sizeof *meta);
    if (tensors == NULL || meta == NULL) {
        pi_free(tensors);
        pi_free(meta);
        pi_free(file);
        return pi_fail(PI_ENOMEM, "pi_model_load_safetensors: out of memory");
    }
    st_parser ps = {path, (const char *)file + 8, (const char *)file + 8,
                    (const char *)file + 8 + hlen};
    size_t count = 0;
    st = parse_header(&ps, tensors, &count, meta);
    if (st == PI_OK)
        st = build_model(path, sde, tensors, count, meta, file + 8 + hlen, size - 8 - hlen, out);
    pi_free(tensors);
    pi_free(meta);
    pi_free(file);
    return st;
}

/* ---- writing --------------------------------------------------------------------------- */

typedef struct st_writer {
    const pi_mlp *net;
    const char *header;
    size_t header_len; /* padded */
} st_writer;

static pi_status write_all(pi_file *file, const void *ctx)
{
    const st_writer *w = ctx;
    unsigned char len[8];
    pi_put_u64(len, (uint64_t)w->header_len);
    pi_status st = pi_file_write(file, len, 8);
    if (st == PI_OK)
        st = pi_file_write(file, w->header, w->header_len);
    /* The tensors in header order are exactly the flat parameter vector. */
    unsigned char chunk[4096];
    for (size_t i = 0; st == PI_OK && i < w->net->num_params; i += 1024) {
        size_t k = w->net->num_params - i < 1024 ? w->net->num_params - i : 1024;
        for (size_t j = 0; j < k; j++)
            pi_put_f32(chunk + 4 * j, w->net->params[i + j]);
        st = pi_file_write(file, chunk, 4 * k);
    }
    return st;
}

pi_status pi_model_save_safetensors(const pi_model_t *model, const char *path)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(path);
    const pi_mlp *net = pi_mlp_of(model);
    if (net == NULL)
        return pi_fail(PI_EUNSUPPORTED,
                       "pi_model_save_safetensors: model must be an MLP, got a %s model",
                       model->type->name);
    static const char *const views[] = {"score", "eps", "denoised"};
    size_t cap = 160 * 2 * (net->layers + 1) + 1024, len = 0;
    char sigma_text[40];
    if (pi_format_double(sigma_text, sizeof sigma_text, net->sigma_data) < 0)
        return pi_fail(PI_ENOMEM, "pi_model_save_safetensors: cannot format sigma_data in the C "
                       "locale");
    char *header = pi_malloc(cap);
    if (header == NULL)
        return pi_fail(PI_ENOMEM, "pi_model_save_safetensors: out of memory");
    len += (size_t)snprintf(header + len, cap - len,
                            "{\"__metadata__\":{\"format\":\"pathint-mlp\",\"dim\":\"%zu\","
                            "\"hidden_width\":\"%zu\",\"hidden_layers\":\"%zu\","
                            "\"features\":\"%zu\",\"embedding\":\"%s\",\"output_view\":\"%s\","
                            "\"preconditioning\":\"%d\",\"sigma_data\":\"%s\","
                            "\"sde\":\"%s\",\"sde_steps\":\"%zu\"",
                            net->dim, net->width, net->layers, net->features,
                            net->embedding == PI_EMBEDDING_TIME ? "time" : "log_sigma",
                            views[net->output_view - 1], (int)net->precond - 1, sigma_text,
                            sde_meta_name(model->sde.kind),
                            model->sde.kind == PI_SDE_KIND_DISCRETE ? model->sde.discrete_n : (size_t)0);
    if (net->cond_in > 0)
        len += (size_t)snprintf(header + len, cap - len, ",\"classes\":\"%zu\",\"cond_dim\":\"%zu\"",
                                net->classes, net->cond_dim);
    header[len++] = '}';
    size_t off = 0;
    for (size_t l = 0; l <= net->layers; l++) {
        size_t o = pi_mlp_layer_out(net, l), i = pi_mlp_layer_in(net, l);
        len += (size_t)snprintf(header + len, cap - len,
                                ",\"net.%zu.weight\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],"
                                "\"data_offsets\":[%zu,%zu]}",
                                2 * l, o, i, off, off + 4 * o * i);
        off += 4 * o * i;
        len += (size_t)snprintf(header + len, cap - len,
                                ",\"net.%zu.bias\":{\"dtype\":\"F32\",\"shape\":[%zu],"
                                "\"data_offsets\":[%zu,%zu]}",
                                2 * l, o, off, off + 4 * o);
        off += 4 * o;
    }
    header[len++] = '}';
    while (len % 8 != 0)
        header[len++] = ' ';
    st_writer w = {net, header, len};
    pi_status st = pi_write_file_atomic(path, write_all, &w);
    pi_free(header);
    return st;
}
