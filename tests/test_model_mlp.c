/* The MLP score model: forward against a naive double reference, reproducible initialisation,
 * batch-size and thread independence bit for bit, forward-mode derivatives against finite
 * differences, options, payload round trip and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/philox.h"
#include "mlp_reference.h"
#include "nn/mlp_impl.h"
#include "nn/nn.h"
#include "pathint.h"

static int quick(void)
{
    return getenv("PI_TEST_QUICK") != NULL;
}

static pi_sde_t *vp_sde(void)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    return sde;
}

static pi_model_t *make_mlp(pi_sde_t *sde, size_t dim, size_t width, size_t layers, uint64_t seed)
{
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, dim, width, layers, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, seed), PI_OK);
    return m;
}

/* Multiply every weight by `gain` so that SiLU works in its curved region. */
static void scale_weights(pi_model_t *m, float gain)
{
    size_t count = 0;
    float *p = pi_model_param_vector(m, &count);
    assert_non_null(p);
    for (size_t i = 0; i < count; i++)
        p[i] *= gain;
}

static void random_points(uint64_t seed, size_t n, size_t d, float *x, double *t)
{
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)pi_rng_normal1(seed, PI_STREAM_AUX, 0, 0, i);
    for (size_t i = 0; i < n; i++)
        t[i] = 0.02 + 0.96 * pi_rng_uniform1(seed, PI_STREAM_AUX, 1, 0, i);
}

static void eval_native(const pi_model_t *m, size_t n, const float *x, const double *t, float *out,
                        int threads)
{
    size_t bytes = pi_model_workspace_bytes(m, n);
    void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
    assert_non_null(ws);
    pi_eval_ctx ctx = {ws, bytes, threads, NULL, NULL};
    if (threads > 1)
        assert_int_equal(pi_pool_create(threads, &ctx.pool), PI_OK);
    assert_int_equal(m->type->eval(m, n, x, t, out, &ctx), PI_OK);
    pi_pool_destroy(ctx.pool);
    free(ws);
}

/* ---- forward ---------------------------------------------------------------------------- */

static void check_forward(pi_model_t *m, size_t n)
{
    size_t d = m->dim;
    float *x = malloc(n * d * sizeof *x), *out = malloc(n * d * sizeof *out);
    double *t = malloc(n * sizeof *t), *ref = malloc(d * sizeof *ref), *xd = malloc(d * sizeof *xd);
    random_points(11, n, d, x, t);
    eval_native(m, n, x, t, out, 1);
    double *theta = ref_mlp_theta(m);
    double worst = 0.0;
    for (size_t r = 0; r < n; r++) {
        for (size_t j = 0; j < d; j++)
            xd[j] = x[r * d + j];
        ref_mlp_native(m, theta, xd, t[r], ref);
        for (size_t j = 0; j < d; j++) {
            double err = fabs(out[r * d + j] - ref[j]) / (1.0 + fabs(ref[j]));
            worst = err > worst ? err : worst;
        }
    }
    assert_true(worst < 2e-5);
    free(theta);
    free(x);
    free(out);
    free(t);
    free(ref);
    free(xd);
}

static void test_forward_matches_reference(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    for (size_t d = 1; d <= 3; d++) {
        pi_model_t *m = make_mlp(sde, d, 32, 3, 5 + d);
        scale_weights(m, 1.5f);
        check_forward(m, 257);
        assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 6), PI_OK);
        check_forward(m, 100);
        assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.7), PI_OK);
        check_forward(m, 100);
        assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_INPUT, 0.7), PI_OK);
        check_forward(m, 100);
        pi_model_destroy(m);
    }
    pi_sde_destroy(sde);
}

