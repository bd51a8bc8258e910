/* Training (lib/train): the optimiser pieces against hand computations, the DSM terms of
 * every view, unbiased importance sampling, the whole step (loss decreases), bitwise
 * reproducibility, checkpoint resume (bit-identical), atomic saves, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pathint.h"
#include "core/codec.h"
#include "nn/mlp_impl.h"
#include "train/train_impl.h"

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/pi_test_trainer_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* A small 2-D MLP on VP linear, initialised from seed. */
static pi_model_t *small_mlp(size_t width, size_t layers, uint64_t seed)
{
    pi_sde_t *sde = NULL;
    pi_model_t *m = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    assert_int_equal(pi_model_create_mlp(sde, 2, width, layers, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, seed), PI_OK);
    pi_sde_destroy(sde);
    return m;
}

static float *params_of(const pi_model_t *m, size_t *count)
{
    assert_int_equal(pi_model_get_num_params(m, count), PI_OK);
    float *p = malloc(*count * sizeof *p);
    assert_non_null(p);
    assert_int_equal(pi_model_get_params(m, *count, p, NULL), PI_OK);
    return p;
}

/* ---- optimiser pieces ------------------------------------------------------------------ */

/* AdamW on f(p) = ½ Σ c_i (p_i − a_i)², against a double-precision reference of the update
 * rule (and, for step 1, the closed form p − lr·sign(g)). */
static void test_adam_against_hand_computation(void **state)
{
    (void)state;
    enum { N = 5, STEPS = 20 };
    const double c[N] = {1.0, 10.0, 0.1, 3.0, 100.0}, a[N] = {1.0, -2.0, 0.5, 0.0, 0.01};
    const double lr = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    float p[N], g[N], m[N] = {0}, v[N] = {0};
    double rp[N], rm[N] = {0}, rv[N] = {0};
    for (int i = 0; i < N; i++)
        rp[i] = p[i] = (float)(0.3 * i - 0.7);
    for (int k = 1; k <= STEPS; k++) {
        float before[N];
        for (int i = 0; i < N; i++) {
            g[i] = (float)(c[i] * (p[i] - a[i]));
            before[i] = p[i];
        }
        pi_adam_update(p, g, m, v, N, lr, b1, b2, eps, wd, (uint64_t)k);
        for (int i = 0; i < N; i++) {
            double gi = g[i]; /* the same gradient, in double */
            rp[i] *= 1.0 - lr * wd;
            rm[i] = b1 * rm[i] + (1 - b1) * gi;
            rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
            double mhat = rm[i] / (1 - pow(b1, k)), vhat = rv[i] / (1 - pow(b2, k));
            rp[i] -= lr * mhat / (sqrt(vhat) + eps);
            if (k == 1) {
                double closed = before[i] * (1 - lr * wd) - lr * (gi > 0 ? 1 : -1);
                assert_true(fabs(p[i] - closed) < 1e-6);
            }
            assert_true(fabs(p[i] - rp[i]) < 1e-5 * (1 + fabs(rp[i])));
            rp[i] = p[i]; /* follow the float trajectory */
        }
    }
    /* It minimises: every coordinate moved towards a_i. */
    for (int i = 0; i < N; i++)
        assert_true(fabs(p[i] - a[i]) < fabs(0.3 * i - 0.7 - a[i]) + 1e-6);
}

/* Issue 17: AdamW 16 lanes wide (AVX-512F) gives the same bits as the scalar loop, on a
 * length with a tail, with weight decay, over several steps. */
static void test_adam_same_bits_every_isa(void **state)
{
    (void)state;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        print_message("no AVX-512F here: nothing to compare\n");
        return;
    }
    enum { N = 1000 + 7 };
    static float p[2][N], m[2][N], v[2][N], g[N];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N; i++) {
            p[k][i] = (float)((i * 31) % 97) * 0.01f - 0.5f;
            m[k][i] = v[k][i] = 0.0f;
        }
    for (uint64_t step = 1; step <= 5; step++) {
        for (int i = 0; i < N; i++)
            g[i] = (float)(((int)step * 7 + i * 13) % 101 - 50) * 1e-3f;
        pi_adam_update_isa(0, p[0], g, m[0], v[0], N, 1e-3, 0.9, 0.999, 1e-8, 0.01, step);
        pi_adam_update_isa(2, p[1], g, m[1], v[1], N, 1e-3, 0.9, 0.999, 1e-8, 0.01, step);
        assert_memory_equal(p[0], p[1], sizeof p[0]);
        assert_memory_equal(m[0], m[1], sizeof m[0]);
        assert_memory_equal(v[0], v[1], sizeof v[0]);
    }
}

static void test_lr_schedule_values(void **state)
{
    (void)state;
    /* warm-up 10: (k+1)/10 · lr */
    assert_true(fabs(pi_lr_at(1e-3, PI_LR_SCHEDULE_CONSTANT, 10, 0, 0) - 1e-4) < 1e-15);
    assert_true(fabs(pi_lr_at(1e-3, PI_LR_SCHEDULE_CONSTANT, 10, 0, 4) - 5e-4) < 1e-15);
    assert_true(pi_lr_at(1e-3, PI_LR_SCHEDULE_CONSTANT, 10, 0, 9) == 1e-3);
    assert_true(pi_lr_at(1e-3, PI_LR_SCHEDULE_CONSTANT, 10, 0, 1000000) == 1e-3);
    assert_true(pi_lr_at(1e-3, PI_LR_SCHEDULE_CONSTANT, 0, 0, 0) == 1e-3);
    /* cosine over [10, 110): lr at the start, lr/2 half way, 0 at the end and after */
    assert_true(fabs(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 10) - 2.0) < 1e-15);
    assert_true(fabs(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 60) - 1.0) < 1e-12);
    assert_true(fabs(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 35) - (1 + cos(M_PI / 4))) < 1e-12);
    assert_true(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 110) == 0.0);
    assert_true(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 500) == 0.0);
    assert_true(fabs(pi_lr_at(2.0, PI_LR_SCHEDULE_COSINE, 10, 110, 0) - 0.2) < 1e-15);
}

