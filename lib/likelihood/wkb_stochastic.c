/* c1 by the stochastic sweep: O(d) memory per probe (MATH.md §8, docs/likelihood.md).
 *
 * The exact sweep (wkb_sweep.c) carries H = ∇∇log q⁰_t (d × d) only for tr H in
 *   ċ = ½g² [ (s − u)·u + ∇·s − tr H ].
 * Here H is probed instead of carried. With A = ∇f_PF = f I − ½g² J (J = ∂s/∂x) and
 * S = ½g² [Σ_k u_k ∇∇s_k + ∇∇(∇·s)], each probe k integrates backward from T, next to x,
 *   δ̇ = A δ,   ẇ = −Aᵀ w,   v̇ = −Aᵀ v + S δ          (v = H δ along the flow)
 * from δ_T = w_T = z, v_T = H_T z (z Rademacher). Then d(wᵀδ)/dt = 0, δ = Φz, w = Φ⁻ᵀz, and
 * wᵀv = zᵀ Φ⁻¹ H Φ z, whose expectation over z is tr(Φ⁻¹HΦ) = tr H at every t.
 * (From Ḣ = −AᵀH − HA + S: v̇ = Ḣδ + Hδ̇ = −Aᵀv + Sδ.)
 *
 * The rest of ċ is probed too, with independent Rademacher vectors ζ_A, ζ_B per probe:
 *   u_A, u_B: two copies of u, u̇ = −Aᵀu + ½g² ∇(∇·s), driven by ∇ₓ(ζ_Aᵀ J ζ_A) and
 *             ∇ₓ(ζ_Bᵀ J ζ_B) respectively (unbiased for ∇(∇·s); u is linear in its forcing);
 *   (s − u)·u  →  (s − u_A)·u_B   (two independent factors: no bias from their product);
 *   ∇·s        →  ζ_Aᵀ J ζ_A;
 *   S δ        →  ½g² [ ∇ₓ(ūᵀ J δ) + ∇ₓ ∂_δ(ζ_Aᵀ J ζ_A) ],  ū = (u_A + u_B)/2
 * (S enters v linearly and w depends on z only, so E[wᵀv] is unchanged). Each probe's
 *   ċ_k = ½g² [ (s − u_A)·u_B + ζ_Aᵀ J ζ_A − wᵀ v ]
 * is then an unbiased estimate of ċ, the probes are independent, and c1 is their mean with
 * standard error std/√K. Models with directional products (the MLP: hyper-dual
 * forward-over-reverse, nn/mlp_directional.c) need only those: O(d) memory, cost
 * K × (2 forward + 6 reverse passes) per right-hand side. The other kinds (mixtures,
 * empirical denoiser: analytic dense derivatives) contract J, the Hessians, ∇(∇·s) and
 * ∇∇(∇·s) exactly (u_A = u_B = u, exact ∇·s) and probe only the trace.
 *
 * State: x (d), then per probe k: δ, w, v, u_A, u_B (d each) and c_k. One adaptive solve
 * covers all of them. Probes are a pure function of (seed, point, probe), so the results do
 * not depend on threads. */
#include "likelihood_impl.h"

#include "core/philox.h"

#include <string.h>

/* Philox steps of the c1 probes (stream PI_STREAM_PROBE): far above the order-0 probes'. */
#define PI_C1_PROBE_STEP0 0x40000000u

struct pi_wkb_stoch_ws {
    size_t d, K;
    int native;      /* the model has directional products */
    double *probes;  /* K × 3 × d: z, ζ_A, ζ_B */
    double *dir;     /* directional scratch */
    double *vec;     /* 32 × d */
    double *jac, *hd, *hess; /* dense path: J, ∇∇(∇·s) (d²), Hessians (d³) */
};

size_t pi_wkb_stochastic_state(size_t d, size_t K)
{
    return d + K * (5 * d + 1);
}

