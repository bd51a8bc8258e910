/* A naive double-precision implementation of the MLP's definition (comment block of
 * lib/model/mlp.c), written independently of lib/nn, for test_model_mlp and
 * test_nn_gradients. theta is the flat parameter vector in double. */
#ifndef PI_TEST_MLP_REFERENCE_H
#define PI_TEST_MLP_REFERENCE_H

#include "nn/mlp_impl.h"

#include <math.h>
#include <stdlib.h>

/* Network input row (in values) of point x at t. */
static void ref_mlp_input(const pi_model_t *m, const double *x, double t, double *input)
{
    const pi_mlp *net = m->impl;
    double alpha, sigma;
    pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
    double st = sigma / alpha;
    double c = net->precond ? 1.0 / sqrt(st * st + net->sigma_data * net->sigma_data) : 1.0;
    for (size_t i = 0; i < net->dim; i++)
        input[i] = c * x[i] / alpha;
    double u = net->embedding == PI_EMBED_TIME ? t : log(st) / 4.0;
    size_t h = net->features / 2;
    for (size_t k = 0; k < h; k++) {
        double w = h > 1 ? pow(64.0, (double)k / (double)(h - 1)) : 1.0;
        input[net->dim + k] = sin(w * u);
        input[net->dim + h + k] = cos(w * u);
    }
}

/* F = network(input), all in double. */
static void ref_mlp_network(const pi_mlp *net, const double *theta, const double *input,
                            double *f)
{
    size_t maxw = net->width > net->in ? net->width : net->in;
    double *a = malloc(maxw * sizeof *a), *b = malloc(maxw * sizeof *b);
    for (size_t i = 0; i < net->in; i++)
        a[i] = input[i];
    size_t off = 0, in = net->in;
    for (size_t l = 0; l <= net->layers; l++) {
        size_t out = l == net->layers ? net->dim : net->width;
        const double *w = theta + off, *bias = theta + off + out * in;
        for (size_t o = 0; o < out; o++) {
            double acc = bias[o];
            for (size_t i = 0; i < in; i++)
                acc += w[o * in + i] * a[i];
            b[o] = l == net->layers ? acc : acc / (1.0 + exp(-acc));
        }
        off += out * (in + 1);
        in = out;
        double *tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t k = 0; k < net->dim; k++)
        f[k] = a[k];
    free(a);
    free(b);
}

/* The model's native-view output at (x, t). */
static void ref_mlp_native(const pi_model_t *m, const double *theta, const double *x, double t,
                           double *out)
{
    const pi_mlp *net = m->impl;
    double *input = malloc(net->in * sizeof *input);
    ref_mlp_input(m, x, t, input);
    ref_mlp_network(net, theta, input, out);
    if (net->precond) {
        double alpha, sigma;
        pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
        double st = sigma / alpha, sd = net->sigma_data, q = st * st + sd * sd;
        for (size_t k = 0; k < net->dim; k++)
            out[k] = sd * sd / q * x[k] / alpha + st * sd / sqrt(q) * out[k];
    }
    free(input);
}

/* The score at (x, t) from the native view (MATH.md §2). */
static void ref_mlp_score(const pi_model_t *m, const double *theta, const double *x, double t,
                          double *s)
{
    const pi_mlp *net = m->impl;
    double alpha, sigma;
    pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
    ref_mlp_native(m, theta, x, t, s);
    pi_view v = net->precond ? PI_VIEW_DENOISED : net->output_view;
    for (size_t k = 0; k < net->dim; k++) {
        if (v == PI_VIEW_EPS)
            s[k] = -s[k] / sigma;
        else if (v == PI_VIEW_DENOISED)
            s[k] = (alpha * s[k] - x[k]) / (sigma * sigma);
    }
}

static double *ref_mlp_theta(const pi_model_t *m)
{
    const pi_mlp *net = m->impl;
    double *theta = malloc(net->num_params * sizeof *theta);
    for (size_t i = 0; i < net->num_params; i++)
        theta[i] = net->params[i];
    return theta;
}

#endif
