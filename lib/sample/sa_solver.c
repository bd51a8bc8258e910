/* Stochastic Adams predictor–corrector of the ħ family (docs/samplers.md "SA"), after SA-Solver
 * (Xue et al. 2023), whose noise scale τ is √ħ: the family is its dx = [f x − (1+τ²)/2 g² s] dt
 * + τ g dw̄. In x̃ = x/α and λ = −log σ̃ with c = 1+ħ, every update is the variation of constants
 *
 *     x̃_t = e^(−ch) x̃_s + c ∫ e^(−c(λ_t − λ)) D(λ) dλ + σ̃_t sqrt(1 − e^(−2ħh)) z
 *
 * with D replaced by a line in λ:
 *
 * - predictor (step k, s → t): EXP2M's update from the corrected state x̃_s^c, D_s and D_p
 *   (2-step stochastic Adams–Bashforth in the midpoint form), with the step's noise z_k;
 * - corrector (at the start of step k + 1, once D_t has been evaluated at the predicted x̃_t for
 *   that step anyway): the step s → t redone from x̃_s^c with D linear between D_s and D_t,
 *   integrated exactly (E − ψ2(ch)) D_s + ψ2(ch) D_t, and the same z_k (2-step stochastic
 *   Adams–Moulton). No extra evaluation: D_t at the predicted point serves the corrector and the
 *   next predictor (UniPC's and SA-Solver's trick).
 *
 * Chosen by measurement among four variants (predictor 1- or 2-step, exact or midpoint weight;
 * corrector linear or quadratic through D_p): docs/samplers.md. The state the driver mirrors
 * (model input, callback, result) is the predicted one; the corrected state lives in run->xaux.
 * The last step is not corrected (no evaluation follows). A step to σ̃_t = 0 returns α_t D_s. The
 * Langevin corrector is rejected (it would act on the predicted state only). */
#include "sampler_impl.h"

static double psi2(double y)
{
    if (y < 1e-2)
        return y * (1.0 / 2 - y * (1.0 / 6 - y * (1.0 / 24 - y / 120)));
    return 1.0 + expm1(-y) / y;
}

/* c0..c3: predictor x_t = c0 x_s^c + c1 D_s + c2 (D_s − D_p) + c3 z_k;
 * c4..c6, c8: corrector x_s^c = c4 x_p^c + c5 D_s + c6 D_p + c8 z_(k−1); c9: corrector on. */
static pi_status sa_prepare(pi_run *run, pi_step_coeffs *co)
{
    double hbar = run->hbar, c = 1.0 + hbar;
    for (int i = 0; i < 10; i++)
        co->c[i] = 0.0;
    /* Corrector of the previous step p → s (step k − 1), when there was one. */
    if (co->step >= 1 && run->hist_count >= 1 && run->h_prev_lambda > 0.0) {
        double as = co->ps.alpha, hp = run->h_prev_lambda, y = c * hp;
        pi_sde_point pp;
        pi_status st = pi_sde_eval(run->sde, run->times[co->step - 1], &pp);
        if (st != PI_OK)
            return st;
        double e = -expm1(-y), p2 = psi2(y);
        co->c[4] = as / pp.alpha * exp(-y);
        co->c[5] = as * p2;
        co->c[6] = as * (e - p2);
        co->c[8] = hbar > 0.0 ? co->ps.sigma * sqrt(-expm1(-2.0 * hbar * hp)) : 0.0;
        co->c[9] = 1.0;
    }
    /* Predictor s → t. */
    double at = co->pt.alpha;
    if (!(co->pt.sigma_tilde > 0.0)) {
        co->c[1] = at;
        co->first_order = 1;
        return PI_OK;
    }
    double h = log(co->ps.sigma_tilde / co->pt.sigma_tilde), y = c * h;
    co->c[0] = at / co->ps.alpha * exp(-y);
    co->c[1] = -at * expm1(-y);
    if (!co->first_order && run->hist_count >= 1 && run->h_prev_lambda > 0.0)
        co->c[2] = at * -0.5 * expm1(-y) * h / run->h_prev_lambda;
    co->c[3] = hbar > 0.0 ? co->pt.sigma * sqrt(-expm1(-2.0 * hbar * h)) : 0.0;
    return PI_OK;
}

static pi_status sa_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                              pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], p = co->c[2], q = co->c[3];
    const double ca = co->c[4], c0 = co->c[5], c1 = co->c[6], cq = co->c[8];
    const int correct = co->c[9] != 0.0;
    pi_step_coeffs prev = {0};
    if (correct) {
        prev.t_s = run->times[co->step - 1];
        prev.t_t = co->t_s;
        prev.step = co->step - 1;
    }
    double *zc = w->buf[0];
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d, *xc = run->xaux + r * d;
        const float *dn = w->fout + (r - r0) * d;
        const float *dp = run->hist_count >= 1 ? run->hist[1] + r * d : NULL;
        float *den = run->den + r * d, *keep = run->hist[0] + r * d;
        if (correct && cq > 0.0)
            pi_run_step_noise(run, &prev, r, w, zc);
        if (q > 0.0)
            pi_run_step_noise(run, co, r, w, w->noise);
        for (size_t j = 0; j < d; j++) {
            double ds = dn[j];
            den[j] = dn[j];
            keep[j] = dn[j];
            double xs = x[j];
            if (correct) {
                xs = ca * xc[j] + c0 * ds + c1 * (double)dp[j];
                if (cq > 0.0)
                    xs += cq * zc[j];
            }
            xc[j] = xs;
            double v = a * xs + b * ds;
            if (p != 0.0)
                v += p * (ds - (double)dp[j]);
            if (q > 0.0)
                v += q * w->noise[j];
            x[j] = v;
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type sa_type = {
    .name = "sa",
    .order = 2,
    .stochastic = 1,
    .prepare = sa_prepare,
    .step_rows = sa_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
    .history = 1,
    .aux_state = 1,
};

const struct pi_integrator_type *const pi_integrator_sa = &sa_type;
