/* Internal MLP interface for training (train/) and the MLP model (model/mlp.c).
 *
 * Parameters are one flat float vector, layer by layer: W_l (out × in, row-major, PyTorch's
 * nn.Linear layout) then b_l (out). Layers: in = dim + embedding features → W → ... → W → dim.
 * "out" below is the model's native output view value after preconditioning (what
 * type->eval returns), so the trainer only has to convert its loss to that view. */
#ifndef PI_NN_H
#define PI_NN_H

#include "model/model_impl.h"

/* Scratch for a training forward + backward on `batch` rows (activations kept). */
size_t pi_mlp_train_workspace_bytes(const pi_model_t *m, size_t batch);

/* Forward pass that keeps activations in ws for pi_mlp_backward. `threads` >= 1: with enough
 * rows (>= 256 per worker) the rows are split between up to 4 workers, each using
 * threads/workers BLIS threads; out does not depend on threads (rows are independent). */
pi_status pi_mlp_forward_train(const pi_model_t *m, size_t n, const float *x, const double *t,
                               float *out, void *ws, int threads);

/* Backward pass: grad (num_params floats) = Σ_rows ∂(Σ dout · out)/∂θ for the last
 * pi_mlp_forward_train on ws (same n). grad is overwritten. No allocation. The row split
 * sums per-worker partial gradients in worker order: bitwise reproducible for a fixed
 * thread count, equal to rounding across thread counts. */
pi_status pi_mlp_backward(const pi_model_t *m, size_t n, const float *dout, float *grad, void *ws,
                          int threads);

/* Mutable access to the flat parameter vector (NULL for non-MLP models). */
float *pi_mlp_params(pi_model_t *m, size_t *count);

#endif
