/* The ODE core (lib/ode/): tableau order conditions, observed convergence orders at fixed
 * steps, adaptive accuracy against closed forms, counters, output times and error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ode/ode.h"

#define TWO_PI 6.283185307179586476925286766559

static const struct pi_ode_stepper_type *const *all_types(size_t *count)
{
    static const struct pi_ode_stepper_type *const *const list[] = {&pi_ode_dopri5, &pi_ode_rk4};
    static const struct pi_ode_stepper_type *types[2];
    for (size_t i = 0; i < 2; i++)
        types[i] = *list[i];
    *count = 2;
    return types;
}

/* ---- tableaus --------------------------------------------------------------------------- */

/* Residuals of the order conditions (Butcher trees up to order 5) for weights w. res[k] for
 * the k-th tree; order p uses the first 1, 2, 4, 8, 17 of them. */
static void order_conditions(const pi_ode_tableau *tab, const double *w, double *res)
{
    int s = tab->stages;
    const double *a = tab->a, *c = tab->c;
    double ac[PI_ODE_MAX_STAGES], ac2[PI_ODE_MAX_STAGES], ac3[PI_ODE_MAX_STAGES];
    double aac[PI_ODE_MAX_STAGES], acac[PI_ODE_MAX_STAGES], aac2[PI_ODE_MAX_STAGES];
    double aaac[PI_ODE_MAX_STAGES];
    for (int i = 0; i < s; i++) {
        ac[i] = ac2[i] = ac3[i] = 0.0;
        for (int j = 0; j < s; j++) {
            ac[i] += a[i * s + j] * c[j];
            ac2[i] += a[i * s + j] * c[j] * c[j];
            ac3[i] += a[i * s + j] * c[j] * c[j] * c[j];
        }
    }
    for (int i = 0; i < s; i++) {
        aac[i] = acac[i] = aac2[i] = 0.0;
        for (int j = 0; j < s; j++) {
            aac[i] += a[i * s + j] * ac[j];
            acac[i] += a[i * s + j] * c[j] * ac[j];
            aac2[i] += a[i * s + j] * ac2[j];
        }
    }
    for (int i = 0; i < s; i++) {
        aaac[i] = 0.0;
        for (int j = 0; j < s; j++)
            aaac[i] += a[i * s + j] * aac[j];
    }
    double sum[17] = {0};
    for (int i = 0; i < s; i++) {
        double ci = c[i];
        double terms[17] = {1.0,
                            ci,
                            ci * ci, ac[i],
                            ci * ci * ci, ci * ac[i], ac2[i], aac[i],
                            ci * ci * ci * ci, ci * ci * ac[i], ci * ac2[i], ci * aac[i],
                            ac[i] * ac[i], ac3[i], acac[i], aac2[i], aaac[i]};
        for (int k = 0; k < 17; k++)
            sum[k] += w[i] * terms[k];
    }
    static const double gamma[17] = {1, 2, 3, 6, 4, 8, 12, 24, 5, 10, 15, 30, 20, 20, 40, 60, 120};
    for (int k = 0; k < 17; k++)
        res[k] = sum[k] - 1.0 / gamma[k];
}

static const int conditions_of_order[6] = {0, 1, 2, 4, 8, 17};

