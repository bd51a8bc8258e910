/* Conditions, classifier-free guidance and inpainting of a run (issue 15; docs/samplers.md,
 * "Guidance").
 *
 * Guidance combines in the denoiser view. At fixed (x, t) every view is affine in every other
 * with coefficients that depend only on (α, σ) (views.c), so D_w = D_∅ + w (D_c − D_∅) is
 * the same combination as ε_w = ε_∅ + w (ε_c − ε_∅) or s_w = s_∅ + w (s_c − s_∅): one
 * place gives every integrator the same guidance whatever view it consumes. The denoiser view
 * is where the rescale of Lin et al. (the standard deviation of the x0 prediction) and CFG++
 * (a target D and a re-noising direction) are defined.
 *
 * A guided evaluation is one model call on 2 × rows: the chunk's rows with their conditions,
 * then the same points with the null condition. Row i's result depends on row i's point, time,
 * condition and seed only (the model evaluates rows independently), so a row gives the same
 * bits whatever the other rows of the run ask for. */
#include "sampler_impl.h"

#include "core/options.h"

#include <string.h>

/* ---- options ------------------------------------------------------------------------------ */

void pi_sampler_init_guidance(pi_sampler_t *s)
{
    s->guidance = pi_option_default(PI_OPTION_SAMPLER_GUIDANCE);
    s->guidance_rescale = pi_option_default(PI_OPTION_SAMPLER_GUIDANCE_RESCALE);
    s->guidance_sigma_min = pi_option_default(PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN);
    s->guidance_sigma_max = pi_option_default(PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX);
    s->cfgpp = (int)pi_option_default(PI_OPTION_SAMPLER_CFGPP);
}

void pi_sampler_free_conditions(pi_sampler_t *s)
{
    pi_free(s->labels);
    pi_free(s->cond);
    pi_free(s->row_data);
    s->labels = NULL;
    s->cond = NULL;
    s->row_data = NULL;
    s->cond_rows = 0;
    pi_free(s->inpaint_known);
    pi_free(s->inpaint_mask);
    s->inpaint_known = s->inpaint_mask = NULL;
    s->inpaint_rows = 0;
}

static pi_status check_idle(const pi_sampler_t *s, const char *fn)
{
    if (atomic_load(&s->running))
        return pi_fail(PI_EINVAL, "%s: the sampler is running", fn);
    return PI_OK;
}

pi_status pi_sampler_set_conditions(pi_sampler_t *sampler, size_t n, const int32_t *labels,
                                    size_t cond_dim, const float *cond, void *const *row_data)
{
    PI_CHECK_NULL(sampler);
    pi_status st = check_idle(sampler, __func__);
    if (st != PI_OK)
        return st;
    const pi_model_t *m = sampler->model;
    if (n == 0) {
        if (labels != NULL || cond != NULL || row_data != NULL || cond_dim != 0)
            return pi_fail(PI_EINVAL, "%s: n = 0 clears the conditions and takes NULL arrays and "
                                      "cond_dim 0", __func__);
        pi_free(sampler->labels);
        pi_free(sampler->cond);
        pi_free(sampler->row_data);
        sampler->labels = NULL;
        sampler->cond = NULL;
        sampler->row_data = NULL;
        sampler->cond_rows = 0;
        return PI_OK;
    }
    size_t total;
    if (!pi_size_mul(n, m->dim, &total) || (cond_dim > 0 && !pi_size_mul(n, cond_dim, &total)))
        return pi_fail(PI_EINVAL, "%s: n = %zu rows are too many", __func__, n);
    if (!pi_model_is_conditional(m))
        return pi_fail(PI_EINVAL, "%s: the model takes no condition", __func__);
    if (labels == NULL && cond == NULL && row_data == NULL)
        return pi_fail(PI_EINVAL, "%s: give labels, cond or row_data for n = %zu rows", __func__, n);
    if (m->classes > 0 && labels == NULL)
        return pi_fail(PI_EINVAL, "%s: the model has %zu classes; labels must not be NULL", __func__,
                       m->classes);
    if (m->cond_dim > 0 && cond == NULL)
        return pi_fail(PI_EINVAL, "%s: the model takes a condition vector of length %zu; cond must "
                                  "not be NULL", __func__, m->cond_dim);
    st = pi_model_check_conditions(__func__, m, n, labels, cond_dim, cond);
    if (st != PI_OK)
        return st;
    int32_t *l = labels != NULL ? pi_alloc_array(n, sizeof *l) : NULL;
    float *c = cond != NULL ? pi_alloc_array(n * cond_dim, sizeof *c) : NULL;
    void **r = row_data != NULL ? pi_alloc_array(n, sizeof *r) : NULL;
    if ((labels != NULL && l == NULL) || (cond != NULL && c == NULL) ||
        (row_data != NULL && r == NULL)) {
        pi_free(l);
        pi_free(c);
        pi_free(r);
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu rows of conditions", __func__, n);
    }
    if (l != NULL)
        memcpy(l, labels, n * sizeof *l);
    if (c != NULL)
        memcpy(c, cond, n * cond_dim * sizeof *c);
    if (r != NULL)
        memcpy(r, row_data, n * sizeof *r);
    pi_free(sampler->labels);
    pi_free(sampler->cond);
    pi_free(sampler->row_data);
    sampler->labels = l;
    sampler->cond = c;
    sampler->row_data = r;
    sampler->cond_rows = n;
    return PI_OK;
}

