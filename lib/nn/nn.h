/* nn/: the MLP network type and the functions on it (shape, initialisation, batched float
 * forward, training forward + backward, double-precision derivatives in x). nn knows nothing
 * of models: the one thing it needs from the forward process, (α(t), σ(t)), comes from the
 * caller through pi_mlp_noise (the MLP model kind passes its SDE and adapts a pi_mlp to the
 * model vtable).
 *
 * Definition (MATH.md §2). At time t with (α, σ) from the forward process and σ̃ = σ/α:
 *   x̃ = x/α                                   (the EDM variables, MATH.md §1)
 *   z  = x̃ (PI_PRECOND_NONE), or c_in x̃ (EDM, INPUT)   (network input, dim values)
 *   u  = ln(σ̃)/4 (PI_EMBEDDING_LOG_SIGMA, EDM's c_noise) or u = t (PI_EMBEDDING_TIME)
 *   emb(u) = [sin(ω_0 u) … sin(ω_{h−1} u), cos(ω_0 u) … cos(ω_{h−1} u)],  h = features/2,
 *            ω_k = 64^(k/(h−1)) (geometric from 1 to 64; ω_0 = 1 when h = 1)
 *   h_0 = [z, emb(u), cond]  (in = dim + features + cond_in values)
 * Conditions (issue 15; cond_in = 0 for an unconditional network): with k classes,
 *   onehot(y) of k + 1 values, y in [0, k) or y = k for the null condition; with a
 *   condition vector of c values, [c, present] (present = 1, or c = 0 and present = 0 for the
 *   null condition): cond = [onehot(y)?, c?, present?], cond_in = (k ? k + 1 : 0) + (c ? c + 1 : 0).
 *   So the first layer's pre-activation is W_x z + W_e emb(u) + E[y] + W_c c + p·present + b:
 *   a learned class embedding E (the one-hot columns of W_1, one row per class plus the null
 *   class) and a linear projection of the condition vector are added to the time embedding's
 *   projection, the way EDM adds its class embedding to its noise embedding.
 *   h_l = SiLU(W_l h_{l−1} + b_l),  l = 1 … L  (width W, SiLU(a) = a/(1 + e^−a))
 *   F   = W_{L+1} h_L + b_{L+1}     (dim values)
 * Output. Without EDM preconditioning (PI_PRECOND_NONE, PI_PRECOND_INPUT) the native output
 * is the output view (ε by default; score or denoiser selectable) and its value is F. With
 * EDM preconditioning (σ_d = σ_data)
 *   c_skip = σ_d²/(σ̃² + σ_d²),  c_out = σ̃ σ_d/√(σ̃² + σ_d²),  c_in = 1/√(σ̃² + σ_d²)
 *   D = c_skip x̃ + c_out F   (native output: denoiser; the output-view setting is kept but
 *                               unused under EDM)
 * Parameters: one flat float vector, Linear layer by layer: W_l (out × in, row-major, PyTorch's
 * nn.Linear.weight) then b_l. Initialisation (PyTorch's nn.Linear default distribution):
 * every W_l and b_l entry uniform in (−1/√in_l, 1/√in_l), drawn by Philox from
 * (seed, PI_STREAM_INIT, sample = l, step = 0 for W_l / 1 for b_l, element = flat index), so
 * a seed gives the same weights on every machine. */
#ifndef PI_NN_H
#define PI_NN_H

#include "core/core.h"
#include "core/threads.h"

/* Largest accepted shapes (also the bounds used when reading files). */
#define PI_MLP_MAX_WIDTH ((size_t)1 << 16)
#define PI_MLP_MAX_LAYERS ((size_t)1024)
#define PI_MLP_MAX_FEATURES ((size_t)4096)
#define PI_MLP_MAX_PARAMS ((size_t)1 << 31)
/* Highest frequency of the sinusoidal embedding (frequencies 1 .. PI_MLP_MAX_FREQ). */
#define PI_MLP_MAX_FREQ 64.0

typedef struct pi_mlp {
    size_t dim, width, layers; /* layers = number of hidden layers L; L + 1 Linear layers */
    size_t features;           /* even, >= 2 */
    size_t in;                 /* dim + features + cond_in */
    size_t classes, cond_dim;  /* conditions (issue 15): 0, 0 for an unconditional network */
    size_t cond_in;            /* (classes ? classes + 1 : 0) + (cond_dim ? cond_dim + 1 : 0) */
    pi_embedding embedding;
    pi_view output_view; /* SCORE, EPS or DENOISED */
    pi_precond precond;  /* none, EDM, or input scaling only */
    double sigma_data;
    uint64_t seed; /* seed of the last initialisation */
    size_t num_params;
    float *params;
} pi_mlp;