/* The public door (model.c) gives the native view of the kind unchanged. */
static void test_public_eval(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = make_mlp(sde, 2, 16, 2, 1);
    size_t n = 50;
    float x[100], a[100], b[100];
    double t[50];
    random_points(3, n, 2, x, t);
    eval_native(m, n, x, t, a, 1);
    assert_int_equal(pi_model_eval(m, PI_VIEW_EPS, n, x, t, b), PI_OK);
    assert_memory_equal(a, b, sizeof a);
    pi_model_kind kind;
    assert_int_equal(pi_model_get_kind(m, &kind), PI_OK);
    assert_int_equal(kind, PI_MODEL_KIND_MLP);
    size_t count = 0;
    assert_int_equal(pi_model_get_num_params(m, &count), PI_OK);
    /* (2 + 16) → 16 → 16 → 2 */
    assert_int_equal(count, 16 * 19 + 16 * 17 + 2 * 17);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

static void test_init_reproducible(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *a = NULL, *b = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 2, 24, 2, &a), PI_OK);
    assert_int_equal(pi_model_create_mlp(sde, 2, 24, 2, &b), PI_OK);
    size_t na, nb;
    float *pa = pi_model_param_vector(a, &na), *pb = pi_model_param_vector(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof(float)); /* seed 0 at creation */
    assert_int_equal(pi_model_mlp_init(b, 0), PI_OK);
    assert_memory_equal(pa, pb, na * sizeof(float));
    assert_int_equal(pi_model_mlp_init(b, 1), PI_OK);
    size_t same = 0;
    for (size_t i = 0; i < na; i++)
        same += pa[i] == pb[i];
    assert_true(same < na / 100 + 1);
    /* Within PyTorch's bounds, mean near 0, spread near the uniform's. */
    const pi_mlp *net = a->impl;
    for (size_t l = 0; l <= net->layers; l++) {
        size_t in = pi_mlp_layer_in(net, l), out = pi_mlp_layer_out(net, l);
        const float *w = net->params + pi_mlp_weight_offset(net, l);
        double bound = 1.0 / sqrt((double)in), sum = 0.0, sq = 0.0;
        for (size_t e = 0; e < out * (in + 1); e++) {
            assert_true(fabs(w[e]) <= bound * (1 + 1e-6));
            sum += w[e];
            sq += (double)w[e] * w[e];
        }
        double cnt = (double)(out * (in + 1));
        assert_true(fabs(sum / cnt) < 4.0 * bound / sqrt(3.0 * cnt) + 1e-12);
        assert_true(fabs(sq / cnt / (bound * bound / 3.0) - 1.0) < 0.3);
    }
    pi_model_destroy(a);
    pi_model_destroy(b);
    pi_sde_destroy(sde);
}

/* Row i's output does not depend on the batch size, the block split or the thread count. */
static void test_batch_and_thread_independence(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = make_mlp(sde, 2, 64, 3, 9);
    size_t n = quick() ? 700 : pi_mlp_block_rows(m->impl) + 517;
    float *x = malloc(n * 2 * sizeof *x), *full1 = malloc(n * 2 * sizeof *full1);
    float *full2 = malloc(n * 2 * sizeof *full2), *part = malloc(n * 2 * sizeof *part);
    double *t = malloc(n * sizeof *t);
    random_points(21, n, 2, x, t);
    for (size_t r = n / 2; r < n / 2 + 40; r++)
        t[r] = t[n / 2]; /* a run of equal times (the embedding is copied, not recomputed) */
    eval_native(m, n, x, t, full1, 1);
    eval_native(m, n, x, t, full2, 2);
    assert_memory_equal(full1, full2, n * 2 * sizeof(float));
    eval_native(m, n, x, t, full2, 3);
    assert_memory_equal(full1, full2, n * 2 * sizeof(float));
    const size_t sizes[] = {1, 3, 17, 256, 600};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t s = sizes[k];
        for (size_t r0 = 0; r0 + s <= n; r0 += s * 7 + 1) {
            eval_native(m, s, x + 2 * r0, t + r0, part, (int)(k % 2) + 1);
            assert_memory_equal(part, full1 + 2 * r0, s * 2 * sizeof(float));
        }
    }
    free(x);
    free(full1);
    free(full2);
    free(part);
    free(t);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* ---- double derivatives ------------------------------------------------------------------ */

static double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return num / fmax(den, 1e-8);
}

typedef pi_status (*vec_fn)(const pi_model_t *m, const double *x, double t, double *out);