static void test_tableaus(void **state)
{
    (void)state;
    size_t count;
    const struct pi_ode_stepper_type *const *types = all_types(&count);
    for (size_t t = 0; t < count; t++) {
        const struct pi_ode_stepper_type *type = types[t];
        const pi_ode_tableau *tab = type->tableau;
        int s = tab->stages;
        assert_true(s >= 1 && s <= PI_ODE_MAX_STAGES);
        assert_non_null(type->name);
        assert_int_equal(type->embedded, tab->e != NULL);
        /* explicit, c = row sums of A */
        for (int i = 0; i < s; i++) {
            double row = 0.0;
            for (int j = 0; j < s; j++) {
                if (j >= i)
                    assert_true(tab->a[i * s + j] == 0.0);
                row += tab->a[i * s + j];
            }
            assert_true(fabs(row - tab->c[i]) < 1e-14);
        }
        double res[17];
        order_conditions(tab, tab->b, res);
        for (int k = 0; k < conditions_of_order[type->order]; k++)
            assert_true(fabs(res[k]) < 1e-14);
        if (type->fsal) {
            assert_true(tab->c[s - 1] == 1.0);
            for (int j = 0; j < s; j++)
                assert_true(tab->a[(s - 1) * s + j] == tab->b[j]);
        }
        if (type->embedded) {
            double bhat[PI_ODE_MAX_STAGES];
            for (int j = 0; j < s; j++)
                bhat[j] = tab->b[j] - tab->e[j];
            order_conditions(tab, bhat, res);
            for (int k = 0; k < conditions_of_order[type->error_order]; k++)
                assert_true(fabs(res[k]) < 1e-14);
            /* ... and no more: some condition of the next order fails. */
            double worst = 0.0;
            for (int k = conditions_of_order[type->error_order];
                 k < conditions_of_order[type->error_order + 1]; k++)
                worst = fmax(worst, fabs(res[k]));
            assert_true(worst > 1e-6);
        }
    }
    assert_int_equal(pi_ode_dopri5->order, 5);
    assert_int_equal(pi_ode_dopri5->error_order, 4);
    assert_int_equal(pi_ode_rk4->order, 4);
    assert_int_equal(pi_ode_rk4->embedded, 0);
}

/* ---- test problems ----------------------------------------------------------------------- */

typedef struct problem {
    size_t calls;
    int fail_after;   /* > 0: the call with this number fails with PI_ECALLBACK */
    double nan_after; /* derivative NaN for t > nan_after (if finite) */
} problem;

static pi_status decay(double t, const double *y, double *dydt, void *p)
{
    problem *pr = p;
    pr->calls++;
    if (pr->fail_after > 0 && (int)pr->calls >= pr->fail_after)
        return pi_fail(PI_ECALLBACK, "decay: the test right-hand side refuses call %zu", pr->calls);
    dydt[0] = t > pr->nan_after ? NAN : -y[0];
    return PI_OK;
}

static pi_status rotation(double t, const double *y, double *dydt, void *p)
{
    (void)t;
    problem *pr = p;
    pr->calls++;
    dydt[0] = -y[1];
    dydt[1] = y[0];
    return PI_OK;
}

/* y' = −2 t y, y(0) = 1: y = exp(−t²) (non-autonomous: stage times matter). */
static pi_status gauss(double t, const double *y, double *dydt, void *p)
{
    problem *pr = p;
    pr->calls++;
    dydt[0] = -2.0 * t * y[0];
    return PI_OK;
}

static problem fresh(void)
{
    problem p = {0, 0, INFINITY};
    return p;
}

/* Endpoint error of nsteps fixed steps from 0 to 1 (max norm). */
static double fixed_error(const struct pi_ode_stepper_type *type, pi_ode_rhs_fn rhs, size_t dim,
                         size_t nsteps)
{
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(type, dim, &ev), PI_OK);
    problem pr = fresh();
    pi_ode_system sys = {rhs, dim, &pr};
    double y[2] = {1.0, 0.0}, exact[2];
    assert_int_equal(pi_ode_evolve_fixed(ev, &sys, 0.0, 1.0, nsteps, y), PI_OK);
    if (rhs == decay) {
        exact[0] = exp(-1.0);
    } else if (rhs == gauss) {
        exact[0] = exp(-1.0);
    } else {
        exact[0] = cos(1.0);
        exact[1] = sin(1.0);
    }
    double err = 0.0;
    for (size_t i = 0; i < dim; i++)
        err = fmax(err, fabs(y[i] - exact[i]));
    /* Counters: every step accepted; FSAL saves one evaluation per step after the first. */
    assert_int_equal(ev->stats.accepted, nsteps);
    int s = type->tableau->stages;
    size_t expect = type->fsal ? 1 + nsteps * (size_t)(s - 1) : nsteps * (size_t)s;
    assert_int_equal(ev->stats.rhs_evals, expect);
    assert_int_equal(pr.calls, expect);
    pi_ode_evolve_free(ev);
    return err;
}

