/* Derivative callbacks of callback models (issue 18): the host gives, in double precision and
 * batched, directional products of its function F (in the model's declared view):
 *   PI_DERIVATIVE_JVP       out = J b               J = ∂F/∂x
 *   PI_DERIVATIVE_VJP       out = Jᵀ a
 *   PI_DERIVATIVE_VJP_JVP   out = ∇ₓ(aᵀ J b)
 *   PI_DERIVATIVE_VJP_JVP2  out = ∇ₓ(aᵀ D²F[b, c])
 * each optional. The score is affine in F at fixed t (s = ca·x + cb·F, views.c), so the
 * score's products are cb times these plus ca·b / ca·a at first order. What the host does not
 * give comes from central differences in double of the next lower product it gives (VJP_JVP
 * from VJP along b; VJP_JVP2 from VJP_JVP along c, or from VJP by the four-point stencil);
 * pi_model_callback_get_derivatives() says which. Without VJP there is no O(d) route to the
 * stochastic sweep: PI_EUNSUPPORTED. The products also replace the float finite differences
 * of the Jacobian, divergence, Hessians and ∇∇(∇·s) (batched over unit vectors), so the exact
 * sweep runs on a callback model that gives them. */
#include "callback_impl.h"

#include <float.h>
#include <string.h>

static const char *kind_name(pi_derivative k)
{
    switch (k) {
    case PI_DERIVATIVE_JVP: return "jvp";
    case PI_DERIVATIVE_VJP: return "vjp";
    case PI_DERIVATIVE_VJP_JVP: return "vjp_jvp";
    case PI_DERIVATIVE_VALUE: return "value";
    default: return "vjp_jvp2";
    }
}

/* (ca, cb) of s = ca x + cb F at t (every view, the flow view included: it needs f and g²). */
static pi_status view_affine(const pi_model_t *m, double t, double *ca, double *cb)
{
    pi_sde_point p = {1.0, 0.0, 0.0, 0.0, 0.0};
    pi_status st = pi_sde_eval(&m->sde, t, &p);
    if (st != PI_OK)
        return st;
    if (m->native_view != PI_VIEW_SCORE && !(p.sigma > 0.0 && p.g2 > 0.0))
        return pi_fail(PI_EINVAL, "model callback: t = %g gives sigma(t) = %g, g^2(t) = %g; a "
                       "callback in a view other than the score needs both > 0", t, p.sigma, p.g2);
    double one = 1.0, zero = 0.0;
    pi_view_convert_at_d(m->native_view, PI_VIEW_SCORE, 1, &one, &p, &zero, ca);
    pi_view_convert_at_d(m->native_view, PI_VIEW_SCORE, 1, &zero, &p, &one, cb);
    return PI_OK;
}

/* One host call for n rows at the same x and t (rows differ in a, b, c). */
static pi_status host(const pi_model_t *m, pi_derivative kind, size_t n, const double *x,
                      double t, const double *a, const double *b, const double *c, double *out,
                      pi_cb_scratch *sc)
{
    const pi_callback_model *cbm = m->impl;
    size_t d = m->dim;
    double *xs = pi_cb_scratch_alloc(sc, n * d + n, sizeof(double));
    if (xs == NULL)
        return pi_fail(PI_ENOMEM, "model callback: out of memory for %zu derivative rows", n);
    double *ts = xs + n * d;
    for (size_t r = 0; r < n; r++) {
        memcpy(xs + r * d, x, d * sizeof *xs);
        ts[r] = t;
    }
    int rc = cbm->deriv(kind, n, d, xs, ts, a, b, c, out, cbm->deriv_user);
    pi_cb_scratch_free(sc, xs);
    if (rc != 0)
        return pi_fail(PI_ECALLBACK, "model derivative callback (%s) returned %d at the point "
                       "x[0] = %g, t = %g (%zu rows)", kind_name(kind), rc, x[0], t, n);
    size_t bad = pi_first_nonfinite_d(out, n * d);
    if (bad < n * d)
        return pi_fail(PI_ENUMERIC, "model derivative callback (%s) returned a non-finite value "
                       "(%g) at row %zu, column %zu, at the point x[0] = %g, t = %g",
                       kind_name(kind), out[bad], bad / d, bad % d, x[0], t);
    return PI_OK;
}

static double maxabs(size_t n, const double *v)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* Products of F (not yet converted to the score), with the fallbacks. n rows; a, b, c are
 * n × d (c may be NULL for the lower kinds). */