static void test_grad_clip_and_ema(void **state)
{
    (void)state;
    float g[4] = {3, 4, 0, 0};
    double norm = pi_grad_norm(g, 4);
    assert_true(fabs(norm - 5.0) < 1e-12);
    assert_true(pi_grad_clip(g, 4, norm, 10.0) == 1.0); /* below the limit: untouched */
    assert_true(g[0] == 3.0f && g[1] == 4.0f);
    assert_true(pi_grad_clip(g, 4, norm, 0.0) == 1.0); /* 0 = off */
    double coef = pi_grad_clip(g, 4, norm, 1.0);
    assert_true(fabs(coef - 1.0 / (5.0 + 1e-6)) < 1e-12);
    assert_true(fabs(pi_grad_norm(g, 4) - 1.0) < 1e-6);
    float inf_g[2] = {INFINITY, 1};
    assert_false(isfinite(pi_grad_norm(inf_g, 2)));

    float ema[3] = {1, 2, 3};
    const float p[3] = {11, 2, -7};
    pi_ema_update(ema, p, 3, 0.9);
    assert_true(fabs(ema[0] - 2.0f) < 1e-6 && ema[1] == 2.0f && fabs(ema[2] - 2.0f) < 1e-6);
    pi_ema_update(ema, p, 3, 0.0); /* decay 0: the EMA is the weights */
    assert_memory_equal(ema, p, sizeof p);
}

/* ---- loss terms ------------------------------------------------------------------------ */

/* For every native view: w ‖out − target‖² == ratio λ ‖s + z/σ‖², where out is the view of an
 * arbitrary score s (converted by the library's own view module). */
static void test_dsm_terms_every_view(void **state)
{
    (void)state;
    pi_model_t *m = small_mlp(8, 1, 1);
    const pi_view views[] = {PI_VIEW_SCORE, PI_VIEW_EPS, PI_VIEW_DENOISED, PI_VIEW_V};
    const pi_weighting weights[] = {PI_WEIGHTING_LIKELIHOOD, PI_WEIGHTING_SIGMA2, PI_WEIGHTING_EDM,
                                    PI_WEIGHTING_FLOW};
    const float x0[2] = {0.7f, -1.2f}, z[2] = {0.3f, 1.1f}, s[2] = {-2.0f, 0.5f};
    const double times[] = {0.01, 0.3, 0.9};
    for (size_t w = 0; w < 4; w++)
        for (size_t k = 0; k < 3; k++) {
            pi_dsm_setup setup;
            assert_int_equal(pi_dsm_setup_init(&setup, m, weights[w], PI_TIME_SAMPLING_UNIFORM, -1.2, 1.2),
                             PI_OK);
            double t = times[k], f, g, alpha, sigma;
            assert_int_equal(pi_sde_coefficients(&m->sde, t, &f, &g), PI_OK);
            assert_int_equal(pi_sde_marginal(&m->sde, t, &alpha, &sigma), PI_OK);
            double lambda = weights[w] == PI_WEIGHTING_LIKELIHOOD ? g * g
                            : weights[w] == PI_WEIGHTING_SIGMA2
                                ? sigma * sigma
                            : weights[w] == PI_WEIGHTING_FLOW
                                ? 0.25 * g * g * g * g
                                : sigma * sigma * (sigma * sigma / (alpha * alpha) + 0.25) / 0.25;
            double expect = 0.0;
            for (int j = 0; j < 2; j++) {
                double r = (double)s[j] + (double)z[j] / sigma;
                expect += 0.7 * lambda * r * r;
            }
            for (size_t v = 0; v < 4; v++) {
                m->native_view = views[v]; /* only the loss algebra reads it here */
                pi_dsm_row row;
                assert_int_equal(pi_dsm_row_at(&setup, t, 0.7, &row), PI_OK);
                float xt[2], target[2], out[2];
                pi_dsm_target(views[v], 2, x0, z, row.alpha, row.sigma, xt, target);
                for (int j = 0; j < 2; j++)
                    assert_true(fabs(xt[j] - (alpha * x0[j] + sigma * z[j])) < 1e-6);
                pi_view_convert(PI_VIEW_SCORE, views[v], 1, 2, xt, &alpha, &sigma, s, out);
                double got = pi_dsm_loss(1, 2, out, target, &row.weight, NULL);
                if (fabs(got - expect) > 2e-4 * expect)
                    fail_msg("view %zu weighting %zu t %g: %g vs %g", v, w, t, got, expect);
            }
            m->native_view = PI_VIEW_EPS;
        }
    /* The gradient of the batch loss is 2 w (out − target) / n. */
    const float out[4] = {1, 2, 3, 4}, target[4] = {0, 0, 1, 1};
    const double wt[2] = {0.5, 2.0};
    float dout[4];
    double loss = pi_dsm_loss(2, 2, out, target, wt, dout);
    assert_true(fabs(loss - (0.5 * 5 + 2.0 * 13) / 2) < 1e-12);
    assert_true(dout[0] == 0.5f && dout[1] == 1.0f && dout[2] == 4.0f && dout[3] == 6.0f);
    pi_model_destroy(m);
}

