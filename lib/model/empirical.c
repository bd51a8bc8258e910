/* The empirical optimal denoiser (MATH.md §2, seed 002): the exact score of the diffused
 * empirical distribution p_t = (1/N) Σ_i N(α y_i, σ² I) of a data set {y_i}:
 *     D*(x, t) = Σ_i w_i y_i,   w = softmax_i(−‖x − α y_i‖² / (2σ²)).
 *
 * Batched float path (native view: denoiser). With data centred on their mean ȳ
 * (y_c = y − ȳ, x_c = x − α ȳ, which keeps the float dot products well conditioned) the logit
 * is, up to a per-row constant, (α/σ²) z_i with z_i = x_c·y_c,i − (α/2)‖y_c,i‖². Rows are taken
 * in blocks of ROW_BLOCK and the data in blocks of DATA_BLOCK:
 *     G = X_c Y_c,blockᵀ (sgemm) → online max-subtracted softmax → acc += P Y_c,block (sgemm)
 * so memory is O(ROW_BLOCK · DATA_BLOCK) whatever N, and the two GEMMs (4 N d flops per row)
 * dominate the N exponentials. Workers take whole row blocks; BLIS threads are used inside a
 * block only when there are fewer row blocks than threads. σ = 0 gives the nearest data point.
 *
 * Double path (one point, for the likelihood): weights w_i in double from the original data,
 * per-point score g_i = (α y_i − x)/σ², u_i = g_i − s = α (y_i − ȳ_w)/σ², and (as for the
 * Gaussian mixture with constant precision 1/σ², see gmm.c)
 *     s = (α ȳ_w − x)/σ²,  ∂s/∂x = C − I/σ²  with C = E_w[u uᵀ] = α² Cov_w(y)/σ⁴,
 *     ∂²s_a/∂x_b∂x_c = E_w[u_a u_b u_c],   ∂_c ∇·s = E_w[‖u‖² u_c],
 *     ∂_ce ∇·s = E_w[‖u‖² u_c u_e] − tr(C) C_ce − 2 (C²)_ce,
 *     log p = LSE_i(−‖x − α y_i‖²/(2σ²)) − log N − (d/2) log(2π σ²). */
#include "model_impl.h"

#include "core/codec.h"

#include "core/gemm.h"
#include "core/threads.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define PI_LOG_2PI 1.8378770664093454835606594728112
#define ROW_BLOCK 128
#define DATA_BLOCK 512
#define MAX_WORKERS 8
#define STACK_DOUBLES 2048

typedef struct empirical {
    size_t n;
    float *data;   /* n × d, as given */
    float *yc;     /* n × d, centred: y − ȳ */
    float *ycn;    /* n: ‖y_c‖² */
    double *mean;  /* d: ȳ */
    double ymax;   /* max_i ‖y_c,i‖ (<= DATA_NORM_MAX) */
} empirical;

/* Float-range guards: ‖y − ȳ‖ <= DATA_NORM_MAX keeps ‖y_c‖² far inside float, and a row is only
 * evaluated in float if |x_c·y_c| and (α/2)‖y_c‖² are bounded by FLOAT_DOT_MAX, so every logit
 * is finite (the softmax never sees Inf or NaN). */
#define DATA_NORM_MAX 1e18
#define FLOAT_DOT_MAX 1e37

/* ---- batched float evaluation ------------------------------------------------------- */

/* The softmax pass is the only non-GEMM work, so it is vectorised (SSE2, baseline on x86-64)
 * with its own exp for arguments <= 0: Cody–Waite reduction x = n ln2 + r, |r| <= ln2/2, and
 * a degree-6 Taylor polynomial for e^r (relative error ~2e-7, about 2 float ulps). Arguments
 * below −87 are clamped there (e^−87 ≈ 1.6e-38 is negligible next to the maximum's weight 1). */
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f

