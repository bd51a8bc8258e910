/* The evolve loop: adaptive (embedded types, controller of control.c) or fixed steps over a
 * workspace sized once by the state dimension; nothing is allocated while integrating. */
#include "ode.h"

#include <string.h>

/* k[0..MAX_STAGES), ytmp, ynew. */
enum { WORK_VECTORS = PI_ODE_MAX_STAGES + 2 };

size_t pi_ode_workspace_doubles(size_t n)
{
    return PI_ODE_WORK_DOUBLES(n);
}

void pi_ode_evolve_init(pi_ode_evolve *ev, const struct pi_ode_stepper_type *type,
                        size_t capacity, double *work)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->capacity = capacity;
    for (int i = 0; i < PI_ODE_MAX_STAGES; i++)
        ev->k[i] = work + (size_t)i * capacity;
    ev->ytmp = work + (size_t)PI_ODE_MAX_STAGES * capacity;
    ev->ynew = work + (size_t)(PI_ODE_MAX_STAGES + 1) * capacity;
}

pi_status pi_ode_evolve_alloc(const struct pi_ode_stepper_type *type, size_t capacity,
                              pi_ode_evolve **out)
{
    PI_CHECK_NULL(type);
    PI_CHECK_NULL(out);
    if (capacity == 0 || capacity > PI_MAX_ELEMENTS / WORK_VECTORS)
        return pi_fail(PI_EINVAL, "%s: capacity must be in [1, 2^40 / %d], got %zu", __func__,
                       WORK_VECTORS, capacity);
    /* One block: the struct, then the vectors (sizeof *ev is a multiple of 8). */
    unsigned char *block =
        pi_malloc(sizeof(pi_ode_evolve) + pi_ode_workspace_doubles(capacity) * sizeof(double));
    if (block == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory for an ODE workspace of %zu components",
                       __func__, capacity);
    pi_ode_evolve *ev = (pi_ode_evolve *)(void *)block;
    pi_ode_evolve_init(ev, type, capacity, (double *)(void *)(block + sizeof(pi_ode_evolve)));
    ev->owned = 1;
    *out = ev;
    return PI_OK;
}

void pi_ode_evolve_free(pi_ode_evolve *ev)
{
    if (ev != NULL && ev->owned)
        pi_free(ev);
}

void pi_ode_evolve_reset(pi_ode_evolve *ev)
{
    ev->stats.accepted = ev->stats.rejected = ev->stats.rhs_evals = 0;
}

static int all_finite(size_t n, const double *v)
{
    return pi_first_nonfinite_d(v, n) == n;
}

static pi_status check_system(const pi_ode_evolve *ev, const pi_ode_system *sys, const char *who)
{
    if (ev == NULL || sys == NULL || sys->rhs == NULL)
        return pi_fail(PI_EINVAL, "%s: the workspace, the system and its right-hand side must "
                       "not be NULL", who);
    if (sys->dim == 0 || sys->dim > ev->capacity)
        return pi_fail(PI_EINVAL, "%s: system dimension must be in [1, %zu] (the workspace's "
                       "capacity), got %zu", who, ev->capacity, sys->dim);
    return PI_OK;
}

static pi_status call_rhs(pi_ode_evolve *ev, const pi_ode_system *sys, double t, const double *y,
                          double *dydt)
{
    ev->stats.rhs_evals++;
    return sys->rhs(t, y, dydt, sys->ctx);
}

/* Stages 1.. of a step from (t, y) with k[0] = F(t, y) given; ynew = the solution at t_next.
 * For FSAL types k[last] = F(t_next, ynew) as well. */
static pi_status stages(pi_ode_evolve *ev, const pi_ode_system *sys, double t, double h,
                        double t_next, const double *y)
{
    const struct pi_ode_stepper_type *type = ev->type;
    const int s = type->tableau->stages;
    const size_t n = sys->dim;
    const double *const *k = (const double *const *)ev->k;
    for (int i = 1; i < s; i++) {
        double *in = type->fsal && i == s - 1 ? ev->ynew : ev->ytmp;
        pi_ode_stage_input(type, i, n, h, y, k, in);
        pi_status st = call_rhs(ev, sys, pi_ode_stage_time(type, i, t, h, t_next), in, ev->k[i]);
        if (st != PI_OK)
            return st;
    }
    if (!type->fsal)
        pi_ode_solution(type, n, h, y, k, ev->ynew);
    return PI_OK;
}

