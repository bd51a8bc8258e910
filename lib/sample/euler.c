/* Euler–Maruyama in t for the ħ family (MATH.md §3), any SDE including custom ones:
 *
 *     x_{k+1} = x_k + h [f(t_k) x_k − (1+ħ)/2 g²(t_k) s(x_k, t_k)] + sqrt(ħ g²(t_k) |h|) z,
 *
 * h = t_{k+1} − t_k < 0. Order 1 for the ODE (ħ = 0), weak order 1 for ħ > 0. */
#include "sampler_impl.h"

/* c[0]: x coefficient 1 + h f; c[1]: score coefficient −h (1+ħ)/2 g²; c[2]: noise scale;
 * c[3], c[4]: D = c3 x + c4 s (Tweedie, for the callback and the trajectory). */
static pi_status euler_prepare(pi_run *run, pi_step_coeffs *co)
{
    double h = co->t_t - co->t_s;
    co->c[0] = 1.0 + h * co->ps.f;
    co->c[1] = -h * 0.5 * (1.0 + run->hbar) * co->ps.g2;
    co->c[2] = run->hbar > 0.0 ? sqrt(run->hbar * co->ps.g2 * -h) : 0.0;
    co->c[3] = 1.0 / co->ps.alpha;
    co->c[4] = co->ps.sigma * co->ps.sigma / co->ps.alpha;
    return PI_OK;
}

static pi_status euler_step_rows(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                                 pi_worker *w)
{
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, r1 - r0, run->x_out + r0 * d, co->t_s);
    if (st != PI_OK)
        return st;
    const double a = co->c[0], b = co->c[1], q = co->c[2], da = co->c[3], db = co->c[4];
    for (size_t r = r0; r < r1; r++) {
        double *x = run->x + r * d;
        const float *sc = w->fout + (r - r0) * d;
        float *den = run->den + r * d;
        if (q > 0.0)
            pi_run_step_noise(run, co, r, w, w->noise);
        for (size_t j = 0; j < d; j++) {
            double s = sc[j];
            den[j] = (float)(da * x[j] + db * s);
            x[j] = a * x[j] + b * s + (q > 0.0 ? q * w->noise[j] : 0.0);
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type euler_type = {
    .name = "euler",
    .order = 1,
    .stochastic = 1,
    .prepare = euler_prepare,
    .step_rows = euler_step_rows,
    .integrate = NULL,
    .nfe_per_step = 1,
};

const struct pi_integrator_type *const pi_integrator_euler = &euler_type;
