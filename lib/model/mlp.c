/* The MLP model kind (MATH.md §2): the one adapter between pi_model_t and nn's pi_mlp
 * network (definition and initialisation: the comment block of nn/nn.h). The model holds the
 * network as m->impl and hands nn the SDE's (α, σ) through a pi_mlp_noise; construction,
 * options and the model-file payload live here, the algebra in nn/. Creation uses seed 0. */
#include "core/options.h"
#include "model/mlp_model.h"

#include "core/codec.h"

#include <string.h>

/* nn asks for (α(t), σ(t)) through this; the context is the model's SDE. */
static pi_status sde_marginal(const void *ctx, double t, double *alpha, double *sigma)
{
    return pi_sde_eval_marginal(ctx, t, alpha, sigma);
}

static pi_mlp_noise noise_of(const pi_model_t *m)
{
    return (pi_mlp_noise){.marginal = sde_marginal, .ctx = &m->sde};
}

/* ---- vtable entries: nn on the model's network and SDE -------------------------------- */

static size_t mlp_workspace_bytes(const pi_model_t *m, size_t n)
{
    return pi_mlp_eval_workspace_bytes(m->impl, n);
}

static pi_status mlp_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                          float *out, const pi_eval_ctx *ctx)
{
    if (ctx == NULL)
        return pi_fail(PI_EINVAL, "pi_mlp_eval: workspace must hold %zu bytes",
                       pi_mlp_eval_workspace_bytes(m->impl, n));
    pi_mlp_noise noise = noise_of(m);
    if (ctx->cond != NULL) {
        pi_mlp_cond cond = {ctx->cond->labels, ctx->cond->vectors};
        return pi_mlp_eval_cond(m->impl, &noise, n, x, t, &cond, out, ctx->workspace,
                                ctx->workspace_bytes, ctx->threads, ctx->pool);
    }
    return pi_mlp_eval(m->impl, &noise, n, x, t, out, ctx->workspace, ctx->workspace_bytes,
                       ctx->threads, ctx->pool);
}

static pi_status mlp_score_d(const pi_model_t *m, const double *x, double t, double *s)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_score_d(m->impl, &noise, x, t, s);
}

static pi_status mlp_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                           double *out)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_jvp_d(m->impl, &noise, x, t, v, out);
}

static pi_status mlp_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_jacobian_d(m->impl, &noise, x, t, jac);
}

static pi_status mlp_divergence_d(const pi_model_t *m, const double *x, double t, double *div)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_divergence_d(m->impl, &noise, x, t, div);
}

static pi_status mlp_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_grad_div_d(m->impl, &noise, x, t, grad);
}

static pi_status mlp_hessians_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_hessians_d(m->impl, &noise, x, t, hess);
}

static pi_status mlp_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_hess_div_d(m->impl, &noise, x, t, hess);
}

static pi_status mlp_derivatives_d(const pi_model_t *m, const double *x, double t, double *s,
                                   double *jac, double *div, double *grad_div, double *hess,
                                   double *hess_div)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_derivatives_d(m->impl, &noise, x, t, s, jac, div, grad_div, hess, hess_div);
}

static size_t mlp_directional_scratch(const pi_model_t *m)
{
    return pi_mlp_directional_scratch(m->impl);
}

static pi_status mlp_directional_d(const pi_model_t *m, const double *x, double t,
                                   const double *b, const double *c, size_t na, const double *a,
                                   double *s, double *sb, double *sc, double *g, double *gb,
                                   double *gc, double *gbc, double *scratch)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_directional_d(m->impl, &noise, x, t, b, c, na, a, s, sb, sc, g, gb, gc, gbc,
                                scratch);
}

static size_t mlp_sweep_scratch(const pi_model_t *m)
{
    return pi_mlp_sweep_scratch(m->impl);
}

static int mlp_sweep_dense(const pi_model_t *m)
{
    return pi_mlp_sweep_dense_fits(m->impl);
}

