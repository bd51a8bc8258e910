/* The model door (MATH.md §2): construction, public evaluation in any view, and the
 * double-precision derivative dispatch used by the likelihood, with finite-difference
 * fallbacks for whatever a kind does not supply.
 *
 * Finite-difference fallbacks. Every fallback is a central difference of the next lower
 * quantity. A quantity computed natively (a vtable entry, or exact algebra on one such as the
 * trace of an exact Jacobian) has relative noise η = DBL_EPSILON; a score that only comes from
 * the float `eval` has η = FLT_EPSILON; a central difference of a quantity with noise η has
 * noise η^(2/3). A difference of a quantity with noise η uses the step
 *     h_j = η^(1/3) · max(1, |x_j|)        (h = η^(1/3) · max(1, ‖x‖∞) / ‖v‖∞ along v)
 * which balances truncation (O(h²)) against rounding (O(η/h)). So, e.g., a Jacobian from an
 * exact double score uses h ≈ 6.1e-6 · max(1, |x_j|) and is good to ~1e-10 relative. */
#include "model_impl.h"

#include "core/philox.h"
#include "core/options.h"
#include "core/threads.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#define STACK_DOUBLES 4096 /* scratch kept on the stack (32 KiB): d <= 64 needs no heap */

/* ---- construction ------------------------------------------------------------------- */

pi_status pi_model_alloc(const struct pi_model_type *type, const pi_sde_t *sde, size_t dim,
                         pi_view native_view, pi_model_t **out)
{
    PI_CHECK_NULL(type);
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "pi_model_alloc: dim must be in [1, 2^20], got %zu", dim);
    pi_model_t *m = pi_calloc(1, sizeof *m);
    if (m == NULL)
        return pi_fail(PI_ENOMEM, "out of memory creating a %s model", type->name);
    pi_status st = pi_sde_copy_into(sde, &m->sde);
    if (st != PI_OK) {
        pi_free(m);
        return st;
    }
    m->type = type;
    m->dim = dim;
    m->native_view = native_view;
    m->threads = 1;
    m->impl = NULL;
    *out = m;
    return PI_OK;
}

void pi_model_destroy(pi_model_t *model)
{
    if (model == NULL)
        return;
    pi_lazy_pool_reset(&model->pool);
    if (model->type != NULL && model->type->destroy != NULL)
        model->type->destroy(model);
    pi_sde_release(&model->sde);
    pi_free(model);
}

pi_status pi_model_get_kind(const pi_model_t *model, pi_model_kind *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    *out = model->type->kind;
    return PI_OK;
}

pi_status pi_model_get_dim(const pi_model_t *model, size_t *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    *out = model->dim;
    return PI_OK;
}

pi_status pi_model_get_sde(const pi_model_t *model, const pi_sde_t **out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    *out = &model->sde;
    return PI_OK;
}

pi_status pi_model_set_threads(pi_model_t *model, int threads)
{
    PI_CHECK_NULL(model);
    pi_status st = pi_option_check_int(PI_OPTION_MODEL_THREADS, threads, __func__);
    if (st != PI_OK)
        return st;
    if (threads != model->threads)
        pi_lazy_pool_reset(&model->pool);
    model->threads = threads;
    return PI_OK;
}

pi_status pi_model_get_threads(const pi_model_t *model, int *threads)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(threads);
    *threads = model->threads;
    return PI_OK;
}

pi_status pi_model_pool(const pi_model_t *m, pi_pool **out)
{
    /* Internal mutability: the pool is a cache of threads, not part of the model's value. */
    return pi_lazy_pool_get(&((pi_model_t *)(uintptr_t)m)->pool, m->threads, out);
}

/* ---- batched float evaluation ------------------------------------------------------- */

size_t pi_model_workspace_bytes(const pi_model_t *m, size_t n)
{
    if (m == NULL || m->type->workspace_bytes == NULL)
        return 0;
    return m->type->workspace_bytes(m, n);
}

pi_status pi_model_eval_ctx(const pi_model_t *m, pi_view view, size_t n, const float *x,
                            const double *t, float *out, const pi_eval_ctx *ctx)
{
    pi_status st = m->type->eval(m, n, x, t, out, ctx);
    if (st != PI_OK || view == m->native_view)
        return st;
    /* (f, g²) only for the flow view: pi_sde_eval may call a custom SDE's coefficients. */
    int flow = view == PI_VIEW_FLOW || m->native_view == PI_VIEW_FLOW;
    pi_sde_point p = {1.0, 0.0, 0.0, 0.0, 0.0};
    double last_t = NAN;
    for (size_t i = 0; i < n; i++) {
        if (!(t[i] == last_t)) {
            st = flow ? pi_sde_eval(&m->sde, t[i], &p)
                      : pi_sde_eval_marginal(&m->sde, t[i], &p.alpha, &p.sigma);
            if (st != PI_OK)
                return st;
            last_t = t[i];
        }
        float *row = out + i * m->dim;
        pi_view_convert_at(m->native_view, view, 1, m->dim, x + i * m->dim, &p, row, row);
    }
    return PI_OK;
}

/* 64-byte aligned scratch for one public call. */
typedef struct aligned_block {
    void *raw;
    void *ptr;
} aligned_block;

