/* The MLP score model (MATH.md §2): construction, options, initialisation, model-file payload.
 * The dense algebra lives in nn/ (mlp_forward.c, mlp_backward.c, mlp_derivatives.c).
 *
 * Definition. At time t with (α, σ) from the SDE and σ̃ = σ/α:
 *   x̃ = x/α                                   (the EDM variables, MATH.md §1)
 *   z  = x̃ (PI_PRECOND_NONE), or c_in x̃ (EDM, INPUT)   (network input, dim values)
 *   u  = ln(σ̃)/4 (PI_EMBED_LOG_SIGMA, EDM's c_noise) or u = t (PI_EMBED_TIME)
 *   emb(u) = [sin(ω_0 u) … sin(ω_{h−1} u), cos(ω_0 u) … cos(ω_{h−1} u)],  h = features/2,
 *            ω_k = 64^(k/(h−1)) (geometric from 1 to 64; ω_0 = 1 when h = 1)
 *   h_0 = [z, emb(u)]  (in = dim + features values)
 *   h_l = SiLU(W_l h_{l−1} + b_l),  l = 1 … L  (width W, SiLU(a) = a/(1 + e^−a))
 *   F   = W_{L+1} h_L + b_{L+1}     (dim values)
 * Output. Without EDM preconditioning (PI_PRECOND_NONE, PI_PRECOND_INPUT) the model's native
 * view is the output view (ε by default; score or denoiser selectable) and its value is F. With
 * EDM preconditioning (σ_d = σ_data)
 *   c_skip = σ_d²/(σ̃² + σ_d²),  c_out = σ̃ σ_d/√(σ̃² + σ_d²),  c_in = 1/√(σ̃² + σ_d²)
 *   D = c_skip x̃ + c_out F   (native view: denoiser; the output-view setting is kept but
 *                               unused under EDM)
 * Parameters: one flat float vector, Linear layer by layer: W_l (out × in, row-major, PyTorch's
 * nn.Linear.weight) then b_l. Initialisation (PyTorch's nn.Linear default distribution):
 * every W_l and b_l entry uniform in (−1/√in_l, 1/√in_l), drawn by Philox from
 * (seed, PI_STREAM_INIT, sample = l, step = 0 for W_l / 1 for b_l, element = flat index), so
 * a seed gives the same weights on every machine. Creation uses seed 0. */
#include "nn/mlp_impl.h"
#include "nn/nn.h"

#include "core/codec.h"
#include "core/philox.h"

#include <string.h>

static size_t mlp_workspace_bytes(const pi_model_t *m, size_t n)
{
    return pi_mlp_eval_workspace_bytes(m, n);
}

static pi_status mlp_write_payload(const pi_model_t *m, pi_file *file);

static void mlp_destroy(pi_model_t *m)
{
    pi_mlp *net = m->impl;
    if (net == NULL)
        return;
    pi_free(net->params);
    pi_free(net);
    m->impl = NULL;
}

static const struct pi_model_type mlp_type = {
    .name = "mlp",
    .kind = PI_MODEL_MLP,
    .workspace_bytes = mlp_workspace_bytes,
    .eval = pi_mlp_eval,
    .score_d = pi_mlp_score_d,
    .jvp_d = pi_mlp_jvp_d,
    .jacobian_d = pi_mlp_jacobian_d,
    .divergence_d = pi_mlp_divergence_d,
    .grad_div_d = pi_mlp_grad_div_d,
    .hessians_d = pi_mlp_hessians_d,
    .hess_div_d = pi_mlp_hess_div_d,
    .derivatives_d = pi_mlp_derivatives_d,
    .logpdf_d = NULL,
    .write_payload = mlp_write_payload,
    .destroy = mlp_destroy,
};

pi_mlp *pi_mlp_of(const pi_model_t *m)
{
    if (m == NULL || m->type != &mlp_type)
        return NULL;
    return m->impl;
}

size_t pi_mlp_count_params(size_t dim, size_t width, size_t layers, size_t features)
{
    if (dim == 0 || width == 0 || layers == 0 || dim > PI_MAX_DIM || width > PI_MLP_MAX_WIDTH ||
        layers > PI_MLP_MAX_LAYERS || features > PI_MLP_MAX_FEATURES)
        return 0;
    /* All factors are bounded above, so these products fit in 64 bits. */
    size_t in = dim + features;
    size_t total = width * (in + 1) + (layers - 1) * width * (width + 1) + dim * (width + 1);
    return total > PI_MLP_MAX_PARAMS ? 0 : total;
}

size_t pi_mlp_weight_offset(const pi_mlp *net, size_t l)
{
    size_t off = 0;
    for (size_t k = 0; k < l; k++)
        off += pi_mlp_layer_out(net, k) * (pi_mlp_layer_in(net, k) + 1);
    return off;
}