static pi_status mlp_sweep_products_d(const pi_model_t *m, const double *x, double t,
                                      const double *u, double *s, double *jac, double *div,
                                      double *grad_div, double *uhess, double *hess_div,
                                      double *scratch)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_sweep_products_d(m->impl, &noise, x, t, u, s, jac, div, grad_div, uhess,
                                   hess_div, scratch);
}

static float *mlp_params(const pi_model_t *m, size_t *count)
{
    pi_mlp *net = m->impl;
    *count = net->num_params;
    return net->params;
}

static double mlp_sigma_data(const pi_model_t *m)
{
    const pi_mlp *net = m->impl;
    return net->sigma_data;
}

static size_t mlp_train_workspace_bytes(const pi_model_t *m, size_t batch)
{
    return pi_mlp_train_workspace_bytes(m->impl, batch);
}

static pi_status mlp_forward_train(const pi_model_t *m, size_t n, const float *x,
                                   const double *t, float *out, void *ws, int threads,
                                   pi_pool *pool)
{
    pi_mlp_noise noise = noise_of(m);
    return pi_mlp_forward_train(m->impl, &noise, n, x, t, out, ws, threads, pool);
}

static pi_status mlp_forward_train_cond(const pi_model_t *m, size_t n, const float *x,
                                        const double *t, const pi_cond_rows *cond, float *out,
                                        void *ws, int threads, pi_pool *pool)
{
    pi_mlp_noise noise = noise_of(m);
    pi_mlp_cond c = {cond->labels, cond->vectors};
    return pi_mlp_forward_train_cond(m->impl, &noise, n, x, t, &c, out, ws, threads, pool);
}

static pi_status mlp_backward(const pi_model_t *m, size_t n, const float *dout, float *grad,
                              void *ws, int threads, pi_pool *pool)
{
    return pi_mlp_backward(m->impl, n, dout, grad, ws, threads, pool);
}

static pi_status mlp_write_payload(const pi_model_t *m, pi_file *file);

static void mlp_destroy(pi_model_t *m)
{
    pi_mlp_destroy(m->impl);
    m->impl = NULL;
}

static const struct pi_model_type mlp_type = {
    .name = "mlp",
    .kind = PI_MODEL_KIND_MLP,
    .workspace_bytes = mlp_workspace_bytes,
    .eval = mlp_eval,
    .score_d = mlp_score_d,
    .jvp_d = mlp_jvp_d,
    .jacobian_d = mlp_jacobian_d,
    .divergence_d = mlp_divergence_d,
    .grad_div_d = mlp_grad_div_d,
    .hessians_d = mlp_hessians_d,
    .hess_div_d = mlp_hess_div_d,
    .derivatives_d = mlp_derivatives_d,
    .directional_scratch = mlp_directional_scratch,
    .directional_d = mlp_directional_d,
    .sweep_scratch = mlp_sweep_scratch,
    .sweep_dense = mlp_sweep_dense,
    .sweep_products_d = mlp_sweep_products_d,
    .logpdf_d = NULL,
    .write_payload = mlp_write_payload,
    .destroy = mlp_destroy,
    .params = mlp_params,
    .sigma_data = mlp_sigma_data,
    .train_workspace_bytes = mlp_train_workspace_bytes,
    .forward_train = mlp_forward_train,
    .backward = mlp_backward,
    .forward_train_cond = mlp_forward_train_cond,
};

pi_mlp *pi_mlp_of(const pi_model_t *m)
{
    if (m == NULL || m->type != &mlp_type)
        return NULL;
    return m->impl;
}

pi_status pi_mlp_create_shaped(const pi_sde_t *sde, size_t dim, size_t width, size_t layers,
                               size_t features, pi_embedding embedding, pi_view output_view,
                               pi_precond precond, double sigma_data, pi_model_t **out)
{
    pi_mlp *net = NULL;
    pi_status st = pi_mlp_create("pi_model_create_mlp", dim, width, layers, features, embedding,
                                 output_view, precond, sigma_data, &net);
    if (st != PI_OK)
        return st;
    pi_model_t *m = NULL;
    st = pi_model_alloc(&mlp_type, sde, dim, pi_mlp_native_view(net), &m);
    if (st != PI_OK) {
        pi_mlp_destroy(net);
        return st;
    }
    m->impl = net;
    *out = m;
    return PI_OK;
}

