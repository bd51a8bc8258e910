/* Batched float forward pass of the MLP (definition: comment block of nn.h): per-row
 * scalars and embedding in double, then one pi_sgemm per Linear layer with the bias + SiLU
 * fused into one elementwise pass. Rows are processed in blocks of pi_mlp_block_rows(); all
 * scratch comes from the caller's workspace. With several threads the rows of a block are
 * split between threads, each running the whole network with one BLIS thread. Row i's result
 * depends only on row i (BLIS computes each output element with the same k-loop whatever m
 * and the thread count: tests check it bit for bit). */
#include "mlp_impl.h"

#include "core/gemm.h"

#include <string.h>

#define ALIGN 64u

static size_t round_up(size_t bytes)
{
    return (bytes + ALIGN - 1) / ALIGN * ALIGN;
}

static unsigned char *align_ptr(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (unsigned char *)((u + ALIGN - 1) / ALIGN * ALIGN);
}

void pi_mlp_embed(const pi_mlp *net, double u, double *emb)
{
    size_t h = net->features / 2;
    double step = h > 1 ? log(PI_MLP_MAX_FREQ) / (double)(h - 1) : 0.0;
    for (size_t k = 0; k < h; k++) {
        double w = exp(step * (double)k);
        emb[k] = sin(w * u);
        emb[h + k] = cos(w * u);
    }
}

static void embed_float(const pi_mlp *net, double u, float *emb)
{
    size_t h = net->features / 2;
    double step = h > 1 ? log(PI_MLP_MAX_FREQ) / (double)(h - 1) : 0.0;
    for (size_t k = 0; k < h; k++) {
        double w = exp(step * (double)k);
        emb[k] = (float)sin(w * u);
        emb[h + k] = (float)cos(w * u);
    }
}

pi_status pi_mlp_row_scalars(const pi_mlp *net, const pi_mlp_noise *noise, double t,
                             pi_mlp_row *row)
{
    double alpha, sigma;
    pi_status st = noise->marginal(noise->ctx, t, &alpha, &sigma);
    if (st != PI_OK)
        return st;
    if (!(alpha > 0.0) || !(sigma > 0.0) || !isfinite(alpha) || !isfinite(sigma))
        return pi_fail(PI_EINVAL, "MLP model: t must give α > 0 and σ > 0, got t = %g (α %g, σ %g)",
                       t, alpha, sigma);
    double st_ = sigma / alpha;
    if (net->precond != PI_PRECOND_NONE) {
        double sd = net->sigma_data;
        double q = st_ * st_ + sd * sd;
        double root = sqrt(q);
        row->in_scale = 1.0 / (root * alpha);
        int edm = net->precond == PI_PRECOND_EDM;
        row->skip = edm ? sd * sd / (q * alpha) : 0.0;
        row->c_out = edm ? st_ * sd / root : 1.0;
    } else {
        row->in_scale = 1.0 / alpha;
        row->skip = 0.0;
        row->c_out = 1.0;
    }
    row->emb_value = net->embedding == PI_EMBEDDING_TIME ? t : 0.25 * log(st_);
    return PI_OK;
}

/* The condition columns of one row (nn.h): onehot(y) with the null class k, then [c, present]. */
static void condition_inputs(const pi_mlp *net, const pi_mlp_cond *cond, size_t row, float *dst)
{
    int32_t label = cond != NULL && cond->labels != NULL ? cond->labels[row] : -1;
    int present = label >= 0;
    if (net->classes > 0) {
        for (size_t k = 0; k <= net->classes; k++)
            dst[k] = 0.0f;
        dst[present ? (size_t)label : net->classes] = 1.0f;
        dst += net->classes + 1;
    }
    if (net->cond_dim > 0) {
        const float *v = present && cond->vectors != NULL ? cond->vectors + row * net->cond_dim : NULL;
        for (size_t j = 0; j < net->cond_dim; j++)
            dst[j] = v != NULL ? v[j] : 0.0f;
        dst[net->cond_dim] = present ? 1.0f : 0.0f;
    }
}

/* Fill rows[0..n) and the network input X (n × in) for rows of x and t (and conditions from
 * row r0 of cond). The embedding of a row with the same t as the previous row is copied, not
 * recomputed (samplers use one t). */
