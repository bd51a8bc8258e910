/* c1 by one backward sweep (MATH.md §4, linear-response form).
 *
 * Along the order-0 trajectory, u = ∇log q⁰_t(x_t), H = ∇∇log q⁰_t(x_t) and the first-order
 * coefficient c_t(x_t) of log q^ħ_t obey, with A = ∇f_PF = f I − ½ g² J_s (A[k][i] = ∂f_k/∂x_i),
 *   ẋ = f x − ½ g² s
 *   u̇ = −Aᵀ u + ½ g² ∇(∇·s)
 *   Ḣ = −Aᵀ H − H A + ½ g² Σ_k u_k ∇∇s_k + ½ g² ∇∇(∇·s)
 *   ċ = ½ g² [ (s − u)·u + ∇·s − tr H ]
 * from u_T = ∇log π(x_T), H_T = ∇∇log π = −I/std², c_T = 0 (q^ħ_T = π for every ħ) down to
 * t_min, where c1 = c(t_min). The ċ equation is the order-ħ term of the transport of log q^ħ
 * by v = f_PF − ħ (g²/2)(s − ∇log q⁰), so −∫ċ dt is MATH.md's −½∫g²[…]dt.
 *
 * The trajectory is not stored: x is integrated backward from x_T together with (u, H, c) by
 * the same adaptive solver, as in the adjoint method of neural ODEs; the solver's error
 * control covers x, u, H and c at once. The PF-ODE is contracting backward in time, so the
 * re-integrated x stays within the tolerance of the forward one. Exact traces: H is d × d.
 *
 * Derivatives. Where the model's dense tensors fit (every kind; the MLP to d ≈ 16), one
 * derivatives_d call gives s, J, ∇(∇·s), the d³ Hessians and ∇∇(∇·s), and the rhs contracts
 * the Hessians with u. Beyond (the MLP's third-order Taylor propagation needs (2W + d)·d³
 * doubles), a kind with sweep products gives Σ_k u_k ∇∇s_k and ∇∇(∇·s) directly by
 * forward-over-reverse passes in O(d·W) scratch (nn/mlp_derivatives.c), sized once per
 * workspace: the sweep then runs to PI_SWEEP_MAX_DIM. */
#include "likelihood_impl.h"

#include <string.h>

typedef pi_wkb_sweep_ctx sweep_ctx;

/* The products path: the dense context plus the model's scratch and Σ_k u_k ∇∇s_k. */
typedef struct products_ctx {
    sweep_ctx base;
    double *scratch;
    double *uhess; /* d × d */
} products_ctx;

static pi_status sweep_rhs(double t, const double *y, double *dydt, sweep_ctx *c,
                           const products_ctx *pc);

/* State y = (x[d], u[d], H[d×d] row-major, c). */
pi_status pi_wkb_sweep_rhs(double t, const double *y, double *dydt, void *p)
{
    return sweep_rhs(t, y, dydt, p, NULL);
}

static pi_status products_rhs(double t, const double *y, double *dydt, void *p)
{
    products_ctx *pc = p;
    return sweep_rhs(t, y, dydt, &pc->base, pc);
}

