/* .safetensors interchange of MLP weights: round trip, PyTorch → pathint and pathint →
 * PyTorch on 1000 points, other dtypes, and a catalogue of malformed or hostile files. */
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

#include "core/philox.h"
#include "mlp_reference.h"
#include "nn/mlp_impl.h"
#include "pathint.h"

static char dir[] = "/tmp/pi_safetensors_XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void points(size_t n, size_t d, float *x, double *t)
{
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(1.5 * pi_rng_normal1(99, PI_STREAM_AUX, 0, 0, i));
    for (size_t i = 0; i < n; i++)
        t[i] = 0.02 + 0.97 * pi_rng_uniform1(99, PI_STREAM_AUX, 1, 0, i);
}

static void eval_native(const pi_model_t *m, size_t n, const float *x, const double *t, float *out)
{
    size_t bytes = pi_model_workspace_bytes(m, n);
    void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
    pi_eval_ctx ctx = {ws, bytes, 1, NULL, NULL};
    assert_int_equal(m->type->eval(m, n, x, t, out, &ctx), PI_OK);
    free(ws);
}

static void test_round_trip(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_EDM, &sde), PI_OK);
    pi_model_t *m = NULL, *m2 = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 3, 20, 2, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, 42), PI_OK);
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 6), PI_OK);
    assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_DENOISED), PI_OK);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.3), PI_OK);
    char path[256];
    path_of(path, sizeof path, "round.safetensors");
    assert_int_equal(pi_model_save_safetensors(m, path), PI_OK);
    assert_int_equal(pi_model_load_safetensors(sde, path, &m2), PI_OK);
    const pi_mlp *a = m->impl, *b = m2->impl;
    assert_int_equal(a->num_params, b->num_params);
    assert_memory_equal(a->params, b->params, a->num_params * sizeof(float));
    assert_int_equal(b->features, 6);
    assert_int_equal(b->embedding, PI_EMBEDDING_TIME);
    assert_int_equal(b->output_view, PI_VIEW_DENOISED);
    assert_int_equal(b->precond, PI_PRECOND_EDM);
    assert_true(b->sigma_data == 0.3);
    float x[30], o1[30], o2[30];
    double t[10];
    points(10, 3, x, t);
    eval_native(m, 10, x, t, o1);
    eval_native(m2, 10, x, t, o2);
    assert_memory_equal(o1, o2, sizeof o1);
    /* Mode 2 (input scaling only) survives the round trip and keeps the output view. */
    pi_model_destroy(m2);
    m2 = NULL;
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_INPUT, 0.3), PI_OK);
    assert_int_equal(pi_model_save_safetensors(m, path), PI_OK);
    assert_int_equal(pi_model_load_safetensors(sde, path, &m2), PI_OK);
    assert_int_equal(((const pi_mlp *)m2->impl)->precond, PI_PRECOND_INPUT);
    assert_int_equal(m2->native_view, PI_VIEW_DENOISED);
    eval_native(m, 10, x, t, o1);
    eval_native(m2, 10, x, t, o2);
    assert_memory_equal(o1, o2, sizeof o1);
    /* Only MLPs can be exported. */
    static const struct pi_model_type fake_type = {.name = "fake", .kind = PI_MODEL_KIND_GMM};
    pi_model_t *fake = NULL;
    assert_int_equal(pi_model_alloc(&fake_type, sde, 2, PI_VIEW_SCORE, &fake), PI_OK);
    assert_int_equal(pi_model_save_safetensors(fake, path), PI_EUNSUPPORTED);
    pi_model_destroy(fake);
    assert_int_equal(pi_model_save_safetensors(NULL, path), PI_EINVAL);
    assert_int_equal(pi_model_save_safetensors(m, NULL), PI_EINVAL);
    assert_int_equal(pi_model_load_safetensors(NULL, path, &m2), PI_EINVAL);
    path_of(path, sizeof path, "missing.safetensors");
    pi_model_t *keep = m2;
    assert_int_equal(pi_model_load_safetensors(sde, path, &m2), PI_EIO);
    assert_ptr_equal(m2, keep);
    pi_model_destroy(m);
    pi_model_destroy(m2);
    pi_sde_destroy(sde);
}

