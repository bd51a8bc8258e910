/* First-order exponential integrator of the ħ family (MATH.md §3), exact for the linear part
 * and for the noise variance with D frozen over the step. With h = λ_t − λ_s, r = e^(−h):
 *
 *     x_t/α_t = D + r^(1+ħ) (x_s/α_s − D) + σ̃_t sqrt(1 − r^(2ħ)) z,   D = D(x_s, t_s).
 *
 * ħ = 0 is DDIM, ħ = 1 the SDE-DPM-Solver++-1 step. A step to σ̃_t = 0 returns α_t D. */
#include "sampler_impl.h"

/* x_t = c0 x_s + c1 D + c2 z. */
static pi_status exp1_prepare(pi_run *run, pi_step_coeffs *co)
{
    double hbar = run->hbar, at = co->pt.alpha;
    if (!(co->pt.sigma_tilde > 0.0)) {
        co->c[0] = 0.0;
        co->c[1] = at;
        co->c[2] = 0.0;
        return PI_OK;
    }
    double h = log(co->ps.sigma_tilde / co->pt.sigma_tilde);
    double ch = (1.0 + hbar) * h;
    co->c[0] = at / co->ps.alpha * exp(-ch);
    co->c[1] = -at * expm1(-ch);
    co->c[2] = hbar > 0.0 ? co->pt.sigma * sqrt(-expm1(-2.0 * hbar * h)) : 0.0;
    co->c[3] = at * exp(-ch); /* CFG++: weight of D_w − D_∅ (guidance.c) */
    return PI_OK;
}

static pi_status exp1_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], q = co->c[2];
    /* CFG++ (docs/samplers.md): x_t/α_t = D_w + r^(1+ħ) (x_s/α_s − D_∅) + noise, i.e. the
     * step above plus α_t r^(1+ħ) (D_w − D_∅). */
    const double e = run->s->cfgpp ? co->c[3] : 0.0;
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d;
        const float *dn = w->fout + (r - r0) * d;
        const float *du = e != 0.0 ? w->uncond + (r - r0) * d : NULL;
        float *den = run->den + r * d;
        if (q > 0.0)
            pi_run_step_noise(run, co, r, w, w->noise);
        for (size_t j = 0; j < d; j++) {
            den[j] = dn[j];
            x[j] = a * x[j] + b * (double)dn[j] + (q > 0.0 ? q * w->noise[j] : 0.0);
            if (du != NULL)
                x[j] += e * ((double)dn[j] - (double)du[j]);
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type exp1_type = {
    .name = "exp1",
    .order = 1,
    .stochastic = 1,
    .prepare = exp1_prepare,
    .step_rows = exp1_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
};

const struct pi_integrator_type *const pi_integrator_exp1 = &exp1_type;