/* Importance sampling: ratio · g²/σ² is the constant Z/(T − t_min) and E[ratio] = 1, so the
 * weighted estimate is unbiased for the uniform-t loss. Log-normal: log σ̃(t) = P_mean + P_std n. */
static void test_time_sampling(void **state)
{
    (void)state;
    pi_model_t *m = small_mlp(8, 1, 1);
    pi_dsm_setup setup;
    assert_int_equal(
        pi_dsm_setup_init(&setup, m, PI_WEIGHTING_LIKELIHOOD, PI_TIME_SAMPLING_IMPORTANCE, -1.2, 1.2), PI_OK);
    const double z_total = 2.0 * (setup.log_st_max - setup.log_st_min);
    const size_t n = quick() ? 2000 : 100000;
    double sum = 0, sum2 = 0, tmin = 1, tmax = 0;
    for (size_t i = 0; i < n; i++) {
        double u = (i + 0.5) / n, t, ratio, f, g, alpha, sigma;
        assert_int_equal(pi_dsm_sample_time(&setup, u, 0.0, &t, &ratio), PI_OK);
        assert_int_equal(pi_sde_coefficients(&m->sde, t, &f, &g), PI_OK);
        assert_int_equal(pi_sde_marginal(&m->sde, t, &alpha, &sigma), PI_OK);
        double c = ratio * g * g / (sigma * sigma) * (setup.t_max - setup.t_min);
        assert_true(fabs(c / z_total - 1) < 1e-9);
        sum += ratio;
        sum2 += ratio * ratio;
        tmin = t < tmin ? t : tmin;
        tmax = t > tmax ? t : tmax;
    }
    /* Stratified u: the mean ratio is a quadrature of ∫ q · (1/(T−t_min))/q = 1. */
    assert_true(fabs(sum / n - 1.0) < 1e-2);
    assert_true(tmin >= setup.t_min && tmax <= setup.t_max);
    assert_true(tmin < 2 * setup.t_min && tmax > 0.9 * setup.t_max);

    assert_int_equal(
        pi_dsm_setup_init(&setup, m, PI_WEIGHTING_EDM, PI_TIME_SAMPLING_LOGNORMAL, -1.2, 1.2), PI_OK);
    const double normals[] = {-1.0, 0.0, 0.5, 1.3};
    for (int i = 0; i < 4; i++) {
        double t, ratio, st, lambda;
        assert_int_equal(pi_dsm_sample_time(&setup, 0.5, normals[i], &t, &ratio), PI_OK);
        assert_int_equal(pi_sde_sigma_tilde(&m->sde, t, &st, &lambda), PI_OK);
        assert_true(fabs(log(st) - (-1.2 + 1.2 * normals[i])) < 1e-9);
        assert_true(ratio == 1.0);
    }
    double t, ratio; /* far outside the range: clamped to the ends */
    assert_int_equal(pi_dsm_sample_time(&setup, 0.5, -50.0, &t, &ratio), PI_OK);
    assert_true(t == setup.t_min);
    assert_int_equal(pi_dsm_sample_time(&setup, 0.5, 50.0, &t, &ratio), PI_OK);
    assert_true(t == setup.t_max);
    pi_model_destroy(m);
}

/* ---- the whole step -------------------------------------------------------------------- */

static void test_loss_decreases(void **state)
{
    (void)state;
    const size_t n = 2000;
    float *data = malloc(n * 2 * sizeof *data);
    assert_non_null(data);
    assert_int_equal(pi_data_generate(PI_DATASET_GAUSSIANS_25, n, 11, data), PI_OK);
    const pi_weighting weightings[] = {PI_WEIGHTING_SIGMA2, PI_WEIGHTING_LIKELIHOOD, PI_WEIGHTING_EDM};
    const pi_time_sampling samplings[] = {PI_TIME_SAMPLING_UNIFORM, PI_TIME_SAMPLING_IMPORTANCE, PI_TIME_SAMPLING_LOGNORMAL};
    for (int c = 0; c < 3; c++) {
        pi_model_t *m = small_mlp(64, 2, 5);
        pi_trainer_t *tr = NULL;
        assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
        assert_int_equal(pi_trainer_set_weighting(tr, weightings[c]), PI_OK);
        assert_int_equal(pi_trainer_set_time_sampling(tr, samplings[c]), PI_OK);
        assert_int_equal(pi_trainer_set_batch_size(tr, 128), PI_OK);
        assert_int_equal(pi_trainer_set_learning_rate(tr, 3e-3), PI_OK);
        assert_int_equal(pi_trainer_set_ema(tr, 0.99), PI_OK);
        double before, after;
        assert_int_equal(pi_trainer_loss(tr, 8, 500, data, &before), PI_OK);
        assert_int_equal(pi_trainer_fit(tr, n, data, quick() ? 150 : 1200), PI_OK);
        assert_int_equal(pi_trainer_loss(tr, 8, 500, data, &after), PI_OK);
        /* The same (t, z) draws before and after: a paired comparison. */
        if (!(after < 0.8 * before))
            fail_msg("case %d: loss %g -> %g", c, before, after);
        uint64_t step;
        assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
        assert_int_equal(step, quick() ? 150 : 1200);
        pi_trainer_destroy(tr);
        pi_model_destroy(m);
    }
    free(data);
}

/* Train K steps on a fresh model and return the final model weights (EMA) and raw weights. */
static void train_run(uint64_t seed, int threads, uint64_t steps, float **ema, float **raw,
                      size_t *count)
{
    float data[2 * 64];
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, 64, 2, data), PI_OK);
    pi_model_t *m = small_mlp(32, 2, 9);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    assert_int_equal(pi_trainer_set_seed(tr, seed), PI_OK);
    assert_int_equal(pi_trainer_set_threads(tr, threads), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(tr, 100), PI_OK); /* > n: with replacement */
    assert_int_equal(pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 64, data, steps), PI_OK);
    *ema = params_of(m, count);
    *raw = malloc(*count * sizeof **raw);
    assert_non_null(*raw);
    memcpy(*raw, tr->raw, *count * sizeof **raw);
    pi_trainer_destroy(tr);
    pi_model_destroy(m);
}

