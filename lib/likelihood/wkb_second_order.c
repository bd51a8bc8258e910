/* The second WKB coefficient c2 (docs/likelihood.md, "Second order"):
 *   log q^ħ_{t_min}(x0) = log q⁰ + ħ c1 + ħ² c2 + O(ħ³),  so NLL(ħ) ≈ NLL₀ − ħ c1 − ħ² c2.
 *
 * Along the order-0 characteristic ẋ = f_PF the log-density ℓ = log q^ħ_t obeys exactly (the
 * continuity equation of MATH.md §4 with v = f_PF − ħ (g²/2)(s − ∇ℓ))
 *   dℓ/dt = −∇·f_PF + ħ (g²/2) [ (s − ∇ℓ)·∇ℓ + ∇·s − Δℓ ],   ℓ_T = log π for every ħ.
 * With ℓ = ℓ0 + ħ ℓ1 + ħ² ℓ2 + …, u = ∇ℓ0, the orders ħ and ħ² read
 *   ℓ1(x0, t_min) = −∫ (g²/2) [ (s − u)·u + ∇·s − Δℓ0 ] dt                 (= c1, the sweep's c)
 *   ℓ2(x0, t_min) = −∫ (g²/2) [ (s − 2u)·∇ℓ1 − Δℓ1 ] dt                   (= c2)
 * over the order-0 trajectory from t_min to T. ℓ1(·, t) is a field: its value at (y, t) is
 * the c of a sweep (wkb_sweep.c) started at (y, t) instead of (x0, t_min). An exact c2 by one
 * sweep would need ∇ℓ1 and ∇∇ℓ1 along the path, i.e. derivatives of log q⁰ to 4th order and
 * of the score to 5th; instead, as the published reference algorithm does for c1 with
 * log q⁰, ∇ℓ1 and Δℓ1 at each outer evaluation come from central differences (step h) of ℓ1
 * at the 2d + 1 points x, x ± h e_i, each by a forward order-0 solve from t to T and a
 * backward sweep of (x, u, H, c) from T to t. The 2d + 1 copies are integrated as one system
 * in each direction, so they share step sequences and the differences are not polluted by
 * step-size jitter. Copy 0's sweep also gives u = ∇ℓ0(x, t). Cost: (2d + 1) sweeps per outer
 * evaluation, hence the dimension limit; for models whose ℓ1 is quadratic in x (the linear
 * Gaussian test model) the differences are exact. */
#include "likelihood_impl.h"

#include <string.h>

struct pi_wkb2_ws {
    size_t dim, copies, width;  /* width = 2d + d² + 1 (one sweep copy) */
    pi_ode_evolve *outer, *inner;
    double *outer_state;        /* d + 1 */
    double *fwd;                /* copies × d */
    double *bwd;                /* copies × width */
    double *s, *gd, *jac, *hd, *hess; /* sweep scratch */
    double *score, *u, *ell1;   /* d, d, copies */
    double *p;                  /* d */
};

void pi_wkb2_ws_destroy(pi_wkb2_ws *ws)
{
    if (ws == NULL)
        return;
    pi_ode_evolve_free(ws->outer);
    pi_ode_evolve_free(ws->inner);
    pi_free(ws->outer_state);
    pi_free(ws->fwd);
    pi_free(ws->bwd);
    pi_free(ws->s);
    pi_free(ws);
}

pi_status pi_wkb2_ws_create(size_t d, pi_wkb2_ws **out)
{
    pi_wkb2_ws *ws = pi_calloc(1, sizeof *ws);
    if (ws == NULL)
        return pi_fail(PI_ENOMEM, "out of memory for the second-order workspace");
    ws->dim = d;
    ws->copies = 2 * d + 1;
    ws->width = 2 * d + d * d + 1;
    size_t scratch = 2 * d + 2 * d * d + d * d * d + 3 * d + ws->copies;
    int ok = 1;
    ok &= pi_ode_evolve_alloc(pi_ode_dopri5, d + 1, &ws->outer) == PI_OK;
    ok &= pi_ode_evolve_alloc(pi_ode_dopri5, ws->copies * ws->width, &ws->inner) == PI_OK;
    ok &= (ws->outer_state = pi_alloc_array(d + 1, sizeof(double))) != NULL;
    ok &= (ws->fwd = pi_alloc_array(ws->copies * d, sizeof(double))) != NULL;
    ok &= (ws->bwd = pi_alloc_array(ws->copies * ws->width, sizeof(double))) != NULL;
    ok &= (ws->s = pi_alloc_array(scratch, sizeof(double))) != NULL;
    if (!ok) {
        pi_wkb2_ws_destroy(ws);
        return pi_fail(PI_ENOMEM, "out of memory for the second-order workspace (dim %zu)", d);
    }
    ws->gd = ws->s + d;
    ws->jac = ws->gd + d;
    ws->hd = ws->jac + d * d;
    ws->hess = ws->hd + d * d;
    ws->score = ws->hess + d * d * d;
    ws->u = ws->score + d;
    ws->p = ws->u + d;
    ws->ell1 = ws->p + d;
    *out = ws;
    return PI_OK;
}

typedef struct wkb2_ctx {
    const pi_model_t *model;
    const pi_lik_options *o;
    pi_wkb2_ws *ws;
    pi_wkb_sweep_ctx sweep;
    size_t nfe;
} wkb2_ctx;

/* The 2d + 1 copies of the probability-flow ODE, ẋ = f x − ½ g² s. */
static pi_status copies_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2_ctx *c = p;
    return pi_pf_copies_rhs(c->model, c->ws->copies, t, y, dydt, c->ws->s, &c->nfe);
}

