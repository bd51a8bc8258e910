/* Double-precision score of the MLP and its derivatives in x at one point, by forward-mode
 * Taylor propagation (for the likelihood and its WKB sweep, MATH.md §4).
 *
 * Chain. At fixed t the network input is z = c·x (c = 1/α, or c_in/α with either scaling)
 * plus a constant embedding, and the score is affine in the network output F:
 *   s = a·x + b·F(c·x), with
 *   output ε:                 a = 0,             b = −1/σ
 *   output score:             a = 0,             b = 1
 *   output denoiser:          a = −1/σ²,         b = α/σ²        (s = (α D − x)/σ²)
 *   preconditioned denoiser:  a = −1/(α² q),     b = σ_d/(σ √q)  (D = c_skip x̃ + c_out F,
 *                             q = σ̃² + σ_d²; a = (c_skip − 1)/σ² written without cancellation)
 * so ∂s/∂x = a I + b ∂F/∂x and every higher derivative of s is b times that of F.
 *
 * Propagation. Every unit carries its value and its derivatives along m seed directions up to
 * order p (p ≤ 3), as full tensors: C = 1 + m + m² + m³ columns (index 0: value; 1 + i: ∂_i;
 * 1 + m + (i m + j): ∂_i∂_j; 1 + m + m² + (i m + j) m + k: ∂_i∂_j∂_k). A Linear layer maps all
 * columns linearly (bias on the value only). SiLU maps them by Faà di Bruno:
 *   h_i = s1 a_i,  h_ij = s2 a_i a_j + s1 a_ij,
 *   h_ijk = s3 a_i a_j a_k + s2 (a_ij a_k + a_ik a_j + a_jk a_i) + s1 a_ijk.
 * The seeds are the x-directions times c, so the outputs are x-derivatives directly.
 *
 * Scratch: (2·W + d)·C + in doubles, C rounded up to a multiple of 4. Up to
 * PI_MLP_STACK_DOUBLES (9216 doubles, 72 KiB; e.g. d = 2, W = 256, order 3) they live on the
 * stack and nothing is allocated; larger networks take one heap block per call, up to 2^22
 * doubles (32 MiB; e.g. d = 16, W = 256, order 3). Beyond that (e.g. third order in d = 64)
 * the call fails with PI_EUNSUPPORTED: use Hutchinson probes of lower orders there. */
#include "mlp_impl.h"

#include <string.h>

#define PI_MLP_STACK_DOUBLES 9216
#define PI_MLP_MAX_SCRATCH_DOUBLES ((size_t)1 << 22)

typedef struct taylor {
    size_t m, p, cols;
    size_t ld;         /* row stride: cols rounded up to a multiple of 4 (zero padding, SIMD) */
    size_t o1, o2, o3; /* column offsets of the first, second, third derivatives */
} taylor;

static taylor taylor_shape(size_t m, size_t p)
{
    taylor t;
    t.m = m;
    t.p = p;
    t.o1 = 1;
    t.o2 = 1 + (p >= 1 ? m : 0);
    t.o3 = t.o2 + (p >= 2 ? m * m : 0);
    t.cols = t.o3 + (p >= 3 ? m * m * m : 0);
    t.ld = (t.cols + 3) / 4 * 4;
    return t;
}

/* SiLU and its first three derivatives at a (σ = logistic, q = σ(1−σ), r = 1 − 2σ):
 * silu' = σ + a q, silu'' = q (2 + a r), silu''' = q (3 r + a r² − 2 a q). */
static void silu_derivs(double a, double *s0, double *s1, double *s2, double *s3)
{
    double sg;
    if (a >= 0.0) {
        sg = 1.0 / (1.0 + exp(-a));
    } else { /* one exp: libm may set errno, so the compiler cannot merge two calls */
        double e = exp(a);
        sg = e / (1.0 + e);
    }
    double q = sg * (1.0 - sg), r = 1.0 - 2.0 * sg;
    *s0 = a * sg;
    *s1 = sg + a * q;
    *s2 = q * (2.0 + a * r);
    *s3 = q * (3.0 * r + a * r * r - 2.0 * a * q);
}