/* Compare pathint's outputs with the torch twin's (float64) on n points. */
static void assert_close(const float *ours, const double *ref, size_t count)
{
    double mean = 0.0;
    for (size_t i = 0; i < count; i++)
        mean += fabs(ref[i]) / (double)count;
    for (size_t i = 0; i < count; i++)
        assert_true(fabs(ours[i] - ref[i]) <= 1e-5 * fmax(fabs(ref[i]), mean));
}

static void torch_direction(int export_from_torch, pi_precond precond, pi_embedding emb, pi_view view)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 2, 32, 3, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, 7), PI_OK);
    assert_int_equal(pi_model_mlp_set_embedding(m, emb, 10), PI_OK);
    assert_int_equal(pi_model_mlp_set_output_view(m, view), PI_OK);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, precond, 0.5), PI_OK);
    size_t n = 1000;
    float *x = malloc(n * 2 * sizeof *x), *out = malloc(n * 2 * sizeof *out);
    double *t = malloc(n * sizeof *t), *ref = malloc(n * 2 * sizeof *ref);
    points(n, 2, x, t);
    char case_path[256], file[256], res[256], args[900];
    path_of(case_path, sizeof case_path, "case.txt");
    path_of(file, sizeof file, "torch.safetensors");
    path_of(res, sizeof res, "out.txt");
    assert_int_equal(ref_write_case(case_path, m, 0, n, x, t, NULL), 0);
    pi_model_t *used = m, *loaded = NULL;
    if (export_from_torch) {
        snprintf(args, sizeof args, "export %s %s %s", case_path, file, res);
    } else {
        assert_int_equal(pi_model_save_safetensors(m, file), PI_OK);
        snprintf(args, sizeof args, "import %s %s %s", file, case_path, res);
    }
    int rc = ref_run_torch(args);
    if (rc == 77) {
        print_message("torch_mlp.py: /usr/bin/python3 with torch (Debian python3-torch) is not "
                      "available; skipping the PyTorch interchange test\n");
        free(x);
        free(out);
        free(t);
        free(ref);
        pi_model_destroy(m);
        pi_sde_destroy(sde);
        skip();
    }
    assert_int_equal(rc, 0);
    if (export_from_torch) {
        assert_int_equal(pi_model_load_safetensors(sde, file, &loaded), PI_OK);
        used = loaded;
        const pi_mlp *a = m->impl, *b = loaded->impl;
        assert_int_equal(a->features, b->features);
        assert_int_equal(a->embedding, b->embedding);
        assert_int_equal(a->output_view, b->output_view);
        assert_int_equal(a->precond, b->precond);
        assert_int_equal(a->num_params, b->num_params);
    }
    assert_int_equal(ref_read_numbers(res, ref, n * 2), n * 2);
    eval_native(used, n, x, t, out);
    assert_close(out, ref, n * 2);
    pi_model_destroy(loaded);
    free(x);
    free(out);
    free(t);
    free(ref);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

static void test_torch_to_pathint(void **state)
{
    (void)state;
    /* (One configuration per direction: each torch start costs seconds.) */
    torch_direction(1, PI_PRECOND_EDM, PI_EMBEDDING_TIME, PI_VIEW_EPS);
}

static void test_pathint_to_torch(void **state)
{
    (void)state;
    /* Input scaling only (mode 2) with a D output: the output view is kept, not EDM's D. */
    torch_direction(0, PI_PRECOND_INPUT, PI_EMBEDDING_LOG_SIGMA, PI_VIEW_DENOISED);
}

/* ---- hand-made files ------------------------------------------------------------------- */

