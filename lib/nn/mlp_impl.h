/* Internal layout of the MLP score model, shared by model/mlp.c, model/safetensors.c and the
 * dense algebra in nn/ (forward, backward, double-precision derivatives).
 *
 * The network (MATH.md §2; the exact definition is the comment block at the top of
 * model/mlp.c): input row [c · x, emb(t)] of width in = dim + features, then hidden_layers ×
 * (Linear + SiLU) of width `width`, then Linear → dim. Parameters: one flat float vector,
 * layer by layer W_l (out × in, row-major, PyTorch's nn.Linear layout) then b_l (out). */
#ifndef PI_MLP_IMPL_H
#define PI_MLP_IMPL_H

#include "model/model_impl.h"

/* Rows per block of the batched float forward pass: PI_MLP_BLOCK, fewer for wide networks
 * so that a block's activations stay within PI_MLP_BLOCK_FLOATS (bounds the eval workspace). */
#define PI_MLP_BLOCK ((size_t)4096)
#define PI_MLP_BLOCK_FLOATS ((size_t)1 << 22)
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
    size_t in;                 /* dim + features */
    pi_embedding embedding;
    pi_view output_view; /* SCORE, EPS or DENOISED */
    int precond;         /* pi_precond: none, EDM, or input scaling only */
    double sigma_data;
    uint64_t seed; /* seed of the last initialisation */
    size_t num_params;
    float *params;
} pi_mlp;

/* Rows per block of the float forward pass for this network (mlp_forward.c). */
size_t pi_mlp_block_rows(const pi_mlp *net);

/* Per-row scalars that depend only on t (computed in double). */
typedef struct pi_mlp_row {
    double in_scale;  /* network input = in_scale · x: 1/α, or c_in/α (EDM, INPUT) */
    double skip;      /* native output = skip · x + c_out · F: c_skip/α (EDM), else 0 */
    double c_out;     /* c_out (EDM), else 1 */
    double emb_value; /* u: ln σ̃ / 4 or t */
} pi_mlp_row;

/* ---- layout --------------------------------------------------------------------------- */
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
/* Number of parameters of a shape (0 if it overflows PI_MLP_MAX_PARAMS). */
size_t pi_mlp_count_params(size_t dim, size_t width, size_t layers, size_t features);

/* The MLP state of a model (NULL if m is not an MLP). */
pi_mlp *pi_mlp_of(const pi_model_t *m);

/* Create an MLP model with the given options and zero weights (mlp.c). */
pi_status pi_mlp_create_shaped(const pi_sde_t *sde, size_t dim, size_t width, size_t layers,
                               size_t features, pi_embedding embedding, pi_view output_view,
                               int precond, double sigma_data, pi_model_t **out);

/* ---- per-row scalars and embedding (mlp_forward.c) ------------------------------------- */
pi_status pi_mlp_row_scalars(const pi_model_t *m, double t, pi_mlp_row *row);
/* Embedding of u: features values [sin(ω_k u)]_k then [cos(ω_k u)]_k, k < features/2. */
void pi_mlp_embed(const pi_mlp *net, double u, double *emb);

/* ---- dense algebra (dense.c) ----------------------------------------------------------- */
/* a[r*cols + j] = silu(a[r*cols + j] + b[j]) for r < rows, j < cols. */
void pi_dense_bias_silu(size_t rows, size_t cols, const float *b, float *a);
/* a[r*cols + j] += b[j]. */
void pi_dense_bias(size_t rows, size_t cols, const float *b, float *a);
/* Same as pi_dense_bias_silu, but also keeps the pre-activation in pre. */
void pi_dense_bias_silu_keep(size_t rows, size_t cols, const float *b, float *a, float *pre);
/* delta[i] *= silu'(pre[i]) for i < count. */
void pi_dense_silu_backward(size_t count, const float *pre, float *delta);
/* gb[j] = Σ_r delta[r*cols + j]. */
void pi_dense_column_sums(size_t rows, size_t cols, const float *delta, float *gb);
/* SiLU as the float forward computes it (for tests). */
float pi_dense_silu(float x);

