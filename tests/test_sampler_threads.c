/* Reproducibility and threads: bitwise identical samples for any thread count, batch size and
 * chunking; no allocation inside the step loop (counting malloc interposer); cancellation
 * from another thread. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pathint.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sanitizers interpose malloc themselves: no counting allocator there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAVE_INTERPOSER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define HAVE_INTERPOSER 0
#endif
#endif
#ifndef HAVE_INTERPOSER
#define HAVE_INTERPOSER 1
#endif

/* ---- counting allocator (glibc): counts calls while `counting` is set ---------------- */
static atomic_int counting;
static atomic_long alloc_calls;
#if HAVE_INTERPOSER
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&alloc_calls, 1);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&alloc_calls, 1);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&alloc_calls, 1);
    return __libc_realloc(p, n);
}
void free(void *p)
{
    if (p != NULL && atomic_load(&counting))
        atomic_fetch_add(&alloc_calls, 1);
    __libc_free(p);
}
#endif

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static const double W[3] = {0.3, 0.5, 0.2};
static const double MU[6] = {-1.0, 0.5, 1.0, 1.0, 0.2, -1.2};
static const double VAR[6] = {0.10, 0.20, 0.15, 0.08, 0.25, 0.12};

typedef struct fixture {
    pi_sde_t *sde;
    pi_model_t *model;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (pi_sde_create(PI_SDE_KIND_VP_LINEAR, &f->sde) != PI_OK ||
        pi_model_create_gmm(f->sde, 2, 3, W, MU, VAR, &f->model) != PI_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pi_model_destroy(f->model);
    pi_sde_destroy(f->sde);
    free(f);
    return 0;
}

static float *sample_noise(fixture *f, pi_method m, double hbar, size_t corrector, int threads,
                           size_t n, pi_noise noise)
{
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_noise(s, noise), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, m), PI_OK);
    assert_int_equal(pi_sampler_set_hbar(s, hbar), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 12), PI_OK);
    assert_int_equal(pi_sampler_set_seed(s, 0x1234abcdULL), PI_OK);
    assert_int_equal(pi_sampler_set_threads(s, threads), PI_OK);
    if (corrector > 0)
        assert_int_equal(pi_sampler_set_corrector(s, corrector, 0.2), PI_OK);
    float *x = malloc(n * 2 * sizeof *x);
    assert_int_equal(pi_sampler_run(s, n, x), PI_OK);
    pi_sampler_destroy(s);
    return x;
}

static float *sample(fixture *f, pi_method m, double hbar, size_t corrector, int threads, size_t n)
{
    return sample_noise(f, m, hbar, corrector, threads, n, PI_NOISE_STEP);
}

static void test_bitwise_reproducible(void **state)
{
    fixture *f = *state;
    const size_t n = quick() ? 1100 : 3000; /* > one chunk of 1024 rows */
    struct {
        pi_method m;
        double hbar;
        size_t corr;
        pi_noise noise;
    } cases[] = {{PI_METHOD_EULER, 1.0, 0, PI_NOISE_STEP}, {PI_METHOD_EXP1, 0.5, 0, PI_NOISE_STEP},
                 {PI_METHOD_EXP2M, 0.0, 0, PI_NOISE_STEP}, {PI_METHOD_EXP2M, 2.0, 1, PI_NOISE_STEP},
                 {PI_METHOD_HEUN, 1.0, 0, PI_NOISE_STEP},
                 /* issue 16 */
                 {PI_METHOD_HEUN, 0.5, 1, PI_NOISE_STEP}, {PI_METHOD_EXP3M, 0.0, 0, PI_NOISE_STEP},
                 {PI_METHOD_EXP3M, 1.0, 1, PI_NOISE_STEP}, {PI_METHOD_IPNDM, 0.0, 0, PI_NOISE_STEP},
                 {PI_METHOD_IPNDM, 0.0, 2, PI_NOISE_STEP},
                 {PI_METHOD_EXP2M, 1.0, 0, PI_NOISE_BROWNIAN}, {PI_METHOD_HEUN, 0.5, 1, PI_NOISE_BROWNIAN},
                 {PI_METHOD_EULER, 2.0, 0, PI_NOISE_BROWNIAN}, {PI_METHOD_EXP3M, 1.0, 0, PI_NOISE_BROWNIAN},
                 {PI_METHOD_SA, 0.0, 0, PI_NOISE_STEP}, {PI_METHOD_SA, 1.0, 0, PI_NOISE_STEP},
                 {PI_METHOD_SA, 0.5, 0, PI_NOISE_BROWNIAN},
                 /* issue 16, second round */
                 {PI_METHOD_UNIPC, 0.0, 0, PI_NOISE_STEP}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pi_noise nz = cases[c].noise;
        float *ref = sample_noise(f, cases[c].m, cases[c].hbar, cases[c].corr, 1, n, nz);
        const int threads[] = {2, 3, 4};
        for (int k = 0; k < 3; k++) {
            float *x = sample_noise(f, cases[c].m, cases[c].hbar, cases[c].corr, threads[k], n, nz);
            assert_memory_equal(x, ref, n * 2 * sizeof *x);
            free(x);
        }
        const size_t sizes[] = {1, 7, 1025};
        for (int k = 0; k < 3; k++) {
            float *x = sample_noise(f, cases[c].m, cases[c].hbar, cases[c].corr, k + 1, sizes[k], nz);
            assert_memory_equal(x, ref, sizes[k] * 2 * sizeof *x);
            free(x);
        }
        free(ref);
    }
    /* RK45 couples rows through its error norm: identical for any thread count at fixed n. */
    float *ref = sample(f, PI_METHOD_RK45, 0.0, 0, 1, n);
    float *x = sample(f, PI_METHOD_RK45, 0.0, 0, 4, n);
    assert_memory_equal(x, ref, n * 2 * sizeof *x);
    free(x);
    free(ref);
}

