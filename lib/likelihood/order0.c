/* Order 0 of the likelihood (MATH.md §4): the probability-flow ODE with its divergence,
 *   ẋ = f_PF = f x − ½ g² s,   ℓ̇ = ∇·f_PF = d f − ½ g² ∇·s,
 * from the data point at t_min to T; log q⁰ = log π(x_T) + ℓ(T). */
#include "likelihood_impl.h"

#include "core/philox.h"

#include <string.h>

static const double LOG_2PI = 1.8378770664093454835606594728112;

double pi_lik_prior_logpdf(const pi_sde_t *sde, size_t dim, const double *y, double *grad)
{
    double std = pi_sde_prior_std_of(sde);
    double inv_var = 1.0 / (std * std);
    double ss = 0.0;
    for (size_t j = 0; j < dim; j++) {
        ss += y[j] * y[j];
        if (grad != NULL)
            grad[j] = -y[j] * inv_var;
    }
    return -0.5 * ss * inv_var - (double)dim * (log(std) + 0.5 * LOG_2PI);
}

typedef struct order0_ctx {
    const pi_model_t *model;
    size_t dim;
    pi_divergence div_mode;
    size_t probes;
    const double *probe; /* probes × dim */
    double *s, *jz;      /* dim each */
    size_t nfe;
} order0_ctx;

/* State y = (x[0..d), ℓ). */
static pi_status order0_rhs(double t, const double *y, double *dydt, void *p)
{
    order0_ctx *c = p;
    size_t d = c->dim;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&c->model->sde, t, &sp);
    if (st != PI_OK)
        return st;
    st = pi_model_score_d(c->model, y, t, c->s);
    c->nfe++;
    if (st != PI_OK)
        return st;
    double div = 0.0;
    if (c->div_mode == PI_DIVERGENCE_EXACT) {
        st = pi_model_divergence_d(c->model, y, t, &div);
        c->nfe++;
        if (st != PI_OK)
            return st;
    } else {
        /* Hutchinson: mean over the fixed probes of zᵀ (∂s/∂x) z. */
        for (size_t k = 0; k < c->probes; k++) {
            const double *z = c->probe + k * d;
            st = pi_model_jvp_d(c->model, y, t, z, c->jz);
            c->nfe++;
            if (st != PI_OK)
                return st;
            double acc = 0.0;
            for (size_t j = 0; j < d; j++)
                acc += z[j] * c->jz[j];
            div += acc;
        }
        div /= (double)c->probes;
    }
    for (size_t j = 0; j < d; j++)
        dydt[j] = sp.f * y[j] - 0.5 * sp.g2 * c->s[j];
    dydt[d] = (double)d * sp.f - 0.5 * sp.g2 * div;
    return PI_OK;
}

/* Probes of one point: a pure function of (seed, point index, probe index). */
static void draw_probes(const pi_lik_options *o, uint64_t point_index, size_t dim, double *probe)
{
    for (size_t k = 0; k < o->probes; k++) {
        double *z = probe + k * dim;
        if (o->div_mode == PI_DIVERGENCE_HUTCHINSON_GAUSSIAN) {
            pi_rng_normal_d(o->seed, PI_STREAM_PROBE, point_index, (uint32_t)k, dim, z);
        } else {
            pi_rng_uniform_d(o->seed, PI_STREAM_PROBE, point_index, (uint32_t)k, dim, z);
            for (size_t j = 0; j < dim; j++)
                z[j] = z[j] <= 0.5 ? -1.0 : 1.0;
        }
    }
}

pi_status pi_order0_point(const pi_model_t *model, const pi_lik_options *o, pi_lik_ws *ws,
                          uint64_t point_index, const double *x0, double *logq, double *x_T,
                          pi_nll_point_stats *stats)
{
    size_t d = model->dim;
    double t_min = model->sde.t_min, t_max = model->sde.t_max;
    double *y = ws->state;
    memcpy(y, x0, d * sizeof *y);
    y[d] = 0.0;
    if (o->div_mode != PI_DIVERGENCE_EXACT)
        draw_probes(o, point_index, d, ws->probe);
    order0_ctx c = {model, d, o->div_mode, o->probes, ws->probe, ws->vec, ws->vec + d, 0};
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {order0_rhs, d + 1, &c};
    pi_ode_evolve_reset(ws->ode);
    pi_status st = pi_ode_evolve_solve(ws->ode, &sys, &so, t_min, t_max, y);
    if (stats != NULL) {
        stats->nfe_order0 += c.nfe;
        stats->steps_order0 += ws->ode->stats.accepted + ws->ode->stats.rejected;
    }
    if (st != PI_OK)
        return st;
    double lq = pi_lik_prior_logpdf(&model->sde, d, y, NULL) + y[d];
    if (!isfinite(lq))
        return PI_ENUMERIC;
    *logq = lq;
    if (x_T != NULL)
        memcpy(x_T, y, d * sizeof *x_T);
    return PI_OK;
}