void pi_wkb_stochastic_ws_destroy(pi_wkb_stoch_ws *w)
{
    if (w == NULL)
        return;
    pi_free(w->probes);
    pi_free(w->dir);
    pi_free(w->vec);
    pi_free(w->jac);
    pi_free(w->hd);
    pi_free(w->hess);
    pi_free(w);
}

pi_status pi_wkb_stochastic_ws_create(const pi_model_t *m, size_t K, pi_wkb_stoch_ws **out)
{
    size_t d = m->dim;
    pi_wkb_stoch_ws *w = pi_calloc(1, sizeof *w);
    if (w == NULL)
        return pi_fail(PI_ENOMEM, "out of memory for the stochastic sweep");
    w->d = d;
    w->K = K;
    w->native = m->type->directional_d != NULL;
    int ok = (w->probes = pi_alloc_array(3 * K * d, sizeof(double))) != NULL;
    ok &= (w->vec = pi_alloc_array(32 * d, sizeof(double))) != NULL;
    if (w->native) {
        size_t n = pi_model_directional_scratch(m);
        ok &= (w->dir = pi_alloc_array(n > 0 ? n : 1, sizeof(double))) != NULL;
    } else {
        ok &= (w->jac = pi_alloc_array(d * d, sizeof(double))) != NULL;
        ok &= (w->hd = pi_alloc_array(d * d, sizeof(double))) != NULL;
        ok &= (w->hess = pi_alloc_array(d * d * d, sizeof(double))) != NULL;
    }
    if (!ok) {
        pi_wkb_stochastic_ws_destroy(w);
        return pi_fail(PI_ENOMEM, "out of memory for the stochastic sweep (dim %zu, %zu probes)",
                       d, K);
    }
    *out = w;
    return PI_OK;
}

typedef pi_wkb_stoch_ctx stoch_ctx;

static double dot(size_t d, const double *a, const double *b)
{
    double acc = 0.0;
    for (size_t i = 0; i < d; i++)
        acc += a[i] * b[i];
    return acc;
}

/* Native path: directional products only. */
static pi_status rhs_native(stoch_ctx *c, double t, double f, double hg, const double *y,
                            double *dydt)
{
    pi_wkb_stoch_ws *w = c->w;
    const pi_model_t *m = c->model;
    size_t d = w->d, K = w->K;
    const double *x = y;
    double *s = w->vec, *Jd = s + d, *JzA = Jd + d, *cot = JzA + d; /* cot: 5 × d */
    double *g = cot + 5 * d, *gb = g + 5 * d, *gc = gb + 5 * d, *gbc = gc + 5 * d;
    double *gB = gbc + 5 * d; /* ∇ₓ(ζ_Bᵀ J ζ_B) */
    for (size_t k = 0; k < K; k++) {
        const double *yk = y + d + k * (5 * d + 1);
        double *dk = dydt + d + k * (5 * d + 1);
        const double *del = yk, *wv = yk + d, *v = yk + 2 * d, *uA = yk + 3 * d, *uB = yk + 4 * d;
        const double *zA = w->probes + (3 * k + 1) * d, *zB = w->probes + (3 * k + 2) * d;
        memcpy(cot, wv, d * sizeof *cot);
        memcpy(cot + d, v, d * sizeof *cot);
        memcpy(cot + 2 * d, uA, d * sizeof *cot);
        memcpy(cot + 3 * d, uB, d * sizeof *cot);
        memcpy(cot + 4 * d, zA, d * sizeof *cot);
        pi_status st = pi_model_directional_d(m, x, t, del, zA, 5, cot, s, Jd, JzA, g, gb, gc,
                                              gbc, w->dir);
        if (st == PI_OK)
            st = pi_model_directional_d(m, x, t, zB, NULL, 1, zB, NULL, NULL, NULL, NULL, gB,
                                        NULL, NULL, w->dir);
        if (st != PI_OK)
            return st;
        c->nfe += 2;
        if (k == 0)
            for (size_t i = 0; i < d; i++)
                dydt[i] = f * x[i] - hg * s[i];
        double *dd = dk, *dw = dk + d, *dv = dk + 2 * d, *duA = dk + 3 * d, *duB = dk + 4 * d;
        /* rows of g: Jᵀw, Jᵀv, Jᵀu_A, Jᵀu_B, (Jᵀζ_A); gb rows 2, 3: ∇(u_{A,B}ᵀJδ);
         * gc row 4: ∇(ζ_AᵀJζ_A); gbc row 4: ∇∂_δ(ζ_AᵀJζ_A) */
        double sumu = 0.0;
        for (size_t i = 0; i < d; i++) {
            dd[i] = f * del[i] - hg * Jd[i];
            dw[i] = -f * wv[i] + hg * g[i];
            dv[i] = -f * v[i] + hg * g[d + i] +
                    hg * (0.5 * (gb[2 * d + i] + gb[3 * d + i]) + gbc[4 * d + i]);
            duA[i] = -f * uA[i] + hg * g[2 * d + i] + hg * gc[4 * d + i];
            duB[i] = -f * uB[i] + hg * g[3 * d + i] + hg * gB[i];
            sumu += (s[i] - uA[i]) * uB[i];
        }
        dk[5 * d] = hg * (sumu + dot(d, zA, JzA) - dot(d, wv, v));
    }
    return PI_OK;
}

