/* The one ODE core (modelled on GSL ode-initval2's split): a table of explicit Runge–Kutta
 * stepper types (stepper.c), a step-size controller with the error norm (control.c), and an
 * evolve loop over a workspace allocated once (evolve.c). State and time are double.
 *
 * Users: the likelihood (per-point systems through pi_ode_evolve / pi_ode_solve), the custom
 * SDE tables (classical RK4 through pi_ode_step_apply) and the sampler's adaptive method,
 * which owns its batch and threads and therefore uses the tableau (pi_ode_stage_input), the
 * error norm (pi_ode_error_sumsq + pi_ode_error_norm) and the controller (pi_ode_control_*)
 * without the evolve loop.
 *
 * Only core/ is included: this module sits below every other one (ARCHITECTURE.md). */
#ifndef PI_ODE_H
#define PI_ODE_H

#include "core/core.h"

/* ---- stepper types (stepper.c) ----------------------------------------------------------- */

/* Most stages of any stepper in the table (sizes the workspace). */
#define PI_ODE_MAX_STAGES 7

/* Butcher tableau of an explicit method with s stages: a is s × s row-major (strictly lower
 * triangular), c the stage times, b the weights of the solution kept, e = b − b̂ the weights
 * of the error estimate (NULL without an embedded method). */
typedef struct pi_ode_tableau {
    int stages;
    const double *a, *b, *c, *e;
} pi_ode_tableau;

/* A stepper: a const vtable per method (STYLE.md #1, #20). */
struct pi_ode_stepper_type {
    const char *name;
    int order;          /* order of the solution kept (local extrapolation for DP) */
    int error_order;    /* order of the embedded solution b̂; 0 without one */
    int embedded;       /* 1 if e is present (adaptive stepping possible) */
    int fsal;           /* 1 if the last stage is F(t + h, y_new) (first same as last): a = b in
                         * the last row and c = 1, so an accepted step's last stage is the next
                         * step's first */
    const pi_ode_tableau *tableau;
};

/* Dormand–Prince 5(4), FSAL, 7 stages (Hairer, Nørsett & Wanner, Table II.5.2). */
extern const struct pi_ode_stepper_type *const pi_ode_dopri5;
/* Classical Runge–Kutta, order 4, 4 stages, no error estimate. */
extern const struct pi_ode_stepper_type *const pi_ode_rk4;

/* Time of stage i of a step from t of size h whose end is t_next: the stages with c = 1 sit
 * exactly on t_next (so the last step lands on t1 even where t + h rounds past it). */
double pi_ode_stage_time(const struct pi_ode_stepper_type *type, int i, double t, double h,
                         double t_next);

/* Input of stage i (1 <= i < stages) on n elements: out = y + h Σ_{j<i} a_ij k_j
 * (zero coefficients are skipped, so an unused non-finite stage does not leak in). */
void pi_ode_stage_input(const struct pi_ode_stepper_type *type, int i, size_t n, double h,
                        const double *y, const double *const *k, double *out);

/* The solution kept: out = y + h Σ b_j k_j over the first `stages` stages (for an FSAL type
 * this equals the last stage's input). */
void pi_ode_solution(const struct pi_ode_stepper_type *type, size_t n, double h, const double *y,
                     const double *const *k, double *out);

/* ---- error norm and step-size control (control.c) ---------------------------------------- */

/* Σ_i (err_i / (atol + rtol max(|y_i|, |y_new_i|)))² over n elements, err = h Σ e_j k_j, the
 * mixed absolute/relative error measure of Hairer II.4. The RMS norm of a state of N
 * elements is pi_ode_error_norm(sum over all of them, N); summing per row lets a batched
 * user reduce rows in a fixed order. Requires an embedded type. */
double pi_ode_error_sumsq(const struct pi_ode_stepper_type *type, size_t n, double h,
                          const double *y, const double *y_new, const double *const *k,
                          double rtol, double atol);
double pi_ode_error_norm(double sumsq, size_t count);

/* Validate tolerances: 0 < rtol < 1 and 0 < atol < inf (PI_EINVAL naming `who`). */
pi_status pi_ode_check_tolerances(double rtol, double atol, const char *who);

