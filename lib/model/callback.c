/* A model backed by a host function in a declared view (score, ε, denoiser, v or flow;
 * views.c converts), given pathint's t or (pi_model_create_callback_timestep) the host's
 * training timestep. A nonzero return aborts the call with PI_ECALLBACK; non-finite outputs give
 * PI_ENUMERIC.
 *
 * Derivatives for the likelihood come from central finite differences of the callback,
 * evaluated as one batched call of perturbed points (the host function only sees float
 * points, so every stencil point is rounded to float and the true float step is used):
 *   score_d                one row; accurate to float precision (~1e-7 relative)
 *   jvp_d, jacobian_d,     x ± h e_j (or x ± h v), h = FLT_EPSILON^(1/3) max(1, |x_j|)
 *   divergence_d           ≈ 4.9e-3 max(1, |x_j|): ~1e-4 relative to the Jacobian's scale
 *   hessians_d, grad_div_d 4-point mixed stencil x ± h e_i ± h e_j,
 *                          h = FLT_EPSILON^(1/4) max(1, |x_i|, |x_j|) ≈ 1.9e-2 ...: ~1e-3 relative
 *   hess_div_d             PI_EUNSUPPORTED: third derivatives of float outputs are noise
 *   logpdf_d               PI_EUNSUPPORTED (no density)
 * The errors grow where the callback's output varies on scales shorter than h (tiny σ) and,
 * for the denoiser and v views, like 1/σ² (the score is recovered as (α D − x)/σ²).
 *
 * Scratch. The stencils, the derivative products and the null conditions of a conditional
 * host take their memory from one buffer the model keeps (pi_cb_scratch, callback_impl.h):
 * it grows to the largest call and then serves every later call of that size without an
 * allocation, so step loops (the likelihood's ODE, the c1 sweep) allocate nothing. The model
 * keeps that much memory until it is destroyed (the Hessian stencil: about 32 d²(d + 1) bytes). */
#include "callback_impl.h"

#include <float.h>
#include <string.h>

typedef pi_callback_model callback;

/* Rows per host call when times are converted to timesteps (stack buffer, no allocation). */
#define PI_CALLBACK_TIMESTEP_ROWS 256

/* ---- the model's scratch (callback_impl.h) ------------------------------------------- */

#define PI_CB_ALIGN ((size_t)64)

