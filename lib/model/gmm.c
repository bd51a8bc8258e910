/* Exact Gaussian mixture (MATH.md §2): data Σ_k w_k N(μ_k, diag v_k) diffuses to
 * Σ_k w_k N(α μ_k, diag c_k), c_k = α² v_k + σ². Everything is closed form.
 *
 * Notation at one point x: φ_k = log w_k + log N(x; α μ_k, c_k), responsibilities
 * r = softmax(φ) (max-subtracted, so far points and tiny σ stay finite), per-component score
 * g_k = −(x − α μ_k)/c_k, precisions p_k = 1/c_k, s = E_r[g], u_k = g_k − s, p̃_k = p_k − E_r[p].
 * log p = LSE(φ), and the n-th derivative of an LSE is the sum over set partitions of the
 * joint cumulants (under r) of the derivatives of φ; φ's derivatives stop at the second
 * (∂_ab φ_k = −δ_ab p_ka). Hence, with C = E[u uᵀ] and S̃ = Σ_a p̃_a:
 *   ∂_ab log p   = C_ab − δ_ab E[p_a]                                   (Jacobian of s)
 *   ∂_abc log p  = E[u_a u_b u_c] − δ_ab E[p̃_a u_c] − δ_ac E[p̃_a u_b] − δ_bc E[p̃_b u_a]
 *   ∂_c ∇·s      = E[‖u‖² u_c] − E[S̃ u_c] − 2 E[p̃_c u_c]
 *   ∂_ce ∇·s     = E[‖u‖² u_c u_e] − tr(C) C_ce − 2 (C²)_ce − E[S̃ u_c u_e]
 *                  − 2 E[(p̃_c + p̃_e) u_c u_e]
 *                  + δ_ce (E[S̃ p̃_c] + 2 E[p̃_c²] − E[p̃_c ‖u‖²]). */
#include "model_impl.h"

#include "core/codec.h"

#include "core/gemm.h"
#include "core/threads.h"
#include "gmm_rows.h"

#include <string.h>

#define PI_LOG_2PI 1.8378770664093454835606594728112
#define STACK_DOUBLES 2048

typedef struct gmm {
    size_t k;
    double *w;    /* k normalised weights */
    double *logw; /* k */
    double *mu;   /* k × d */
    double *var;  /* k × d */
    int has_zero_var;
} gmm;

/* ---- one point, double --------------------------------------------------------------- */

static pi_status check_variances(const pi_model_t *m, double t, double sigma)
{
    const gmm *g = m->impl;
    if (g->has_zero_var && !(sigma > 0.0))
        return pi_fail(PI_EINVAL,
                       "Gaussian mixture: t = %g gives sigma(t) = %g and a component has a zero "
                       "variance, so its density is singular there; use t with sigma(t) > 0",
                       t, sigma);
    return PI_OK;
}

/* Responsibilities r (k), log p and score s (d, may be NULL) at x. */
static pi_status gmm_point(const pi_model_t *m, const double *x, double t, double *r,
                           double *logp, double *s, double *alpha_out, double *sigma_out)
{
    const gmm *g = m->impl;
    size_t d = m->dim, k = g->k;
    double alpha, sigma;
    pi_status st = pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
    if (st == PI_OK)
        st = check_variances(m, t, sigma);
    if (st != PI_OK)
        return st;
    double a2 = alpha * alpha, s2 = sigma * sigma, lmax = -INFINITY;
    for (size_t c = 0; c < k; c++) {
        const double *mu = g->mu + c * d, *v = g->var + c * d;
        double q = 0.0, logdet = 0.0;
        for (size_t j = 0; j < d; j++) {
            double cv = a2 * v[j] + s2, dx = x[j] - alpha * mu[j];
            q += dx * dx / cv;
            logdet += log(cv);
        }
        r[c] = g->logw[c] - 0.5 * (q + logdet + (double)d * PI_LOG_2PI);
        if (r[c] > lmax)
            lmax = r[c];
    }
    if (!isfinite(lmax))
        return pi_fail(PI_ENUMERIC, "Gaussian mixture: log-density underflowed at t = %g", t);
    double sum = 0.0;
    for (size_t c = 0; c < k; c++) {
        r[c] = exp(r[c] - lmax);
        sum += r[c];
    }
    for (size_t c = 0; c < k; c++)
        r[c] /= sum;
    if (logp != NULL)
        *logp = lmax + log(sum);
    if (s != NULL) {
        memset(s, 0, d * sizeof *s);
        for (size_t c = 0; c < k; c++) {
            const double *mu = g->mu + c * d, *v = g->var + c * d;
            for (size_t j = 0; j < d; j++)
                s[j] -= r[c] * (x[j] - alpha * mu[j]) / (a2 * v[j] + s2);
        }
    }
    if (alpha_out)
        *alpha_out = alpha;
    if (sigma_out)
        *sigma_out = sigma;
    return PI_OK;
}