static void test_convergence_order(void **state)
{
    (void)state;
    const struct pi_ode_stepper_type *types[2] = {pi_ode_dopri5, pi_ode_rk4};
    pi_ode_rhs_fn rhs[3] = {decay, rotation, gauss};
    size_t dims[3] = {1, 2, 1};
    for (int t = 0; t < 2; t++) {
        for (int p = 0; p < 3; p++) {
            double e1 = fixed_error(types[t], rhs[p], dims[p], 16);
            double e2 = fixed_error(types[t], rhs[p], dims[p], 32);
            double e3 = fixed_error(types[t], rhs[p], dims[p], 64);
            double s1 = log2(e1 / e2), s2 = log2(e2 / e3);
            print_message("%s problem %d: errors %.3e %.3e %.3e, slopes %.2f %.2f\n",
                          types[t]->name, p, e1, e2, e3, s1, s2);
            assert_true(fabs(s1 - types[t]->order) < 0.35);
            assert_true(fabs(s2 - types[t]->order) < 0.35);
        }
    }
}

/* The embedded estimate is a local error of order error_order + 1 in h. */
static void test_embedded_estimate(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 2, &ev), PI_OK);
    problem pr = fresh();
    pi_ode_system sys = {rotation, 2, &pr};
    double est[3];
    for (int k = 0; k < 3; k++) {
        double h = 0.2 / (double)(1 << k), y[2] = {1.0, 0.0}, yerr[2], dout[2];
        assert_int_equal(pi_ode_step_apply(ev, &sys, 0.0, h, y, yerr, NULL, dout), PI_OK);
        est[k] = hypot(yerr[0], yerr[1]);
        /* dydt_out of an FSAL type is F(t + h, y_new). */
        assert_true(fabs(dout[0] + y[1]) < 1e-15 && fabs(dout[1] - y[0]) < 1e-15);
    }
    double slope = log2(est[1] / est[2]);
    print_message("dopri5 local error estimate slope %.2f\n", slope);
    assert_true(fabs(slope - 5.0) < 0.3);
    pi_ode_evolve_free(ev);
}

/* ---- adaptive solves --------------------------------------------------------------------- */

static void test_adaptive_accuracy(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 4, &ev), PI_OK);
    const double tols[4] = {1e-4, 1e-6, 1e-8, 1e-10};
    double prev_err[3] = {INFINITY, INFINITY, INFINITY};
    size_t prev_steps[3] = {0, 0, 0};
    for (int k = 0; k < 4; k++) {
        pi_ode_options o = {tols[k], 1e-3 * tols[k], 100000, 0.0};
        for (int p = 0; p < 3; p++) {
            problem pr = fresh();
            pi_ode_system sys = {p == 0 ? decay : p == 1 ? rotation : gauss, p == 1 ? 2 : 1, &pr};
            double y[2] = {1.0, 0.0}, t0 = 0.0, t1 = p == 1 ? TWO_PI : 3.0;
            if (p == 0) { /* backward: y' = −y from t = 3 down to 0, y(3) = e^{−3} */
                t0 = 3.0;
                t1 = 0.0;
                y[0] = exp(-3.0);
            }
            pi_ode_evolve_reset(ev);
            assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, t0, t1, y), PI_OK);
            double err = p == 0   ? fabs(y[0] - 1.0)
                         : p == 1 ? fmax(fabs(y[0] - 1.0), fabs(y[1]))
                                  : fabs(y[0] - exp(-9.0));
            size_t steps = ev->stats.accepted + ev->stats.rejected;
            print_message("rtol %.0e problem %d: error %.3e, %zu accepted, %zu rejected, %zu "
                          "calls\n", tols[k], p, err, ev->stats.accepted, ev->stats.rejected,
                          ev->stats.rhs_evals);
            assert_true(err < 50.0 * tols[k]);
            assert_true(err < prev_err[p]);
            assert_true(ev->stats.accepted > prev_steps[p]);
            /* k0, the starting step's probe, 6 per attempt (FSAL) */
            assert_int_equal(ev->stats.rhs_evals, 2 + 6 * steps);
            assert_int_equal(pr.calls, ev->stats.rhs_evals);
            prev_err[p] = err;
            prev_steps[p] = ev->stats.accepted;
        }
    }
    pi_ode_evolve_free(ev);
}

