/* Heun's method for the ħ family (MATH.md §3, docs/samplers.md "HEUN").
 *
 * ħ = 0: Heun in t on the probability-flow ODE, F(x, t) = f x − ½ g² s (EDM's Algorithm 1):
 *
 *     x' = x + h F(x, t_s),     x_t = x + h/2 [F(x, t_s) + F(x', t_t)].
 *
 * ħ > 0: stochastic Heun as an exponential predictor–corrector in x̃ = x/α and λ = −log σ̃
 * (c = 1+ħ, h = λ_t − λ_s, E = 1 − e^(−ch)), one noise increment shared by both stages:
 *
 *     x̃' = e^(−ch) x̃_s + E D_s + ξ,                       (EXP1 predictor)
 *     x̃_t = e^(−ch) x̃_s + (E − w) D_s + w D(x', t_t) + ξ,   w = 1 − E/(ch),
 *     ξ = σ̃_t sqrt(1 − e^(−2ħh)) z.
 *
 * The weights integrate a D linear in λ exactly (trapezoidal rule under the exponential).
 * Heun in t was used for ħ > 0 until 1.1: its corrector evaluates the drift at the predictor,
 * whose noise of size √ħ σ_s gets multiplied by (1+ħ) h/σ_t ≈ (1+ħ) σ_s/σ_t — a step with
 * σ_t/σ_s small blew up (EDM, 4 steps: sliced W2 1.4e4 at ħ = 1). Here the linear part and
 * the noise variance are exact and D is bounded, so no step size amplifies anything.
 * Second order for the ODE (two model evaluations per step). A step to σ(t_t) = 0, where the
 * score does not exist, keeps the predictor (ħ = 0: Euler; ħ > 0: α_t D_s), as EDM does. */
#include "sampler_impl.h"

/* ħ = 0, c: h, f_s, ½ g²_s, f_t, ½ g²_t, 0, 1/α_s, σ_s²/α_s, corrector on, 0.
 * ħ > 0, c: α_t/α_s e^(−ch), α_t E, α_t (E − w), α_t w, noise scale σ_t sqrt(1 − e^(−2ħh)),
 *        0, 0, 0, corrector on, 1 (exponential form). */
static pi_status heun_prepare(pi_run *run, pi_step_coeffs *co)
{
    double hbar = run->hbar;
    co->c[8] = co->pt.sigma > 0.0;
    co->nfe = co->pt.sigma > 0.0 ? 2 : 1;
    if (hbar > 0.0) {
        double at = co->pt.alpha;
        co->c[9] = 1.0;
        if (!(co->pt.sigma_tilde > 0.0)) {
            co->c[0] = 0.0;
            co->c[1] = at;
            co->c[2] = co->c[3] = co->c[4] = 0.0;
            co->c[8] = 0.0;
            return PI_OK;
        }
        double h = log(co->ps.sigma_tilde / co->pt.sigma_tilde);
        double ch = (1.0 + hbar) * h;
        double e = -expm1(-ch);    /* E = 1 − e^(−ch) */
        double wt = 1.0 - e / ch;  /* weight of D at t_t */
        co->c[0] = at / co->ps.alpha * exp(-ch);
        co->c[1] = at * e;
        co->c[2] = at * (e - wt);
        co->c[3] = at * wt;
        co->c[4] = co->pt.sigma * sqrt(-expm1(-2.0 * hbar * h));
        return PI_OK;
    }
    double h = co->t_t - co->t_s;
    co->c[0] = h;
    co->c[1] = co->ps.f;
    co->c[2] = 0.5 * co->ps.g2;
    co->c[3] = co->pt.f;
    co->c[4] = 0.5 * co->pt.g2;
    co->c[5] = 0.0;
    co->c[6] = 1.0 / co->ps.alpha;
    co->c[7] = co->ps.sigma * co->ps.sigma / co->ps.alpha;
    co->c[9] = 0.0;
    return PI_OK;
}

