/* The stepper table: Butcher tableaus of the explicit Runge–Kutta methods and the stage
 * arithmetic shared by every user (the evolve loop here, the sampler's batched RK45, the
 * custom-SDE tables). The Dormand–Prince coefficients exist here and nowhere else. */
#include "ode.h"

/* ---- Dormand–Prince 5(4) (Hairer, Nørsett & Wanner I, Table II.5.2) ---------------------- */

enum { DP_STAGES = 7 };

static const double dopri5_c[DP_STAGES] = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
/* Row 7 is the 5th-order solution (FSAL): b is that row. */
static const double dopri5_a[DP_STAGES * DP_STAGES] = {
    0, 0, 0, 0, 0, 0, 0,
    1.0 / 5, 0, 0, 0, 0, 0, 0,
    3.0 / 40, 9.0 / 40, 0, 0, 0, 0, 0,
    44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0, 0,
    19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0, 0,
    9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0, 0,
    35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0,
};
/* e = b − b̂: 5th-order minus embedded 4th-order weights. */
static const double dopri5_e[DP_STAGES] = {71.0 / 57600,      0,          -71.0 / 16695,
                                           71.0 / 1920,       -17253.0 / 339200,
                                           22.0 / 525,        -1.0 / 40};

static const pi_ode_tableau dopri5_tableau = {
    .stages = DP_STAGES,
    .a = dopri5_a,
    .b = dopri5_a + (DP_STAGES - 1) * DP_STAGES,
    .c = dopri5_c,
    .e = dopri5_e,
};

static const struct pi_ode_stepper_type dopri5_type = {
    .name = "dopri5",
    .order = 5,
    .error_order = 4,
    .embedded = 1,
    .fsal = 1,
    .tableau = &dopri5_tableau,
};

const struct pi_ode_stepper_type *const pi_ode_dopri5 = &dopri5_type;

/* ---- classical Runge–Kutta 4 --------------------------------------------------------------- */

enum { RK4_STAGES = 4 };

static const double rk4_c[RK4_STAGES] = {0.0, 0.5, 0.5, 1.0};
static const double rk4_a[RK4_STAGES * RK4_STAGES] = {
    0, 0, 0, 0,
    0.5, 0, 0, 0,
    0, 0.5, 0, 0,
    0, 0, 1.0, 0,
};
static const double rk4_b[RK4_STAGES] = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};

static const pi_ode_tableau rk4_tableau = {
    .stages = RK4_STAGES,
    .a = rk4_a,
    .b = rk4_b,
    .c = rk4_c,
    .e = NULL,
};

static const struct pi_ode_stepper_type rk4_type = {
    .name = "rk4",
    .order = 4,
    .error_order = 0,
    .embedded = 0,
    .fsal = 0,
    .tableau = &rk4_tableau,
};

const struct pi_ode_stepper_type *const pi_ode_rk4 = &rk4_type;

/* ---- stage arithmetic ------------------------------------------------------------------- */

double pi_ode_stage_time(const struct pi_ode_stepper_type *type, int i, double t, double h,
                         double t_next)
{
    double c = type->tableau->c[i];
    return c == 1.0 ? t_next : t + c * h;
}

/* out = y + h Σ w_j k_j over the nonzero weights w[0..m): the sum is formed first, then
 * scaled once; a single term is y + (h w) k. These are the roundings of the likelihood's
 * hand-written solver this replaced, so its NLL and c1 keep their bits. */
static void combine(size_t n, double h, const double *y, const double *w, int m,
                    const double *const *k, double *out)
{
    double wz[PI_ODE_MAX_STAGES];
    const double *kz[PI_ODE_MAX_STAGES];
    int nz = 0;
    for (int j = 0; j < m; j++) {
        if (w[j] != 0.0) {
            wz[nz] = w[j];
            kz[nz] = k[j];
            nz++;
        }
    }
    if (nz == 1) {
        const double hw = h * wz[0], *k0 = kz[0];
        for (size_t e = 0; e < n; e++)
            out[e] = y[e] + hw * k0[e];
        return;
    }
    for (size_t e = 0; e < n; e++) {
        double acc = 0.0;
        for (int j = 0; j < nz; j++)
            acc += wz[j] * kz[j][e];
        out[e] = y[e] + h * acc;
    }
}

void pi_ode_stage_input(const struct pi_ode_stepper_type *type, int i, size_t n, double h,
                        const double *y, const double *const *k, double *out)
{
    const pi_ode_tableau *tab = type->tableau;
    combine(n, h, y, tab->a + (size_t)i * (size_t)tab->stages, i, k, out);
}

void pi_ode_solution(const struct pi_ode_stepper_type *type, size_t n, double h, const double *y,
                     const double *const *k, double *out)
{
    const pi_ode_tableau *tab = type->tableau;
    combine(n, h, y, tab->b, tab->stages, k, out);
}
