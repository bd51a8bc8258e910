/* Second-order multistep exponential integrator of the ħ family (docs/samplers.md).
 *
 * In x̃ = x/α and λ = −log σ̃ the ħ family reads dx̃ = −(1+ħ)(x̃ − D) dλ + noise. With
 * c = 1+ħ, h = λ_t − λ_s and D linear in λ through the previous step's D_p (λ-width h_p):
 *
 *     x̃_t = e^(−ch) x̃_s + (1 − e^(−ch)) D_s + ½ (1 − e^(−ch)) (h/h_p) (D_s − D_p)
 *           + σ̃_t sqrt(1 − e^(−2ħh)) z
 *
 * (the "midpoint" form: at ħ = 0 it is DPM-Solver++(2M) of Lu et al., for any ħ it is
 * k-diffusion's sample_dpmpp_2m_sde(eta = ħ, solver_type = 'midpoint')). The first step and a
 * step to σ̃_t = 0 are first order (the latter returns α_t D_s, as k-diffusion does). */
#include "sampler_impl.h"

/* x_t = c0 x_s + c1 D_s + c2 (D_s − D_p) + c3 z. */
static pi_status exp2m_prepare(pi_run *run, pi_step_coeffs *co)
{
    double hbar = run->hbar, at = co->pt.alpha;
    if (!(co->pt.sigma_tilde > 0.0)) {
        co->c[0] = 0.0;
        co->c[1] = at;
        co->c[2] = 0.0;
        co->c[3] = 0.0;
        co->first_order = 1;
        return PI_OK;
    }
    double h = log(co->ps.sigma_tilde / co->pt.sigma_tilde);
    double ch = (1.0 + hbar) * h;
    double one_minus = -expm1(-ch);
    co->c[0] = at / co->ps.alpha * exp(-ch);
    co->c[1] = at * one_minus;
    co->c[2] = co->first_order || !(run->h_prev_lambda > 0.0)
                   ? 0.0
                   : at * 0.5 * one_minus * (h / run->h_prev_lambda);
    co->c[3] = hbar > 0.0 ? co->pt.sigma * sqrt(-expm1(-2.0 * hbar * h)) : 0.0;
    return PI_OK;
}

static pi_status exp2m_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                 pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], c = co->c[2], q = co->c[3];
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d;
        const float *dn = w->fout + (r - r0) * d;
        const float *dp = run->den_prev + r * d;
        float *den = run->den + r * d;
        if (q > 0.0)
            pi_run_step_noise(run, co, r, w, w->noise);
        for (size_t j = 0; j < d; j++) {
            double ds = dn[j];
            den[j] = dn[j];
            double v = a * x[j] + b * ds;
            if (c != 0.0)
                v += c * (ds - (double)dp[j]);
            if (q > 0.0)
                v += q * w->noise[j];
            x[j] = v;
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type exp2m_type = {
    .name = "exp2m",
    .order = 2,
    .stochastic = 1,
    .prepare = exp2m_prepare,
    .step_rows = exp2m_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
};

const struct pi_integrator_type *const pi_integrator_exp2m = &exp2m_type;