static void prepare_inputs(const pi_mlp *net, size_t n, const float *x, const double *t,
                           const pi_mlp_row *rows, const pi_mlp_cond *cond, size_t r0, float *input)
{
    size_t d = net->dim, in = net->in, fe = net->features;
    for (size_t r = 0; r < n; r++) {
        float *dst = input + r * in;
        if (net->cond_in > 0)
            condition_inputs(net, cond, r0 + r, dst + d + fe);
        float c = (float)rows[r].in_scale;
        for (size_t j = 0; j < d; j++)
            dst[j] = c * x[r * d + j];
        if (r > 0 && t[r] == t[r - 1]) {
            memcpy(dst + d, dst - in + d, fe * sizeof(float));
        } else {
            embed_float(net, rows[r].emb_value, dst + d);
        }
    }
}

/* Hidden layers: h_l = SiLU(h_{l−1} W_lᵀ + b_l); returns the last hidden activation. With a
 * training layout the pre-activations and activations of every hidden layer are kept. */
static const float *run_hidden(const pi_mlp *net, size_t n, const float *input, float *buf_a,
                               float *buf_b, const pi_mlp_train_layout *lay, int threads)
{
    const float *h = input;
    for (size_t l = 0; l < net->layers; l++) {
        size_t in = pi_mlp_layer_in(net, l), out = net->width;
        const float *w = net->params + pi_mlp_weight_offset(net, l);
        float *dst = lay != NULL ? pi_mlp_train_post(lay, l) : (l % 2 == 0 ? buf_a : buf_b);
        pi_sgemm(0, 1, n, out, in, 1.0f, h, in, w, in, 0.0f, dst, out, threads);
        if (lay != NULL)
            pi_dense_bias_silu_keep(n, out, w + out * in, dst, pi_mlp_train_pre(lay, l));
        else
            pi_dense_bias_silu(n, out, w + out * in, dst);
        h = dst;
    }
    return h;
}

/* Last layer into out (n × dim), then EDM's output scaling D = skip·x + c_out·F. */
static void run_output(const pi_mlp *net, size_t n, const float *h, const float *x,
                       const pi_mlp_row *rows, float *out, int threads)
{
    size_t l = net->layers, d = net->dim, in = net->width;
    const float *w = net->params + pi_mlp_weight_offset(net, l);
    pi_sgemm(0, 1, n, d, in, 1.0f, h, in, w, in, 0.0f, out, d, threads);
    pi_dense_bias(n, d, w + d * in, out);
    if (net->precond == PI_PRECOND_EDM) {
        for (size_t r = 0; r < n; r++) {
            float skip = (float)rows[r].skip, c_out = (float)rows[r].c_out;
            for (size_t j = 0; j < d; j++)
                out[r * d + j] = skip * x[r * d + j] + c_out * out[r * d + j];
        }
    }
}

/* ---- inference ------------------------------------------------------------------------- */

static void eval_layout(const pi_mlp *net, size_t block, size_t *rows_b, size_t *in_b,
                        size_t *hid_b)
{
    *rows_b = round_up(block * sizeof(pi_mlp_row));
    *in_b = round_up(block * net->in * sizeof(float));
    *hid_b = round_up(block * net->width * sizeof(float));
}

size_t pi_mlp_block_rows(const pi_mlp *net)
{
    size_t per_row = net->in + 2 * net->width;
    size_t rows = PI_MLP_BLOCK_FLOATS / per_row;
    return rows > PI_MLP_BLOCK ? PI_MLP_BLOCK : rows < 16 ? 16 : rows;
}

size_t pi_mlp_eval_workspace_bytes(const pi_mlp *net, size_t n)
{
    size_t rows = pi_mlp_block_rows(net);
    size_t block = n < rows ? n : rows;
    if (block == 0)
        block = 1;
    size_t rows_b, in_b, hid_b;
    eval_layout(net, block, &rows_b, &in_b, &hid_b);
    return ALIGN + rows_b + in_b + 2 * hid_b;
}

/* One worker's share of a block: rows [r0, r0 + nr) run the whole network with one BLIS
 * thread on their own slices of the block buffers (rows are independent, so the split does
 * not change any bit of the result). */
typedef struct eval_job {
    const pi_mlp *net;
    const pi_mlp_noise *noise;
    size_t nb, chunk;
    const float *x;
    const double *t;
    float *out;
    pi_mlp_row *rows;
    float *input, *buf_a, *buf_b;
    int blis_threads;
    const pi_mlp_cond *cond; /* conditions of the whole call */
    size_t block_r0;         /* first row of the block in the call */
} eval_job;

