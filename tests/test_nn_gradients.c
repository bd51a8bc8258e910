/* The MLP's training forward and backward (lib/nn): gradients against central finite
 * differences of a double-precision forward, against PyTorch on the same weights and batch,
 * and reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/philox.h"
#include "core/threads.h"
#include "mlp_reference.h"
#include "nn/mlp_impl.h"
#include "nn/nn.h"
#include "pathint.h"

static pi_model_t *make_net(pi_sde_t *sde, size_t d, size_t width, size_t layers, uint64_t seed,
                            float gain)
{
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, d, width, layers, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, seed), PI_OK);
    size_t count;
    float *p = pi_model_param_vector(m, &count);
    for (size_t i = 0; i < count; i++)
        p[i] *= gain;
    return m;
}

static void batch_of(uint64_t seed, size_t n, size_t d, float *x, double *t, float *dout)
{
    for (size_t i = 0; i < n * d; i++) {
        x[i] = (float)pi_rng_normal1(seed, PI_STREAM_AUX, 0, 0, i);
        dout[i] = (float)pi_rng_normal1(seed, PI_STREAM_AUX, 2, 0, i);
    }
    for (size_t i = 0; i < n; i++)
        t[i] = 0.03 + 0.94 * pi_rng_uniform1(seed, PI_STREAM_AUX, 1, 0, i);
}

/* Training forward + backward; returns the gradient (caller frees) and fills out. */
static float *backward_grad(const pi_model_t *m, size_t n, const float *x, const double *t,
                            const float *dout, float *out, int threads)
{
    size_t count = 0;
    pi_model_param_vector((pi_model_t *)(uintptr_t)m, &count);
    size_t bytes = pi_model_train_workspace_bytes(m, n);
    assert_true(bytes > 0);
    void *ws = malloc(bytes);
    float *grad = malloc(count * sizeof *grad);
    pi_pool *pool = NULL; /* the trainer's pool, as in training */
    if (threads > 1)
        assert_int_equal(pi_pool_create(threads, &pool), PI_OK);
    assert_int_equal(pi_model_forward_train(m, n, x, t, out, ws, threads, pool), PI_OK);
    assert_int_equal(pi_model_backward(m, n, dout, grad, ws, threads, pool), PI_OK);
    pi_pool_destroy(pool);
    free(ws);
    return grad;
}

static double loss_d(const pi_model_t *m, const double *theta, size_t n, const float *x,
                     const double *t, const float *dout)
{
    size_t d = m->dim;
    double xd[8], out[8], loss = 0.0;
    for (size_t r = 0; r < n; r++) {
        for (size_t j = 0; j < d; j++)
            xd[j] = x[r * d + j];
        ref_mlp_native(m, theta, xd, t[r], out);
        for (size_t j = 0; j < d; j++)
            loss += dout[r * d + j] * out[j];
    }
    return loss;
}

static void check_fd(pi_model_t *m, size_t n)
{
    size_t d = m->dim, count = 0;
    pi_model_param_vector(m, &count);
    float *x = malloc(n * d * sizeof *x), *dout = malloc(n * d * sizeof *dout);
    float *out = malloc(n * d * sizeof *out), *out2 = malloc(n * d * sizeof *out2);
    double *t = malloc(n * sizeof *t);
    batch_of(17, n, d, x, t, dout);
    float *grad = backward_grad(m, n, x, t, dout, out, 1);
    /* The training forward gives the same bits as inference. */
    size_t eb = pi_model_workspace_bytes(m, n);
    void *ews = aligned_alloc(64, (eb + 63) / 64 * 64);
    pi_eval_ctx ctx = {ews, eb, 1, NULL, NULL};
    assert_int_equal(m->type->eval(m, n, x, t, out2, &ctx), PI_OK);
    assert_memory_equal(out, out2, n * d * sizeof(float));
    free(ews);
    double *theta = ref_mlp_theta(m), worst = 0.0, gmax = 0.0, num = 0.0, den = 0.0;
    double *fd = malloc(count * sizeof *fd);
    for (size_t i = 0; i < count; i++) {
        double keep = theta[i], h = 1e-6 * fmax(1.0, fabs(keep));
        theta[i] = keep + h;
        double lp = loss_d(m, theta, n, x, t, dout);
        theta[i] = keep - h;
        double lm = loss_d(m, theta, n, x, t, dout);
        theta[i] = keep;
        fd[i] = (lp - lm) / (2.0 * h);
        gmax = fmax(gmax, fabs(fd[i]));
        num += (grad[i] - fd[i]) * (grad[i] - fd[i]);
        den += fd[i] * fd[i];
    }
    for (size_t i = 0; i < count; i++)
        worst = fmax(worst, fabs(grad[i] - fd[i]) / gmax);
    assert_true(den > 0.0);
    assert_true(sqrt(num / den) < 1e-4);
    assert_true(worst < 1e-4);
    free(fd);
    free(theta);
    free(grad);
    free(x);
    free(dout);
    free(out);
    free(out2);
    free(t);
}