/* Central differences of fn (out_n values) in each coordinate: fd[o * d + j] = ∂out_o/∂x_j. */
static void central_fd(vec_fn fn, const pi_model_t *m, const double *x, double t, size_t out_n,
                       double *fd)
{
    size_t d = m->dim;
    double xp[3], xm[3], *fp = malloc(out_n * sizeof *fp), *fm = malloc(out_n * sizeof *fm);
    for (size_t j = 0; j < d; j++) {
        double h = 1e-5 * fmax(1.0, fabs(x[j]));
        memcpy(xp, x, d * sizeof *x);
        memcpy(xm, x, d * sizeof *x);
        xp[j] += h;
        xm[j] -= h;
        assert_int_equal(fn(m, xp, t, fp), PI_OK);
        assert_int_equal(fn(m, xm, t, fm), PI_OK);
        for (size_t o = 0; o < out_n; o++)
            fd[o * d + j] = (fp[o] - fm[o]) / (xp[j] - xm[j]);
    }
    free(fp);
    free(fm);
}

static pi_status div_as_vec(const pi_model_t *m, const double *x, double t, double *out)
{
    return m->type->divergence_d(m, x, t, out);
}

static void check_derivatives(const pi_model_t *m, const double *x, double t)
{
    size_t d = m->dim;
    double s[3], sref[3], jac[9], fd[27], v[3], jv[3], jvref[3], div, hess[27], gd[3], hd[9];
    double *theta = ref_mlp_theta(m);
    assert_int_equal(m->type->score_d(m, x, t, s), PI_OK);
    ref_mlp_score(m, theta, x, t, sref);
    assert_true(rel_err(s, sref, d) < 1e-12);
    free(theta);
    /* Jacobian vs differences of the score. */
    assert_int_equal(m->type->jacobian_d(m, x, t, jac), PI_OK);
    central_fd(m->type->score_d, m, x, t, d, fd);
    assert_true(rel_err(jac, fd, d * d) < 1e-6);
    /* JVP and divergence are consistent with the Jacobian. */
    for (size_t i = 0; i < d; i++)
        v[i] = 0.3 + 0.7 * (double)i - 0.2 * (double)(i * i);
    assert_int_equal(m->type->jvp_d(m, x, t, v, jv), PI_OK);
    double tr = 0.0;
    for (size_t i = 0; i < d; i++) {
        jvref[i] = 0.0;
        for (size_t j = 0; j < d; j++)
            jvref[i] += jac[i * d + j] * v[j];
        tr += jac[i * d + i];
    }
    assert_true(rel_err(jv, jvref, d) < 1e-12);
    assert_int_equal(m->type->divergence_d(m, x, t, &div), PI_OK);
    assert_true(fabs(div - tr) <= 1e-12 * fmax(1.0, fabs(tr)));
    /* Hessians of the components vs differences of the Jacobian. */
    assert_int_equal(m->type->hessians_d(m, x, t, hess), PI_OK);
    central_fd(m->type->jacobian_d, m, x, t, d * d, fd);
    /* fd[(k d + i) d + j] = ∂(∂s_k/∂x_i)/∂x_j = hess[(k d + i) d + j] */
    assert_true(rel_err(hess, fd, d * d * d) < 1e-6);
    /* ∇(∇·s) vs differences of the divergence, and vs the Hessians' trace. */
    assert_int_equal(m->type->grad_div_d(m, x, t, gd), PI_OK);
    central_fd(div_as_vec, m, x, t, 1, fd);
    assert_true(rel_err(gd, fd, d) < 1e-6);
    double gd2[3] = {0.0, 0.0, 0.0};
    for (size_t i = 0; i < d; i++) {
        gd2[i] = 0.0;
        for (size_t k = 0; k < d; k++)
            gd2[i] += hess[(k * d + k) * d + i];
    }
    assert_true(rel_err(gd, gd2, d) < 1e-12);
    /* ∇∇(∇·s) vs differences of ∇(∇·s). */
    assert_int_equal(m->type->hess_div_d(m, x, t, hd), PI_OK);
    central_fd(m->type->grad_div_d, m, x, t, d, fd);
    assert_true(rel_err(hd, fd, d * d) < 1e-6);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            assert_true(fabs(hd[i * d + j] - hd[j * d + i]) <=
                        1e-10 * fmax(1.0, fabs(hd[i * d + j])));
}