static void eval_task(void *ctx, size_t task)
{
    const eval_job *job = ctx;
    const pi_mlp *net = job->net;
    size_t r0 = task * job->chunk;
    if (r0 >= job->nb)
        return;
    size_t nr = job->nb - r0 < job->chunk ? job->nb - r0 : job->chunk;
    size_t d = net->dim;
    pi_mlp_row *rows = job->rows + r0;
    const double *t = job->t + r0;
    for (size_t r = 0; r < nr; r++) {
        if (r > 0 && t[r] == t[r - 1])
            rows[r] = rows[r - 1];
        else
            (void)pi_mlp_row_scalars(net, job->noise, t[r], &rows[r]); /* checked by the caller */
    }
    prepare_inputs(net, nr, job->x + r0 * d, t, rows, job->cond, job->block_r0 + r0,
                   job->input + r0 * net->in);
    const float *h = run_hidden(net, nr, job->input + r0 * net->in, job->buf_a + r0 * net->width,
                                job->buf_b + r0 * net->width, NULL, job->blis_threads);
    run_output(net, nr, h, job->x + r0 * d, rows, job->out + r0 * d, job->blis_threads);
}

typedef struct fork_job {
    void (*fn)(void *job, size_t task);
    void *job;
} fork_job;

static pi_status fork_task(size_t task, int worker, void *ctx)
{
    (void)worker;
    const fork_job *f = ctx;
    f->fn(f->job, task);
    return PI_OK;
}

void pi_mlp_fork_join(pi_pool *pool, void (*fn)(void *job, size_t task), void *job,
                      size_t workers)
{
    if (workers > PI_MLP_MAX_WORKERS)
        workers = PI_MLP_MAX_WORKERS;
    fork_job f = {fn, job};
    (void)pi_pool_run(pool, (int)workers, workers, fork_task, &f); /* tasks cannot fail */
}

pi_status pi_mlp_eval(const pi_mlp *net, const pi_mlp_noise *noise, size_t n, const float *x,
                      const double *t, float *out, void *ws, size_t ws_bytes, int threads,
                      pi_pool *pool)
{
    return pi_mlp_eval_cond(net, noise, n, x, t, NULL, out, ws, ws_bytes, threads, pool);
}

pi_status pi_mlp_eval_cond(const pi_mlp *net, const pi_mlp_noise *noise, size_t n, const float *x,
                           const double *t, const pi_mlp_cond *cond, float *out, void *ws,
                           size_t ws_bytes, int threads, pi_pool *pool)
{
    if (n == 0)
        return PI_OK;
    if (ws == NULL || ws_bytes < pi_mlp_eval_workspace_bytes(net, n))
        return pi_fail(PI_EINVAL, "pi_mlp_eval: workspace must hold %zu bytes",
                       pi_mlp_eval_workspace_bytes(net, n));
    /* Check every time first so that out is untouched on failure. */
    for (size_t r = 0; r < n; r++) {
        if (r > 0 && t[r] == t[r - 1])
            continue;
        pi_mlp_row row;
        pi_status st = pi_mlp_row_scalars(net, noise, t[r], &row);
        if (st != PI_OK)
            return st;
    }
    size_t rows = pi_mlp_block_rows(net);
    size_t block = n < rows ? n : rows;
    size_t rows_b, in_b, hid_b;
    eval_layout(net, block, &rows_b, &in_b, &hid_b);
    unsigned char *base = align_ptr(ws);
    eval_job job;
    job.net = net;
    job.noise = noise;
    job.rows = (pi_mlp_row *)base;
    job.input = (float *)(base + rows_b);
    job.buf_a = (float *)(base + rows_b + in_b);
    job.buf_b = (float *)(base + rows_b + in_b + hid_b);
    job.cond = cond;
    if (threads < 1)
        threads = 1;
    for (size_t r0 = 0; r0 < n; r0 += block) {
        job.nb = n - r0 < block ? n - r0 : block;
        job.x = x + r0 * net->dim;
        job.t = t + r0;
        job.out = out + r0 * net->dim;
        job.block_r0 = r0;
        size_t workers;
        pi_mlp_split(job.nb, threads, PI_MLP_MAX_WORKERS, &workers, &job.blis_threads);
        job.chunk = (job.nb + workers - 1) / workers;
        if (workers <= 1)
            eval_task(&job, 0);
        else
            pi_mlp_fork_join(pool, eval_task, &job, workers);
    }
    /* Weights can be finite yet large enough to overflow the activations: report it rather
     * than hand non-finite values to a sampler (fuzz finding 2). */
    size_t bad = pi_first_nonfinite_f(out, n * net->dim);
    if (bad < n * net->dim)
        return pi_fail(PI_ENUMERIC, "MLP output is not finite (row %zu at t = %g): the weights "
                                    "overflow float arithmetic", bad / net->dim, t[bad / net->dim]);
    return PI_OK;
}