void pi_cb_scratch_begin(const pi_model_t *m, pi_cb_scratch *sc)
{
    callback *cb = m->impl;
    int expected = 0;
    memset(sc, 0, sizeof *sc);
    sc->cb = cb;
    if (atomic_compare_exchange_strong_explicit(&cb->busy, &expected, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        sc->held = 1;
        sc->buf = cb->scratch;
        sc->cap = cb->scratch_bytes;
    }
}

void pi_cb_scratch_end(pi_cb_scratch *sc)
{
    callback *cb = sc->cb;
    if (cb == NULL)
        return;
    if (sc->held) {
        /* grow the model's buffer to this call's peak */
        if (sc->need > sc->cap) {
            pi_free(cb->scratch);
            cb->scratch = pi_malloc(sc->need);
            cb->scratch_bytes = cb->scratch != NULL ? sc->need : 0;
        }
        atomic_store_explicit(&cb->busy, 0, memory_order_release);
    }
    sc->cb = NULL;
}

static int in_buffer(const pi_cb_scratch *sc, const void *p)
{
    const unsigned char *q = p;
    return sc->buf != NULL && q >= sc->buf && q < sc->buf + sc->cap;
}

void *pi_cb_scratch_alloc(pi_cb_scratch *sc, size_t count, size_t size)
{
    size_t bytes;
    if (!pi_size_mul(count, size, &bytes) || bytes > SIZE_MAX - PI_CB_ALIGN)
        return NULL;
    bytes = bytes == 0 ? PI_CB_ALIGN : (bytes + PI_CB_ALIGN - 1) / PI_CB_ALIGN * PI_CB_ALIGN;
    size_t before = sc->used;
    if (before > SIZE_MAX - bytes)
        return NULL;
    sc->used = before + bytes;
    if (sc->used > sc->need)
        sc->need = sc->used;
    void *p = sc->buf != NULL && sc->used <= sc->cap ? sc->buf + before : pi_malloc(bytes);
    if (p == NULL) {
        sc->used = before;
        return NULL;
    }
    if (sc->depth < PI_CB_SCRATCH_DEPTH) {
        sc->piece[sc->depth].p = p;
        sc->piece[sc->depth].before = before;
        sc->depth++;
    } else {
        sc->untracked = 1;
    }
    return p;
}

void pi_cb_scratch_free(pi_cb_scratch *sc, void *p)
{
    if (p == NULL)
        return;
    if (!in_buffer(sc, p))
        pi_free(p);
    size_t i = sc->depth;
    while (i > 0 && sc->piece[i - 1].p != p)
        i--;
    if (i == 0)
        return; /* untracked */
    sc->piece[i - 1].p = NULL;
    if (sc->untracked)
        return;
    /* give back the room of the newest pieces that are free */
    while (sc->depth > 0 && sc->piece[sc->depth - 1].p == NULL) {
        sc->used = sc->piece[sc->depth - 1].before;
        sc->depth--;
    }
}

/* Call a conditional host; rows without conditions (cond NULL: the likelihood's stencils, an
 * unconditional pi_model_eval or sampler run) take the null condition: labels −1, vectors
 * zero, written into the call's scratch (no allocation once the model's buffer has grown).
 * The host's return value goes to *rc. */
static pi_status call_cond_host(const pi_model_t *m, const callback *cb, size_t n, const float *x,
                                const double *t, const pi_cond_rows *cond, float *out, int *rc,
                                pi_cb_scratch *sc)
{
    if (cond != NULL) {
        *rc = cb->cond_fn(n, m->dim, x, t, cond->labels, m->cond_dim, cond->vectors,
                          cond->row_data, out, cb->user_data);
        return PI_OK;
    }
    int32_t *labels = pi_cb_scratch_alloc(sc, n, sizeof *labels);
    float *vectors = m->cond_dim > 0 ? pi_cb_scratch_alloc(sc, n * m->cond_dim, sizeof *vectors)
                                     : NULL;
    if (labels == NULL || (m->cond_dim > 0 && vectors == NULL)) {
        pi_cb_scratch_free(sc, labels);
        pi_cb_scratch_free(sc, vectors);
        return pi_fail(PI_ENOMEM, "model callback: out of memory for %zu null conditions", n);
    }
    for (size_t i = 0; i < n; i++)
        labels[i] = PI_COND_NULL;
    for (size_t i = 0; i < n * m->cond_dim; i++)
        vectors[i] = 0.0f;
    *rc = cb->cond_fn(n, m->dim, x, t, labels, m->cond_dim, vectors, NULL, out, cb->user_data);
    pi_cb_scratch_free(sc, labels);
    pi_cb_scratch_free(sc, vectors);
    return PI_OK;
}

/* Call the host on n rows; out in the declared view. */
static pi_status call_host_cond(const pi_model_t *m, size_t n, const float *x, const double *t,
                                const pi_cond_rows *cond, float *out, pi_cb_scratch *sc)
{
    const callback *cb = m->impl;
    int rc = 0;
    if (cb->fn == NULL) {
        pi_status st = call_cond_host(m, cb, n, x, t, cond, out, &rc, sc);
        if (st != PI_OK)
            return st;
    } else if (!cb->timestep) {
        rc = cb->fn(n, m->dim, x, t, out, cb->user_data);
    } else {
        double tau[PI_CALLBACK_TIMESTEP_ROWS];
        for (size_t r0 = 0; r0 < n && rc == 0; r0 += PI_CALLBACK_TIMESTEP_ROWS) {
            size_t rows = n - r0 < PI_CALLBACK_TIMESTEP_ROWS ? n - r0 : PI_CALLBACK_TIMESTEP_ROWS;
            for (size_t i = 0; i < rows; i++)
                tau[i] = cb->tau_scale * t[r0 + i] + cb->tau_offset;
            rc = cb->fn(rows, m->dim, x + r0 * m->dim, tau, out + r0 * m->dim, cb->user_data);
        }
    }
    if (rc != 0)
        return pi_fail(PI_ECALLBACK, "model callback failed: it returned %d on a batch of %zu rows",
                       rc, n);
    size_t total = n * m->dim;
    size_t bad = pi_first_nonfinite_f(out, total);
    if (bad < total)
        return pi_fail(PI_ENUMERIC,
                       "model callback returned a non-finite value (%g) at row %zu, column %zu",
                       (double)out[bad], bad / m->dim, bad % m->dim);
    return PI_OK;
}

static pi_status cb_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                         float *out, const pi_eval_ctx *ctx)
{
    const pi_cond_rows *cond = ctx != NULL ? ctx->cond : NULL;
    const callback *cb = m->impl;
    if (cb->fn != NULL || cond != NULL) /* no scratch needed */
        return call_host_cond(m, n, x, t, cond, out, NULL);
    pi_cb_scratch sc;
    pi_cb_scratch_begin(m, &sc);
    pi_status st = call_host_cond(m, n, x, t, NULL, out, &sc);
    pi_cb_scratch_end(&sc);
    return st;
}

