/* The option table (pi_option_info) against the handles: every key is described; a fresh
 * handle's getters report the table's default; each setter accepts the ends of the stated
 * range (closed ends) and rejects the values just outside it, naming the argument, and a
 * rejected value leaves the option as it was. One test for every option of every handle,
 * so the header's table, the query and the setters cannot drift apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pathint.h"
#include "core/options.h"

#include <math.h>
#include <string.h>

typedef struct handles {
    pi_sde_t *sde;
    pi_model_t *mlp;
    pi_sampler_t *sampler;
    pi_likelihood_t *lik;
    pi_trainer_t *trainer;
    pi_model_t *cond_model;     /* issue 15: guidance options need a model with a null branch */
    pi_sampler_t *cond_sampler;
} handles;

static int null_cond_fn(size_t n, size_t dim, const float *x, const double *t,
                        const int32_t *labels, size_t cond_dim, const float *cond,
                        void *const *row_data, float *out, void *user_data)
{
    (void)t, (void)labels, (void)cond_dim, (void)cond, (void)row_data, (void)user_data;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

static void open_handles(handles *h)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &h->sde), PI_OK);
    assert_int_equal(pi_model_create_mlp(h->sde, 2, 8, 1, &h->mlp), PI_OK);
    assert_int_equal(pi_sampler_create(h->mlp, &h->sampler), PI_OK);
    assert_int_equal(pi_likelihood_create(h->mlp, &h->lik), PI_OK);
    assert_int_equal(pi_trainer_create(h->mlp, &h->trainer), PI_OK);
    assert_int_equal(pi_model_create_callback_cond(h->sde, 2, PI_VIEW_SCORE, 3, 0, 1, null_cond_fn,
                                                   NULL, &h->cond_model),
                     PI_OK);
    assert_int_equal(pi_sampler_create(h->cond_model, &h->cond_sampler), PI_OK);
}

static void close_handles(handles *h)
{
    pi_sampler_destroy(h->cond_sampler);
    pi_model_destroy(h->cond_model);
    pi_trainer_destroy(h->trainer);
    pi_likelihood_destroy(h->lik);
    pi_sampler_destroy(h->sampler);
    pi_model_destroy(h->mlp);
    pi_sde_destroy(h->sde);
}

/* Set option `key` to v through its handle's setter (paired setters keep the other value
 * as read back), or read it back. Returns the setter's status. */
