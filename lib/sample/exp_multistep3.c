/* Third-order multistep exponential integrator of the ħ family (docs/samplers.md "EXP3M").
 *
 * In x̃ = x/α and λ = −log σ̃, dx̃ = −c (x̃ − D) dλ + noise with c = 1+ħ. Over a step of λ-width
 * h, with D quadratic in λ through D_s, D_p, D_pp (λ-widths h_p, h_pp of the two previous
 * steps), r0 = h_p/h, r1 = h_pp/h:
 *
 *     d1₀ = (D_s − D_p)/r0,  d1₁ = (D_p − D_pp)/r1,
 *     d1 = d1₀ + r0 (d1₀ − d1₁)/(r0 + r1)   (= h D'(λ_s) for a quadratic D)
 *     d2 = (d1₀ − d1₁)/(r0 + r1)            (= h² D''/2)
 *     x̃_t = e^(−ch) x̃_s + E D_s + ψ2(ch) d1 + 2 ψ3(ch) d2 + σ̃_t sqrt(1 − e^(−2ħh)) z,
 *     E = 1 − e^(−ch),  ψ2(y) = 1 − E/y,  ψ3(y) = 1/2 − 1/y + E/y²,
 *
 * the exact integral of the quadratic model under the exponential. DPM-Solver++(3M) and
 * k-diffusion's sample_dpmpp_3m_sde use the same d1, d2 and ψ's but weight d2 by ψ3 once, not
 * twice: half the quadratic term, which makes them second order (measured in docs/samplers.md).
 * Warm-up: the first step is EXP1, the second uses ψ2 d1₀ (k-diffusion's second-order step);
 * a step to σ̃_t = 0 returns α_t D_s. */
#include "sampler_impl.h"

/* ψ2(y) = 1 − (1 − e^(−y))/y and ψ3(y) = 1/2 − 1/y + (1 − e^(−y))/y², by their series where the
 * closed forms cancel (y < 1e-2: truncation below 1e-12 relative). */
static double psi2(double y)
{
    if (y < 1e-2)
        return y * (1.0 / 2 - y * (1.0 / 6 - y * (1.0 / 24 - y / 120)));
    return 1.0 + expm1(-y) / y;
}

static double psi3(double y)
{
    if (y < 1e-2)
        return y * (1.0 / 6 - y * (1.0 / 24 - y * (1.0 / 120 - y / 720)));
    return 0.5 - 1.0 / y - expm1(-y) / (y * y);
}

/* x_t = c0 x_s + c1 D_s + c2 (D_s − D_p) + c3 (D_p − D_pp) + c4 z; c5: order used (1, 2, 3). */
static pi_status exp3m_prepare(pi_run *run, pi_step_coeffs *co)
{
    double hbar = run->hbar, at = co->pt.alpha;
    for (int i = 0; i < 6; i++)
        co->c[i] = 0.0;
    if (!(co->pt.sigma_tilde > 0.0)) {
        co->c[1] = at;
        co->c[5] = 1.0;
        co->first_order = 1;
        return PI_OK;
    }
    double h = log(co->ps.sigma_tilde / co->pt.sigma_tilde);
    double ch = (1.0 + hbar) * h;
    co->c[0] = at / co->ps.alpha * exp(-ch);
    co->c[1] = -at * expm1(-ch);
    co->c[4] = hbar > 0.0 ? co->pt.sigma * sqrt(-expm1(-2.0 * hbar * h)) : 0.0;
    size_t order = co->first_order ? 1 : run->hist_count + 1;
    if (order >= 2 && !(run->h_prev_lambda > 0.0))
        order = 1;
    if (order >= 3 && !(run->h_prev2_lambda > 0.0))
        order = 2;
    double u = at * psi2(ch), r0 = run->h_prev_lambda / h;
    if (order == 2) {
        co->c[2] = u / r0;
    } else if (order >= 3) {
        double r1 = run->h_prev2_lambda / h, v = 2.0 * at * psi3(ch);
        double k = (u * r0 + v) / (r0 + r1);
        co->c[2] = (u + k) / r0;
        co->c[3] = -k / r1;
    }
    co->c[5] = (double)(order > 3 ? 3 : order);
    return PI_OK;
}

static pi_status exp3m_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                 pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], p = co->c[2], q = co->c[3], sn = co->c[4];
    const int order = (int)co->c[5];
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d;
        const float *dn = w->fout + (r - r0) * d;
        const float *dp = order >= 2 ? run->hist[1] + r * d : NULL;
        const float *dpp = order >= 3 ? run->hist[2] + r * d : NULL;
        float *den = run->den + r * d, *keep = run->hist[0] + r * d;
        if (sn > 0.0)
            pi_run_step_noise(run, co, r, w, w->noise);
        for (size_t j = 0; j < d; j++) {
            double ds = dn[j];
            den[j] = dn[j];
            keep[j] = dn[j];
            double v = a * x[j] + b * ds;
            if (dp != NULL)
                v += p * (ds - (double)dp[j]);
            if (dpp != NULL)
                v += q * ((double)dp[j] - (double)dpp[j]);
            if (sn > 0.0)
                v += sn * w->noise[j];
            x[j] = v;
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type exp3m_type = {
    .name = "exp3m",
    .order = 3,
    .stochastic = 1,
    .prepare = exp3m_prepare,
    .step_rows = exp3m_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
    .history = 2,
};

const struct pi_integrator_type *const pi_integrator_exp3m = &exp3m_type;
