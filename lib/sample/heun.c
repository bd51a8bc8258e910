/* Heun's method in t for the ħ family (MATH.md §3); stochastic Heun for ħ > 0: a predictor–
 * corrector on the drift F(x, t) = f x − (1+ħ)/2 g² s with one noise increment ξ shared by
 * the predictor and the corrector,
 *
 *     x' = x + h F(x, t_s) + ξ,     x_t = x + h/2 [F(x, t_s) + F(x', t_t)] + ξ,
 *     ξ = sqrt(ħ |h| (g²(t_s) + g²(t_t))/2) z   (trapezoidal ∫ g² dt).
 *
 * Second order for the ODE (two model evaluations per step). A step to σ(t_t) = 0, where the
 * score does not exist, keeps the predictor (Euler), as EDM's Algorithm 1 does. */
#include "sampler_impl.h"

/* c: h, f_s, (1+ħ)/2 g²_s, f_t, (1+ħ)/2 g²_t, noise scale, 1/α_s, σ_s²/α_s, corrector on. */
static pi_status heun_prepare(pi_run *run, pi_step_coeffs *co)
{
    double h = co->t_t - co->t_s, c = 0.5 * (1.0 + run->hbar);
    co->c[0] = h;
    co->c[1] = co->ps.f;
    co->c[2] = c * co->ps.g2;
    co->c[3] = co->pt.f;
    co->c[4] = c * co->pt.g2;
    co->c[5] = run->hbar > 0.0 ? sqrt(run->hbar * -h * 0.5 * (co->ps.g2 + co->pt.g2)) : 0.0;
    co->c[6] = 1.0 / co->ps.alpha;
    co->c[7] = co->ps.sigma * co->ps.sigma / co->ps.alpha;
    co->c[8] = co->pt.sigma > 0.0;
    co->nfe = co->pt.sigma > 0.0 ? 2 : 1;
    return PI_OK;
}

static pi_status heun_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                pi_worker *w)
{
    size_t d = run->dim, rows = r1 - r0;
    const double h = co->c[0], fs = co->c[1], gs = co->c[2], ft = co->c[3], gt = co->c[4];
    const double q = co->c[5], da = co->c[6], db = co->c[7];
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
        double *z = w->noise + o;
        if (q > 0.0)
            pi_run_noise(run, PI_STREAM_STEP, r, (uint32_t)run->step, z);
        for (size_t j = 0; j < d; j++) {
            double s = sc[j];
            den[j] = (float)(da * x[j] + db * s);
            drift[o + j] = fs * x[j] - gs * s;
            xp[o + j] = x[j] + h * drift[o + j] + (q > 0.0 ? q * z[j] : 0.0);
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
        const double *z = w->noise + o;
        for (size_t j = 0; j < d; j++) {
            double f2 = ft * xp[o + j] - gt * (double)sc[j];
            x[j] = x[j] + 0.5 * h * (drift[o + j] + f2) + (q > 0.0 ? q * z[j] : 0.0);
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
