/* c1 by the reference algorithm as published (Hirono, Tanaka & Fukushima 2024, Thm 4.2; MATH.md
 * §4, δx form): slow on purpose, the cross-check of the sweep.
 *
 * Outer solve from t_min to T of (x, δx, c):
 *   ẋ  = f_PF = f x − ½ g² s
 *   δẋ = (δx·∇) f_PF − ½ g² (s − ∇log q⁰_t)      = f δx − ½ g² (J_s δx) − ½ g² (s − u)
 *   ċ  = (δx·∇)(∇·f_PF) − ½ g² (∇·s − Δlog q⁰_t) = −½ g² δx·∇(∇·s) − ½ g² (∇·s − Δ)
 * with x(t_min) = x0, δx(t_min) = 0, c(t_min) = 0, and c1 = c(T) + δx_T·∇log π(x_T).
 *
 * u = ∇log q⁰_t(x) and Δ = Δlog q⁰_t(x) at each outer evaluation come from central finite
 * differences (step h) of log q⁰_t at the 2d+1 points x and x ± h e_i, each by a nested
 * order-0 solve from t to T: log q⁰_t(y) = log π(y_T) + ∫_t^T ∇·f_PF (exact divergence). The
 * 2d+1 nested solves are integrated as one system, so they share one step sequence and the
 * differences are not polluted by step-size jitter between neighbouring solves. */
#include "likelihood_impl.h"

#include <string.h>

typedef struct inner_ctx {
    const pi_model_t *model;
    size_t dim, copies;
    double *s;
    size_t nfe;
} inner_ctx;

/* State: copies × (y[d], ℓ). */
static pi_status inner_rhs(double t, const double *y, double *dydt, void *p)
{
    inner_ctx *c = p;
    size_t d = c->dim;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&c->model->sde, t, &sp);
    if (st != PI_OK)
        return st;
    for (size_t j = 0; j < c->copies; j++) {
        const double *yj = y + j * (d + 1);
        double *dj = dydt + j * (d + 1);
        double div;
        c->nfe += 2;
        if ((st = pi_model_score_d(c->model, yj, t, c->s)) != PI_OK)
            return st;
        if ((st = pi_model_divergence_d(c->model, yj, t, &div)) != PI_OK)
            return st;
        for (size_t i = 0; i < d; i++)
            dj[i] = sp.f * yj[i] - 0.5 * sp.g2 * c->s[i];
        dj[d] = (double)d * sp.f - 0.5 * sp.g2 * div;
    }
    return PI_OK;
}

typedef struct outer_ctx {
    const pi_model_t *model;
    const pi_lik_options *o;
    pi_lik_ws *ws;
    size_t dim;
    double *s, *jv, *gd, *u; /* d each */
    inner_ctx inner;
    size_t inner_steps;
    size_t nfe;
} outer_ctx;

/* ∇log q⁰_t(x) into c->u and Δlog q⁰_t(x) into *lap, by 2d+1 nested solves. */
static pi_status score_of_order0(outer_ctx *c, double t, const double *x, double *lap)
{
    size_t d = c->dim, w = d + 1;
    double h = c->o->ref_fd_step;
    double *y = c->ws->inner_state;
    /* copy 0: x; copy 1 + 2i: x + h e_i; copy 2 + 2i: x − h e_i */
    for (size_t j = 0; j < 2 * d + 1; j++) {
        memcpy(y + j * w, x, d * sizeof *y);
        y[j * w + d] = 0.0;
    }
    for (size_t i = 0; i < d; i++) {
        y[(1 + 2 * i) * w + i] += h;
        y[(2 + 2 * i) * w + i] -= h;
    }
    pi_ode_options so = {c->o->ref_inner_rtol, c->o->ref_inner_atol, c->o->max_steps, 0.0};
    pi_ode_system sys = {inner_rhs, (2 * d + 1) * w, &c->inner};
    pi_ode_evolve *ev = c->ws->inner_ode;
    pi_ode_evolve_reset(ev);
    pi_status st = pi_ode_evolve_solve(ev, &sys, &so, t, c->model->sde.t_max, y);
    c->inner_steps += ev->stats.accepted + ev->stats.rejected;
    if (st != PI_OK)
        return st;
    const pi_sde_t *sde = &c->model->sde;
    double l0 = pi_lik_prior_logpdf(sde, d, y, NULL) + y[d];
    double acc = 0.0;
    for (size_t i = 0; i < d; i++) {
        const double *yp = y + (1 + 2 * i) * w, *ym = y + (2 + 2 * i) * w;
        double lp = pi_lik_prior_logpdf(sde, d, yp, NULL) + yp[d];
        double lm = pi_lik_prior_logpdf(sde, d, ym, NULL) + ym[d];
        c->u[i] = (lp - lm) / (2.0 * h);
        acc += (lp + lm - 2.0 * l0) / (h * h);
    }
    *lap = acc;
    return PI_OK;
}