/* ---- float forward (mlp_forward.c) ----------------------------------------------------- */
size_t pi_mlp_eval_workspace_bytes(const pi_model_t *m, size_t n);
pi_status pi_mlp_eval(const pi_model_t *m, size_t n, const float *x, const double *t, float *out,
                      const pi_eval_ctx *ctx);

/* ---- threads (mlp_forward.c) --------------------------------------------------------------
 * Fork-join over `workers` tasks without heap allocation of our own: task 0 runs on the
 * calling thread; a task whose thread cannot start runs there too. At most PI_MLP_MAX_WORKERS. */
#define PI_MLP_MAX_WORKERS 64
void pi_mlp_fork_join(void (*fn)(void *job, size_t task), void *job, size_t workers);

/* ---- training workspace (mlp_forward.c / mlp_backward.c) -------------------------------
 * For n rows: rows | X (n × in) | per hidden layer l: pre-activation, activation (n × W) |
 * two delta buffers (n × max(W, dim)) | PI_MLP_TRAIN_WORKERS − 1 partial gradients.
 * With threads > 1 and enough rows, forward and backward split the rows between up to
 * PI_MLP_TRAIN_WORKERS workers (each with threads/workers BLIS threads); the partial weight
 * gradients are summed in worker order, so results are bitwise reproducible for a fixed
 * thread count. Forward and backward must be given the same n. */
#define PI_MLP_TRAIN_WORKERS 4
typedef struct pi_mlp_train_layout {
    pi_mlp_row *rows;
    float *input;
    unsigned char *hidden;
    size_t hidden_bytes;  /* per buffer */
    size_t hidden_offset; /* floats: first row of a worker's slice × W (0 for all rows) */
    float *delta_a, *delta_b;
    float *partial;        /* (PI_MLP_TRAIN_WORKERS − 1) × partial_stride floats */
    size_t partial_stride; /* >= num_params */
} pi_mlp_train_layout;
/* Bytes needed for n rows; fills lay from ws when lay is not NULL. */
size_t pi_mlp_train_layout_of(const pi_mlp *net, size_t n, void *ws, pi_mlp_train_layout *lay);
static inline float *pi_mlp_train_pre(const pi_mlp_train_layout *lay, size_t l)
{
    return (float *)(lay->hidden + 2 * l * lay->hidden_bytes) + lay->hidden_offset;
}
static inline float *pi_mlp_train_post(const pi_mlp_train_layout *lay, size_t l)
{
    return (float *)(lay->hidden + (2 * l + 1) * lay->hidden_bytes) + lay->hidden_offset;
}
/* Workers and BLIS threads per worker for a pass over n rows on `threads` threads: rows are
 * split only when each worker gets a GEMM-sized share (>= 256 rows), at most max_workers;
 * the threads left over go to BLIS inside each worker's GEMMs. */
static inline void pi_mlp_split(size_t n, int threads, size_t max_workers, size_t *workers,
                                int *blis_threads)
{
    size_t w = threads < 1 ? 1 : (size_t)threads;
    if (w > max_workers)
        w = max_workers;
    if (w > n / 256)
        w = n / 256 > 0 ? n / 256 : 1;
    *workers = w;
    *blis_threads = threads < 1 ? 1 : threads / (int)w;
}

/* ---- double derivatives (mlp_derivatives.c): the vtable entries ------------------------ */
pi_status pi_mlp_score_d(const pi_model_t *m, const double *x, double t, double *s);
pi_status pi_mlp_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                       double *out);
pi_status pi_mlp_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac);
pi_status pi_mlp_divergence_d(const pi_model_t *m, const double *x, double t, double *div);
pi_status pi_mlp_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad);
pi_status pi_mlp_hessians_d(const pi_model_t *m, const double *x, double t, double *hess);
pi_status pi_mlp_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess);
/* All of the above from one propagation of the highest order asked for (any output may be
 * NULL): what a WKB sweep step needs at the cost of one hess_div (MATH.md §4). Same values,
 * same bits as the single functions. */
pi_status pi_mlp_derivatives_d(const pi_model_t *m, const double *x, double t, double *s,
                               double *jac, double *div, double *grad_div, double *hess,
                               double *hess_div);
#endif
