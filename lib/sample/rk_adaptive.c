/* Adaptive Dormand–Prince 5(4) for the probability-flow ODE (ħ = 0 only), in t:
 *
 *     dx/dt = F(x, t) = f(t) x − ½ g(t)² s(x, t),
 *
 * FSAL (7 stages, 6 new model evaluations per attempt), local extrapolation (the 5th-order
 * solution is kept). Error control over the whole batch: the RMS norm
 *
 *     err = sqrt( mean_{rows, elements} (e / (atol + rtol max(|x|, |x_new|)))² ),
 *
 * accepted when err <= 1; the next step is h · min(5, max(0.2, 0.9 err^(−1/5))) (no growth
 * right after a rejection). Per-row sums are reduced in row order on the calling thread, so
 * the result does not depend on the thread count (it does depend on the batch: the norm
 * couples the rows). The initial step is (t_start − t_end)/steps. */
#include "sampler_impl.h"

#include <string.h>

static const double C[7] = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
static const double A[7][6] = {
    {0, 0, 0, 0, 0, 0},
    {1.0 / 5, 0, 0, 0, 0, 0},
    {3.0 / 40, 9.0 / 40, 0, 0, 0, 0},
    {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
/* 5th minus 4th order weights. */
static const double E[7] = {71.0 / 57600,  0,           -71.0 / 16695, 71.0 / 1920,
                            -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

typedef struct rk_ctx {
    double t, h;
    double f[7], g[7]; /* f(t_i) and ½ g²(t_i) at the stage times */
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
    size_t d = run->dim, rows = r1 - r0, m = rows * d;
    const double h = c->h;
    const double *x = run->x + r0 * d;
    const double *k[7];
    k[0] = run->k_first + r0 * d;
    for (int i = 1; i < 6; i++)
        k[i] = w->buf[i - 1];
    k[6] = run->k_last + r0 * d;
    double *xs = w->buf[5];
    for (int i = 1; i < 7; i++) {
        for (size_t e = 0; e < m; e++) {
            double acc = 0.0;
            for (int j = 0; j < i; j++)
                acc += A[i][j] * k[j][e];
            xs[e] = x[e] + h * acc;
            w->fin[e] = (float)xs[e];
        }
        pi_status st = pi_run_eval(run, w, PI_VIEW_SCORE, rows, w->fin, c->t + C[i] * h);
        if (st != PI_OK)
            return st;
        double *ki = (double *)k[i];
        for (size_t e = 0; e < m; e++)
            ki[e] = c->f[i] * xs[e] - c->g[i] * (double)w->fout[e];
    }
    /* Stage 7's input is the 5th-order solution. */
    memcpy(run->xnew + r0 * d, xs, m * sizeof *xs);
    for (size_t r = 0; r < rows; r++) {
        double sum = 0.0;
        for (size_t j = 0; j < d; j++) {
            size_t e = r * d + j;
            double err = 0.0;
            for (int i = 0; i < 7; i++)
                err += E[i] * k[i][e];
            err *= h;
            double a = fabs(x[e]), b = fabs(xs[e]);
            double sc = c->atol + c->rtol * (a > b ? a : b);
            sum += (err / sc) * (err / sc);
        }
        run->row_err[r0 + r] = sum;
    }
    return PI_OK;
}

static pi_status stage_coefficients(pi_run *run, rk_ctx *c)
{
    for (int i = 0; i < 7; i++) {
        pi_sde_point p;
        pi_status st = pi_sde_eval(run->sde, c->t + C[i] * c->h, &p);
        if (st != PI_OK)
            return st;
        c->f[i] = p.f;
        c->g[i] = 0.5 * p.g2;
    }
    return PI_OK;
}

static pi_status rk45_integrate(pi_run *run, double t_start, double t_end)
{
    pi_sampler_t *s = run->s;
    rk_ctx c;
    c.rtol = s->rtol;
    c.atol = s->atol;
    c.t = t_start;
    c.h = (t_end - t_start) / (double)s->steps;
    pi_status st = stage_coefficients(run, &c);
    if (st == PI_OK)
        st = pi_run_parallel(run, first_stage_rows, &c);
    if (st != PI_OK)
        return st;
    s->nfe += 1;
    double span = t_start - t_end;
    int last_rejected = 0;
    size_t attempts = 0;
    double total = (double)(run->n * run->dim);
    while (c.t > t_end) {
        if (++attempts > PI_RK_MAX_ATTEMPTS)
            return pi_fail(PI_ENOCONVERGE, "rk45: more than %d step attempts at t = %g",
                           PI_RK_MAX_ATTEMPTS, c.t);
        int last = 0;
        if (c.t + c.h <= t_end + 1e-12 * span) {
            c.h = t_end - c.t;
            last = 1;
        }
        if (!(fabs(c.h) > 1e-14 * (fabs(c.t) > 1.0 ? fabs(c.t) : 1.0)))
            return pi_fail(PI_ENOCONVERGE, "rk45: step size underflow (h = %g) at t = %.17g", c.h, c.t);
        st = stage_coefficients(run, &c);
        if (st == PI_OK)
            st = pi_run_parallel(run, attempt_rows, &c);
        if (st != PI_OK)
            return st;
        s->nfe += 6;
        double sum = 0.0;
        for (size_t r = 0; r < run->n; r++)
            sum += run->row_err[r];
        double err = sqrt(sum / total);
        if (!isfinite(err))
            err = 1e10;
        double factor = err > 0.0 ? 0.9 * pow(err, -0.2) : 5.0;
        if (factor > 5.0)
            factor = 5.0;
        if (factor < 0.2)
            factor = 0.2;
        if (err <= 1.0) {
            double *tmp = run->x;
            run->x = run->xnew;
            run->xnew = tmp;
            tmp = run->k_first;
            run->k_first = run->k_last;
            run->k_last = tmp;
            c.t = last ? t_end : c.t + c.h;
            s->accepted++;
            run->step = s->accepted - 1;
            st = pi_run_mirror(run);
            if (st == PI_OK)
                st = pi_run_after_step(run, s->accepted, 0, c.t);
            if (st != PI_OK)
                return st;
            c.h *= last_rejected && factor > 1.0 ? 1.0 : factor;
            last_rejected = 0;
        } else {
            s->rejected++;
            c.h *= factor;
            last_rejected = 1;
        }
    }
    return PI_OK;
}

static const struct pi_integrator_type rk45_type = {
    "rk45", 5, 0, NULL, NULL, rk45_integrate, 0,
};

const struct pi_integrator_type *const pi_integrator_rk45 = &rk45_type;