static float exp_nonpositive(float x)
{
    if (!(x >= -87.0f)) /* also maps a NaN to the clamp, never to an int conversion */
        x = -87.0f;
    int32_t n = (int32_t)(x * EXP_LOG2E - 0.5f);
    float nf = (float)n;
    float r = x - nf * EXP_LN2_HI - nf * EXP_LN2_LO;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f
              + r * (8.33333333e-3f + r * 1.38888889e-3f)))));
    int32_t bits = (n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* z_i = g_i − ha · yn_i in place; returns max z. */
static float logits_block(float *g, const float *yn, size_t nb, float ha)
{
    size_t i = 0;
    float bmax = -INFINITY;
#if defined(__SSE2__)
    __m128 vha = _mm_set1_ps(ha), vmax = _mm_set1_ps(-INFINITY);
    for (; i + 4 <= nb; i += 4) {
        __m128 z = _mm_sub_ps(_mm_loadu_ps(g + i), _mm_mul_ps(vha, _mm_loadu_ps(yn + i)));
        _mm_storeu_ps(g + i, z);
        vmax = _mm_max_ps(vmax, z);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, vmax);
    for (int l = 0; l < 4; l++)
        bmax = lanes[l] > bmax ? lanes[l] : bmax;
#endif
    for (; i < nb; i++) {
        float z = g[i] - ha * yn[i];
        g[i] = z;
        bmax = z > bmax ? z : bmax;
    }
    return bmax;
}

#if defined(__SSE2__) && defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 9)
#include <immintrin.h>
#define HAVE_AVX512_SOFTMAX 1
/* exp_block's vector loop 16 lanes at a time where the CPU has AVX-512F (issue 17): lane by
 * lane the same instructions' arithmetic as the SSE loop below, and the sum is kept as the SSE
 * loop keeps it (4 lanes, the four quarters added in order), so the result is the same bits.
 * Processes g[i, i + 16 m) and returns the new i; acc4 holds the 4-lane running sum. */
__attribute__((target("avx512f"))) static size_t exp_block_avx512(float *g, size_t i, size_t nb,
                                                                   float sc, float mx, float *acc4)
{
    const __m512 vsc = _mm512_set1_ps(sc), vmx = _mm512_set1_ps(mx), lo = _mm512_set1_ps(-87.0f);
    const __m512 log2e = _mm512_set1_ps(EXP_LOG2E), half = _mm512_set1_ps(0.5f);
    const __m512 hi = _mm512_set1_ps(EXP_LN2_HI), lo2 = _mm512_set1_ps(EXP_LN2_LO);
    const __m512 one = _mm512_set1_ps(1.0f), c2 = _mm512_set1_ps(0.5f);
    const __m512 c3 = _mm512_set1_ps(1.66666667e-1f), c4 = _mm512_set1_ps(4.16666667e-2f);
    const __m512 c5 = _mm512_set1_ps(8.33333333e-3f), c6 = _mm512_set1_ps(1.38888889e-3f);
    const __m512i bias = _mm512_set1_epi32(127);
    __m128 acc = _mm_loadu_ps(acc4);
    for (; i + 16 <= nb; i += 16) {
        __m512 x = _mm512_max_ps(_mm512_mul_ps(vsc, _mm512_sub_ps(_mm512_loadu_ps(g + i), vmx)), lo);
        __m512i n = _mm512_cvttps_epi32(_mm512_sub_ps(_mm512_mul_ps(x, log2e), half));
        __m512 nf = _mm512_cvtepi32_ps(n);
        __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(nf, hi)), _mm512_mul_ps(nf, lo2));
        __m512 p = _mm512_add_ps(c5, _mm512_mul_ps(r, c6));
        p = _mm512_add_ps(c4, _mm512_mul_ps(r, p));
        p = _mm512_add_ps(c3, _mm512_mul_ps(r, p));
        p = _mm512_add_ps(c2, _mm512_mul_ps(r, p));
        p = _mm512_add_ps(one, _mm512_mul_ps(r, p));
        p = _mm512_add_ps(one, _mm512_mul_ps(r, p));
        __m512 e = _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, bias), 23)));
        _mm512_storeu_ps(g + i, e);
        acc = _mm_add_ps(acc, _mm512_castps512_ps128(e));
        acc = _mm_add_ps(acc, _mm512_extractf32x4_ps(e, 1));
        acc = _mm_add_ps(acc, _mm512_extractf32x4_ps(e, 2));
        acc = _mm_add_ps(acc, _mm512_extractf32x4_ps(e, 3));
    }
    _mm_storeu_ps(acc4, acc);
    return i;
}
#endif

/* g_i = exp(sc (g_i − mx)) in place; returns Σ g_i. */
static double exp_block(float *g, size_t nb, float sc, float mx)
{
    return pi_empirical_exp_block_isa(-1, g, nb, sc, mx);
}