static pi_status product(const pi_model_t *m, pi_derivative kind, size_t n, const double *x,
                         double t, const double *a, const double *b, const double *c,
                         double *out, pi_cb_scratch *sc)
{
    const pi_callback_model *cbm = m->impl;
    size_t d = m->dim;
    if (cbm->provided & (unsigned)kind)
        return host(m, kind, n, x, t, a, b, c, out, sc);
    if (kind == PI_DERIVATIVE_JVP || kind == PI_DERIVATIVE_VJP)
        return pi_fail(PI_EUNSUPPORTED, "model callback: no %s derivative callback "
                       "(pi_model_callback_set_derivatives)", kind_name(kind));
    /* central differences of the lower product along the last direction, one point per row */
    const double *dir = kind == PI_DERIVATIVE_VJP_JVP ? b : c;
    pi_derivative lower = kind == PI_DERIVATIVE_VJP_JVP ? PI_DERIVATIVE_VJP : PI_DERIVATIVE_VJP_JVP;
    if (kind == PI_DERIVATIVE_VJP_JVP2 && !(cbm->provided & PI_DERIVATIVE_VJP_JVP)) {
        /* four-point stencil of VJP along b and c */
        lower = PI_DERIVATIVE_VJP;
    }
    double *xp = pi_cb_scratch_alloc(sc, 4 * d + 4 * d + 4 * d, sizeof(double));
    if (xp == NULL)
        return pi_fail(PI_ENOMEM, "model callback: out of memory");
    double *o = xp + 4 * d, *gbuf = o + 4 * d;
    pi_status st = PI_OK;
    double xm = fmax(1.0, maxabs(d, x));
    for (size_t r = 0; r < n && st == PI_OK; r++) {
        const double *ar = a + r * d, *br = b + r * d, *dr = dir + r * d;
        double *outr = out + r * d;
        if (lower == PI_DERIVATIVE_VJP && kind == PI_DERIVATIVE_VJP_JVP2) {
            const double *cr = c + r * d;
            double nb = maxabs(d, br), nc = maxabs(d, cr);
            if (nb == 0.0 || nc == 0.0) {
                memset(outr, 0, d * sizeof *outr);
                continue;
            }
            double hb = sqrt(sqrt(DBL_EPSILON)) * xm / nb, hc = sqrt(sqrt(DBL_EPSILON)) * xm / nc;
            for (size_t q = 0; q < 4 && st == PI_OK; q++) {
                double sb = q < 2 ? hb : -hb, sgc = (q % 2 == 0) ? hc : -hc;
                for (size_t i = 0; i < d; i++)
                    xp[i] = x[i] + sb * br[i] + sgc * cr[i];
                st = host(m, PI_DERIVATIVE_VJP, 1, xp, t, ar, NULL, NULL, gbuf + q * d, sc);
            }
            for (size_t i = 0; i < d && st == PI_OK; i++)
                outr[i] = (gbuf[i] - gbuf[d + i] - gbuf[2 * d + i] + gbuf[3 * d + i]) /
                          (4.0 * hb * hc);
            continue;
        }
        double nd = maxabs(d, dr);
        if (nd == 0.0) {
            memset(outr, 0, d * sizeof *outr);
            continue;
        }
        double h = cbrt(DBL_EPSILON) * xm / nd;
        for (size_t q = 0; q < 2 && st == PI_OK; q++) {
            for (size_t i = 0; i < d; i++)
                xp[i] = x[i] + (q == 0 ? h : -h) * dr[i];
            st = lower == PI_DERIVATIVE_VJP
                     ? host(m, PI_DERIVATIVE_VJP, 1, xp, t, ar, NULL, NULL, o + q * d, sc)
                     : host(m, PI_DERIVATIVE_VJP_JVP, 1, xp, t, ar, br, NULL, o + q * d, sc);
        }
        for (size_t i = 0; i < d && st == PI_OK; i++)
            outr[i] = (o[i] - o[d + i]) / (2.0 * h);
    }
    pi_cb_scratch_free(sc, xp);
    return st;
}

pi_status pi_callback_value_d(const pi_model_t *m, const double *x, double t, double *s,
                              pi_cb_scratch *sc)
{
    double ca, cb;
    pi_status st = view_affine(m, t, &ca, &cb);
    if (st == PI_OK)
        st = host(m, PI_DERIVATIVE_VALUE, 1, x, t, NULL, NULL, NULL, s, sc);
    for (size_t i = 0; i < m->dim && st == PI_OK; i++)
        s[i] = ca * x[i] + cb * s[i];
    return st;
}