pi_status pi_model_create_mlp(const pi_sde_t *sde, size_t dim, size_t hidden_width,
                              size_t hidden_layers, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(out);
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "pi_model_create_mlp: dim must be in [1, 2^20], got %zu", dim);
    if (hidden_width == 0 || hidden_width > PI_MLP_MAX_WIDTH)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_mlp: hidden_width must be in [1, 65536], got %zu",
                       hidden_width);
    if (hidden_layers == 0 || hidden_layers > PI_MLP_MAX_LAYERS)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_mlp: hidden_layers must be in [1, 1024], got %zu",
                       hidden_layers);
    pi_model_t *m = NULL;
    /* Defaults from the one option table (core/options.c). */
    pi_status st = pi_mlp_create_shaped(
        sde, dim, hidden_width, hidden_layers,
        (size_t)pi_option_default(PI_OPTION_MLP_EMBEDDING_FEATURES),
        (pi_embedding)pi_option_default(PI_OPTION_MLP_EMBEDDING),
        (pi_view)pi_option_default(PI_OPTION_MLP_OUTPUT_VIEW),
        (pi_precond)pi_option_default(PI_OPTION_MLP_PRECONDITIONING),
        pi_option_default(PI_OPTION_MLP_SIGMA_DATA), &m);
    if (st != PI_OK)
        return st;
    pi_mlp_init(m->impl, 0);
    *out = m;
    return PI_OK;
}

/* Give an MLP model conditions (the network's first layer grows; re-initialised from its
 * seed). The MLP always has the null condition: condition dropout in training teaches it. */
static pi_status mlp_set_conditions(pi_model_t *m, size_t classes, size_t cond_dim)
{
    pi_status st = pi_mlp_set_conditions("pi_model_create_mlp_cond", m->impl, classes, cond_dim);
    if (st != PI_OK)
        return st;
    m->classes = classes;
    m->cond_dim = cond_dim;
    m->unconditional = 1;
    return PI_OK;
}

pi_status pi_model_create_mlp_cond(const pi_sde_t *sde, size_t dim, size_t hidden_width,
                                   size_t hidden_layers, size_t classes, size_t cond_dim,
                                   pi_model_t **out)
{
    PI_CHECK_NULL(out);
    if (classes > PI_MAX_CLASSES || cond_dim > PI_MAX_COND_DIM || (classes == 0 && cond_dim == 0))
        return pi_fail(PI_EINVAL,
                       "pi_model_create_mlp_cond: classes must be in [0, %d] and cond_dim in "
                       "[0, %d], not both 0 (use pi_model_create_mlp), got %zu and %zu",
                       PI_MAX_CLASSES, PI_MAX_COND_DIM, classes, cond_dim);
    pi_model_t *m = NULL;
    pi_status st = pi_model_create_mlp(sde, dim, hidden_width, hidden_layers, &m);
    if (st != PI_OK)
        return st;
    st = mlp_set_conditions(m, classes, cond_dim);
    if (st != PI_OK) {
        pi_model_destroy(m);
        return st;
    }
    *out = m;
    return PI_OK;
}

pi_status pi_mlp_model_set_conditions(pi_model_t *m, size_t classes, size_t cond_dim)
{
    if (classes == 0 && cond_dim == 0)
        return PI_OK;
    return mlp_set_conditions(m, classes, cond_dim);
}

/* Non-MLP models are a different kind of error than a NULL model. */
#define MLP_OF_OR_FAIL(net, model)                                                                 \
    PI_CHECK_NULL(model);                                                                          \
    pi_mlp *net = pi_mlp_of(model);                                                                \
    if (net == NULL)                                                                               \
        return pi_fail(PI_EUNSUPPORTED, "%s: model must be an MLP, got a %s model", __func__,      \
                       (model)->type->name);