/* The same with the instruction set forced (0 SSE2 only, 2 AVX-512F; -1 = the CPU's best),
 * for the test that both give the same bits. */
double pi_empirical_exp_block_isa(int isa, float *g, size_t nb, float sc, float mx)
{
    size_t i = 0;
    double sum = 0.0;
    (void)isa;
#if defined(__SSE2__)
    const __m128 vsc = _mm_set1_ps(sc), vmx = _mm_set1_ps(mx), lo = _mm_set1_ps(-87.0f);
    const __m128 log2e = _mm_set1_ps(EXP_LOG2E), half = _mm_set1_ps(0.5f);
    const __m128 hi = _mm_set1_ps(EXP_LN2_HI), lo2 = _mm_set1_ps(EXP_LN2_LO);
    const __m128 one = _mm_set1_ps(1.0f), c2 = _mm_set1_ps(0.5f), c3 = _mm_set1_ps(1.66666667e-1f);
    const __m128 c4 = _mm_set1_ps(4.16666667e-2f), c5 = _mm_set1_ps(8.33333333e-3f);
    const __m128 c6 = _mm_set1_ps(1.38888889e-3f);
    const __m128i bias = _mm_set1_epi32(127);
    __m128 acc = _mm_setzero_ps();
#ifdef HAVE_AVX512_SOFTMAX
    if (isa == 2 || (isa < 0 && __builtin_cpu_supports("avx512f"))) {
        float acc4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        i = exp_block_avx512(g, i, nb, sc, mx, acc4);
        acc = _mm_loadu_ps(acc4);
    }
#endif
    for (; i + 4 <= nb; i += 4) {
        __m128 x = _mm_max_ps(_mm_mul_ps(vsc, _mm_sub_ps(_mm_loadu_ps(g + i), vmx)), lo);
        __m128i n = _mm_cvttps_epi32(_mm_sub_ps(_mm_mul_ps(x, log2e), half));
        __m128 nf = _mm_cvtepi32_ps(n);
        __m128 r = _mm_sub_ps(_mm_sub_ps(x, _mm_mul_ps(nf, hi)), _mm_mul_ps(nf, lo2));
        __m128 p = _mm_add_ps(c5, _mm_mul_ps(r, c6));
        p = _mm_add_ps(c4, _mm_mul_ps(r, p));
        p = _mm_add_ps(c3, _mm_mul_ps(r, p));
        p = _mm_add_ps(c2, _mm_mul_ps(r, p));
        p = _mm_add_ps(one, _mm_mul_ps(r, p));
        p = _mm_add_ps(one, _mm_mul_ps(r, p));
        __m128 e = _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, bias), 23)));
        _mm_storeu_ps(g + i, e);
        acc = _mm_add_ps(acc, e);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, acc);
    sum = (double)lanes[0] + (double)lanes[1] + (double)lanes[2] + (double)lanes[3];
#endif
    for (; i < nb; i++) {
        g[i] = exp_nonpositive(sc * (g[i] - mx));
        sum += g[i];
    }
    return sum;
}

typedef struct slot {
    float *xc;     /* ROW_BLOCK × d */
    float *g;      /* ROW_BLOCK × DATA_BLOCK */
    float *acc;    /* ROW_BLOCK × d */
    double *scale; /* ROW_BLOCK: α/σ² (may be +inf) */
    double *halfa; /* ROW_BLOCK: α/2 */
    double *mx;    /* ROW_BLOCK: running max of z */
    double *sum;   /* ROW_BLOCK: running Σ exp */
} slot;

static size_t align64(size_t bytes) { return (bytes + 63u) & ~(size_t)63u; }

static size_t slot_bytes(size_t d)
{
    return align64(ROW_BLOCK * d * sizeof(float)) * 2
         + align64(ROW_BLOCK * (size_t)DATA_BLOCK * sizeof(float))
         + align64(ROW_BLOCK * sizeof(double)) * 4;
}

static slot slot_at(void *base, size_t d)
{
    unsigned char *p = base;
    slot s;
    s.xc = (float *)p;
    p += align64(ROW_BLOCK * d * sizeof(float));
    s.acc = (float *)p;
    p += align64(ROW_BLOCK * d * sizeof(float));
    s.g = (float *)p;
    p += align64(ROW_BLOCK * (size_t)DATA_BLOCK * sizeof(float));
    s.scale = (double *)p;
    p += align64(ROW_BLOCK * sizeof(double));
    s.halfa = (double *)p;
    p += align64(ROW_BLOCK * sizeof(double));
    s.mx = (double *)p;
    p += align64(ROW_BLOCK * sizeof(double));
    s.sum = (double *)p;
    return s;
}