pi_status pi_callback_directional_d(const pi_model_t *m, const double *x, double t,
                                    const double *b, const double *c, size_t na,
                                    const double *a, double *s, double *sb, double *sc,
                                    double *g, double *gb, double *gc, double *gbc,
                                    double *scratch, pi_cb_scratch *scr)
{
    (void)scratch;
    const pi_callback_model *cbm = m->impl;
    size_t d = m->dim;
    if (cbm->deriv == NULL || !(cbm->provided & PI_DERIVATIVE_VJP) ||
        !(cbm->provided & PI_DERIVATIVE_JVP))
        return pi_fail(PI_EUNSUPPORTED, "model callback: the stochastic c1 sweep needs "
                       "Jacobian-vector and vector-Jacobian product callbacks "
                       "(pi_model_callback_set_derivatives with PI_DERIVATIVE_JVP | "
                       "PI_DERIVATIVE_VJP); finite differences of float outputs cannot give "
                       "third derivatives");
    double ca, cb;
    pi_status st = view_affine(m, t, &ca, &cb);
    if (st == PI_OK && s != NULL)
        st = pi_callback_score_sc(m, x, t, s, scr);
    /* rows: replicate the directions for the batched calls */
    size_t rows = na > 2 ? na : 2;
    double *buf = pi_cb_scratch_alloc(scr, 4 * rows * d, sizeof(double));
    if (st == PI_OK && buf == NULL)
        st = pi_fail(PI_ENOMEM, "model callback: out of memory");
    double *B = buf, *C = buf + rows * d, *O = buf + 2 * rows * d, *Z = buf + 3 * rows * d;
    if (st == PI_OK && (sb != NULL || sc != NULL)) {
        memset(Z, 0, 2 * d * sizeof *Z);
        if (b != NULL)
            memcpy(Z, b, d * sizeof *Z);
        if (c != NULL)
            memcpy(Z + d, c, d * sizeof *Z);
        st = host(m, PI_DERIVATIVE_JVP, 2, x, t, NULL, Z, NULL, O, scr);
        for (size_t i = 0; i < d && st == PI_OK; i++) {
            if (sb != NULL)
                sb[i] = ca * Z[i] + cb * O[i];
            if (sc != NULL)
                sc[i] = ca * Z[d + i] + cb * O[d + i];
        }
    }
    if (st == PI_OK && na > 0) {
        for (size_t r = 0; r < na; r++) {
            if (b != NULL)
                memcpy(B + r * d, b, d * sizeof *B);
            else
                memset(B + r * d, 0, d * sizeof *B);
            if (c != NULL)
                memcpy(C + r * d, c, d * sizeof *C);
            else
                memset(C + r * d, 0, d * sizeof *C);
        }
        double *outs[4] = {g, gb, gc, gbc};
        for (size_t q = 0; q < 4 && st == PI_OK; q++) {
            if (outs[q] == NULL || ((q == 1 && b == NULL) || ((q == 2 || q == 3) && c == NULL) ||
                                    (q == 3 && b == NULL))) {
                if (outs[q] != NULL)
                    memset(outs[q], 0, na * d * sizeof(double));
                continue;
            }
            if (q == 0)
                st = product(m, PI_DERIVATIVE_VJP, na, x, t, a, NULL, NULL, outs[q], scr);
            else if (q == 1)
                st = product(m, PI_DERIVATIVE_VJP_JVP, na, x, t, a, B, NULL, outs[q], scr);
            else if (q == 2)
                st = product(m, PI_DERIVATIVE_VJP_JVP, na, x, t, a, C, NULL, outs[q], scr);
            else
                st = product(m, PI_DERIVATIVE_VJP_JVP2, na, x, t, a, B, C, outs[q], scr);
            for (size_t e = 0; e < na * d && st == PI_OK; e++)
                outs[q][e] = (q == 0 ? ca * a[e] : 0.0) + cb * outs[q][e];
        }
    }
    pi_cb_scratch_free(scr, buf);
    return st;
}

/* ---- dense derivatives from the products (replacing float finite differences) ---------- */

pi_status pi_callback_jvp_exact(const pi_model_t *m, const double *x, double t, const double *v,
                                double *out, pi_cb_scratch *sc)
{
    double ca, cb;
    pi_status st = view_affine(m, t, &ca, &cb);
    if (st == PI_OK)
        st = host(m, PI_DERIVATIVE_JVP, 1, x, t, NULL, v, NULL, out, sc);
    for (size_t i = 0; i < m->dim && st == PI_OK; i++)
        out[i] = ca * v[i] + cb * out[i];
    return st;
}

/* A batch of products on unit vectors. Row r stands for the pair (p, q) = (r / d, r % d) of
 * d² rows, or p = q = r of d rows; each of a, b, c is e_p, e_q or absent. The scatter rule
 * turns the products O (rows × d, of F) and the view's s = ca x + cb F into the result. */
typedef enum { UNIT_NONE, UNIT_P, UNIT_Q } unit_index;

typedef struct unit_batch {
    pi_derivative kind;
    int pairs; /* 1: d² rows (p, q); 0: d rows */
    unit_index a, b, c;
    void (*scatter)(size_t d, double ca, double cb, const double *O, double *out);
} unit_batch;