/* pi_ode_solve on caller memory is the same solve as the evolve object. */
static void test_one_shot_matches_evolve(void **state)
{
    (void)state;
    double work[PI_ODE_WORK_DOUBLES(2)];
    assert_int_equal(pi_ode_workspace_doubles(2), PI_ODE_WORK_DOUBLES(2));
    pi_ode_options o = {1e-7, 1e-9, 1000, 0.0};
    problem p1 = fresh(), p2 = fresh();
    double y1[2] = {1.0, 0.0}, y2[2] = {1.0, 0.0};
    pi_ode_stats st = {1, 1, 1};
    assert_int_equal(pi_ode_solve(rotation, &p1, 2, 0.0, 5.0, y1, &o, work, &st), PI_OK);
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 2, &ev), PI_OK);
    pi_ode_system sys = {rotation, 2, &p2};
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 5.0, y2), PI_OK);
    assert_memory_equal(y1, y2, sizeof y1);
    /* stats are incremented, not reset */
    assert_int_equal(st.accepted, 1 + ev->stats.accepted);
    assert_int_equal(st.rejected, 1 + ev->stats.rejected);
    assert_int_equal(st.rhs_evals, 1 + ev->stats.rhs_evals);
    /* a given initial step skips the starting-step probe */
    problem p3 = fresh();
    sys.ctx = &p3;
    o.h0 = 0.1;
    double y3[2] = {1.0, 0.0};
    pi_ode_evolve_reset(ev);
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 5.0, y3), PI_OK);
    assert_int_equal(ev->stats.rhs_evals, 1 + 6 * (ev->stats.accepted + ev->stats.rejected));
    assert_true(fabs(y3[0] - cos(5.0)) < 1e-5 && fabs(y3[1] - sin(5.0)) < 1e-5);
    pi_ode_evolve_free(ev);
}

static void test_output_times(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 2, &ev), PI_OK);
    problem pr = fresh();
    pi_ode_system sys = {rotation, 2, &pr};
    pi_ode_options o = {1e-9, 1e-12, 100000, 0.0};
    double times[7] = {0.01, 0.5, 1.0, 1.0 + 1e-9, 2.5, 4.0, 6.0};
    double ys[14], y[2] = {1.0, 0.0};
    assert_int_equal(pi_ode_evolve_outputs(ev, &sys, &o, 0.0, 7, times, y, ys), PI_OK);
    for (int j = 0; j < 7; j++) {
        assert_true(fabs(ys[2 * j] - cos(times[j])) < 1e-7);
        assert_true(fabs(ys[2 * j + 1] - sin(times[j])) < 1e-7);
    }
    assert_memory_equal(y, ys + 12, sizeof y);
    /* The outputs do not restart the controller: about as many steps as one solve to 6. */
    size_t with_outputs = ev->stats.accepted;
    pi_ode_evolve_reset(ev);
    double z[2] = {1.0, 0.0};
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 6.0, z), PI_OK);
    print_message("outputs: %zu accepted steps, plain solve: %zu\n", with_outputs,
                  ev->stats.accepted);
    assert_true(with_outputs <= ev->stats.accepted + 7);
    /* The step budget is for the whole solve. */
    o.max_steps = ev->stats.accepted / 2;
    double w[2] = {1.0, 0.0};
    assert_int_equal(pi_ode_evolve_outputs(ev, &sys, &o, 0.0, 7, times, w, ys), PI_ENOCONVERGE);
    /* not monotone */
    double bad[3] = {1.0, 0.5, 2.0};
    o.max_steps = 1000;
    assert_int_equal(pi_ode_evolve_outputs(ev, &sys, &o, 0.0, 3, bad, w, ys), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "monotone"));
    pi_ode_evolve_free(ev);
}