/* Evaluate the score (double) at `rows` float points sharing time t. s: rows × d. */
static pi_status batch_scores(const pi_model_t *m, size_t rows, const float *x, double t,
                              double *s, pi_cb_scratch *sc)
{
    size_t d = m->dim;
    float *out = pi_cb_scratch_alloc(sc, rows * d, sizeof(float));
    double *times = pi_cb_scratch_alloc(sc, rows, sizeof(double));
    double *xd = pi_cb_scratch_alloc(sc, d, sizeof(double));
    pi_status st = PI_OK;
    if (out == NULL || times == NULL || xd == NULL)
        st = pi_fail(PI_ENOMEM, "model callback: out of memory for %zu stencil points", rows);
    pi_sde_point p = {1.0, 0.0, 0.0, 0.0, 0.0};
    if (st == PI_OK)
        st = pi_sde_eval(&m->sde, t, &p);
    if (st == PI_OK && m->native_view != PI_VIEW_SCORE && !(p.sigma > 0.0 && p.g2 > 0.0))
        st = pi_fail(PI_EINVAL,
                     "model callback: t = %g gives sigma(t) = %g, g(t)^2 = %g; a callback in a view "
                     "other than the score needs both > 0",
                     t, p.sigma, p.g2);
    if (st == PI_OK) {
        for (size_t r = 0; r < rows; r++)
            times[r] = t;
        st = call_host_cond(m, rows, x, times, NULL, out, sc);
    }
    for (size_t r = 0; r < rows && st == PI_OK; r++) {
        for (size_t j = 0; j < d; j++) {
            xd[j] = x[r * d + j];
            s[r * d + j] = out[r * d + j];
        }
        pi_view_convert_at_d(m->native_view, PI_VIEW_SCORE, d, xd, &p, s + r * d, s + r * d);
    }
    pi_cb_scratch_free(sc, out);
    pi_cb_scratch_free(sc, times);
    pi_cb_scratch_free(sc, xd);
    return st;
}

pi_status pi_callback_score_sc(const pi_model_t *m, const double *x, double t, double *s,
                               pi_cb_scratch *sc)
{
    const callback *cbm = m->impl;
    if (cbm->deriv != NULL && (cbm->provided & PI_DERIVATIVE_VALUE))
        return pi_callback_value_d(m, x, t, s, sc);
    size_t d = m->dim;
    float *xf = pi_cb_scratch_alloc(sc, d, sizeof(float));
    if (xf == NULL)
        return pi_fail(PI_ENOMEM, "model callback: out of memory");
    for (size_t j = 0; j < d; j++)
        xf[j] = (float)x[j];
    pi_status st = batch_scores(m, 1, xf, t, s, sc);
    pi_cb_scratch_free(sc, xf);
    return st;
}

/* Rows 2j, 2j+1 = x ± h_j e_j; steps (true float differences) into step[j]. */
static pi_status jacobian_stencil(const pi_model_t *m, const double *x, double t, double *jac,
                                  int diagonal_only, double *div, pi_cb_scratch *sc)
{
    size_t d = m->dim, rows = 2 * d;
    float *pts = pi_cb_scratch_alloc(sc, rows * d, sizeof(float));
    double *s = pi_cb_scratch_alloc(sc, rows * d, sizeof(double));
    if (pts == NULL || s == NULL) {
        pi_cb_scratch_free(sc, pts);
        pi_cb_scratch_free(sc, s);
        return pi_fail(PI_ENOMEM, "model callback: out of memory for the Jacobian stencil");
    }
    double h0 = cbrt(FLT_EPSILON);
    for (size_t j = 0; j < d; j++) {
        float *p = pts + 2 * j * d, *q = p + d;
        for (size_t i = 0; i < d; i++)
            p[i] = q[i] = (float)x[i];
        double h = h0 * fmax(1.0, fabs(x[j]));
        p[j] = (float)(x[j] + h);
        q[j] = (float)(x[j] - h);
    }
    pi_status st = batch_scores(m, rows, pts, t, s, sc);
    double acc = 0.0;
    for (size_t j = 0; j < d && st == PI_OK; j++) {
        const float *p = pts + 2 * j * d, *q = p + d;
        double step = (double)p[j] - (double)q[j];
        const double *sp = s + 2 * j * d, *sm = sp + d;
        if (diagonal_only) {
            acc += (sp[j] - sm[j]) / step;
        } else {
            for (size_t i = 0; i < d; i++)
                jac[i * d + j] = (sp[i] - sm[i]) / step;
        }
    }
    if (st == PI_OK && diagonal_only)
        *div = acc;
    pi_cb_scratch_free(sc, pts);
    pi_cb_scratch_free(sc, s);
    return st;
}