static pi_status aligned_alloc_block(size_t bytes, aligned_block *b, const char *what)
{
    b->raw = NULL;
    b->ptr = NULL;
    if (bytes == 0)
        return PI_OK;
    if (bytes > SIZE_MAX - 64)
        return pi_fail(PI_ENOMEM, "workspace for %s is too large (%zu bytes)", what, bytes);
    b->raw = pi_malloc(bytes + 64);
    if (b->raw == NULL)
        return pi_fail(PI_ENOMEM, "out of memory allocating %zu bytes of workspace for %s",
                       bytes, what);
    uintptr_t p = ((uintptr_t)b->raw + 63u) & ~(uintptr_t)63u;
    b->ptr = (void *)p;
    return PI_OK;
}

/* Argument checks shared by the public per-point functions. */
static pi_status check_model_points(const char *fn, const pi_model_t *m, size_t n,
                                    const float *x, const double *t)
{
    size_t total;
    if (n == 0 || !pi_size_mul(n, m->dim, &total))
        return pi_fail(PI_EINVAL, "%s: n must be >= 1 with n*dim <= 2^40, got n = %zu (dim = %zu)",
                       fn, n, m->dim);
    size_t bad = pi_first_nonfinite_f(x, total);
    if (bad < total)
        return pi_fail(PI_EINVAL, "%s: x must be finite, got %g at row %zu, column %zu", fn,
                       (double)x[bad], bad / m->dim, bad % m->dim);
    double last_t = NAN;
    for (size_t i = 0; i < n; i++) {
        double ti = t[i];
        if (ti == last_t)
            continue;
        if (!isfinite(ti) || !(ti > 0.0) || ti > m->sde.t_max)
            return pi_fail(PI_EINVAL, "%s: t[%zu] must be in (0, %g] (the SDE's range), got %g",
                           fn, i, m->sde.t_max, ti);
        double alpha, sigma;
        pi_status st = pi_sde_eval_marginal(&m->sde, ti, &alpha, &sigma);
        if (st != PI_OK)
            return st;
        if (!(sigma > 0.0) || !(alpha > 0.0) || !isfinite(alpha) || !isfinite(sigma))
            return pi_fail(PI_EINVAL,
                           "%s: t[%zu] = %g gives alpha = %g, sigma = %g; need sigma(t) > 0", fn,
                           i, ti, alpha, sigma);
        last_t = ti;
    }
    return PI_OK;
}

static pi_status check_view(const char *fn, pi_view view)
{
    if ((int)view < (int)PI_VIEW_SCORE || (int)view > (int)PI_VIEW_FLOW)
        return pi_fail(PI_EINVAL, "%s: view must be PI_VIEW_SCORE, _EPS, _DENOISED, _V or _FLOW "
                                  "(1..5), got %d",
                       fn, (int)view);
    return PI_OK;
}

pi_status pi_model_eval(const pi_model_t *model, pi_view view, size_t n, const float *x,
                        const double *t, float *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    pi_status st = check_view(__func__, view);
    if (st == PI_OK)
        st = check_model_points(__func__, model, n, x, t);
    if (st != PI_OK)
        return st;
    if (pi_model_is_conditional(model) && !model->unconditional)
        return pi_fail(PI_EINVAL, "%s: the model has no unconditional branch; evaluate it with "
                                  "pi_model_eval_cond", __func__);
    /* The view conversion reads x after the kind has written out. */
    uintptr_t xb = (uintptr_t)x, ob = (uintptr_t)out, bytes = n * model->dim * sizeof(float);
    if (xb < ob + bytes && ob < xb + bytes)
        return pi_fail(PI_EINVAL, "pi_model_eval: out must not overlap x");
    aligned_block ws;
    st = aligned_alloc_block(pi_model_workspace_bytes(model, n), &ws, "pi_model_eval");
    if (st != PI_OK)
        return st;
    pi_eval_ctx ctx = {ws.ptr, pi_model_workspace_bytes(model, n), model->threads, NULL, NULL};
    /* A serial model (host callback) runs on the caller: it needs no workers. */
    if (!model->type->serial)
        st = pi_model_pool(model, &ctx.pool);
    if (st == PI_OK)
        st = pi_model_eval_ctx(model, view, n, x, t, out, &ctx);
    pi_free(ws.raw);
    return st;
}

/* ---- conditions (issue 15) ------------------------------------------------------------ */

pi_status pi_model_check_conditions(const char *fn, const pi_model_t *m, size_t n,
                                    const int32_t *labels, size_t cond_dim, const float *cond)
{
    if (!pi_model_is_conditional(m) && (labels != NULL || cond != NULL || cond_dim != 0))
        return pi_fail(PI_EINVAL, "%s: the model takes no condition (a %s model without classes "
                                  "or condition vector)", fn, m->type->name);
    if (labels != NULL && m->classes == 0)
        return pi_fail(PI_EINVAL, "%s: labels given but the model has no classes", fn);
    if (cond_dim != m->cond_dim || (cond != NULL) != (cond_dim != 0))
        return pi_fail(PI_EINVAL,
                       "%s: cond_dim must be the model's condition length %zu with a non-NULL "
                       "cond (or 0 with NULL), got cond_dim = %zu and cond %s",
                       fn, m->cond_dim, cond_dim, cond != NULL ? "non-NULL" : "NULL");
    for (size_t i = 0; labels != NULL && i < n; i++) {
        int32_t l = labels[i];
        if (l == PI_COND_NULL && m->unconditional)
            continue;
        if (l < 0 || (size_t)l >= m->classes)
            return pi_fail(PI_EINVAL, "%s: labels[%zu] must be in [0, %zu)%s, got %ld", fn, i,
                           m->classes, m->unconditional ? " or -1 (the null condition)" : "",
                           (long)l);
    }
    size_t total = n * cond_dim;
    size_t bad = cond != NULL ? pi_first_nonfinite_f(cond, total) : total;
    if (bad < total)
        return pi_fail(PI_EINVAL, "%s: cond must be finite, got %g at row %zu, column %zu", fn,
                       (double)cond[bad], bad / cond_dim, bad % cond_dim);
    return PI_OK;
}