static pi_status set_option(handles *h, pi_option key, double v)
{
    double a, b, c;
    size_t k;
    uint64_t u0, u1;
    pi_precond mode;
    pi_divergence div;
    pi_lr_schedule lrs;
    pi_embedding emb;
    pi_schedule sched;
    switch (key) {
    case PI_OPTION_SAMPLER_NOISE: return pi_sampler_set_noise(h->sampler, (pi_noise)(int)v);
    case PI_OPTION_SAMPLER_HBAR: return pi_sampler_set_hbar(h->sampler, v);
    case PI_OPTION_SAMPLER_METHOD: return pi_sampler_set_method(h->sampler, (pi_method)(int)v);
    case PI_OPTION_SAMPLER_STEPS: return pi_sampler_set_steps(h->sampler, (size_t)v);
    case PI_OPTION_SAMPLER_SCHEDULE:
        /* CUSTOM needs an array first: give one that fits the current steps. */
        if ((int)v == PI_SCHEDULE_CUSTOM) {
            double t[3] = {1.0, 0.5, 0.001};
            return pi_sampler_set_times(h->sampler, t, 3);
        }
        pi_sampler_get_schedule(h->sampler, NULL, &a);
        return pi_sampler_set_schedule(h->sampler, (pi_schedule)(int)v, a);
    case PI_OPTION_SAMPLER_KARRAS_RHO: return pi_sampler_set_schedule(h->sampler, PI_SCHEDULE_KARRAS, v);
    case PI_OPTION_SAMPLER_SEED: return pi_sampler_set_seed(h->sampler, (uint64_t)v);
    case PI_OPTION_SAMPLER_THREADS: return pi_sampler_set_threads(h->sampler, (int)v);
    case PI_OPTION_SAMPLER_DENOISE_FINAL: return pi_sampler_set_denoise_final(h->sampler, (int)v);
    case PI_OPTION_SAMPLER_RTOL:
        pi_sampler_get_tolerances(h->sampler, NULL, &b);
        return pi_sampler_set_tolerances(h->sampler, v, b);
    case PI_OPTION_SAMPLER_ATOL:
        pi_sampler_get_tolerances(h->sampler, &a, NULL);
        return pi_sampler_set_tolerances(h->sampler, a, v);
    case PI_OPTION_SAMPLER_CORRECTOR_STEPS:
        pi_sampler_get_corrector(h->sampler, NULL, &b);
        return pi_sampler_set_corrector(h->sampler, (size_t)v, b);
    case PI_OPTION_SAMPLER_CORRECTOR_SNR:
        pi_sampler_get_corrector(h->sampler, &k, NULL);
        return pi_sampler_set_corrector(h->sampler, k, v);
    case PI_OPTION_LIKELIHOOD_DIVERGENCE:
        /* probes = 2 so a Hutchinson mode reads back with a probe count it kept */
        return pi_likelihood_set_divergence(h->lik, (pi_divergence)(int)v, 2);
    case PI_OPTION_LIKELIHOOD_PROBES:
        return pi_likelihood_set_divergence(h->lik, PI_DIVERGENCE_HUTCHINSON_RADEMACHER, (size_t)v);
    case PI_OPTION_LIKELIHOOD_RTOL:
        pi_likelihood_get_tolerances(h->lik, NULL, &b);
        return pi_likelihood_set_tolerances(h->lik, v, b);
    case PI_OPTION_LIKELIHOOD_ATOL:
        pi_likelihood_get_tolerances(h->lik, &a, NULL);
        return pi_likelihood_set_tolerances(h->lik, a, v);
    case PI_OPTION_LIKELIHOOD_WKB_ALGORITHM:
        return pi_likelihood_set_wkb_algorithm(h->lik, (pi_wkb_algorithm)(int)v);
    case PI_OPTION_LIKELIHOOD_WKB_PROBES: return pi_likelihood_set_wkb_probes(h->lik, (size_t)v);
    case PI_OPTION_LIKELIHOOD_DEQUANTIZATION: return pi_likelihood_set_dequantization(h->lik, v);
    case PI_OPTION_LIKELIHOOD_SEED: return pi_likelihood_set_seed(h->lik, (uint64_t)v);
    case PI_OPTION_LIKELIHOOD_THREADS: return pi_likelihood_set_threads(h->lik, (int)v);
    case PI_OPTION_MODEL_THREADS: return pi_model_set_threads(h->mlp, (int)v);
    case PI_OPTION_MLP_OUTPUT_VIEW: return pi_model_mlp_set_output_view(h->mlp, (pi_view)(int)v);
    case PI_OPTION_MLP_EMBEDDING:
        pi_model_mlp_get_embedding(h->mlp, NULL, &k);
        return pi_model_mlp_set_embedding(h->mlp, (pi_embedding)(int)v, k);
    case PI_OPTION_MLP_EMBEDDING_FEATURES:
        pi_model_mlp_get_embedding(h->mlp, &emb, NULL);
        return pi_model_mlp_set_embedding(h->mlp, emb, (size_t)v);
    case PI_OPTION_MLP_PRECONDITIONING:
        pi_model_mlp_get_preconditioning(h->mlp, NULL, &b);
        return pi_model_mlp_set_preconditioning(h->mlp, (pi_precond)(int)v, b);
    case PI_OPTION_MLP_SIGMA_DATA:
        pi_model_mlp_get_preconditioning(h->mlp, &mode, NULL);
        return pi_model_mlp_set_preconditioning(h->mlp, mode, v);
    case PI_OPTION_TRAINER_LEARNING_RATE: return pi_trainer_set_learning_rate(h->trainer, v);
    case PI_OPTION_TRAINER_LR_SCHEDULE:
        /* cosine needs total > warmup */
        pi_trainer_get_lr_schedule(h->trainer, NULL, &u0, &u1);
        return pi_trainer_set_lr_schedule(h->trainer, (pi_lr_schedule)(int)v, u0,
                                          u1 > u0 ? u1 : u0 + 1);
    case PI_OPTION_TRAINER_WARMUP_STEPS:
        pi_trainer_get_lr_schedule(h->trainer, &lrs, NULL, &u1);
        return pi_trainer_set_lr_schedule(h->trainer, lrs, (uint64_t)v, u1);
    case PI_OPTION_TRAINER_TOTAL_STEPS:
        pi_trainer_get_lr_schedule(h->trainer, &lrs, &u0, NULL);
        return pi_trainer_set_lr_schedule(h->trainer, lrs, u0, (uint64_t)v);
    case PI_OPTION_TRAINER_BATCH_SIZE: return pi_trainer_set_batch_size(h->trainer, (size_t)v);
    case PI_OPTION_TRAINER_WEIGHTING: return pi_trainer_set_weighting(h->trainer, (pi_weighting)(int)v);
    case PI_OPTION_TRAINER_TIME_SAMPLING:
        return pi_trainer_set_time_sampling(h->trainer, (pi_time_sampling)(int)v);
    case PI_OPTION_TRAINER_LOGNORMAL_MEAN:
        pi_trainer_get_lognormal(h->trainer, NULL, &b);
        return pi_trainer_set_lognormal(h->trainer, v, b);
    case PI_OPTION_TRAINER_LOGNORMAL_STD:
        pi_trainer_get_lognormal(h->trainer, &a, NULL);
        return pi_trainer_set_lognormal(h->trainer, a, v);
    case PI_OPTION_TRAINER_ADAM_BETA1:
        pi_trainer_get_adam(h->trainer, NULL, &b, &c);
        return pi_trainer_set_adam(h->trainer, v, b, c);
    case PI_OPTION_TRAINER_ADAM_BETA2:
        pi_trainer_get_adam(h->trainer, &a, NULL, &c);
        return pi_trainer_set_adam(h->trainer, a, v, c);
    case PI_OPTION_TRAINER_ADAM_EPS:
        pi_trainer_get_adam(h->trainer, &a, &b, NULL);
        return pi_trainer_set_adam(h->trainer, a, b, v);
    case PI_OPTION_TRAINER_WEIGHT_DECAY: return pi_trainer_set_weight_decay(h->trainer, v);
    case PI_OPTION_TRAINER_GRAD_CLIP: return pi_trainer_set_grad_clip(h->trainer, v);
    case PI_OPTION_TRAINER_EMA: return pi_trainer_set_ema(h->trainer, v);
    case PI_OPTION_TRAINER_SEED: return pi_trainer_set_seed(h->trainer, (uint64_t)v);
    case PI_OPTION_TRAINER_THREADS: return pi_trainer_set_threads(h->trainer, (int)v);
    /* issue 19 */
    case PI_OPTION_SAMPLER_FIRST_ROW: return pi_sampler_set_first_row(h->sampler, (uint64_t)v);
    case PI_OPTION_LIKELIHOOD_FIRST_ROW: return pi_likelihood_set_first_row(h->lik, (uint64_t)v);
    case PI_OPTION_SAMPLER_GUIDANCE: return pi_sampler_set_guidance(h->cond_sampler, v);
    case PI_OPTION_SAMPLER_GUIDANCE_RESCALE: return pi_sampler_set_guidance_rescale(h->cond_sampler, v);
    case PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN:
        pi_sampler_get_guidance_interval(h->cond_sampler, NULL, &b);
        return pi_sampler_set_guidance_interval(h->cond_sampler, v, b);
    case PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX:
        pi_sampler_get_guidance_interval(h->cond_sampler, &a, NULL);
        return pi_sampler_set_guidance_interval(h->cond_sampler, a, v);
    case PI_OPTION_SAMPLER_CFGPP: return pi_sampler_set_cfgpp(h->cond_sampler, (int)v);
    case PI_OPTION_TRAINER_COND_DROPOUT: return pi_trainer_set_cond_dropout(h->trainer, v);
    }
    (void)div;
    (void)sched;
    fail_msg("option %d has no setter in this test", (int)key);
    return PI_EINVAL;
}

