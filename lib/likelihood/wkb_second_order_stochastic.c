/* The second WKB coefficient c2 in O(d) memory (docs/likelihood.md, "Second order,
 * stochastic"): the exact route of wkb_second_order.c with its 2d + 1 nested dense sweeps
 * replaced by three stochastic sweeps (wkb_stochastic.c).
 *
 * As in wkb_second_order.c, along the order-0 path from t_min to T
 *   c2 = ℓ2(x0, t_min) = −∫ (g²/2) [ (s − 2u)·∇ℓ1 − Δℓ1 ] dt,   u = ∇ℓ0,
 * where ℓ1(y, t) is the c of a sweep started at (y, t). Here one "replicate" draws, once for
 * the whole outer solve, a Rademacher direction ξ and two inner probe sets p = 0, 1 of the
 * stochastic sweep (z, ζ_A, ζ_B each). With these fixed (common random numbers), the sweep's
 * estimate ℓ1_p(y, t) of ℓ1 (its c_k) and u_p(y, t) of u (its (u_A + u_B)/2) are smooth in
 * (y, t) with E ℓ1_p = ℓ1, E u_p = u. At each outer evaluation three copies, started at y and
 * y ± η ξ (η = h/√d, so the displacement has length h), are integrated as one system forward
 * to T (order 0) and back (the sweep, two probes each), sharing one step sequence, and
 *   D_p = (ℓ1_p(y + ηξ) − ℓ1_p(y − ηξ)) / (2η)          → ξ·∇ℓ1 (E over p's probes)
 *   L   = ½ Σ_p (ℓ1_p(y + ηξ) − 2 ℓ1_p(y) + ℓ1_p(y − ηξ)) / η²   → ξᵀ∇∇ℓ1 ξ
 *   (s − 2u)·∇ℓ1  →  ½ [ ξ·(s − 2u_1) D_0 + ξ·(s − 2u_0) D_1 ]
 * E_ξ[ξξᵀ] = I makes E_ξ[(ξ·a)(ξ·g)] = a·g and E_ξ[ξᵀMξ] = tr M; the u of one probe set
 * multiplies the difference of the other, so no product of two estimates shares noise (the
 * trick of the c1 sweep's u_A, u_B). The integrand is therefore unbiased up to the central
 * differences' O(h²), and smooth in t for a fixed replicate, so the adaptive outer solve of
 * the exact route applies unchanged; c2 is the mean over K independent replicates (the
 * handle's probes) and its standard error std/√K is honest because the replicates are i.i.d.
 * (each has its own outer step sequence). Memory: 3 × (11 d + 2) states and their solver
 * stages; cost per outer evaluation: three order-0 solves and three two-probe sweeps.
 * Models without directional products use the stochastic sweep's dense path (exact u, ∇·s;
 * probed trace), hence its dimension limit. */
#include "likelihood_impl.h"

#include "core/philox.h"

#include <math.h>
#include <string.h>

/* Philox steps of the c2 noise (stream PI_STREAM_PROBE): above the c1 probes' 0x40000000 +
 * 3 K (K <= 4096); replicate r uses 8 r + q, q = 0..5 the inner probes, 6 ξ. */
#define PI_C2_PROBE_STEP0 0x50000000u
#define INNER_PROBES 2
#define COPIES 3

struct pi_wkb2s_ws {
    size_t d, width;            /* width: one copy's sweep state, d + 2 (5 d + 1) */
    pi_wkb_stoch_ws *stoch;     /* two inner probes */
    pi_ode_evolve *outer, *inner;
    double *outer_state;        /* d + 1 */
    double *fwd;                /* COPIES × d */
    double *bwd;                /* COPIES × width */
    double *s, *score, *xi, *est; /* d, d, d, replicates */
};

void pi_wkb2s_ws_destroy(pi_wkb2s_ws *ws)
{
    if (ws == NULL)
        return;
    pi_wkb_stochastic_ws_destroy(ws->stoch);
    pi_ode_evolve_free(ws->outer);
    pi_ode_evolve_free(ws->inner);
    pi_free(ws->outer_state);
    pi_free(ws->fwd);
    pi_free(ws->bwd);
    pi_free(ws->s);
    pi_free(ws->est);
    pi_free(ws);
}