static void test_reproducible(void **state)
{
    (void)state;
    const uint64_t steps = quick() ? 10 : 60;
    float *e1, *r1, *e2, *r2, *e3, *r3;
    size_t count;
    for (int threads = 1; threads <= 2; threads++) {
        train_run(42, threads, steps, &e1, &r1, &count);
        train_run(42, threads, steps, &e2, &r2, &count);
        train_run(43, threads, steps, &e3, &r3, &count);
        assert_memory_equal(e1, e2, count * sizeof(float));
        assert_memory_equal(r1, r2, count * sizeof(float));
        assert_memory_not_equal(r1, r3, count * sizeof(float));
        /* The EMA lags the raw weights. */
        assert_memory_not_equal(e1, r1, count * sizeof(float));
        free(e1), free(r1), free(e2), free(r2), free(e3), free(r3);
    }
}

static int count_calls(uint64_t step, double loss, double ema_loss, double rate, void *user)
{
    int *calls = user;
    assert_int_equal(step, (uint64_t)(*calls + 1));
    assert_true(isfinite(loss) && isfinite(ema_loss) && rate >= 0.0);
    (*calls)++;
    return *calls == 5; /* cancel after the fifth step */
}

static void test_callback_cancel_and_ema_in_model(void **state)
{
    (void)state;
    float data[2 * 50];
    assert_int_equal(pi_data_generate(PI_DATASET_RING_8, 50, 1, data), PI_OK);
    pi_model_t *m = small_mlp(16, 1, 3);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(tr, 32), PI_OK);
    int calls = 0;
    assert_int_equal(pi_trainer_set_callback(tr, count_calls, &calls), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 50, data, 100), PI_ECANCELED);
    assert_int_equal(calls, 5);
    uint64_t step;
    assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
    assert_int_equal(step, 5);
    /* After fit the model holds the EMA weights; the raw weights wait in the trainer. */
    size_t count;
    float *held = params_of(m, &count);
    assert_memory_equal(held, tr->ema, count * sizeof(float));
    assert_memory_not_equal(held, tr->raw, count * sizeof(float));
    /* A step puts the raw weights back first, then updates them. */
    float *raw = malloc(count * sizeof *raw);
    memcpy(raw, tr->raw, count * sizeof *raw);
    assert_int_equal(pi_trainer_set_callback(tr, NULL, NULL), PI_OK);
    double loss = -1;
    assert_int_equal(pi_trainer_step(tr, 50, data, &loss), PI_OK);
    assert_true(loss > 0 && isfinite(loss));
    float *now = params_of(m, &count);
    double moved = 0, from_ema = 0;
    for (size_t i = 0; i < count; i++) {
        moved = fmax(moved, fabs(now[i] - raw[i]));
        from_ema = fmax(from_ema, fabs(now[i] - held[i]));
    }
    assert_true(moved > 0 && moved < 2.5e-3); /* one Adam step of lr 1e-3 from the raw weights */
    assert_true(from_ema > moved);
    free(held), free(raw), free(now);
    pi_trainer_destroy(tr);
    pi_model_destroy(m);
}

typedef struct cancel_probe {
    pi_trainer_t *tr;
    atomic_int steps_seen; /* set by the callback, read by the canceling thread */
} cancel_probe;

static int note_step(uint64_t step, double loss, double ema_loss, double rate, void *user_data)
{
    (void)loss, (void)ema_loss, (void)rate;
    atomic_store(&((cancel_probe *)user_data)->steps_seen, (int)step);
    return 0;
}

static void *cancel_after_three_steps(void *p)
{
    cancel_probe *c = p;
    while (atomic_load(&c->steps_seen) < 3)
        usleep(200);
    pi_trainer_cancel(c->tr);
    return NULL;
}

/* pi_trainer_cancel from another thread stops a long fit after its current step with
 * PI_ECANCELED and the EMA weights in the model, as the callback does; it is not sticky, and
 * a cancel while idle does not stop the next fit. */
static void test_cancel_from_thread(void **state)
{
    (void)state;
    float data[2 * 50];
    assert_int_equal(pi_data_generate(PI_DATASET_RING_8, 50, 1, data), PI_OK);
    pi_model_t *m = small_mlp(16, 1, 3);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(tr, 32), PI_OK);
    pi_model_t *back = NULL;
    assert_int_equal(pi_trainer_get_model(tr, &back), PI_OK);
    assert_ptr_equal(back, m);
    cancel_probe c = {.tr = tr};
    atomic_init(&c.steps_seen, 0);
    assert_int_equal(pi_trainer_set_callback(tr, note_step, &c), PI_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_after_three_steps, &c), 0);
    pi_status st = pi_trainer_fit(tr, 50, data, 1000000);
    pthread_join(th, NULL);
    assert_int_equal(st, PI_ECANCELED);
    assert_non_null(strstr(pi_last_error(), "pi_trainer_cancel"));
    uint64_t step;
    assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
    assert_true(step >= 3 && step < 1000000);
    size_t count;
    float *held = params_of(m, &count);
    assert_memory_equal(held, tr->ema, count * sizeof(float));
    free(held);
    /* Not sticky; an idle cancel is ignored. */
    assert_int_equal(pi_trainer_cancel(tr), PI_OK);
    assert_int_equal(pi_trainer_set_callback(tr, NULL, NULL), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 50, data, 3), PI_OK);
    assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
    assert_int_equal(pi_trainer_cancel(NULL), PI_EINVAL);
    pi_trainer_destroy(tr);
    pi_model_destroy(m);
}

