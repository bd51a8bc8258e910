/* Fuzz entry points (see fuzz_targets.h). File readers get the input as a file (the public
 * API reads paths); the setter target interprets the input as a program of setter calls. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_targets.h"

#include "core/core.h"
#include "pathint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Abort (a finding) if an internal invariant of a successful call does not hold. */
#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Write the input to a per-process temporary file with the given extension. */
static const char *input_file(const uint8_t *data, size_t size, const char *ext)
{
    static char path[256];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/pi_fuzz_%ld.%s", base, (long)getpid(), ext);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return NULL;
    if (size > 0 && fwrite(data, 1, size, fp) != size) {
        fclose(fp);
        return NULL;
    }
    if (fclose(fp) != 0)
        return NULL;
    return path;
}

/* A loaded model must be usable: evaluate it on a few points. */
static void exercise_model(pi_model_t *m)
{
    size_t dim = 0;
    FUZZ_CHECK(pi_model_get_dim(m, &dim) == PI_OK && dim >= 1);
    if (dim > 64)
        return;
    float x[2 * 64], out[2 * 64];
    double t[2];
    const pi_sde_t *sde = NULL;
    double t0 = 0, t1 = 1;
    FUZZ_CHECK(pi_model_get_sde(m, &sde) == PI_OK);
    FUZZ_CHECK(pi_sde_time_range(sde, &t0, &t1) == PI_OK);
    for (size_t i = 0; i < 2 * dim; i++)
        x[i] = 0.1f * (float)i - 0.5f;
    t[0] = t0 + 0.25 * (t1 - t0);
    t[1] = t1;
    pi_status st = pi_model_eval(m, PI_VIEW_DENOISED, 2, x, t, out);
    FUZZ_CHECK(st == PI_OK || st == PI_ENUMERIC || st == PI_EUNSUPPORTED || st == PI_EINVAL);
}

/* Model files end in a checksum, so almost every mutation would stop at the checksum check.
 * Inputs of even size (every valid file is even-sized) are "repaired" first: the payload
 * length field is set to size - 112 and the checksum recomputed (docs/model-format.md), so
 * the fuzzer reaches the payload validation. Odd sizes go to the reader untouched. */
static const uint8_t *repair_model_file(const uint8_t *data, size_t size, uint8_t **copy)
{
    *copy = NULL;
    if (size < 112 || size % 2 != 0)
        return data;
    uint8_t *buf = malloc(size);
    if (buf == NULL)
        return data;
    memcpy(buf, data, size);
    uint64_t payload = (uint64_t)(size - 112);
    for (int i = 0; i < 8; i++)
        buf[96 + i] = (uint8_t)(payload >> (8 * i));
    uint64_t sum = pi_checksum64(buf, size - 8, 0);
    for (int i = 0; i < 8; i++)
        buf[size - 8 + (size_t)i] = (uint8_t)(sum >> (8 * i));
    *copy = buf;
    return buf;
}

int pi_fuzz_model_load(const uint8_t *data, size_t size)
{
    uint8_t *copy = NULL;
    data = repair_model_file(data, size, &copy);
    const char *path = input_file(data, size, "pim");
    free(copy);
    if (path == NULL)
        return 0;
    pi_model_t *m = NULL;
    pi_status st = pi_model_load(path, &m);
    if (st == PI_OK) {
        FUZZ_CHECK(m != NULL);
        exercise_model(m);
        pi_model_destroy(m);
    } else {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(pi_last_error()[0] != '\0');
    }
    unlink(path);
    return 0;
}

int pi_fuzz_safetensors(const uint8_t *data, size_t size)
{
    const char *path = input_file(data, size, "safetensors");
    if (path == NULL)
        return 0;
    pi_sde_t *sde = NULL;
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde) != PI_OK) {
        unlink(path);
        return 0;
    }
    pi_model_t *m = NULL;
    pi_status st = pi_model_load_safetensors(sde, path, &m);
    if (st == PI_OK) {
        FUZZ_CHECK(m != NULL);
        exercise_model(m);
        pi_model_destroy(m);
    } else {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(pi_last_error()[0] != '\0');
    }
    pi_sde_destroy(sde);
    unlink(path);
    return 0;
}