static size_t row_blocks(size_t n) { return (n + ROW_BLOCK - 1) / ROW_BLOCK; }

static size_t emp_workspace_bytes(const pi_model_t *m, size_t n)
{
    size_t blocks = row_blocks(n);
    size_t slots = blocks < MAX_WORKERS ? blocks : MAX_WORKERS;
    return slots * slot_bytes(m->dim);
}

typedef struct emp_job {
    const pi_model_t *m;
    size_t n;
    const float *x;
    const double *t;
    float *out;
    unsigned char *ws;
    int blas_threads;
} emp_job;

/* Denoise rows [r0, r0 + rows) with one workspace slot. */
static pi_status denoise_block(const emp_job *job, size_t r0, size_t rows, slot *s)
{
    const pi_model_t *m = job->m;
    const empirical *e = m->impl;
    size_t d = m->dim, n = e->n;
    for (size_t r = 0; r < rows; r++) {
        double alpha, sigma;
        pi_status st = pi_sde_eval_marginal(&m->sde, job->t[r0 + r], &alpha, &sigma);
        if (st != PI_OK)
            return st;
        s->scale[r] = sigma > 0.0 ? alpha / (sigma * sigma) : INFINITY;
        if (!(s->scale[r] < 1e30)) /* beyond float range: the nearest point takes all */
            s->scale[r] = INFINITY;
        s->halfa[r] = 0.5 * alpha;
        s->mx[r] = -INFINITY;
        s->sum[r] = 0.0;
        const float *x = job->x + (r0 + r) * d;
        double xn = 0.0;
        for (size_t j = 0; j < d; j++) {
            double c = x[j] - alpha * e->mean[j];
            s->xc[r * d + j] = (float)c;
            xn += c * c;
        }
        xn = sqrt(xn);
        if (!(xn * e->ymax <= FLOAT_DOT_MAX) || !(0.5 * fabs(alpha) * e->ymax * e->ymax <= FLOAT_DOT_MAX))
            return pi_fail(PI_ENUMERIC,
                           "empirical model: row %zu (|x - alpha mean| = %g) is too far from the "
                           "data (max |y - mean| = %g) for float evaluation",
                           r0 + r, xn, e->ymax);
    }
    memset(s->acc, 0, rows * d * sizeof(float));
    for (size_t b0 = 0; b0 < n; b0 += DATA_BLOCK) {
        size_t nb = n - b0 < DATA_BLOCK ? n - b0 : DATA_BLOCK;
        const float *yb = e->yc + b0 * d;
        const float *yn = e->ycn + b0;
        pi_sgemm(0, 1, rows, nb, d, 1.0f, s->xc, d, yb, d, 0.0f, s->g, DATA_BLOCK,
                 job->blas_threads);
        for (size_t r = 0; r < rows; r++) {
            float *g = s->g + r * DATA_BLOCK;
            float bmax = logits_block(g, yn, nb, (float)s->halfa[r]);
            double scale = s->scale[r];
            if (bmax > s->mx[r]) {
                /* Online softmax: rescale what was accumulated under the old maximum. */
                double f = isinf(scale) || s->mx[r] == -INFINITY ? 0.0
                                                                 : exp(scale * (s->mx[r] - bmax));
                if (f != 1.0) {
                    float ff = (float)f;
                    for (size_t j = 0; j < d; j++)
                        s->acc[r * d + j] *= ff;
                    s->sum[r] *= f;
                }
                s->mx[r] = bmax;
            }
            float mxr = (float)s->mx[r];
            if (isinf(scale)) {
                double sum = 0.0;
                for (size_t i = 0; i < nb; i++) {
                    g[i] = g[i] == mxr ? 1.0f : 0.0f;
                    sum += g[i];
                }
                s->sum[r] += sum;
            } else {
                s->sum[r] += exp_block(g, nb, (float)scale, mxr);
            }
        }
        pi_sgemm(0, 0, rows, d, nb, 1.0f, s->g, DATA_BLOCK, yb, d, 1.0f, s->acc, d,
                 job->blas_threads);
    }
    for (size_t r = 0; r < rows; r++) {
        double inv = 1.0 / s->sum[r];
        float *o = job->out + (r0 + r) * d;
        for (size_t j = 0; j < d; j++)
            o[j] = (float)(e->mean[j] + inv * s->acc[r * d + j]);
    }
    return PI_OK;
}