static double get_option(handles *h, pi_option key)
{
    double a = NAN, b = NAN, c = NAN;
    size_t k = 0;
    int i = 0;
    uint64_t u = 0, u1 = 0;
    pi_method method;
    pi_schedule sched;
    pi_divergence div;
    pi_wkb_algorithm wkb;
    pi_view view;
    pi_embedding emb;
    pi_precond mode;
    pi_lr_schedule lrs;
    pi_weighting w;
    pi_time_sampling ts;
    switch (key) {
    case PI_OPTION_SAMPLER_HBAR: assert_int_equal(pi_sampler_get_hbar(h->sampler, &a), PI_OK); return a;
    case PI_OPTION_SAMPLER_NOISE: {
        pi_noise nz;
        assert_int_equal(pi_sampler_get_noise(h->sampler, &nz), PI_OK);
        return nz;
    }
    case PI_OPTION_SAMPLER_METHOD:
        assert_int_equal(pi_sampler_get_method(h->sampler, &method), PI_OK);
        return method;
    case PI_OPTION_SAMPLER_STEPS: assert_int_equal(pi_sampler_get_steps(h->sampler, &k), PI_OK); return (double)k;
    case PI_OPTION_SAMPLER_SCHEDULE:
        assert_int_equal(pi_sampler_get_schedule(h->sampler, &sched, NULL), PI_OK);
        return sched;
    case PI_OPTION_SAMPLER_KARRAS_RHO:
        assert_int_equal(pi_sampler_get_schedule(h->sampler, NULL, &a), PI_OK);
        return a;
    case PI_OPTION_SAMPLER_SEED: assert_int_equal(pi_sampler_get_seed(h->sampler, &u), PI_OK); return (double)u;
    case PI_OPTION_SAMPLER_THREADS: assert_int_equal(pi_sampler_get_threads(h->sampler, &i), PI_OK); return i;
    case PI_OPTION_SAMPLER_DENOISE_FINAL:
        assert_int_equal(pi_sampler_get_denoise_final(h->sampler, &i), PI_OK);
        return i;
    case PI_OPTION_SAMPLER_RTOL: assert_int_equal(pi_sampler_get_tolerances(h->sampler, &a, NULL), PI_OK); return a;
    case PI_OPTION_SAMPLER_ATOL: assert_int_equal(pi_sampler_get_tolerances(h->sampler, NULL, &a), PI_OK); return a;
    case PI_OPTION_SAMPLER_CORRECTOR_STEPS:
        assert_int_equal(pi_sampler_get_corrector(h->sampler, &k, NULL), PI_OK);
        return (double)k;
    case PI_OPTION_SAMPLER_CORRECTOR_SNR:
        assert_int_equal(pi_sampler_get_corrector(h->sampler, NULL, &a), PI_OK);
        return a;
    case PI_OPTION_LIKELIHOOD_DIVERGENCE:
        assert_int_equal(pi_likelihood_get_divergence(h->lik, &div, NULL), PI_OK);
        return div;
    case PI_OPTION_LIKELIHOOD_PROBES:
        assert_int_equal(pi_likelihood_get_divergence(h->lik, NULL, &k), PI_OK);
        return (double)k;
    case PI_OPTION_LIKELIHOOD_RTOL: assert_int_equal(pi_likelihood_get_tolerances(h->lik, &a, NULL), PI_OK); return a;
    case PI_OPTION_LIKELIHOOD_ATOL: assert_int_equal(pi_likelihood_get_tolerances(h->lik, NULL, &a), PI_OK); return a;
    case PI_OPTION_LIKELIHOOD_WKB_ALGORITHM:
        assert_int_equal(pi_likelihood_get_wkb_algorithm(h->lik, &wkb), PI_OK);
        return wkb;
    case PI_OPTION_LIKELIHOOD_WKB_PROBES:
        assert_int_equal(pi_likelihood_get_wkb_probes(h->lik, &k), PI_OK);
        return (double)k;
    case PI_OPTION_LIKELIHOOD_DEQUANTIZATION:
        assert_int_equal(pi_likelihood_get_dequantization(h->lik, &a), PI_OK);
        return a;
    case PI_OPTION_LIKELIHOOD_SEED: assert_int_equal(pi_likelihood_get_seed(h->lik, &u), PI_OK); return (double)u;
    case PI_OPTION_LIKELIHOOD_THREADS: assert_int_equal(pi_likelihood_get_threads(h->lik, &i), PI_OK); return i;
    case PI_OPTION_MODEL_THREADS: assert_int_equal(pi_model_get_threads(h->mlp, &i), PI_OK); return i;
    case PI_OPTION_MLP_OUTPUT_VIEW:
        assert_int_equal(pi_model_mlp_get_output_view(h->mlp, &view), PI_OK);
        return view;
    case PI_OPTION_MLP_EMBEDDING:
        assert_int_equal(pi_model_mlp_get_embedding(h->mlp, &emb, NULL), PI_OK);
        return emb;
    case PI_OPTION_MLP_EMBEDDING_FEATURES:
        assert_int_equal(pi_model_mlp_get_embedding(h->mlp, NULL, &k), PI_OK);
        return (double)k;
    case PI_OPTION_MLP_PRECONDITIONING:
        assert_int_equal(pi_model_mlp_get_preconditioning(h->mlp, &mode, NULL), PI_OK);
        return mode;
    case PI_OPTION_MLP_SIGMA_DATA:
        assert_int_equal(pi_model_mlp_get_preconditioning(h->mlp, NULL, &a), PI_OK);
        return a;
    case PI_OPTION_TRAINER_LEARNING_RATE:
        assert_int_equal(pi_trainer_get_learning_rate(h->trainer, &a), PI_OK);
        return a;
    case PI_OPTION_TRAINER_LR_SCHEDULE:
        assert_int_equal(pi_trainer_get_lr_schedule(h->trainer, &lrs, NULL, NULL), PI_OK);
        return lrs;
    case PI_OPTION_TRAINER_WARMUP_STEPS:
        assert_int_equal(pi_trainer_get_lr_schedule(h->trainer, NULL, &u, NULL), PI_OK);
        return (double)u;
    case PI_OPTION_TRAINER_TOTAL_STEPS:
        assert_int_equal(pi_trainer_get_lr_schedule(h->trainer, NULL, NULL, &u1), PI_OK);
        return (double)u1;
    case PI_OPTION_TRAINER_BATCH_SIZE:
        assert_int_equal(pi_trainer_get_batch_size(h->trainer, &k), PI_OK);
        return (double)k;
    case PI_OPTION_TRAINER_WEIGHTING:
        assert_int_equal(pi_trainer_get_weighting(h->trainer, &w), PI_OK);
        return w;
    case PI_OPTION_TRAINER_TIME_SAMPLING:
        assert_int_equal(pi_trainer_get_time_sampling(h->trainer, &ts), PI_OK);
        return ts;
    case PI_OPTION_TRAINER_LOGNORMAL_MEAN:
        assert_int_equal(pi_trainer_get_lognormal(h->trainer, &a, NULL), PI_OK);
        return a;
    case PI_OPTION_TRAINER_LOGNORMAL_STD:
        assert_int_equal(pi_trainer_get_lognormal(h->trainer, NULL, &a), PI_OK);
        return a;
    case PI_OPTION_TRAINER_ADAM_BETA1: assert_int_equal(pi_trainer_get_adam(h->trainer, &a, NULL, NULL), PI_OK); return a;
    case PI_OPTION_TRAINER_ADAM_BETA2: assert_int_equal(pi_trainer_get_adam(h->trainer, NULL, &b, NULL), PI_OK); return b;
    case PI_OPTION_TRAINER_ADAM_EPS: assert_int_equal(pi_trainer_get_adam(h->trainer, NULL, NULL, &c), PI_OK); return c;
    case PI_OPTION_TRAINER_WEIGHT_DECAY:
        assert_int_equal(pi_trainer_get_weight_decay(h->trainer, &a), PI_OK);
        return a;
    case PI_OPTION_TRAINER_GRAD_CLIP: assert_int_equal(pi_trainer_get_grad_clip(h->trainer, &a), PI_OK); return a;
    case PI_OPTION_TRAINER_EMA: assert_int_equal(pi_trainer_get_ema(h->trainer, &a), PI_OK); return a;
    case PI_OPTION_TRAINER_SEED: assert_int_equal(pi_trainer_get_seed(h->trainer, &u), PI_OK); return (double)u;
    case PI_OPTION_TRAINER_THREADS: assert_int_equal(pi_trainer_get_threads(h->trainer, &i), PI_OK); return i;
    /* issue 19 */
    case PI_OPTION_SAMPLER_FIRST_ROW:
        assert_int_equal(pi_sampler_get_first_row(h->sampler, &u), PI_OK);
        return (double)u;
    case PI_OPTION_LIKELIHOOD_FIRST_ROW:
        assert_int_equal(pi_likelihood_get_first_row(h->lik, &u), PI_OK);
        return (double)u;
    case PI_OPTION_SAMPLER_GUIDANCE: assert_int_equal(pi_sampler_get_guidance(h->cond_sampler, &a), PI_OK); return a;
    case PI_OPTION_SAMPLER_GUIDANCE_RESCALE:
        assert_int_equal(pi_sampler_get_guidance_rescale(h->cond_sampler, &a), PI_OK);
        return a;
    case PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN:
        assert_int_equal(pi_sampler_get_guidance_interval(h->cond_sampler, &a, NULL), PI_OK);
        return a;
    case PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX:
        assert_int_equal(pi_sampler_get_guidance_interval(h->cond_sampler, NULL, &a), PI_OK);
        return a;
    case PI_OPTION_SAMPLER_CFGPP: assert_int_equal(pi_sampler_get_cfgpp(h->cond_sampler, &i), PI_OK); return i;
    case PI_OPTION_TRAINER_COND_DROPOUT: assert_int_equal(pi_trainer_get_cond_dropout(h->trainer, &a), PI_OK); return a;
    }
    fail_msg("option %d has no getter in this test", (int)key);
    return NAN;
}