pi_status pi_sampler_get_conditions(const pi_sampler_t *sampler, size_t *n)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(n);
    *n = sampler->cond_rows;
    return PI_OK;
}

pi_status pi_sampler_set_inpainting(pi_sampler_t *sampler, size_t n, const float *known,
                                    const float *mask)
{
    PI_CHECK_NULL(sampler);
    pi_status st = check_idle(sampler, __func__);
    if (st != PI_OK)
        return st;
    size_t d = sampler->dim, total;
    if (n == 0) {
        if (known != NULL || mask != NULL)
            return pi_fail(PI_EINVAL, "%s: n = 0 clears the inpainting data and takes NULL arrays",
                           __func__);
        pi_free(sampler->inpaint_known);
        pi_free(sampler->inpaint_mask);
        sampler->inpaint_known = sampler->inpaint_mask = NULL;
        sampler->inpaint_rows = 0;
        return PI_OK;
    }
    PI_CHECK_NULL(known);
    PI_CHECK_NULL(mask);
    if (!pi_size_mul(n, d, &total) || total > ((size_t)1 << 40))
        return pi_fail(PI_EINVAL, "%s: n * dim must be <= 2^40, got n = %zu (dim %zu)", __func__, n,
                       d);
    size_t bad = pi_first_nonfinite_f(known, total);
    if (bad < total)
        return pi_fail(PI_EINVAL, "%s: known must be finite, got %g at row %zu, column %zu",
                       __func__, (double)known[bad], bad / d, bad % d);
    for (size_t i = 0; i < total; i++)
        if (!(mask[i] >= 0.0f && mask[i] <= 1.0f))
            return pi_fail(PI_EINVAL, "%s: mask values must be in [0, 1], got %g at row %zu, column %zu",
                           __func__, (double)mask[i], i / d, i % d);
    float *k = pi_alloc_array(total, sizeof *k);
    float *m = pi_alloc_array(total, sizeof *m);
    if (k == NULL || m == NULL) {
        pi_free(k);
        pi_free(m);
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu rows", __func__, n);
    }
    memcpy(k, known, total * sizeof *k);
    memcpy(m, mask, total * sizeof *m);
    pi_free(sampler->inpaint_known);
    pi_free(sampler->inpaint_mask);
    sampler->inpaint_known = k;
    sampler->inpaint_mask = m;
    sampler->inpaint_rows = n;
    return PI_OK;
}

pi_status pi_sampler_get_inpainting(const pi_sampler_t *sampler, size_t *n)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(n);
    *n = sampler->inpaint_rows;
    return PI_OK;
}

/* ---- run checks ---------------------------------------------------------------------------- */