static void activate(const taylor *tp, double *u)
{
    size_t m = tp->m;
    double a = u[0], s0, s1, s2, s3;
    silu_derivs(a, &s0, &s1, &s2, &s3);
    const double *g = u + tp->o1;
    if (tp->p >= 3) {
        const double *h2 = u + tp->o2;
        double *h3 = u + tp->o3;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                for (size_t k = 0; k < m; k++) {
                    size_t e = (i * m + j) * m + k;
                    h3[e] = s3 * g[i] * g[j] * g[k] +
                            s2 * (h2[i * m + j] * g[k] + h2[i * m + k] * g[j] +
                                  h2[j * m + k] * g[i]) +
                            s1 * h3[e];
                }
    }
    if (tp->p >= 2) {
        double *h2 = u + tp->o2;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                h2[i * m + j] = s2 * g[i] * g[j] + s1 * h2[i * m + j];
    }
    if (tp->p >= 1)
        for (size_t i = 0; i < m; i++)
            u[tp->o1 + i] *= s1;
    u[0] = s0;
}

/* acc (4 × ld, zeroed) += the four weight rows w (4 × in, row stride in) times src (in × ld),
 * LANES columns per vector operation; ld is a multiple of 4. For every column the sum runs
 * over i in order in double, so the bits do not depend on the vector width or the blocking. */
#define PI_DEFINE_BLOCK4(name, attr, vt, lanes)                                                \
    attr static void name(const float *w, size_t in, size_t ld, const double *restrict src,    \
                          double *restrict acc)                                                \
    {                                                                                          \
        const float *w0 = w, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;                      \
        const vt one = (vt){0} + 1.0; /* broadcast by 1·w: exact, keeps −0.0 */               \
        for (size_t i = 0; i < in; i++) {                                                      \
            vt x0 = one * (double)w0[i], x1 = one * (double)w1[i];                             \
            vt x2 = one * (double)w2[i], x3 = one * (double)w3[i];                             \
            const double *s = src + i * ld;                                                    \
            for (size_t c = 0; c < ld; c += (lanes)) {                                         \
                vt v, a0, a1, a2, a3;                                                          \
                memcpy(&v, s + c, sizeof v);                                                   \
                memcpy(&a0, acc + c, sizeof v);                                                \
                memcpy(&a1, acc + ld + c, sizeof v);                                           \
                memcpy(&a2, acc + 2 * ld + c, sizeof v);                                       \
                memcpy(&a3, acc + 3 * ld + c, sizeof v);                                       \
                a0 += x0 * v;                                                                  \
                a1 += x1 * v;                                                                  \
                a2 += x2 * v;                                                                  \
                a3 += x3 * v;                                                                  \
                memcpy(acc + c, &a0, sizeof v);                                                \
                memcpy(acc + ld + c, &a1, sizeof v);                                           \
                memcpy(acc + 2 * ld + c, &a2, sizeof v);                                       \
                memcpy(acc + 3 * ld + c, &a3, sizeof v);                                       \
            }                                                                                  \
        }                                                                                      \
    }

#if defined(__GNUC__) || defined(__clang__)
#define HAVE_V2D 1
typedef double v2d __attribute__((vector_size(16)));
PI_DEFINE_BLOCK4(linear_block4_sse2, , v2d, 2)
#else
#define HAVE_V2D 0
#endif

/* With AVX2 at run time the same loop runs on 4-lane vectors. */
#if HAVE_V2D && defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 9)
#define HAVE_V4D 1
typedef double v4d __attribute__((vector_size(32)));
PI_DEFINE_BLOCK4(linear_block4_avx2, __attribute__((target("avx2"))), v4d, 4)
#else
#define HAVE_V4D 0
#endif

/* The register-blocked variant for AVX-512F (issue 17): for each block of columns the four
 * outputs' accumulators stay in registers for the whole sum over i, instead of a load-add-store
 * of acc per i (whose store-to-load latency bounds the loops above; with 32 vector registers
 * three 8-lane column vectors per output fit; on AVX2's 16 the same blocking measured slower
 * than the loop above for ld >= 12, so AVX2 keeps it). Every column still sums over i
 * in order, a separate multiply and add each (no FMA contraction in ISO C mode), starting from
 * +0.0 as the zeroed acc does: the same bits as linear_block4_sse2. */