/* The 2d + 1 copies of the sweep (wkb_sweep.c), one after the other. */
static pi_status sweeps_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2_ctx *c = p;
    size_t w = c->ws->width;
    for (size_t j = 0; j < c->ws->copies; j++) {
        pi_status st = pi_wkb_sweep_rhs(t, y + j * w, dydt + j * w, &c->sweep);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

/* ℓ1(·, t) at x and x ± h e_i into ws->ell1, and u = ∇ℓ0(x, t) into ws->u. */
static pi_status first_order_field(wkb2_ctx *c, double t, const double *x)
{
    pi_wkb2_ws *ws = c->ws;
    const pi_model_t *m = c->model;
    size_t d = ws->dim, w = ws->width, nc = ws->copies;
    double h = c->o->ref_fd_step, T = m->sde.t_max;
    for (size_t j = 0; j < nc; j++)
        memcpy(ws->fwd + j * d, x, d * sizeof *x);
    for (size_t i = 0; i < d; i++) {
        ws->fwd[(1 + 2 * i) * d + i] += h;
        ws->fwd[(2 + 2 * i) * d + i] -= h;
    }
    pi_ode_options so = {c->o->ref_inner_rtol, c->o->ref_inner_atol, c->o->max_steps, 0.0};
    pi_ode_system fsys = {copies_rhs, nc * d, c};
    pi_ode_evolve_reset(ws->inner);
    pi_status st = pi_ode_evolve_solve(ws->inner, &fsys, &so, t, T, ws->fwd);
    if (st != PI_OK)
        return st;
    double std = pi_sde_prior_std_of(&m->sde);
    for (size_t j = 0; j < nc; j++) {
        double *y = ws->bwd + j * w;
        memcpy(y, ws->fwd + j * d, d * sizeof *y);
        pi_lik_prior_logpdf(&m->sde, d, y, y + d);
        memset(y + 2 * d, 0, (d * d + 1) * sizeof *y);
        for (size_t i = 0; i < d; i++)
            y[2 * d + i * d + i] = -1.0 / (std * std);
    }
    pi_ode_system bsys = {sweeps_rhs, nc * w, c};
    pi_ode_evolve_reset(ws->inner);
    st = pi_ode_evolve_solve(ws->inner, &bsys, &so, T, t, ws->bwd);
    if (st != PI_OK)
        return st;
    memcpy(ws->u, ws->bwd + d, d * sizeof *ws->u);
    for (size_t j = 0; j < nc; j++)
        ws->ell1[j] = ws->bwd[j * w + w - 1];
    return PI_OK;
}

/* Outer state (x[d], c): ẋ = f_PF, ċ = −(g²/2) [ (s − 2u)·∇ℓ1 − Δℓ1 ]. */
static pi_status outer_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2_ctx *c = p;
    pi_wkb2_ws *ws = c->ws;
    const pi_model_t *m = c->model;
    size_t d = ws->dim;
    double h = c->o->ref_fd_step;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&m->sde, t, &sp);
    if (st != PI_OK)
        return st;
    c->nfe++;
    if ((st = pi_model_score_d(m, y, t, ws->score)) != PI_OK)
        return st;
    if ((st = first_order_field(c, t, y)) != PI_OK)
        return st;
    double hg = 0.5 * sp.g2, dot = 0.0, lap = 0.0, l0 = ws->ell1[0];
    for (size_t i = 0; i < d; i++) {
        double lp = ws->ell1[1 + 2 * i], lm = ws->ell1[2 + 2 * i];
        double pi_ = (lp - lm) / (2.0 * h);
        lap += (lp + lm - 2.0 * l0) / (h * h);
        dot += (ws->score[i] - 2.0 * ws->u[i]) * pi_;
        dydt[i] = sp.f * y[i] - hg * ws->score[i];
    }
    dydt[d] = -hg * (dot - lap);
    return PI_OK;
}

pi_status pi_wkb2_point(const pi_model_t *model, const pi_lik_options *o, pi_wkb2_ws *ws,
                        const double *x0, double *c2, pi_nll_point_stats *stats)
{
    size_t d = model->dim;
    double *y = ws->outer_state;
    memcpy(y, x0, d * sizeof *y);
    y[d] = 0.0;
    wkb2_ctx c = {model, o, ws, {model, d, ws->s, ws->gd, ws->jac, ws->hd, ws->hess, 0}, 0};
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {outer_rhs, d + 1, &c};
    pi_ode_evolve_reset(ws->outer);
    pi_status st = pi_ode_evolve_solve(ws->outer, &sys, &so, model->sde.t_min, model->sde.t_max, y);
    if (stats != NULL)
        stats->nfe_c2 += c.nfe + c.sweep.nfe;
    if (st != PI_OK)
        return st;
    if (!isfinite(y[d]))
        return PI_ENUMERIC;
    *c2 = y[d];
    return PI_OK;
}

pi_status pi_pf_copies_rhs(const pi_model_t *model, size_t copies, double t, const double *y,
                           double *dydt, double *s, size_t *nfe)
{
    size_t d = model->dim;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&model->sde, t, &sp);
    if (st != PI_OK)
        return st;
    for (size_t j = 0; j < copies; j++) {
        const double *x = y + j * d;
        (*nfe)++;
        if ((st = pi_model_score_d(model, x, t, s)) != PI_OK)
            return st;
        for (size_t i = 0; i < d; i++)
            dydt[j * d + i] = sp.f * x[i] - 0.5 * sp.g2 * s[i];
    }
    return PI_OK;
}