static int fuzz_data(const uint8_t *data, size_t size, const char *ext)
{
    const char *path = input_file(data, size, ext);
    if (path == NULL)
        return 0;
    float *x = NULL;
    size_t n = 777, dim = 777;
    pi_status st = pi_data_load(path, &x, &n, &dim);
    if (st == PI_OK) {
        FUZZ_CHECK(x != NULL && n >= 1 && dim >= 1);
        /* Every element is readable (ASan checks the bounds) and finite. */
        for (size_t i = 0; i < n * dim; i++)
            FUZZ_CHECK(isfinite(x[i]));
        pi_free(x);
    } else {
        FUZZ_CHECK(x == NULL && n == 777 && dim == 777);
        FUZZ_CHECK(pi_last_error()[0] != '\0');
    }
    unlink(path);
    return 0;
}

int pi_fuzz_data_csv(const uint8_t *data, size_t size) { return fuzz_data(data, size, "csv"); }
int pi_fuzz_data_npy(const uint8_t *data, size_t size) { return fuzz_data(data, size, "npy"); }

/* ---- option setters -------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint8_t take_u8(reader *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}

static uint64_t take_u64(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take_u8(r);
    return v;
}

/* A double that is often interesting: special values, small integers, or raw bits. */
static double take_double(reader *r)
{
    static const double specials[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-3, 1e-12, 1e300, -1e300,
                                      INFINITY, -INFINITY, NAN, 7.0, 0.999, 2.0, 1e-5};
    uint8_t kind = take_u8(r);
    if (kind < 128)
        return specials[kind % 16];
    if (kind < 200)
        return (double)(int8_t)take_u8(r) / 16.0;
    uint64_t bits = take_u64(r);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static size_t take_size(reader *r)
{
    uint8_t kind = take_u8(r);
    if (kind < 200)
        return kind % 64;
    if (kind < 250)
        return (size_t)take_u64(r) % 100000;
    return (size_t)take_u64(r); /* anything, including huge */
}

typedef struct cancel_state {
    size_t at;
    int fail;
} cancel_state;

static int step_callback(size_t step, size_t nsteps, double t, size_t n, size_t dim,
                         const float *x, const float *denoised, void *user)
{
    const cancel_state *c = user;
    (void)nsteps;
    (void)t;
    /* Touch the states: ASan checks the extent the callback is promised. */
    volatile float sink = 0;
    for (size_t i = 0; i < n * dim; i++)
        sink += x[i] + (denoised ? denoised[i] : 0.0f);
    (void)sink;
    return step == c->at ? (c->fail ? -1 : 1) : 0;
}

int pi_fuzz_setters(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    pi_sde_t *sde = NULL;
    pi_sde_kind kinds[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE,
                           PI_SDE_KIND_EDM};
    if (pi_sde_create(kinds[take_u8(&r) % 5], &sde) != PI_OK)
        return 0;
    /* A few SDE parameter changes first (validated setters). */
    int sde_changed = 0;
    for (int i = take_u8(&r) % 3; i > 0; i--)
        sde_changed |= pi_sde_set_param(sde, (pi_sde_param)(take_u8(&r) % 9), take_double(&r)) == PI_OK;
    double w[2] = {0.4, 0.6}, mu[4] = {-0.5, 0.2, 0.7, -0.3}, var[4] = {0.02, 0.05, 0.01, 0.1};
    pi_model_t *m = NULL;
    if (pi_model_create_gmm(sde, 2, 2, w, mu, var, &m) != PI_OK) {
        pi_sde_destroy(sde);
        return 0;
    }
    pi_sampler_t *s = NULL;
    pi_likelihood_t *lik = NULL;
    if (pi_sampler_create(m, &s) != PI_OK || pi_likelihood_create(m, &lik) != PI_OK) {
        pi_sampler_destroy(s);
        pi_model_destroy(m);
        pi_sde_destroy(sde);
        return 0;
    }
    cancel_state cs = {0, 0};
    float traj_x[4096], traj_d[4096];
    double times[64];
    int nops = take_u8(&r) % 24;
    for (int op = 0; op < nops && r.left > 0; op++) {
        pi_status st = PI_OK;
        switch (take_u8(&r) % 20) {
        case 0: st = pi_sampler_set_hbar(s, take_double(&r)); break;
        case 1: st = pi_sampler_set_method(s, (pi_method)(take_u8(&r) % 7)); break;
        case 2: st = pi_sampler_set_steps(s, take_size(&r)); break;
        case 3: st = pi_sampler_set_schedule(s, (pi_schedule)(take_u8(&r) % 6), take_double(&r)); break;
        case 4: {
            size_t count = take_u8(&r) % 64;
            for (size_t i = 0; i < count; i++)
                times[i] = take_double(&r);
            st = pi_sampler_set_times(s, count ? times : NULL, count);
            break;
        }
        case 5: {
            double a = take_double(&r), b = take_double(&r);
            st = pi_sampler_set_time_range(s, a, b);
            break;
        }
        case 6: st = pi_sampler_set_seed(s, take_u64(&r)); break;
        case 7: st = pi_sampler_set_threads(s, (int)(int8_t)take_u8(&r)); break;
        case 8: st = pi_sampler_set_denoise_final(s, take_u8(&r) % 2); break;
        case 9: {
            double rt = take_double(&r), at = take_double(&r);
            st = pi_sampler_set_tolerances(s, rt, at);
            break;
        }
        case 10: {
            size_t k = take_size(&r);
            st = pi_sampler_set_corrector(s, k, take_double(&r));
            break;
        }
        case 11:
            cs.at = take_u8(&r) % 16;
            cs.fail = take_u8(&r) % 2;
            st = pi_sampler_set_callback(s, cs.at ? step_callback : NULL, &cs);
            break;
        case 12: {
            uint8_t mode = take_u8(&r) % 3;
            size_t cap = take_size(&r) % 4097;
            st = mode == 0   ? pi_sampler_set_trajectory(s, 0, 0, NULL, NULL)
                 : mode == 1 ? pi_sampler_set_trajectory(s, 1, 0, NULL, NULL)
                             : pi_sampler_set_trajectory(s, 1, cap, traj_x, traj_d);
            break;
        }
        case 13: st = pi_likelihood_set_divergence(lik, (pi_divergence)(take_u8(&r) % 4), take_size(&r)); break;
        case 14: {
            double rt = take_double(&r), at = take_double(&r);
            st = pi_likelihood_set_tolerances(lik, rt, at);
            break;
        }
        case 15: st = pi_likelihood_set_wkb_algorithm(lik, (pi_wkb_algorithm)(take_u8(&r) % 3)); break;
        case 16: st = pi_likelihood_set_dequantization(lik, take_double(&r)); break;
        case 17: st = pi_sampler_cancel(s); break;
        case 18: {
            size_t count = 0;
            st = pi_sampler_get_times(s, take_u8(&r) % 65, times, &count);
            if (st == PI_OK)
                FUZZ_CHECK(count >= 2);
            break;
        }
        default: st = pi_model_set_threads(m, (int)(int8_t)take_u8(&r)); break;
        }
        if (st != PI_OK)
            FUZZ_CHECK(pi_last_error()[0] != '\0');
    }

    /* Keep the run short whatever the options: cap steps and tighten nothing. */
    size_t count = 0;
    if (pi_sampler_get_times(s, 64, times, &count) != PI_OK || count > 64)
        (void)pi_sampler_set_steps(s, 16);
    (void)pi_sampler_set_tolerances(s, 1e-3, 1e-3);
    (void)pi_sampler_set_corrector(s, 0, 0.16);
    if (pi_sampler_set_threads(s, 1 + take_u8(&r) % 2) != PI_OK)
        FUZZ_CHECK(0);

    size_t n = 1 + take_u8(&r) % 8;
    float x[16];
    for (size_t i = 0; i < 16; i++)
        x[i] = 1234.5f;
    pi_status st = pi_sampler_run(s, n, x);
    if (st == PI_OK || st == PI_ECANCELED || st == PI_ECALLBACK) {
        for (size_t i = 0; i < n * 2; i++)
            FUZZ_CHECK(isfinite(x[i]));
        const float *tx = NULL, *td = NULL;
        size_t npoints = 0;
        FUZZ_CHECK(pi_sampler_get_trajectory(s, &tx, &td, &npoints) == PI_OK);
        volatile float sink = 0;
        for (size_t i = 0; tx != NULL && i < npoints * n * 2; i++)
            sink += tx[i];
        (void)sink;
    } else {
        FUZZ_CHECK(pi_last_error()[0] != '\0');
    }
    if (take_u8(&r) % 4 == 0 && !sde_changed) {
        /* A one-point likelihood with the fuzzed likelihood options (loose tolerances, default
         * SDE parameters: an extreme SDE makes the adaptive solve legitimately slow, which the
         * long run reported as a 10 s timeout, not a bug). */
        (void)pi_likelihood_set_tolerances(lik, 1e-3, 1e-5);
        (void)pi_likelihood_set_wkb_algorithm(lik, PI_WKB_ALGORITHM_SWEEP);
        double nll = 0, c1 = 0;
        float pt[2] = {0.1f, -0.2f};
        (void)pi_likelihood_nll(lik, 1, pt, &nll, take_u8(&r) % 2 ? &c1 : NULL);
    }
    pi_sampler_destroy(s);
    pi_likelihood_destroy(lik);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    return 0;
}
