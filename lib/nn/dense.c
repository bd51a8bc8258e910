/* Cheap elementwise passes around the GEMMs of a dense layer: bias + SiLU forward, SiLU
 * backward, bias gradients. The exponential is a branch-free polynomial (Cephes expf,
 * |rel err| < 2^-22 on the clamped range) since libm's expf is not vectorised without
 * -ffast-math, and GCC does not vectorise loops of unknown length at -O2 (its "very cheap"
 * cost model): with GCC or clang the passes use their vector extensions explicitly (4 floats,
 * one SSE register; 8 floats where the CPU has AVX2, 16 with AVX-512F, chosen at run time), other compilers get
 * the same arithmetic in scalar code. All give the same bits (no FMA contraction in ISO C
 * mode), so results do not depend on the machine's vector width. */
#include "mlp_impl.h"

#include <string.h>

#define LANES 4 /* bias and column-sum passes */

/* e^x for x clamped to [-87, 88] (so 2^k stays a normal float). */
static inline float exp_poly(float x)
{
    /* Written so that NaN maps to −87 (a NaN must not reach the float-to-int conversion
     * below, which would be undefined); silu still propagates NaN through its numerator. */
    x = x > -87.0f ? x : -87.0f;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln 2) by the 1.5·2^23 trick (exact for |x/ln 2| < 2^22). */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        uint32_t u;
        float f;
    } scale;
    scale.u = (uint32_t)((int32_t)n + 127) << 23;
    return p * scale.f;
}

static inline float silu(float x)
{
    return x / (1.0f + exp_poly(-x));
}

static inline float silu_grad(float a)
{
    float s = 1.0f / (1.0f + exp_poly(-a));
    return s * (1.0f + a * (1.0f - s));
}

#if defined(__GNUC__) || defined(__clang__)
#define HAVE_VECTORS 1
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
#define VF v4f
#define VI v4i
#define VLANES 4
#define KATTR
#define KN(name) v4_##name
#include "dense_kernels.inc"
#undef VF
#undef VI
#undef VLANES
#undef KATTR
#undef KN
/* x86-64 baseline is SSE2; with AVX2 at run time the same kernels run 8 lanes wide. */
#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 9)
#define HAVE_AVX2_KERNELS 1
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define VF v8f
#define VI v8i
#define VLANES 8
#define KATTR __attribute__((target("avx2")))
#define KN(name) v8_##name
#include "dense_kernels.inc"
#undef VF
#undef VI
#undef VLANES
#undef KATTR
#undef KN
static int use_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
/* 16 floats where the CPU has AVX-512F (and the OS saves the ZMM state: libgcc's check reads
 * XGETBV), issue 17: the same arithmetic lane by lane, so the same bits. */
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" /* 64-byte vectors never cross a non-inlined call */
#define VF v16f
#define VI v16i
#define VLANES 16
#define KATTR __attribute__((target("avx512f")))
#define KN(name) v16_##name
#include "dense_kernels.inc"
#undef VF
#undef VI
#undef VLANES
#undef KATTR
#undef KN
#pragma GCC diagnostic pop
static int use_avx512(void)
{
    return __builtin_cpu_supports("avx512f");
}
#endif

/* The instruction set the elementwise passes use (0 baseline, 1 AVX2, 2 AVX-512F), or the
 * one a test forces with pi_dense_force_isa (internal; -1 = choose by the CPU). Results are
 * the same bits either way; the test compares them. */
static int dense_isa(int forced)
{
#ifdef HAVE_AVX2_KERNELS
    if (forced >= 0)
        return forced;
    return use_avx512() ? 2 : use_avx2() ? 1 : 0;
#else
    (void)forced;
    return 0;
#endif
}
#else
#define HAVE_VECTORS 0
#endif

float pi_dense_silu(float x)
{
    return silu(x);
}

void pi_dense_bias_silu(size_t rows, size_t cols, const float *b, float *a)
{
    pi_dense_bias_silu_keep(rows, cols, b, a, NULL);
}

void pi_dense_bias(size_t rows, size_t cols, const float *b, float *a)
{
    size_t main = cols - cols % LANES;
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * cols;
        size_t j0 = 0;
#if HAVE_VECTORS
        for (; j0 < main; j0 += LANES)
            v4_store(row + j0, v4_load(row + j0) + v4_load(b + j0));
#endif
        for (size_t j = j0; j < cols; j++)
            row[j] += b[j];
    }
}

void pi_dense_bias_silu_keep(size_t rows, size_t cols, const float *b, float *a, float *pre)
{
    pi_dense_bias_silu_keep_isa(-1, rows, cols, b, a, pre);
}

void pi_dense_bias_silu_keep_isa(int isa, size_t rows, size_t cols, const float *b, float *a,
                                 float *pre)
{
    isa = dense_isa(isa);
    (void)isa;
#if HAVE_VECTORS
#ifdef HAVE_AVX2_KERNELS
    if (isa == 2) {
        v16_bias_silu(rows, cols, b, a, pre);
        return;
    }
    if (isa == 1) {
        v8_bias_silu(rows, cols, b, a, pre);
        return;
    }
#endif
    v4_bias_silu(rows, cols, b, a, pre);
#else
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) {
            float v = a[r * cols + j] + b[j];
            if (pre != NULL)
                pre[r * cols + j] = v;
            a[r * cols + j] = silu(v);
        }
#endif
}

void pi_dense_silu_backward(size_t count, const float *pre, float *delta)
{
    pi_dense_silu_backward_isa(-1, count, pre, delta);
}

void pi_dense_silu_backward_isa(int isa, size_t count, const float *pre, float *delta)
{
    isa = dense_isa(isa);
    (void)isa;
#if HAVE_VECTORS
#ifdef HAVE_AVX2_KERNELS
    if (isa == 2) {
        v16_silu_backward(count, pre, delta);
        return;
    }
    if (isa == 1) {
        v8_silu_backward(count, pre, delta);
        return;
    }
#endif
    v4_silu_backward(count, pre, delta);
#else
    for (size_t i = 0; i < count; i++)
        delta[i] *= silu_grad(pre[i]);
#endif
}

void pi_dense_column_sums(size_t rows, size_t cols, const float *delta, float *gb)
{
    size_t main = cols - cols % LANES;
    memset(gb, 0, cols * sizeof *gb);
    for (size_t r = 0; r < rows; r++) {
        const float *row = delta + r * cols;
        size_t j0 = 0;
#if HAVE_VECTORS
        for (; j0 < main; j0 += LANES)
            v4_store(gb + j0, v4_load(gb + j0) + v4_load(row + j0));
#endif
        for (size_t j = j0; j < cols; j++)
            gb[j] += row[j];
    }
}
