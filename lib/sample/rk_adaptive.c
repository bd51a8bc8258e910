/* Adaptive Dormand–Prince 5(4) for the probability-flow ODE (ħ = 0 only), in t:
 *
 *     dx/dt = F(x, t) = f(t) x − ½ g(t)² s(x, t),
 *
 * on the whole batch. The method is lib/ode's: its tableau (pi_ode_dopri5: FSAL, 7 stages,
 * 6 new model evaluations per attempt, the 5th-order solution kept), its error measure and
 * its step-size controller (pi_ode_control_*). Only the loop is here, because the batch and
 * the worker threads are the driver's: the stages run in parallel over rows, and the error
 * norm of the attempt is the RMS over all rows and elements,
 *
 *     err = sqrt( Σ_rows pi_ode_error_sumsq(row) / (n · dim) ),
 *
 * with the per-row sums reduced in row order on the calling thread, so the result does not
 * depend on the thread count (it does depend on the batch: the norm couples the rows). The
 * initial step is (t_start − t_end)/steps. */
#include "sampler_impl.h"

#include "ode/ode.h"

#include <string.h>

typedef struct rk_ctx {
    const struct pi_ode_stepper_type *type;
    double t, h, t_next; /* h signed (negative: t decreases) */
    double f[PI_ODE_MAX_STAGES], g[PI_ODE_MAX_STAGES]; /* f(t_i) and ½ g²(t_i) at the stages */
    double rtol, atol;
} rk_ctx;

static pi_status first_stage_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    const rk_ctx *c = ctx;
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, r1 - r0, run->x_out + r0 * d, c->t);
    if (st != PI_OK)
        return st;
    for (size_t i = 0; i < (r1 - r0) * d; i++)
        run->k_first[r0 * d + i] = c->f[0] * run->x[r0 * d + i] - c->g[0] * (double)w->fout[i];
    return PI_OK;
}

static pi_status attempt_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    const rk_ctx *c = ctx;
    const int stages = c->type->tableau->stages;
    size_t d = run->dim, rows = r1 - r0, m = rows * d;
    const double *x = run->x + r0 * d;
    double *xnew = run->xnew + r0 * d;
    double *k[PI_ODE_MAX_STAGES];
    k[0] = run->k_first + r0 * d;
    for (int i = 1; i < stages - 1; i++)
        k[i] = w->buf[i - 1];
    k[stages - 1] = run->k_last + r0 * d;
    for (int i = 1; i < stages; i++) {
        /* The last stage's input is the 5th-order solution (FSAL). */
        double *xs = i == stages - 1 ? xnew : w->buf[PI_WORKER_BUFFERS - 1];
        pi_ode_stage_input(c->type, i, m, c->h, x, (const double *const *)k, xs);
        for (size_t e = 0; e < m; e++)
            w->fin[e] = (float)xs[e];
        pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, rows, w->fin,
                                   pi_ode_stage_time(c->type, i, c->t, c->h, c->t_next));
        if (st != PI_OK)
            return st;
        for (size_t e = 0; e < m; e++)
            k[i][e] = c->f[i] * xs[e] - c->g[i] * (double)w->fout[e];
    }
    for (size_t r = 0; r < rows; r++) {
        const double *kr[PI_ODE_MAX_STAGES];
        for (int i = 0; i < stages; i++)
            kr[i] = k[i] + r * d;
        run->row_err[r0 + r] = pi_ode_error_sumsq(c->type, d, c->h, x + r * d, xnew + r * d, kr,
                                                  c->rtol, c->atol);
    }
    return PI_OK;
}

static pi_status sde_half_g2(pi_run *run, double t, double *f, double *half_g2)
{
    pi_sde_point p;
    pi_status st = pi_sde_eval(run->sde, t, &p);
    if (st == PI_OK) {
        *f = p.f;
        *half_g2 = 0.5 * p.g2;
    }
    return st;
}

static pi_status stage_coefficients(pi_run *run, rk_ctx *c)
{
    for (int i = 0; i < c->type->tableau->stages; i++) {
        pi_status st = sde_half_g2(run, pi_ode_stage_time(c->type, i, c->t, c->h, c->t_next),
                                   &c->f[i], &c->g[i]);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

static pi_status rk45_integrate(pi_run *run, double t_start, double t_end)
{
    pi_sampler_t *s = run->s;
    rk_ctx c = {.type = pi_ode_dopri5, .rtol = s->rtol, .atol = s->atol, .t = t_start};
    pi_ode_control ctl;
    pi_status st = pi_ode_control_init(&ctl, c.type, s->rtol, s->atol, PI_RK_MAX_ATTEMPTS, t_start,
                                       t_end, fabs(t_start - t_end) / (double)s->steps);
    if (st == PI_OK)
        st = sde_half_g2(run, t_start, &c.f[0], &c.g[0]);
    if (st == PI_OK)
        st = pi_run_parallel(run, first_stage_rows, &c);
    if (st != PI_OK)
        return st;
    run->nfe += 1;
    while (ctl.t != t_end) {
        int final, accept;
        c.t = ctl.t;
        st = pi_ode_control_next(&ctl, &c.h, &c.t_next, &final);
        if (st == PI_OK)
            st = stage_coefficients(run, &c);
        if (st == PI_OK)
            st = pi_run_parallel(run, attempt_rows, &c);
        if (st != PI_OK)
            return st;
        run->nfe += (size_t)(c.type->tableau->stages - 1);
        double sum = 0.0;
        for (size_t r = 0; r < run->n; r++)
            sum += run->row_err[r];
        pi_ode_control_judge(&ctl, pi_ode_error_norm(sum, run->n * run->dim), c.t_next, &accept);
        if (!accept) {
            run->rejected++;
            continue;
        }
        double *tmp = run->x;
        run->x = run->xnew;
        run->xnew = tmp;
        tmp = run->k_first;
        run->k_first = run->k_last;
        run->k_last = tmp;
        run->accepted++;
        run->step = run->accepted - 1;
        st = pi_run_mirror(run);
        if (st == PI_OK)
            st = pi_run_after_step(run, run->accepted, 0, ctl.t);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

static const struct pi_integrator_type rk45_type = {
    .name = "rk45",
    .order = 5,
    .stochastic = 0,
    .prepare = NULL,
    .step_rows = NULL,
    .integrate = rk45_integrate,
    .nfe_per_step = 0,
};

const struct pi_integrator_type *const pi_integrator_rk45 = &rk45_type;