/* dim 1, width 2, 1 hidden layer, 2 features: net.0.weight [2,3], net.0.bias [2],
 * net.2.weight [1,2], net.2.bias [1]: 11 values. */
static const char base_header[] =
    "{\"net.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"net.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
    "\"net.2.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[32,40]},"
    "\"net.2.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[40,44]}}";
static const float base_values[11] = {0.5f,   -0.25f, 1.0f,  2.0f,  -1.5f, 0.75f,
                                      0.125f, -2.0f,  1.25f, -0.5f, 3.0f};

static void write_raw(const char *path, const char *header, uint64_t claimed_len, const void *data,
                      size_t data_len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)(claimed_len >> (8 * k));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    fwrite(data, 1, data_len, f);
    fclose(f);
}

static pi_status load_header(const pi_sde_t *sde, const char *header, const void *data,
                             size_t data_len, pi_model_t **out)
{
    char path[256];
    path_of(path, sizeof path, "hand.safetensors");
    write_raw(path, header, strlen(header), data, data_len);
    return pi_model_load_safetensors(sde, path, out);
}

/* header with the first occurrence of `from` replaced by `to`. */
static char *mutate(const char *header, const char *from, const char *to)
{
    const char *at = strstr(header, from);
    assert_non_null(at);
    size_t cap = strlen(header) + strlen(to) + 1;
    char *s = malloc(cap);
    size_t pre = (size_t)(at - header);
    memcpy(s, header, pre);
    snprintf(s + pre, cap - pre, "%s%s", to, at + strlen(from));
    return s;
}

