/* The MLP network's shape, allocation and initialisation (definition and initialisation
 * distribution: the comment block of nn.h). */
#include "mlp_impl.h"

#include "core/philox.h"

#include <string.h>

size_t pi_mlp_count_params(size_t dim, size_t width, size_t layers, size_t features)
{
    return pi_mlp_count_params_cond(dim, width, layers, features, 0);
}

size_t pi_mlp_count_params_cond(size_t dim, size_t width, size_t layers, size_t features,
                                size_t cond_in)
{
    if (dim == 0 || width == 0 || layers == 0 || dim > PI_MAX_DIM || width > PI_MLP_MAX_WIDTH ||
        layers > PI_MLP_MAX_LAYERS || features > PI_MLP_MAX_FEATURES ||
        cond_in > PI_MAX_CLASSES + PI_MAX_COND_DIM + 2)
        return 0;
    /* All factors are bounded above, so these products fit in 64 bits. */
    size_t in = dim + features + cond_in;
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

void pi_mlp_init(pi_mlp *net, uint64_t seed)
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

pi_view pi_mlp_native_view(const pi_mlp *net)
{
    return net->precond == PI_PRECOND_EDM ? PI_VIEW_DENOISED : net->output_view;
}

pi_status pi_mlp_create(const char *who, size_t dim, size_t width, size_t layers,
                        size_t features, pi_embedding embedding, pi_view output_view, pi_precond precond,
                        double sigma_data, pi_mlp **out)
{
    size_t count = pi_mlp_count_params(dim, width, layers, features);
    if (count == 0)
        return pi_fail(PI_EINVAL,
                       "%s: network too large (dim %zu, width %zu, layers %zu, features %zu; at "
                       "most 2^31 parameters)",
                       who, dim, width, layers, features);
    pi_mlp *net = pi_calloc(1, sizeof *net);
    float *params = pi_calloc(count, sizeof(float));
    if (net == NULL || params == NULL) {
        pi_free(net);
        pi_free(params);
        return pi_fail(PI_ENOMEM, "%s: out of memory for %zu parameters", who, count);
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
    *out = net;
    return PI_OK;
}

void pi_mlp_destroy(pi_mlp *net)
{
    if (net == NULL)
        return;
    pi_free(net->params);
    pi_free(net);
}

pi_status pi_mlp_set_features(const char *who, pi_mlp *net, size_t features)
{
    if (features == net->features)
        return PI_OK;
    size_t count = pi_mlp_count_params_cond(net->dim, net->width, net->layers, features,
                                            net->cond_in);
    if (count == 0)
        return pi_fail(PI_EINVAL, "%s: features %zu make the network too large", who, features);
    float *params = pi_alloc_array(count, sizeof(float));
    if (params == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory", who);
    pi_free(net->params);
    net->params = params;
    net->num_params = count;
    net->features = features;
    net->in = net->dim + features + net->cond_in;
    pi_mlp_init(net, net->seed);
    return PI_OK;
}

pi_status pi_mlp_set_conditions(const char *who, pi_mlp *net, size_t classes, size_t cond_dim)
{
    if (classes > PI_MAX_CLASSES || cond_dim > PI_MAX_COND_DIM)
        return pi_fail(PI_EINVAL, "%s: classes must be in [0, %d] and cond_dim in [0, %d], got %zu "
                                  "and %zu", who, PI_MAX_CLASSES, PI_MAX_COND_DIM, classes, cond_dim);
    size_t cond_in = (classes > 0 ? classes + 1 : 0) + (cond_dim > 0 ? cond_dim + 1 : 0);
    size_t count = pi_mlp_count_params_cond(net->dim, net->width, net->layers, net->features,
                                            cond_in);
    if (count == 0)
        return pi_fail(PI_EINVAL, "%s: %zu classes and cond_dim %zu make the network too large",
                       who, classes, cond_dim);
    float *params = pi_calloc(count, sizeof(float));
    if (params == NULL)
        return pi_fail(PI_ENOMEM, "%s: out of memory", who);
    pi_free(net->params);
    net->params = params;
    net->num_params = count;
    net->classes = classes;
    net->cond_dim = cond_dim;
    net->cond_in = cond_in;
    net->in = net->dim + net->features + cond_in;
    pi_mlp_init(net, net->seed);
    return PI_OK;
}