#define PI_TAYLOR_COLS(vt, nv, c)                                                              \
    do {                                                                                       \
        vt a[4][nv];                                                                           \
        for (size_t q = 0; q < 4; q++)                                                          \
            for (size_t u = 0; u < (nv); u++)                                                  \
                a[q][u] = (vt){0};                                                             \
        for (size_t i = 0; i < in; i++) {                                                      \
            const double *s = src + i * ld + (c);                                              \
            vt v[nv];                                                                          \
            for (size_t u = 0; u < (nv); u++)                                                  \
                memcpy(&v[u], s + u * (sizeof(vt) / sizeof(double)), sizeof(vt));              \
            const vt one = (vt){0} + 1.0;                                                      \
            vt x0 = one * (double)w0[i], x1 = one * (double)w1[i];                             \
            vt x2 = one * (double)w2[i], x3 = one * (double)w3[i];                             \
            for (size_t u = 0; u < (nv); u++) {                                                \
                a[0][u] += x0 * v[u];                                                          \
                a[1][u] += x1 * v[u];                                                          \
                a[2][u] += x2 * v[u];                                                          \
                a[3][u] += x3 * v[u];                                                          \
            }                                                                                  \
        }                                                                                      \
        for (size_t q = 0; q < 4; q++)                                                          \
            for (size_t u = 0; u < (nv); u++)                                                  \
                memcpy(acc + q * ld + (c) + u * (sizeof(vt) / sizeof(double)), &a[q][u],       \
                       sizeof(vt));                                                            \
    } while (0)

#if HAVE_V4D
/* With AVX-512F at run time: 8 columns per operation, 4-lane vectors for a tail of 4 (ld is a
 * multiple of 4 only). */
#define HAVE_V8D 1
typedef double v8d __attribute__((vector_size(64)));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" /* 64-byte vectors never cross a non-inlined call */
__attribute__((target("avx512f"))) static void linear_block4_avx512(const float *w, size_t in,
                                                                    size_t ld,
                                                                    const double *restrict src,
                                                                    double *restrict acc)
{
    const float *w0 = w, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    size_t c = 0;
    for (; c + 24 <= ld; c += 24)
        PI_TAYLOR_COLS(v8d, 3, c);
    for (; c + 16 <= ld; c += 16)
        PI_TAYLOR_COLS(v8d, 2, c);
    for (; c + 8 <= ld; c += 8)
        PI_TAYLOR_COLS(v8d, 1, c);
    for (; c + 4 <= ld; c += 4)
        PI_TAYLOR_COLS(v4d, 1, c);
}
#pragma GCC diagnostic pop
#else
#define HAVE_V8D 0
#endif