/* u = g_c − s and p = 1/c_c for component c. */
static void component_terms(const pi_model_t *m, size_t c, const double *x, const double *s,
                            double alpha, double sigma, double *u, double *p)
{
    const gmm *g = m->impl;
    size_t d = m->dim;
    const double *mu = g->mu + c * d, *v = g->var + c * d;
    double a2 = alpha * alpha, s2 = sigma * sigma;
    for (size_t j = 0; j < d; j++) {
        double pj = 1.0 / (a2 * v[j] + s2);
        p[j] = pj;
        u[j] = -(x[j] - alpha * mu[j]) * pj - s[j];
    }
}

/* Scratch: r (k), s (d), u (d), p (d), mean precision ep (d), plus extra. */
typedef struct gmm_scratch {
    double stack[STACK_DOUBLES];
    double *heap;
    double *r, *s, *u, *p, *ep, *extra;
} gmm_scratch;

static pi_status scratch_open(const pi_model_t *m, gmm_scratch *w, size_t extra)
{
    const gmm *g = m->impl;
    size_t d = m->dim, need = g->k + 4 * d + extra;
    double *base = w->stack;
    w->heap = NULL;
    if (need > STACK_DOUBLES) {
        w->heap = pi_alloc_array(need, sizeof(double));
        if (w->heap == NULL)
            return pi_fail(PI_ENOMEM, "Gaussian mixture: out of memory for %zu doubles", need);
        base = w->heap;
    }
    w->r = base;
    w->s = w->r + g->k;
    w->u = w->s + d;
    w->p = w->u + d;
    w->ep = w->p + d;
    w->extra = w->ep + d;
    return PI_OK;
}

/* E_r[p] into w->ep. */
static void mean_precision(const pi_model_t *m, double alpha, double sigma, gmm_scratch *w)
{
    const gmm *g = m->impl;
    size_t d = m->dim;
    double a2 = alpha * alpha, s2 = sigma * sigma;
    memset(w->ep, 0, d * sizeof(double));
    for (size_t c = 0; c < g->k; c++)
        for (size_t j = 0; j < d; j++)
            w->ep[j] += w->r[c] / (a2 * g->var[c * d + j] + s2);
}

static pi_status gmm_score_d(const pi_model_t *m, const double *x, double t, double *s)
{
    gmm_scratch w;
    pi_status st = scratch_open(m, &w, 0);
    if (st != PI_OK)
        return st;
    st = gmm_point(m, x, t, w.r, NULL, w.s, NULL, NULL);
    if (st == PI_OK)
        memcpy(s, w.s, m->dim * sizeof *s);
    pi_free(w.heap);
    return st;
}

static pi_status gmm_logpdf_d(const pi_model_t *m, const double *x, double t, double *logp)
{
    gmm_scratch w;
    pi_status st = scratch_open(m, &w, 0);
    if (st != PI_OK)
        return st;
    st = gmm_point(m, x, t, w.r, logp, NULL, NULL, NULL);
    pi_free(w.heap);
    return st;
}

static pi_status gmm_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                           double *out)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, d);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st == PI_OK) {
        /* J v = E[u (u·v)] − E[p] ⊙ v */
        double *acc = w.extra;
        memset(acc, 0, d * sizeof *acc);
        for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
            component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
            double uv = 0.0;
            for (size_t j = 0; j < d; j++)
                uv += w.u[j] * v[j];
            double f = w.r[c] * uv;
            for (size_t j = 0; j < d; j++)
                acc[j] += f * w.u[j] - w.r[c] * w.p[j] * v[j];
        }
        memcpy(out, acc, d * sizeof *out);
    }
    pi_free(w.heap);
    return st;
}

static pi_status gmm_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, 0);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st == PI_OK) {
        memset(jac, 0, d * d * sizeof *jac);
        for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
            component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
            double rc = w.r[c];
            for (size_t i = 0; i < d; i++) {
                double ri = rc * w.u[i];
                for (size_t j = 0; j < d; j++)
                    jac[i * d + j] += ri * w.u[j];
                jac[i * d + i] -= rc * w.p[i];
            }
        }
    }
    pi_free(w.heap);
    return st;
}

static pi_status gmm_divergence_d(const pi_model_t *m, const double *x, double t, double *div)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, 0);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st == PI_OK) {
        double acc = 0.0;
        for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
            component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
            double part = 0.0;
            for (size_t j = 0; j < d; j++)
                part += w.u[j] * w.u[j] - w.p[j];
            acc += w.r[c] * part;
        }
        *div = acc;
    }
    pi_free(w.heap);
    return st;
}