static int option_count(void)
{
    int n = 0;
    while (pi_option_info((pi_option)(n + 1), NULL, NULL, NULL, NULL, NULL) == PI_OK)
        n++;
    return n;
}

/* Every key 1..N is described (name, default in range, sane flags); 0 and N + 1 are not. */
static void test_table(void **state)
{
    (void)state;
    int n = option_count();
    assert_int_equal(n, PI_OPTION_LIKELIHOOD_WKB_PROBES); /* the last key */
    const char *name = "x";
    double def = 1, lo = 2, hi = 3;
    unsigned flags = 99;
    assert_int_equal(pi_option_info((pi_option)0, &name, &def, &lo, &hi, &flags), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "option"));
    assert_int_equal(pi_option_info((pi_option)(n + 1), &name, &def, &lo, &hi, &flags), PI_EINVAL);
    assert_true(def == 1 && lo == 2 && hi == 3 && flags == 99); /* untouched on failure */
    for (int key = 1; key <= n; key++) {
        assert_int_equal(pi_option_info((pi_option)key, &name, &def, &lo, &hi, &flags), PI_OK);
        assert_non_null(name);
        assert_true(name[0] != '\0');
        assert_true(lo < hi);
        assert_true((flags & (PI_OPTION_MIN_EXCLUSIVE | PI_OPTION_MAX_EXCLUSIVE | PI_OPTION_INTEGER |
                              PI_OPTION_EVEN)) == flags);
        assert_true((flags & PI_OPTION_MIN_EXCLUSIVE) ? def > lo : def >= lo);
        assert_true((flags & PI_OPTION_MAX_EXCLUSIVE) ? def < hi : def <= hi);
        if (flags & PI_OPTION_INTEGER)
            assert_true(def == floor(def));
    }
}

