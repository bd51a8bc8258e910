/* A naive double-precision implementation of the MLP's definition (comment block of
 * lib/nn/nn.h), written independently of lib/nn, for test_model_mlp and
 * test_nn_gradients. theta is the flat parameter vector in double. */
#ifndef PI_TEST_MLP_REFERENCE_H
#define PI_TEST_MLP_REFERENCE_H

#include "model/model_impl.h"
#include "nn/mlp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

/* Network input row (in values) of point x at t. */
static inline void ref_mlp_input(const pi_model_t *m, const double *x, double t, double *input)
{
    const pi_mlp *net = m->impl;
    double alpha, sigma;
    pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
    double st = sigma / alpha;
    double c = net->precond != PI_PRECOND_NONE ? 1.0 / sqrt(st * st + net->sigma_data * net->sigma_data) : 1.0;
    for (size_t i = 0; i < net->dim; i++)
        input[i] = c * x[i] / alpha;
    double u = net->embedding == PI_EMBEDDING_TIME ? t : log(st) / 4.0;
    size_t h = net->features / 2;
    for (size_t k = 0; k < h; k++) {
        double w = h > 1 ? pow(64.0, (double)k / (double)(h - 1)) : 1.0;
        input[net->dim + k] = sin(w * u);
        input[net->dim + h + k] = cos(w * u);
    }
}

/* F = network(input), all in double. */
static inline void ref_mlp_network(const pi_mlp *net, const double *theta, const double *input,
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
static inline void ref_mlp_native(const pi_model_t *m, const double *theta, const double *x,
                                  double t, double *out)
{
    const pi_mlp *net = m->impl;
    double *input = malloc(net->in * sizeof *input);
    ref_mlp_input(m, x, t, input);
    ref_mlp_network(net, theta, input, out);
    if (net->precond == PI_PRECOND_EDM) {
        double alpha, sigma;
        pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
        double st = sigma / alpha, sd = net->sigma_data, q = st * st + sd * sd;
        for (size_t k = 0; k < net->dim; k++)
            out[k] = sd * sd / q * x[k] / alpha + st * sd / sqrt(q) * out[k];
    }
    free(input);
}

/* The score at (x, t) from the native view (MATH.md §2). */
static inline void ref_mlp_score(const pi_model_t *m, const double *theta, const double *x,
                                 double t, double *s)
{
    const pi_mlp *net = m->impl;
    double alpha, sigma;
    pi_sde_eval_marginal(&m->sde, t, &alpha, &sigma);
    ref_mlp_native(m, theta, x, t, s);
    pi_view v = net->precond == PI_PRECOND_EDM ? PI_VIEW_DENOISED : net->output_view;
    for (size_t k = 0; k < net->dim; k++) {
        if (v == PI_VIEW_EPS)
            s[k] = -s[k] / sigma;
        else if (v == PI_VIEW_DENOISED)
            s[k] = (alpha * s[k] - x[k]) / (sigma * sigma);
    }
}

static inline double *ref_mlp_theta(const pi_model_t *m)
{
    const pi_mlp *net = m->impl;
    double *theta = malloc(net->num_params * sizeof *theta);
    for (size_t i = 0; i < net->num_params; i++)
        theta[i] = net->params[i];
    return theta;
}

/* ---- the PyTorch twin (tests/torch_mlp.py) -------------------------------------------- */
#include <stdio.h>
#include <sys/wait.h>

/* Write a case file for torch_mlp.py: shape and options, then params (if with_params), x, t,
 * α, σ per row and dout (zeros if NULL). */
static inline int ref_write_case(const char *path, const pi_model_t *m, int with_params, size_t n,
                                 const float *x, const double *t, const float *dout)
{
    const pi_mlp *net = m->impl;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%zu %zu %zu %zu %d %d %d %.17g %zu %zu %zu\n", net->dim, net->width, net->layers,
            net->features, (int)net->embedding - 1, (int)net->output_view - 1, (int)net->precond - 1,
            net->sigma_data, n, net->classes, net->cond_dim);
    for (size_t i = 0; with_params && i < net->num_params; i++)
        fprintf(f, "%.9g ", (double)net->params[i]);
    fprintf(f, "\n");
    for (size_t i = 0; i < n * net->dim; i++)
        fprintf(f, "%.9g ", (double)x[i]);
    fprintf(f, "\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.17g ", t[i]);
    fprintf(f, "\n");
    for (int which = 0; which < 2; which++) {
        for (size_t i = 0; i < n; i++) {
            double alpha, sigma;
            pi_sde_eval_marginal(&m->sde, t[i], &alpha, &sigma);
            fprintf(f, "%.17g ", which == 0 ? alpha : sigma);
        }
        fprintf(f, "\n");
    }
    for (size_t i = 0; i < n * net->dim; i++)
        fprintf(f, "%.9g ", dout != NULL ? (double)dout[i] : 0.0);
    fprintf(f, "\n");
    return fclose(f);
}

/* The conditions of a case written by ref_write_case (issue 15): labels (n) and vectors
 * (n × cond_dim) lines appended. */
static inline int ref_append_conditions(const char *path, size_t n, const int32_t *labels,
                                        size_t cond_dim, const float *cond)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%d ", (int)labels[i]);
    fprintf(f, "\n");
    for (size_t i = 0; i < n * cond_dim; i++)
        fprintf(f, "%.9g ", (double)cond[i]);
    fprintf(f, "\n");
    return fclose(f);
}

/* Run tests/torch_mlp.py with args; 0 = ran, 77 = torch (or python3) missing, else failure. */
static inline int ref_run_torch(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/torch_mlp.py %s", PI_SOURCE_ROOT, args);
    if (access("/usr/bin/python3", X_OK) != 0)
        return 77;
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc))
        return -1;
    return WEXITSTATUS(rc);
}

/* Read count whitespace-separated doubles; returns the number read. */
static inline size_t ref_read_numbers(const char *path, double *out, size_t count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t k = 0;
    while (k < count && fscanf(f, "%lf", &out[k]) == 1)
        k++;
    fclose(f);
    return k;
}

#endif
