/* Cheap elementwise passes around the GEMMs of a dense layer: bias + SiLU forward, SiLU
 * backward, bias gradients. The exponential is a branch-free polynomial (Cephes expf,
 * |rel err| < 2^-22 on the clamped range) since libm's expf is not vectorised without
 * -ffast-math, and GCC does not vectorise loops of unknown length at -O2 (its "very cheap"
 * cost model): with GCC or clang the passes use their vector extensions explicitly (4 floats,
 * one SSE register), other compilers get the same arithmetic in scalar code.
 * Both give the same bits. */
#include "mlp_impl.h"

#include <string.h>

#define LANES 4

/* e^x for x clamped to [-87, 88] (so 2^k stays a normal float). */
static inline float exp_poly(float x)
{
    x = x < -87.0f ? -87.0f : x;
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
typedef float vf __attribute__((vector_size(4 * LANES)));
typedef int32_t vi __attribute__((vector_size(4 * LANES)));

static inline vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(float *p, vf v)
{
    memcpy(p, &v, sizeof v);
}
static inline vf vsplat(float x)
{
    vf v;
    for (int k = 0; k < LANES; k++)
        v[k] = x;
    return v;
}
/* Lane-wise select: mask lanes are all ones or all zeros. */
static inline vf vselect(vi mask, vf yes, vf no)
{
    return (vf)(((vi)yes & mask) | ((vi)no & ~mask));
}

/* Same arithmetic as exp_poly, lane by lane (NaN lanes stay NaN). */
static inline vf vexp_poly(vf x)
{
    vf lo = vsplat(-87.0f), hi = vsplat(88.0f);
    x = vselect(x < lo, lo, x);
    x = vselect(x > hi, hi, x);
    vf magic = vsplat(12582912.0f);
    vf n = (x * 1.44269504088896341f + magic) - magic;
    vf r = x - n * 0.693359375f + n * 2.12194440e-4f;
    vf p = vsplat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    vi k = __builtin_convertvector(n, vi);
    vf scale = (vf)((k + 127) << 23);
    return p * scale;
}

static inline vf vsilu(vf x)
{
    return x / (1.0f + vexp_poly(-x));
}

static inline vf vsilu_grad(vf a)
{
    vf s = 1.0f / (1.0f + vexp_poly(-a));
    return s * (1.0f + a * (1.0f - s));
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
    size_t main = cols - cols % LANES;
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * cols;
        size_t j0 = 0;
#if HAVE_VECTORS
        for (; j0 < main; j0 += LANES)
            vstore(row + j0, vsilu(vload(row + j0) + vload(b + j0)));
#endif
        for (size_t j = j0; j < cols; j++)
            row[j] = silu(row[j] + b[j]);
    }
}

void pi_dense_bias(size_t rows, size_t cols, const float *b, float *a)
{
    size_t main = cols - cols % LANES;
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * cols;
        size_t j0 = 0;
#if HAVE_VECTORS
        for (; j0 < main; j0 += LANES)
            vstore(row + j0, vload(row + j0) + vload(b + j0));
#endif
        for (size_t j = j0; j < cols; j++)
            row[j] += b[j];
    }
}

void pi_dense_bias_silu_keep(size_t rows, size_t cols, const float *b, float *a, float *pre)
{
    size_t main = cols - cols % LANES;
    for (size_t r = 0; r < rows; r++) {
        float *row = a + r * cols;
        float *keep = pre + r * cols;
        size_t j0 = 0;
#if HAVE_VECTORS
        for (; j0 < main; j0 += LANES) {
            vf v = vload(row + j0) + vload(b + j0);
            vstore(keep + j0, v);
            vstore(row + j0, vsilu(v));
        }
#endif
        for (size_t j = j0; j < cols; j++) {
            float v = row[j] + b[j];
            keep[j] = v;
            row[j] = silu(v);
        }
    }
}

void pi_dense_silu_backward(size_t count, const float *pre, float *delta)
{
    size_t main = count - count % LANES;
    size_t i0 = 0;
#if HAVE_VECTORS
    for (; i0 < main; i0 += LANES)
        vstore(delta + i0, vload(delta + i0) * vsilu_grad(vload(pre + i0)));
#endif
    for (size_t i = i0; i < count; i++)
        delta[i] *= silu_grad(pre[i]);
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
            vstore(gb + j0, vload(gb + j0) + vload(row + j0));
#endif
        for (size_t j = j0; j < cols; j++)
            gb[j] += row[j];
    }
}