/* Large dimension: model chunks shrink (chunk × dim is bounded), results do not change. */
static void test_bitwise_large_dim(void **state)
{
    (void)state;
    const size_t d = 600, n = quick() ? 300 : 700;
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    double w[2] = {0.5, 0.5}, *mu = malloc(2 * d * sizeof *mu), *var = malloc(2 * d * sizeof *var);
    for (size_t i = 0; i < 2 * d; i++) {
        mu[i] = i < d ? 0.5 : -0.5;
        var[i] = 0.1 + 0.001 * (double)(i % 7);
    }
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VE, &sde), PI_OK);
    assert_int_equal(pi_model_create_gmm(sde, d, 2, w, mu, var, &model), PI_OK);
    float *ref = NULL;
    const int threads[3] = {1, 3, 2};
    const size_t rows[3] = {n, n, 5};
    for (int k = 0; k < 3; k++) {
        pi_sampler_t *s = NULL;
        assert_int_equal(pi_sampler_create(model, &s), PI_OK);
        assert_int_equal(pi_sampler_set_method(s, PI_METHOD_HEUN), PI_OK);
        assert_int_equal(pi_sampler_set_hbar(s, 0.7), PI_OK);
        assert_int_equal(pi_sampler_set_steps(s, 6), PI_OK);
        assert_int_equal(pi_sampler_set_threads(s, threads[k]), PI_OK);
        assert_int_equal(pi_sampler_set_corrector(s, 1, 0.1), PI_OK);
        float *x = malloc(rows[k] * d * sizeof *x);
        assert_int_equal(pi_sampler_run(s, rows[k], x), PI_OK);
        if (ref == NULL)
            ref = x;
        else {
            assert_memory_equal(x, ref, rows[k] * d * sizeof *x);
            free(x);
        }
        pi_sampler_destroy(s);
    }
    free(ref);
    free(mu);
    free(var);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
}

/* Count allocations from the end of step 1 to the start of the last callback. */
static int counting_cb(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                       const float *den, void *user)
{
    (void)t;
    (void)n;
    (void)dim;
    (void)x;
    (void)den;
    (void)user;
    if (step == 1)
        atomic_store(&counting, 1);
    if (step == nsteps || (nsteps == 0 && step == 5))
        atomic_store(&counting, 0);
    return 0;
}

static void test_no_allocation_in_step_loop(void **state)
{
    if (!HAVE_INTERPOSER)
        skip();
    fixture *f = *state;
    for (int m = PI_METHOD_EULER; m <= PI_METHOD_RK45; m++) {
        for (int threads = 1; threads <= 2; threads++) {
            pi_sampler_t *s = NULL;
            assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
            assert_int_equal(pi_sampler_set_method(s, (pi_method)m), PI_OK);
            assert_int_equal(pi_sampler_set_hbar(s, m == PI_METHOD_RK45 ? 0.0 : 1.0), PI_OK);
            assert_int_equal(pi_sampler_set_steps(s, 20), PI_OK);
            assert_int_equal(pi_sampler_set_threads(s, threads), PI_OK);
            if (m != PI_METHOD_RK45)
                assert_int_equal(pi_sampler_set_corrector(s, 1, 0.1), PI_OK);
            assert_int_equal(pi_sampler_set_trajectory(s, 1, 0, NULL, NULL), PI_OK);
            assert_int_equal(pi_sampler_set_callback(s, counting_cb, NULL), PI_OK);
            float x[2 * 2000];
            atomic_store(&alloc_calls, 0);
            assert_int_equal(pi_sampler_run(s, 2000, x), PI_OK);
            atomic_store(&counting, 0);
            long calls = atomic_load(&alloc_calls);
            if (calls != 0)
                fprintf(stderr, "method %d threads %d: %ld allocation calls in the step loop\n", m,
                        threads, calls);
            assert_int_equal(calls, 0);
            pi_sampler_destroy(s);
        }
    }
}

/* Cancel from another thread, deterministically: the step callback of step 2 has another
 * thread call pi_sampler_cancel() and waits for it. */