int pi_mlp_taylor_isa_available(int isa)
{
    switch (isa) {
    case 0: return 1;
#if HAVE_V4D
    case 1: return __builtin_cpu_supports("avx2");
    case 2: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

static int taylor_isa(void)
{
    return pi_mlp_taylor_isa_available(2) ? 2 : pi_mlp_taylor_isa_available(1) ? 1 : 0;
}

/* dst (out × ld) = W src (in × ld), bias added to the value column; ld is a multiple of 4.
 * Four outputs at a time so that each src row is loaded once per four. */
void pi_mlp_linear_taylor_isa(int isa, const float *w, const float *b, size_t out, size_t in,
                              size_t ld, const double *restrict src, double *restrict dst)
{
    size_t o = 0;
    (void)isa;
#if HAVE_V2D
    for (; o + 4 <= out; o += 4) {
        double *acc = dst + o * ld;
        memset(acc, 0, 4 * ld * sizeof *acc);
#if HAVE_V8D
        if (isa == 2)
            linear_block4_avx512(w + o * in, in, ld, src, acc);
        else
#endif
#if HAVE_V4D
        if (isa == 1)
            linear_block4_avx2(w + o * in, in, ld, src, acc);
        else
#endif
            linear_block4_sse2(w + o * in, in, ld, src, acc);
        if (b != NULL)
            for (size_t k = 0; k < 4; k++)
                acc[k * ld] += b[o + k];
    }
#endif
    for (; o < out; o++) {
        double *acc = dst + o * ld;
        memset(acc, 0, ld * sizeof *acc);
        const float *wr = w + o * in;
        for (size_t i = 0; i < in; i++) {
            double wi = wr[i];
            const double *s = src + i * ld;
            for (size_t c = 0; c < ld; c++)
                acc[c] += wi * s[c];
        }
        if (b != NULL)
            acc[0] += b[o];
    }
}

static void linear_taylor(const float *w, const float *b, size_t out, size_t in, size_t ld,
                          const double *restrict src, double *restrict dst)
{
    pi_mlp_linear_taylor_isa(taylor_isa(), w, b, out, in, ld, src, dst);
}

/* The conversion s = a x + b F at t, and the network input scale c. */
pi_status pi_mlp_chain_coefficients(const pi_mlp *net, const pi_mlp_noise *noise, double t,
                                    pi_mlp_row *row, double *ca, double *cb)
{
    pi_status st = pi_mlp_row_scalars(net, noise, t, row);
    if (st != PI_OK)
        return st;
    double alpha, sigma;
    st = noise->marginal(noise->ctx, t, &alpha, &sigma);
    if (st != PI_OK)
        return st;
    if (net->precond == PI_PRECOND_EDM) {
        double stl = sigma / alpha, sd = net->sigma_data;
        double q = stl * stl + sd * sd;
        *ca = -1.0 / (alpha * alpha * q);
        *cb = sd / (sigma * sqrt(q));
        return PI_OK;
    }
    switch (net->output_view) {
    case PI_VIEW_SCORE: *ca = 0.0; *cb = 1.0; break;
    case PI_VIEW_EPS: *ca = 0.0; *cb = -1.0 / sigma; break;
    default: *ca = -1.0 / (sigma * sigma); *cb = alpha / (sigma * sigma); break;
    }
    return PI_OK;
}

/* Propagate x with seeds (m × dim, NULL = identity) to order p; on success *result points to
 * the output tensor (dim × C) inside scratch (*heap is the block to free, or NULL). */
static pi_status propagate(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                           double t, const double *seeds, size_t nseeds, size_t p, double *stack,
                           double **heap, double **result, double *ca, double *cb, taylor *shape)
{
    pi_mlp_row row;
    pi_status st = pi_mlp_chain_coefficients(net, noise, t, &row, ca, cb);
    if (st != PI_OK)
        return st;
    taylor tp = taylor_shape(nseeds, p);
    size_t d = net->dim, w = net->width, cols = tp.ld;
    size_t need = 0, rows_total = 2 * w + d;
    if (!pi_size_mul(rows_total, cols, &need) || need > PI_MLP_MAX_SCRATCH_DOUBLES)
        return pi_fail(PI_EUNSUPPORTED,
                       "MLP derivatives: order %zu in dimension %zu needs too much scratch; use "
                       "Hutchinson probes for large dimensions",
                       p, d);
    need += net->in;
    double *buf = stack;
    *heap = NULL;
    if (need > PI_MLP_STACK_DOUBLES) {
        buf = pi_alloc_array(need, sizeof(double));
        if (buf == NULL)
            return pi_fail(PI_ENOMEM, "MLP derivatives: out of memory for %zu doubles", need);
        *heap = buf;
    }
    double *cur = buf, *nxt = buf + w * cols, *outp = buf + 2 * w * cols;
    double *input = outp + d * cols;
    double c = row.in_scale;
    for (size_t i = 0; i < d; i++)
        input[i] = c * x[i];
    pi_mlp_embed(net, row.emb_value, input + d);
    pi_mlp_null_condition_d(net, input + d + net->features);
    /* First layer: value from the input row, first derivatives from the seeds, rest zero. */
    const float *w0 = net->params;
    const float *b0 = w0 + w * net->in;
    for (size_t o = 0; o < w; o++) {
        double *u = cur + o * cols;
        memset(u, 0, cols * sizeof *u);
        const float *wr = w0 + o * net->in;
        double acc = b0[o];
        for (size_t i = 0; i < net->in; i++)
            acc += (double)wr[i] * input[i];
        u[0] = acc;
        if (p >= 1)
            for (size_t q = 0; q < nseeds; q++) {
                double g = 0.0;
                for (size_t i = 0; i < d; i++)
                    g += (double)wr[i] * c * (seeds != NULL ? seeds[q * d + i] : (q == i));
                u[tp.o1 + q] = g;
            }
        activate(&tp, u);
    }
    for (size_t l = 1; l <= net->layers; l++) {
        const float *wl = net->params + pi_mlp_weight_offset(net, l);
        size_t out = pi_mlp_layer_out(net, l);
        double *dst = l == net->layers ? outp : nxt;
        linear_taylor(wl, wl + out * w, out, w, cols, cur, dst);
        if (l < net->layers) {
            for (size_t o = 0; o < out; o++)
                activate(&tp, dst + o * cols);
            double *tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
    }
    *result = outp;
    *shape = tp;
    return PI_OK;
}

#define PROPAGATE(seeds, nseeds, order)                                                        \
    size_t d = net->dim;                                                                       \
    double stack[PI_MLP_STACK_DOUBLES], *heap, *F, ca, cb;                                     \
    taylor tp;                                                                                 \
    pi_status st =                                                                             \
        propagate(net, noise, x, t, seeds, nseeds, order, stack, &heap, &F, &ca, &cb, &tp);    \
    if (st != PI_OK)                                                                           \
        return st;                                                                             \
    size_t C = tp.ld;                                                                          \
    (void)C

pi_status pi_mlp_score_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                         double t, double *s)
{
    PROPAGATE(NULL, 0, 0);
    for (size_t k = 0; k < d; k++)
        s[k] = ca * x[k] + cb * F[k * C];
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_jvp_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x, double t,
                       const double *v, double *out)
{
    PROPAGATE(v, 1, 1);
    for (size_t k = 0; k < d; k++)
        out[k] = ca * v[k] + cb * F[k * C + tp.o1];
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_jacobian_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *jac)
{
    PROPAGATE(NULL, net->dim, 1);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            jac[i * d + j] = (i == j ? ca : 0.0) + cb * F[i * C + tp.o1 + j];
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_divergence_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                              double t, double *div)
{
    PROPAGATE(NULL, net->dim, 1);
    double acc = 0.0;
    for (size_t k = 0; k < d; k++)
        acc += F[k * C + tp.o1 + k];
    *div = ca * (double)d + cb * acc;
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_grad_div_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *grad)
{
    PROPAGATE(NULL, net->dim, 2);
    for (size_t i = 0; i < d; i++) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += F[k * C + tp.o2 + k * d + i];
        grad[i] = cb * acc;
    }
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_hessians_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *hess)
{
    PROPAGATE(NULL, net->dim, 2);
    for (size_t k = 0; k < d; k++)
        for (size_t e = 0; e < d * d; e++)
            hess[k * d * d + e] = cb * F[k * C + tp.o2 + e];
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_hess_div_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                            double t, double *hess)
{
    PROPAGATE(NULL, net->dim, 3);
    for (size_t e = 0; e < d * d; e++) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += F[k * C + tp.o3 + k * d * d + e];
        hess[e] = cb * acc;
    }
    pi_free(heap);
    return PI_OK;
}