/* A fresh handle reports every default of the table. */
static void test_defaults(void **state)
{
    (void)state;
    handles h;
    open_handles(&h);
    for (int key = 1; key <= option_count(); key++) {
        double def;
        const char *name;
        assert_int_equal(pi_option_info((pi_option)key, &name, &def, NULL, NULL, NULL), PI_OK);
        double got = get_option(&h, (pi_option)key);
        if (got != def)
            fail_msg("option %d (%s): default %.17g, handle reports %.17g", key, name, def, got);
    }
    close_handles(&h);
}

/* The ends of each range are accepted (closed ends) or rejected (open ends) exactly as the
 * table says; the values just outside are rejected with a message naming the argument and
 * leave the option as it was. Seeds accept any uint64_t: nothing to test outside. */
static void test_bounds(void **state)
{
    (void)state;
    for (int key = 1; key <= option_count(); key++) {
        const char *name;
        double def, lo, hi;
        unsigned flags;
        assert_int_equal(pi_option_info((pi_option)key, &name, &def, &lo, &hi, &flags), PI_OK);
        if (key == PI_OPTION_SAMPLER_SEED || key == PI_OPTION_LIKELIHOOD_SEED ||
            key == PI_OPTION_TRAINER_SEED || key == PI_OPTION_SAMPLER_FIRST_ROW ||
            key == PI_OPTION_LIKELIHOOD_FIRST_ROW)
            continue;
        int integer = (flags & PI_OPTION_INTEGER) != 0;
        double step_lo = integer ? ((flags & PI_OPTION_EVEN) ? 2.0 : 1.0) : fmax(fabs(lo) * 1e-9, 1e-300);
        double step_hi = integer ? ((flags & PI_OPTION_EVEN) ? 2.0 : 1.0) : fmax(fabs(hi) * 1e-9, 1e-300);
        struct {
            double v;
            int ok;
        } cases[4] = {
            {lo, !(flags & PI_OPTION_MIN_EXCLUSIVE)},
            {hi, !(flags & PI_OPTION_MAX_EXCLUSIVE)},
            {lo - step_lo, 0},
            {hi + step_hi, 0},
        };
        for (int c = 0; c < 4; c++) {
            double v = cases[c].v;
            /* Sizes and counts below 0 cannot be passed; threads and ints above INT_MAX neither. */
            if (integer && v < 0)
                continue;
            if (key == PI_OPTION_SAMPLER_STEPS && v > lo && cases[c].ok)
                continue; /* 2^24 steps would allocate a huge schedule; the bound is still tested below */
            if ((key == PI_OPTION_TRAINER_BATCH_SIZE || key == PI_OPTION_MLP_EMBEDDING_FEATURES) &&
                cases[c].ok && v == hi)
                continue; /* accepted but allocates; the rejection above the bound is tested */
            if (key == PI_OPTION_SAMPLER_SCHEDULE && (int)v == PI_SCHEDULE_CUSTOM && !cases[c].ok)
                continue;
            if (!cases[c].ok && (v == hi || v == lo))
                continue; /* 2^53 + 1 is not a double: tested with integers below */
            handles h;
            open_handles(&h);
            double before = get_option(&h, (pi_option)key);
            pi_status st = set_option(&h, (pi_option)key, v);
            if (cases[c].ok) {
                if (st != PI_OK)
                    fail_msg("option %d (%s): %.17g is in range but rejected: %s", key, name, v,
                             pi_last_error());
                if (key != PI_OPTION_SAMPLER_SCHEDULE) /* CUSTOM is set through the array */
                    assert_true(get_option(&h, (pi_option)key) == v);
            } else {
                if (st != PI_EINVAL)
                    fail_msg("option %d (%s): %.17g is out of range but gave %d", key, name, v, st);
                if (strstr(pi_last_error(), name) == NULL)
                    fail_msg("option %d: message \"%s\" does not name \"%s\"", key, pi_last_error(),
                             name);
                assert_true(get_option(&h, (pi_option)key) == before);
            }
            close_handles(&h);
        }
    }
}