static void test_gradients_fd(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    for (size_t d = 1; d <= 3; d++) {
        pi_model_t *m = make_net(sde, d, 7, 2, 40 + d, 1.7f);
        assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_LOG_SIGMA, 4), PI_OK);
        check_fd(m, 6);
        assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5), PI_OK);
        check_fd(m, 6);
        assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_INPUT, 0.8), PI_OK);
        check_fd(m, 6);
        assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5), PI_OK);
        assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 6), PI_OK);
        check_fd(m, 1);
        pi_model_destroy(m);
    }
    /* A net whose width is smaller than its output (delta buffers sized by max(W, dim)). */
    pi_model_t *m = make_net(sde, 5, 3, 1, 9, 1.0f);
    check_fd(m, 4);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Same thread count → same bits (the rows are split between up to 4 workers whose partial
 * gradients are added in order); other thread counts agree to rounding. */
static void test_gradients_reproducible(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = make_net(sde, 2, 64, 3, 3, 1.0f);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5), PI_OK);
    size_t n = getenv("PI_TEST_QUICK") ? 520 : 1100, count;
    pi_model_param_vector(m, &count);
    float *x = malloc(n * 2 * sizeof *x), *dout = malloc(n * 2 * sizeof *dout);
    float *out1 = malloc(n * 2 * sizeof *out1), *out = malloc(n * 2 * sizeof *out);
    double *t = malloc(n * sizeof *t);
    batch_of(5, n, 2, x, t, dout);
    float *g1 = backward_grad(m, n, x, t, dout, out1, 1);
    for (int threads = 2; threads <= 5; threads++) {
        float *ga = backward_grad(m, n, x, t, dout, out, threads);
        assert_memory_equal(out, out1, n * 2 * sizeof(float)); /* rows are independent */
        float *gb = backward_grad(m, n, x, t, dout, out, threads);
        assert_memory_equal(ga, gb, count * sizeof(float));
        double num = 0.0, den = 0.0;
        for (size_t i = 0; i < count; i++) {
            num += ((double)ga[i] - g1[i]) * ((double)ga[i] - g1[i]);
            den += (double)g1[i] * g1[i];
        }
        assert_true(sqrt(num / den) < 1e-5);
        free(ga);
        free(gb);
    }
    free(g1);
    free(x);
    free(dout);
    free(out);
    free(out1);
    free(t);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* PyTorch (float64) on the same weights, batch and definition. */
static void torch_case(pi_model_t *m, size_t n, const char *dir)
{
    size_t d = m->dim, count;
    pi_model_param_vector(m, &count);
    float *x = malloc(n * d * sizeof *x), *dout = malloc(n * d * sizeof *dout);
    float *out = malloc(n * d * sizeof *out);
    double *t = malloc(n * sizeof *t);
    batch_of(29, n, d, x, t, dout);
    char case_path[256], res_path[256], args[600];
    snprintf(case_path, sizeof case_path, "%s/case.txt", dir);
    snprintf(res_path, sizeof res_path, "%s/result.txt", dir);
    assert_int_equal(ref_write_case(case_path, m, 1, n, x, t, dout), 0);
    snprintf(args, sizeof args, "grad %s %s", case_path, res_path);
    int rc = ref_run_torch(args);
    if (rc == 77) {
        print_message("torch_mlp.py: /usr/bin/python3 with torch (Debian python3-torch) is not "
                      "available; skipping the PyTorch comparison\n");
        skip();
    }
    assert_int_equal(rc, 0);
    double *ref = malloc((n * d + count) * sizeof *ref);
    assert_int_equal(ref_read_numbers(res_path, ref, n * d + count), n * d + count);
    float *grad = backward_grad(m, n, x, t, dout, out, 1);
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n * d; i++) {
        num = fmax(num, fabs(out[i] - ref[i]));
        den = fmax(den, fabs(ref[i]));
    }
    assert_true(num / den < 1e-5);
    /* Per parameter tensor, norm-wise. */
    const pi_mlp *net = m->impl;
    const double *rg = ref + n * d;
    for (size_t l = 0; l <= net->layers; l++) {
        size_t off = pi_mlp_weight_offset(net, l);
        size_t in = pi_mlp_layer_in(net, l), o = pi_mlp_layer_out(net, l);
        size_t parts[2][2] = {{off, o * in}, {off + o * in, o}};
        for (int p = 0; p < 2; p++) {
            double e = 0.0, r = 0.0;
            for (size_t i = parts[p][0]; i < parts[p][0] + parts[p][1]; i++) {
                e += (grad[i] - rg[i]) * (grad[i] - rg[i]);
                r += rg[i] * rg[i];
            }
            assert_true(sqrt(e) <= 1e-5 * sqrt(r) + 1e-12);
        }
    }
    unlink(case_path);
    unlink(res_path);
    free(ref);
    free(grad);
    free(x);
    free(dout);
    free(out);
    free(t);
}