/* Dense path: exact J, Hessians, ∇·s, ∇(∇·s), ∇∇(∇·s); only the trace is probed. */
static pi_status rhs_dense(stoch_ctx *c, double t, double f, double hg, const double *y,
                           double *dydt)
{
    pi_wkb_stoch_ws *w = c->w;
    size_t d = w->d, K = w->K;
    const double *x = y;
    double *s = w->vec, *gd = s + d, *ub = gd + d, *tmp = ub + d;
    double div = 0.0;
    const double *J = w->jac, *HD = w->hd, *Hs = w->hess;
    pi_status st = pi_model_derivatives_d(c->model, x, t, s, w->jac, &div, gd, w->hess, w->hd);
    if (st != PI_OK)
        return st;
    c->nfe += 5;
    for (size_t i = 0; i < d; i++)
        dydt[i] = f * x[i] - hg * s[i];
    for (size_t k = 0; k < K; k++) {
        const double *yk = y + d + k * (5 * d + 1);
        double *dk = dydt + d + k * (5 * d + 1);
        const double *del = yk, *wv = yk + d, *v = yk + 2 * d, *uA = yk + 3 * d, *uB = yk + 4 * d;
        double *dd = dk, *dw = dk + d, *dv = dk + 2 * d, *duA = dk + 3 * d, *duB = dk + 4 * d;
        for (size_t i = 0; i < d; i++)
            ub[i] = 0.5 * (uA[i] + uB[i]);
        /* tmp = Σ_k ū_k ∇∇s_k δ */
        memset(tmp, 0, d * sizeof *tmp);
        for (size_t q = 0; q < d; q++) {
            if (ub[q] == 0.0)
                continue;
            const double *Hq = Hs + q * d * d;
            for (size_t i = 0; i < d; i++)
                tmp[i] += ub[q] * dot(d, Hq + i * d, del);
        }
        double sumu = 0.0;
        for (size_t i = 0; i < d; i++) {
            double Jdel = dot(d, J + i * d, del);
            double jw = 0.0, jv = 0.0, ja = 0.0, jb = 0.0;
            for (size_t q = 0; q < d; q++) {
                double Jqi = J[q * d + i];
                jw += Jqi * wv[q];
                jv += Jqi * v[q];
                ja += Jqi * uA[q];
                jb += Jqi * uB[q];
            }
            dd[i] = f * del[i] - hg * Jdel;
            dw[i] = -f * wv[i] + hg * jw;
            dv[i] = -f * v[i] + hg * jv + hg * (tmp[i] + dot(d, HD + i * d, del));
            duA[i] = -f * uA[i] + hg * ja + hg * gd[i];
            duB[i] = -f * uB[i] + hg * jb + hg * gd[i];
            sumu += (s[i] - uA[i]) * uB[i];
        }
        dk[5 * d] = hg * (sumu + div - dot(d, wv, v));
    }
    return PI_OK;
}