static pi_status gmm_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, d);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st == PI_OK) {
        mean_precision(m, alpha, sigma, &w);
        double *acc = w.extra;
        memset(acc, 0, d * sizeof *acc);
        for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
            component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
            double uu = 0.0, stilde = 0.0;
            for (size_t j = 0; j < d; j++) {
                uu += w.u[j] * w.u[j];
                stilde += w.p[j] - w.ep[j];
            }
            for (size_t j = 0; j < d; j++)
                acc[j] += w.r[c] * ((uu - stilde) * w.u[j] - 2.0 * (w.p[j] - w.ep[j]) * w.u[j]);
        }
        memcpy(grad, acc, d * sizeof *grad);
    }
    pi_free(w.heap);
    return st;
}

static pi_status gmm_hessians_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, d * d);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st != PI_OK) {
        pi_free(w.heap);
        return st;
    }
    mean_precision(m, alpha, sigma, &w);
    double *mm = w.extra; /* M_ac = E[p̃_a u_c] */
    memset(mm, 0, d * d * sizeof *mm);
    memset(hess, 0, d * d * d * sizeof *hess);
    for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
        component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
        double rc = w.r[c];
        for (size_t a = 0; a < d; a++) {
            double ra = rc * w.u[a], pa = rc * (w.p[a] - w.ep[a]);
            for (size_t b = 0; b < d; b++) {
                double rab = ra * w.u[b];
                double *h = hess + (a * d + b) * d;
                for (size_t e = 0; e < d; e++)
                    h[e] += rab * w.u[e];
                mm[a * d + b] += pa * w.u[b];
            }
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double *h = hess + (a * d + b) * d;
            if (a == b) /* δ_ab M_ac */
                for (size_t e = 0; e < d; e++)
                    h[e] -= mm[a * d + e];
            h[a] -= mm[a * d + b]; /* δ_ac M_ab */
            h[b] -= mm[b * d + a]; /* δ_bc M_ba */
        }
    pi_free(w.heap);
    return st;
}

static pi_status gmm_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    size_t d = m->dim;
    gmm_scratch w;
    double alpha, sigma;
    pi_status st = scratch_open(m, &w, 2 * d * d + 2 * d);
    if (st == PI_OK)
        st = gmm_point(m, x, t, w.r, NULL, w.s, &alpha, &sigma);
    if (st != PI_OK) {
        pi_free(w.heap);
        return st;
    }
    mean_precision(m, alpha, sigma, &w);
    double *cov = w.extra;        /* C = E[u uᵀ] */
    double *diag = cov + d * d;   /* δ_ce terms */
    double *pt = diag + d;        /* p̃ for the component */
    double *c2m = pt + d;         /* C² */
    memset(cov, 0, d * d * sizeof *cov);
    memset(diag, 0, d * sizeof *diag);
    memset(hess, 0, d * d * sizeof *hess);
    for (size_t c = 0; c < ((const gmm *)m->impl)->k; c++) {
        component_terms(m, c, x, w.s, alpha, sigma, w.u, w.p);
        double rc = w.r[c], uu = 0.0, stilde = 0.0;
        for (size_t j = 0; j < d; j++) {
            pt[j] = w.p[j] - w.ep[j];
            uu += w.u[j] * w.u[j];
            stilde += pt[j];
        }
        for (size_t i = 0; i < d; i++) {
            double ui = rc * w.u[i];
            for (size_t j = 0; j < d; j++) {
                double uij = ui * w.u[j];
                cov[i * d + j] += uij;
                hess[i * d + j] += uij * (uu - stilde - 2.0 * (pt[i] + pt[j]));
            }
            diag[i] += rc * pt[i] * (stilde + 2.0 * pt[i] - uu);
        }
    }
    double tr = 0.0;
    for (size_t i = 0; i < d; i++)
        tr += cov[i * d + i];
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0.0;
            for (size_t l = 0; l < d; l++)
                acc += cov[i * d + l] * cov[l * d + j];
            c2m[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++) {
        for (size_t j = 0; j < d; j++)
            hess[i * d + j] -= tr * cov[i * d + j] + 2.0 * c2m[i * d + j];
        hess[i * d + i] += diag[i];
    }
    pi_free(w.heap);
    return st;
}

/* ---- batched float evaluation (native view: score) ---------------------------------- */

/* Per-worker slot: inverse variances k × d (only when k·d <= GMM_TABLE_MAX, so the workspace
 * stays small for huge mixtures), constants k, log-weights work k, accumulator d. */
#define GMM_MAX_WORKERS 16
#define GMM_TABLE_MAX ((size_t)1 << 16)

static int use_table(const pi_model_t *m)
{
    const gmm *g = m->impl;
    return g->k * m->dim <= GMM_TABLE_MAX;
}

