/* Reproduce Hirono, Tanaka & Fukushima (ICML 2024), Table 1, with pathint:
 * train a 3 × 128 SiLU MLP by likelihood-weighted denoising score matching on Swiss roll or
 * 25 Gaussians with the "SIMPLE" (VP, β 0 → 20, t ∈ [0.01, 1]) or "COSINE" (VP cosine,
 * s = 0, t ∈ [0.01, 1 − 1e-3]) SDE, then report NLL₀ (ħ = 0) and the WKB slope
 * dNLL/dħ = −c1 over 100 batches of 10 test points (docs/reproduction.md).
 *
 * Built with the examples (build/examples/reproduce_paper; run as a test on a toy budget), or:
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude examples/reproduce_paper.c \
 *       -Lbuild/lib -Wl,-rpath,$PWD/build/lib -lpathint -lm -o reproduce_paper
 * Run:
 *   ./reproduce_paper swiss|g25 simple|cosine [steps] [batch] [threads] [seed] [features] \
 *                     [batches] [precond none|edm|input] [sigma_data] [clip]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pathint.h"

#define CHECK(call)                                                                            \
    do {                                                                                       \
        pi_status st_ = (call);                                                                \
        if (st_ != PI_OK) {                                                                    \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call,         \
                    pi_status_string(st_), pi_last_error());                                   \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int progress(uint64_t step, double loss, double ema_loss, double rate, void *user)
{
    (void)loss;
    uint64_t every = *(const uint64_t *)user;
    if (step % every == 0)
        fprintf(stderr, "step %8llu  loss(ema) %10.5f  %7.1f steps/s\n",
                (unsigned long long)step, ema_loss, rate);
    return 0;
}

/* Mean and sample standard deviation of the means of consecutive batches. */
static void batch_stats(const double *v, size_t batches, size_t per, double sign, double *mean,
                        double *std, double *lo, double *hi)
{
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t b = 0; b < batches; b++) {
        double m = 0;
        for (size_t i = 0; i < per; i++)
            m += sign * v[b * per + i] / (double)per;
        s += m;
        s2 += m * m;
        *lo = m < *lo ? m : *lo;
        *hi = m > *hi ? m : *hi;
    }
    *mean = s / (double)batches;
    *std = sqrt((s2 - s * *mean) / (double)(batches - 1));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s swiss|g25 simple|cosine [steps] [batch] [threads] [seed] "
                "[embedding features] [test batches of 10] [precond none|edm|input] [sigma_data] "
                "[clip, 0 = off]\n",
                argv[0]);
        return 2;
    }
    const int swiss = strcmp(argv[1], "swiss") == 0;
    const int cosine = strcmp(argv[2], "cosine") == 0;
    const uint64_t steps = argc > 3 ? strtoull(argv[3], NULL, 10) : 20000;
    const size_t batch = argc > 4 ? strtoul(argv[4], NULL, 10) : 512;
    const int threads = argc > 5 ? atoi(argv[5]) : 1;
    const uint64_t seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 0;
    const size_t features = argc > 7 ? strtoul(argv[7], NULL, 10) : 16;
    const size_t n_train = 100000, per_batch = 10;
    const size_t batches = argc > 8 ? strtoul(argv[8], NULL, 10) : 100;
    const size_t n_test = batches * per_batch;
    const char *precond_name = argc > 9 ? argv[9] : "input";
    const int precond = strcmp(precond_name, "edm") == 0     ? PI_PRECOND_EDM
                        : strcmp(precond_name, "none") == 0 ? PI_PRECOND_NONE
                                                            : PI_PRECOND_INPUT;
    const double sigma_data = argc > 10 ? atof(argv[10]) : 1.0;
    const double clip = argc > 11 ? atof(argv[11]) : 1.0; /* 0: no clipping */
    const pi_dataset set = swiss ? PI_DATASET_SWISS_ROLL : PI_DATASET_GAUSSIANS_25;

    /* The paper's SDEs. */
    pi_sde_t *sde = NULL;
    CHECK(pi_sde_create_preset(cosine ? PI_SDE_PRESET_COSINE : PI_SDE_PRESET_SIMPLE, &sde));

    float *train = malloc(n_train * 2 * sizeof *train), *test = malloc(n_test * 2 * sizeof *test);
    double *nll = malloc(n_test * sizeof *nll), *c1 = malloc(n_test * sizeof *c1);
    if (!train || !test || !nll || !c1)
        return 1;
    CHECK(pi_data_generate(set, n_train, 1000 + seed, train));
    CHECK(pi_data_generate(set, n_test, 2000 + seed, test));

    /* 3 hidden layers of width 128, SiLU (swish), ε output, log σ̃ embedding. */
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    CHECK(pi_model_create_mlp(sde, 2, 128, 3, &model));
    CHECK(pi_model_mlp_set_embedding(model, PI_EMBEDDING_LOG_SIGMA, features));
    /* "input": network input c_in·x̃ = x/√(σ² + α²σ_d²), i.e. x itself for this VP SDE with
     * σ_d = 1 (the usual DDPM input); "none": x/α, up to 1/α(T) ≈ 150 (SIMPLE) or 600 (COSINE). */
    CHECK(pi_model_mlp_set_preconditioning(model, precond, sigma_data));
    CHECK(pi_model_mlp_init(model, seed));
    CHECK(pi_model_set_threads(model, threads));
    CHECK(pi_trainer_create(model, &tr));
    CHECK(pi_trainer_set_weighting(tr, PI_WEIGHTING_LIKELIHOOD));   /* λ = g² */
    CHECK(pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE)); /* unbiased, lower variance */
    CHECK(pi_trainer_set_batch_size(tr, batch));
    CHECK(pi_trainer_set_learning_rate(tr, 2e-3));
    CHECK(pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, steps / 50, steps));
    CHECK(pi_trainer_set_grad_clip(tr, clip));
    CHECK(pi_trainer_set_ema(tr, 0.999));
    CHECK(pi_trainer_set_seed(tr, seed));
    CHECK(pi_trainer_set_threads(tr, threads));
    uint64_t every = steps / 20 ? steps / 20 : 1;
    CHECK(pi_trainer_set_callback(tr, progress, &every));
    double t0 = now();
    CHECK(pi_trainer_fit(tr, n_train, train, steps));
    double train_s = now() - t0;

    pi_likelihood_t *lik = NULL;
    CHECK(pi_likelihood_create(model, &lik));
    CHECK(pi_likelihood_set_threads(lik, threads));
    CHECK(pi_likelihood_set_seed(lik, seed)); /* the trainer's: the bound's draws as before */
    double bound, bound_se;
    CHECK(pi_likelihood_action_bound(lik, 16, n_test, test, &bound, &bound_se));

    /* NLL₀ and c1 with the probability-flow ODE (ħ = 0), exact divergence, WKB sweep. */
    CHECK(pi_likelihood_set_tolerances(lik, 1e-5, 1e-7)); /* the paper: 1e-3 outer, 1e-5 inner */
    t0 = now();
    CHECK(pi_likelihood_nll(lik, n_test, test, nll, c1));
    double nll_s = now() - t0;

    double nll_mean, nll_std, nll_lo, nll_hi, slope_mean, slope_std, slope_lo, slope_hi;
    batch_stats(nll, batches, per_batch, 1.0, &nll_mean, &nll_std, &nll_lo, &nll_hi);
    batch_stats(c1, batches, per_batch, -1.0, &slope_mean, &slope_std, &slope_lo, &slope_hi);
    printf("{\"data\": \"%s\", \"sde\": \"%s\", \"steps\": %llu, \"batch\": %zu, \"seed\": %llu,\n"
           " \"embedding_features\": %zu, \"test_points\": %zu, \"precond\": \"%s\", \"sigma_data\": %g,\n"
           " \"train_seconds\": %.1f, \"nll_seconds\": %.1f,\n"
           " \"nll0_mean\": %.4f, \"nll0_std_over_batches\": %.4f,\n"
           " \"slope_mean\": %.4f, \"slope_std_over_batches\": %.4f, \"slope_batch_min\": %.4f, "
           "\"slope_batch_max\": %.4f,\n"
           " \"action_bound_hbar1\": %.4f, \"action_bound_se\": %.4f}\n",
           swiss ? "swiss_roll" : "gaussians_25", cosine ? "cosine" : "simple",
           (unsigned long long)steps, batch, (unsigned long long)seed, features, n_test, precond_name, sigma_data, train_s, nll_s, nll_mean,
           nll_std, slope_mean, slope_std, slope_lo, slope_hi, bound, bound_se);

    char path[256];
    snprintf(path, sizeof path, "reproduce_%s_%s_%llu_f%zu_%s.ckpt", argv[1],
             argv[2], (unsigned long long)seed, features, precond_name);
    CHECK(pi_trainer_save(tr, path));
    pi_likelihood_destroy(lik);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    free(train);
    free(test);
    free(nll);
    free(c1);
    return 0;
}