static void test_hand_made_valid(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = NULL;
    /* No metadata: shapes give the network, options take their defaults. */
    assert_int_equal(load_header(sde, base_header, base_values, sizeof base_values, &m), PI_OK);
    const pi_mlp *net = m->impl;
    assert_int_equal(net->dim, 1);
    assert_int_equal(net->width, 2);
    assert_int_equal(net->layers, 1);
    assert_int_equal(net->features, 2);
    assert_int_equal(net->output_view, PI_VIEW_EPS);
    assert_memory_equal(net->params, base_values, sizeof base_values);
    pi_model_destroy(m);
    /* Tensors in another order in the data, white space, escapes, unknown metadata. */
    const char *shuffled =
        " { \"__metadata__\" : { \"note\" : \"made \\\"by hand\\\" \\u00e9\", \"output_view\":"
        "\"score\", \"format\":\"pathint-mlp\" } ,\n"
        "\"net.2.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"net.2.weight\":{\"shape\":[1,2],\"dtype\":\"F32\",\"data_offsets\":[4,12]},"
        "\"net.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
        "\"net.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[20,44]}}  ";
    float data[11];
    memcpy(data, base_values + 10, 4);
    memcpy(data + 1, base_values + 8, 8);
    memcpy(data + 3, base_values + 6, 8);
    memcpy(data + 5, base_values, 24);
    assert_int_equal(load_header(sde, shuffled, data, sizeof data, &m), PI_OK);
    net = m->impl;
    assert_memory_equal(net->params, base_values, sizeof base_values);
    assert_int_equal(net->output_view, PI_VIEW_SCORE);
    pi_model_destroy(m);
    /* F64 and F16 tensors convert to the same floats (these values are exact in both). */
    double d64[11];
    for (int i = 0; i < 11; i++)
        d64[i] = base_values[i];
    char *h = mutate(base_header, "\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]",
                     "\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]");
    char *h2 = mutate(h, "[24,32]", "[48,56]");
    char *h3 = mutate(h2, "[32,40]", "[56,64]");
    char *h4 = mutate(h3, "[40,44]", "[64,68]");
    unsigned char mixed[68];
    memcpy(mixed, d64, 48);
    memcpy(mixed + 48, base_values + 6, 20);
    assert_int_equal(load_header(sde, h4, mixed, sizeof mixed, &m), PI_OK);
    assert_memory_equal(((const pi_mlp *)m->impl)->params, base_values, sizeof base_values);
    pi_model_destroy(m);
    free(h);
    free(h2);
    free(h3);
    free(h4);
    /* F16: 0.5 = 0x3800, −0.25 = 0xB400, 1 = 0x3C00, 2 = 0x4000, −1.5 = 0xBE00, 0.75 = 0x3A00 */
    h = mutate(base_header, "\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]",
               "\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]");
    h2 = mutate(h, "[24,32]", "[12,20]");
    h3 = mutate(h2, "[32,40]", "[20,28]");
    h4 = mutate(h3, "[40,44]", "[28,32]");
    const uint16_t halves[6] = {0x3800, 0xB400, 0x3C00, 0x4000, 0xBE00, 0x3A00};
    unsigned char hdata[32];
    for (int i = 0; i < 6; i++) {
        hdata[2 * i] = (unsigned char)(halves[i] & 0xff);
        hdata[2 * i + 1] = (unsigned char)(halves[i] >> 8);
    }
    memcpy(hdata + 12, base_values + 6, 20);
    assert_int_equal(load_header(sde, h4, hdata, sizeof hdata, &m), PI_OK);
    assert_memory_equal(((const pi_mlp *)m->impl)->params, base_values, sizeof base_values);
    pi_model_destroy(m);
    free(h);
    free(h2);
    free(h3);
    free(h4);
    /* The other naming schemes: bare nn.Sequential and a ModuleList of Linear layers. */
    const char *renames[][4] = {{"net.0.", "0.", "net.2.", "2."},
                                {"net.0.", "layers.0.", "net.2.", "layers.1."}};
    for (size_t k = 0; k < 2; k++) {
        char *a = mutate(base_header, renames[k][0], renames[k][1]);
        char *b = mutate(a, renames[k][0], renames[k][1]);
        char *c = mutate(b, renames[k][2], renames[k][3]);
        char *e = mutate(c, renames[k][2], renames[k][3]);
        assert_int_equal(load_header(sde, e, base_values, sizeof base_values, &m), PI_OK);
        assert_memory_equal(((const pi_mlp *)m->impl)->params, base_values, sizeof base_values);
        pi_model_destroy(m);
        free(a);
        free(b);
        free(c);
        free(e);
    }
    pi_sde_destroy(sde);
}