/* Per-row conditions of a batch (issue 15): labels[i] in [0, classes) or −1 for the null
 * condition; vectors: n × cond_dim or NULL (ignored on null rows). A NULL pi_mlp_cond makes
 * every row null. */
typedef struct pi_mlp_cond {
    const int32_t *labels;
    const float *vectors;
} pi_mlp_cond;

/* (α(t), σ(t)) of the forward process at t, supplied by the network's owner. */
typedef struct pi_mlp_noise {
    pi_status (*marginal)(const void *ctx, double t, double *alpha, double *sigma);
    const void *ctx;
} pi_mlp_noise;

/* ---- shape and life cycle (mlp_network.c) ---------------------------------------------- */
static inline size_t pi_mlp_layer_in(const pi_mlp *net, size_t l)
{
    return l == 0 ? net->in : net->width;
}
static inline size_t pi_mlp_layer_out(const pi_mlp *net, size_t l)
{
    return l == net->layers ? net->dim : net->width;
}
/* Offset of W_l in the flat vector; b_l follows W_l. */
size_t pi_mlp_weight_offset(const pi_mlp *net, size_t l);
/* Number of parameters of a shape (0 if it is out of bounds or over PI_MLP_MAX_PARAMS). */
size_t pi_mlp_count_params(size_t dim, size_t width, size_t layers, size_t features);
/* The same with cond_in extra input columns (conditions). */
size_t pi_mlp_count_params_cond(size_t dim, size_t width, size_t layers, size_t features,
                                size_t cond_in);
/* Give the network k classes and/or a condition vector of c values: the first layer changes
 * shape, so the parameters are reallocated and re-initialised from the last seed. Unchanged
 * on failure. */
pi_status pi_mlp_set_conditions(const char *who, pi_mlp *net, size_t classes, size_t cond_dim);
/* A network of the given shape and options with zero weights and seed 0. The shape must
 * satisfy pi_mlp_count_params() > 0 (PI_EINVAL otherwise); `who` names the caller in
 * messages. */
pi_status pi_mlp_create(const char *who, size_t dim, size_t width, size_t layers,
                        size_t features, pi_embedding embedding, pi_view output_view, pi_precond precond,
                        double sigma_data, pi_mlp **out);
void pi_mlp_destroy(pi_mlp *net);
/* Draw every weight from seed (the initialisation above). */
void pi_mlp_init(pi_mlp *net, uint64_t seed);
/* Change the embedding width: the first layer changes shape, so the parameters are
 * reallocated and re-initialised from the last seed. Unchanged on failure. */
pi_status pi_mlp_set_features(const char *who, pi_mlp *net, size_t features);
/* What the output is: the denoiser under EDM preconditioning, else the output view. */
pi_view pi_mlp_native_view(const pi_mlp *net);

/* ---- batched float forward (mlp_forward.c) ---------------------------------------------
 * out (n × dim) for rows x (n × dim) at times t (n), with caller scratch ws of at least
 * pi_mlp_eval_workspace_bytes(net, n) bytes. Rows may be split between up to
 * PI_MLP_MAX_WORKERS workers of `pool` (NULL: one after another on the calling thread); out
 * does not depend on `threads` or the pool (rows are independent).
 * PI_ENUMERIC if the weights overflow float arithmetic; out untouched on a bad t. */
size_t pi_mlp_eval_workspace_bytes(const pi_mlp *net, size_t n);
pi_status pi_mlp_eval(const pi_mlp *net, const pi_mlp_noise *noise, size_t n, const float *x,
                      const double *t, float *out, void *ws, size_t ws_bytes, int threads,
                      pi_pool *pool);
/* pi_mlp_eval with per-row conditions (cond NULL: all rows null). */
pi_status pi_mlp_eval_cond(const pi_mlp *net, const pi_mlp_noise *noise, size_t n, const float *x,
                           const double *t, const pi_mlp_cond *cond, float *out, void *ws,
                           size_t ws_bytes, int threads, pi_pool *pool);

/* ---- training (mlp_forward.c, mlp_backward.c) ------------------------------------------ */
/* Scratch for a training forward + backward on `batch` rows (activations kept); 0 if
 * batch is 0. */
