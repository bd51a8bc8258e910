/* blis-reference: the hardware reference of bench/run (issue 17). Links BLIS only, not
 * pathint, so the kernel set is whatever BLIS picks in this process: bench/run starts it once
 * per kernel set with BLIS_ARCH_TYPE in its environment and keeps the fastest.
 *
 *   blis-reference list                       arch ids and names of this BLIS (JSON)
 *   blis-reference chain SPEC THREADS REPS    median GFLOP/s of a chain of sgemms
 *   blis-reference fma THREADS                peak FMA rate of the vector unit (GFLOP/s)
 *
 * SPEC is "m,n,k,ta,tb;m,n,k,ta,tb;..." (row-major, op(A) m x k, op(B) k x n; ta/tb 1 =
 * transposed), the same GEMMs pathint-bench times as its in-run reference. */
#define _GNU_SOURCE
#include <blis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct gemm {
    long m, n, k;
    int ta, tb;
    float *a, *b, *c;
} gemm;

static float *filled(size_t count, unsigned seed)
{
    float *p = aligned_alloc(64, ((count * sizeof(float) + 63) / 64) * 64);
    if (p == NULL)
        exit(3);
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
    return p;
}

static void run_chain(gemm *g, int ng, int threads)
{
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(threads, &rntm);
    float one = 1.0f, zero = 0.0f;
    for (int i = 0; i < ng; i++) {
        /* row-major: lda is the stored row length */
        inc_t lda = g[i].ta ? g[i].m : g[i].k, ldb = g[i].tb ? g[i].k : g[i].n;
        bli_sgemm_ex(g[i].ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                     g[i].tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, g[i].m, g[i].n, g[i].k, &one,
                     g[i].a, lda, 1, g[i].b, ldb, 1, &zero, g[i].c, g[i].n, 1, NULL, &rntm);
    }
}

static int cmd_chain(const char *spec, int threads, int reps)
{
    gemm g[32];
    int ng = 0;
    double flops = 0;
    const char *p = spec;
    while (*p && ng < 32) {
        gemm *x = &g[ng];
        if (sscanf(p, "%ld,%ld,%ld,%d,%d", &x->m, &x->n, &x->k, &x->ta, &x->tb) != 5)
            return 2;
        x->a = filled((size_t)(x->m * x->k), 1u + (unsigned)ng);
        x->b = filled((size_t)(x->k * x->n), 101u + (unsigned)ng);
        x->c = filled((size_t)(x->m * x->n), 201u + (unsigned)ng);
        flops += 2.0 * (double)x->m * (double)x->n * (double)x->k;
        ng++;
        p = strchr(p, ';');
        if (p == NULL)
            break;
        p++;
    }
    if (reps < 1 || reps > 1000)
        return 2;
    double *t = malloc((size_t)reps * sizeof *t);
    run_chain(g, ng, threads); /* warm-up: packing buffers, thread start */
    for (int r = 0; r < reps; r++) {
        double a = now();
        run_chain(g, ng, threads);
        t[r] = now() - a;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    printf("{\"kernels\": \"%s\", \"threads\": %d, \"gflops\": %.6g, \"best_gflops\": %.6g}\n",
           bli_arch_string(bli_arch_query_id()), threads, flops / t[reps / 2] * 1e-9,
           flops / t[0] * 1e-9);
    free(t);
    return 0;
}

/* ---- peak FMA rate: 12 independent accumulator chains per thread, enough to cover the FMA
 * latency on every port; FLOPs = 2 x lanes per FMA. ------------------------------------ */
enum { CHAINS = 12 };
static long g_iters = 20000000;
static int g_width; /* lanes of the widest vector unit used */

#if defined(__x86_64__)
/* Twelve named accumulators (not an array, which -O2 may keep in memory). */
#define FMA_LOOP(name, target_, vec, set1, fmadd, add)                                          \
    __attribute__((target(target_))) static float name(long iters)                             \
    {                                                                                          \
        vec c0 = set1(0.0f), c1 = set1(0.1f), c2 = set1(0.2f), c3 = set1(0.3f);                \
        vec c4 = set1(0.4f), c5 = set1(0.5f), c6 = set1(0.6f), c7 = set1(0.7f);                \
        vec c8 = set1(0.8f), c9 = set1(0.9f), c10 = set1(1.0f), c11 = set1(1.1f);              \
        const vec a = set1(0.99999994f), b = set1(1e-7f);                                      \
        for (long i = 0; i < iters; i++) {                                                     \
            c0 = fmadd(c0, a, b); c1 = fmadd(c1, a, b); c2 = fmadd(c2, a, b);                  \
            c3 = fmadd(c3, a, b); c4 = fmadd(c4, a, b); c5 = fmadd(c5, a, b);                  \
            c6 = fmadd(c6, a, b); c7 = fmadd(c7, a, b); c8 = fmadd(c8, a, b);                  \
            c9 = fmadd(c9, a, b); c10 = fmadd(c10, a, b); c11 = fmadd(c11, a, b);              \
            __asm__ volatile("" ::: "memory");                                                 \
        }                                                                                      \
        vec s = add(add(add(c0, c1), add(c2, c3)), add(add(c4, c5), add(c6, c7)));              \
        s = add(s, add(add(c8, c9), add(c10, c11)));                                           \
        float out[sizeof(vec) / sizeof(float)];                                                \
        memcpy(out, &s, sizeof out);                                                           \
        return out[0];                                                                         \
    }
FMA_LOOP(fma_loop_512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps)
FMA_LOOP(fma_loop_256, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps)
#endif

static volatile float g_sink;

static void *fma_thread(void *arg)
{
    (void)arg;
#if defined(__x86_64__)
    g_sink = g_width == 16 ? fma_loop_512(g_iters) : fma_loop_256(g_iters);
#endif
    return NULL;
}

static int cmd_fma(int threads)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        g_width = 16;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        g_width = 8;
#endif
    if (g_width == 0 || threads < 1 || threads > 64) {
        printf("{\"gflops\": null, \"note\": \"no AVX2/AVX-512 FMA on this CPU\"}\n");
        return 0;
    }
    double best = 0;
    for (int r = 0; r < 5; r++) {
        pthread_t th[64];
        double a = now();
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, fma_thread, NULL);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double rate = 2.0 * g_width * CHAINS * (double)g_iters * threads / (now() - a) * 1e-9;
        if (rate > best)
            best = rate;
    }
    printf("{\"threads\": %d, \"vector_lanes\": %d, \"gflops\": %.6g}\n", threads, g_width, best);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list")) {
        printf("{");
        for (int i = 0; i < (int)BLIS_NUM_ARCHS; i++)
            printf("%s\"%s\": %d", i ? ", " : "", bli_arch_string((arch_t)i), i);
        printf("}\n");
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "chain")) {
        bli_init(); /* BLIS 0.9.0: initialise before querying the arch with BLIS_ARCH_TYPE set */
        return cmd_chain(argv[2], atoi(argv[3]), atoi(argv[4]));
    }
    if (argc == 3 && !strcmp(argv[1], "fma"))
        return cmd_fma(atoi(argv[2]));
    fprintf(stderr, "usage: blis-reference list | chain SPEC THREADS REPS | fma THREADS\n");
    return 2;
}