pi_status pi_mlp_derivatives_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                               double t, double *s, double *jac, double *div, double *grad_div,
                               double *hess, double *hess_div)
{
    size_t order = hess_div != NULL ? 3 : (grad_div != NULL || hess != NULL) ? 2
                 : (jac != NULL || div != NULL)                           ? 1
                                                                          : 0;
    PROPAGATE(NULL, order > 0 ? net->dim : 0, order);
    if (s != NULL)
        for (size_t k = 0; k < d; k++)
            s[k] = ca * x[k] + cb * F[k * C];
    if (jac != NULL)
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                jac[i * d + j] = (i == j ? ca : 0.0) + cb * F[i * C + tp.o1 + j];
    if (div != NULL) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += F[k * C + tp.o1 + k];
        *div = ca * (double)d + cb * acc;
    }
    if (grad_div != NULL)
        for (size_t i = 0; i < d; i++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += F[k * C + tp.o2 + k * d + i];
            grad_div[i] = cb * acc;
        }
    if (hess != NULL)
        for (size_t k = 0; k < d; k++)
            for (size_t e = 0; e < d * d; e++)
                hess[k * d * d + e] = cb * F[k * C + tp.o2 + e];
    if (hess_div != NULL)
        for (size_t e = 0; e < d * d; e++) {
            double acc = 0.0;
            for (size_t k = 0; k < d; k++)
                acc += F[k * C + tp.o3 + k * d * d + e];
            hess_div[e] = cb * acc;
        }
    pi_free(heap);
    return PI_OK;
}

/* ---- the exact WKB sweep's products without d³ tensors (large dimensions) ---------------
 * The sweep needs s, J, ∇·s, ∇(∇·s), the u-contracted Hessians Σ_k u_k ∇∇s_k and ∇∇(∇·s).
 * The dense propagation above forms all d³ third derivatives ((2W + d)·d³ doubles of scratch:
 * beyond the bound from d ≈ 17 at W = 256). Here, forward-over-reverse in truncated
 * multivariate Taylor arithmetic, O(d·W·L) scratch:
 *  1. forward, first order in the d unit seeds (1 + d columns): s, J, ∇·s; the hidden
 *     pre-activations a (value a₀ and ∂_j a) and SiLU's s1, s2, s3 are kept;
 *  2. reverse of uᵀs with the same columns: its ∂_j part is ∂_j ∇(uᵀs) = Σ_k u_k ∂_j∇s_k;
 *  3. for each k, in the algebra {1, ε_j, η, ε_jη} (ε_j: the d seeds, η: the direction e_k,
 *     ε_iε_j = 0, η² = 0): the forward's new columns are the mixed ∂_j∂_k a (d columns; the
 *     η column is the cached ∂_k a), then the reverse of s_k carries 2d + 2 columns; through
 *     SiLU the adjoint is multiplied by silu'(a) = (s1, s2 a_j, s2 a_η, s3 a_j a_η + s2 a_jη).
 *     Its η part at the input is ∇∂_k s_k, its ε_jη part ∂_j∇∂_k s_k; summed over k they are
 *     ∇(∇·s) and ∇∇(∇·s).
 * Work per call ≈ d·[(L−1)W²·3d + 2W·d²] multiply-adds (3 column-passes per k: one forward,
 * two reverse), against the dense order-3 pass's ≈ L·W²·d³. The linear layers use the same
 * kernel (transposed weights, formed per call, for the reverse). */