/* ---- checkpoints ----------------------------------------------------------------------- */

static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    float data[2 * 80];
    assert_int_equal(pi_data_generate(PI_DATASET_SWISS_ROLL, 80, 4, data), PI_OK);
    const uint64_t half = quick() ? 5 : 40;
    char path[128];
    tmp_path(path, sizeof path, "run.ckpt");

    /* Uninterrupted: 2 × half steps, in two fit calls. */
    pi_model_t *m1 = small_mlp(32, 2, 1);
    /* Input scaling only (mode 2): the checkpoint must carry the mode and σ_data. */
    assert_int_equal(pi_model_mlp_set_preconditioning(m1, PI_PRECOND_INPUT, 0.8), PI_OK);
    pi_trainer_t *t1 = NULL;
    assert_int_equal(pi_trainer_create(m1, &t1), PI_OK);
    assert_int_equal(pi_trainer_set_seed(t1, 77), PI_OK);
    assert_int_equal(pi_trainer_set_lr_schedule(t1, PI_LR_SCHEDULE_COSINE, 5, 2 * half), PI_OK);
    assert_int_equal(pi_trainer_set_grad_clip(t1, 1.0), PI_OK);
    assert_int_equal(pi_trainer_set_weight_decay(t1, 1e-4), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(t1, 64), PI_OK);
    assert_int_equal(pi_trainer_set_time_sampling(t1, PI_TIME_SAMPLING_IMPORTANCE), PI_OK);
    assert_int_equal(pi_trainer_fit(t1, 80, data, half), PI_OK);
    assert_int_equal(pi_trainer_save(t1, path), PI_OK);
    assert_int_equal(pi_trainer_fit(t1, 80, data, half), PI_OK);

    /* Interrupted: resume from the checkpoint, then the second half. */
    pi_model_t *m2 = NULL;
    pi_trainer_t *t2 = NULL;
    assert_int_equal(pi_trainer_resume(path, &m2, &t2), PI_OK);
    uint64_t step;
    assert_int_equal(pi_trainer_get_step(t2, &step), PI_OK);
    assert_int_equal(step, half);
    size_t count;
    float *resumed = params_of(m2, &count);
    assert_memory_equal(resumed, t2->ema, count * sizeof(float)); /* the model holds the EMA */
    assert_int_equal(pi_trainer_fit(t2, 80, data, half), PI_OK);

    float *a = params_of(m1, &count), *b = params_of(m2, &count);
    assert_memory_equal(a, b, count * sizeof(float));
    assert_memory_equal(t1->raw, t2->raw, count * sizeof(float));
    assert_memory_equal(t1->adam_v, t2->adam_v, count * sizeof(float));
    assert_true(t1->loss_ema == t2->loss_ema);
    /* The same architecture and SDE came back. */
    pi_model_kind kind;
    assert_int_equal(pi_model_get_kind(m2, &kind), PI_OK);
    assert_int_equal(kind, PI_MODEL_KIND_MLP);
    assert_true(pi_sde_equal(&m1->sde, &m2->sde));
    assert_int_equal(m1->native_view, m2->native_view);
    assert_int_equal(((const pi_mlp *)m2->impl)->precond, PI_PRECOND_INPUT);
    assert_true(((const pi_mlp *)m2->impl)->sigma_data == 0.8);
    free(resumed), free(a), free(b);
    pi_trainer_destroy(t1);
    pi_trainer_destroy(t2);
    pi_model_destroy(m1);
    pi_model_destroy(m2);
}

static void test_resume_custom_sde_parameters(void **state)
{
    (void)state;
    /* Hirono et al.'s SIMPLE SDE (β 0 → 20, t ∈ [0.01, 1]) survives the checkpoint. */
    pi_sde_t *sde = NULL;
    pi_model_t *m = NULL, *m2 = NULL;
    pi_trainer_t *tr = NULL, *tr2 = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MIN, 0.0), PI_OK);
    assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01), PI_OK);
    assert_int_equal(pi_model_create_mlp(sde, 3, 8, 1, &m), PI_OK);
    assert_int_equal(pi_model_mlp_set_output_view(m, PI_VIEW_SCORE), PI_OK);
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    char path[128];
    tmp_path(path, sizeof path, "simple.ckpt");
    assert_int_equal(pi_trainer_save(tr, path), PI_OK); /* before any step */
    assert_int_equal(pi_trainer_resume(path, &m2, &tr2), PI_OK);
    assert_true(pi_sde_equal(&m->sde, &m2->sde));
    assert_int_equal(m2->native_view, PI_VIEW_SCORE);
    assert_int_equal(m2->dim, 3);
    size_t count;
    float *a = params_of(m, &count), *b = params_of(m2, &count);
    assert_memory_equal(a, b, count * sizeof(float));
    free(a), free(b);
    pi_trainer_destroy(tr);
    pi_trainer_destroy(tr2);
    pi_model_destroy(m);
    pi_model_destroy(m2);
    pi_sde_destroy(sde);
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *size = (size_t)len;
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, size, fp), size);
    fclose(fp);
}