static void *cancel_main(void *p)
{
    pi_sampler_cancel(p);
    return NULL;
}

typedef struct cancel_state {
    pi_sampler_t *s;
    size_t last_step;
    float copy[2 * 500];
} cancel_state;

static int cancel_cb(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                     const float *den, void *user)
{
    (void)nsteps;
    (void)t;
    (void)den;
    cancel_state *c = user;
    c->last_step = step;
    memcpy(c->copy, x, n * dim * sizeof *x);
    if (step == 2) {
        pthread_t th;
        pthread_create(&th, NULL, cancel_main, c->s);
        pthread_join(th, NULL);
    }
    return 0;
}

static void test_cancel_from_thread(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_threads(s, 2), PI_OK);
    cancel_state c;
    memset(&c, 0, sizeof c);
    c.s = s;
    assert_int_equal(pi_sampler_set_callback(s, cancel_cb, &c), PI_OK);
    float x[2 * 500];
    assert_int_equal(pi_sampler_run(s, 500, x), PI_ECANCELED);
    assert_non_null(strstr(pi_last_error(), "pi_sampler_cancel"));
    assert_int_equal(c.last_step, 2);
    assert_memory_equal(x, c.copy, sizeof x);
    pi_sampler_destroy(s);
}

/* Asynchronous: a thread cancels a long run after a few milliseconds. */
static void *late_cancel_main(void *p)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pi_sampler_cancel(p);
    return NULL;
}

static void test_cancel_async(void **state)
{
    fixture *f = *state;
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(f->model, &s), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 1u << 20), PI_OK);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EULER), PI_OK);
    assert_int_equal(pi_sampler_set_hbar(s, 1.0), PI_OK);
    float x[2 * 64];
    pthread_t th;
    pthread_create(&th, NULL, late_cancel_main, s);
    pi_status st = pi_sampler_run(s, 64, x);
    pthread_join(th, NULL);
    assert_int_equal(st, PI_ECANCELED);
    for (size_t i = 0; i < 2 * 64; i++)
        assert_true(isfinite(x[i]));
    size_t acc;
    assert_int_equal(pi_sampler_get_stats(s, NULL, &acc, NULL), PI_OK);
    assert_true(acc >= 1 && acc < (1u << 20));
    pi_sampler_destroy(s);
}

/* A host-callback model is never called from two threads within one run. */
typedef struct host_state {
    atomic_int in_flight;
    atomic_int overlaps;
    atomic_long calls;
} host_state;

static int host_score(size_t n, size_t dim, const float *x, const double *t, float *out, void *user)
{
    (void)t;
    host_state *h = user;
    if (atomic_fetch_add(&h->in_flight, 1) != 0)
        atomic_fetch_add(&h->overlaps, 1);
    atomic_fetch_add(&h->calls, 1);
    for (size_t i = 0; i < n * dim; i++)
        out[i] = -x[i]; /* data N(0, I) under VP: p_t = N(0, I) */
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
    atomic_fetch_sub(&h->in_flight, 1);
    return 0;
}

static void test_host_callback_model(void **state)
{
    fixture *f = *state;
    host_state h;
    atomic_init(&h.in_flight, 0);
    atomic_init(&h.overlaps, 0);
    atomic_init(&h.calls, 0);
    pi_model_t *model = NULL;
    assert_int_equal(pi_model_create_callback(f->sde, 2, PI_VIEW_SCORE, host_score, &h, &model),
                     PI_OK);
    const size_t n = 2500;
    float *x1 = malloc(n * 2 * sizeof *x1), *x4 = malloc(n * 2 * sizeof *x4);
    for (int threads = 1; threads <= 4; threads += 3) {
        pi_sampler_t *s = NULL;
        assert_int_equal(pi_sampler_create(model, &s), PI_OK);
        assert_int_equal(pi_sampler_set_threads(s, threads), PI_OK);
        assert_int_equal(pi_sampler_set_hbar(s, 1.0), PI_OK);
        assert_int_equal(pi_sampler_set_steps(s, 10), PI_OK);
        assert_int_equal(pi_sampler_run(s, n, threads == 1 ? x1 : x4), PI_OK);
        pi_sampler_destroy(s);
    }
    assert_int_equal(atomic_load(&h.overlaps), 0);
    assert_true(atomic_load(&h.calls) >= 20);
    assert_memory_equal(x1, x4, n * 2 * sizeof *x1);
    double var = 0.0;
    for (size_t i = 0; i < n * 2; i++)
        var += (double)x1[i] * x1[i] / (double)(n * 2);
    assert_true(fabs(var - 1.0) < 0.1);
    free(x1);
    free(x4);
    pi_model_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitwise_reproducible),
        cmocka_unit_test(test_bitwise_large_dim),
        cmocka_unit_test(test_no_allocation_in_step_loop),
        cmocka_unit_test(test_cancel_from_thread),
        cmocka_unit_test(test_cancel_async),
        cmocka_unit_test(test_host_callback_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