/* ---- error paths ------------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 0, &ev), PI_EINVAL);
    assert_null(ev);
    assert_int_equal(pi_ode_evolve_alloc(NULL, 2, &ev), PI_EINVAL);
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 2, &ev), PI_OK);
    problem pr = fresh();
    pi_ode_system sys = {decay, 1, &pr};
    double y[1] = {1.0};
    const double bad[6][2] = {{0.0, 1e-8}, {1.0, 1e-8}, {-1e-6, 1e-8},
                              {NAN, 1e-8}, {1e-6, 0.0}, {1e-6, INFINITY}};
    for (int k = 0; k < 6; k++) {
        pi_ode_options o = {bad[k][0], bad[k][1], 100, 0.0};
        assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
        assert_non_null(strstr(pi_last_error(), "tolerances"));
    }
    assert_int_equal(pr.calls, 0);
    pi_ode_options o = {1e-6, 1e-8, 100, 0.0};
    o.max_steps = 0;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
    o.max_steps = 100;
    o.h0 = -1.0;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
    o.h0 = 0.0;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, NAN, y), PI_EINVAL);
    sys.dim = 3; /* over capacity */
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "capacity"));
    sys.dim = 1;
    sys.rhs = NULL;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
    pi_ode_evolve_free(ev);
    /* RK4 has no error estimate: no adaptive solve */
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_rk4, 1, &ev), PI_OK);
    sys.rhs = decay;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "embedded"));
    assert_int_equal(pi_ode_evolve_fixed(ev, &sys, 0.0, 1.0, 0, y), PI_EINVAL);
    double yerr[1] = {42.0};
    assert_int_equal(pi_ode_step_apply(ev, &sys, 0.0, 0.1, y, yerr, NULL, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "error estimate"));
    assert_true(yerr[0] == 42.0 && y[0] == 1.0);
    pi_ode_evolve_free(ev);
    pi_ode_evolve_free(NULL);
    /* An empty interval still checks its arguments. */
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 1, &ev), PI_OK);
    pi_ode_options bad_o = {0.0, 1e-8, 100, 0.0};
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &bad_o, 0.5, 0.5, y), PI_EINVAL);
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, NULL, 0.5, 0.5, y), PI_EINVAL);
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.5, 0.5, y), PI_OK);
    assert_true(y[0] == 1.0);
    pi_ode_evolve_free(ev);
    /* t0 == t1: nothing to do, nothing called */
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 1, &ev), PI_OK);
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 1.0, 1.0, y), PI_OK);
    assert_true(y[0] == 1.0);
    assert_int_equal(pr.calls, 0);
    pi_ode_evolve_free(ev);
}

static void test_rhs_failure_passes_through(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 1, &ev), PI_OK);
    pi_ode_options o = {1e-8, 1e-10, 1000, 0.0};
    for (int at = 1; at <= 20; at += 3) {
        problem pr = fresh();
        pr.fail_after = at;
        pi_ode_system sys = {decay, 1, &pr};
        double y[1] = {1.0};
        assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_ECALLBACK);
        assert_non_null(strstr(pi_last_error(), "refuses call"));
        assert_int_equal(pr.calls, (size_t)at);
        /* y is the last accepted state: finite, on the exact curve */
        assert_true(isfinite(y[0]) && y[0] <= 1.0 && y[0] > exp(-1.0) - 1e-6);
    }
    /* the same through fixed steps */
    pi_ode_evolve_free(ev);
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_rk4, 1, &ev), PI_OK);
    problem pr = fresh();
    pr.fail_after = 7;
    pi_ode_system sys = {decay, 1, &pr};
    double y[1] = {1.0};
    assert_int_equal(pi_ode_evolve_fixed(ev, &sys, 0.0, 1.0, 10, y), PI_ECALLBACK);
    assert_non_null(strstr(pi_last_error(), "refuses call 7"));
    pi_ode_evolve_free(ev);
}