/* The controller: the elementary ("I") controller of Hairer, Nørsett & Wanner II.4,
 *     h_new = h · clamp(0.9 err^(−1/(q+1)), 0.2, 10),  q = min(order, error order),
 * with no growth right after a rejection, and a rejection with h · 0.2 when the error is not
 * finite. It drives the step from t toward t1 (either direction; h is a magnitude), stretches
 * a step by up to 1 % to land on t1, counts attempts, and fails with PI_ENOCONVERGE on
 * max_steps or step-size underflow (PI_ENUMERIC if the last attempts were non-finite). */
typedef struct pi_ode_control {
    const struct pi_ode_stepper_type *type;
    double rtol, atol;
    size_t max_steps;
    double t, t1;         /* current time and the end */
    double h;             /* magnitude of the next step */
    double h_wanted;      /* h before the last attempt was cut to land on t1 */
    int shortened;        /* the last attempt was cut short to land on t1 */
    double exponent;      /* 1 / (q + 1) */
    int last_rejected;    /* no growth right after a rejection */
    int last_nonfinite;   /* the last rejection was for a non-finite error */
    size_t accepted, rejected;
} pi_ode_control;

#define PI_ODE_SAFETY 0.9
#define PI_ODE_FAC_MIN 0.2
#define PI_ODE_FAC_MAX 10.0

/* Start a controlled integration from t0 to t1 with initial step magnitude h0 (> 0). */
pi_status pi_ode_control_init(pi_ode_control *ctl, const struct pi_ode_stepper_type *type,
                              double rtol, double atol, size_t max_steps, double t0, double t1,
                              double h0);

/* The next attempt: *h_signed (t1 − t direction), *t_next (exactly t1 on the final step) and
 * *final. Fails (with a message) on max_steps or step-size underflow. Call only while
 * ctl->t != t1. */
pi_status pi_ode_control_next(pi_ode_control *ctl, double *h_signed, double *t_next, int *final);

/* Judge an attempt with error norm err (non-finite allowed: reject); on acceptance t moves to
 * t_next. Sets *accept and picks the next step size. */
void pi_ode_control_judge(pi_ode_control *ctl, double err, double t_next, int *accept);

/* Hairer's starting step (II.4, one extra right-hand side evaluation, done by the caller):
 * from d0 = ‖y‖, d1 = ‖F(t0, y)‖ first guess h0 = pi_ode_initial_guess(d0, d1, span); then,
 * with d2 = ‖F(t0 + h0, y + h0 F) − F(t0, y)‖ / h0, the step pi_ode_initial_step(...).
 * Norms are weighted RMS norms with weights atol + rtol |y| (pi_ode_weighted_norm). */
double pi_ode_weighted_norm(size_t n, const double *v, const double *y, double rtol, double atol);
double pi_ode_initial_guess(double d0, double d1, double span);
double pi_ode_initial_step(const struct pi_ode_stepper_type *type, double h0, double d1,
                           double d2, double span);

/* ---- systems and the evolve loop (evolve.c) ---------------------------------------------- */

/* Right-hand side dy/dt = F(t, y). A status other than PI_OK stops the integration and is
 * returned as it is (the callback writes its own message). */
typedef pi_status (*pi_ode_rhs_fn)(double t, const double *y, double *dydt, void *ctx);

typedef struct pi_ode_system {
    pi_ode_rhs_fn rhs;
    size_t dim;
    void *ctx;
} pi_ode_system;

typedef struct pi_ode_options {
    double rtol;      /* relative tolerance, in (0, 1) */
    double atol;      /* absolute tolerance, in (0, inf) */
    size_t max_steps; /* accepted + rejected steps before PI_ENOCONVERGE, >= 1 */
    double h0;        /* initial step magnitude; 0 = automatic (Hairer's starting step) */
} pi_ode_options;

typedef struct pi_ode_stats {
    size_t accepted;  /* accepted steps */
    size_t rejected;  /* rejected steps */
    size_t rhs_evals; /* calls of the right-hand side */
} pi_ode_stats;

/* Doubles of workspace for a state of n components, any stepper of the table (the macro for
 * arrays of constant size). */
#define PI_ODE_WORK_DOUBLES(n) ((PI_ODE_MAX_STAGES + 2) * (n))
size_t pi_ode_workspace_doubles(size_t n);