pi_status pi_model_get_conditions(const pi_model_t *model, size_t *classes, size_t *cond_dim,
                                  int *unconditional)
{
    PI_CHECK_NULL(model);
    if (classes != NULL)
        *classes = model->classes;
    if (cond_dim != NULL)
        *cond_dim = model->cond_dim;
    if (unconditional != NULL)
        *unconditional = pi_model_is_conditional(model) ? model->unconditional : 1;
    return PI_OK;
}

pi_status pi_model_eval_cond(const pi_model_t *model, pi_view view, size_t n, const float *x,
                             const double *t, const int32_t *labels, size_t cond_dim,
                             const float *cond, void *const *row_data, float *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    /* No condition at all: every row takes the null condition (the header's promise), for a
     * model with condition vectors too, whose cond_dim would otherwise be demanded. */
    if (labels == NULL && cond == NULL && cond_dim == 0 && row_data == NULL &&
        pi_model_is_conditional(model))
        return pi_model_eval(model, view, n, x, t, out);
    pi_status st = check_view(__func__, view);
    if (st == PI_OK)
        st = check_model_points(__func__, model, n, x, t);
    if (st == PI_OK)
        st = pi_model_check_conditions(__func__, model, n, labels, cond_dim, cond);
    if (st != PI_OK)
        return st;
    if (model->classes > 0 && labels == NULL && cond != NULL)
        return pi_fail(PI_EINVAL, "%s: the model has classes; give labels with cond", __func__);
    if (pi_model_is_conditional(model) && labels == NULL && cond == NULL && !model->unconditional)
        return pi_fail(PI_EINVAL, "%s: the model has no unconditional branch; give labels or cond",
                       __func__);
    uintptr_t xb = (uintptr_t)x, ob = (uintptr_t)out, bytes = n * model->dim * sizeof(float);
    if (xb < ob + bytes && ob < xb + bytes)
        return pi_fail(PI_EINVAL, "%s: out must not overlap x", __func__);
    /* Rows without labels are conditional rows (label 0 stands for "no classes") unless the
     * caller gave nothing at all (then all rows take the null condition). */
    int32_t *own_labels = NULL;
    if (pi_model_is_conditional(model) && labels == NULL) {
        own_labels = pi_alloc_array(n, sizeof *own_labels);
        if (own_labels == NULL)
            return pi_fail(PI_ENOMEM, "%s: out of memory", __func__);
        for (size_t i = 0; i < n; i++)
            own_labels[i] = cond != NULL ? 0 : PI_COND_NULL;
    }
    pi_cond_rows rows = {labels != NULL ? labels : own_labels, cond, row_data};
    aligned_block ws;
    st = aligned_alloc_block(pi_model_workspace_bytes(model, n), &ws, __func__);
    if (st != PI_OK) {
        pi_free(own_labels);
        return st;
    }
    pi_eval_ctx ctx = {ws.ptr, pi_model_workspace_bytes(model, n), model->threads, NULL,
                       pi_model_is_conditional(model) ? &rows : NULL};
    if (!model->type->serial)
        st = pi_model_pool(model, &ctx.pool);
    if (st == PI_OK)
        st = pi_model_eval_ctx(model, view, n, x, t, out, &ctx);
    pi_free(ws.raw);
    pi_free(own_labels);
    return st;
}

pi_status pi_model_eval_at(const pi_model_t *model, pi_view view, size_t n, const float *x,
                           double t, float *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(out);
    if (n == 0 || n > PI_MAX_ELEMENTS)
        return pi_fail(PI_EINVAL, "pi_model_eval_at: n must be in [1, 2^40], got %zu", n);
    double *times = pi_alloc_array(n, sizeof *times);
    if (times == NULL)
        return pi_fail(PI_ENOMEM, "pi_model_eval_at: out of memory for %zu times", n);
    for (size_t i = 0; i < n; i++)
        times[i] = t;
    pi_status st = pi_model_eval(model, view, n, x, times, out);
    pi_free(times);
    return st;
}

/* ---- double-precision dispatch ------------------------------------------------------ */

/* Scratch: the stack buffer when it is big enough, else the heap. */
static double *scratch_get(double *stack, size_t need, double **heap)
{
    *heap = NULL;
    if (need <= STACK_DOUBLES)
        return stack;
    *heap = pi_alloc_array(need, sizeof(double));
    return *heap;
}