pi_status pi_sampler_check_conditions(const pi_sampler_t *s, size_t n, int adaptive)
{
    const pi_model_t *m = s->model;
    if (s->cond_rows > 0 && s->cond_rows != n)
        return pi_fail(PI_EINVAL,
                       "sampler: the conditions set are for %zu rows; a run must have as many, got "
                       "n = %zu (pi_sampler_set_conditions with n = 0 clears them)",
                       s->cond_rows, n);
    if (s->inpaint_rows > 0 && s->inpaint_rows != n)
        return pi_fail(PI_EINVAL,
                       "sampler: the inpainting data set are for %zu rows; a run must have as many, "
                       "got n = %zu",
                       s->inpaint_rows, n);
    if (pi_model_is_conditional(m) && !m->unconditional && s->cond_rows == 0)
        return pi_fail(PI_EINVAL, "sampler: the model has no unconditional branch; set conditions "
                                  "with pi_sampler_set_conditions");
    if (s->cfgpp && !pi_model_is_conditional(m))
        return pi_fail(PI_EINVAL, "sampler: CFG++ needs a conditional model");
    if (s->cfgpp && s->integrator != pi_integrator_exp1)
        return pi_fail(PI_EINVAL, "sampler: CFG++ is defined for PI_METHOD_EXP1 only, method is %s",
                       s->integrator->name);
    if (s->inpaint_rows > 0 && adaptive)
        return pi_fail(PI_EINVAL, "sampler: inpainting needs a fixed-step method, method is %s",
                       s->integrator->name);
    return PI_OK;
}

/* ---- worker buffers ------------------------------------------------------------------------ */

static size_t round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

size_t pi_guidance_buffer_bytes(const pi_sampler_t *s, size_t chunk)
{
    const pi_model_t *m = s->model;
    if (!pi_model_is_conditional(m))
        return 0;
    size_t rows = 2 * chunk, d = s->dim;
    return 64 + round64(2 * rows * d * sizeof(float)) + round64(rows * sizeof(double)) +
           round64(rows * sizeof(int32_t)) + round64(rows * m->cond_dim * sizeof(float)) +
           round64(rows * sizeof(void *)) + round64(chunk * d * sizeof(float));
}

void pi_guidance_buffer_layout(const pi_sampler_t *s, size_t chunk, void *block, pi_worker *w)
{
    const pi_model_t *m = s->model;
    size_t rows = 2 * chunk, d = s->dim;
    unsigned char *p = block;
    p += (64 - ((uintptr_t)p & 63)) & 63;
    w->gin = (float *)(void *)p;
    w->gout = w->gin + rows * d;
    p += round64(2 * rows * d * sizeof(float));
    w->gt = (double *)(void *)p;
    p += round64(rows * sizeof(double));
    w->glabels = (int32_t *)(void *)p;
    p += round64(rows * sizeof(int32_t));
    w->gcond = (float *)(void *)p;
    p += round64(rows * m->cond_dim * sizeof(float));
    w->growdata = (void **)(void *)p;
    p += round64(rows * sizeof(void *));
    w->uncond = (float *)(void *)p;
}

/* ---- guided evaluation --------------------------------------------------------------------- */

/* Rows [0, rows) of the guided batch: the chunk's conditions; rows [rows, 2 rows) the null
 * condition with the same row pointers. Without conditions set, every row is null. */
static void fill_conditions(const pi_run *run, pi_worker *w, size_t rows, int with_null)
{
    const pi_sampler_t *s = run->s;
    const pi_model_t *m = run->model;
    size_t c = m->cond_dim, r0 = w->row0;
    int has = s->cond_rows > 0;
    for (size_t i = 0; i < rows; i++) {
        int32_t label = PI_COND_NULL;
        if (has)
            label = s->labels != NULL ? s->labels[r0 + i] : 0;
        w->glabels[i] = label;
        if (with_null)
            w->glabels[rows + i] = PI_COND_NULL;
        for (size_t j = 0; j < c; j++) {
            w->gcond[i * c + j] = has && s->cond != NULL ? s->cond[(r0 + i) * c + j] : 0.0f;
            if (with_null)
                w->gcond[(rows + i) * c + j] = 0.0f;
        }
        void *rd = s->row_data != NULL ? s->row_data[r0 + i] : NULL;
        w->growdata[i] = rd;
        if (with_null)
            w->growdata[rows + i] = rd;
    }
}