static pi_status emp_task(size_t task, int worker, void *ctx)
{
    emp_job *job = ctx;
    slot s = slot_at(job->ws + (size_t)worker * slot_bytes(job->m->dim), job->m->dim);
    size_t r0 = task * ROW_BLOCK;
    size_t rows = job->n - r0 < ROW_BLOCK ? job->n - r0 : ROW_BLOCK;
    return denoise_block(job, r0, rows, &s);
}

static pi_status emp_eval(const pi_model_t *m, size_t n, const float *x, const double *t,
                          float *out, const pi_eval_ctx *ctx)
{
    size_t blocks = row_blocks(n);
    size_t slots = blocks < MAX_WORKERS ? blocks : MAX_WORKERS;
    if (ctx->workspace == NULL || ctx->workspace_bytes < slots * slot_bytes(m->dim))
        return pi_fail(PI_EINVAL, "empirical eval: workspace of %zu bytes is too small (need %zu)",
                       ctx->workspace_bytes, slots * slot_bytes(m->dim));
    int threads = ctx->threads < 1 ? 1 : ctx->threads;
    size_t workers = (size_t)threads < slots ? (size_t)threads : slots;
    emp_job job = {m, n, x, t, out, ctx->workspace, 1};
    /* Few row blocks: parallelise inside BLIS instead of across blocks. */
    job.blas_threads = (int)((size_t)threads / workers);
    if (workers <= 1) {
        for (size_t b = 0; b < blocks; b++) {
            pi_status st = emp_task(b, 0, &job);
            if (st != PI_OK)
                return st;
        }
        return PI_OK;
    }
    return pi_pool_run(ctx->pool, (int)workers, blocks, emp_task, &job);
}

/* ---- one point, double -------------------------------------------------------------- */

typedef struct emp_point {
    double alpha, sigma;
    double lse;   /* LSE_i of the logits */
    double *w;    /* N weights */
    double *ybar; /* d: Σ w_i y_i */
    double *heap;
    double stack[STACK_DOUBLES];
} emp_point;

/* Weights and weighted mean at x; extra doubles after ybar are left for the caller. */
static pi_status point_open(const pi_model_t *m, const double *x, double t, size_t extra,
                            emp_point *p, double **extra_out)
{
    const empirical *e = m->impl;
    size_t d = m->dim, n = e->n, need = n + d + extra;
    p->heap = NULL;
    pi_status st = pi_sde_eval_marginal(&m->sde, t, &p->alpha, &p->sigma);
    if (st != PI_OK)
        return st;
    if (!(p->sigma > 0.0))
        return pi_fail(PI_EINVAL,
                       "empirical model: t = %g gives sigma(t) = %g; its density and score need "
                       "sigma(t) > 0",
                       t, p->sigma);
    double *base = p->stack;
    if (need > STACK_DOUBLES) {
        p->heap = pi_alloc_array(need, sizeof(double));
        if (p->heap == NULL)
            return pi_fail(PI_ENOMEM, "empirical model: out of memory for %zu doubles", need);
        base = p->heap;
    }
    p->w = base;
    p->ybar = base + n;
    if (extra_out)
        *extra_out = base + n + d;
    double inv2s2 = 0.5 / (p->sigma * p->sigma), lmax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const float *y = e->data + i * d;
        double q = 0.0;
        for (size_t j = 0; j < d; j++) {
            double dx = x[j] - p->alpha * (double)y[j];
            q += dx * dx;
        }
        p->w[i] = -q * inv2s2;
        if (p->w[i] > lmax)
            lmax = p->w[i];
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        p->w[i] = exp(p->w[i] - lmax);
        sum += p->w[i];
    }
    p->lse = lmax + log(sum);
    memset(p->ybar, 0, d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        p->w[i] /= sum;
        if (p->w[i] == 0.0)
            continue;
        const float *y = e->data + i * d;
        for (size_t j = 0; j < d; j++)
            p->ybar[j] += p->w[i] * (double)y[j];
    }
    return PI_OK;
}