/* Which derivatives the host gives (derivative callbacks replace the float stencils). */
static int has(const pi_model_t *m, unsigned bits)
{
    const callback *cb = m->impl;
    return cb->deriv != NULL && (cb->provided & bits) == bits;
}

static pi_status jvp_sc(const pi_model_t *m, const double *x, double t, const double *v,
                        double *out, pi_cb_scratch *sc)
{
    if (has(m, PI_DERIVATIVE_JVP))
        return pi_callback_jvp_exact(m, x, t, v, out, sc);
    size_t d = m->dim;
    double xmax = 0.0, vmax = 0.0;
    for (size_t j = 0; j < d; j++) {
        xmax = fmax(xmax, fabs(x[j]));
        vmax = fmax(vmax, fabs(v[j]));
    }
    if (vmax == 0.0) {
        memset(out, 0, d * sizeof *out);
        return PI_OK;
    }
    float *pts = pi_cb_scratch_alloc(sc, 2 * d, sizeof(float));
    double *s = pi_cb_scratch_alloc(sc, 2 * d, sizeof(double));
    if (pts == NULL || s == NULL) {
        pi_cb_scratch_free(sc, pts);
        pi_cb_scratch_free(sc, s);
        return pi_fail(PI_ENOMEM, "model callback: out of memory");
    }
    double h = cbrt(FLT_EPSILON) * fmax(1.0, xmax) / vmax;
    for (size_t j = 0; j < d; j++) {
        pts[j] = (float)(x[j] + h * v[j]);
        pts[d + j] = (float)(x[j] - h * v[j]);
    }
    pi_status st = batch_scores(m, 2, pts, t, s, sc);
    if (st == PI_OK)
        for (size_t i = 0; i < d; i++)
            out[i] = (s[i] - s[d + i]) / (2.0 * h);
    pi_cb_scratch_free(sc, pts);
    pi_cb_scratch_free(sc, s);
    return st;
}

/* hess[(k d + i) d + j] = ∂²s_k/∂x_i∂x_j from the 4-point stencil, one batched call. */
static pi_status hessians_sc(const pi_model_t *m, const double *x, double t, double *hess,
                             pi_cb_scratch *sc)
{
    if (has(m, PI_DERIVATIVE_VJP))
        return pi_callback_exact(m, PI_CB_EXACT_HESSIANS, x, t, hess, sc);
    size_t d = m->dim, pairs = d * (d + 1) / 2, rows = 4 * pairs;
    float *pts = pi_cb_scratch_alloc(sc, rows * d, sizeof(float));
    double *s = pi_cb_scratch_alloc(sc, rows * d, sizeof(double));
    if (pts == NULL || s == NULL) {
        pi_cb_scratch_free(sc, pts);
        pi_cb_scratch_free(sc, s);
        return pi_fail(PI_ENOMEM, "model callback: out of memory for the Hessian stencil (%zu points)",
                       rows);
    }
    double h0 = sqrt(sqrt(FLT_EPSILON));
    size_t row = 0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) {
            double h = h0 * fmax(1.0, fmax(fabs(x[i]), fabs(x[j])));
            for (int q = 0; q < 4; q++, row++) {
                float *p = pts + row * d;
                for (size_t l = 0; l < d; l++)
                    p[l] = (float)x[l];
                double si = q < 2 ? h : -h, sj = (q % 2 == 0) ? h : -h;
                if (i == j) {
                    p[i] = (float)(x[i] + si + sj);
                } else {
                    p[i] = (float)(x[i] + si);
                    p[j] = (float)(x[j] + sj);
                }
            }
        }
    pi_status st = batch_scores(m, rows, pts, t, s, sc);
    row = 0;
    for (size_t i = 0; i < d && st == PI_OK; i++)
        for (size_t j = i; j < d; j++, row += 4) {
            /* true float steps: (+,+), (+,−), (−,+), (−,−) */
            const float *pp = pts + row * d, *mm = pts + (row + 3) * d;
            double area;
            if (i == j) {
                double span = (double)pp[i] - (double)mm[i]; /* 4h */
                area = span * span / 4.0;                    /* (2h)² · ... = 4h² */
            } else {
                area = ((double)pp[i] - (double)mm[i]) * ((double)pp[j] - (double)mm[j]);
            }
            const double *a = s + row * d, *b = a + d, *c = b + d, *e = c + d;
            for (size_t k = 0; k < d; k++) {
                double v = (a[k] - b[k] - c[k] + e[k]) / area;
                hess[(k * d + i) * d + j] = v;
                hess[(k * d + j) * d + i] = v;
            }
        }
    pi_cb_scratch_free(sc, pts);
    pi_cb_scratch_free(sc, s);
    return st;
}