static void test_derivatives_fd(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    const pi_view views[] = {PI_VIEW_SCORE, PI_VIEW_EPS, PI_VIEW_DENOISED};
    const double times[] = {0.05, 0.4, 0.9};
    for (size_t d = 1; d <= 3; d++)
        for (size_t vi = 0; vi < 3; vi++)
            for (int pre = PI_PRECOND_NONE; pre <= PI_PRECOND_INPUT; pre++) {
                pi_model_t *m = make_mlp(sde, d, 12, 2, 100 + d * 10 + vi * 3 + (size_t)(pre - PI_PRECOND_NONE));
                scale_weights(m, 2.0f);
                assert_int_equal(pi_model_mlp_set_output_view(m, views[vi]), PI_OK);
                assert_int_equal(pi_model_mlp_set_preconditioning(m, pre, 0.6), PI_OK);
                if (vi == 1)
                    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 4), PI_OK);
                for (size_t k = 0; k < 3; k++) {
                    double x[3];
                    for (size_t j = 0; j < d; j++)
                        x[j] = pi_rng_normal1(7, PI_STREAM_AUX, d * 100 + vi * 10 + k, 0, j);
                    check_derivatives(m, x, times[k]);
                }
                pi_model_destroy(m);
            }
    pi_sde_destroy(sde);
}

/* The model layer's dispatch reaches the MLP's own derivatives (no finite differences). */
static void test_derivative_dispatch(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = make_mlp(sde, 2, 16, 2, 4);
    double x[2] = {0.3, -0.8}, a[8], b[8];
    assert_int_equal(pi_model_hess_div_d(m, x, 0.3, a), PI_OK);
    assert_int_equal(m->type->hess_div_d(m, x, 0.3, b), PI_OK);
    assert_memory_equal(a, b, 4 * sizeof(double));
    assert_int_equal(pi_model_grad_div_d(m, x, 0.3, a), PI_OK);
    assert_int_equal(m->type->grad_div_d(m, x, 0.3, b), PI_OK);
    assert_memory_equal(a, b, 2 * sizeof(double));
    /* The all-in-one entry gives the same bits as the single functions. */
    double s1[2], s2[2], j1[4], j2[4], dv1, dv2, g1[2], g2[2], h1[8], h2[8], hd1[4], hd2[4];
    assert_int_equal(m->type->derivatives_d(m, x, 0.3, s1, j1, &dv1, g1, h1, hd1), PI_OK);
    assert_int_equal(m->type->score_d(m, x, 0.3, s2), PI_OK);
    assert_int_equal(m->type->jacobian_d(m, x, 0.3, j2), PI_OK);
    assert_int_equal(m->type->divergence_d(m, x, 0.3, &dv2), PI_OK);
    assert_int_equal(m->type->grad_div_d(m, x, 0.3, g2), PI_OK);
    assert_int_equal(m->type->hessians_d(m, x, 0.3, h2), PI_OK);
    assert_int_equal(m->type->hess_div_d(m, x, 0.3, hd2), PI_OK);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_equal(j1, j2, sizeof j1);
    assert_true(dv1 == dv2);
    assert_memory_equal(g1, g2, sizeof g1);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_memory_equal(hd1, hd2, sizeof hd1);
    assert_int_equal(m->type->derivatives_d(m, x, 0.3, NULL, j1, NULL, NULL, NULL, NULL), PI_OK);
    assert_memory_equal(j1, j2, sizeof j1);
    /* The model layer's all-in-one dispatch (what the WKB sweep calls) reaches it. */
    assert_int_equal(pi_model_derivatives_d(m, x, 0.3, s1, j1, NULL, g1, h1, hd1), PI_OK);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_equal(j1, j2, sizeof j1);
    assert_memory_equal(g1, g2, sizeof g1);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_memory_equal(hd1, hd2, sizeof hd1);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* A wider net needs heap scratch for third order: same results path, no failure. */
static void test_derivatives_large_scratch(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = make_mlp(sde, 3, 300, 1, 2);
    double x[3] = {0.1, 0.2, -0.3};
    check_derivatives(m, x, 0.5);
    pi_model_destroy(m);
    /* d = 64: first order is fine, third order would need gigabytes: refused. */
    m = make_mlp(sde, 64, 8, 1, 3);
    double x64[64], jac[64 * 64], hd[64 * 64], div = 0.0;
    for (size_t i = 0; i < 64; i++)
        x64[i] = 0.01 * (double)i;
    assert_int_equal(m->type->jacobian_d(m, x64, 0.5, jac), PI_OK);
    assert_int_equal(m->type->divergence_d(m, x64, 0.5, &div), PI_OK);
    double tr = 0.0;
    for (size_t i = 0; i < 64; i++)
        tr += jac[i * 64 + i];
    assert_true(fabs(div - tr) <= 1e-12 * fmax(1.0, fabs(tr)));
    assert_int_equal(m->type->hess_div_d(m, x64, 0.5, hd), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), "Hutchinson"));
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* ---- payload ---------------------------------------------------------------------------- */