pi_status pi_wkb2s_ws_create(const pi_model_t *model, pi_wkb2s_ws **out)
{
    size_t d = model->dim;
    pi_wkb2s_ws *ws = pi_calloc(1, sizeof *ws);
    if (ws == NULL)
        return pi_fail(PI_ENOMEM, "out of memory for the stochastic second-order workspace");
    ws->d = d;
    ws->width = pi_wkb_stochastic_state(d, INNER_PROBES);
    pi_status st = pi_wkb_stochastic_ws_create(model, INNER_PROBES, &ws->stoch);
    int ok = st == PI_OK;
    ok &= pi_ode_evolve_alloc(pi_ode_dopri5, d + 1, &ws->outer) == PI_OK;
    ok &= pi_ode_evolve_alloc(pi_ode_dopri5, COPIES * ws->width, &ws->inner) == PI_OK;
    ok &= (ws->outer_state = pi_alloc_array(d + 1, sizeof(double))) != NULL;
    ok &= (ws->fwd = pi_alloc_array(COPIES * d, sizeof(double))) != NULL;
    ok &= (ws->bwd = pi_alloc_array(COPIES * ws->width, sizeof(double))) != NULL;
    ok &= (ws->s = pi_alloc_array(3 * d, sizeof(double))) != NULL;
    ok &= (ws->est = pi_alloc_array(4096, sizeof(double))) != NULL;
    if (!ok) {
        pi_wkb2s_ws_destroy(ws);
        return pi_fail(PI_ENOMEM, "out of memory for the stochastic second-order workspace "
                       "(dim %zu)", d);
    }
    ws->score = ws->s + d;
    ws->xi = ws->score + d;
    *out = ws;
    return PI_OK;
}

typedef struct wkb2s_ctx {
    const pi_model_t *model;
    const pi_lik_options *o;
    pi_wkb2s_ws *ws;
    pi_wkb_stoch_ctx sweep;
    double eta; /* displacement per coordinate, h/√d */
    size_t nfe;
} wkb2s_ctx;

/* The three copies of the probability-flow ODE, ẋ = f x − ½ g² s. */
static pi_status copies_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2s_ctx *c = p;
    return pi_pf_copies_rhs(c->model, COPIES, t, y, dydt, c->ws->s, &c->nfe);
}

/* The three stochastic sweeps, one after the other. */
static pi_status sweeps_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2s_ctx *c = p;
    size_t w = c->ws->width;
    for (size_t j = 0; j < COPIES; j++) {
        pi_status st = pi_wkb_stochastic_rhs(t, y + j * w, dydt + j * w, &c->sweep);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

/* Outer state (x[d], c): ẋ = f_PF, ċ = −(g²/2) [ (s − 2u)·∇ℓ1 − Δℓ1 ] (estimated). */
static pi_status outer_rhs(double t, const double *y, double *dydt, void *p)
{
    wkb2s_ctx *c = p;
    pi_wkb2s_ws *ws = c->ws;
    const pi_model_t *m = c->model;
    size_t d = ws->d, w = ws->width;
    double eta = c->eta, T = m->sde.t_max;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&m->sde, t, &sp);
    if (st != PI_OK)
        return st;
    c->nfe++;
    if ((st = pi_model_score_d(m, y, t, ws->score)) != PI_OK)
        return st;
    /* copies y, y + ηξ, y − ηξ: forward to T, then the sweeps back to t */
    for (size_t i = 0; i < d; i++) {
        ws->fwd[i] = y[i];
        ws->fwd[d + i] = y[i] + eta * ws->xi[i];
        ws->fwd[2 * d + i] = y[i] - eta * ws->xi[i];
    }
    /* The handle's tolerances, not the nested exact c2's tighter inner ones: the three copies
     * share one step sequence, so their differences are smooth in η and the solver error in
     * them is far below the replicates' spread (docs/likelihood.md). */
    pi_ode_options so = {c->o->rtol, c->o->atol, c->o->max_steps, 0.0};
    pi_ode_system fsys = {copies_rhs, COPIES * d, c};
    pi_ode_evolve_reset(ws->inner);
    if ((st = pi_ode_evolve_solve(ws->inner, &fsys, &so, t, T, ws->fwd)) != PI_OK)
        return st;
    for (size_t j = 0; j < COPIES; j++)
        pi_wkb_stochastic_init(m, ws->stoch, ws->fwd + j * d, ws->bwd + j * w);
    pi_ode_system bsys = {sweeps_rhs, COPIES * w, c};
    pi_ode_evolve_reset(ws->inner);
    if ((st = pi_ode_evolve_solve(ws->inner, &bsys, &so, T, t, ws->bwd)) != PI_OK)
        return st;
    /* probe q of copy j: δ, w, v, u_A, u_B (d each), then its ℓ1 estimate */
    double ell[COPIES][INNER_PROBES], a[INNER_PROBES];
    for (size_t q = 0; q < INNER_PROBES; q++) {
        for (size_t j = 0; j < COPIES; j++)
            ell[j][q] = ws->bwd[j * w + d + q * (5 * d + 1) + 5 * d];
        const double *uA = ws->bwd + d + q * (5 * d + 1) + 3 * d, *uB = uA + d;
        double acc = 0.0;
        for (size_t i = 0; i < d; i++)
            acc += ws->xi[i] * (ws->score[i] - (uA[i] + uB[i]));
        a[q] = acc; /* ξ·(s − 2 u_p), u_p = (u_A + u_B)/2 */
    }
    double D0 = (ell[1][0] - ell[2][0]) / (2.0 * eta), D1 = (ell[1][1] - ell[2][1]) / (2.0 * eta);
    double lap = 0.0;
    for (size_t q = 0; q < INNER_PROBES; q++)
        lap += 0.5 * (ell[1][q] - 2.0 * ell[0][q] + ell[2][q]) / (eta * eta);
    double dot = 0.5 * (a[1] * D0 + a[0] * D1);
    double hg = 0.5 * sp.g2;
    for (size_t i = 0; i < d; i++)
        dydt[i] = sp.f * y[i] - hg * ws->score[i];
    dydt[d] = -hg * (dot - lap);
    return PI_OK;
}

