/* See warped_model.h. */
#include "warped_model.h"

#include <math.h>
#include <stdlib.h>

typedef struct warped_model {
    pi_model_t *inner;
    double scale, warp;
    double fail_above; /* x[0] beyond it: PI_ENUMERIC */
} warped_model;

static pi_status refuse(const warped_model *w, const double *x)
{
    if (x[0] > w->fail_above)
        return pi_fail(PI_ENUMERIC, "warped test model: x[0] = %g is beyond %g", x[0],
                       w->fail_above);
    return PI_OK;
}

static double warp_time(const pi_model_t *m, double t)
{
    const warped_model *w = m->impl;
    return m->sde.t_min + w->warp * (t - m->sde.t_min);
}

#define WARPED_VECTOR(name, call, count)                                                       \
    static pi_status name(const pi_model_t *m, const double *x, double t, double *out)         \
    {                                                                                          \
        const warped_model *w = m->impl;                                                       \
        pi_status st = refuse(w, x);                                                           \
        if (st != PI_OK)                                                                       \
            return st;                                                                         \
        st = call(w->inner, x, warp_time(m, t), out);                                          \
        for (size_t i = 0; i < (count); i++)                                                   \
            out[i] *= w->scale;                                                                \
        return st;                                                                             \
    }
WARPED_VECTOR(warped_score, pi_model_score_d, m->dim)
WARPED_VECTOR(warped_jac, pi_model_jacobian_d, m->dim * m->dim)
WARPED_VECTOR(warped_div, pi_model_divergence_d, 1)
WARPED_VECTOR(warped_grad_div, pi_model_grad_div_d, m->dim)
WARPED_VECTOR(warped_hess, pi_model_hessians_d, m->dim * m->dim * m->dim)
WARPED_VECTOR(warped_hess_div, pi_model_hess_div_d, m->dim * m->dim)

static pi_status warped_jvp(const pi_model_t *m, const double *x, double t, const double *v,
                            double *out)
{
    const warped_model *w = m->impl;
    pi_status st = refuse(w, x);
    if (st != PI_OK)
        return st;
    st = pi_model_jvp_d(w->inner, x, warp_time(m, t), v, out);
    for (size_t i = 0; i < m->dim; i++)
        out[i] *= w->scale;
    return st;
}

static pi_status warped_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                             float *out, const pi_eval_ctx *ctx)
{
    (void)ctx;
    size_t d = m->dim;
    double xd[64], s[64];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            xd[j] = x[i * d + j];
        pi_status st = warped_score(m, xd, t[i], s);
        if (st != PI_OK)
            return st;
        for (size_t j = 0; j < d; j++)
            out[i * d + j] = (float)s[j];
    }
    return PI_OK;
}

static void warped_destroy(pi_model_t *m)
{
    warped_model *w = m->impl;
    pi_model_destroy(w->inner);
    free(w);
}

static const struct pi_model_type warped_type = {
    .name = "test-warped-model", .kind = PI_MODEL_KIND_CALLBACK, .eval = warped_eval,
    .score_d = warped_score, .jvp_d = warped_jvp, .jacobian_d = warped_jac,
    .divergence_d = warped_div, .grad_div_d = warped_grad_div, .hessians_d = warped_hess,
    .hess_div_d = warped_hess_div, .destroy = warped_destroy,
};

pi_model_t *warped_model_create(pi_model_t *inner, double scale, double warp)
{
    if (inner == NULL || inner->dim > 64)
        goto fail;
    warped_model *w = malloc(sizeof *w);
    if (w == NULL)
        goto fail;
    pi_model_t *m = NULL;
    if (pi_model_alloc(&warped_type, &inner->sde, inner->dim, PI_VIEW_SCORE, &m) != PI_OK) {
        free(w);
        goto fail;
    }
    *w = (warped_model){inner, scale, warp, INFINITY};
    m->impl = w;
    return m;
fail:
    pi_model_destroy(inner);
    return NULL;
}

void warped_model_fail_above(pi_model_t *m, double threshold)
{
    ((warped_model *)m->impl)->fail_above = threshold;
}