static void test_interrupted_save_and_corrupt_checkpoints(void **state)
{
    (void)state;
    float data[2 * 20];
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, 20, 1, data), PI_OK);
    pi_model_t *m = small_mlp(16, 2, 1);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(tr, 16), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 20, data, 3), PI_OK);
    char path[128], bad[128];
    tmp_path(path, sizeof path, "keep.ckpt");
    tmp_path(bad, sizeof bad, "bad.ckpt");
    assert_int_equal(pi_trainer_save(tr, path), PI_OK);
    size_t size;
    unsigned char *orig = slurp(path, &size);

    /* A save that fails half way (file size limit: the write hits EFBIG, as on a full disk)
     * leaves the previous checkpoint intact and no temporary file behind. */
    assert_int_equal(pi_trainer_fit(tr, 20, data, 2), PI_OK);
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    pi_status st = pi_trainer_save(tr, path);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, PI_EIO);
    size_t size2;
    unsigned char *after = slurp(path, &size2);
    assert_int_equal(size2, size);
    assert_memory_equal(after, orig, size);
    free(after);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    /* A directory that does not exist. */
    assert_int_equal(pi_trainer_save(tr, "/nonexistent-pi-dir/x.ckpt"), PI_EIO);

    /* Corruptions: a flipped byte anywhere (checksum), truncation, another magic. */
    pi_model_t *m2 = (pi_model_t *)0x1;
    pi_trainer_t *t2 = (pi_trainer_t *)0x1;
    const size_t flips[] = {9, 30, 100, size / 2, size - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        orig[flips[i]] ^= 0x10;
        spit(bad, orig, size);
        orig[flips[i]] ^= 0x10;
        assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    }
    spit(bad, orig, size - 8);
    assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    spit(bad, orig, 20);
    assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    assert_true(m2 == (pi_model_t *)0x1 && t2 == (pi_trainer_t *)0x1);
    assert_int_equal(pi_trainer_resume("/nonexistent-pi-dir/x.ckpt", &m2, &t2), PI_EIO);
    /* The intact file still resumes. */
    assert_int_equal(pi_trainer_resume(path, &m2, &t2), PI_OK);
    pi_trainer_destroy(t2);
    pi_model_destroy(m2);
    free(orig);
    pi_trainer_destroy(tr);
    pi_model_destroy(m);
}

/* A conditional trainer with condition dropout 0.3 (not the default 0.1): the checkpoint
 * (version 3) stores the dropout, so resume-and-continue is bit-identical to the uninterrupted
 * run. A version 2 checkpoint (pathint 1.0/1.1: the same file without the dropout's 8 bytes
 * at the end of the options) still resumes, with the default dropout. */
static void cond_trainer(pi_model_t **m, pi_trainer_t **tr)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    assert_int_equal(pi_model_create_mlp_cond(sde, 2, 16, 2, 3, 0, m), PI_OK);
    pi_sde_destroy(sde);
    assert_int_equal(pi_model_mlp_init(*m, 5), PI_OK);
    assert_int_equal(pi_trainer_create(*m, tr), PI_OK);
    assert_int_equal(pi_trainer_set_seed(*tr, 31), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(*tr, 32), PI_OK);
}

static void test_checkpoint_keeps_the_condition_dropout(void **state)
{
    (void)state;
    enum { N = 60 };
    float data[2 * N];
    int32_t labels[N];
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, N, 8, data), PI_OK);
    for (int i = 0; i < N; i++)
        labels[i] = i % 3;
    const uint64_t half = quick() ? 4 : 20;
    char path[128], old[128];
    tmp_path(path, sizeof path, "cond.ckpt");
    tmp_path(old, sizeof old, "cond-v2.ckpt");

    pi_model_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    pi_trainer_t *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    cond_trainer(&m1, &t1);
    assert_int_equal(pi_trainer_set_cond_dropout(t1, 0.3), PI_OK);
    assert_int_equal(pi_trainer_fit_cond(t1, N, data, labels, 0, NULL, half), PI_OK);
    assert_int_equal(pi_trainer_save(t1, path), PI_OK);
    assert_int_equal(pi_trainer_fit_cond(t1, N, data, labels, 0, NULL, half), PI_OK);

    /* Resumed: the dropout came back, and the second half is bit for bit the same. */
    assert_int_equal(pi_trainer_resume(path, &m2, &t2), PI_OK);
    double p = 0.0;
    assert_int_equal(pi_trainer_get_cond_dropout(t2, &p), PI_OK);
    assert_true(p == 0.3);
    assert_int_equal(pi_trainer_fit_cond(t2, N, data, labels, 0, NULL, half), PI_OK);
    size_t count;
    float *a = params_of(m1, &count), *b = params_of(m2, &count);
    assert_memory_equal(a, b, count * sizeof(float));
    assert_memory_equal(t1->raw, t2->raw, count * sizeof(float));
    assert_memory_equal(t1->adam_v, t2->adam_v, count * sizeof(float));
    assert_true(t1->loss_ema == t2->loss_ema);

    /* The same run from the checkpoint with the default dropout goes elsewhere: the stored
     * value is what made the runs agree. */
    assert_int_equal(pi_trainer_resume(path, &m3, &t3), PI_OK);
    assert_int_equal(pi_trainer_set_cond_dropout(t3, 0.1), PI_OK);
    assert_int_equal(pi_trainer_fit_cond(t3, N, data, labels, 0, NULL, half), PI_OK);
    assert_memory_not_equal(t1->raw, t3->raw, count * sizeof(float));

    /* Version 2: drop the dropout (after the model and 128 bytes of options), fix the header
     * and the checksum. */
    size_t size;
    unsigned char *c = slurp(path, &size);
    assert_int_equal(pi_get_u32(c + 8), 3);
    const size_t model_size = (size_t)pi_get_u64(c + 24), at = 32 + model_size + 128;
    assert_true(pi_get_f64(c + at) == 0.3);
    memmove(c + at, c + at + 8, size - at - 8);
    size -= 8;
    pi_put_u32(c + 8, 2);
    pi_put_u64(c + 16, size - 32);
    pi_put_u64(c + size - 8, pi_checksum64(c, size - 8, 0));
    spit(old, c, size);
    assert_int_equal(pi_trainer_resume(old, &m4, &t4), PI_OK);
    assert_int_equal(pi_trainer_get_cond_dropout(t4, &p), PI_OK);
    assert_true(p == 0.1); /* version 2 did not store it: the default */
    uint64_t step = 0;
    assert_int_equal(pi_trainer_get_step(t4, &step), PI_OK);
    assert_int_equal(step, half);
    /* Everything else came back: with the dropout set again it continues exactly as t2. */
    assert_int_equal(pi_trainer_set_cond_dropout(t4, 0.3), PI_OK);
    assert_int_equal(pi_trainer_fit_cond(t4, N, data, labels, 0, NULL, half), PI_OK);
    assert_memory_equal(t1->raw, t4->raw, count * sizeof(float));
    assert_memory_equal(t1->adam_m, t4->adam_m, count * sizeof(float));
    /* A version 2 file that claims to be version 3 is 8 bytes short of its arrays. */
    pi_put_u32(c + 8, 3);
    spit(old, c, size);
    pi_model_t *m5 = NULL;
    pi_trainer_t *t5 = NULL;
    assert_int_equal(pi_trainer_resume(old, &m5, &t5), PI_EFORMAT);
    assert_null(m5);
    assert_null(t5);
    free(c), free(a), free(b);
    pi_trainer_destroy(t1), pi_trainer_destroy(t2), pi_trainer_destroy(t3), pi_trainer_destroy(t4);
    pi_model_destroy(m1), pi_model_destroy(m2), pi_model_destroy(m3), pi_model_destroy(m4);
}

