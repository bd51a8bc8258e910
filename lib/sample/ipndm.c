/* iPNDM (Zhang & Chen 2023, "improved PNDM"; the formulation of zju-pi/diff-sampler), ħ = 0:
 * explicit Adams–Bashforth on the probability-flow ODE in the EDM variables x̃ = x/α, σ̃ = σ/α,
 *
 *     dx̃/dσ̃ = d(x̃, σ̃) = (x̃ − D)/σ̃,
 *     x̃_t = x̃_s + (σ̃_t − σ̃_s) Σ_j b_j d_(k−j),
 *
 * with the equal-step coefficients whatever the step sizes (that is iPNDM; the variable-step
 * variant is diff-sampler's iPNDM_v): order 1 (Euler) b = 1; 2: (3, −1)/2; 3: (23, −16, 5)/12;
 * 4: (55, −59, 37, −9)/24, the order rising by one per step up to 4 (the warm-up). One model
 * evaluation per step; d of the three previous steps is kept in the run's history. A step to
 * σ̃_t = 0 uses the same formula (order 1 there would return D exactly). */
#include "sampler_impl.h"

static const double ipndm_b[4][4] = {
    {1.0, 0.0, 0.0, 0.0},
    {3.0 / 2, -1.0 / 2, 0.0, 0.0},
    {23.0 / 12, -16.0 / 12, 5.0 / 12, 0.0},
    {55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24},
};

/* c0 = 1/α_s, c1 = 1/σ̃_s, c2 = σ̃_t − σ̃_s, c3 = α_t, c4..c7 = b_0..b_3, c8 = order. */
static pi_status ipndm_prepare(pi_run *run, pi_step_coeffs *co)
{
    size_t order = run->hist_count + 1;
    if (order > 4)
        order = 4;
    co->c[0] = 1.0 / co->ps.alpha;
    co->c[1] = 1.0 / co->ps.sigma_tilde;
    co->c[2] = co->pt.sigma_tilde - co->ps.sigma_tilde;
    co->c[3] = co->pt.alpha;
    for (int j = 0; j < 4; j++)
        co->c[4 + j] = ipndm_b[order - 1][j];
    co->c[8] = (double)order;
    return PI_OK;
}

static pi_status ipndm_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                 pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double ia = co->c[0], is = co->c[1], dsig = co->c[2], at = co->c[3];
    const double b0 = co->c[4], b1 = co->c[5], b2 = co->c[6], b3 = co->c[7];
    const int order = (int)co->c[8];
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d;
        const float *dn = w->fout + (r - r0) * d;
        float *den = run->den + r * d, *keep = run->hist[0] + r * d;
        const float *d1 = order >= 2 ? run->hist[1] + r * d : NULL;
        const float *d2 = order >= 3 ? run->hist[2] + r * d : NULL;
        const float *d3 = order >= 4 ? run->hist[3] + r * d : NULL;
        for (size_t j = 0; j < d; j++) {
            double xt = ia * x[j];
            double slope = (xt - (double)dn[j]) * is;
            den[j] = dn[j];
            keep[j] = (float)slope;
            double v = b0 * slope;
            if (d1 != NULL)
                v += b1 * (double)d1[j];
            if (d2 != NULL)
                v += b2 * (double)d2[j];
            if (d3 != NULL)
                v += b3 * (double)d3[j];
            x[j] = at * (xt + dsig * v);
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type ipndm_type = {
    .name = "ipndm",
    .order = 4,
    .stochastic = 0,
    .prepare = ipndm_prepare,
    .step_rows = ipndm_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
    .history = 3,
};

const struct pi_integrator_type *const pi_integrator_ipndm = &ipndm_type;