static void swap_first_last(pi_ode_evolve *ev)
{
    int last = ev->type->tableau->stages - 1;
    double *tmp = ev->k[0];
    ev->k[0] = ev->k[last];
    ev->k[last] = tmp;
}

/* Hairer's starting step: k[0] = F(t0, y) is known; one more evaluation. */
static pi_status starting_step(pi_ode_evolve *ev, const pi_ode_system *sys,
                               const pi_ode_options *o, double t0, double t1, const double *y,
                               double *h_out)
{
    size_t n = sys->dim;
    double span = t1 - t0, dir = span > 0.0 ? 1.0 : -1.0;
    double d0 = pi_ode_weighted_norm(n, y, y, o->rtol, o->atol);
    double d1 = pi_ode_weighted_norm(n, ev->k[0], y, o->rtol, o->atol);
    double h0 = pi_ode_initial_guess(d0, d1, span);
    for (size_t i = 0; i < n; i++)
        ev->ytmp[i] = y[i] + dir * h0 * ev->k[0][i];
    pi_status st = call_rhs(ev, sys, t0 + dir * h0, ev->ytmp, ev->k[1]);
    if (st != PI_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        ev->ytmp[i] = (ev->k[1][i] - ev->k[0][i]) / h0;
    double d2 = pi_ode_weighted_norm(n, ev->ytmp, y, o->rtol, o->atol);
    *h_out = pi_ode_initial_step(ev->type, h0, d1, d2, span);
    return PI_OK;
}

/* The adaptive loop until ctl->t reaches ctl->t1; *have_k0 says whether k[0] = F(t, y). */
static pi_status advance(pi_ode_evolve *ev, const pi_ode_system *sys, pi_ode_control *ctl,
                         double *y, int *have_k0)
{
    const struct pi_ode_stepper_type *type = ev->type;
    const size_t n = sys->dim;
    const int last = type->tableau->stages - 1;
    pi_status st = PI_OK;
    while (ctl->t != ctl->t1) {
        double h, t_next;
        int final, accept;
        if ((st = pi_ode_control_next(ctl, &h, &t_next, &final)) != PI_OK)
            break;
        if (!*have_k0) {
            if ((st = call_rhs(ev, sys, ctl->t, y, ev->k[0])) != PI_OK)
                break;
            if (!all_finite(n, ev->k[0])) {
                st = pi_fail(PI_ENUMERIC, "ode (%s): the derivative is not finite at t = %.17g",
                             type->name, ctl->t);
                break;
            }
            *have_k0 = 1;
        }
        if ((st = stages(ev, sys, ctl->t, h, t_next, y)) != PI_OK)
            break;
        double err = pi_ode_error_norm(pi_ode_error_sumsq(type, n, h, y, ev->ynew,
                                                          (const double *const *)ev->k,
                                                          ctl->rtol, ctl->atol), n);
        if (!all_finite(n, ev->ynew) || (type->fsal && !all_finite(n, ev->k[last])))
            err = NAN;
        pi_ode_control_judge(ctl, err, t_next, &accept);
        if (accept) {
            memcpy(y, ev->ynew, n * sizeof *y);
            if (type->fsal)
                swap_first_last(ev);
            else
                *have_k0 = 0;
        }
    }
    ev->stats.accepted += ctl->accepted;
    ev->stats.rejected += ctl->rejected;
    ctl->accepted = ctl->rejected = 0;
    return st;
}

static pi_status start_adaptive(pi_ode_evolve *ev, const pi_ode_system *sys,
                                const pi_ode_options *o, double t0, double t1, double *y,
                                pi_ode_control *ctl, const char *who)
{
    pi_status st = check_system(ev, sys, who);
    if (st != PI_OK)
        return st;
    if (o == NULL || y == NULL)
        return pi_fail(PI_EINVAL, "%s: options and y must not be NULL", who);
    if (!ev->type->embedded)
        return pi_fail(PI_EINVAL, "%s: adaptive stepping needs an embedded stepper, %s has no "
                       "error estimate", who, ev->type->name);
    if ((st = pi_ode_check_tolerances(o->rtol, o->atol, who)) != PI_OK)
        return st;
    if (o->max_steps < 1)
        return pi_fail(PI_EINVAL, "%s: max_steps must be >= 1, got %zu", who, o->max_steps);
    if (!(o->h0 >= 0.0) || !isfinite(o->h0))
        return pi_fail(PI_EINVAL, "%s: h0 must be finite and >= 0 (0 = automatic), got %g", who,
                       o->h0);
    if (!isfinite(t0) || !isfinite(t1))
        return pi_fail(PI_EINVAL, "%s: t0 and t1 must be finite, got %g, %g", who, t0, t1);
    if (!all_finite(sys->dim, y))
        return pi_fail(PI_ENUMERIC, "%s: the initial state is not finite", who);
    if ((st = call_rhs(ev, sys, t0, y, ev->k[0])) != PI_OK)
        return st;
    if (!all_finite(sys->dim, ev->k[0]))
        return pi_fail(PI_ENUMERIC, "%s (%s): the derivative is not finite at t0 = %.17g", who,
                       ev->type->name, t0);
    double h = 0.0;
    if (o->h0 > 0.0)
        h = fmin(o->h0, fabs(t1 - t0));
    else if ((st = starting_step(ev, sys, o, t0, t1, y, &h)) != PI_OK)
        return st;
    return pi_ode_control_init(ctl, ev->type, o->rtol, o->atol, o->max_steps, t0, t1, h);
}

pi_status pi_ode_evolve_solve(pi_ode_evolve *ev, const pi_ode_system *sys,
                              const pi_ode_options *o, double t0, double t1, double *y)
{
    if (t0 == t1) { /* nothing to integrate, but the arguments are still checked */
        pi_status st = check_system(ev, sys, __func__);
        if (st == PI_OK && (o == NULL || y == NULL))
            st = pi_fail(PI_EINVAL, "%s: options and y must not be NULL", __func__);
        if (st == PI_OK)
            st = pi_ode_check_tolerances(o->rtol, o->atol, __func__);
        return st;
    }
    pi_ode_control ctl;
    pi_status st = start_adaptive(ev, sys, o, t0, t1, y, &ctl, __func__);
    if (st != PI_OK)
        return st;
    int have_k0 = 1;
    return advance(ev, sys, &ctl, y, &have_k0);
}

pi_status pi_ode_evolve_outputs(pi_ode_evolve *ev, const pi_ode_system *sys,
                                const pi_ode_options *o, double t0, size_t ntimes,
                                const double *times, double *y, double *ys)
{
    if (times == NULL || ys == NULL || ntimes == 0)
        return pi_fail(PI_EINVAL, "%s: need ntimes >= 1 output times and an output array",
                       __func__);
    double dir = times[0] > t0 ? 1.0 : -1.0, prev = t0;
    for (size_t j = 0; j < ntimes; j++) {
        if (!isfinite(times[j]) || !(dir * (times[j] - prev) > 0.0))
            return pi_fail(PI_EINVAL, "%s: output times must be finite and strictly monotone "
                           "away from t0 = %g; times[%zu] = %g", __func__, t0, j, times[j]);
        prev = times[j];
    }
    pi_ode_control ctl;
    pi_status st = start_adaptive(ev, sys, o, t0, times[ntimes - 1], y, &ctl, __func__);
    if (st != PI_OK)
        return st;
    size_t n = sys->dim, steps = 0;
    const size_t base = ev->stats.accepted + ev->stats.rejected;
    int have_k0 = 1;
    for (size_t j = 0; j < ntimes && st == PI_OK; j++) {
        /* Remaining step budget of the whole solve. */
        ctl.max_steps = o->max_steps - steps;
        ctl.t1 = times[j];
        st = advance(ev, sys, &ctl, y, &have_k0);
        steps = ev->stats.accepted + ev->stats.rejected - base;
        if (st == PI_OK)
            memcpy(ys + j * n, y, n * sizeof *y);
    }
    return st;
}

/* One step with k[0] = F(t, y) present; y ← ynew. */
static pi_status fixed_step(pi_ode_evolve *ev, const pi_ode_system *sys, double t, double h,
                            double t_next, double *y, double *yerr)
{
    const struct pi_ode_stepper_type *type = ev->type;
    size_t n = sys->dim;
    pi_status st = stages(ev, sys, t, h, t_next, y);
    if (st != PI_OK)
        return st;
    if (!all_finite(n, ev->ynew))
        return pi_fail(PI_ENUMERIC, "ode (%s): the state is not finite after the step from "
                       "t = %.17g (h = %g)", type->name, t, h);
    if (yerr != NULL && type->embedded) {
        const double *e = type->tableau->e;
        for (size_t i = 0; i < n; i++) {
            double acc = 0.0;
            for (int j = 0; j < type->tableau->stages; j++)
                if (e[j] != 0.0)
                    acc += e[j] * ev->k[j][i];
            yerr[i] = h * acc;
        }
    }
    memcpy(y, ev->ynew, n * sizeof *y);
    return PI_OK;
}

pi_status pi_ode_evolve_fixed(pi_ode_evolve *ev, const pi_ode_system *sys, double t0, double t1,
                              size_t nsteps, double *y)
{
    pi_status st = check_system(ev, sys, __func__);
    if (st != PI_OK)
        return st;
    if (y == NULL || nsteps < 1 || !isfinite(t0) || !isfinite(t1))
        return pi_fail(PI_EINVAL, "%s: need y, nsteps >= 1 and finite t0, t1 (got %zu, %g, %g)",
                       __func__, nsteps, t0, t1);
    double h = (t1 - t0) / (double)nsteps;
    int have_k0 = 0;
    for (size_t i = 0; i < nsteps; i++) {
        double t = t0 + (double)i * h;
        double t_next = i + 1 == nsteps ? t1 : t0 + (double)(i + 1) * h;
        if (!have_k0 && (st = call_rhs(ev, sys, t, y, ev->k[0])) != PI_OK)
            return st;
        if ((st = fixed_step(ev, sys, t, t_next - t, t_next, y, NULL)) != PI_OK)
            return st;
        ev->stats.accepted++;
        have_k0 = ev->type->fsal;
        if (have_k0)
            swap_first_last(ev);
    }
    return PI_OK;
}

pi_status pi_ode_step_apply(pi_ode_evolve *ev, const pi_ode_system *sys, double t, double h,
                            double *y, double *yerr, const double *dydt_in, double *dydt_out)
{
    pi_status st = check_system(ev, sys, __func__);
    if (st != PI_OK)
        return st;
    if (yerr != NULL && !ev->type->embedded)
        return pi_fail(PI_EINVAL, "%s: %s has no error estimate; pass yerr = NULL", __func__,
                       ev->type->name);
    size_t n = sys->dim;
    if (dydt_in != NULL)
        memcpy(ev->k[0], dydt_in, n * sizeof *dydt_in);
    else if ((st = call_rhs(ev, sys, t, y, ev->k[0])) != PI_OK)
        return st;
    double t_next = t + h;
    if ((st = fixed_step(ev, sys, t, h, t_next, y, yerr)) != PI_OK)
        return st;
    if (dydt_out != NULL) {
        if (ev->type->fsal)
            memcpy(dydt_out, ev->k[ev->type->tableau->stages - 1], n * sizeof *dydt_out);
        else if ((st = call_rhs(ev, sys, t_next, y, dydt_out)) != PI_OK)
            return st;
    }
    return PI_OK;
}

pi_status pi_ode_solve(pi_ode_rhs_fn rhs, void *ctx, size_t n, double t0, double t1, double *y,
                       const pi_ode_options *options, double *work, pi_ode_stats *stats)
{
    if (work == NULL)
        return pi_fail(PI_EINVAL, "%s: work must not be NULL", __func__);
    pi_ode_evolve ev;
    pi_ode_evolve_init(&ev, pi_ode_dopri5, n, work);
    pi_ode_system sys = {rhs, n, ctx};
    pi_status st = pi_ode_evolve_solve(&ev, &sys, options, t0, t1, y);
    if (stats != NULL) {
        stats->accepted += ev.stats.accepted;
        stats->rejected += ev.stats.rejected;
        stats->rhs_evals += ev.stats.rhs_evals;
    }
    return st;
}