static void test_nonfinite_state(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 1, &ev), PI_OK);
    pi_ode_options o = {1e-6, 1e-8, 100000, 0.0};
    /* The derivative turns NaN past t = 0.5: every step across is rejected down to
     * underflow, which is reported as non-finite, not as a convergence failure. */
    problem pr = fresh();
    pr.nan_after = 0.5;
    pi_ode_system sys = {decay, 1, &pr};
    double y[1] = {1.0};
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "not finite"));
    assert_true(fabs(y[0] - exp(-0.5)) < 1e-5); /* stopped at the last good state, t ≈ 0.5 */
    /* NaN from the start */
    problem p0 = fresh();
    p0.nan_after = -1.0;
    sys.ctx = &p0;
    y[0] = 1.0;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_ENUMERIC);
    /* a non-finite initial state */
    problem p1 = fresh();
    sys.ctx = &p1;
    y[0] = INFINITY;
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 1.0, y), PI_ENUMERIC);
    pi_ode_evolve_free(ev);
    /* fixed steps */
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_rk4, 1, &ev), PI_OK);
    problem p2 = fresh();
    p2.nan_after = 0.5;
    sys.ctx = &p2;
    y[0] = 1.0;
    assert_int_equal(pi_ode_evolve_fixed(ev, &sys, 0.0, 1.0, 10, y), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "not finite"));
    pi_ode_evolve_free(ev);
}

/* y' = y², y(0) = 1 blows up at t = 1; asked to reach t = 2 it must stop, never pass 1. */
static pi_status blowup(double t, const double *y, double *dydt, void *p)
{
    (void)t;
    (void)p;
    dydt[0] = y[0] * y[0];
    return PI_OK;
}

static void test_step_limits(void **state)
{
    (void)state;
    pi_ode_evolve *ev = NULL;
    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 2, &ev), PI_OK);
    problem pr = fresh();
    pi_ode_system sys = {rotation, 2, &pr};
    pi_ode_options o = {1e-10, 1e-12, 5, 0.0};
    double y[2] = {1.0, 0.0};
    assert_int_equal(pi_ode_evolve_solve(ev, &sys, &o, 0.0, 100.0, y), PI_ENOCONVERGE);
    assert_non_null(strstr(pi_last_error(), "max_steps"));
    assert_int_equal(ev->stats.accepted + ev->stats.rejected, 5);
    pi_ode_evolve_free(ev);

    assert_int_equal(pi_ode_evolve_alloc(pi_ode_dopri5, 1, &ev), PI_OK);
    sys.rhs = blowup;
    sys.dim = 1;
    o.max_steps = 1000000;
    double z[1] = {1.0};
    pi_status st = pi_ode_evolve_solve(ev, &sys, &o, 0.0, 2.0, z);
    print_message("blow-up: status %d (%s), y = %g after %zu steps\n", st, pi_last_error(), z[0],
                  ev->stats.accepted + ev->stats.rejected);
    assert_true(st == PI_ENOCONVERGE || st == PI_ENUMERIC);
    assert_true(z[0] >= 1.0);
    pi_ode_evolve_free(ev);
}