/* u_i = α (y_i − ȳ_w)/σ² */
static void point_u(const pi_model_t *m, const emp_point *p, size_t i, double *u)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    double f = p->alpha / (p->sigma * p->sigma);
    const float *y = e->data + i * d;
    for (size_t j = 0; j < d; j++)
        u[j] = f * ((double)y[j] - p->ybar[j]);
}

static pi_status emp_score_d(const pi_model_t *m, const double *x, double t, double *s)
{
    emp_point p;
    pi_status st = point_open(m, x, t, 0, &p, NULL);
    if (st == PI_OK) {
        double inv = 1.0 / (p.sigma * p.sigma);
        for (size_t j = 0; j < m->dim; j++)
            s[j] = (p.alpha * p.ybar[j] - x[j]) * inv;
    }
    pi_free(p.heap);
    return st;
}

static pi_status emp_logpdf_d(const pi_model_t *m, const double *x, double t, double *logp)
{
    const empirical *e = m->impl;
    emp_point p;
    pi_status st = point_open(m, x, t, 0, &p, NULL);
    if (st == PI_OK)
        *logp = p.lse - log((double)e->n)
              - 0.5 * (double)m->dim * (PI_LOG_2PI + 2.0 * log(p.sigma));
    pi_free(p.heap);
    return st;
}

static pi_status emp_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                           double *out)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, 2 * d, &p, &u);
    if (st == PI_OK) {
        double *acc = u + d;
        double inv = 1.0 / (p.sigma * p.sigma);
        for (size_t j = 0; j < d; j++)
            acc[j] = -v[j] * inv;
        for (size_t i = 0; i < e->n; i++) {
            if (p.w[i] == 0.0)
                continue;
            point_u(m, &p, i, u);
            double uv = 0.0;
            for (size_t j = 0; j < d; j++)
                uv += u[j] * v[j];
            double f = p.w[i] * uv;
            for (size_t j = 0; j < d; j++)
                acc[j] += f * u[j];
        }
        memcpy(out, acc, d * sizeof *out);
    }
    pi_free(p.heap);
    return st;
}

/* C = E_w[u uᵀ] into cov (d × d). */
static void point_cov(const pi_model_t *m, const emp_point *p, double *u, double *cov)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < e->n; i++) {
        if (p->w[i] == 0.0)
            continue;
        point_u(m, p, i, u);
        for (size_t a = 0; a < d; a++) {
            double wa = p->w[i] * u[a];
            for (size_t b = 0; b < d; b++)
                cov[a * d + b] += wa * u[b];
        }
    }
}

static pi_status emp_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac)
{
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, d, &p, &u);
    if (st == PI_OK) {
        point_cov(m, &p, u, jac);
        double inv = 1.0 / (p.sigma * p.sigma);
        for (size_t j = 0; j < d; j++)
            jac[j * d + j] -= inv;
    }
    pi_free(p.heap);
    return st;
}

static pi_status emp_divergence_d(const pi_model_t *m, const double *x, double t, double *div)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, d, &p, &u);
    if (st == PI_OK) {
        double acc = 0.0;
        for (size_t i = 0; i < e->n; i++) {
            if (p.w[i] == 0.0)
                continue;
            point_u(m, &p, i, u);
            double uu = 0.0;
            for (size_t j = 0; j < d; j++)
                uu += u[j] * u[j];
            acc += p.w[i] * uu;
        }
        *div = acc - (double)d / (p.sigma * p.sigma);
    }
    pi_free(p.heap);
    return st;
}

static pi_status emp_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, 2 * d, &p, &u);
    if (st == PI_OK) {
        double *acc = u + d;
        memset(acc, 0, d * sizeof *acc);
        for (size_t i = 0; i < e->n; i++) {
            if (p.w[i] == 0.0)
                continue;
            point_u(m, &p, i, u);
            double uu = 0.0;
            for (size_t j = 0; j < d; j++)
                uu += u[j] * u[j];
            double f = p.w[i] * uu;
            for (size_t j = 0; j < d; j++)
                acc[j] += f * u[j];
        }
        memcpy(grad, acc, d * sizeof *grad);
    }
    pi_free(p.heap);
    return st;
}