static pi_status payload_writer(pi_file *file, const void *ctx)
{
    const pi_model_t *m = ctx;
    return m->type->write_payload(m, file);
}

static void test_payload_round_trip(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = make_mlp(sde, 3, 10, 2, 77);
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 8), PI_OK);
    assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_SCORE), PI_OK);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.25), PI_OK);
    char path[64];
    snprintf(path, sizeof path, "/tmp/pi_mlp_payload_%ld", (long)getpid());
    assert_int_equal(pi_write_file_atomic(path, payload_writer, m), PI_OK);
    unsigned char *data = NULL;
    size_t size = 0;
    assert_int_equal(pi_read_file(path, 1u << 24, &data, &size), PI_OK);
    unlink(path);
    pi_model_t *m2 = NULL;
    assert_int_equal(pi_mlp_from_payload(sde, 3, data, size, &m2), PI_OK);
    const pi_mlp *a = m->impl, *b = m2->impl;
    assert_int_equal(a->num_params, b->num_params);
    assert_memory_equal(a->params, b->params, a->num_params * sizeof(float));
    assert_int_equal(a->features, b->features);
    assert_int_equal(a->embedding, b->embedding);
    assert_int_equal(a->output_view, b->output_view);
    assert_int_equal(a->precond, b->precond);
    assert_true(a->sigma_data == b->sigma_data);
    assert_int_equal(m2->native_view, PI_VIEW_DENOISED);
    /* Hostile variants: each is rejected with PI_EFORMAT, *out untouched. */
    pi_model_t *sentinel = (pi_model_t *)(uintptr_t)0x1;
    pi_model_t *o = sentinel;
    assert_int_equal(pi_mlp_from_payload(sde, 3, data, size - 1, &o), PI_EFORMAT);
    assert_int_equal(pi_mlp_from_payload(sde, 3, data, 10, &o), PI_EFORMAT);
    assert_int_equal(pi_mlp_from_payload(sde, 2, data, size, &o), PI_EFORMAT); /* dim mismatch */
    unsigned char *bad = malloc(size);
    const size_t offsets[] = {0, 4, 8, 12, 16, 24, 32, 40, 56};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        memcpy(bad, data, size);
        bad[offsets[k] + (offsets[k] >= 16 ? 7 : 3)] ^= 0x40; /* a huge or wrong value */
        assert_int_equal(pi_mlp_from_payload(sde, 3, bad, size, &o), PI_EFORMAT);
    }
    memcpy(bad, data, size);
    float nan = NAN;
    memcpy(bad + 64 + 4 * 5, &nan, 4);
    assert_int_equal(pi_mlp_from_payload(sde, 3, bad, size, &o), PI_EFORMAT);
    assert_ptr_equal(o, sentinel);
    free(bad);
    pi_free(data);
    pi_model_destroy(m);
    pi_model_destroy(m2);
    pi_sde_destroy(sde);
}

/* ---- options and bad input ------------------------------------------------------------- */

static const struct pi_model_type fake_type = {.name = "fake", .kind = PI_MODEL_KIND_CALLBACK};