/* State y = (x[d], δx[d], c). */
static pi_status outer_rhs(double t, const double *y, double *dydt, void *p)
{
    outer_ctx *c = p;
    const pi_model_t *m = c->model;
    size_t d = c->dim;
    const double *x = y, *dx = y + d;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&m->sde, t, &sp);
    if (st != PI_OK)
        return st;
    double div, lap;
    c->nfe += 4;
    if ((st = pi_model_score_d(m, x, t, c->s)) != PI_OK)
        return st;
    if ((st = pi_model_jvp_d(m, x, t, dx, c->jv)) != PI_OK)
        return st;
    if ((st = pi_model_grad_div_d(m, x, t, c->gd)) != PI_OK)
        return st;
    if ((st = pi_model_divergence_d(m, x, t, &div)) != PI_OK)
        return st;
    if ((st = score_of_order0(c, t, x, &lap)) != PI_OK)
        return st;
    double hg = 0.5 * sp.g2, dgd = 0.0;
    for (size_t i = 0; i < d; i++) {
        dydt[i] = sp.f * x[i] - hg * c->s[i];
        dydt[d + i] = sp.f * dx[i] - hg * c->jv[i] - hg * (c->s[i] - c->u[i]);
        dgd += dx[i] * c->gd[i];
    }
    dydt[2 * d] = -hg * dgd - hg * (div - lap);
    return PI_OK;
}

pi_status pi_wkb_reference_point(const pi_model_t *model, const pi_lik_options *o,
                                 pi_lik_ws *ws, const double *x0, double *c1,
                                 pi_nll_point_stats *stats)
{
    size_t d = model->dim;
    double *y = ws->state;
    memcpy(y, x0, d * sizeof *y);
    memset(y + d, 0, (d + 1) * sizeof *y);
    double *v = ws->vec;
    outer_ctx c = {model, o, ws, d, v, v + d, v + 2 * d, v + 3 * d,
                   {model, d, 2 * d + 1, ws->inner_vec, 0}, 0, 0};
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {outer_rhs, 2 * d + 1, &c};
    pi_ode_evolve_reset(ws->ode);
    pi_status st = pi_ode_evolve_solve(ws->ode, &sys, &so, model->sde.t_min, model->sde.t_max, y);
    if (stats != NULL) {
        stats->nfe_c1 += c.nfe + c.inner.nfe;
        stats->steps_c1 += ws->ode->stats.accepted + ws->ode->stats.rejected;
    }
    if (st != PI_OK)
        return st;
    double *grad = v + 4 * d;
    pi_lik_prior_logpdf(&model->sde, d, y, grad);
    double val = y[2 * d];
    for (size_t i = 0; i < d; i++)
        val += y[d + i] * grad[i];
    if (!isfinite(val))
        return PI_ENUMERIC;
    *c1 = val;
    return PI_OK;
}