static pi_status grad_div_sc(const pi_model_t *m, const double *x, double t, double *grad,
                             pi_cb_scratch *sc)
{
    if (has(m, PI_DERIVATIVE_VJP))
        return pi_callback_exact(m, PI_CB_EXACT_GRAD_DIV, x, t, grad, sc);
    size_t d = m->dim;
    double *hess = pi_cb_scratch_alloc(sc, d * d, d * sizeof(double));
    if (hess == NULL)
        return pi_fail(PI_ENOMEM, "model callback: out of memory for %zu^3 Hessian entries", d);
    pi_status st = hessians_sc(m, x, t, hess, sc);
    for (size_t i = 0; i < d && st == PI_OK; i++) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += hess[(k * d + k) * d + i];
        grad[i] = acc;
    }
    pi_cb_scratch_free(sc, hess);
    return st;
}

/* The vtable entries: each holds the model's scratch for the whole call. */
#define PI_CB_WITH_SCRATCH(call)                                                               \
    do {                                                                                       \
        pi_cb_scratch sc_;                                                                     \
        pi_cb_scratch_begin(m, &sc_);                                                          \
        pi_cb_scratch *sc = &sc_;                                                              \
        pi_status st_ = (call);                                                                \
        pi_cb_scratch_end(&sc_);                                                               \
        return st_;                                                                            \
    } while (0)

pi_status pi_callback_score_d(const pi_model_t *m, const double *x, double t, double *s)
{
    PI_CB_WITH_SCRATCH(pi_callback_score_sc(m, x, t, s, sc));
}

static pi_status cb_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac)
{
    if (has(m, PI_DERIVATIVE_JVP))
        PI_CB_WITH_SCRATCH(pi_callback_exact(m, PI_CB_EXACT_JACOBIAN, x, t, jac, sc));
    PI_CB_WITH_SCRATCH(jacobian_stencil(m, x, t, jac, 0, NULL, sc));
}

static pi_status cb_divergence_d(const pi_model_t *m, const double *x, double t, double *div)
{
    if (has(m, PI_DERIVATIVE_JVP))
        PI_CB_WITH_SCRATCH(pi_callback_exact(m, PI_CB_EXACT_DIVERGENCE, x, t, div, sc));
    PI_CB_WITH_SCRATCH(jacobian_stencil(m, x, t, NULL, 1, div, sc));
}

static pi_status cb_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                          double *out)
{
    PI_CB_WITH_SCRATCH(jvp_sc(m, x, t, v, out, sc));
}

static pi_status cb_hessians_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    PI_CB_WITH_SCRATCH(hessians_sc(m, x, t, hess, sc));
}

static pi_status cb_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad)
{
    PI_CB_WITH_SCRATCH(grad_div_sc(m, x, t, grad, sc));
}

static pi_status cb_directional_d(const pi_model_t *m, const double *x, double t,
                                  const double *b, const double *c, size_t na, const double *a,
                                  double *s, double *sb, double *sc_, double *g, double *gb,
                                  double *gc, double *gbc, double *scratch)
{
    pi_cb_scratch hold;
    pi_cb_scratch_begin(m, &hold);
    pi_status st = pi_callback_directional_d(m, x, t, b, c, na, a, s, sb, sc_, g, gb, gc, gbc,
                                             scratch, &hold);
    pi_cb_scratch_end(&hold);
    return st;
}