static void test_malformed(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    static const char *const edits[][2] = {
        {"[0,24]", "[0,25]"},                   /* size disagrees with shape */
        {"[0,24]", "[0,24.0]"},                 /* not an integer */
        {"[0,24]", "[-0,24]"},                  /* sign */
        {"[0,24]", "[00,24]"},                  /* leading zero */
        {"[0,24]", "[24,0]"},                   /* begin > end */
        {"[0,24]", "[0,24,1]"},                 /* three offsets */
        {"[0,24]", "[0,99999999999999999999]"}, /* overflow */
        {"\"F32\"", "\"I32\""},                 /* dtype */
        {"\"F32\"", "32"},                      /* dtype not a string */
        {"[2,3]", "[2,3,1]"},                   /* rank 3 */
        {"[2,3]", "[3,3]"},                     /* shape vs bias */
        {"[2,3]", "[2,4]"},                     /* odd features */
        {"[1,2]", "[1,3]"},                     /* hidden width mismatch */
        {"net.2.bias", "net.3.bias"},           /* odd module index */
        {"net.2.bias", "net.02.bias"},          /* leading zero */
        {"net.2.bias", "net.2.biass"},          /* unknown suffix */
        {"net.2.bias", "net.0.bias"},           /* repeated name */
        {"net.2.bias", "net.4.bias"},           /* missing net.2.bias */
        {"net.0.weight", "layers.0.weight"},    /* mixed naming schemes */
        {"net.0.weight", "net.0.weight.x"},
        {"net.0.weight", "nett.0.weight"},
        {"[40,44]", "[36,40]"}, /* overlap */
        {"[40,44]", "[44,48]"}, /* hole (and beyond data) */
        {"\"dtype\":\"F32\",\"shape\":[1]", "\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1]"},
        {"\"shape\":[1],", ""}, /* missing shape */
        {"}}", "},}"},          /* trailing comma */
        {"}}", "}"},            /* unterminated */
        {"}}", "}}}"},          /* trailing bytes */
        {"{\"net.0.weight\"", "{net.0.weight"},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"dim\":\"5\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"format\":\"gguf\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"sigma_data\":\"-1\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"sigma_data\":\"0.5x\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"embedding\":\"fourier\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"output_view\":\"v\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"preconditioning\":\"yes\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"features\":\"4\"},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{\"x\":1},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"__metadata__\":{},\"__metadata__\":{},\"net.0.weight\""},
        {"{\"net.0.weight\"", "{\"net.0.weight\\q\""},
        {"{\"net.0.weight\"", "{\"net.0.weight\n\""},
        {"{\"net.0.weight\"", "{\"net.0.weight\\u12\""},
    };
    size_t count = sizeof edits / sizeof edits[0];
    for (size_t k = 0; k < count; k++) {
        char *h = mutate(base_header, edits[k][0], edits[k][1]);
        pi_model_t *m = (pi_model_t *)(uintptr_t)0x1;
        pi_status st = load_header(sde, h, base_values, sizeof base_values, &m);
        if (st != PI_EFORMAT)
            print_message("edit %zu (%s -> %s) gave %d\n", k, edits[k][0], edits[k][1], st);
        assert_int_equal(st, PI_EFORMAT);
        assert_ptr_equal(m, (pi_model_t *)(uintptr_t)0x1);
        free(h);
    }
    pi_model_t *m = NULL;
    /* Whole-header oddities. */
    const char *headers[] = {
        "", "{}", "[]", "{\"net.0.weight\":1}", "null", "{\"a\":{}}", "{\"__metadata__\":{}}"};
    for (size_t k = 0; k < sizeof headers / sizeof headers[0]; k++)
        assert_int_equal(load_header(sde, headers[k], base_values, sizeof base_values, &m),
                         PI_EFORMAT);
    /* Data: NaN, extra trailing bytes, too short. */
    float bad[12] = {0};
    memcpy(bad, base_values, sizeof base_values);
    bad[3] = NAN;
    assert_int_equal(load_header(sde, base_header, bad, sizeof base_values, &m), PI_EFORMAT);
    bad[3] = INFINITY;
    assert_int_equal(load_header(sde, base_header, bad, sizeof base_values, &m), PI_EFORMAT);
    memcpy(bad, base_values, sizeof base_values);
    assert_int_equal(load_header(sde, base_header, bad, sizeof bad, &m), PI_EFORMAT);
    assert_int_equal(load_header(sde, base_header, bad, 40, &m), PI_EFORMAT);
    /* Length prefix: beyond the file, absurd, tiny; a file shorter than the prefix. */
    char path[256];
    path_of(path, sizeof path, "len.safetensors");
    const uint64_t lens[] = {strlen(base_header) + 100, (uint64_t)1 << 62, UINT64_MAX, 0, 1};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        write_raw(path, base_header, lens[k], base_values, sizeof base_values);
        assert_int_equal(pi_model_load_safetensors(sde, path, &m), PI_EFORMAT);
    }
    FILE *f = fopen(path, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    assert_int_equal(pi_model_load_safetensors(sde, path, &m), PI_EFORMAT);
    pi_sde_destroy(sde);
}

/* Every truncation and every single-byte change of a valid file is rejected or loads a valid
 * model; nothing crashes (the sanitizer and valgrind runs check memory). */