/* The GEMM path (k·d > GMM_TABLE_MAX): rows in blocks of gemm_rows(d) that share t,
 * components in blocks of gemm_comps(k, d); per-block tables of ≤ GMM_GEMM_TABLE doubles. */
#define GMM_GEMM_TABLE ((size_t)1 << 14)
#define GMM_GEMM_ROWS ((size_t)32)

static size_t gemm_rows(size_t d)
{
    size_t b = GMM_GEMM_TABLE / d;
    return b < 1 ? 1 : b > GMM_GEMM_ROWS ? GMM_GEMM_ROWS : b;
}

static size_t gemm_comps(size_t k, size_t d)
{
    size_t kb = GMM_GEMM_TABLE / d;
    if (kb < 1)
        kb = 1;
    if (kb > 256)
        kb = 256;
    return kb < k ? kb : k;
}

/* Dimensions above 2^12 would leave blocks of fewer than 4 rows (products close to GEMV) and
 * per-worker blocks of several times d: they keep the direct formula and its 2k + d slot. */
static int use_gemm(size_t d)
{
    return d <= ((size_t)1 << 12);
}

/* Doubles of the GEMM path's slot after its 2k + d of the direct path: tables ic and mic
 * (kb × d), cstb and t3 (kb), rows x and x² (b × d), log-weights (b × kb), running max and sum
 * (b), accumulators a1, a2 (b × d), a flag per row (b). */
#define GMM_SLOT_PAD_DOUBLES ((size_t)8) /* one 64-byte line */

static size_t gemm_slot_doubles(size_t k, size_t d)
{
    size_t b = gemm_rows(d), kb = gemm_comps(k, d);
    return 2 * kb * d + 2 * kb + 4 * b * d + b * kb + 3 * b;
}

static size_t slot_doubles(const pi_model_t *m)
{
    const gmm *g = m->impl;
    size_t used;
    if (use_table(m)) /* the vectorised row kernel's tables (gmm_rows.h) and the score */
        used = pi_gmm_tables_doubles(g->k, m->dim) + m->dim;
    else
        used = 2 * g->k + m->dim + (use_gemm(m->dim) ? gemm_slot_doubles(g->k, m->dim) : 0);
    /* Whole cache lines plus one line of padding: a worker writes its score accumulator at
     * the end of its slot for every row, and without the gap that line was shared with the
     * start of the next worker's tables (false sharing: 2 threads ran 1.2x one, issue 17). */
    return (used + 7) / 8 * 8 + GMM_SLOT_PAD_DOUBLES;
}

static size_t gmm_workspace_bytes(const pi_model_t *m, size_t n)
{
    size_t slots = n < GMM_MAX_WORKERS ? n : GMM_MAX_WORKERS;
    return slots * slot_doubles(m) * sizeof(double);
}

typedef struct gmm_job {
    const pi_model_t *m;
    size_t n, chunk, workers;
    const float *x;
    const double *t;
    float *out;
    double *ws;
    pi_status bad_t_status;
} gmm_job;

static pi_status store_score(gmm_job *job, size_t i, const double *acc)
{
    size_t d = job->m->dim;
    for (size_t j = 0; j < d; j++) {
        float v = (float)acc[j];
        if (!isfinite(v))
            return pi_fail(PI_ENUMERIC,
                           "Gaussian mixture: the score at row %zu, column %zu (%g) overflows "
                           "float",
                           i, j, acc[j]);
        job->out[i * d + j] = v;
    }
    return PI_OK;
}