/* The step counts' bound 2^53 with integers (2^53 + 1 has no double). */
static void test_bounds_beyond_doubles(void **state)
{
    (void)state;
    handles h;
    open_handles(&h);
    const uint64_t big = (uint64_t)1 << 53;
    assert_int_equal(pi_trainer_set_lr_schedule(h.trainer, PI_LR_SCHEDULE_CONSTANT, big, big), PI_OK);
    assert_int_equal(pi_trainer_set_lr_schedule(h.trainer, PI_LR_SCHEDULE_CONSTANT, big + 1, 0),
                     PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "warmup_steps"));
    assert_int_equal(pi_trainer_set_lr_schedule(h.trainer, PI_LR_SCHEDULE_CONSTANT, 0, big + 1),
                     PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "total_steps"));
    assert_int_equal(pi_sampler_set_steps(h.sampler, (size_t)-1), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "steps"));
    /* The internal check admits all of uint64_t where the row says so (seeds), no more. */
    assert_int_equal(pi_option_check_u64(PI_OPTION_SAMPLER_SEED, UINT64_MAX, "t"), PI_OK);
    assert_int_equal(pi_option_check_u64(PI_OPTION_TRAINER_TOTAL_STEPS, big + 1, "t"), PI_EINVAL);
    /* First rows (issue 19): any uint64_t, read back exactly. */
    uint64_t row = 0;
    assert_int_equal(pi_sampler_set_first_row(h.sampler, UINT64_MAX), PI_OK);
    assert_int_equal(pi_sampler_get_first_row(h.sampler, &row), PI_OK);
    assert_true(row == UINT64_MAX);
    assert_int_equal(pi_likelihood_set_first_row(h.lik, UINT64_MAX - 1), PI_OK);
    assert_int_equal(pi_likelihood_get_first_row(h.lik, &row), PI_OK);
    assert_true(row == UINT64_MAX - 1);
    close_handles(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_bounds_beyond_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