static void test_gradients_torch(void **state)
{
    (void)state;
    char dir[] = "/tmp/pi_nn_grad_XXXXXX";
    assert_non_null(mkdtemp(dir));
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_COSINE, &sde), PI_OK);
    pi_model_t *m = make_net(sde, 2, 16, 3, 8, 1.3f);
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_LOG_SIGMA, 8), PI_OK);
    torch_case(m, 64, dir);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_INPUT, 0.7), PI_OK);
    torch_case(m, 64, dir);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5), PI_OK);
    assert_int_equal(pi_model_mlp_set_embedding(m, PI_EMBEDDING_TIME, 8), PI_OK);
    torch_case(m, 64, dir);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    rmdir(dir);
}

/* Issue 17: the elementwise passes through every instruction set this CPU has (baseline 4
 * lanes, AVX2 8, AVX-512F 16) give the same bits, on odd widths (tails in scalar code), on
 * values across SiLU's whole range (exp clamps at both ends) and on NaN/Inf. */
static void test_dense_kernels_same_bits_every_isa(void **state)
{
    (void)state;
    enum { ROWS = 7, COLS = 83 };
    static float a0[ROWS * COLS], b[COLS], a[3][ROWS * COLS], pre[3][ROWS * COLS], d[3][ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        a0[i] = (float)((i * 37) % 401 - 200) * 0.55f; /* -110 .. 110 */
    a0[5] = NAN;
    a0[6] = INFINITY;
    a0[7] = -INFINITY;
    for (int j = 0; j < COLS; j++)
        b[j] = (float)(j % 9) * 0.25f - 1.0f;
    __builtin_cpu_init();
    const int have[3] = {1, __builtin_cpu_supports("avx2"), __builtin_cpu_supports("avx512f")};
    int compared = 0;
    for (int isa = 0; isa < 3; isa++) {
        if (!have[isa])
            continue;
        memcpy(a[isa], a0, sizeof a0);
        pi_dense_bias_silu_keep_isa(isa, ROWS, COLS, b, a[isa], pre[isa]);
        for (int i = 0; i < ROWS * COLS; i++)
            d[isa][i] = 1.0f + 0.001f * (float)i;
        pi_dense_silu_backward_isa(isa, ROWS * COLS, pre[isa], d[isa]);
        if (isa > 0) {
            assert_memory_equal(a[isa], a[0], sizeof a0);
            assert_memory_equal(pre[isa], pre[0], sizeof a0);
            assert_memory_equal(d[isa], d[0], sizeof a0);
            compared++;
        }
    }
    /* the default choice is one of them */
    float ad[ROWS * COLS];
    memcpy(ad, a0, sizeof a0);
    pi_dense_bias_silu(ROWS, COLS, b, ad);
    assert_memory_equal(ad, a[0], sizeof a0);
    print_message("%d wide instruction sets agree bit for bit with the baseline\n", compared);
}

/* The Taylor-mode linear layer (mlp_derivatives.c, issue 17): SSE2, AVX2 and AVX-512F give the
 * same bits, for shapes that reach every tail (outputs not a multiple of 4, ld = 4 mod 8),
 * with signed zeros, subnormals and large values in the weights and the tensor; the timing of
 * each path on the derivative-propagation shape (256 × 256, ld = 4 … 68) is printed. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_taylor_linear_same_bits_every_isa(void **state)
{
    (void)state;
    static const size_t outs[] = {1, 4, 7, 13, 256}, ins[] = {1, 3, 17, 256}, lds[] = {4, 8, 12, 20, 36};
    int compared = 0;
    for (size_t a = 0; a < sizeof outs / sizeof *outs; a++)
        for (size_t bi = 0; bi < sizeof ins / sizeof *ins; bi++)
            for (size_t c = 0; c < sizeof lds / sizeof *lds; c++) {
                size_t out = outs[a], in = ins[bi], ld = lds[c];
                float *w = malloc(out * in * sizeof *w), *b = malloc(out * sizeof *b);
                double *src = malloc(in * ld * sizeof *src), *dst[3];
                for (size_t i = 0; i < out * in; i++)
                    w[i] = i % 11 == 3 ? -0.0f : i % 13 == 5 ? 1e-40f : (float)sin(0.7 * (double)i) * 3.0f;
                for (size_t i = 0; i < out; i++)
                    b[i] = (float)cos((double)i);
                for (size_t i = 0; i < in * ld; i++)
                    src[i] = i % 7 == 2 ? -0.0 : i % 17 == 1 ? 1e300 * 1e-10 : sin(1.3 * (double)i) * exp((double)(i % 9) - 4.0);
                for (int isa = 0; isa < 3; isa++) {
                    dst[isa] = malloc(out * ld * sizeof *dst[isa]);
                    if (!pi_mlp_taylor_isa_available(isa))
                        continue;
                    pi_mlp_linear_taylor_isa(isa, w, b, out, in, ld, src, dst[isa]);
                    if (isa > 0) {
                        assert_memory_equal(dst[isa], dst[0], out * ld * sizeof *dst[0]);
                        compared++;
                    }
                }
                /* and the values are right: W src + b on column 0, in double */
                for (size_t o = 0; o < out; o++)
                    for (size_t k = 0; k < ld; k++) {
                        double ref = k == 0 ? 0.0 : 0.0;
                        for (size_t i = 0; i < in; i++)
                            ref += (double)w[o * in + i] * src[i * ld + k];
                        if (k == 0)
                            ref += b[o];
                        assert_true(fabs(dst[0][o * ld + k] - ref) <= 1e-12 * fmax(1.0, fabs(ref)));
                    }
                for (int isa = 0; isa < 3; isa++)
                    free(dst[isa]);
                free(w);
                free(b);
                free(src);
            }
    print_message("%d shape/instruction-set pairs agree bit for bit with the baseline\n", compared);
    enum { O = 256, I = 256, L = 68 };
    float *w = malloc(O * I * sizeof *w), *b = calloc(O, sizeof *b);
    double *src = malloc(I * L * sizeof *src), *dst = malloc(O * L * sizeof *dst);
    for (size_t i = 0; i < O * I; i++)
        w[i] = (float)sin((double)i);
    for (size_t i = 0; i < I * L; i++)
        src[i] = cos((double)i);
    static const size_t ldt[] = {4, 12, 20, 68};
    for (size_t li = 0; li < sizeof ldt / sizeof *ldt; li++)
        for (int isa = 0; isa < 3; isa++) {
            if (!pi_mlp_taylor_isa_available(isa))
                continue;
            double best = INFINITY;
            for (int r = 0; r < 7; r++) {
                double t0 = now_s();
                for (int k = 0; k < 20; k++)
                    pi_mlp_linear_taylor_isa(isa, w, b, O, I, ldt[li], src, dst);
                best = fmin(best, (now_s() - t0) / 20);
            }
            print_message("Taylor linear 256x256, ld %zu, isa %d: %.1f us\n", ldt[li], isa, best * 1e6);
        }
    free(w);
    free(b);
    free(src);
    free(dst);
}