pi_status pi_wkb2s_point(const pi_model_t *model, const pi_lik_options *o, pi_wkb2s_ws *ws,
                         uint64_t point_index, const double *x0, double *c2, double *c2_stderr,
                         pi_nll_point_stats *stats)
{
    size_t d = model->dim, R = o->c1_probes;
    if (R > 4096)
        return pi_fail(PI_EINVAL, "stochastic c2: at most 4096 replicates, got %zu", R);
    wkb2s_ctx c = {model, o, ws, {model, ws->stoch, 0}, o->ref_fd_step / sqrt((double)d), 0};
    double *probes = pi_wkb_stochastic_probes(ws->stoch);
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {outer_rhs, d + 1, &c};
    pi_status st = PI_OK;
    for (size_t r = 0; r < R && st == PI_OK; r++) {
        uint32_t step0 = PI_C2_PROBE_STEP0 + 8u * (uint32_t)r;
        for (uint32_t q = 0; q < 3 * INNER_PROBES; q++) {
            double *z = probes + q * d;
            pi_rng_uniform_d(o->seed, PI_STREAM_PROBE, point_index, step0 + q, d, z);
            for (size_t j = 0; j < d; j++)
                z[j] = z[j] <= 0.5 ? -1.0 : 1.0;
        }
        pi_rng_uniform_d(o->seed, PI_STREAM_PROBE, point_index, step0 + 6, d, ws->xi);
        for (size_t j = 0; j < d; j++)
            ws->xi[j] = ws->xi[j] <= 0.5 ? -1.0 : 1.0;
        double *y = ws->outer_state;
        memcpy(y, x0, d * sizeof *y);
        y[d] = 0.0;
        pi_ode_evolve_reset(ws->outer);
        st = pi_ode_evolve_solve(ws->outer, &sys, &so, model->sde.t_min, model->sde.t_max, y);
        if (st == PI_OK && !isfinite(y[d]))
            st = pi_fail(PI_ENUMERIC, "stochastic c2: non-finite estimate (replicate %zu)", r);
        ws->est[r] = y[d];
    }
    if (stats != NULL)
        stats->nfe_c2 += c.nfe + c.sweep.nfe;
    if (st != PI_OK)
        return st;
    double mean = 0.0, ss = 0.0;
    for (size_t r = 0; r < R; r++)
        mean += ws->est[r];
    mean /= (double)R;
    for (size_t r = 0; r < R; r++)
        ss += (ws->est[r] - mean) * (ws->est[r] - mean);
    *c2 = mean;
    *c2_stderr = R > 1 ? sqrt(ss / ((double)R - 1.0) / (double)R) : NAN;
    return PI_OK;
}