/* The pieces the sampler uses without the evolve loop add up to the loop's own norm. */
static void test_error_norm_by_rows(void **state)
{
    (void)state;
    const struct pi_ode_stepper_type *dp = pi_ode_dopri5;
    enum { ROWS = 3, DIM = 4, N = ROWS * DIM };
    double y[N], ynew[N], kbuf[7][N];
    const double *k[7];
    for (int j = 0; j < 7; j++) {
        for (int i = 0; i < N; i++)
            kbuf[j][i] = sin(1.0 + i + 7.0 * j);
        k[j] = kbuf[j];
    }
    for (int i = 0; i < N; i++) {
        y[i] = cos((double)i);
        ynew[i] = y[i] + 0.01 * i;
    }
    double whole = pi_ode_error_sumsq(dp, N, 0.1, y, ynew, k, 1e-3, 1e-6);
    double rows = 0.0;
    for (int r = 0; r < ROWS; r++) {
        const double *kr[7];
        for (int j = 0; j < 7; j++)
            kr[j] = k[j] + r * DIM;
        rows += pi_ode_error_sumsq(dp, DIM, 0.1, y + r * DIM, ynew + r * DIM, kr, 1e-3, 1e-6);
    }
    assert_true(fabs(whole - rows) <= 1e-12 * whole);
    /* by hand for element 5 */
    double e = 0.0;
    for (int j = 0; j < 7; j++)
        e += dp->tableau->e[j] * kbuf[j][5];
    e *= 0.1;
    double sc = 1e-6 + 1e-3 * fmax(fabs(y[5]), fabs(ynew[5]));
    double one = pi_ode_error_sumsq(dp, 1, 0.1, y + 5, ynew + 5,
                                    (const double *const[]){k[0] + 5, k[1] + 5, k[2] + 5, k[3] + 5,
                                                            k[4] + 5, k[5] + 5, k[6] + 5},
                                    1e-3, 1e-6);
    assert_true(fabs(one - (e / sc) * (e / sc)) <= 1e-14 * one);
    assert_true(pi_ode_error_norm(4.0 * N, N) == 2.0);

    /* Controller: accepts err <= 1, grows at most 10×, never right after a rejection. */
    pi_ode_control ctl;
    assert_int_equal(pi_ode_control_init(&ctl, dp, 1e-6, 1e-8, 100, 1.0, 0.0, 0.01), PI_OK);
    double h, t_next;
    int final, accept;
    assert_int_equal(pi_ode_control_next(&ctl, &h, &t_next, &final), PI_OK);
    assert_true(h == -0.01 && t_next == 1.0 - 0.01 && !final);
    pi_ode_control_judge(&ctl, 1e-12, t_next, &accept);
    assert_true(accept && ctl.h == 0.1 && ctl.t == t_next);
    pi_ode_control_judge(&ctl, 4.0, t_next, &accept); /* reject */
    assert_true(!accept && ctl.rejected == 1 && ctl.h < 0.1);
    double h_rej = ctl.h;
    pi_ode_control_judge(&ctl, 1e-12, t_next, &accept); /* no growth after a rejection */
    assert_true(accept && ctl.h == h_rej);
    pi_ode_control_judge(&ctl, NAN, t_next, &accept);
    assert_true(!accept && ctl.h == PI_ODE_FAC_MIN * h_rej && ctl.last_nonfinite);
    ctl.h = 10.0; /* the last step lands exactly on t1 */
    assert_int_equal(pi_ode_control_next(&ctl, &h, &t_next, &final), PI_OK);
    assert_true(final && t_next == 0.0);
    assert_int_equal(pi_ode_control_init(&ctl, pi_ode_rk4, 1e-6, 1e-8, 100, 1.0, 0.0, 0.01),
                     PI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tableaus),
        cmocka_unit_test(test_convergence_order),
        cmocka_unit_test(test_embedded_estimate),
        cmocka_unit_test(test_adaptive_accuracy),
        cmocka_unit_test(test_one_shot_matches_evolve),
        cmocka_unit_test(test_output_times),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_rhs_failure_passes_through),
        cmocka_unit_test(test_nonfinite_state),
        cmocka_unit_test(test_step_limits),
        cmocka_unit_test(test_error_norm_by_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
