/* Adaptive embedded Runge–Kutta solver (Dormand–Prince 5(4), FSAL) in double precision for
 * the likelihood ODEs (MATH.md §4). Generic state vector, forward or backward in time, no
 * allocation: the caller passes a workspace of pi_ode_workspace_doubles(n) doubles. */
#ifndef PI_ODE_SOLVER_H
#define PI_ODE_SOLVER_H

#include "core/core.h"

/* Right-hand side dy/dt = F(t, y). A nonzero status stops the solve and is returned. */
typedef pi_status (*pi_ode_rhs_fn)(double t, const double *y, double *dydt, void *ctx);

typedef struct pi_ode_options {
    double rtol;      /* relative tolerance, > 0 */
    double atol;      /* absolute tolerance, > 0 */
    size_t max_steps; /* accepted + rejected steps before PI_ENOCONVERGE */
    double h0;        /* initial step magnitude; 0 = automatic (Hairer's starting-step rule) */
} pi_ode_options;

typedef struct pi_ode_stats {
    size_t accepted;  /* accepted steps */
    size_t rejected;  /* rejected steps */
    size_t rhs_evals; /* calls of the right-hand side */
} pi_ode_stats;

/* Doubles of workspace for a state of n components. */
size_t pi_ode_workspace_doubles(size_t n);

/* Integrate y (n components, in/out) from t0 to t1 (t1 < t0 is allowed: backward). On
 * success y holds y(t1). Failures: PI_ENOCONVERGE (step size underflow or max_steps),
 * PI_ENUMERIC (the state or its derivative became non-finite and no step size cures it), or
 * the status of the right-hand side. On failure y holds the last accepted state. stats may be
 * NULL; otherwise it is incremented (not reset). */
pi_status pi_ode_solve(pi_ode_rhs_fn rhs, void *ctx, size_t n, double t0, double t1, double *y,
                       const pi_ode_options *options, double *work, pi_ode_stats *stats);

#endif