/* The checkpoint embeds the model as a model file: the bytes after the model length are
 * exactly what pi_model_save writes, so a change to a kind's fields is a change to its
 * model-file payload only. The model code validates the embedded model; 0.x checkpoints
 * (version 1) are refused with a clear message. */
static void test_checkpoint_embeds_the_model_file(void **state)
{
    (void)state;
    float data[2 * 40];
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, 40, 2, data), PI_OK);
    pi_model_t *m = small_mlp(16, 2, 3);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.6), PI_OK);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);
    assert_int_equal(pi_trainer_set_batch_size(tr, 32), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 40, data, 4), PI_OK); /* the model holds the EMA */
    char ckpt[128], model_path[128], bad[128];
    tmp_path(ckpt, sizeof ckpt, "embed.ckpt");
    tmp_path(model_path, sizeof model_path, "embed.pim");
    tmp_path(bad, sizeof bad, "embed-bad.ckpt");
    assert_int_equal(pi_trainer_save(tr, ckpt), PI_OK);
    assert_int_equal(pi_model_save(m, model_path), PI_OK);
    size_t size, model_size;
    unsigned char *c = slurp(ckpt, &size);
    unsigned char *file = slurp(model_path, &model_size);
    assert_memory_equal(c, "PICKPT\0\0", 8);
    assert_int_equal(pi_get_u32(c + 8), 3); /* format version */
    assert_true(pi_get_u64(c + 16) == size - 32);
    assert_true(pi_get_u64(c + 24) == model_size);
    assert_true(size > 32 + model_size);
    assert_memory_equal(c + 32, file, model_size);
    /* Resuming gives back a model whose file is byte-identical too. */
    pi_model_t *m2 = NULL;
    pi_trainer_t *t2 = NULL;
    assert_int_equal(pi_trainer_resume(ckpt, &m2, &t2), PI_OK);
    assert_int_equal(pi_model_save(m2, model_path), PI_OK);
    size_t size2;
    unsigned char *file2 = slurp(model_path, &size2);
    assert_int_equal(size2, model_size);
    assert_memory_equal(file2, file, model_size);
    free(file2);
    pi_trainer_destroy(t2);
    pi_model_destroy(m2);

    /* A corrupt embedded model under a valid checkpoint checksum: the model code rejects it
     * (its own checksum) and the message says where. */
    m2 = (pi_model_t *)0x1;
    t2 = (pi_trainer_t *)0x1;
    c[32 + model_size / 2] ^= 0x01;
    pi_put_u64(c + size - 8, pi_checksum64(c, size - 8, 0));
    spit(bad, c, size);
    assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "model"));
    c[32 + model_size / 2] ^= 0x01;
    /* A model length that runs past the body. */
    pi_put_u64(c + 24, size);
    pi_put_u64(c + size - 8, pi_checksum64(c, size - 8, 0));
    spit(bad, c, size);
    assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    pi_put_u64(c + 24, model_size);
    /* Version 1 (pathint 0.x) is refused, saying so. */
    pi_put_u32(c + 8, 1);
    spit(bad, c, size);
    assert_int_equal(pi_trainer_resume(bad, &m2, &t2), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "version 1"));
    assert_true(m2 == (pi_model_t *)0x1 && t2 == (pi_trainer_t *)0x1);
    free(c);
    free(file);
    pi_trainer_destroy(tr);
    pi_model_destroy(m);
}