static pi_status cb_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    if (has(m, PI_DERIVATIVE_VJP))
        PI_CB_WITH_SCRATCH(pi_callback_exact(m, PI_CB_EXACT_HESS_DIV, x, t, hess, sc));
    return pi_fail(PI_EUNSUPPORTED,
                   "model callback: the Hessian of the divergence needs third derivatives of the "
                   "host function, which finite differences of float outputs cannot give; give "
                   "derivative callbacks (pi_model_callback_set_derivatives, at least "
                   "PI_DERIVATIVE_VJP) or use a Gaussian-mixture, empirical or MLP model for "
                   "order-1 (WKB) likelihoods");
}

static void cb_destroy(pi_model_t *m)
{
    callback *cb = m->impl;
    if (cb != NULL)
        pi_free(cb->scratch);
    pi_free(m->impl);
    m->impl = NULL;
}

static const struct pi_model_type callback_type = {
    .name = "host-callback",
    .kind = PI_MODEL_KIND_CALLBACK,
    .serial = 1, /* host code: pi_model_fn promises no concurrent calls within one library call */
    .workspace_bytes = NULL,
    .eval = cb_eval,
    .score_d = pi_callback_score_d,
    .jvp_d = cb_jvp_d,
    .jacobian_d = cb_jacobian_d,
    .divergence_d = cb_divergence_d,
    .grad_div_d = cb_grad_div_d,
    .hessians_d = cb_hessians_d,
    .hess_div_d = cb_hess_div_d,
    .logpdf_d = NULL,
    .write_payload = NULL,
    .destroy = cb_destroy,
    .derivatives_d = NULL, /* one by one */
    .directional_scratch = NULL,
    .directional_d = cb_directional_d,
    /* not trainable: .params, .sigma_data, .train_workspace_bytes, .forward_train and
     * .backward stay NULL */
};

static pi_status create_callback(const char *fn_name, const pi_sde_t *sde, size_t dim, pi_view view,
                                 pi_model_fn fn, void *user_data, int timestep, pi_model_t **out)
{
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "%s: dim must be in [1, 2^20], got %zu", fn_name, dim);
    if ((int)view < (int)PI_VIEW_SCORE || (int)view > (int)PI_VIEW_FLOW)
        return pi_fail(PI_EINVAL,
                       "%s: view must be PI_VIEW_SCORE, _EPS, _DENOISED, _V or _FLOW (1..5), got %d",
                       fn_name, (int)view);
    double scale = 1.0, offset = 0.0;
    if (timestep) {
        if (sde->kind == PI_SDE_KIND_DISCRETE) {
            scale = (double)sde->discrete_n;
            offset = -1.0;
        } else if (sde->kind == PI_SDE_KIND_RECTIFIED_FLOW) {
            scale = 1000.0;
        } else {
            return pi_fail(PI_EINVAL, "%s: sde must be discrete or rectified flow (the kinds with "
                                      "a host timestep), got kind %d",
                           fn_name, (int)sde->kind);
        }
    }
    pi_model_t *m;
    pi_status st = pi_model_alloc(&callback_type, sde, dim, view, &m);
    if (st != PI_OK)
        return st;
    callback *cb = pi_calloc(1, sizeof *cb);
    if (cb == NULL) {
        pi_model_destroy(m);
        return pi_fail(PI_ENOMEM, "%s: out of memory", fn_name);
    }
    cb->fn = fn;
    cb->user_data = user_data;
    cb->timestep = timestep;
    cb->tau_scale = scale;
    cb->tau_offset = offset;
    m->impl = cb;
    *out = m;
    return PI_OK;
}

pi_status pi_model_create_callback(const pi_sde_t *sde, size_t dim, pi_view view, pi_model_fn fn,
                                   void *user_data, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(fn);
    PI_CHECK_NULL(out);
    return create_callback(__func__, sde, dim, view, fn, user_data, 0, out);
}

pi_status pi_model_create_callback_timestep(const pi_sde_t *sde, size_t dim, pi_view view,
                                            pi_model_fn fn, void *user_data, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(fn);
    PI_CHECK_NULL(out);
    return create_callback(__func__, sde, dim, view, fn, user_data, 1, out);
}

