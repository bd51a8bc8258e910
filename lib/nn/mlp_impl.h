/* Internals of nn/ shared by its files: block sizes, per-row scalars and the embedding,
 * the dense elementwise passes, the worker split and the training workspace layout. The
 * network type and everything other modules use are in nn.h. */
#ifndef PI_MLP_IMPL_H
#define PI_MLP_IMPL_H

#include "nn/nn.h"

/* Rows per block of the batched float forward pass: PI_MLP_BLOCK, fewer for wide networks
 * so that a block's activations stay within PI_MLP_BLOCK_FLOATS (bounds the eval workspace).
 * 1024 rather than 4096 (issue 17): a 1024×256 layer output (1 MiB) is still in L2 when the
 * bias + SiLU pass reads it back; MLP 3×256 forward at 1 thread 110–119 → 123–126 GFLOP/s
 * (idle Xeon, interleaved), 2 threads unchanged. Rows do not depend on the blocking. */
#define PI_MLP_BLOCK ((size_t)1024)
#define PI_MLP_BLOCK_FLOATS ((size_t)1 << 22)
/* Rows per block of the float forward pass for this network (mlp_forward.c). */
size_t pi_mlp_block_rows(const pi_mlp *net);

/* Per-row scalars that depend only on t (computed in double). */
typedef struct pi_mlp_row {
    double in_scale;  /* network input = in_scale · x: 1/α, or c_in/α (EDM, INPUT) */
    double skip;      /* native output = skip · x + c_out · F: c_skip/α (EDM), else 0 */
    double c_out;     /* c_out (EDM), else 1 */
    double emb_value; /* u: ln σ̃ / 4 or t */
} pi_mlp_row;

/* ---- per-row scalars and embedding (mlp_forward.c) ------------------------------------- */
/* The scalars of a row at t, (α, σ) from noise; PI_EINVAL unless α > 0 and σ > 0. */
pi_status pi_mlp_row_scalars(const pi_mlp *net, const pi_mlp_noise *noise, double t,
                             pi_mlp_row *row);
/* The condition columns of the null condition (cond_in doubles; nn.h): the derivatives in x
 * are those of the unconditional branch. */
static inline void pi_mlp_null_condition_d(const pi_mlp *net, double *dst)
{
    size_t o = 0;
    if (net->classes > 0) {
        for (size_t k = 0; k <= net->classes; k++)
            dst[k] = k == net->classes ? 1.0 : 0.0;
        o = net->classes + 1;
    }
    for (size_t j = 0; net->cond_dim > 0 && j <= net->cond_dim; j++)
        dst[o + j] = 0.0;
}
/* Embedding of u: features values [sin(ω_k u)]_k then [cos(ω_k u)]_k, k < features/2. */
void pi_mlp_embed(const pi_mlp *net, double u, double *emb);

/* ---- double-precision chain (mlp_derivatives.c) ------------------------------------------
 * At t: the row scalars (row->in_scale is the input scale c) and the affine map from the
 * network output F to the score, s = ca·x + cb·F(c·x) (derivation: mlp_derivatives.c). */
pi_status pi_mlp_chain_coefficients(const pi_mlp *net, const pi_mlp_noise *noise, double t,
                                    pi_mlp_row *row, double *ca, double *cb);

/* ---- dense algebra (dense.c) ----------------------------------------------------------- */
/* a[r*cols + j] = silu(a[r*cols + j] + b[j]) for r < rows, j < cols. */
void pi_dense_bias_silu(size_t rows, size_t cols, const float *b, float *a);
/* a[r*cols + j] += b[j]. */
void pi_dense_bias(size_t rows, size_t cols, const float *b, float *a);
/* Same as pi_dense_bias_silu, but also keeps the pre-activation in pre. */
void pi_dense_bias_silu_keep(size_t rows, size_t cols, const float *b, float *a, float *pre);
/* delta[i] *= silu'(pre[i]) for i < count. */
void pi_dense_silu_backward(size_t count, const float *pre, float *delta);
/* The same through one instruction set (0 baseline, 1 AVX2, 2 AVX-512F; -1 = the CPU's best),
 * for the test that they agree bit for bit. The caller checks that the CPU has it. */
void pi_dense_bias_silu_keep_isa(int isa, size_t rows, size_t cols, const float *b, float *a,
                                 float *pre);
void pi_dense_silu_backward_isa(int isa, size_t count, const float *pre, float *delta);
/* The Taylor-mode linear layer of mlp_derivatives.c, dst (out × ld) = W src (in × ld) with the
 * bias on column 0 of each output (b NULL: none; ld a multiple of 4), through one instruction set (0 SSE2 /
 * scalar, 1 AVX2, 2 AVX-512F), for the test that they agree bit for bit; available() says
 * whether this CPU and build have it. The derivatives use the best available. */
void pi_mlp_linear_taylor_isa(int isa, const float *w, const float *b, size_t out, size_t in,
                              size_t ld, const double *src, double *dst);
int pi_mlp_taylor_isa_available(int isa);
/* gb[j] = Σ_r delta[r*cols + j]. */
void pi_dense_column_sums(size_t rows, size_t cols, const float *delta, float *gb);
/* SiLU as the float forward computes it (for tests). */
float pi_dense_silu(float x);

/* ---- threads (mlp_forward.c) --------------------------------------------------------------
 * Fork-join over `workers` tasks on the caller's pool (core/threads.h; NULL or a busy pool:
 * the tasks run in order on the calling thread, same results). Allocates nothing. At most
 * PI_MLP_MAX_WORKERS. */
#define PI_MLP_MAX_WORKERS 64
void pi_mlp_fork_join(pi_pool *pool, void (*fn)(void *job, size_t task), void *job,
                      size_t workers);

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

#endif