static pi_status scratch_fail(const char *fn, size_t need)
{
    return pi_fail(PI_ENOMEM, "%s: out of memory for %zu doubles of scratch", fn, need);
}

/* Relative noise of each quantity as this model computes it (see the file comment). */
static double noise_score(const pi_model_t *m)
{
    return m->type->score_d != NULL ? DBL_EPSILON : FLT_EPSILON;
}

static double noise_after_difference(double eta) { return cbrt(eta * eta); }

static double noise_jacobian(const pi_model_t *m)
{
    if (m->type->jacobian_d != NULL || m->type->jvp_d != NULL)
        return DBL_EPSILON;
    return noise_after_difference(noise_score(m));
}

static double noise_divergence(const pi_model_t *m)
{
    if (m->type->divergence_d != NULL)
        return DBL_EPSILON;
    return noise_jacobian(m);
}

static double noise_grad_div(const pi_model_t *m)
{
    if (m->type->grad_div_d != NULL || m->type->hessians_d != NULL)
        return DBL_EPSILON;
    return noise_after_difference(noise_divergence(m));
}

static double fd_step(double eta, double xj)
{
    double h = cbrt(eta) * fmax(1.0, fabs(xj));
    /* Make x ± h exactly representable so the difference quotient uses the true step. */
    volatile double xp = xj + h;
    return xp - xj;
}

static pi_status score_from_eval(const pi_model_t *m, const double *x, double t, double *s)
{
    size_t d = m->dim;
    size_t wsb = pi_model_workspace_bytes(m, 1);
    aligned_block ws;
    pi_status st = aligned_alloc_block(wsb, &ws, "pi_model_score_d");
    if (st != PI_OK)
        return st;
    float *buf = pi_alloc_array(2 * d, sizeof(float));
    if (buf == NULL) {
        pi_free(ws.raw);
        return pi_fail(PI_ENOMEM, "pi_model_score_d: out of memory");
    }
    for (size_t j = 0; j < d; j++)
        buf[j] = (float)x[j];
    pi_eval_ctx ctx = {ws.ptr, wsb, 1, NULL, NULL};
    st = m->type->eval(m, 1, buf, &t, buf + d, &ctx);
    pi_sde_point p;
    if (st == PI_OK)
        st = pi_sde_eval(&m->sde, t, &p);
    if (st == PI_OK) {
        for (size_t j = 0; j < d; j++)
            s[j] = buf[d + j];
        pi_view_convert_at_d(m->native_view, PI_VIEW_SCORE, d, x, &p, s, s);
    }
    pi_free(buf);
    pi_free(ws.raw);
    return st;
}

pi_status pi_model_score_d(const pi_model_t *m, const double *x, double t, double *s)
{
    if (m->type->score_d != NULL)
        return m->type->score_d(m, x, t, s);
    return score_from_eval(m, x, t, s);
}

pi_status pi_model_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                         double *out)
{
    if (m->type->jvp_d != NULL)
        return m->type->jvp_d(m, x, t, v, out);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    pi_status st = PI_OK;
    if (m->type->jacobian_d != NULL) {
        double *jac = scratch_get(stack, d * d, &heap);
        if (jac == NULL)
            return scratch_fail(__func__, d * d);
        st = m->type->jacobian_d(m, x, t, jac);
        if (st == PI_OK)
            for (size_t i = 0; i < d; i++) {
                double acc = 0.0;
                for (size_t j = 0; j < d; j++)
                    acc += jac[i * d + j] * v[j];
                out[i] = acc;
            }
        pi_free(heap);
        return st;
    }
    /* Directional central difference of the score. */
    double *buf = scratch_get(stack, 3 * d, &heap);
    if (buf == NULL)
        return scratch_fail(__func__, 3 * d);
    double *xp = buf, *sp = buf + d, *sm = buf + 2 * d;
    double xmax = 0.0, vmax = 0.0;
    for (size_t j = 0; j < d; j++) {
        xmax = fmax(xmax, fabs(x[j]));
        vmax = fmax(vmax, fabs(v[j]));
    }
    if (vmax == 0.0) {
        memset(out, 0, d * sizeof *out);
        pi_free(heap);
        return PI_OK;
    }
    double h = cbrt(noise_score(m)) * fmax(1.0, xmax) / vmax;
    for (size_t j = 0; j < d; j++)
        xp[j] = x[j] + h * v[j];
    st = pi_model_score_d(m, xp, t, sp);
    for (size_t j = 0; j < d && st == PI_OK; j++)
        xp[j] = x[j] - h * v[j];
    if (st == PI_OK)
        st = pi_model_score_d(m, xp, t, sm);
    if (st == PI_OK)
        for (size_t i = 0; i < d; i++)
            out[i] = (sp[i] - sm[i]) / (2.0 * h);
    pi_free(heap);
    return st;
}

/* Column j of ∂s/∂x by a central difference of the score. */
static pi_status jacobian_by_difference(const pi_model_t *m, const double *x, double t,
                                        double *jac, double *buf)
{
    size_t d = m->dim;
    double *xp = buf, *sp = buf + d, *sm = buf + 2 * d;
    double eta = noise_score(m);
    memcpy(xp, x, d * sizeof *xp);
    for (size_t j = 0; j < d; j++) {
        double h = fd_step(eta, x[j]);
        xp[j] = x[j] + h;
        pi_status st = pi_model_score_d(m, xp, t, sp);
        xp[j] = x[j] - h;
        if (st == PI_OK)
            st = pi_model_score_d(m, xp, t, sm);
        xp[j] = x[j];
        if (st != PI_OK)
            return st;
        for (size_t i = 0; i < d; i++)
            jac[i * d + j] = (sp[i] - sm[i]) / (2.0 * h);
    }
    return PI_OK;
}