pi_status pi_model_mlp_init(pi_model_t *model, uint64_t seed)
{
    MLP_OF_OR_FAIL(net, model);
    pi_mlp_init(net, seed);
    return PI_OK;
}

/* Read access: the same checks on a const model. */
#define MLP_OF_OR_FAIL_CONST(net, model)                                                           \
    PI_CHECK_NULL(model);                                                                          \
    const pi_mlp *net = pi_mlp_of(model);                                                          \
    if (net == NULL)                                                                               \
        return pi_fail(PI_EUNSUPPORTED, "%s: model must be an MLP, got a %s model", __func__,      \
                       (model)->type->name);

pi_status pi_model_mlp_get_output_view(const pi_model_t *model, pi_view *view)
{
    MLP_OF_OR_FAIL_CONST(net, model);
    PI_CHECK_NULL(view);
    *view = net->output_view;
    return PI_OK;
}

pi_status pi_model_mlp_get_embedding(const pi_model_t *model, pi_embedding *kind, size_t *features)
{
    MLP_OF_OR_FAIL_CONST(net, model);
    if (kind != NULL)
        *kind = net->embedding;
    if (features != NULL)
        *features = net->features;
    return PI_OK;
}

pi_status pi_model_mlp_get_preconditioning(const pi_model_t *model, pi_precond *mode,
                                           double *sigma_data)
{
    MLP_OF_OR_FAIL_CONST(net, model);
    if (mode != NULL)
        *mode = net->precond;
    if (sigma_data != NULL)
        *sigma_data = net->sigma_data;
    return PI_OK;
}

pi_status pi_model_mlp_get_shape(const pi_model_t *model, size_t *hidden_width,
                                 size_t *hidden_layers)
{
    MLP_OF_OR_FAIL_CONST(net, model);
    if (hidden_width != NULL)
        *hidden_width = net->width;
    if (hidden_layers != NULL)
        *hidden_layers = net->layers;
    return PI_OK;
}

pi_status pi_model_mlp_set_output_view(pi_model_t *model, pi_view view)
{
    MLP_OF_OR_FAIL(net, model);
    pi_status st = pi_option_check_int(PI_OPTION_MLP_OUTPUT_VIEW, (int)view, __func__);
    if (st != PI_OK)
        return st;
    net->output_view = view;
    model->native_view = pi_mlp_native_view(net);
    return PI_OK;
}

pi_status pi_model_mlp_set_embedding(pi_model_t *model, pi_embedding kind, size_t features)
{
    MLP_OF_OR_FAIL(net, model);
    pi_status st = pi_option_check_int(PI_OPTION_MLP_EMBEDDING, (int)kind, __func__);
    if (st == PI_OK)
        st = pi_option_check_size(PI_OPTION_MLP_EMBEDDING_FEATURES, features, __func__);
    if (st != PI_OK)
        return st;
    /* A new feature count reshapes the first layer: re-initialised from the last seed. */
    st = pi_mlp_set_features("pi_model_mlp_set_embedding", net, features);
    if (st != PI_OK)
        return st;
    net->embedding = kind;
    return PI_OK;
}

pi_status pi_model_mlp_set_preconditioning(pi_model_t *model, pi_precond mode, double sigma_data)
{
    MLP_OF_OR_FAIL(net, model);
    pi_status st = pi_option_check_int(PI_OPTION_MLP_PRECONDITIONING, (int)mode, __func__);
    if (st == PI_OK)
        st = pi_option_check(PI_OPTION_MLP_SIGMA_DATA, sigma_data, __func__);
    if (st != PI_OK)
        return st;
    net->precond = mode;
    net->sigma_data = sigma_data;
    model->native_view = pi_mlp_native_view(net);
    return PI_OK;
}