static pi_status sweep_rhs(double t, const double *y, double *dydt, sweep_ctx *c,
                           const products_ctx *pc)
{
    const pi_model_t *m = c->model;
    size_t d = c->dim;
    const double *x = y, *u = y + d, *H = y + 2 * d;
    double *dx = dydt, *du = dydt + d, *dH = dydt + 2 * d;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&m->sde, t, &sp);
    if (st != PI_OK)
        return st;
    /* One call (one Taylor propagation for an MLP); counted as the 5 derivative evaluations
     * it replaces, so NFE figures stay comparable with the reference algorithm's. */
    if (pc != NULL)
        st = m->type->sweep_products_d(m, x, t, u, c->s, c->jac, NULL, c->gd, pc->uhess, c->hd,
                                       pc->scratch);
    else
        st = pi_model_derivatives_d(m, x, t, c->s, c->jac, NULL, c->gd, c->hess, c->hd);
    if (st != PI_OK)
        return st;
    c->nfe += 5;
    double f = sp.f, hg = 0.5 * sp.g2;
    const double *J = c->jac;
    /* A[k][i] = f δ_ki − hg J[k][i]; written out inline. */
    double dots = 0.0, trJ = 0.0, trH = 0.0;
    for (size_t i = 0; i < d; i++) {
        dx[i] = f * x[i] - hg * c->s[i];
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += J[k * d + i] * u[k];
        /* −Aᵀu = −f u + hg Jᵀu */
        du[i] = -f * u[i] + hg * acc + hg * c->gd[i];
        dots += (c->s[i] - u[i]) * u[i];
        trJ += J[i * d + i];
        trH += H[i * d + i];
    }
    if (pc != NULL) {
        /* the same with Σ_k u_k ∇∇s_k given */
        const double *UH = pc->uhess;
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) {
                double jth = 0.0, hj = 0.0;
                for (size_t k = 0; k < d; k++) {
                    jth += J[k * d + i] * H[k * d + j];
                    hj += H[i * d + k] * J[k * d + j];
                }
                dH[i * d + j] = -2.0 * f * H[i * d + j] + hg * (jth + hj) + hg * UH[i * d + j] +
                                hg * c->hd[i * d + j];
            }
        dydt[2 * d + d * d] = hg * (dots + trJ - trH);
        return PI_OK;
    }
    for (size_t i = 0; i < d; i++) {
        for (size_t j = 0; j < d; j++) {
            /* (AᵀH)_ij = f H_ij − hg Σ_k J[k][i] H[k][j];  (HA)_ij = f H_ij − hg Σ_k H[i][k] J[k][j] */
            double jth = 0.0, hj = 0.0, uh = 0.0;
            for (size_t k = 0; k < d; k++) {
                jth += J[k * d + i] * H[k * d + j];
                hj += H[i * d + k] * J[k * d + j];
                uh += u[k] * c->hess[(k * d + i) * d + j];
            }
            dH[i * d + j] = -2.0 * f * H[i * d + j] + hg * (jth + hj) + hg * uh + hg * c->hd[i * d + j];
        }
    }
    dydt[2 * d + d * d] = hg * (dots + trJ - trH);
    return PI_OK;
}

pi_status pi_wkb_sweep_point(const pi_model_t *model, const pi_lik_options *o, pi_lik_ws *ws,
                             const double *x_T, double *c1, pi_nll_point_stats *stats)
{
    size_t d = model->dim;
    size_t n = 2 * d + d * d + 1;
    double std = pi_sde_prior_std_of(&model->sde);
    double *y = ws->state;
    memcpy(y, x_T, d * sizeof *y);
    pi_lik_prior_logpdf(&model->sde, d, x_T, y + d);
    memset(y + 2 * d, 0, (d * d + 1) * sizeof *y);
    for (size_t i = 0; i < d; i++)
        y[2 * d + i * d + i] = -1.0 / (std * std);
    products_ctx pc = {{model, d, ws->vec, ws->vec + d, ws->mat, ws->mat + d * d, ws->hess, 0},
                       NULL, ws->mat + 2 * d * d};
    sweep_ctx *cp = &pc.base;
    const struct pi_model_type *type = model->type;
    if (type->sweep_products_d != NULL &&
        (o->sweep_products || type->sweep_dense == NULL || !type->sweep_dense(model))) {
        /* scratch once per workspace (here at its first point), never in the step loop */
        size_t len = type->sweep_scratch(model);
        if (ws->sweep_scratch_len < len) {
            pi_free(ws->sweep_scratch);
            ws->sweep_scratch_len = 0;
            ws->sweep_scratch = pi_alloc_array(len, sizeof(double));
            if (ws->sweep_scratch == NULL)
                return pi_fail(PI_ENOMEM, "WKB sweep: out of memory for %zu doubles of "
                               "derivative scratch", len);
            ws->sweep_scratch_len = len;
        }
        pc.scratch = ws->sweep_scratch;
    }
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {pc.scratch != NULL ? products_rhs : pi_wkb_sweep_rhs, n,
                          pc.scratch != NULL ? (void *)&pc : (void *)cp};
    pi_ode_evolve_reset(ws->ode);
    pi_status st = pi_ode_evolve_solve(ws->ode, &sys, &so, model->sde.t_max, model->sde.t_min, y);
    if (stats != NULL) {
        stats->nfe_c1 += cp->nfe;
        stats->steps_c1 += ws->ode->stats.accepted + ws->ode->stats.rejected;
    }
    if (st != PI_OK)
        return st;
    if (!isfinite(y[n - 1]))
        return PI_ENUMERIC;
    *c1 = y[n - 1];
    return PI_OK;
}