static size_t round4(size_t n)
{
    return (n + 3) / 4 * 4;
}

typedef struct sweep_layout {
    size_t ld1, ldd, ld2;                          /* 1 + d, d, 2d + 2 columns, rounded to 4 */
    size_t A, S, H0, H1, F, B, X, G0, G1, Z, WT, IN; /* offsets (doubles) */
    size_t total;
} sweep_layout;

static sweep_layout sweep_layout_of(const pi_mlp *net)
{
    size_t d = net->dim, w = net->width, L = net->layers;
    sweep_layout y;
    y.ld1 = round4(1 + d);
    y.ldd = round4(d);
    y.ld2 = round4(2 * d + 2);
    size_t o = 0;
    y.A = o;  o += L * w * y.ld1; /* hidden pre-activations, first order */
    y.S = o;  o += L * w * 3;     /* s1, s2, s3 per hidden unit */
    y.H0 = o; o += w * y.ld1;     /* post-activations (ping-pong) */
    y.H1 = o; o += w * y.ld1;
    y.F = o;  o += d * y.ld1;     /* network output, first order */
    y.B = o;  o += L * w * y.ldd; /* hidden pre-activations, ε_jη columns (per k) */
    y.X = o;  o += w * y.ldd;     /* post-activation, ε_jη columns */
    y.G0 = o; o += w * y.ld2;     /* adjoints (ping-pong) */
    y.G1 = o; o += w * y.ld2;
    y.Z = o;  o += d * y.ld2;     /* input adjoint (x part) */
    y.WT = o; o += ((L > 0 ? L - 1 : 0) * w * w + d * w + 1) / 2; /* transposed weights, float */
    y.IN = o; o += net->in;
    y.total = o;
    return y;
}

size_t pi_mlp_sweep_scratch(const pi_mlp *net)
{
    return sweep_layout_of(net).total;
}

int pi_mlp_sweep_dense_fits(const pi_mlp *net)
{
    taylor tp = taylor_shape(net->dim, 3);
    size_t need;
    return pi_size_mul(2 * net->width + net->dim, tp.ld, &need) &&
           need <= PI_MLP_MAX_SCRATCH_DOUBLES;
}

/* Σ_k u_k ∇∇s_k and the input adjoint of uᵀ(cb F) (reverse with 1 + d columns). */
static void sweep_reverse_u(const pi_mlp *net, const sweep_layout *y, int isa, double cb,
                            const double *u, double *scratch)
{
    size_t d = net->dim, w = net->width, L = net->layers, ld = y->ld1;
    const float *WL = net->params + pi_mlp_weight_offset(net, L);
    const float *WT = (const float *)(scratch + y->WT);
    double *g = scratch + y->G0, *g2 = scratch + y->G1;
    memset(g, 0, w * ld * sizeof *g);
    for (size_t k = 0; k < d; k++) {
        double uk = cb * u[k];
        for (size_t o = 0; o < w; o++)
            g[o * ld] += (double)WL[k * w + o] * uk;
    }
    for (size_t l = L; l-- > 0;) {
        const double *pre = scratch + y->A + l * w * y->ld1, *S = scratch + y->S + l * w * 3;
        for (size_t o = 0; o < w; o++) {
            double *go = g + o * ld;
            const double *ao = pre + o * y->ld1;
            double p0 = go[0], s1 = S[o * 3], s2 = S[o * 3 + 1];
            for (size_t j = 1; j <= d; j++)
                go[j] = p0 * s2 * ao[j] + go[j] * s1;
            go[0] = p0 * s1;
        }
        if (l > 0) {
            pi_mlp_linear_taylor_isa(isa, WT + (l - 1) * w * w, NULL, w, w, ld, g, g2);
            double *tmp = g;
            g = g2;
            g2 = tmp;
        } else {
            pi_mlp_linear_taylor_isa(isa, WT + (L - 1) * w * w, NULL, d, w, ld, g,
                                     scratch + y->Z);
        }
    }
}