static pi_status unit_products(const pi_model_t *m, const unit_batch *u, const double *x,
                               double t, double *out, pi_cb_scratch *sc)
{
    size_t d = m->dim, rows = u->pairs ? d * d : d;
    double ca, cb;
    pi_status st = view_affine(m, t, &ca, &cb);
    if (st != PI_OK)
        return st;
    const unit_index which[3] = {u->a, u->b, u->c};
    size_t blocks = 1;
    for (int v = 0; v < 3; v++)
        blocks += which[v] != UNIT_NONE;
    size_t block = 0;
    double *buf = NULL;
    if (pi_size_mul(rows, d, &block))
        buf = pi_cb_scratch_alloc(sc, blocks * block, sizeof(double));
    if (buf == NULL)
        return pi_fail(PI_ENOMEM, "model callback: out of memory for %zu unit-vector rows of %s "
                       "products (d = %zu)", rows, kind_name(u->kind), d);
    double *vec[3] = {NULL, NULL, NULL}, *next = buf;
    for (int v = 0; v < 3; v++)
        if (which[v] != UNIT_NONE) {
            vec[v] = next;
            next += block;
            memset(vec[v], 0, block * sizeof *buf);
        }
    for (size_t r = 0; r < rows; r++) {
        size_t p = u->pairs ? r / d : r, q = u->pairs ? r % d : r;
        for (int v = 0; v < 3; v++)
            if (vec[v] != NULL)
                vec[v][r * d + (which[v] == UNIT_P ? p : q)] = 1.0;
    }
    st = product(m, u->kind, rows, x, t, vec[0], vec[1], vec[2], next, sc);
    if (st == PI_OK)
        u->scatter(d, ca, cb, next, out);
    pi_cb_scratch_free(sc, buf);
    return st;
}

/* Row j: J e_j, column j of the Jacobian of F. */
static void scatter_jacobian(size_t d, double ca, double cb, const double *O, double *jac)
{
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            jac[i * d + j] = (i == j ? ca : 0.0) + cb * O[j * d + i];
}

static void scatter_trace(size_t d, double ca, double cb, const double *O, double *div)
{
    double acc = 0.0;
    for (size_t i = 0; i < d; i++)
        acc += ca + cb * O[i * d + i];
    *div = acc;
}

/* hess[(k d + i) d + j] = ∂²s_k/∂x_i∂x_j: row (k, j) of VJP_JVP with a = e_k, b = e_j gives
 * ∇ₓ(∂_j s_k) = column i. */
static void scatter_hessians(size_t d, double ca, double cb, const double *O, double *hess)
{
    (void)ca;
    for (size_t k = 0; k < d; k++)
        for (size_t j = 0; j < d; j++)
            for (size_t i = 0; i < d; i++)
                hess[(k * d + i) * d + j] = cb * O[(k * d + j) * d + i];
}

/* ∇(∇·F) = Σ_k ∇ₓ(e_kᵀ J e_k): row k has a = b = e_k. */
static void scatter_grad_div(size_t d, double ca, double cb, const double *O, double *grad)
{
    (void)ca;
    for (size_t i = 0; i < d; i++) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += O[k * d + i];
        grad[i] = cb * acc;
    }
}

/* Row (j, k): a = c = e_k, b = e_j; ∇∇(∇·F) e_j = Σ_k row (j, k). */
static void scatter_hess_div(size_t d, double ca, double cb, const double *O, double *hd)
{
    (void)ca;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i < d; i++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += O[(j * d + k) * d + i];
            hd[i * d + j] = cb * acc;
        }
}

/* The dense derivatives as unit-vector batches (callback_impl.h: pi_callback_exact). */
static const unit_batch exact_batches[] = {
    [PI_CB_EXACT_JACOBIAN] = {PI_DERIVATIVE_JVP, 0, UNIT_NONE, UNIT_P, UNIT_NONE,
                              scatter_jacobian},
    [PI_CB_EXACT_DIVERGENCE] = {PI_DERIVATIVE_JVP, 0, UNIT_NONE, UNIT_P, UNIT_NONE,
                                scatter_trace},
    [PI_CB_EXACT_HESSIANS] = {PI_DERIVATIVE_VJP_JVP, 1, UNIT_P, UNIT_Q, UNIT_NONE,
                              scatter_hessians},
    [PI_CB_EXACT_GRAD_DIV] = {PI_DERIVATIVE_VJP_JVP, 0, UNIT_P, UNIT_P, UNIT_NONE,
                              scatter_grad_div},
    [PI_CB_EXACT_HESS_DIV] = {PI_DERIVATIVE_VJP_JVP2, 1, UNIT_Q, UNIT_P, UNIT_Q,
                              scatter_hess_div},
};

pi_status pi_callback_exact(const pi_model_t *m, pi_cb_exact what, const double *x, double t,
                            double *out, pi_cb_scratch *sc)
{
    return unit_products(m, &exact_batches[what], x, t, out, sc);
}
