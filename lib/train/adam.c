/* The optimiser: learning-rate schedule, global-norm clipping, AdamW and the EMA of weights.
 * The loops are O(parameters), branch-free and in float so that they vectorise; the
 * arithmetic follows PyTorch's (torch.optim.AdamW, torch.nn.utils.clip_grad_norm_) so that
 * the two can be compared step by step. */
#include "train/train_impl.h"

#define PI_PI 3.14159265358979323846

double pi_lr_at(double lr, pi_lr_schedule schedule, uint64_t warmup, uint64_t total, uint64_t k)
{
    if (k < warmup)
        return lr * (double)(k + 1) / (double)warmup;
    if (schedule == PI_LR_SCHEDULE_COSINE) {
        if (total <= warmup || k >= total)
            return 0.0;
        double progress = (double)(k - warmup) / (double)(total - warmup);
        return lr * 0.5 * (1.0 + cos(PI_PI * progress));
    }
    return lr;
}

double pi_grad_norm(const float *g, size_t count)
{
    /* Four partial sums: vectorisable and more accurate than one running sum. */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        s0 += (double)g[i] * g[i];
        s1 += (double)g[i + 1] * g[i + 1];
        s2 += (double)g[i + 2] * g[i + 2];
        s3 += (double)g[i + 3] * g[i + 3];
    }
    for (; i < count; i++)
        s0 += (double)g[i] * g[i];
    return sqrt((s0 + s1) + (s2 + s3));
}

double pi_grad_clip(float *g, size_t count, double norm, double max_norm)
{
    if (!(max_norm > 0.0) || !(norm > max_norm))
        return 1.0;
    double coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0)
        return 1.0;
    float c = (float)coef;
    for (size_t i = 0; i < count; i++)
        g[i] *= c;
    return coef;
}

/* One AdamW element, as PyTorch computes it. */
#define ADAM_ELEMENT(T, SQRT)                                                                  \
    do {                                                                                       \
        T gi = LOAD(g + i);                                                                    \
        T mi = b1 * LOAD(m + i) + c1 * gi;                                                     \
        T vi = b2 * LOAD(v + i) + c2 * gi * gi;                                                \
        STORE(m + i, mi);                                                                      \
        STORE(v + i, vi);                                                                      \
        T denom = SQRT(vi) / sqrt_bc2 + e;                                                     \
        STORE(p + i, LOAD(p + i) * decay - step_size * (mi / denom));                          \
    } while (0)

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 9)
#include <immintrin.h>
#define HAVE_AVX512_ADAM 1
typedef float v16f_u __attribute__((vector_size(64), aligned(4)));
typedef float v16f __attribute__((vector_size(64)));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" /* the vectors never cross a non-inlined call */
/* 16 elements at a time where the CPU has AVX-512F (issue 17). Lane by lane the scalar loop's
 * operations (vsqrtps is correctly rounded like sqrtf; ISO C mode: no FMA contraction), so the
 * same bits; returns how many elements it did. */
__attribute__((target("avx512f"))) static size_t adam_avx512(
    float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
    size_t count, float b1s, float b2s, float c1s, float c2s, float step_sizes, float sqrt_bc2s,
    float decays, float es)
{
#define SPLAT(x) ((v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})
#define LOAD(q) ((v16f)(*(const v16f_u *)(q)))
#define STORE(q, val) (*(v16f_u *)(q) = (v16f_u)(val))
#define SQRT16(x) ((v16f)_mm512_sqrt_ps((__m512)(x)))
    const v16f b1 = SPLAT(b1s), b2 = SPLAT(b2s), c1 = SPLAT(c1s), c2 = SPLAT(c2s);
    const v16f step_size = SPLAT(step_sizes), sqrt_bc2 = SPLAT(sqrt_bc2s), decay = SPLAT(decays);
    const v16f e = SPLAT(es);
    size_t i = 0;
    for (; i + 16 <= count; i += 16)
        ADAM_ELEMENT(v16f, SQRT16);
    return i;
#undef SPLAT
#undef LOAD
#undef STORE
#undef SQRT16
}
#pragma GCC diagnostic pop
#endif

void pi_adam_update(float *restrict p, const float *restrict g, float *restrict m,
                    float *restrict v, size_t count, double lr, double beta1, double beta2,
                    double eps, double weight_decay, uint64_t step)
{
    pi_adam_update_isa(-1, p, g, m, v, count, lr, beta1, beta2, eps, weight_decay, step);
}

void pi_adam_update_isa(int isa, float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t count, double lr, double beta1, double beta2,
                        double eps, double weight_decay, uint64_t step)
{
    double bc1 = 1.0 - pow(beta1, (double)step);
    double bc2 = 1.0 - pow(beta2, (double)step);
    const float b1 = (float)beta1, b2 = (float)beta2;
    const float c1 = (float)(1.0 - beta1), c2 = (float)(1.0 - beta2);
    const float step_size = (float)(lr / bc1);
    const float sqrt_bc2 = (float)sqrt(bc2);
    const float decay = (float)(1.0 - lr * weight_decay);
    const float e = (float)eps;
    size_t i = 0;
    (void)isa;
#ifdef HAVE_AVX512_ADAM
    if (isa == 2 || (isa < 0 && __builtin_cpu_supports("avx512f")))
        i = adam_avx512(p, g, m, v, count, b1, b2, c1, c2, step_size, sqrt_bc2, decay, e);
#endif
#define LOAD(q) (*(q))
#define STORE(q, val) (*(q) = (val))
    for (; i < count; i++)
        ADAM_ELEMENT(float, sqrtf);
#undef LOAD
#undef STORE
}

void pi_ema_update(float *restrict ema, const float *restrict p, size_t count, double decay)
{
    const float d = (float)decay, c = (float)(1.0 - decay);
    for (size_t i = 0; i < count; i++)
        ema[i] = d * ema[i] + c * p[i];
}