/* ---- bad input ------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    pi_model_t *m = small_mlp(16, 1, 1);
    pi_trainer_t *tr = NULL;
    assert_int_equal(pi_trainer_create(NULL, &tr), PI_EINVAL);
    assert_int_equal(pi_trainer_create(m, NULL), PI_EINVAL);
    assert_int_equal(pi_trainer_create(m, &tr), PI_OK);

    /* Setters name the argument and the range. */
    assert_int_equal(pi_trainer_set_learning_rate(tr, 0.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "lr must be in (0, 1000]"));
    assert_int_equal(pi_trainer_set_learning_rate(tr, NAN), PI_EINVAL);
    assert_int_equal(pi_trainer_set_lr_schedule(tr, (pi_lr_schedule)7, 0, 0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, 10, 10), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "total_steps"));
    assert_int_equal(pi_trainer_set_batch_size(tr, 0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_weighting(tr, (pi_weighting)5), PI_EINVAL);
    assert_int_equal(pi_trainer_set_weighting(tr, (pi_weighting)0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_time_sampling(tr, (pi_time_sampling)-1), PI_EINVAL);
    assert_int_equal(pi_trainer_set_lognormal(tr, 0.0, 0.0), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "p_std"));
    assert_int_equal(pi_trainer_set_adam(tr, 1.0, 0.999, 1e-8), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "beta1 must be in [0, 1)"));
    assert_int_equal(pi_trainer_set_adam(tr, 0.9, -0.1, 1e-8), PI_EINVAL);
    assert_int_equal(pi_trainer_set_adam(tr, 0.9, 0.999, 0.0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_weight_decay(tr, -1.0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_grad_clip(tr, INFINITY), PI_EINVAL);
    assert_int_equal(pi_trainer_set_ema(tr, 1.0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_threads(tr, 0), PI_EINVAL);
    assert_int_equal(pi_trainer_set_learning_rate(NULL, 1e-3), PI_EINVAL);

    /* Data: NaN rows are named; n = 0; steps = 0; NULL. */
    float data[2 * 6] = {0, 1, 1, 0, 2, 2, 3, NAN, 0, 0, 1, 1};
    assert_int_equal(pi_trainer_fit(tr, 6, data, 10), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "row 3"));
    data[7] = INFINITY;
    double loss = 123;
    assert_int_equal(pi_trainer_step(tr, 6, data, &loss), PI_EINVAL);
    assert_true(loss == 123);
    assert_int_equal(pi_trainer_loss(tr, 4, 6, data, &loss), PI_EINVAL);
    data[7] = 1;
    assert_int_equal(pi_trainer_fit(tr, 0, data, 10), PI_EINVAL);
    assert_int_equal(pi_trainer_fit(tr, 6, data, 0), PI_EINVAL);
    assert_int_equal(pi_trainer_fit(tr, 6, NULL, 1), PI_EINVAL);
    assert_int_equal(pi_trainer_loss(tr, 0, 6, data, &loss), PI_EINVAL);
    uint64_t step;
    assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
    assert_int_equal(step, 0);

    /* n < batch (with replacement) and zero-variance data both train. */
    assert_int_equal(pi_trainer_set_batch_size(tr, 64), PI_OK);
    assert_int_equal(pi_trainer_fit(tr, 3, data, 5), PI_OK);
    float same[2 * 10];
    for (int i = 0; i < 20; i++)
        same[i] = i % 2 ? 0.5f : -0.25f;
    assert_int_equal(pi_trainer_fit(tr, 10, same, 5), PI_OK);
    assert_int_equal(pi_trainer_loss(tr, 2, 10, same, &loss), PI_OK);
    assert_true(isfinite(loss));

    /* A diverging step (values that overflow float in the backward pass) stops with
     * PI_ENUMERIC and keeps the last good weights and step count. */
    float huge[2 * 4];
    for (int i = 0; i < 8; i++)
        huge[i] = 3e37f;
    size_t count;
    float *before = params_of(m, &count);
    assert_int_equal(pi_trainer_get_step(tr, &step), PI_OK);
    float *raw_before = malloc(count * sizeof *raw_before);
    memcpy(raw_before, tr->raw, count * sizeof *raw_before);
    assert_int_equal(pi_trainer_fit(tr, 4, huge, 3), PI_ENUMERIC);
    assert_non_null(strstr(pi_last_error(), "diverged"));
    uint64_t step2;
    assert_int_equal(pi_trainer_get_step(tr, &step2), PI_OK);
    assert_int_equal(step2, step);
    float *after = params_of(m, &count); /* the EMA, as after any fit */
    assert_memory_equal(after, before, count * sizeof(float));
    assert_memory_equal(tr->raw, raw_before, count * sizeof(float));
    free(before), free(after), free(raw_before);
    pi_trainer_destroy(tr);

    /* Only MLPs train. */
    double w = 1, mu[2] = {0, 0}, var[2] = {1, 1};
    pi_model_t *gmm = NULL;
    assert_int_equal(pi_model_create_gmm(&m->sde, 2, 1, &w, mu, var, &gmm), PI_OK);
    tr = (pi_trainer_t *)0x1;
    assert_int_equal(pi_trainer_create(gmm, &tr), PI_EUNSUPPORTED);
    assert_true(tr == (pi_trainer_t *)0x1);
    pi_model_destroy(gmm);
    pi_trainer_destroy(NULL);
    pi_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_against_hand_computation),
        cmocka_unit_test(test_adam_same_bits_every_isa),
        cmocka_unit_test(test_lr_schedule_values),
        cmocka_unit_test(test_grad_clip_and_ema),
        cmocka_unit_test(test_dsm_terms_every_view),
        cmocka_unit_test(test_time_sampling),
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_callback_cancel_and_ema_in_model),
        cmocka_unit_test(test_cancel_from_thread),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_resume_custom_sde_parameters),
        cmocka_unit_test(test_interrupted_save_and_corrupt_checkpoints),
        cmocka_unit_test(test_checkpoint_embeds_the_model_file),
        cmocka_unit_test(test_checkpoint_keeps_the_condition_dropout),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