pi_status pi_model_create_callback_cond(const pi_sde_t *sde, size_t dim, pi_view view,
                                        size_t classes, size_t cond_dim, int unconditional,
                                        pi_model_cond_fn fn, void *user_data, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(fn);
    PI_CHECK_NULL(out);
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "pi_model_create_callback_cond: dim must be in [1, 2^20], got %zu",
                       dim);
    if ((int)view < (int)PI_VIEW_SCORE || (int)view > (int)PI_VIEW_FLOW)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_callback_cond: view must be PI_VIEW_SCORE, _EPS, _DENOISED "
                       "_V or _FLOW (1..5), got %d",
                       (int)view);
    if (classes == 0 && cond_dim == 0)
        return pi_fail(PI_EINVAL, "pi_model_create_callback_cond: classes or cond_dim must be >= 1 "
                                  "(use pi_model_create_callback for an unconditional model)");
    if (classes > PI_MAX_CLASSES || cond_dim > PI_MAX_COND_DIM)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_callback_cond: classes must be in [0, %d] and cond_dim in "
                       "[0, %d], got %zu and %zu",
                       PI_MAX_CLASSES, PI_MAX_COND_DIM, classes, cond_dim);
    if (unconditional != 0 && unconditional != 1)
        return pi_fail(PI_EINVAL, "pi_model_create_callback_cond: unconditional must be 0 or 1, got %d",
                       unconditional);
    pi_model_t *m = NULL;
    /* Arguments are valid: the unconditional constructor builds the model, its fn is replaced
     * below. */
    pi_status st = pi_model_create_callback(sde, dim, view, (pi_model_fn)(void (*)(void))fn,
                                            user_data, &m);
    if (st != PI_OK)
        return st;
    callback *cb = m->impl;
    cb->fn = NULL;
    cb->cond_fn = fn;
    m->classes = classes;
    m->cond_dim = cond_dim;
    m->unconditional = unconditional;
    *out = m;
    return PI_OK;
}

pi_status pi_model_callback_set_derivatives(pi_model_t *model, pi_model_derivative_fn fn,
                                            unsigned provided, void *user_data)
{
    PI_CHECK_NULL(model);
    if (model->type != &callback_type)
        return pi_fail(PI_EUNSUPPORTED, "%s: the model is not a callback model", __func__);
    const unsigned all = PI_DERIVATIVE_JVP | PI_DERIVATIVE_VJP | PI_DERIVATIVE_VJP_JVP |
                         PI_DERIVATIVE_VJP_JVP2 | PI_DERIVATIVE_VALUE;
    if ((provided & ~all) != 0)
        return pi_fail(PI_EINVAL, "%s: provided must be an or of PI_DERIVATIVE_JVP (1), _VJP (2), "
                       "_VJP_JVP (4), _VJP_JVP2 (8) and _VALUE (16), got %u", __func__, provided);
    if (fn == NULL && provided != 0)
        return pi_fail(PI_EINVAL, "%s: fn is NULL but provided is %u (give 0 to remove the "
                       "derivative callbacks)", __func__, provided);
    if (fn != NULL && provided == 0)
        return pi_fail(PI_EINVAL, "%s: provided must name at least one product", __func__);
    callback *cb = model->impl;
    cb->deriv = fn;
    cb->provided = fn != NULL ? provided : 0;
    cb->deriv_user = fn != NULL ? user_data : NULL;
    return PI_OK;
}

pi_status pi_model_callback_get_derivatives(const pi_model_t *model, unsigned *provided,
                                            unsigned *finite_difference)
{
    PI_CHECK_NULL(model);
    if (model->type != &callback_type)
        return pi_fail(PI_EUNSUPPORTED, "%s: the model is not a callback model", __func__);
    const callback *cb = model->impl;
    unsigned p = cb->deriv != NULL ? cb->provided : 0, fd = 0;
    if (p & PI_DERIVATIVE_VJP) {
        if (!(p & PI_DERIVATIVE_VJP_JVP))
            fd |= PI_DERIVATIVE_VJP_JVP;
        if (!(p & PI_DERIVATIVE_VJP_JVP2))
            fd |= PI_DERIVATIVE_VJP_JVP2;
    }
    if (provided != NULL)
        *provided = p;
    if (finite_difference != NULL)
        *finite_difference = fd;
    return PI_OK;
}