pi_status pi_model_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac)
{
    if (m->type->jacobian_d != NULL)
        return m->type->jacobian_d(m, x, t, jac);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    double *buf = scratch_get(stack, 3 * d, &heap);
    if (buf == NULL)
        return scratch_fail(__func__, 3 * d);
    pi_status st = PI_OK;
    if (m->type->jvp_d != NULL) {
        double *e = buf, *col = buf + d;
        memset(e, 0, d * sizeof *e);
        for (size_t j = 0; j < d && st == PI_OK; j++) {
            e[j] = 1.0;
            st = m->type->jvp_d(m, x, t, e, col);
            e[j] = 0.0;
            for (size_t i = 0; i < d && st == PI_OK; i++)
                jac[i * d + j] = col[i];
        }
    } else {
        st = jacobian_by_difference(m, x, t, jac, buf);
    }
    pi_free(heap);
    return st;
}

pi_status pi_model_divergence_d(const pi_model_t *m, const double *x, double t, double *div)
{
    if (m->type->divergence_d != NULL)
        return m->type->divergence_d(m, x, t, div);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    pi_status st = PI_OK;
    double acc = 0.0;
    if (m->type->jacobian_d != NULL) {
        double *jac = scratch_get(stack, d * d, &heap);
        if (jac == NULL)
            return scratch_fail(__func__, d * d);
        st = m->type->jacobian_d(m, x, t, jac);
        for (size_t i = 0; i < d && st == PI_OK; i++)
            acc += jac[i * d + i];
    } else if (m->type->jvp_d != NULL) {
        double *buf = scratch_get(stack, 2 * d, &heap);
        if (buf == NULL)
            return scratch_fail(__func__, 2 * d);
        double *e = buf, *col = buf + d;
        memset(e, 0, d * sizeof *e);
        for (size_t j = 0; j < d && st == PI_OK; j++) {
            e[j] = 1.0;
            st = m->type->jvp_d(m, x, t, e, col);
            e[j] = 0.0;
            acc += col[j];
        }
    } else {
        /* Only the diagonal of the Jacobian is needed: Σ_j ∂s_j/∂x_j. */
        double *buf = scratch_get(stack, 3 * d, &heap);
        if (buf == NULL)
            return scratch_fail(__func__, 3 * d);
        double *xp = buf, *sp = buf + d, *sm = buf + 2 * d;
        double eta = noise_score(m);
        memcpy(xp, x, d * sizeof *xp);
        for (size_t j = 0; j < d && st == PI_OK; j++) {
            double h = fd_step(eta, x[j]);
            xp[j] = x[j] + h;
            st = pi_model_score_d(m, xp, t, sp);
            xp[j] = x[j] - h;
            if (st == PI_OK)
                st = pi_model_score_d(m, xp, t, sm);
            xp[j] = x[j];
            if (st == PI_OK)
                acc += (sp[j] - sm[j]) / (2.0 * h);
        }
    }
    pi_free(heap);
    if (st == PI_OK)
        *div = acc;
    return st;
}

pi_status pi_model_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad)
{
    if (m->type->grad_div_d != NULL)
        return m->type->grad_div_d(m, x, t, grad);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    pi_status st = PI_OK;
    if (m->type->hessians_d != NULL) {
        /* ∂_i(∇·s) = Σ_k ∂²s_k/∂x_k∂x_i. */
        size_t need = d * d * d;
        double *hess = scratch_get(stack, need, &heap);
        if (hess == NULL)
            return scratch_fail(__func__, need);
        st = m->type->hessians_d(m, x, t, hess);
        for (size_t i = 0; i < d && st == PI_OK; i++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += hess[(k * d + k) * d + i];
            grad[i] = acc;
        }
        pi_free(heap);
        return st;
    }
    double *xp = scratch_get(stack, d, &heap);
    if (xp == NULL)
        return scratch_fail(__func__, d);
    double eta = noise_divergence(m);
    memcpy(xp, x, d * sizeof *xp);
    for (size_t j = 0; j < d && st == PI_OK; j++) {
        double h = fd_step(eta, x[j]), dp = 0.0, dm = 0.0;
        xp[j] = x[j] + h;
        st = pi_model_divergence_d(m, xp, t, &dp);
        xp[j] = x[j] - h;
        if (st == PI_OK)
            st = pi_model_divergence_d(m, xp, t, &dm);
        xp[j] = x[j];
        grad[j] = (dp - dm) / (2.0 * h);
    }
    pi_free(heap);
    return st;
}