static pi_status emp_hessians_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, d, &p, &u);
    if (st == PI_OK) {
        memset(hess, 0, d * d * d * sizeof *hess);
        for (size_t i = 0; i < e->n; i++) {
            if (p.w[i] == 0.0)
                continue;
            point_u(m, &p, i, u);
            for (size_t a = 0; a < d; a++) {
                double wa = p.w[i] * u[a];
                for (size_t b = 0; b < d; b++) {
                    double wab = wa * u[b];
                    double *h = hess + (a * d + b) * d;
                    for (size_t c = 0; c < d; c++)
                        h[c] += wab * u[c];
                }
            }
        }
    }
    pi_free(p.heap);
    return st;
}

static pi_status emp_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess)
{
    const empirical *e = m->impl;
    size_t d = m->dim;
    emp_point p;
    double *u;
    pi_status st = point_open(m, x, t, d + 2 * d * d, &p, &u);
    if (st == PI_OK) {
        double *cov = u + d, *c2 = cov + d * d;
        memset(cov, 0, d * d * sizeof *cov);
        memset(hess, 0, d * d * sizeof *hess);
        for (size_t i = 0; i < e->n; i++) {
            if (p.w[i] == 0.0)
                continue;
            point_u(m, &p, i, u);
            double uu = 0.0;
            for (size_t j = 0; j < d; j++)
                uu += u[j] * u[j];
            for (size_t a = 0; a < d; a++) {
                double wa = p.w[i] * u[a];
                for (size_t b = 0; b < d; b++) {
                    cov[a * d + b] += wa * u[b];
                    hess[a * d + b] += wa * u[b] * uu;
                }
            }
        }
        double tr = 0.0;
        for (size_t a = 0; a < d; a++)
            tr += cov[a * d + a];
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b < d; b++) {
                double acc = 0.0;
                for (size_t l = 0; l < d; l++)
                    acc += cov[a * d + l] * cov[l * d + b];
                c2[a * d + b] = acc;
            }
        for (size_t a = 0; a < d * d; a++)
            hess[a] -= tr * cov[a] + 2.0 * c2[a];
    }
    pi_free(p.heap);
    return st;
}

/* ---- construction, payload ---------------------------------------------------------- */

static void emp_destroy(pi_model_t *m)
{
    empirical *e = m->impl;
    if (e == NULL)
        return;
    pi_free(e->data);
    pi_free(e->yc);
    pi_free(e->ycn);
    pi_free(e->mean);
    pi_free(e);
    m->impl = NULL;
}

static pi_status emp_write_payload(const pi_model_t *m, pi_file *file)
{
    const empirical *e = m->impl;
    unsigned char buf[4 * 512];
    pi_put_u64(buf, e->n);
    pi_status st = pi_file_write(file, buf, 8);
    size_t total = e->n * m->dim;
    for (size_t off = 0; off < total && st == PI_OK; off += 512) {
        size_t chunk = total - off < 512 ? total - off : 512;
        for (size_t i = 0; i < chunk; i++)
            pi_put_f32(buf + 4 * i, e->data[off + i]);
        st = pi_file_write(file, buf, 4 * chunk);
    }
    return st;
}

static const struct pi_model_type empirical_type = {
    .name = "empirical",
    .kind = PI_MODEL_KIND_EMPIRICAL,
    .workspace_bytes = emp_workspace_bytes,
    .eval = emp_eval,
    .score_d = emp_score_d,
    .jvp_d = emp_jvp_d,
    .jacobian_d = emp_jacobian_d,
    .divergence_d = emp_divergence_d,
    .grad_div_d = emp_grad_div_d,
    .hessians_d = emp_hessians_d,
    .hess_div_d = emp_hess_div_d,
    .logpdf_d = emp_logpdf_d,
    .write_payload = emp_write_payload,
    .destroy = emp_destroy,
    .derivatives_d = NULL, /* one by one */
    /* not trainable: .params, .sigma_data, .train_workspace_bytes, .forward_train and
     * .backward stay NULL */
};

