/* Hand-derived backward pass of the MLP on BLIS (issue 7): from dL/d(out) (out = the native
 * view after preconditioning) to dL/dθ with one sgemm for each weight gradient (δᵀ h) and one
 * for each propagated δ (δ W), SiLU' and the bias sums in cheap elementwise passes. All
 * buffers live in the workspace filled by pi_mlp_forward_train; nothing is allocated.
 * With several workers (pi_mlp_split) each takes a slice of rows into its own partial
 * gradient; the partials are then added in worker order (reproducible for a fixed thread
 * count). */
#include "mlp_impl.h"

#include "core/gemm.h"

#include <string.h>

typedef struct backward_job {
    const pi_mlp *net;
    const pi_mlp_train_layout *lay;
    size_t n, chunk;
    const float *dout;
    float *grad;
    int blis_threads;
} backward_job;

static void backward_task(void *ctx, size_t task)
{
    const backward_job *job = ctx;
    const pi_mlp *net = job->net;
    const pi_mlp_train_layout *lay = job->lay;
    size_t r0 = task * job->chunk;
    float *grad = task == 0 ? job->grad : lay->partial + (task - 1) * lay->partial_stride;
    if (r0 >= job->n) {
        if (task > 0)
            memset(grad, 0, net->num_params * sizeof *grad);
        return;
    }
    size_t n = job->n - r0 < job->chunk ? job->n - r0 : job->chunk;
    size_t d = net->dim;
    int threads = job->blis_threads;
    pi_mlp_train_layout slice = *lay;
    slice.hidden_offset = r0 * net->width;
    const pi_mlp_row *rows = lay->rows + r0;
    const float *dout = job->dout + r0 * d;
    /* Each worker owns rows [r0, r0 + n) × max(W, dim) of both delta buffers and packs its
     * n × (layer width) deltas there: workers at different layers never overlap. */
    size_t wide = net->width > d ? net->width : d;
    float *buf_a = lay->delta_a + r0 * wide, *buf_b = lay->delta_b + r0 * wide;
    /* δ at the network output F: dL/dF = c_out · dL/dD with preconditioning. */
    float *delta = buf_a;
    for (size_t r = 0; r < n; r++) {
        float c = net->precond == PI_PRECOND_EDM ? (float)rows[r].c_out : 1.0f;
        for (size_t j = 0; j < d; j++)
            delta[r * d + j] = c * dout[r * d + j];
    }
    int in_a = 1;
    for (size_t l = net->layers + 1; l-- > 0;) {
        size_t in = pi_mlp_layer_in(net, l), out = pi_mlp_layer_out(net, l);
        size_t off = pi_mlp_weight_offset(net, l);
        const float *w = net->params + off;
        const float *h = l == 0 ? lay->input + r0 * net->in : pi_mlp_train_post(&slice, l - 1);
        /* ∂L/∂W_l = δᵀ h (out × in), ∂L/∂b_l = Σ_rows δ. */
        pi_sgemm(1, 0, out, in, n, 1.0f, delta, out, h, in, 0.0f, grad + off, in, threads);
        pi_dense_column_sums(n, out, delta, grad + off + out * in);
        if (l == 0)
            break;
        /* δ_{l−1} = (δ W_l) ⊙ SiLU'(pre_{l−1}). */
        float *next = in_a ? buf_b : buf_a;
        pi_sgemm(0, 0, n, in, out, 1.0f, delta, out, w, in, 0.0f, next, in, threads);
        pi_dense_silu_backward(n * in, pi_mlp_train_pre(&slice, l - 1), next);
        delta = next;
        in_a = !in_a;
    }
}

pi_status pi_mlp_backward(const pi_mlp *net, size_t n, const float *dout, float *grad, void *ws,
                          int threads, pi_pool *pool)
{
    PI_CHECK_NULL(net);
    PI_CHECK_NULL(dout);
    PI_CHECK_NULL(grad);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    pi_mlp_train_layout lay;
    pi_mlp_train_layout_of(net, n, ws, &lay);
    backward_job job = {net, &lay, n, 0, dout, grad, 1};
    size_t workers;
    pi_mlp_split(n, threads, PI_MLP_TRAIN_WORKERS, &workers, &job.blis_threads);
    job.chunk = (n + workers - 1) / workers;
    if (workers <= 1) {
        backward_task(&job, 0);
        return PI_OK;
    }
    pi_mlp_fork_join(pool, backward_task, &job, workers);
    for (size_t w = 1; w < workers; w++) {
        const float *part = lay.partial + (w - 1) * lay.partial_stride;
        for (size_t i = 0; i < net->num_params; i++)
            grad[i] += part[i];
    }
    return PI_OK;
}
