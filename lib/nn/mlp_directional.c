/* Directional products of the MLP's score in O(d) memory, for the stochastic WKB sweep
 * (MATH.md §8): forward-over-reverse differentiation in hyper-dual numbers.
 *
 * A hyper-dual number is (v, e1, e2, e12): a value with its derivatives along two directions
 * b and c and the mixed second derivative ∂_b∂_c. The network input z = c_in·x + embedding is
 * seeded with (c_in x, c_in b, c_in c, 0); Linear layers act on the four columns, SiLU by
 *   silu(z) = (s0, s1 z1, s1 z2, s1 z12 + s2 z1 z2)            (s_k = silu^(k)(z0))
 * so the output F carries F, ∂_bF, ∂_cF and ∂_b∂_cF. The reverse pass of φ = aᵀs for a fixed
 * cotangent a then runs in the same arithmetic: its input adjoint is ∇ₓφ = Jᵀa together with
 * ∂_b(Jᵀa) = ∇ₓ(aᵀJb), ∂_c(Jᵀa) = ∇ₓ(aᵀJc) and ∂_b∂_c(Jᵀa) = ∇ₓ(aᵀ D²s[b, c]) (mixed
 * partials commute). SiLU's adjoint multiplies by silu'(z) in hyper-dual arithmetic,
 *   silu'(z) = (s1, s2 z1, s2 z2, s2 z12 + s3 z1 z2).
 * Only the hidden pre-activations are kept (L·W hyper-duals); no d × d object is formed. */
#include "mlp_impl.h"

#include <string.h>

typedef struct hd {
    double v, e1, e2, e12;
} hd;

static inline hd hd_mul(hd a, hd b)
{
    return (hd){a.v * b.v, a.v * b.e1 + a.e1 * b.v, a.v * b.e2 + a.e2 * b.v,
                a.v * b.e12 + a.e1 * b.e2 + a.e2 * b.e1 + a.e12 * b.v};
}

static void silu_derivs(double a, double *s0, double *s1, double *s2, double *s3)
{
    double sg = a >= 0.0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a));
    double q = sg * (1.0 - sg), r = 1.0 - 2.0 * sg;
    *s0 = a * sg;
    *s1 = sg + a * q;
    *s2 = q * (2.0 + a * r);
    *s3 = q * (3.0 * r + a * r * r - 2.0 * a * q);
}

size_t pi_mlp_directional_scratch(const pi_mlp *net)
{
    size_t w = net->width, big = net->in > w ? net->in : w;
    /* pre-activations L·W, two work vectors of max(in, W), all hyper-dual (4 doubles) */
    return 4 * (net->layers * w + 2 * big);
}

/* out (n_out) = W h (+ bias on the value) for hyper-dual h (n_in). */
static void linear_fwd(const float *wt, const float *b, size_t n_out, size_t n_in, const hd *h,
                       hd *out)
{
    for (size_t o = 0; o < n_out; o++) {
        const float *wr = wt + o * n_in;
        hd acc = {b[o], 0.0, 0.0, 0.0};
        for (size_t i = 0; i < n_in; i++) {
            double wi = wr[i];
            acc.v += wi * h[i].v;
            acc.e1 += wi * h[i].e1;
            acc.e2 += wi * h[i].e2;
            acc.e12 += wi * h[i].e12;
        }
        out[o] = acc;
    }
}

/* g_in (n_in) = Wᵀ g_out (n_out); only the first n_keep inputs are formed. */
static void linear_bwd(const float *wt, size_t n_out, size_t n_in, size_t n_keep,
                       const hd *g_out, hd *g_in)
{
    memset(g_in, 0, n_keep * sizeof *g_in);
    for (size_t o = 0; o < n_out; o++) {
        const float *wr = wt + o * n_in;
        hd g = g_out[o];
        for (size_t i = 0; i < n_keep; i++) {
            double wi = wr[i];
            g_in[i].v += wi * g.v;
            g_in[i].e1 += wi * g.e1;
            g_in[i].e2 += wi * g.e2;
            g_in[i].e12 += wi * g.e12;
        }
    }
}