static void test_truncations_and_flips(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    char path[256];
    path_of(path, sizeof path, "flip.safetensors");
    write_raw(path, base_header, strlen(base_header), base_values, sizeof base_values);
    unsigned char *file = NULL;
    size_t size = 0;
    assert_int_equal(pi_read_file(path, 1 << 20, &file, &size), PI_OK);
    size_t step = getenv("PI_TEST_QUICK") ? 7 : 1;
    for (size_t cut = 0; cut < size; cut += step) {
        FILE *f = fopen(path, "wb");
        fwrite(file, 1, cut, f);
        fclose(f);
        pi_model_t *m = NULL;
        assert_int_equal(pi_model_load_safetensors(sde, path, &m), PI_EFORMAT);
    }
    for (size_t pos = 0; pos < size; pos += step) {
        const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
        for (size_t k = 0; k < sizeof flips; k++) {
            file[pos] ^= flips[k];
            FILE *f = fopen(path, "wb");
            fwrite(file, 1, size, f);
            fclose(f);
            pi_model_t *m = NULL;
            pi_status st = pi_model_load_safetensors(sde, path, &m);
            assert_true(st == PI_OK || st == PI_EFORMAT);
            if (st == PI_OK) {
                const pi_mlp *net = m->impl;
                assert_true(pi_first_nonfinite_f(net->params, net->num_params) == net->num_params);
                pi_model_destroy(m);
            }
            file[pos] ^= flips[k];
        }
    }
    pi_free(file);
    pi_sde_destroy(sde);
}

/* Issue 14: the metadata names the SDE kind (and a table's length); a load onto another kind or
 * another table length is PI_EMISMATCH, onto the same one bit-identical. */
static void test_sde_metadata(void **state)
{
    (void)state;
    pi_sde_t *rf = NULL, *vp = NULL, *table = NULL, *short_table = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_RECTIFIED_FLOW, &rf), PI_OK);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &vp), PI_OK);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085, 0.012,
                                                 0, &table),
                     PI_OK);
    assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 500, 0.00085, 0.012,
                                                 0, &short_table),
                     PI_OK);
    char path[256];
    path_of(path, sizeof path, "sde_meta.safetensors");
    pi_sde_t *kinds[2] = {rf, table};
    for (int k = 0; k < 2; k++) {
        pi_model_t *m = NULL, *m2 = (pi_model_t *)0x1;
        assert_int_equal(pi_model_create_mlp(kinds[k], 2, 16, 2, &m), PI_OK);
        assert_int_equal(pi_model_mlp_init(m, 7), PI_OK);
        assert_int_equal(pi_model_save_safetensors(m, path), PI_OK);
        assert_int_equal(pi_model_load_safetensors(vp, path, &m2), PI_EMISMATCH);
        assert_non_null(strstr(pi_last_error(), k ? "\"discrete\"" : "\"rectified_flow\""));
        assert_true(m2 == (pi_model_t *)0x1);
        if (k == 1) {
            assert_int_equal(pi_model_load_safetensors(short_table, path, &m2), PI_EMISMATCH);
            assert_non_null(strstr(pi_last_error(), "sde_steps"));
        }
        m2 = NULL;
        assert_int_equal(pi_model_load_safetensors(kinds[k], path, &m2), PI_OK);
        float x[20], o1[20], o2[20];
        double t[10];
        points(10, 2, x, t);
        eval_native(m, 10, x, t, o1);
        eval_native(m2, 10, x, t, o2);
        assert_memory_equal(o1, o2, sizeof o1);
        pi_model_destroy(m2);
        pi_model_destroy(m);
    }
    remove(path);
    pi_sde_destroy(rf);
    pi_sde_destroy(vp);
    pi_sde_destroy(table);
    pi_sde_destroy(short_table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_torch_to_pathint),
        cmocka_unit_test(test_pathint_to_torch), cmocka_unit_test(test_hand_made_valid),
        cmocka_unit_test(test_malformed),        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_sde_metadata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
