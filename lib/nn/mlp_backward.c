/* Hand-derived backward pass of the MLP on BLIS (issue 7): from dL/d(out) (out = the native
 * view after preconditioning) to dL/dθ with one sgemm for each weight gradient (δᵀ h) and one
 * for each propagated δ (δ W), SiLU' and the bias sums in cheap elementwise passes. All
 * buffers live in the workspace filled by pi_mlp_forward_train; nothing is allocated. */
#include "mlp_impl.h"
#include "nn.h"

#include "core/gemm.h"

pi_status pi_mlp_backward(const pi_model_t *m, size_t n, const float *dout, float *grad, void *ws,
                          int threads)
{
    PI_CHECK_NULL(m);
    const pi_mlp *net = pi_mlp_of(m);
    if (net == NULL)
        return pi_fail(PI_EUNSUPPORTED, "pi_mlp_backward: model must be an MLP, got a %s model",
                       m->type->name);
    PI_CHECK_NULL(dout);
    PI_CHECK_NULL(grad);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    pi_mlp_train_layout lay;
    pi_mlp_train_layout_of(net, n, ws, &lay);
    if (threads < 1)
        threads = 1;
    size_t d = net->dim;
    /* δ at the network output F: dL/dF = c_out · dL/dD with preconditioning. */
    float *delta = lay.delta_a, *next = lay.delta_b;
    for (size_t r = 0; r < n; r++) {
        float c = net->precond ? (float)lay.rows[r].c_out : 1.0f;
        for (size_t j = 0; j < d; j++)
            delta[r * d + j] = c * dout[r * d + j];
    }
    for (size_t l = net->layers + 1; l-- > 0;) {
        size_t in = pi_mlp_layer_in(net, l), out = pi_mlp_layer_out(net, l);
        size_t off = pi_mlp_weight_offset(net, l);
        const float *w = net->params + off;
        const float *h = l == 0 ? lay.input : pi_mlp_train_post(&lay, l - 1);
        /* ∂L/∂W_l = δᵀ h (out × in), ∂L/∂b_l = Σ_rows δ. */
        pi_sgemm(1, 0, out, in, n, 1.0f, delta, out, h, in, 0.0f, grad + off, in, threads);
        pi_dense_column_sums(n, out, delta, grad + off + out * in);
        if (l == 0)
            break;
        /* δ_{l−1} = (δ W_l) ⊙ SiLU'(pre_{l−1}). */
        pi_sgemm(0, 0, n, in, out, 1.0f, delta, out, w, in, 0.0f, next, in, threads);
        pi_dense_silu_backward(n * in, pi_mlp_train_pre(&lay, l - 1), next);
        float *tmp = delta;
        delta = next;
        next = tmp;
    }
    return PI_OK;
}