pi_status pi_mlp_directional_d(const pi_mlp *net, const pi_mlp_noise *noise, const double *x,
                               double t, const double *b, const double *c, size_t na,
                               const double *a, double *s, double *sb, double *sc, double *g,
                               double *gb, double *gc, double *gbc, double *scratch)
{
    pi_mlp_row row;
    double ca, cb;
    pi_status st = pi_mlp_chain_coefficients(net, noise, t, &row, &ca, &cb);
    if (st != PI_OK)
        return st;
    size_t d = net->dim, w = net->width, L = net->layers, in = net->in;
    size_t big = in > w ? in : w;
    hd *pre = (hd *)scratch, *bufa = pre + L * w, *bufb = bufa + big;
    double cin = row.in_scale;
    /* input */
    double emb[PI_MLP_MAX_FEATURES];
    pi_mlp_embed(net, row.emb_value, emb);
    for (size_t i = 0; i < d; i++)
        bufa[i] = (hd){cin * x[i], b != NULL ? cin * b[i] : 0.0, c != NULL ? cin * c[i] : 0.0,
                       0.0};
    for (size_t i = d; i < in; i++)
        bufa[i] = (hd){emb[i - d], 0.0, 0.0, 0.0};
    /* forward: hidden layers 0 … L−1 keep their pre-activations */
    hd *h = bufa;
    for (size_t l = 0; l < L; l++) {
        const float *wl = net->params + pi_mlp_weight_offset(net, l);
        size_t n_in = pi_mlp_layer_in(net, l);
        hd *z = pre + l * w;
        linear_fwd(wl, wl + w * n_in, w, n_in, h, z);
        hd *hn = h == bufa ? bufb : bufa;
        for (size_t o = 0; o < w; o++) {
            double s0, s1, s2, s3;
            silu_derivs(z[o].v, &s0, &s1, &s2, &s3);
            (void)s3;
            hn[o] = (hd){s0, s1 * z[o].e1, s1 * z[o].e2, s1 * z[o].e12 + s2 * z[o].e1 * z[o].e2};
        }
        h = hn;
    }
    {
        const float *wl = net->params + pi_mlp_weight_offset(net, L);
        hd *F = h == bufa ? bufb : bufa;
        linear_fwd(wl, wl + d * w, d, w, h, F);
        for (size_t k = 0; k < d; k++) {
            if (!isfinite(F[k].v) || !isfinite(F[k].e1) || !isfinite(F[k].e2))
                return pi_fail(PI_ENUMERIC, "MLP directional derivatives: output %zu is not "
                               "finite at t = %g", k, t);
            if (s != NULL)
                s[k] = ca * x[k] + cb * F[k].v;
            if (sb != NULL)
                sb[k] = ca * (b != NULL ? b[k] : 0.0) + cb * F[k].e1;
            if (sc != NULL)
                sc[k] = ca * (c != NULL ? c[k] : 0.0) + cb * F[k].e2;
        }
    }
    /* reverse passes, one per cotangent */
    for (size_t j = 0; j < na; j++) {
        const double *aj = a + j * d;
        hd *gout = bufa, *gin = bufb;
        for (size_t k = 0; k < d; k++)
            gout[k] = (hd){cb * aj[k], 0.0, 0.0, 0.0};
        size_t n_out = d;
        for (size_t l = L + 1; l-- > 0;) {
            const float *wl = net->params + pi_mlp_weight_offset(net, l);
            size_t n_in = pi_mlp_layer_in(net, l);
            if (l < L) {
                /* through SiLU of hidden layer l (its output was this layer's input) */
                const hd *z = pre + l * w;
                for (size_t o = 0; o < w; o++) {
                    double s0, s1, s2, s3;
                    silu_derivs(z[o].v, &s0, &s1, &s2, &s3);
                    hd dsil = {s1, s2 * z[o].e1, s2 * z[o].e2,
                               s2 * z[o].e12 + s3 * z[o].e1 * z[o].e2};
                    gout[o] = hd_mul(gout[o], dsil);
                }
            }
            linear_bwd(wl, n_out, n_in, l == 0 ? d : n_in, gout, gin);
            hd *tmp = gout;
            gout = gin;
            gin = tmp;
            n_out = n_in;
        }
        for (size_t i = 0; i < d; i++) {
            if (!isfinite(gout[i].v) || !isfinite(gout[i].e12))
                return pi_fail(PI_ENUMERIC, "MLP directional derivatives: gradient %zu is not "
                               "finite at t = %g", i, t);
            if (g != NULL)
                g[j * d + i] = ca * aj[i] + cin * gout[i].v;
            if (gb != NULL)
                gb[j * d + i] = cin * gout[i].e1;
            if (gc != NULL)
                gc[j * d + i] = cin * gout[i].e2;
            if (gbc != NULL)
                gbc[j * d + i] = cin * gout[i].e12;
        }
    }
    return PI_OK;
}