static void mlp_init_weights(pi_mlp *net, uint64_t seed)
{
    for (size_t l = 0; l <= net->layers; l++) {
        size_t in = pi_mlp_layer_in(net, l), out = pi_mlp_layer_out(net, l);
        float *w = net->params + pi_mlp_weight_offset(net, l);
        float *b = w + out * in;
        double bound = 1.0 / sqrt((double)in);
        for (size_t e = 0; e < out * in; e++)
            w[e] = (float)(bound * (2.0 * pi_rng_uniform1(seed, PI_STREAM_INIT, l, 0, e) - 1.0));
        for (size_t e = 0; e < out; e++)
            b[e] = (float)(bound * (2.0 * pi_rng_uniform1(seed, PI_STREAM_INIT, l, 1, e) - 1.0));
    }
    net->seed = seed;
}

static pi_view mlp_native_view(const pi_mlp *net)
{
    return net->precond == PI_PRECOND_EDM ? PI_VIEW_DENOISED : net->output_view;
}

pi_status pi_mlp_create_shaped(const pi_sde_t *sde, size_t dim, size_t width, size_t layers,
                               size_t features, pi_embedding embedding, pi_view output_view,
                               int precond, double sigma_data, pi_model_t **out)
{
    size_t count = pi_mlp_count_params(dim, width, layers, features);
    if (count == 0)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_mlp: network too large (dim %zu, width %zu, layers %zu, "
                       "features %zu; at most 2^31 parameters)",
                       dim, width, layers, features);
    pi_mlp *net = pi_calloc(1, sizeof *net);
    float *params = pi_alloc_array(count, sizeof(float));
    if (net == NULL || params == NULL) {
        pi_free(net);
        pi_free(params);
        return pi_fail(PI_ENOMEM, "pi_model_create_mlp: out of memory for %zu parameters", count);
    }
    net->dim = dim;
    net->width = width;
    net->layers = layers;
    net->features = features;
    net->in = dim + features;
    net->embedding = embedding;
    net->output_view = output_view;
    net->precond = precond;
    net->sigma_data = sigma_data;
    net->num_params = count;
    net->params = params;
    memset(params, 0, count * sizeof(float));
    pi_model_t *m = NULL;
    pi_status st = pi_model_alloc(&mlp_type, sde, dim, mlp_native_view(net), &m);
    if (st != PI_OK) {
        pi_free(params);
        pi_free(net);
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
    pi_status st = pi_mlp_create_shaped(sde, dim, hidden_width, hidden_layers, 16,
                                        PI_EMBED_LOG_SIGMA, PI_VIEW_EPS, 0, 0.5, &m);
    if (st != PI_OK)
        return st;
    mlp_init_weights(m->impl, 0);
    *out = m;
    return PI_OK;
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
    mlp_init_weights(net, seed);
    return PI_OK;
}

pi_status pi_model_mlp_set_output_view(pi_model_t *model, pi_view view)
{
    MLP_OF_OR_FAIL(net, model);
    if (view != PI_VIEW_SCORE && view != PI_VIEW_EPS && view != PI_VIEW_DENOISED)
        return pi_fail(PI_EINVAL,
                       "pi_model_mlp_set_output_view: view must be PI_VIEW_SCORE (0), "
                       "PI_VIEW_EPS (1) or PI_VIEW_DENOISED (2), got %d",
                       (int)view);
    net->output_view = view;
    model->native_view = mlp_native_view(net);
    return PI_OK;
}

pi_status pi_model_mlp_set_embedding(pi_model_t *model, pi_embedding kind, size_t features)
{
    MLP_OF_OR_FAIL(net, model);
    if (kind != PI_EMBED_LOG_SIGMA && kind != PI_EMBED_TIME)
        return pi_fail(PI_EINVAL,
                       "pi_model_mlp_set_embedding: kind must be PI_EMBED_LOG_SIGMA (0) or "
                       "PI_EMBED_TIME (1), got %d",
                       (int)kind);
    if (features < 2 || features > PI_MLP_MAX_FEATURES || features % 2 != 0)
        return pi_fail(
            PI_EINVAL,
            "pi_model_mlp_set_embedding: features must be even and in [2, 4096], got %zu",
            features);
    if (features != net->features) {
        /* The first layer changes shape: new parameters, re-initialised from the last seed. */
        size_t count = pi_mlp_count_params(net->dim, net->width, net->layers, features);
        if (count == 0)
            return pi_fail(PI_EINVAL,
                           "pi_model_mlp_set_embedding: features %zu make the network too large",
                           features);
        float *params = pi_alloc_array(count, sizeof(float));
        if (params == NULL)
            return pi_fail(PI_ENOMEM, "pi_model_mlp_set_embedding: out of memory");
        pi_free(net->params);
        net->params = params;
        net->num_params = count;
        net->features = features;
        net->in = net->dim + features;
        mlp_init_weights(net, net->seed);
    }
    net->embedding = kind;
    return PI_OK;
}

pi_status pi_model_mlp_set_preconditioning(pi_model_t *model, int mode, double sigma_data)
{
    MLP_OF_OR_FAIL(net, model);
    if (mode != PI_PRECOND_NONE && mode != PI_PRECOND_EDM && mode != PI_PRECOND_INPUT)
        return pi_fail(PI_EINVAL,
                       "pi_model_mlp_set_preconditioning: mode must be 0 (none), 1 (EDM) or 2 "
                       "(input), got %d",
                       mode);
    if (!isfinite(sigma_data) || sigma_data <= 0.0 || sigma_data > 1e30)
        return pi_fail(PI_EINVAL,
                       "pi_model_mlp_set_preconditioning: sigma_data must be finite and in "
                       "(0, 1e30], got %g",
                       sigma_data);
    net->precond = mode;
    net->sigma_data = sigma_data;
    model->native_view = mlp_native_view(net);
    return PI_OK;
}

float *pi_mlp_params(pi_model_t *m, size_t *count)
{
    pi_mlp *net = pi_mlp_of(m);
    if (net == NULL) {
        if (count != NULL)
            *count = 0;
        return NULL;
    }
    if (count != NULL)
        *count = net->num_params;
    return net->params;
}

/* ---- model-file payload -----------------------------------------------------------------
 * Little-endian, after model_file.c's framing (which carries dim and the SDE):
 *   u32 payload version (1)
 *   u32 embedding kind, u32 output view, u32 preconditioning mode (pi_precond: 0, 1, 2)
 *   u64 hidden width, u64 hidden layers, u64 features
 *   f64 sigma_data, u64 seed of the last initialisation, u64 parameter count
 *   f32 × parameter count (the flat vector)                                               */
#define MLP_PAYLOAD_VERSION 1u
#define MLP_PAYLOAD_HEADER 64u

static pi_status mlp_write_payload(const pi_model_t *m, pi_file *file)
{
    const pi_mlp *net = m->impl;
    unsigned char head[MLP_PAYLOAD_HEADER];
    pi_put_u32(head + 0, MLP_PAYLOAD_VERSION);
    pi_put_u32(head + 4, (uint32_t)net->embedding);
    pi_put_u32(head + 8, (uint32_t)net->output_view);
    pi_put_u32(head + 12, (uint32_t)net->precond);
    pi_put_u64(head + 16, net->width);
    pi_put_u64(head + 24, net->layers);
    pi_put_u64(head + 32, net->features);
    pi_put_f64(head + 40, net->sigma_data);
    pi_put_u64(head + 48, net->seed);
    pi_put_u64(head + 56, net->num_params);
    pi_status st = pi_file_write(file, head, sizeof head);
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
    if (version != MLP_PAYLOAD_VERSION)
        return pi_fail(PI_EFORMAT, "MLP payload: version %u is not supported (expected 1)",
                       version);
    if (embedding > 1)
        return pi_fail(PI_EFORMAT, "MLP payload: embedding kind %u is not 0 or 1", embedding);
    if (view > 2)
        return pi_fail(PI_EFORMAT, "MLP payload: output view %u is not 0, 1 or 2", view);
    if (precond > PI_PRECOND_INPUT)
        return pi_fail(PI_EFORMAT, "MLP payload: preconditioning mode %u is not 0, 1 or 2",
                       precond);
    if (!isfinite(sigma_data) || sigma_data <= 0.0 || sigma_data > 1e30)
        return pi_fail(PI_EFORMAT, "MLP payload: sigma_data %g is not in (0, 1e30]", sigma_data);
    if (dim == 0 || dim > PI_MAX_DIM || width == 0 || width > PI_MLP_MAX_WIDTH || layers == 0 ||
        layers > PI_MLP_MAX_LAYERS || features < 2 || features > PI_MLP_MAX_FEATURES ||
        features % 2 != 0)
        return pi_fail(
            PI_EFORMAT,
            "MLP payload: absurd shape (dim %zu, width %llu, layers %llu, features %llu)", dim,
            (unsigned long long)width, (unsigned long long)layers, (unsigned long long)features);
    size_t expect = pi_mlp_count_params(dim, (size_t)width, (size_t)layers, (size_t)features);
    if (expect == 0 || count != expect)
        return pi_fail(PI_EFORMAT,
                       "MLP payload: parameter count %llu does not match the shape (expected %zu)",
                       (unsigned long long)count, expect);
    if ((bytes - MLP_PAYLOAD_HEADER) / 4 != expect || (bytes - MLP_PAYLOAD_HEADER) % 4 != 0)
        return pi_fail(PI_EFORMAT, "MLP payload: %zu bytes of weights, expected %zu",
                       bytes - MLP_PAYLOAD_HEADER, 4 * expect);
    const unsigned char *w = payload + MLP_PAYLOAD_HEADER;
    for (size_t i = 0; i < expect; i++) {
        if (!isfinite(pi_get_f32(w + 4 * i)))
            return pi_fail(PI_EFORMAT, "MLP payload: parameter %zu is not finite", i);
    }
    pi_model_t *m = NULL;
    pi_status st =
        pi_mlp_create_shaped(sde, dim, (size_t)width, (size_t)layers, (size_t)features,
                             (pi_embedding)embedding, (pi_view)view, (int)precond, sigma_data, &m);
    if (st != PI_OK)
        return st;
    pi_mlp *net = m->impl;
    for (size_t i = 0; i < expect; i++)
        net->params[i] = pi_get_f32(w + 4 * i);
    net->seed = seed;
    *out = m;
    return PI_OK;
}
