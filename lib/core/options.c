/* The option table: one row per pi_option key with its name, default, range and flags. */
#include "options.h"

#include <float.h>
#include <stdio.h>
#include <math.h>

#define EXCL_MIN PI_OPTION_MIN_EXCLUSIVE
#define EXCL_MAX PI_OPTION_MAX_EXCLUSIVE
#define INT PI_OPTION_INTEGER
#define EVEN (PI_OPTION_INTEGER | PI_OPTION_EVEN)
#define SEED_MAX 18446744073709551615.0 /* 2^64 − 1, rounded to the double 2^64 */

typedef struct option_row {
    const char *name; /* the setter's argument, as messages name it */
    double def, min, max;
    unsigned flags;
    const char *values; /* enums: the valid names, for messages; NULL otherwise */
} option_row;

/* Indexed by key − 1; the order must follow enum pi_option (a test checks every key). */
static const option_row option_table[] = {
    [PI_OPTION_SAMPLER_HBAR - 1] = {"hbar", 0.0, 0.0, 1e6, 0},
    [PI_OPTION_SAMPLER_METHOD - 1] = {"method", PI_METHOD_EXP2M, PI_METHOD_EULER, PI_METHOD_UNIPC, INT,
        "PI_METHOD_EULER (1) .. PI_METHOD_UNIPC (9)"},
    [PI_OPTION_SAMPLER_STEPS - 1] = {"steps", 50, 1, 16777216.0, INT},
    [PI_OPTION_SAMPLER_SCHEDULE - 1] = {"schedule", PI_SCHEDULE_UNIFORM_LAMBDA, PI_SCHEDULE_UNIFORM_T,
                                        PI_SCHEDULE_CUSTOM, INT,
        "PI_SCHEDULE_UNIFORM_T (1) .. PI_SCHEDULE_CUSTOM (4)"},
    [PI_OPTION_SAMPLER_KARRAS_RHO - 1] = {"rho", 7.0, 0.0, 1e3, EXCL_MIN},
    [PI_OPTION_SAMPLER_SEED - 1] = {"seed", 0, 0, SEED_MAX, INT},
    [PI_OPTION_SAMPLER_THREADS - 1] = {"threads", 1, 1, 256, INT},
    [PI_OPTION_SAMPLER_DENOISE_FINAL - 1] = {"denoise_final", 0, 0, 1, INT},
    [PI_OPTION_SAMPLER_RTOL - 1] = {"rtol", 1e-5, 0.0, 1.0, EXCL_MIN | EXCL_MAX},
    [PI_OPTION_SAMPLER_ATOL - 1] = {"atol", 1e-5, 0.0, 1e6, EXCL_MIN},
    [PI_OPTION_SAMPLER_CORRECTOR_STEPS - 1] = {"steps", 0, 0, 255, INT},
    [PI_OPTION_SAMPLER_CORRECTOR_SNR - 1] = {"snr", 0.16, 0.0, 1e6, EXCL_MIN},
    [PI_OPTION_LIKELIHOOD_DIVERGENCE - 1] = {"mode", PI_DIVERGENCE_EXACT, PI_DIVERGENCE_EXACT,
                                             PI_DIVERGENCE_HUTCHINSON_GAUSSIAN, INT,
        "PI_DIVERGENCE_EXACT (1), PI_DIVERGENCE_HUTCHINSON_RADEMACHER (2) or PI_DIVERGENCE_HUTCHINSON_GAUSSIAN (3)"},
    [PI_OPTION_LIKELIHOOD_PROBES - 1] = {"probes", 1, 1, 4096, INT},
    [PI_OPTION_LIKELIHOOD_RTOL - 1] = {"rtol", 1e-6, 0.0, 1.0, EXCL_MIN | EXCL_MAX},
    [PI_OPTION_LIKELIHOOD_ATOL - 1] = {"atol", 1e-8, 0.0, 1e6, EXCL_MIN},
    [PI_OPTION_LIKELIHOOD_WKB_ALGORITHM - 1] = {"algorithm", PI_WKB_ALGORITHM_SWEEP,
                                                PI_WKB_ALGORITHM_SWEEP, PI_WKB_ALGORITHM_STOCHASTIC, INT,
        "PI_WKB_ALGORITHM_SWEEP (1), PI_WKB_ALGORITHM_REFERENCE (2) or PI_WKB_ALGORITHM_STOCHASTIC (3)"},
    [PI_OPTION_LIKELIHOOD_DEQUANTIZATION - 1] = {"bin_width", 0.0, 0.0, 1e6, 0},
    [PI_OPTION_LIKELIHOOD_SEED - 1] = {"seed", 0, 0, SEED_MAX, INT},
    [PI_OPTION_LIKELIHOOD_THREADS - 1] = {"threads", 1, 1, 256, INT},
    [PI_OPTION_MODEL_THREADS - 1] = {"threads", 1, 1, 256, INT},
    [PI_OPTION_MLP_OUTPUT_VIEW - 1] = {"view", PI_VIEW_EPS, PI_VIEW_SCORE, PI_VIEW_DENOISED, INT,
        "PI_VIEW_SCORE (1), PI_VIEW_EPS (2) or PI_VIEW_DENOISED (3) (an MLP does not predict v)"},
    [PI_OPTION_MLP_EMBEDDING - 1] = {"kind", PI_EMBEDDING_LOG_SIGMA, PI_EMBEDDING_LOG_SIGMA,
                                     PI_EMBEDDING_TIME, INT,
        "PI_EMBEDDING_LOG_SIGMA (1) or PI_EMBEDDING_TIME (2)"},
    [PI_OPTION_MLP_EMBEDDING_FEATURES - 1] = {"features", 16, 2, 4096, EVEN},
    [PI_OPTION_MLP_PRECONDITIONING - 1] = {"mode", PI_PRECOND_NONE, PI_PRECOND_NONE,
                                           PI_PRECOND_INPUT, INT,
        "PI_PRECOND_NONE (1), PI_PRECOND_EDM (2) or PI_PRECOND_INPUT (3)"},
    [PI_OPTION_MLP_SIGMA_DATA - 1] = {"sigma_data", 0.5, 0.0, 1e30, EXCL_MIN},
    [PI_OPTION_TRAINER_LEARNING_RATE - 1] = {"lr", 1e-3, 0.0, 1e3, EXCL_MIN},
    [PI_OPTION_TRAINER_LR_SCHEDULE - 1] = {"schedule", PI_LR_SCHEDULE_CONSTANT,
                                           PI_LR_SCHEDULE_CONSTANT, PI_LR_SCHEDULE_COSINE, INT,
        "PI_LR_SCHEDULE_CONSTANT (1) or PI_LR_SCHEDULE_COSINE (2)"},
    [PI_OPTION_TRAINER_WARMUP_STEPS - 1] = {"warmup_steps", 0, 0, 9007199254740992.0, INT},
    [PI_OPTION_TRAINER_TOTAL_STEPS - 1] = {"total_steps", 0, 0, 9007199254740992.0, INT},
    [PI_OPTION_TRAINER_BATCH_SIZE - 1] = {"batch", 256, 1, 4194304.0, INT},
    [PI_OPTION_TRAINER_WEIGHTING - 1] = {"weighting", PI_WEIGHTING_LIKELIHOOD, PI_WEIGHTING_LIKELIHOOD,
                                         PI_WEIGHTING_FLOW, INT,
        "PI_WEIGHTING_LIKELIHOOD (1), PI_WEIGHTING_SIGMA2 (2), PI_WEIGHTING_EDM (3) or PI_WEIGHTING_FLOW (4)"},
    [PI_OPTION_TRAINER_TIME_SAMPLING - 1] = {"sampling", PI_TIME_SAMPLING_UNIFORM,
                                             PI_TIME_SAMPLING_UNIFORM, PI_TIME_SAMPLING_LOGNORMAL, INT,
        "PI_TIME_SAMPLING_UNIFORM (1), PI_TIME_SAMPLING_IMPORTANCE (2) or PI_TIME_SAMPLING_LOGNORMAL (3)"},
    [PI_OPTION_TRAINER_LOGNORMAL_MEAN - 1] = {"p_mean", -1.2, -100.0, 100.0, 0},
    [PI_OPTION_TRAINER_LOGNORMAL_STD - 1] = {"p_std", 1.2, 0.0, 100.0, EXCL_MIN},
    [PI_OPTION_TRAINER_ADAM_BETA1 - 1] = {"beta1", 0.9, 0.0, 1.0, EXCL_MAX},
    [PI_OPTION_TRAINER_ADAM_BETA2 - 1] = {"beta2", 0.999, 0.0, 1.0, EXCL_MAX},
    [PI_OPTION_TRAINER_ADAM_EPS - 1] = {"eps", 1e-8, 0.0, 1.0, EXCL_MIN},
    [PI_OPTION_TRAINER_WEIGHT_DECAY - 1] = {"decay", 0.0, 0.0, 1e3, 0},
    [PI_OPTION_TRAINER_GRAD_CLIP - 1] = {"max_norm", 0.0, 0.0, 1e30, 0},
    [PI_OPTION_TRAINER_EMA - 1] = {"decay", 0.999, 0.0, 1.0, EXCL_MAX},
    [PI_OPTION_TRAINER_SEED - 1] = {"seed", 0, 0, SEED_MAX, INT},
    [PI_OPTION_TRAINER_THREADS - 1] = {"threads", 1, 1, 256, INT},
    [PI_OPTION_SAMPLER_FIRST_ROW - 1] = {"first_row", 0, 0, SEED_MAX, INT},
    [PI_OPTION_LIKELIHOOD_FIRST_ROW - 1] = {"first_row", 0, 0, SEED_MAX, INT},
    [PI_OPTION_SAMPLER_GUIDANCE - 1] = {"w", 1.0, 0.0, 1e4, 0},
    [PI_OPTION_SAMPLER_GUIDANCE_RESCALE - 1] = {"phi", 0.0, 0.0, 1.0, 0},
    [PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN - 1] = {"sigma_min", 0.0, 0.0, 1e30, 0},
    [PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX - 1] = {"sigma_max", 1e30, 0.0, 1e30, 0},
    [PI_OPTION_SAMPLER_CFGPP - 1] = {"enabled", 0, 0, 1, INT},
    [PI_OPTION_TRAINER_COND_DROPOUT - 1] = {"p", 0.1, 0.0, 1.0, EXCL_MAX},
    [PI_OPTION_SAMPLER_NOISE - 1] = {"noise", PI_NOISE_STEP, PI_NOISE_STEP, PI_NOISE_BROWNIAN, INT,
        "PI_NOISE_STEP (1) or PI_NOISE_BROWNIAN (2)"},
    [PI_OPTION_LIKELIHOOD_WKB_PROBES - 1] = {"probes", 16, 1, 4096, INT},
};

