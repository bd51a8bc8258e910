/* Denoising score matching terms (MATH.md §5):
 *   L(θ) = E_t E_x0 E_z [ λ(t) ‖s_θ(α x0 + σ z, t) + z/σ‖² ].
 * Every view of the model is affine in the score at fixed (x, t): out = a s + b (MATH.md §2),
 * so λ ‖s + z/σ‖² = (λ / a²) ‖out − target‖² with target = b − a z/σ. The targets are written
 * from x0 and z directly so that no large terms cancel:
 *   score: a = 1,              target = −z/σ
 *   ε:     a = −σ,             target = z
 *   D:     a = σ²/α,           target = x0
 *   v:     a = −σ(α² + σ²)/α,  target = α z − σ x0. */
#include "dsm.h"

pi_status pi_dsm_setup_init(pi_dsm_setup *s, const pi_model_t *m, pi_weighting weighting,
                            pi_time_sampling sampling, double p_mean, double p_std)
{
    s->model = m;
    s->weighting = weighting;
    s->sampling = sampling;
    s->p_mean = p_mean;
    s->p_std = p_std;
    double sigma_data = pi_model_sigma_data(m);
    s->sigma_data = sigma_data > 0.0 ? sigma_data : 0.5;
    s->t_min = m->sde.t_min;
    s->t_max = m->sde.t_max;
    double lo, hi;
    pi_status st = pi_sde_eval_sigma_tilde(&m->sde, s->t_min, &lo);
    if (st == PI_OK)
        st = pi_sde_eval_sigma_tilde(&m->sde, s->t_max, &hi);
    if (st != PI_OK)
        return st;
    if (!(lo > 0.0) || !(hi > lo) || !isfinite(hi))
        return pi_fail(PI_EUNSUPPORTED,
                       "denoising score matching needs 0 < sigma_tilde(t_min) < sigma_tilde(T) < "
                       "inf, got %g and %g",
                       lo, hi);
    s->log_st_min = log(lo);
    s->log_st_max = log(hi);
    return PI_OK;
}

/* t with σ̃(t) = exp(log_st), clamped to the SDE's range. */
static pi_status time_of_log_sigma_tilde(const pi_dsm_setup *s, double log_st, double *t)
{
    if (log_st <= s->log_st_min) {
        *t = s->t_min;
        return PI_OK;
    }
    if (log_st >= s->log_st_max) {
        *t = s->t_max;
        return PI_OK;
    }
    double value;
    pi_status st = pi_sde_invert_sigma_tilde(&s->model->sde, exp(log_st), &value);
    if (st != PI_OK)
        return st;
    *t = value < s->t_min ? s->t_min : value > s->t_max ? s->t_max : value;
    return PI_OK;
}

pi_status pi_dsm_sample_time(const pi_dsm_setup *s, double u, double normal, double *t,
                             double *ratio)
{
    switch (s->sampling) {
    case PI_TIME_SAMPLING_UNIFORM:
        /* u ∈ (0, 1] → t ∈ [t_min, T). */
        *t = s->t_min + (s->t_max - s->t_min) * (1.0 - u);
        *ratio = 1.0;
        return PI_OK;
    case PI_TIME_SAMPLING_IMPORTANCE: {
        /* q(t) ∝ g²/σ² = d log σ̃² / dt: log σ̃ uniform between its end values, so the inverse
         * CDF is exact. ratio = (1/(T − t_min)) / q(t) with q(t) = (g²/σ²) / (2 Δ log σ̃). */
        double span = s->log_st_max - s->log_st_min;
        pi_status st = time_of_log_sigma_tilde(s, s->log_st_min + span * (1.0 - u), t);
        if (st != PI_OK)
            return st;
        pi_sde_point p;
        st = pi_sde_eval(&s->model->sde, *t, &p);
        if (st != PI_OK)
            return st;
        double density = p.g2 / (p.sigma * p.sigma) / (2.0 * span);
        if (!(density > 0.0) || !isfinite(density))
            return pi_fail(PI_ENUMERIC, "importance density g^2/sigma^2 is %g at t = %g",
                           density, *t);
        *ratio = 1.0 / ((s->t_max - s->t_min) * density);
        return PI_OK;
    }
    case PI_TIME_SAMPLING_LOGNORMAL:
        *ratio = 1.0;
        return time_of_log_sigma_tilde(s, s->p_mean + s->p_std * normal, t);
    }
    return pi_fail(PI_EINVAL, "unknown time sampling %d", (int)s->sampling);
}