/* ħ > 0: exponential predictor–corrector on D. */
static pi_status heun_exp_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                               pi_worker *w)
{
    size_t d = run->dim, rows = r1 - r0;
    const double a = co->c[0], b = co->c[1], bs = co->c[2], bt = co->c[3], q = co->c[4];
    const int correct = co->c[8] != 0.0;
    double *base = w->buf[0]; /* e^(−ch) x_s + noise, shared by both stages */
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, rows, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    for (size_t r = r0; r < r1; r++) {
        size_t o = (r - r0) * d;
        double *x = run->x + r * d;
        const float *dn = w->fout + o;
        float *den = run->den + r * d;
        double *z = w->noise + o;
        if (q > 0.0)
            pi_run_step_noise(run, co, r, w, z);
        for (size_t j = 0; j < d; j++) {
            double ds = dn[j];
            den[j] = dn[j];
            base[o + j] = a * x[j] + (q > 0.0 ? q * z[j] : 0.0);
            double xp = base[o + j] + b * ds;
            w->buf[1][o + j] = ds;
            if (correct)
                w->fin[o + j] = (float)xp;
            else
                x[j] = xp;
        }
    }
    if (!correct)
        return PI_OK;
    st = pi_run_eval(run, w, PI_VIEW_DENOISED, rows, w->fin, co->t_t);
    if (st != PI_OK)
        return st;
    for (size_t r = r0; r < r1; r++) {
        size_t o = (r - r0) * d;
        double *x = run->x + r * d;
        const float *dt = w->fout + o;
        for (size_t j = 0; j < d; j++)
            x[j] = base[o + j] + bs * w->buf[1][o + j] + bt * (double)dt[j];
    }
    return PI_OK;
}

static pi_status heun_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                pi_worker *w)
{
    if (co->c[9] != 0.0)
        return heun_exp_rows(run, co, r0, r1, w);
    size_t d = run->dim, rows = r1 - r0;
    const double h = co->c[0], fs = co->c[1], gs = co->c[2], ft = co->c[3], gt = co->c[4];
    const double da = co->c[6], db = co->c[7];
    const int correct = co->c[8] != 0.0;
    double *drift = w->buf[0]; /* F(x, t_s) */
    double *xp = w->buf[1];    /* predictor */
    pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, rows, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    for (size_t r = r0; r < r1; r++) {
        size_t o = (r - r0) * d;
        const double *x = run->x + r * d;
        const float *sc = w->fout + o;
        float *den = run->den + r * d;
        for (size_t j = 0; j < d; j++) {
            double s = sc[j];
            den[j] = (float)(da * x[j] + db * s);
            drift[o + j] = fs * x[j] - gs * s;
            xp[o + j] = x[j] + h * drift[o + j];
            w->fin[o + j] = (float)xp[o + j];
        }
    }
    if (!correct) {
        for (size_t r = r0; r < r1; r++)
            for (size_t j = 0; j < d; j++)
                run->x[r * d + j] = xp[(r - r0) * d + j];
        return PI_OK;
    }
    st = pi_run_eval(run, w, PI_VIEW_SCORE, rows, w->fin, co->t_t);
    if (st != PI_OK)
        return st;
    for (size_t r = r0; r < r1; r++) {
        size_t o = (r - r0) * d;
        double *x = run->x + r * d;
        const float *sc = w->fout + o;
        for (size_t j = 0; j < d; j++) {
            double f2 = ft * xp[o + j] - gt * (double)sc[j];
            x[j] = x[j] + 0.5 * h * (drift[o + j] + f2);
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type heun_type = {
    .name = "heun",
    .order = 2,
    .stochastic = 1,
    .prepare = heun_prepare,
    .step_rows = heun_step_rows,
    .integrate = NULL,
    .nfe_per_step = 2,
};

const struct pi_integrator_type *const pi_integrator_heun = &heun_type;
