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

void pi_adam_update(float *restrict p, const float *restrict g, float *restrict m,
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
    for (size_t i = 0; i < count; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / sqrt_bc2 + e;
        p[i] = p[i] * decay - step_size * (mi / denom);
    }
}

void pi_ema_update(float *restrict ema, const float *restrict p, size_t count, double decay)
{
    const float d = (float)decay, c = (float)(1.0 - decay);
    for (size_t i = 0; i < count; i++)
        ema[i] = d * ema[i] + c * p[i];
}