#define OPTION_COUNT (sizeof option_table / sizeof option_table[0])

static const option_row *row_of(pi_option option)
{
    if ((int)option < 1 || (size_t)option > OPTION_COUNT)
        return NULL;
    return &option_table[(size_t)option - 1];
}

pi_status pi_option_info(pi_option option, const char **name, double *default_value, double *min,
                         double *max, unsigned *flags)
{
    const option_row *r = row_of(option);
    if (r == NULL)
        return pi_fail(PI_EINVAL, "pi_option_info: option must be in [1, %zu], got %d",
                       OPTION_COUNT, (int)option);
    if (name != NULL)
        *name = r->name;
    if (default_value != NULL)
        *default_value = r->def;
    if (min != NULL)
        *min = r->min;
    if (max != NULL)
        *max = r->max;
    if (flags != NULL)
        *flags = r->flags;
    return PI_OK;
}

double pi_option_default(pi_option option)
{
    const option_row *r = row_of(option);
    return r != NULL ? r->def : 0.0;
}

static int in_range(const option_row *r, double v)
{
    if (isnan(v))
        return 0;
    if ((r->flags & EXCL_MIN) ? !(v > r->min) : !(v >= r->min))
        return 0;
    if ((r->flags & EXCL_MAX) ? !(v < r->max) : !(v <= r->max))
        return 0;
    if ((r->flags & INT) && v != floor(v))
        return 0;
    if ((r->flags & PI_OPTION_EVEN) && fmod(v, 2.0) != 0.0)
        return 0;
    return 1;
}