pi_status pi_run_eval_conditional(pi_run *run, pi_worker *w, pi_view view, size_t rows,
                                  const float *in, double t)
{
    const pi_sampler_t *s = run->s;
    const pi_model_t *m = run->model;
    size_t d = run->dim;
    pi_sde_point p;
    pi_status st = pi_sde_eval(run->sde, t, &p);
    if (st != PI_OK)
        return st;
    int guided = s->cond_rows > 0 && s->guidance != 1.0 &&
                 p.sigma_tilde >= s->guidance_sigma_min && p.sigma_tilde <= s->guidance_sigma_max;
    size_t batch = guided ? 2 * rows : rows;
    fill_conditions(run, w, rows, guided);
    pi_cond_rows cond = {w->glabels, m->cond_dim > 0 ? w->gcond : NULL,
                         s->row_data != NULL ? w->growdata : NULL};
    pi_eval_ctx ctx = {w->workspace, w->workspace_bytes, 1, NULL, &cond};
    if (!guided && !s->cfgpp) {
        for (size_t i = 0; i < rows; i++)
            w->tvec[i] = t;
        return pi_model_eval_ctx(m, view, rows, in, w->tvec, w->fout, &ctx);
    }
    for (size_t i = 0; i < batch; i++)
        w->gt[i] = t;
    memcpy(w->gin, in, rows * d * sizeof(float));
    if (guided)
        memcpy(w->gin + rows * d, in, rows * d * sizeof(float));
    st = pi_model_eval_ctx(m, PI_VIEW_DENOISED, batch, w->gin, w->gt, w->gout, &ctx);
    if (st != PI_OK)
        return st;
    const double g = s->guidance, phi = s->guidance_rescale;
    for (size_t i = 0; i < rows; i++) {
        const float *dc = w->gout + i * d;
        const float *du = guided ? w->gout + (rows + i) * d : dc;
        float *dst = w->fout + i * d;
        double scale = 1.0;
        if (guided && phi > 0.0) {
            /* Lin et al.: the ratio of the standard deviations (over the row) of the
             * conditional and the guided x0 predictions. */
            double mc = 0.0, mw = 0.0;
            for (size_t j = 0; j < d; j++) {
                mc += dc[j];
                mw += du[j] + g * ((double)dc[j] - du[j]);
            }
            mc /= (double)d;
            mw /= (double)d;
            double vc = 0.0, vw = 0.0;
            for (size_t j = 0; j < d; j++) {
                double a = dc[j] - mc, b = du[j] + g * ((double)dc[j] - du[j]) - mw;
                vc += a * a;
                vw += b * b;
            }
            double ratio = vw > 0.0 ? sqrt(vc / vw) : 1.0;
            scale = phi * ratio + (1.0 - phi);
        }
        for (size_t j = 0; j < d; j++) {
            double dw = guided ? du[j] + g * ((double)dc[j] - du[j]) : dc[j];
            dst[j] = (float)(scale * dw);
        }
        if (s->cfgpp)
            memcpy(w->uncond + i * d, du, d * sizeof(float));
        if (view != PI_VIEW_DENOISED)
            pi_view_convert(PI_VIEW_DENOISED, view, 1, d, in + i * d, &p.alpha, &p.sigma, dst, dst);
    }
    return PI_OK;
}

/* ---- inpainting ---------------------------------------------------------------------------- */

void pi_inpaint_rows(pi_run *run, size_t steps_done, const pi_sde_point *p, size_t r0, size_t r1,
                     pi_worker *w)
{
    const pi_sampler_t *s = run->s;
    if (s->inpaint_rows == 0)
        return;
    size_t d = run->dim;
    for (size_t r = r0; r < r1; r++) {
        const float *x0 = s->inpaint_known + r * d, *mk = s->inpaint_mask + r * d;
        double *x = run->x + r * d;
        int any = 0;
        for (size_t j = 0; j < d; j++)
            any |= mk[j] > 0.0f;
        if (!any)
            continue;
        if (p->sigma > 0.0)
            pi_rng_normal_d(run->seed, PI_STREAM_INPAINT, (uint64_t)r, (uint32_t)steps_done, d,
                            w->noise);
        for (size_t j = 0; j < d; j++) {
            double known = p->alpha * (double)x0[j] + (p->sigma > 0.0 ? p->sigma * w->noise[j] : 0.0);
            double m = mk[j];
            x[j] = m * known + (1.0 - m) * x[j];
        }
    }
}