pi_status pi_model_hessians_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    if (m->type->hessians_d != NULL)
        return m->type->hessians_d(m, x, t, hess);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    size_t need = 2 * d * d + d;
    double *buf = scratch_get(stack, need, &heap);
    if (buf == NULL)
        return scratch_fail(__func__, need);
    double *jp = buf, *jm = buf + d * d, *xp = buf + 2 * d * d;
    double eta = noise_jacobian(m);
    pi_status st = PI_OK;
    memcpy(xp, x, d * sizeof *xp);
    for (size_t j = 0; j < d && st == PI_OK; j++) {
        double h = fd_step(eta, x[j]);
        xp[j] = x[j] + h;
        st = pi_model_jacobian_d(m, xp, t, jp);
        xp[j] = x[j] - h;
        if (st == PI_OK)
            st = pi_model_jacobian_d(m, xp, t, jm);
        xp[j] = x[j];
        for (size_t k = 0; k < d && st == PI_OK; k++)
            for (size_t i = 0; i < d; i++)
                hess[(k * d + i) * d + j] = (jp[k * d + i] - jm[k * d + i]) / (2.0 * h);
    }
    /* Symmetrise each component's Hessian (exact ones are symmetric). */
    for (size_t k = 0; k < d && st == PI_OK; k++)
        for (size_t i = 0; i < d; i++)
            for (size_t j = i + 1; j < d; j++) {
                double *a = &hess[(k * d + i) * d + j], *b = &hess[(k * d + j) * d + i];
                double avg = 0.5 * (*a + *b);
                *a = avg;
                *b = avg;
            }
    pi_free(heap);
    return st;
}

pi_status pi_model_derivatives_d(const pi_model_t *m, const double *x, double t, double *s,
                                 double *jac, double *div, double *grad_div, double *hess,
                                 double *hess_div)
{
    if (m->type->derivatives_d != NULL)
        return m->type->derivatives_d(m, x, t, s, jac, div, grad_div, hess, hess_div);
    pi_status st = PI_OK;
    if (s != NULL)
        st = pi_model_score_d(m, x, t, s);
    if (st == PI_OK && jac != NULL)
        st = pi_model_jacobian_d(m, x, t, jac);
    if (st == PI_OK && div != NULL)
        st = pi_model_divergence_d(m, x, t, div);
    if (st == PI_OK && grad_div != NULL)
        st = pi_model_grad_div_d(m, x, t, grad_div);
    if (st == PI_OK && hess != NULL)
        st = pi_model_hessians_d(m, x, t, hess);
    if (st == PI_OK && hess_div != NULL)
        st = pi_model_hess_div_d(m, x, t, hess_div);
    return st;
}

pi_status pi_model_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    if (m->type->hess_div_d != NULL)
        return m->type->hess_div_d(m, x, t, hess);
    size_t d = m->dim;
    double stack[STACK_DOUBLES], *heap;
    double *buf = scratch_get(stack, 3 * d, &heap);
    if (buf == NULL)
        return scratch_fail(__func__, 3 * d);
    double *gp = buf, *gm = buf + d, *xp = buf + 2 * d;
    double eta = noise_grad_div(m);
    pi_status st = PI_OK;
    memcpy(xp, x, d * sizeof *xp);
    for (size_t j = 0; j < d && st == PI_OK; j++) {
        double h = fd_step(eta, x[j]);
        xp[j] = x[j] + h;
        st = pi_model_grad_div_d(m, xp, t, gp);
        xp[j] = x[j] - h;
        if (st == PI_OK)
            st = pi_model_grad_div_d(m, xp, t, gm);
        xp[j] = x[j];
        for (size_t i = 0; i < d && st == PI_OK; i++)
            hess[i * d + j] = (gp[i] - gm[i]) / (2.0 * h);
    }
    for (size_t i = 0; i < d && st == PI_OK; i++)
        for (size_t j = i + 1; j < d; j++) {
            double avg = 0.5 * (hess[i * d + j] + hess[j * d + i]);
            hess[i * d + j] = avg;
            hess[j * d + i] = avg;
        }
    pi_free(heap);
    return st;
}

pi_status pi_model_logpdf_d(const pi_model_t *m, const double *x, double t, double *logp)
{
    if (m->type->logpdf_d == NULL)
        return pi_fail(PI_EUNSUPPORTED,
                       "log-density: a %s model has no exact log p_t (only Gaussian-mixture and "
                       "empirical models do)",
                       m->type->name);
    return m->type->logpdf_d(m, x, t, logp);
}

/* ---- public per-point functions (rows in parallel on the model's threads) ----------- */

typedef struct row_job {
    const pi_model_t *m;
    const float *x;
    const double *t;
    const float *v;     /* jvp */
    float *out_f;       /* jvp: n × dim */
    double *out_d;      /* divergence / logpdf: n */
    double *scratch;    /* per worker: 3 × dim doubles */
    int what;           /* JOB_* */
    pi_divergence mode;
    size_t probes;
    uint64_t seed;
    size_t n, chunk;
} row_job;

enum { JOB_DIVERGENCE, JOB_JVP, JOB_LOGPDF };