/* Takes ownership of data (n × dim floats, already validated finite). */
static pi_status emp_build(const char *fn, pi_status code, const pi_sde_t *sde, size_t dim,
                           size_t n, float *data, pi_model_t **out)
{
    pi_model_t *m;
    pi_status st = pi_model_alloc(&empirical_type, sde, dim, PI_VIEW_DENOISED, &m);
    if (st != PI_OK) {
        pi_free(data);
        return st;
    }
    empirical *e = pi_calloc(1, sizeof *e);
    if (e == NULL) {
        pi_free(data);
        pi_model_destroy(m);
        return pi_fail(PI_ENOMEM, "empirical model: out of memory");
    }
    m->impl = e;
    e->n = n;
    e->data = data;
    e->yc = pi_alloc_array(n * dim, sizeof(float));
    e->ycn = pi_alloc_array(n, sizeof(float));
    e->mean = pi_calloc(dim, sizeof(double));
    if (e->yc == NULL || e->ycn == NULL || e->mean == NULL) {
        pi_model_destroy(m);
        return pi_fail(PI_ENOMEM, "empirical model: out of memory for %zu points of dimension %zu",
                       n, dim);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++)
            e->mean[j] += data[i * dim + j];
    for (size_t j = 0; j < dim; j++)
        e->mean[j] /= (double)n;
    double qmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double q = 0.0;
        for (size_t j = 0; j < dim; j++) {
            double c = (double)data[i * dim + j] - e->mean[j];
            e->yc[i * dim + j] = (float)c;
            q += c * c;
        }
        e->ycn[i] = (float)q;
        qmax = q > qmax ? q : qmax;
    }
    e->ymax = sqrt(qmax);
    if (!(e->ymax <= DATA_NORM_MAX)) {
        pi_status st2 = pi_fail(code,
                                "%s: data must lie within %g of their mean (float evaluation), "
                                "got a point at distance %g",
                                fn, DATA_NORM_MAX, e->ymax);
        pi_model_destroy(m);
        return st2;
    }
    *out = m;
    return PI_OK;
}

pi_status pi_model_create_empirical(const pi_sde_t *sde, size_t dim, size_t n, const float *data,
                                    pi_model_t **out)
{
    PI_CHECK_NULL(sde);
    PI_CHECK_NULL(data);
    PI_CHECK_NULL(out);
    size_t total;
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EINVAL, "pi_model_create_empirical: dim must be in [1, 2^20], got %zu",
                       dim);
    if (n == 0 || !pi_size_mul(n, dim, &total))
        return pi_fail(PI_EINVAL,
                       "pi_model_create_empirical: n must be >= 1 with n*dim <= 2^40, got n = %zu "
                       "(dim = %zu)",
                       n, dim);
    size_t bad = pi_first_nonfinite_f(data, total);
    if (bad < total)
        return pi_fail(PI_EINVAL,
                       "pi_model_create_empirical: data must be finite, got %g at row %zu, column %zu",
                       (double)data[bad], bad / dim, bad % dim);
    float *copy = pi_alloc_array(total, sizeof(float));
    if (copy == NULL)
        return pi_fail(PI_ENOMEM, "pi_model_create_empirical: out of memory for %zu points", n);
    memcpy(copy, data, total * sizeof(float));
    return emp_build("pi_model_create_empirical", PI_EINVAL, sde, dim, n, copy, out);
}

pi_status pi_empirical_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                                    size_t bytes, pi_model_t **out)
{
    if (dim == 0 || dim > PI_MAX_DIM)
        return pi_fail(PI_EFORMAT, "empirical payload: dim %zu is out of range", dim);
    if (bytes < 8)
        return pi_fail(PI_EFORMAT, "empirical payload: %zu bytes is too short for its header",
                       bytes);
    uint64_t n64 = pi_get_u64(payload);
    size_t floats = (bytes - 8) / 4;
    /* Sizes are checked against the bytes present before anything is allocated. */
    if (n64 == 0 || (bytes - 8) % 4 != 0 || n64 > floats || floats % dim != 0
        || floats / dim != n64)
        return pi_fail(PI_EFORMAT,
                       "empirical payload: %llu points of dimension %zu do not match its %zu bytes",
                       (unsigned long long)n64, dim, bytes);
    size_t n = (size_t)n64;
    float *data = pi_alloc_array(floats, sizeof(float));
    if (data == NULL)
        return pi_fail(PI_ENOMEM, "empirical payload: out of memory");
    for (size_t i = 0; i < floats; i++) {
        data[i] = pi_get_f32(payload + 8 + 4 * i);
        if (!isfinite(data[i])) {
            pi_free(data);
            return pi_fail(PI_EFORMAT, "empirical payload: data point %zu has a non-finite value",
                           i / dim);
        }
    }
    return emp_build("empirical payload", PI_EFORMAT, sde, dim, n, data, out);
}