/* The evolve object: a stepper type and a workspace for states of up to `capacity`
 * components; nothing is allocated after pi_ode_evolve_alloc / _init. */
typedef struct pi_ode_evolve {
    const struct pi_ode_stepper_type *type;
    size_t capacity;
    double *k[PI_ODE_MAX_STAGES];
    double *ytmp, *ynew;
    int owned;        /* made by pi_ode_evolve_alloc (one block with the vectors) */
    pi_ode_stats stats; /* since the last pi_ode_evolve_reset (or alloc) */
} pi_ode_evolve;

/* Heap workspace for states of up to capacity components (PI_EINVAL, PI_ENOMEM), one
 * allocation. Freed with pi_ode_evolve_free (NULL and pi_ode_evolve_init objects allowed:
 * nothing to free). */
pi_status pi_ode_evolve_alloc(const struct pi_ode_stepper_type *type, size_t capacity,
                              pi_ode_evolve **out);
void pi_ode_evolve_free(pi_ode_evolve *ev);
/* The same on caller memory: work holds pi_ode_workspace_doubles(capacity) doubles and must
 * outlive ev. */
void pi_ode_evolve_init(pi_ode_evolve *ev, const struct pi_ode_stepper_type *type,
                        size_t capacity, double *work);
/* Zero the counters. */
void pi_ode_evolve_reset(pi_ode_evolve *ev);

/* Adaptive integration of y (sys->dim <= capacity components, in/out) from t0 to t1 (t1 < t0
 * is allowed: backward); embedded types only. On success y = y(t1). Failures: PI_EINVAL (bad
 * options or system), PI_ENOCONVERGE (max_steps or step-size underflow), PI_ENUMERIC (the
 * state or its derivative became non-finite and no step size cures it) or the status of the
 * right-hand side; on failure y holds the last accepted state. Counters: ev->stats. */
pi_status pi_ode_evolve_solve(pi_ode_evolve *ev, const pi_ode_system *sys,
                              const pi_ode_options *options, double t0, double t1, double *y);

/* The same through output times: from t0 through times[0..ntimes) (strictly monotone, away
 * from t0), landing exactly on each and writing y there into ys (ntimes × dim, may alias
 * nothing else); y ends at times[ntimes − 1]. Step size and the FSAL stage carry over from one
 * output to the next (the outputs do not restart the controller). max_steps is for the whole
 * solve. If the segment to times[j] fails, rows 0..j−1 of ys are written and the others are
 * untouched; y holds the last accepted state. */
pi_status pi_ode_evolve_outputs(pi_ode_evolve *ev, const pi_ode_system *sys,
                                const pi_ode_options *options, double t0, size_t ntimes,
                                const double *times, double *y, double *ys);

/* Fixed steps: nsteps equal steps of any stepper from t0 to t1 (the last lands on t1).
 * PI_ENUMERIC on a non-finite state. */
pi_status pi_ode_evolve_fixed(pi_ode_evolve *ev, const pi_ode_system *sys, double t0, double t1,
                              size_t nsteps, double *y);

/* One step of size h from t (GSL's step_apply): y ← y(t + h); dydt_in = F(t, y) if known
 * (else NULL: evaluated), dydt_out (may be NULL) receives F(t + h, y_new) for FSAL types, and
 * yerr (may be NULL, embedded types only) the error estimate h Σ e_j k_j. Counts rhs calls in
 * ev->stats. PI_ENUMERIC if the new state is not finite. */
pi_status pi_ode_step_apply(pi_ode_evolve *ev, const pi_ode_system *sys, double t, double h,
                            double *y, double *yerr, const double *dydt_in, double *dydt_out);

/* One-shot Dormand–Prince 5(4) solve on caller memory (work: pi_ode_workspace_doubles(n)
 * doubles) — pi_ode_evolve_solve with pi_ode_dopri5. stats may be NULL; otherwise it is
 * incremented (not reset). */
pi_status pi_ode_solve(pi_ode_rhs_fn rhs, void *ctx, size_t n, double t0, double t1, double *y,
                       const pi_ode_options *options, double *work, pi_ode_stats *stats);

#endif