static pi_status row_task(size_t task, int worker, void *ctx)
{
    row_job *job = ctx;
    const pi_model_t *m = job->m;
    size_t d = m->dim;
    double *xd = job->scratch + (size_t)worker * 3 * d, *z = xd + d, *jz = xd + 2 * d;
    size_t begin = task * job->chunk;
    size_t end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
    for (size_t i = begin; i < end; i++) {
        for (size_t j = 0; j < d; j++)
            xd[j] = job->x[i * d + j];
        double t = job->t[i];
        pi_status st = PI_OK;
        switch (job->what) {
        case JOB_LOGPDF: st = pi_model_logpdf_d(m, xd, t, &job->out_d[i]); break;
        case JOB_JVP:
            for (size_t j = 0; j < d; j++)
                z[j] = job->v[i * d + j];
            st = pi_model_jvp_d(m, xd, t, z, jz);
            for (size_t j = 0; j < d && st == PI_OK; j++)
                job->out_f[i * d + j] = (float)jz[j];
            break;
        case JOB_DIVERGENCE:
            if (job->mode == PI_DIVERGENCE_EXACT) {
                st = pi_model_divergence_d(m, xd, t, &job->out_d[i]);
                break;
            }
            double acc = 0.0;
            for (size_t p = 0; p < job->probes && st == PI_OK; p++) {
                /* Probe p of row i: Philox (seed, PI_STREAM_PROBE, sample i, step p). */
                if (job->mode == PI_DIVERGENCE_HUTCHINSON_GAUSSIAN) {
                    pi_rng_normal_d(job->seed, PI_STREAM_PROBE, i, (uint32_t)p, d, z);
                } else {
                    pi_rng_uniform_d(job->seed, PI_STREAM_PROBE, i, (uint32_t)p, d, z);
                    for (size_t j = 0; j < d; j++)
                        z[j] = z[j] <= 0.5 ? -1.0 : 1.0;
                }
                st = pi_model_jvp_d(m, xd, t, z, jz);
                for (size_t j = 0; j < d; j++)
                    acc += z[j] * jz[j];
            }
            job->out_d[i] = acc / (double)job->probes;
            break;
        }
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

/* Run a row job on the model's threads; results go to temporaries so the caller's buffer is
 * untouched on failure. */
static pi_status run_rows(row_job *job, void *out, size_t out_bytes)
{
    const pi_model_t *m = job->m;
    /* A host callback is never called concurrently from within one call. */
    int threads = m->type->serial ? 1 : m->threads;
    if ((size_t)threads > job->n)
        threads = (int)job->n;
    size_t d = m->dim;
    pi_pool *pool = NULL;
    if (threads > 1) {
        pi_status st = pi_model_pool(m, &pool);
        if (st != PI_OK)
            return st;
    }
    double *scratch = pi_alloc_array((size_t)threads * 3, d * sizeof(double));
    void *tmp = pi_malloc(out_bytes);
    if (scratch == NULL || tmp == NULL) {
        pi_free(scratch);
        pi_free(tmp);
        return pi_fail(PI_ENOMEM, "out of memory evaluating %zu points", job->n);
    }
    job->scratch = scratch;
    if (job->what == JOB_JVP)
        job->out_f = tmp;
    else
        job->out_d = tmp;
    job->chunk = (job->n + (size_t)threads * 4 - 1) / ((size_t)threads * 4);
    if (job->chunk == 0)
        job->chunk = 1;
    size_t tasks = (job->n + job->chunk - 1) / job->chunk;
    pi_status st = pi_pool_run(pool, threads, tasks, row_task, job);
    if (st == PI_OK)
        memcpy(out, tmp, out_bytes);
    pi_free(scratch);
    pi_free(tmp);
    return st;
}

pi_status pi_model_divergence(const pi_model_t *model, pi_divergence mode, size_t probes,
                              uint64_t seed, size_t n, const float *x, const double *t, double *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    pi_status mode_st = pi_option_check_int(PI_OPTION_LIKELIHOOD_DIVERGENCE, (int)mode, __func__);
    if (mode_st != PI_OK)
        return mode_st;
    if (mode != PI_DIVERGENCE_EXACT && (probes == 0 || probes > UINT32_MAX))
        return pi_fail(PI_EINVAL, "pi_model_divergence: probes must be in [1, 2^32 - 1] for a "
                                  "Hutchinson estimate, got %zu",
                       probes);
    pi_status st = check_model_points(__func__, model, n, x, t);
    if (st != PI_OK)
        return st;
    row_job job = {model, x, t, NULL, NULL, NULL, NULL, JOB_DIVERGENCE, mode, probes, seed, n, 0};
    return run_rows(&job, out, n * sizeof(double));
}

pi_status pi_model_jvp(const pi_model_t *model, size_t n, const float *x, const double *t,
                       const float *v, float *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(v);
    PI_CHECK_NULL(out);
    pi_status st = check_model_points(__func__, model, n, x, t);
    if (st != PI_OK)
        return st;
    size_t total = n * model->dim;
    size_t bad = pi_first_nonfinite_f(v, total);
    if (bad < total)
        return pi_fail(PI_EINVAL, "pi_model_jvp: v must be finite, got %g at row %zu, column %zu",
                       (double)v[bad], bad / model->dim, bad % model->dim);
    row_job job = {model, x, t, v, NULL, NULL, NULL, JOB_JVP, PI_DIVERGENCE_EXACT, 0, 0, n, 0};
    return run_rows(&job, out, total * sizeof(float));
}

pi_status pi_model_logpdf(const pi_model_t *model, size_t n, const float *x, const double *t,
                          double *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    if (model->type->logpdf_d == NULL)
        return pi_fail(PI_EUNSUPPORTED,
                       "pi_model_logpdf: a %s model has no exact log-density (only "
                       "Gaussian-mixture and empirical models do)",
                       model->type->name);
    pi_status st = check_model_points(__func__, model, n, x, t);
    if (st != PI_OK)
        return st;
    row_job job = {model, x, t, NULL, NULL, NULL, NULL, JOB_LOGPDF, PI_DIVERGENCE_EXACT, 0, 0, n, 0};
    return run_rows(&job, out, n * sizeof(double));
}

/* ---- parameters and training (trainable kinds, through the vtable) ------------------ */

float *pi_model_param_vector(const pi_model_t *m, size_t *count)
{
    size_t have = 0;
    float *p = m != NULL && m->type->params != NULL ? m->type->params(m, &have) : NULL;
    if (p == NULL)
        have = 0;
    if (count != NULL)
        *count = have;
    return p;
}

double pi_model_sigma_data(const pi_model_t *m)
{
    return m->type->sigma_data != NULL ? m->type->sigma_data(m) : 0.5;
}

size_t pi_model_train_workspace_bytes(const pi_model_t *m, size_t batch)
{
    if (m == NULL || m->type->train_workspace_bytes == NULL || batch == 0)
        return 0;
    return m->type->train_workspace_bytes(m, batch);
}

static pi_status check_trainable(const char *fn, const pi_model_t *m)
{
    if (m->type->forward_train == NULL || m->type->backward == NULL)
        return pi_fail(PI_EUNSUPPORTED, "%s: a %s model cannot be trained", fn, m->type->name);
    return PI_OK;
}

pi_status pi_model_forward_train(const pi_model_t *m, size_t n, const float *x, const double *t,
                                 float *out, void *ws, int threads, pi_pool *pool)
{
    PI_CHECK_NULL(m);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    pi_status st = check_trainable(__func__, m);
    if (st != PI_OK)
        return st;
    return m->type->forward_train(m, n, x, t, out, ws, threads, pool);
}

pi_status pi_model_forward_train_cond(const pi_model_t *m, size_t n, const float *x,
                                      const double *t, const pi_cond_rows *cond, float *out,
                                      void *ws, int threads, pi_pool *pool)
{
    if (cond == NULL || m == NULL || m->type->forward_train_cond == NULL)
        return pi_model_forward_train(m, n, x, t, out, ws, threads, pool);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    return m->type->forward_train_cond(m, n, x, t, cond, out, ws, threads, pool);
}

pi_status pi_model_backward(const pi_model_t *m, size_t n, const float *dout, float *grad,
                            void *ws, int threads, pi_pool *pool)
{
    PI_CHECK_NULL(m);
    PI_CHECK_NULL(dout);
    PI_CHECK_NULL(grad);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    pi_status st = check_trainable(__func__, m);
    if (st != PI_OK)
        return st;
    return m->type->backward(m, n, dout, grad, ws, threads, pool);
}

pi_status pi_model_get_num_params(const pi_model_t *model, size_t *out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(out);
    size_t count;
    (void)pi_model_param_vector(model, &count);
    *out = count;
    return PI_OK;
}

pi_status pi_model_get_params(const pi_model_t *model, size_t capacity, float *params,
                              size_t *count)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(params);
    size_t have;
    const float *p = pi_model_param_vector(model, &have);
    if (p == NULL || have == 0)
        return pi_fail(PI_EUNSUPPORTED, "pi_model_get_params: a %s model has no trainable parameters",
                       model->type->name);
    if (capacity < have)
        return pi_fail(PI_EINVAL,
                       "pi_model_get_params: capacity must be >= pi_model_get_num_params() = %zu, "
                       "got %zu",
                       have, capacity);
    memcpy(params, p, have * sizeof *params);
    if (count != NULL)
        *count = have;
    return PI_OK;
}

pi_status pi_model_set_params(pi_model_t *model, size_t count, const float *params)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(params);
    size_t have;
    float *p = pi_model_param_vector(model, &have);
    if (p == NULL || have == 0)
        return pi_fail(PI_EUNSUPPORTED, "pi_model_set_params: a %s model has no trainable parameters",
                       model->type->name);
    if (count != have)
        return pi_fail(PI_EINVAL, "pi_model_set_params: count must equal pi_model_get_num_params() = %zu, got %zu",
                       have, count);
    size_t bad = pi_first_nonfinite_f(params, count);
    if (bad < count)
        return pi_fail(PI_EINVAL, "pi_model_set_params: params must be finite, got %g at index %zu",
                       (double)params[bad], bad);
    memcpy(p, params, count * sizeof *p);
    return PI_OK;
}

size_t pi_model_directional_scratch(const pi_model_t *m)
{
    return m->type->directional_scratch != NULL ? m->type->directional_scratch(m) : 0;
}

pi_status pi_model_directional_d(const pi_model_t *m, const double *x, double t,
                                 const double *b, const double *c, size_t na, const double *a,
                                 double *s, double *sb, double *sc, double *g, double *gb,
                                 double *gc, double *gbc, double *scratch)
{
    if (m->type->directional_d == NULL)
        return pi_fail(PI_EUNSUPPORTED, "%s: the %s model has no directional products",
                       __func__, m->type->name);
    return m->type->directional_d(m, x, t, b, c, na, a, s, sb, sc, g, gb, gc, gbc, scratch);
}