static void test_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = vp_sde();
    pi_model_t *m = NULL, *fake = NULL;
    assert_int_equal(pi_model_create_mlp(NULL, 2, 8, 1, &m), PI_EINVAL);
    assert_int_equal(pi_model_create_mlp(sde, 0, 8, 1, &m), PI_EINVAL);
    assert_int_equal(pi_model_create_mlp(sde, 2, 0, 1, &m), PI_EINVAL);
    assert_int_equal(pi_model_create_mlp(sde, 2, 8, 0, &m), PI_EINVAL);
    assert_int_equal(pi_model_create_mlp(sde, 2, (size_t)1 << 20, 2, &m), PI_EINVAL);
    assert_int_equal(pi_model_create_mlp(sde, 2, 8, 1, NULL), PI_EINVAL);
    assert_null(m);
    assert_int_equal(pi_model_create_mlp(sde, 2, 8, 1, &m), PI_OK);
    size_t n0 = 0;
    float *p0 = pi_model_param_vector(m, &n0);
    float first = p0[0];
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_LOG_SIGMA, 7), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "features"));
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_LOG_SIGMA, 0), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_embedding(m, (pi_embedding)5, 16), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "sigma_data"));
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, -1.0), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, NAN), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, (pi_precond)4, 0.5), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "mode"));
    assert_int_equal(pi_model_mlp_set_preconditioning(m, (pi_precond)0, 0.5), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_V), PI_EINVAL);
    assert_int_equal(pi_model_mlp_set_output_view(m, (pi_view)9), PI_EINVAL);
    /* Failed setters changed nothing. */
    const pi_mlp *net = m->impl;
    assert_int_equal(net->features, 16);
    assert_int_equal(net->precond, PI_PRECOND_NONE);
    assert_int_equal(m->native_view, PI_VIEW_EPS);
    assert_true(pi_model_param_vector(m, NULL)[0] == first);
    assert_int_equal(pi_model_mlp_init(NULL, 1), PI_EINVAL);
    /* Setters reject other kinds. */
    assert_int_equal(pi_model_alloc(&fake_type, sde, 2, PI_VIEW_SCORE, &fake), PI_OK);
    assert_int_equal(pi_model_mlp_init(fake, 1), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_mlp_set_output_view(fake, PI_VIEW_EPS), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_mlp_set_embedding(fake, PI_EMBEDDING_TIME, 4), PI_EUNSUPPORTED);
    assert_int_equal(pi_model_mlp_set_preconditioning(fake, PI_PRECOND_EDM, 0.5), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), "MLP"));
    size_t cnt = 99;
    assert_null(pi_model_param_vector(fake, &cnt));
    assert_int_equal(cnt, 0);
    assert_int_equal(pi_model_train_workspace_bytes(fake, 10), 0);
    pi_model_destroy(fake);
    /* Changing the feature count re-initialises from the last seed, reproducibly. */
    assert_int_equal(pi_model_mlp_init(m, 5), PI_OK);
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_LOG_SIGMA, 4), PI_OK);
    pi_model_t *m2 = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 2, 8, 1, &m2), PI_OK);
    assert_int_equal(pi_model_mlp_set_embedding(m2, PI_EMBEDDING_LOG_SIGMA, 4), PI_OK);
    assert_int_equal(pi_model_mlp_init(m2, 5), PI_OK);
    size_t c1, c2;
    float *q1 = pi_model_param_vector(m, &c1), *q2 = pi_model_param_vector(m2, &c2);
    assert_int_equal(c1, c2);
    assert_int_equal(c1, 8 * 7 + 2 * 9);
    assert_memory_equal(q1, q2, c1 * sizeof(float));
    pi_model_destroy(m);
    pi_model_destroy(m2);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_reference),
        cmocka_unit_test(test_public_eval),
        cmocka_unit_test(test_init_reproducible),
        cmocka_unit_test(test_batch_and_thread_independence),
        cmocka_unit_test(test_derivatives_fd),
        cmocka_unit_test(test_derivative_dispatch),
        cmocka_unit_test(test_derivatives_large_scratch),
        cmocka_unit_test(test_payload_round_trip),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