static pi_status range_error(const option_row *r, const char *func, const char *got)
{
    if (r->values != NULL)
        return pi_fail(PI_EINVAL, "%s: %s must be %s, got %s", func, r->name, r->values, got);
    return pi_fail(PI_EINVAL, "%s: %s must be %sin %c%.15g, %.15g%c, got %s", func, r->name,
                   (r->flags & PI_OPTION_EVEN) ? "even and " : "",
                   (r->flags & EXCL_MIN) ? '(' : '[', r->min, r->max,
                   (r->flags & EXCL_MAX) ? ')' : ']', got);
}

pi_status pi_option_check(pi_option option, double value, const char *func)
{
    const option_row *r = row_of(option);
    if (r == NULL)
        return pi_fail(PI_EINVAL, "%s: unknown option %d", func, (int)option);
    if (in_range(r, value))
        return PI_OK;
    char got[40];
    snprintf(got, sizeof got, "%g", value);
    return range_error(r, func, got);
}

pi_status pi_option_check_u64(pi_option option, uint64_t value, const char *func)
{
    const option_row *r = row_of(option);
    if (r == NULL)
        return pi_fail(PI_EINVAL, "%s: unknown option %d", func, (int)option);
    /* Compare before converting: above 2^53 a double rounds, and 2^53 + 1 would pass a max
     * of 2^53. Only the rows whose range is all of uint64_t (seeds) admit larger values. */
    if (value <= ((uint64_t)1 << 53) ? in_range(r, (double)value) : r->max >= SEED_MAX)
        return PI_OK;
    char got[40];
    snprintf(got, sizeof got, "%llu", (unsigned long long)value);
    return range_error(r, func, got);
}

pi_status pi_option_check_size(pi_option option, size_t value, const char *func)
{
    return pi_option_check_u64(option, (uint64_t)value, func);
}

pi_status pi_option_check_int(pi_option option, int value, const char *func)
{
    return pi_option_check(option, (double)value, func);
}