size_t pi_mlp_train_workspace_bytes(const pi_mlp *net, size_t batch);
/* Forward pass that keeps activations in ws for pi_mlp_backward. `threads` >= 1: with enough
 * rows (>= 256 per worker) the rows are split between up to 4 workers, each using
 * threads/workers BLIS threads; out does not depend on threads (rows are independent). The
 * workers run on `pool` (the trainer's; NULL: one after another on the calling thread, same
 * bits). */
pi_status pi_mlp_forward_train(const pi_mlp *net, const pi_mlp_noise *noise, size_t n,
                               const float *x, const double *t, float *out, void *ws,
                               int threads, pi_pool *pool);
/* pi_mlp_forward_train with per-row conditions (cond NULL: all rows null). */
pi_status pi_mlp_forward_train_cond(const pi_mlp *net, const pi_mlp_noise *noise, size_t n,
                                    const float *x, const double *t, const pi_mlp_cond *cond,
                                    float *out, void *ws, int threads, pi_pool *pool);
/* Backward pass: grad (num_params floats) = Σ_rows ∂(Σ dout · out)/∂θ for the last
 * pi_mlp_forward_train on ws (same n). grad is overwritten. No allocation. The row split
 * sums per-worker partial gradients in worker order: bitwise reproducible for a fixed
 * thread count, equal to rounding across thread counts. */
pi_status pi_mlp_backward(const pi_mlp *net, size_t n, const float *dout, float *grad, void *ws,
                          int threads, pi_pool *pool);

/* ---- double derivatives of the score in x at one point (mlp_derivatives.c) ---------------
 * The score s = ∇log p_t that the network's output stands for at (x, t). */
pi_status pi_mlp_score_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                         double t, double *s);
pi_status pi_mlp_jvp_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x, double t,
                       const double *v, double *out);
pi_status pi_mlp_jacobian_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *jac);
pi_status pi_mlp_divergence_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                              double t, double *div);
pi_status pi_mlp_grad_div_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *grad);
pi_status pi_mlp_hessians_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *hess);
pi_status pi_mlp_hess_div_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *hess);
/* All of the above from one propagation of the highest order asked for (any output may be
 * NULL): what a WKB sweep step needs at the cost of one hess_div (MATH.md §4). Same values,
 * same bits as the single functions. */
pi_status pi_mlp_derivatives_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                               double t, double *s, double *jac, double *div, double *grad_div,
                               double *hess, double *hess_div);

/* ---- the exact WKB sweep's products in large dimensions (mlp_derivatives.c) ---------------
 * At (x, t) with the sweep's u (d values): s, jac = J, div = ∇·s, grad_div = ∇(∇·s),
 * uhess = Σ_k u_k ∇∇s_k and hess_div = ∇∇(∇·s) (d × d each, row-major; every output but u may
 * be NULL) by forward-over-reverse passes, with no d³ object: scratch holds
 * pi_mlp_sweep_scratch(net) doubles (O(d·width·layers)); nothing is allocated. Equal to
 * pi_mlp_derivatives_d's values to rounding (different bits). Cost ≈ d·(L−1)·W²·3d
 * multiply-adds. pi_mlp_sweep_dense_fits() is 1 where pi_mlp_derivatives_d's third-order
 * propagation fits its scratch bound (the sweep keeps that path there). */
size_t pi_mlp_sweep_scratch(const pi_mlp *net);
int pi_mlp_sweep_dense_fits(const pi_mlp *net);
pi_status pi_mlp_sweep_products_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                                  double t, const double *u, double *s, double *jac,
                                  double *div, double *grad_div, double *uhess,
                                  double *hess_div, double *scratch);

/* ---- directional products in O(d) memory (mlp_directional.c) ----------------------------
 * At (x, t) with directions b, c (d values; either may be NULL = 0) and na cotangents a
 * (na × d): s, sb = J b, sc = J c (d values each) and, for each cotangent a_j, g = Jᵀa_j,
 * gb = ∇ₓ(a_jᵀ J b), gc = ∇ₓ(a_jᵀ J c), gbc = ∇ₓ(a_jᵀ D²s[b, c]) (na × d each), J = ∂s/∂x.
 * Every output may be NULL. scratch holds pi_mlp_directional_scratch(net) doubles; nothing
 * is allocated. Cost: one forward and na reverse passes in 4-column hyper-dual arithmetic. */
size_t pi_mlp_directional_scratch(const pi_mlp *net);
pi_status pi_mlp_directional_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                               double t, const double *b, const double *c, size_t na,
                               const double *a, double *s, double *sb, double *sc, double *g,
                               double *gb, double *gc, double *gbc, double *scratch);

#endif