/* ---- training -------------------------------------------------------------------------- */

size_t pi_mlp_train_layout_of(const pi_mlp *net, size_t n, void *ws, pi_mlp_train_layout *lay)
{
    size_t wide = net->width > net->dim ? net->width : net->dim;
    size_t rows_b = round_up(n * sizeof(pi_mlp_row));
    size_t in_b = round_up(n * net->in * sizeof(float));
    size_t hid_b = round_up(n * net->width * sizeof(float));
    size_t del_b = round_up(n * wide * sizeof(float));
    size_t part_b = round_up(net->num_params * sizeof(float));
    size_t total = ALIGN + rows_b + in_b + 2 * net->layers * hid_b + 2 * del_b +
                   (PI_MLP_TRAIN_WORKERS - 1) * part_b;
    if (lay != NULL) {
        unsigned char *p = align_ptr(ws);
        lay->rows = (pi_mlp_row *)p;
        p += rows_b;
        lay->input = (float *)p;
        p += in_b;
        lay->hidden = p;
        lay->hidden_bytes = hid_b;
        lay->hidden_offset = 0;
        p += 2 * net->layers * hid_b;
        lay->delta_a = (float *)p;
        p += del_b;
        lay->delta_b = (float *)p;
        p += del_b;
        lay->partial = (float *)p;
        lay->partial_stride = part_b / sizeof(float);
    }
    return total;
}

size_t pi_mlp_train_workspace_bytes(const pi_mlp *net, size_t batch)
{
    if (net == NULL || batch == 0)
        return 0;
    return pi_mlp_train_layout_of(net, batch, NULL, NULL);
}

/* One worker's rows of a training forward pass (activations kept in the full buffers). */
typedef struct train_forward_job {
    const pi_mlp *net;
    const pi_mlp_train_layout *lay;
    size_t n, chunk;
    const float *x;
    const double *t;
    float *out;
    int blis_threads;
    const pi_mlp_cond *cond;
} train_forward_job;

static void train_forward_task(void *ctx, size_t task)
{
    const train_forward_job *job = ctx;
    const pi_mlp *net = job->net;
    size_t r0 = task * job->chunk;
    if (r0 >= job->n)
        return;
    size_t nr = job->n - r0 < job->chunk ? job->n - r0 : job->chunk;
    size_t d = net->dim;
    pi_mlp_train_layout slice = *job->lay;
    slice.hidden_offset = r0 * net->width;
    float *input = slice.input + r0 * net->in;
    prepare_inputs(net, nr, job->x + r0 * d, job->t + r0, slice.rows + r0, job->cond, r0, input);
    const float *h = run_hidden(net, nr, input, NULL, NULL, &slice, job->blis_threads);
    run_output(net, nr, h, job->x + r0 * d, slice.rows + r0, job->out + r0 * d, job->blis_threads);
}

pi_status pi_mlp_forward_train(const pi_mlp *net, const pi_mlp_noise *noise, size_t n,
                               const float *x, const double *t, float *out, void *ws,
                               int threads, pi_pool *pool)
{
    return pi_mlp_forward_train_cond(net, noise, n, x, t, NULL, out, ws, threads, pool);
}

pi_status pi_mlp_forward_train_cond(const pi_mlp *net, const pi_mlp_noise *noise, size_t n,
                                    const float *x, const double *t, const pi_mlp_cond *cond,
                                    float *out, void *ws, int threads, pi_pool *pool)
{
    PI_CHECK_NULL(net);
    PI_CHECK_NULL(noise);
    PI_CHECK_NULL(x);
    PI_CHECK_NULL(t);
    PI_CHECK_NULL(out);
    PI_CHECK_NULL(ws);
    PI_CHECK_SIZE(n);
    pi_mlp_train_layout lay;
    pi_mlp_train_layout_of(net, n, ws, &lay);
    for (size_t r = 0; r < n; r++) {
        if (r > 0 && t[r] == t[r - 1]) {
            lay.rows[r] = lay.rows[r - 1];
            continue;
        }
        pi_status st = pi_mlp_row_scalars(net, noise, t[r], &lay.rows[r]);
        if (st != PI_OK)
            return st;
    }
    train_forward_job job = {net, &lay, n, 0, x, t, out, 1, cond};
    size_t workers;
    pi_mlp_split(n, threads, PI_MLP_TRAIN_WORKERS, &workers, &job.blis_threads);
    job.chunk = (n + workers - 1) / workers;
    if (workers <= 1)
        train_forward_task(&job, 0);
    else
        pi_mlp_fork_join(pool, train_forward_task, &job, workers);
    return PI_OK;
}