/* ---- model-file payload -----------------------------------------------------------------
 * Little-endian, after model_file.c's framing (which carries dim and the SDE):
 *   u32 payload version (1)
 *   u32 embedding kind (0 log σ̃, 1 t), u32 output view (0 score, 1 ε, 2 D),
 *   u32 preconditioning mode (0 none, 1 EDM, 2 input): the 0.1 codes, each its 1.0 enum − 1
 *   u64 hidden width, u64 hidden layers, u64 features
 *   f64 sigma_data, u64 seed of the last initialisation, u64 parameter count
 *   f32 × parameter count (the flat vector)
 * Version 2 (issue 15, conditional networks only; unconditional ones are still written as
 * version 1, so older readers keep reading them): the same 64 bytes with version 2, then
 *   u64 classes, u64 cond_dim (16 bytes), then the parameters (first layer with cond_in more
 *   input columns, nn.h).                                                                 */
#define MLP_PAYLOAD_VERSION 1u
#define MLP_PAYLOAD_VERSION_COND 2u
#define MLP_PAYLOAD_HEADER 64u
#define MLP_PAYLOAD_COND 16u

static pi_status mlp_write_payload(const pi_model_t *m, pi_file *file)
{
    const pi_mlp *net = m->impl;
    unsigned char head[MLP_PAYLOAD_HEADER + MLP_PAYLOAD_COND];
    int cond = net->cond_in > 0;
    pi_put_u32(head + 0, cond ? MLP_PAYLOAD_VERSION_COND : MLP_PAYLOAD_VERSION);
    pi_put_u32(head + 4, (uint32_t)net->embedding - 1u);
    pi_put_u32(head + 8, (uint32_t)net->output_view - 1u);
    pi_put_u32(head + 12, (uint32_t)net->precond - 1u);
    pi_put_u64(head + 16, net->width);
    pi_put_u64(head + 24, net->layers);
    pi_put_u64(head + 32, net->features);
    pi_put_f64(head + 40, net->sigma_data);
    pi_put_u64(head + 48, net->seed);
    pi_put_u64(head + 56, net->num_params);
    pi_put_u64(head + 64, net->classes);
    pi_put_u64(head + 72, net->cond_dim);
    pi_status st = pi_file_write(file, head, cond ? sizeof head : MLP_PAYLOAD_HEADER);
    unsigned char chunk[4096];
    for (size_t i = 0; st == PI_OK && i < net->num_params; i += 1024) {
        size_t k = net->num_params - i < 1024 ? net->num_params - i : 1024;
        for (size_t j = 0; j < k; j++)
            pi_put_f32(chunk + 4 * j, net->params[i + j]);
        st = pi_file_write(file, chunk, 4 * k);
    }
    return st;
}