/* Rows of one task through the vectorised kernel (gmm_rows.c): tables rebuilt when t changes. */
static pi_status gmm_task_tables(gmm_job *job, size_t task, int worker)
{
    const pi_model_t *m = job->m;
    const gmm *g = m->impl;
    size_t d = m->dim;
    double *slot = job->ws + (size_t)worker * slot_doubles(m);
    pi_gmm_tables tab;
    pi_gmm_tables_bind(&tab, g->k, d, slot);
    double *acc = slot + pi_gmm_tables_doubles(g->k, d);
    double last_t = NAN;
    size_t begin = task * job->chunk;
    size_t end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
    for (size_t i = begin; i < end; i++) {
        if (!(job->t[i] == last_t)) {
            double alpha, sigma;
            pi_status st = pi_sde_eval_marginal(&m->sde, job->t[i], &alpha, &sigma);
            if (st == PI_OK)
                st = check_variances(m, job->t[i], sigma);
            if (st != PI_OK)
                return st;
            pi_gmm_tables_fill(&tab, g->logw, g->mu, g->var, alpha, alpha * alpha, sigma * sigma);
            last_t = job->t[i];
        }
        if (!pi_gmm_row_score(&tab, job->x + i * d, acc))
            return pi_fail(PI_ENUMERIC,
                           "Gaussian mixture: row %zu is so far from every component that its "
                           "log-density is not representable",
                           i);
        pi_status st = store_score(job, i, acc);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

/* One row by the direct formula (scalar double, libm's exp): the GEMM path's fallback for rows
 * whose expanded quadratic form could lose accuracy. cst holds log w_c − ½ Σ_j log(α² v_cj + σ²)
 * for the row's time; l is k doubles of scratch, acc d. */
static pi_status direct_row(gmm_job *job, size_t i, double alpha, double a2, double s2,
                            const double *cst, double *l, double *acc)
{
    const pi_model_t *m = job->m;
    const gmm *g = m->impl;
    size_t d = m->dim, k = g->k;
    const float *x = job->x + i * d;
    double lmax = -INFINITY;
    for (size_t c = 0; c < k; c++) {
        const double *mu = g->mu + c * d, *v = g->var + c * d;
        double q = 0.0;
        for (size_t j = 0; j < d; j++) {
            double dx = x[j] - alpha * mu[j];
            q += dx * dx * (1.0 / (a2 * v[j] + s2));
        }
        l[c] = cst[c] - 0.5 * q;
        if (l[c] > lmax)
            lmax = l[c];
    }
    if (!isfinite(lmax))
        return pi_fail(PI_ENUMERIC,
                       "Gaussian mixture: row %zu is so far from every component that its "
                       "log-density is not representable",
                       i);
    double sum = 0.0;
    for (size_t c = 0; c < k; c++) {
        l[c] = exp(l[c] - lmax);
        sum += l[c];
    }
    memset(acc, 0, d * sizeof *acc);
    for (size_t c = 0; c < k; c++) {
        double rc = l[c] / sum;
        if (rc == 0.0)
            continue;
        const double *mu = g->mu + c * d, *v = g->var + c * d;
        for (size_t j = 0; j < d; j++)
            acc[j] -= rc * (x[j] - alpha * mu[j]) * (1.0 / (a2 * v[j] + s2));
    }
    return store_score(job, i, acc);
}

/* exp(v[i]) for n values ≤ 0 (or -inf) with the row kernel's vectorised exp. */
static void exp_block(double *v, size_t n)
{
    size_t i = 0;
    for (; i + PI_GMM_LANES <= n; i += PI_GMM_LANES)
        pi_gmm_exp8(v + i, v + i);
    if (i < n) {
        double in[PI_GMM_LANES], out[PI_GMM_LANES];
        for (size_t l = 0; l < PI_GMM_LANES; l++)
            in[l] = i + l < n ? v[i + l] : -INFINITY;
        pi_gmm_exp8(in, out);
        for (size_t l = 0; i + l < n; l++)
            v[i + l] = out[l];
    }
}

/* Rows [r0, r0 + nb) sharing one time, through GEMMs (issue 17). With c_cj = α² v_cj + σ²,
 * ic = 1 / c and mic = μ ic, the log-density of component c at x expands to
 *   l_c = cst_c − ½ Σ_j x_j² ic_cj + α Σ_j x_j mic_cj − ½ α² Σ_j μ_cj mic_cj,
 * two (nb × d)·(d × kb) products per block of kb components, and the score to
 *   s_j = −x_j Σ_c r_c ic_cj + α Σ_c r_c mic_cj,
 * two (nb × kb)·(kb × d) products, with the softmax weights r accumulated block by block as
 * an online log-sum-exp (running maximum, rescaled sums) in double. The expansion cancels:
 * each l_c carries an absolute error up to about 2 (d + 2) ε (T1_c + T3_c), T1_c = Σ x² ic,
 * T3_c = α² Σ μ² ic. A row whose bound exceeds 2^-30 for some block (or whose block maximum
 * is not finite) is recomputed by direct_row(), so every row's log-weights are within 2^-30
 * of the direct formula's. */
static pi_status gemm_rows_block(gmm_job *job, double *slot, size_t r0, size_t nb, double alpha,
                                 double a2, double s2, const double *cst)
{
    const pi_model_t *m = job->m;
    const gmm *g = m->impl;
    size_t d = m->dim, k = g->k, kb = gemm_comps(k, d), b = gemm_rows(d);
    double *l = slot + k, *acc = l + k, *ic = acc + d, *mic = ic + kb * d, *cstb = mic + kb * d,
           *t3 = cstb + kb, *xb = t3 + kb, *x2 = xb + b * d, *lw = x2 + b * d, *mx = lw + b * kb,
           *sm = mx + b, *a1 = sm + b, *a2b = a1 + b * d, *flag = a2b + b * d;
    const double limit = 0x1p-30 / (2.0 * (double)(d + 2) * 0x1p-52);
    for (size_t i = 0; i < nb; i++) {
        const float *x = job->x + (r0 + i) * d;
        double nx = 0.0;
        for (size_t j = 0; j < d; j++) {
            xb[i * d + j] = x[j];
            x2[i * d + j] = (double)x[j] * x[j];
            nx += x2[i * d + j];
        }
        mx[i] = -INFINITY;
        sm[i] = 0.0;
        flag[i] = nx; /* |x|², then -1 when the row must take the direct path */
    }
    memset(a1, 0, nb * d * sizeof *a1);
    memset(a2b, 0, nb * d * sizeof *a2b);
    for (size_t c0 = 0; c0 < k; c0 += kb) {
        size_t kc = k - c0 < kb ? k - c0 : kb;
        double icmax = 0.0, t3max = 0.0;
        for (size_t c = 0; c < kc; c++) {
            const double *mu = g->mu + (c0 + c) * d, *v = g->var + (c0 + c) * d;
            double q3 = 0.0;
            for (size_t j = 0; j < d; j++) {
                double inv = 1.0 / (a2 * v[j] + s2);
                ic[c * d + j] = inv;
                mic[c * d + j] = mu[j] * inv;
                q3 += mu[j] * mic[c * d + j];
                icmax = inv > icmax ? inv : icmax;
            }
            t3[c] = a2 * q3;
            t3max = t3[c] > t3max ? t3[c] : t3max;
            cstb[c] = cst[c0 + c] - 0.5 * t3[c];
        }
        pi_dgemm(0, 1, nb, kc, d, -0.5, x2, d, ic, d, 0.0, lw, kc, 1);
        pi_dgemm(0, 1, nb, kc, d, alpha, xb, d, mic, d, 1.0, lw, kc, 1);
        for (size_t i = 0; i < nb; i++) {
            double *li = lw + i * kc, bm = -INFINITY;
            if (flag[i] < 0.0 || !(flag[i] * icmax + t3max <= limit))
                flag[i] = -1.0; /* too much cancellation possible: direct path */
            for (size_t c = 0; c < kc; c++) {
                li[c] += cstb[c];
                bm = li[c] > bm ? li[c] : bm;
            }
            if (!isfinite(bm))
                flag[i] = -1.0;
            if (flag[i] < 0.0) { /* keep the GEMMs below harmless for this row */
                memset(li, 0, kc * sizeof *li);
                continue;
            }
            if (bm > mx[i]) {
                double scale = mx[i] == -INFINITY ? 0.0 : exp(mx[i] - bm);
                sm[i] *= scale;
                for (size_t j = 0; j < d; j++) {
                    a1[i * d + j] *= scale;
                    a2b[i * d + j] *= scale;
                }
                mx[i] = bm;
            }
            for (size_t c = 0; c < kc; c++)
                li[c] -= mx[i];
            exp_block(li, kc);
            for (size_t c = 0; c < kc; c++)
                sm[i] += li[c];
        }
        pi_dgemm(0, 0, nb, d, kc, 1.0, lw, kc, ic, d, 1.0, a1, d, 1);
        pi_dgemm(0, 0, nb, d, kc, 1.0, lw, kc, mic, d, 1.0, a2b, d, 1);
    }
    for (size_t i = 0; i < nb; i++) {
        pi_status st;
        if (flag[i] < 0.0) {
            st = direct_row(job, r0 + i, alpha, a2, s2, cst, l, acc);
        } else {
            const double inv_sum = 1.0 / sm[i];
            for (size_t j = 0; j < d; j++)
                acc[j] = (alpha * a2b[i * d + j] - xb[i * d + j] * a1[i * d + j]) * inv_sum;
            st = store_score(job, r0 + i, acc);
        }
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

static pi_status gmm_task(size_t task, int worker, void *ctx)
{
    gmm_job *job = ctx;
    const pi_model_t *m = job->m;
    const gmm *g = m->impl;
    size_t d = m->dim, k = g->k;
    if (use_table(m))
        return gmm_task_tables(job, task, worker);
    double *slot = job->ws + (size_t)worker * slot_doubles(m);
    double *cst = slot; /* k, then l (k), acc (d) and the GEMM path's blocks */
    double alpha = 1.0, a2 = 1.0, s2 = 0.0, last_t = NAN;
    size_t begin = task * job->chunk, b = gemm_rows(d);
    size_t end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
    for (size_t i = begin; i < end;) {
        if (!(job->t[i] == last_t)) {
            double sigma;
            pi_status st = pi_sde_eval_marginal(&m->sde, job->t[i], &alpha, &sigma);
            if (st == PI_OK)
                st = check_variances(m, job->t[i], sigma);
            if (st != PI_OK)
                return st;
            a2 = alpha * alpha;
            s2 = sigma * sigma;
            for (size_t c = 0; c < k; c++) {
                double logdet = 0.0;
                for (size_t j = 0; j < d; j++)
                    logdet += log(a2 * g->var[c * d + j] + s2);
                cst[c] = g->logw[c] - 0.5 * logdet;
            }
            last_t = job->t[i];
        }
        if (!use_gemm(d)) {
            pi_status st = direct_row(job, i, alpha, a2, s2, cst, slot + k, slot + 2 * k);
            if (st != PI_OK)
                return st;
            i++;
            continue;
        }
        size_t nb = 1;
        while (nb < b && i + nb < end && job->t[i + nb] == last_t)
            nb++;
        pi_status st = gemm_rows_block(job, slot, i, nb, alpha, a2, s2, cst);
        if (st != PI_OK)
            return st;
        i += nb;
    }
    return PI_OK;
}

static pi_status gmm_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                          float *out, const pi_eval_ctx *ctx)
{
    size_t workers = n < GMM_MAX_WORKERS ? n : GMM_MAX_WORKERS;
    if (ctx->threads >= 1 && (size_t)ctx->threads < workers)
        workers = (size_t)ctx->threads;
    if (ctx->workspace_bytes < gmm_workspace_bytes(m, workers) || ctx->workspace == NULL)
        return pi_fail(PI_EINVAL, "Gaussian mixture eval: workspace too small (%zu bytes)",
                       ctx->workspace_bytes);
    gmm_job job = {m, n, 0, workers, x, t, out, ctx->workspace, PI_OK};
    /* Chunks of rows: few per worker, so a shared time is recomputed rarely. */
    job.chunk = (n + workers * 2 - 1) / (workers * 2);
    if (job.chunk == 0)
        job.chunk = 1;
    size_t tasks = (n + job.chunk - 1) / job.chunk;
    if (workers == 1) {
        for (size_t task = 0; task < tasks; task++) {
            pi_status st = gmm_task(task, 0, &job);
            if (st != PI_OK)
                return st;
        }
        return PI_OK;
    }
    return pi_pool_run(ctx->pool, (int)workers, tasks, gmm_task, &job);
}

/* ---- construction, payload, destruction --------------------------------------------- */

static void gmm_destroy(pi_model_t *m)
{
    gmm *g = m->impl;
    if (g == NULL)
        return;
    pi_free(g->w);
    pi_free(g->logw);
    pi_free(g->mu);
    pi_free(g->var);
    pi_free(g);
    m->impl = NULL;
}

static pi_status write_doubles(pi_file *file, const double *v, size_t n)
{
    unsigned char buf[8 * 256];
    while (n > 0) {
        size_t chunk = n < 256 ? n : 256;
        for (size_t i = 0; i < chunk; i++) {
            uint64_t bits;
            memcpy(&bits, &v[i], 8);
            pi_put_u64(buf + 8 * i, bits);
        }
        pi_status st = pi_file_write(file, buf, 8 * chunk);
        if (st != PI_OK)
            return st;
        v += chunk;
        n -= chunk;
    }
    return PI_OK;
}

static pi_status gmm_write_payload(const pi_model_t *m, pi_file *file)
{
    const gmm *g = m->impl;
    unsigned char head[8];
    pi_put_u64(head, (uint64_t)g->k);
    pi_status st = pi_file_write(file, head, 8);
    if (st == PI_OK)
        st = write_doubles(file, g->w, g->k);
    if (st == PI_OK)
        st = write_doubles(file, g->mu, g->k * m->dim);
    if (st == PI_OK)
        st = write_doubles(file, g->var, g->k * m->dim);
    return st;
}

static const struct pi_model_type gmm_type = {
    .name = "Gaussian-mixture",
    .kind = PI_MODEL_KIND_GMM,
    .workspace_bytes = gmm_workspace_bytes,
    .eval = gmm_eval,
    .score_d = gmm_score_d,
    .jvp_d = gmm_jvp_d,
    .jacobian_d = gmm_jacobian_d,
    .divergence_d = gmm_divergence_d,
    .grad_div_d = gmm_grad_div_d,
    .hessians_d = gmm_hessians_d,
    .hess_div_d = gmm_hess_div_d,
    .logpdf_d = gmm_logpdf_d,
    .write_payload = gmm_write_payload,
    .destroy = gmm_destroy,
    .derivatives_d = NULL, /* one by one */
    /* not trainable: .params, .sigma_data, .train_workspace_bytes, .forward_train and
     * .backward stay NULL */
};

/* Validate and build. normalise = 0 takes weights as already normalised (model files). */
static pi_status gmm_build(const char *fn, pi_status code, const pi_sde_t *sde, size_t dim,
                           size_t k, const double *weights, const double *means,
                           const double *vars, int normalise, pi_model_t **out)
{
    size_t kd;
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(code, "%s: dim must be in [1, 2^20], got %zu", fn, dim);
    if (k == 0 || !pi_size_mul(k, dim, &kd))
        return pi_fail(code, "%s: k must be >= 1 with k*dim <= 2^40, got k = %zu (dim = %zu)", fn,
                       k, dim);
    double sum = 0.0;
    for (size_t c = 0; c < k; c++) {
        if (!isfinite(weights[c]) || !(weights[c] > 0.0))
            return pi_fail(code, "%s: weights must be positive and finite, got weights[%zu] = %g",
                           fn, c, weights[c]);
        sum += weights[c];
    }
    if (!isfinite(sum))
        return pi_fail(code, "%s: weights must have a finite sum, got %g", fn, sum);
    if (!normalise && fabs(sum - 1.0) > 1e-9)
        return pi_fail(code, "%s: weights must sum to 1 (normalised), got %.17g", fn, sum);
    size_t bad = pi_first_nonfinite_d(means, kd);
    if (bad < kd)
        return pi_fail(code, "%s: means must be finite, got means[%zu] = %g", fn, bad, means[bad]);
    int zero = 0;
    for (size_t i = 0; i < kd; i++) {
        if (!isfinite(vars[i]) || vars[i] < 0.0)
            return pi_fail(code, "%s: vars must be finite and >= 0, got vars[%zu] = %g", fn, i,
                           vars[i]);
        if (vars[i] == 0.0)
            zero = 1;
    }
    pi_model_t *m;
    pi_status st = pi_model_alloc(&gmm_type, sde, dim, PI_VIEW_SCORE, &m);
    if (st != PI_OK)
        return st;
    gmm *g = pi_calloc(1, sizeof *g);
    if (g == NULL) {
        pi_model_destroy(m);
        return pi_fail(PI_ENOMEM, "%s: out of memory", fn);
    }
    m->impl = g;
    g->k = k;
    g->has_zero_var = zero;
    g->w = pi_alloc_array(k, sizeof(double));
    g->logw = pi_alloc_array(k, sizeof(double));
    g->mu = pi_alloc_array(kd, sizeof(double));
    g->var = pi_alloc_array(kd, sizeof(double));
    if (g->w == NULL || g->logw == NULL || g->mu == NULL || g->var == NULL) {
        pi_model_destroy(m);
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu components of dimension %zu", fn,
                       k, dim);
    }
    for (size_t c = 0; c < k; c++) {
        g->w[c] = normalise ? weights[c] / sum : weights[c];
        g->logw[c] = log(g->w[c]);
    }
    memcpy(g->mu, means, kd * sizeof(double));
    memcpy(g->var, vars, kd * sizeof(double));
    *out = m;
    return PI_OK;
}

pi_status pi_model_create_gmm(const pi_sde_t *sde, size_t dim, size_t k, const double *weights,
                              const double *means, const double *vars, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(weights);
    PI_CHECK_NULL(means);
    PI_CHECK_NULL(vars);
    PI_CHECK_NULL(out);
    return gmm_build(__func__, PI_EINVAL, sde, dim, k, weights, means, vars, 1, out);
}

static void read_doubles(const unsigned char *p, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = pi_get_u64(p + 8 * i);
        memcpy(&out[i], &bits, 8);
    }
}

pi_status pi_gmm_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                              size_t bytes, pi_model_t **out)
{
    if (bytes < 8)
        return pi_fail(PI_EFORMAT, "Gaussian-mixture payload: %zu bytes is too short for its header",
                       bytes);
    uint64_t k64 = pi_get_u64(payload);
    size_t avail = (bytes - 8) / 8;
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EFORMAT, "Gaussian-mixture payload: dim %zu is out of range", dim);
    /* Every count is checked against the bytes present before anything is allocated. */
    if (k64 == 0 || k64 > avail || (bytes - 8) % 8 != 0
        || (size_t)k64 * (1 + 2 * dim) / (1 + 2 * dim) != (size_t)k64
        || (size_t)k64 * (1 + 2 * dim) != avail)
        return pi_fail(PI_EFORMAT,
                       "Gaussian-mixture payload: %llu components of dimension %zu do not match "
                       "its %zu bytes",
                       (unsigned long long)k64, dim, bytes);
    size_t k = (size_t)k64, kd = k * dim;
    double *buf = pi_alloc_array(avail, sizeof(double));
    if (buf == NULL)
        return pi_fail(PI_ENOMEM, "Gaussian-mixture payload: out of memory");
    read_doubles(payload + 8, avail, buf);
    pi_status st = gmm_build("Gaussian-mixture payload", PI_EFORMAT, sde, dim, k, buf, buf + k,
                             buf + k + kd, 0, out);
    pi_free(buf);
    return st;
}
