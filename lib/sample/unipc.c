/* UniPC (Zhao et al. 2023, "UniPC: a unified predictor–corrector framework"), B(h) = e^h − 1
 * ("bh2"), data prediction, predictor order 2 (UniP-2 + UniC: diffusers' default order), ħ = 0 only (docs/samplers.md "UNIPC"). In x̃ = x/α and
 * λ = −log σ̃, a step a → b of width h = λ_b − λ_a is DDIM plus a weighted sum of divided
 * differences of the denoiser D in λ:
 *
 *     x̃_b = e^(−h) x̃_a + (1 − e^(−h)) D_a − B(h) Σ_i ρ_i (D_i − D_a)/r_i,  r_i = (λ_i − λ_a)/h,
 *
 * with ρ solving R ρ = g: R_(m,i) = r_i^m, g_m = m! φ_(m+1)(h)/B(h) in UniPC's hφ recursion
 * (hφ_1 = e^(−h) − 1 for the negated step; each next φ divides by −h and subtracts 1/m!).
 *
 * - predictor UniP-p (step k, s → t): the r_i of the p − 1 previous points; p = 2 uses ρ = 1/2;
 * - corrector UniC (at the start of step k + 1, once D_t has been evaluated at the predicted
 *   x̃_t for that step anyway): the step s → t redone from the corrected x̃_s with the same
 *   points plus D_t itself (r = 1); order 1 uses ρ = 1/2. It raises the order by one at no
 *   evaluation: D_t at the predicted point serves the corrector and the next predictor.
 *
 * The order rises 1, 2 over the first steps (warm-up) and falls to 1 on the last step ("lower
 * order final": the stale points of a few-step run are far away there). The code takes any
 * UNIPC_ORDER <= 3; order 3 measured worse at 10 evaluations on the 16-D mixture of
 * bench/sampler_quality (uniform λ: sliced W2 0.138 / excess NLL +5.40 vs 0.071 / +0.84 for
 * order 2; docs/samplers.md), as EXP3M does against EXP2M there. The state the
 * driver mirrors (model input, callback, result) is the predicted one; the corrected state lives
 * in run->xaux; the last step is not corrected (no evaluation follows). A step to σ̃_t = 0
 * returns α_t D_s. The study of diffusers' UniPCMultistepScheduler and wl-zhao/UniPC gave the
 * recursion; every line here is written for pathint's run structure. */
#include "sampler_impl.h"

#include <math.h>

#define UNIPC_ORDER 2

/* Solve the m × m system a ρ = g (m <= 3) by Gaussian elimination with partial pivoting. */
static void solve_small(int m, double a[3][3], double g[3], double rho[3])
{
    for (int c = 0; c < m; c++) {
        int p = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(a[r][c]) > fabs(a[p][c]))
                p = r;
        for (int k = 0; k < m; k++) {
            double t = a[c][k];
            a[c][k] = a[p][k];
            a[p][k] = t;
        }
        double t = g[c];
        g[c] = g[p];
        g[p] = t;
        for (int r = c + 1; r < m; r++) {
            double f = a[r][c] / a[c][c];
            for (int k = c; k < m; k++)
                a[r][k] -= f * a[c][k];
            g[r] -= f * g[c];
        }
    }
    for (int c = m - 1; c >= 0; c--) {
        double v = g[c];
        for (int k = c + 1; k < m; k++)
            v -= a[c][k] * rho[k];
        rho[c] = v / a[c][c];
    }
}

/* Weights of one UniPC update from λ_a over h with `order` terms. r[0 .. order−2]: the ratios
 * of the previous points; corrector: r[order−1] = 1 (the new point). Writes w0 (weight of D_a
 * beyond DDIM's) and w[i] for the points; scale: α_b. bh: B(h) of the update. */
static void unipc_weights(double h, int order, const double *r, int corrector, double alpha_b,
                          double *w0, double *w)
{
    double hh = -h, hphi1 = expm1(hh), bh = expm1(hh);
    double hphik = hphi1 / hh - 1.0, fact = 1.0, g[3], rk[3];
    int m = order; /* rows of the full system */
    for (int i = 0; i < m; i++) {
        g[i] = hphik * fact / bh;
        fact *= (double)(i + 2);
        hphik = hphik / hh - 1.0 / fact;
    }
    for (int i = 0; i < order - 1; i++)
        rk[i] = r[i];
    rk[order - 1] = 1.0;
    double rho[3] = {0.0, 0.0, 0.0};
    int nr = corrector ? order : order - 1; /* weights solved for */
    if (!corrector && order == 2)
        rho[0] = 0.5;
    else if (corrector && order == 1)
        rho[0] = 0.5;
    else if (nr > 0) {
        double a[3][3];
        for (int i = 0; i < nr; i++)
            for (int k = 0; k < nr; k++)
                a[i][k] = pow(rk[k], (double)i);
        solve_small(nr, a, g, rho);
    }
    /* −B Σ ρ_i (D_i − D_a)/r_i: D_i gets −B ρ_i/r_i, D_a gets +B Σ ρ_i/r_i. */
    *w0 = 0.0;
    for (int i = 0; i < nr; i++) {
        double c = -alpha_b * bh * rho[i] / rk[i];
        w[i] = c;
        *w0 -= c;
    }
}