pi_status pi_wkb_stochastic_rhs(double t, const double *y, double *dydt, void *p)
{
    stoch_ctx *c = p;
    pi_sde_point sp;
    pi_status st = pi_sde_eval(&c->model->sde, t, &sp);
    if (st != PI_OK)
        return st;
    return c->w->native ? rhs_native(c, t, sp.f, 0.5 * sp.g2, y, dydt)
                        : rhs_dense(c, t, sp.f, 0.5 * sp.g2, y, dydt);
}

double *pi_wkb_stochastic_probes(pi_wkb_stoch_ws *w)
{
    return w->probes;
}

void pi_wkb_stochastic_init(const pi_model_t *model, pi_wkb_stoch_ws *w, const double *x_T,
                            double *y)
{
    size_t d = w->d, K = w->K;
    double std = pi_sde_prior_std_of(&model->sde);
    memcpy(y, x_T, d * sizeof *y);
    double *uT = w->vec;
    pi_lik_prior_logpdf(&model->sde, d, x_T, uT);
    for (size_t k = 0; k < K; k++) {
        double *yk = y + d + k * (5 * d + 1);
        const double *z = w->probes + 3 * k * d;
        for (size_t i = 0; i < d; i++) {
            yk[i] = z[i];
            yk[d + i] = z[i];
            yk[2 * d + i] = -z[i] / (std * std);
            yk[3 * d + i] = uT[i];
            yk[4 * d + i] = uT[i];
        }
        yk[5 * d] = 0.0;
    }
}

pi_status pi_wkb_stochastic_point(const pi_model_t *model, const pi_lik_options *o,
                                  pi_lik_ws *ws, uint64_t point_index, const double *x_T,
                                  double *c1, double *c1_stderr, pi_nll_point_stats *stats)
{
    pi_wkb_stoch_ws *w = ws->stoch;
    size_t d = model->dim, K = w->K;
    size_t n = pi_wkb_stochastic_state(d, K);
    double *y = ws->state;
    /* probes: z, ζ_A, ζ_B per probe, Rademacher, from (seed, point, 3k + j) */
    for (size_t q = 0; q < 3 * K; q++) {
        double *z = w->probes + q * d;
        pi_rng_uniform_d(o->seed, PI_STREAM_PROBE, point_index, PI_C1_PROBE_STEP0 + (uint32_t)q,
                         d, z);
        for (size_t j = 0; j < d; j++)
            z[j] = z[j] <= 0.5 ? -1.0 : 1.0;
    }
    pi_wkb_stochastic_init(model, w, x_T, y);
    stoch_ctx c = {model, w, 0};
    pi_ode_options so = {o->rtol, o->atol, o->max_steps, 0.0};
    pi_ode_system sys = {pi_wkb_stochastic_rhs, n, &c};
    pi_ode_evolve_reset(ws->ode);
    pi_status st = pi_ode_evolve_solve(ws->ode, &sys, &so, model->sde.t_max, model->sde.t_min, y);
    if (stats != NULL) {
        stats->nfe_c1 += c.nfe;
        stats->steps_c1 += ws->ode->stats.accepted + ws->ode->stats.rejected;
    }
    if (st != PI_OK)
        return st;
    double mean = 0.0;
    for (size_t k = 0; k < K; k++)
        mean += y[d + k * (5 * d + 1) + 5 * d];
    mean /= (double)K;
    double ss = 0.0;
    for (size_t k = 0; k < K; k++) {
        double e = y[d + k * (5 * d + 1) + 5 * d] - mean;
        ss += e * e;
    }
    if (!isfinite(mean) || !isfinite(ss))
        return pi_fail(PI_ENUMERIC, "stochastic c1 sweep: non-finite estimate");
    *c1 = mean;
    *c1_stderr = K > 1 ? sqrt(ss / ((double)K - 1.0) / (double)K) : NAN;
    return PI_OK;
}