pi_status pi_mlp_sweep_products_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                                  double t, const double *u, double *s, double *jac,
                                  double *div, double *grad_div, double *uhess,
                                  double *hess_div, double *scratch)
{
    pi_mlp_row row;
    double ca, cb;
    pi_status st = pi_mlp_chain_coefficients(net, noise, t, &row, &ca, &cb);
    if (st != PI_OK)
        return st;
    if (net->layers < 1)
        return pi_fail(PI_EUNSUPPORTED, "MLP sweep products: the network has no hidden layer");
    sweep_layout y = sweep_layout_of(net);
    size_t d = net->dim, w = net->width, L = net->layers, in = net->in;
    size_t ld1 = y.ld1, ldd = y.ldd, ld2 = y.ld2;
    double c = row.in_scale;
    int isa = taylor_isa();
    double *A = scratch + y.A, *S = scratch + y.S, *F = scratch + y.F, *Z = scratch + y.Z;
    float *WT = (float *)(scratch + y.WT);
    /* transposed weights: W_lᵀ (l = 1 … L−1, W × W each), then the x columns of W_0 */
    for (size_t l = 1; l < L; l++) {
        const float *wl = net->params + pi_mlp_weight_offset(net, l);
        float *dst = WT + (l - 1) * w * w;
        for (size_t o = 0; o < w; o++)
            for (size_t i = 0; i < w; i++)
                dst[i * w + o] = wl[o * w + i];
    }
    const float *w0 = net->params, *b0 = w0 + w * in;
    {
        float *dst = WT + (L - 1) * w * w;
        for (size_t o = 0; o < w; o++)
            for (size_t j = 0; j < d; j++)
                dst[j * w + o] = w0[o * in + j];
    }
    /* 1. forward, first order in the d unit seeds */
    double *input = scratch + y.IN;
    for (size_t i = 0; i < d; i++)
        input[i] = c * x[i];
    pi_mlp_embed(net, row.emb_value, input + d);
    pi_mlp_null_condition_d(net, input + d + net->features);
    for (size_t o = 0; o < w; o++) {
        double *a = A + o * ld1;
        memset(a, 0, ld1 * sizeof *a);
        const float *wr = w0 + o * in;
        double acc = b0[o];
        for (size_t i = 0; i < in; i++)
            acc += (double)wr[i] * input[i];
        a[0] = acc;
        for (size_t j = 0; j < d; j++)
            a[1 + j] = (double)wr[j] * c;
    }
    double *h = scratch + y.H0, *h2 = scratch + y.H1;
    for (size_t l = 0; l < L; l++) {
        const double *pre = A + l * w * ld1;
        for (size_t o = 0; o < w; o++) {
            double s0, s1, s2, s3;
            silu_derivs(pre[o * ld1], &s0, &s1, &s2, &s3);
            double *So = S + (l * w + o) * 3;
            So[0] = s1;
            So[1] = s2;
            So[2] = s3;
            h[o * ld1] = s0;
            for (size_t j = 1; j < ld1; j++)
                h[o * ld1 + j] = s1 * pre[o * ld1 + j];
        }
        const float *wl = net->params + pi_mlp_weight_offset(net, l + 1);
        size_t out = pi_mlp_layer_out(net, l + 1);
        pi_mlp_linear_taylor_isa(isa, wl, wl + out * w, out, w, ld1, h,
                                 l + 1 < L ? A + (l + 1) * w * ld1 : F);
        double *tmp = h;
        h = h2;
        h2 = tmp;
    }
    for (size_t k = 0; k < d; k++)
        for (size_t j = 0; j <= d; j++)
            if (!isfinite(F[k * ld1 + j]))
                return pi_fail(PI_ENUMERIC, "MLP sweep products: output %zu is not finite at "
                               "t = %g", k, t);
    if (s != NULL)
        for (size_t k = 0; k < d; k++)
            s[k] = ca * x[k] + cb * F[k * ld1];
    if (jac != NULL)
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                jac[i * d + j] = (i == j ? ca : 0.0) + cb * F[i * ld1 + 1 + j];
    if (div != NULL) {
        double acc = 0.0;
        for (size_t k = 0; k < d; k++)
            acc += F[k * ld1 + 1 + k];
        *div = ca * (double)d + cb * acc;
    }
    /* 2. Σ_k u_k ∇∇s_k */
    if (uhess != NULL) {
        sweep_reverse_u(net, &y, isa, cb, u, scratch);
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++)
                uhess[i * d + j] = c * Z[i * ld1 + 1 + j];
    }
    if (grad_div == NULL && hess_div == NULL)
        return PI_OK;
    /* 3. per k: ∇∂_k s_k and ∂_j∇∂_k s_k, summed over k */
    if (grad_div != NULL)
        memset(grad_div, 0, d * sizeof *grad_div);
    if (hess_div != NULL)
        memset(hess_div, 0, d * d * sizeof *hess_div);
    double *B = scratch + y.B, *X = scratch + y.X;
    const float *WL = net->params + pi_mlp_weight_offset(net, L);
    memset(B, 0, w * ldd * sizeof *B); /* the first layer is linear in z: no mixed part */
    for (size_t k = 0; k < d; k++) {
        /* forward: ε_jη columns of the hidden pre-activations */
        for (size_t l = 0; l + 1 < L; l++) {
            const double *pre = A + l * w * ld1, *Bl = B + l * w * ldd;
            for (size_t o = 0; o < w; o++) {
                const double *ao = pre + o * ld1, *So = S + (l * w + o) * 3;
                double s1 = So[0], s2a = So[1] * ao[1 + k];
                for (size_t j = 0; j < d; j++)
                    X[o * ldd + j] = s2a * ao[1 + j] + s1 * Bl[o * ldd + j];
                for (size_t j = d; j < ldd; j++)
                    X[o * ldd + j] = 0.0;
            }
            const float *wl = net->params + pi_mlp_weight_offset(net, l + 1);
            pi_mlp_linear_taylor_isa(isa, wl, NULL, w, w, ldd, X, B + (l + 1) * w * ldd);
        }
        /* reverse of cb F_k: columns [value | ε_1 … ε_d | η | ε_1η … ε_dη] */
        double *g = scratch + y.G0, *g2 = scratch + y.G1;
        memset(g, 0, w * ld2 * sizeof *g);
        for (size_t o = 0; o < w; o++)
            g[o * ld2] = cb * (double)WL[k * w + o];
        for (size_t l = L; l-- > 0;) {
            const double *pre = A + l * w * ld1, *Bl = B + l * w * ldd;
            for (size_t o = 0; o < w; o++) {
                double *go = g + o * ld2, *ge = go + 1, *gx = go + 2 + d;
                const double *ao = pre + o * ld1 + 1, *bo = Bl + o * ldd;
                const double *So = S + (l * w + o) * 3;
                double s1 = So[0], s2 = So[1], s3 = So[2];
                double p0 = go[0], pe = go[1 + d], ae = ao[k];
                double qe = s2 * ae, s3e = s3 * ae;
                for (size_t j = 0; j < d; j++) {
                    double qj = s2 * ao[j];
                    double qje = s3e * ao[j] + s2 * bo[j];
                    gx[j] = p0 * qje + ge[j] * qe + pe * qj + gx[j] * s1;
                    ge[j] = p0 * qj + ge[j] * s1;
                }
                go[1 + d] = p0 * qe + pe * s1;
                go[0] = p0 * s1;
            }
            if (l > 0) {
                pi_mlp_linear_taylor_isa(isa, WT + (l - 1) * w * w, NULL, w, w, ld2, g, g2);
                double *tmp = g;
                g = g2;
                g2 = tmp;
            } else {
                pi_mlp_linear_taylor_isa(isa, WT + (L - 1) * w * w, NULL, d, w, ld2, g, Z);
            }
        }
        for (size_t i = 0; i < d; i++) {
            const double *zi = Z + i * ld2;
            if (grad_div != NULL)
                grad_div[i] += c * zi[1 + d];
            if (hess_div != NULL)
                for (size_t j = 0; j < d; j++)
                    hess_div[i * d + j] += c * zi[2 + d + j];
        }
    }
    for (size_t i = 0; i < d; i++) {
        if (grad_div != NULL && !isfinite(grad_div[i]))
            return pi_fail(PI_ENUMERIC, "MLP sweep products: ∇(∇·s) is not finite at t = %g", t);
        for (size_t j = 0; hess_div != NULL && j < d; j++)
            if (!isfinite(hess_div[i * d + j]))
                return pi_fail(PI_ENUMERIC, "MLP sweep products: ∇∇(∇·s) is not finite at "
                               "t = %g", t);
    }
    return PI_OK;
}