/* c0: predictor factor on x_s^c, c1: on D_s, c2, c3: on D_(k−1), D_(k−2);
 * c4: corrector factor on x_p^c, c5: on D_p = D_(k−1), c6, c7: on D_(k−2), D_(k−3), c8: on D_s,
 * c9: corrector on, c10: predictor order. */
static pi_status unipc_prepare(pi_run *run, pi_step_coeffs *co)
{
    for (int i = 0; i < 12; i++)
        co->c[i] = 0.0;
    size_t k = co->step, hc = run->hist_count;
    double ls = -log(co->ps.sigma_tilde);
    /* Corrector of the previous step p → s, when there was one: its predictor's order. */
    if (k >= 1 && hc >= 1) {
        size_t oc = hc < UNIPC_ORDER ? hc : UNIPC_ORDER;
        if (run->nsteps - k + 1 < oc)
            oc = run->nsteps - k + 1;
        pi_sde_point pp;
        pi_status st = pi_sde_eval(run->sde, run->times[k - 1], &pp);
        if (st != PI_OK)
            return st;
        double lp = -log(pp.sigma_tilde), h = ls - lp, r[3] = {0.0, 0.0, 0.0}, w[3], w0;
        for (size_t i = 1; i < oc; i++) {
            pi_sde_point pi_;
            st = pi_sde_eval(run->sde, run->times[k - 1 - i], &pi_);
            if (st != PI_OK)
                return st;
            r[i - 1] = (-log(pi_.sigma_tilde) - lp) / h;
        }
        unipc_weights(h, (int)oc, r, 1, co->ps.alpha, &w0, w);
        co->c[4] = co->ps.alpha / pp.alpha * exp(-h);
        co->c[5] = -co->ps.alpha * expm1(-h) + w0;
        for (size_t i = 1; i < oc; i++)
            co->c[5 + i] = w[i - 1];
        co->c[8] = w[oc - 1];
        co->c[9] = 1.0;
    }
    /* Predictor s → t. */
    double at = co->pt.alpha;
    if (!(co->pt.sigma_tilde > 0.0)) {
        co->c[1] = at;
        co->c[10] = 1.0;
        co->first_order = 1;
        return PI_OK;
    }
    size_t op = hc + 1 < UNIPC_ORDER ? hc + 1 : UNIPC_ORDER;
    if (run->nsteps - k < op)
        op = run->nsteps - k;
    if (co->first_order)
        op = 1;
    double h = -log(co->pt.sigma_tilde) - ls, r[3] = {0.0, 0.0, 0.0}, w[3], w0 = 0.0;
    for (size_t i = 1; i < op; i++) {
        pi_sde_point pi_;
        pi_status st = pi_sde_eval(run->sde, run->times[k - i], &pi_);
        if (st != PI_OK)
            return st;
        r[i - 1] = (-log(pi_.sigma_tilde) - ls) / h;
    }
    if (op > 1)
        unipc_weights(h, (int)op, r, 0, at, &w0, w);
    co->c[0] = at / co->ps.alpha * exp(-h);
    co->c[1] = -at * expm1(-h) + w0;
    for (size_t i = 1; i < op; i++)
        co->c[1 + i] = w[i - 1];
    co->c[10] = (double)op;
    return PI_OK;
}

static pi_status unipc_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                 pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], p1 = co->c[2], p2 = co->c[3];
    const double ca = co->c[4], c0 = co->c[5], c1 = co->c[6], c2 = co->c[7], ct = co->c[8];
    const int correct = co->c[9] != 0.0;
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d, *xc = run->xaux + r * d;
        const float *dn = w->fout + (r - r0) * d;
        const float *h1 = run->hist_count >= 1 ? run->hist[1] + r * d : NULL;
        const float *h2 = run->hist_count >= 2 ? run->hist[2] + r * d : NULL;
        const float *h3 = run->hist_count >= 3 ? run->hist[3] + r * d : NULL;
        float *den = run->den + r * d, *keep = run->hist[0] + r * d;
        for (size_t j = 0; j < d; j++) {
            double ds = dn[j];
            den[j] = dn[j];
            keep[j] = dn[j];
            double xs = x[j];
            if (correct) {
                xs = ca * xc[j] + c0 * (double)h1[j] + ct * ds;
                if (c1 != 0.0)
                    xs += c1 * (double)h2[j];
                if (c2 != 0.0)
                    xs += c2 * (double)h3[j];
            }
            xc[j] = xs;
            double v = a * xs + b * ds;
            if (p1 != 0.0)
                v += p1 * (double)h1[j];
            if (p2 != 0.0)
                v += p2 * (double)h2[j];
            x[j] = v;
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type unipc_type = {
    .name = "unipc",
    .order = UNIPC_ORDER + 1,
    .stochastic = 0,
    .prepare = unipc_prepare,
    .step_rows = unipc_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
    .history = UNIPC_ORDER,
    .aux_state = 1,
};

const struct pi_integrator_type *const pi_integrator_unipc = &unipc_type;