double pi_dsm_view_scale(pi_view view, double alpha, double sigma)
{
    switch (view) {
    case PI_VIEW_SCORE: return 1.0;
    case PI_VIEW_EPS: return -sigma;
    case PI_VIEW_DENOISED: return sigma * sigma / alpha;
    case PI_VIEW_V: return -sigma * (alpha * alpha + sigma * sigma) / alpha;
    default: break; /* PI_VIEW_FLOW is never a trainable model's native view */
    }
    return 1.0;
}

pi_status pi_dsm_row_at(const pi_dsm_setup *s, double t, double ratio, pi_dsm_row *row)
{
    pi_sde_point p;
    pi_status st = pi_sde_eval(&s->model->sde, t, &p);
    if (st != PI_OK)
        return st;
    double lambda;
    switch (s->weighting) {
    case PI_WEIGHTING_LIKELIHOOD:
        lambda = p.g2;
        break;
    case PI_WEIGHTING_SIGMA2:
        lambda = p.sigma * p.sigma;
        break;
    case PI_WEIGHTING_FLOW:
        /* ‖u − u*‖² = (g²/2)² ‖s − s*‖²: the flow view's slope in the score (views.c). */
        lambda = 0.25 * p.g2 * p.g2;
        break;
    case PI_WEIGHTING_EDM: {
        /* EDM: (σ̃² + σ_d²)/(σ̃ σ_d)² on ‖D − x0‖², and ‖D − x0‖² = σ̃² σ² ‖s + z/σ‖². */
        double sd2 = s->sigma_data * s->sigma_data;
        lambda = p.sigma * p.sigma * (p.sigma_tilde * p.sigma_tilde + sd2) / sd2;
        break;
    }
    default:
        return pi_fail(PI_EINVAL, "unknown weighting %d", (int)s->weighting);
    }
    double a = pi_dsm_view_scale(s->model->native_view, p.alpha, p.sigma);
    row->t = t;
    row->alpha = p.alpha;
    row->sigma = p.sigma;
    row->weight = ratio * lambda / (a * a);
    if (!isfinite(row->weight) || !(p.sigma > 0.0))
        return pi_fail(PI_ENUMERIC, "loss weight is %g at t = %g (sigma = %g)", row->weight, t,
                       p.sigma);
    return PI_OK;
}

void pi_dsm_target(pi_view view, size_t dim, const float *x0, const float *z, double alpha,
                   double sigma, float *x_t, float *target)
{
    for (size_t j = 0; j < dim; j++) {
        double x = x0[j], e = z[j];
        x_t[j] = (float)(alpha * x + sigma * e);
        double value;
        switch (view) {
        case PI_VIEW_SCORE: value = -e / sigma; break;
        case PI_VIEW_EPS: value = e; break;
        case PI_VIEW_DENOISED: value = x; break;
        case PI_VIEW_V: value = alpha * e - sigma * x; break;
        default: value = 0.0; break;
        }
        target[j] = (float)value;
    }
}

double pi_dsm_loss(size_t n, size_t dim, const float *out, const float *target, const double *w,
                   float *dout)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *o = out + i * dim, *g = target + i * dim;
        double sq = 0.0;
        for (size_t j = 0; j < dim; j++) {
            double r = (double)o[j] - (double)g[j];
            sq += r * r;
        }
        total += w[i] * sq;
        if (dout != NULL) {
            float c = (float)(2.0 * w[i] / (double)n);
            float *d = dout + i * dim;
            for (size_t j = 0; j < dim; j++)
                d[j] = c * (o[j] - g[j]);
        }
    }
    return total / (double)n;
}