static void test_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = make_net(sde, 2, 4, 1, 1, 1.0f);
    float x[2] = {0, 0}, out[2], grad[4 * 19 + 2 * 5];
    double t[1] = {0.5};
    size_t bytes = pi_model_train_workspace_bytes(m, 1);
    assert_true(bytes > 0);
    assert_int_equal(pi_model_train_workspace_bytes(m, 0), 0);
    assert_int_equal(pi_model_train_workspace_bytes(NULL, 4), 0);
    void *ws = malloc(bytes);
    assert_int_equal(pi_model_forward_train(m, 0, x, t, out, ws, 1, NULL), PI_EINVAL);
    assert_int_equal(pi_model_forward_train(m, 1, NULL, t, out, ws, 1, NULL), PI_EINVAL);
    assert_int_equal(pi_model_forward_train(NULL, 1, x, t, out, ws, 1, NULL), PI_EINVAL);
    t[0] = 0.0; /* σ = 0: no noise level to embed */
    assert_int_equal(pi_model_forward_train(m, 1, x, t, out, ws, 1, NULL), PI_EINVAL);
    t[0] = 0.5;
    assert_int_equal(pi_model_forward_train(m, 1, x, t, out, ws, 1, NULL), PI_OK);
    assert_int_equal(pi_model_backward(m, 1, NULL, grad, ws, 1, NULL), PI_EINVAL);
    assert_int_equal(pi_model_backward(m, 1, out, NULL, ws, 1, NULL), PI_EINVAL);
    assert_int_equal(pi_model_backward(m, 1, out, grad, ws, 1, NULL), PI_OK);
    free(ws);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_fd),
        cmocka_unit_test(test_gradients_reproducible),
        cmocka_unit_test(test_gradients_torch),
        cmocka_unit_test(test_dense_kernels_same_bits_every_isa),
        cmocka_unit_test(test_taylor_linear_same_bits_every_isa),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