pi_status pi_mlp_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                              size_t bytes, pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(payload);
    PI_CHECK_NULL(out);
    if (bytes < MLP_PAYLOAD_HEADER)
        return pi_fail(PI_EFORMAT, "MLP payload: %zu bytes, shorter than its %u-byte header", bytes,
                       MLP_PAYLOAD_HEADER);
    uint32_t version = pi_get_u32(payload), embedding = pi_get_u32(payload + 4);
    uint32_t view = pi_get_u32(payload + 8), precond = pi_get_u32(payload + 12);
    uint64_t width = pi_get_u64(payload + 16), layers = pi_get_u64(payload + 24);
    uint64_t features = pi_get_u64(payload + 32);
    double sigma_data = pi_get_f64(payload + 40);
    uint64_t seed = pi_get_u64(payload + 48), count = pi_get_u64(payload + 56);
    if (version != MLP_PAYLOAD_VERSION && version != MLP_PAYLOAD_VERSION_COND)
        return pi_fail(PI_EFORMAT, "MLP payload: version %u is not supported (expected 1 or 2)",
                       version);
    uint64_t classes = 0, cond_dim = 0;
    size_t header = MLP_PAYLOAD_HEADER;
    if (version == MLP_PAYLOAD_VERSION_COND) {
        if (bytes < MLP_PAYLOAD_HEADER + MLP_PAYLOAD_COND)
            return pi_fail(PI_EFORMAT, "MLP payload: %zu bytes, shorter than its %u-byte header",
                           bytes, MLP_PAYLOAD_HEADER + MLP_PAYLOAD_COND);
        classes = pi_get_u64(payload + 64);
        cond_dim = pi_get_u64(payload + 72);
        header += MLP_PAYLOAD_COND;
        if (classes > PI_MAX_CLASSES || cond_dim > PI_MAX_COND_DIM || (classes == 0 && cond_dim == 0))
            return pi_fail(PI_EFORMAT, "MLP payload: classes %llu and cond_dim %llu are not a "
                                       "conditional network's",
                           (unsigned long long)classes, (unsigned long long)cond_dim);
    }
    size_t cond_in = (classes > 0 ? (size_t)classes + 1 : 0) + (cond_dim > 0 ? (size_t)cond_dim + 1 : 0);
    if (embedding > 1)
        return pi_fail(PI_EFORMAT, "MLP payload: embedding kind %u is not 0 or 1", embedding);
    if (view > 2)
        return pi_fail(PI_EFORMAT, "MLP payload: output view %u is not 0, 1 or 2", view);
    if (precond > 2)
        return pi_fail(PI_EFORMAT, "MLP payload: preconditioning mode %u is not 0, 1 or 2",
                       precond);
    /* The setter's bound (the option table), for model files and the checkpoints that embed
     * them alike: a model that loads can always be saved and loaded again. */
    if (pi_option_check(PI_OPTION_MLP_SIGMA_DATA, sigma_data, "MLP payload") != PI_OK)
        return pi_fail(PI_EFORMAT, "MLP payload: sigma_data %g is not in (0, 1e30] (the range of "
                       "pi_model_mlp_set_preconditioning)", sigma_data);
    if (dim == 0 || dim > PI_MAX_DIM || width == 0 || width > PI_MLP_MAX_WIDTH || layers == 0 ||
        layers > PI_MLP_MAX_LAYERS || features < 2 || features > PI_MLP_MAX_FEATURES ||
        features % 2 != 0)
        return pi_fail(
            PI_EFORMAT,
            "MLP payload: absurd shape (dim %zu, width %llu, layers %llu, features %llu)", dim,
            (unsigned long long)width, (unsigned long long)layers, (unsigned long long)features);
    size_t expect = pi_mlp_count_params_cond(dim, (size_t)width, (size_t)layers, (size_t)features,
                                             cond_in);
    if (expect == 0 || count != expect)
        return pi_fail(PI_EFORMAT,
                       "MLP payload: parameter count %llu does not match the shape (expected %zu)",
                       (unsigned long long)count, expect);
    if ((bytes - header) / 4 != expect || (bytes - header) % 4 != 0)
        return pi_fail(PI_EFORMAT, "MLP payload: %zu bytes of weights, expected %zu",
                       bytes - header, 4 * expect);
    const unsigned char *w = payload + header;
    for (size_t i = 0; i < expect; i++) {
        if (!isfinite(pi_get_f32(w + 4 * i)))
            return pi_fail(PI_EFORMAT, "MLP payload: parameter %zu is not finite", i);
    }
    pi_model_t *m = NULL;
    pi_status st =
        pi_mlp_create_shaped(sde, dim, (size_t)width, (size_t)layers, (size_t)features,
                             (pi_embedding)(embedding + 1), (pi_view)(view + 1),
                             (pi_precond)(precond + 1), sigma_data, &m);
    if (st == PI_OK)
        st = pi_mlp_model_set_conditions(m, (size_t)classes, (size_t)cond_dim);
    if (st != PI_OK) {
        pi_model_destroy(m);
        return st;
    }
    pi_mlp *net = m->impl;
    for (size_t i = 0; i < expect; i++)
        net->params[i] = pi_get_f32(w + 4 * i);
    net->seed = seed;
    *out = m;
    return PI_OK;
}
