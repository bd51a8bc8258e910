/* The action bound on the NLL of the ħ = 1 model (MATH.md §5; Song, Durkan, Murray & Ermon
 * 2021, Thm 3), per data point x:
 *
 *   −log q¹_0(x) ≤ −E[log π(x_T)] + ½ ∫ E[ g² ‖s(x_t,t) + z/σ‖² − g² ‖z/σ‖² − 2 d f ] dt
 *
 * with x_t = α x + σ z. Everything but the first term of the integrand is exact:
 *   ∫ g² E‖z/σ‖² dt = d ∫ g²/σ² dt = d Z,   Z = log σ̃²(T) − log σ̃²(t_min)   (g²/σ² = (log σ̃²)')
 *   ∫ 2 d f dt = 2 d (log α(T) − log α(t_min))
 *   E log π(x_T) = −(d/2) log(2π s²) − (α_T² ‖x‖² + d σ_T²) / (2 s²),   π = N(0, s² I).
 * The remaining term is sampled with t drawn ∝ g²/σ² (log σ̃ uniform; exact inverse CDF):
 *   ½ ∫ g² E‖s + z/σ‖² dt = ½ Z E_q[ σ² ‖s + z/σ‖² ],
 * and σ² ‖s + z/σ‖² = σ² ‖out − target‖² / a² in the model's native view (no cancellation;
 * for an ε-model it is ‖ε − z‖²). */
#include "likelihood_impl.h"
#include "model/dsm.h"

#include "core/philox.h"

#include <string.h>

#define BOUND_BLOCK ((size_t)1024)
#define MAX_SAMPLES ((size_t)1 << 20)
#define BOUND_STEP_BASE ((uint32_t)1 << 30) /* Philox steps distinct from pi_trainer_loss */

pi_status pi_lik_action_bound(const pi_model_t *model, size_t n, const float *data,
                              size_t samples, uint64_t seed, int threads, pi_pool *pool,
                              double *bound, double *stderr_out)
{
    PI_CHECK_NULL(model);
    PI_CHECK_NULL(data);
    PI_CHECK_NULL(bound);
    const size_t d = model->dim;
    size_t total;
    if (n == 0 || !pi_size_mul(n, d, &total))
        return pi_fail(PI_EINVAL, "pi_likelihood_action_bound: n must be in [1, 2^40 / dim], got %zu",
                       n);
    if (samples == 0 || samples > MAX_SAMPLES)
        return pi_fail(PI_EINVAL,
                       "pi_likelihood_action_bound: samples must be in [1, 2^20], got %zu", samples);
    if (n == 1 && samples == 1 && stderr_out != NULL)
        return pi_fail(PI_EINVAL,
                       "pi_likelihood_action_bound: a standard error needs n >= 2 or samples >= 2");
    size_t bad = pi_first_nonfinite_f(data, total);
    if (bad != total)
        return pi_fail(PI_EINVAL,
                       "pi_likelihood_action_bound: data must be finite; row %zu, column %zu is %g",
                       bad / d, bad % d, (double)data[bad]);
    if (threads < 1)
        threads = 1;

    pi_dsm_setup setup;
    pi_status st = pi_dsm_setup_init(&setup, model, PI_WEIGHTING_LIKELIHOOD, PI_TIME_SAMPLING_IMPORTANCE,
                                     0.0, 1.0);
    if (st != PI_OK)
        return st;
    double alpha_min, sigma_min, alpha_max, sigma_max;
    st = pi_sde_eval_marginal(&model->sde, setup.t_min, &alpha_min, &sigma_min);
    if (st == PI_OK)
        st = pi_sde_eval_marginal(&model->sde, setup.t_max, &alpha_max, &sigma_max);
    if (st != PI_OK)
        return st;
    const double prior_std = pi_sde_prior_std_of(&model->sde);
    const double two_pi = 6.283185307179586476925286766559;
    const double z_total = 2.0 * (setup.log_st_max - setup.log_st_min);
    const double dd = (double)d;
    /* The x-independent part of the bound. */
    const double constant = 0.5 * dd * log(two_pi * prior_std * prior_std) +
                            dd * sigma_max * sigma_max / (2.0 * prior_std * prior_std) -
                            0.5 * dd * z_total - dd * (log(alpha_max) - log(alpha_min));

    size_t ws_bytes = pi_model_workspace_bytes(model, BOUND_BLOCK);
    void *ws_raw = pi_malloc(ws_bytes + 64);
    float *z = pi_alloc_array(BOUND_BLOCK * d + 1, sizeof(float));
    float *xt = pi_alloc_array(BOUND_BLOCK * d, sizeof(float));
    float *target = pi_alloc_array(BOUND_BLOCK * d, sizeof(float));
    float *out = pi_alloc_array(BOUND_BLOCK * d, sizeof(float));
    double *t = pi_alloc_array(BOUND_BLOCK, sizeof(double));
    double *scale = pi_alloc_array(BOUND_BLOCK, sizeof(double));
    if (ws_raw == NULL || z == NULL || xt == NULL || target == NULL || out == NULL || t == NULL ||
        scale == NULL)
        st = pi_fail(PI_ENOMEM, "pi_likelihood_action_bound: out of memory");
    pi_eval_ctx ctx = {(void *)(((uintptr_t)ws_raw + 63u) & ~(uintptr_t)63u), ws_bytes, threads,
                       pool, NULL};

    /* Pair p = i·samples + j is point i, draw j; its randomness is (seed, AUX, sample = i,
     * step = base + 2j (time) / base + 2j + 1 (noise)). Per-point sums in double give the
     * per-point estimates; their spread gives the standard error. */
    double sum = 0.0, sum_sq = 0.0, draws_sq = 0.0;
    double point_sum = 0.0, point_sq = 0.0;
    const size_t pairs = n * samples;
    for (size_t start = 0; st == PI_OK && start < pairs; start += BOUND_BLOCK) {
        size_t rows = pairs - start < BOUND_BLOCK ? pairs - start : BOUND_BLOCK;
        for (size_t r = 0; st == PI_OK && r < rows; r++) {
            size_t i = (start + r) / samples, j = (start + r) % samples;
            uint32_t step = BOUND_STEP_BASE + (uint32_t)(2 * j);
            /* Stratified in u: draw j falls in [j, j+1)/samples (unbiased, lower variance). */
            double u = ((double)j + pi_rng_uniform1(seed, PI_STREAM_AUX, i, step, 0)) /
                       (double)samples;
            pi_rng_normal_f(seed, PI_STREAM_AUX, i, step + 1, d, z + r * d);
            double ti, ratio;
            st = pi_dsm_sample_time(&setup, u, 0.0, &ti, &ratio);
            if (st != PI_OK)
                break;
            double alpha, sigma;
            st = pi_sde_eval_marginal(&model->sde, ti, &alpha, &sigma);
            if (st != PI_OK)
                break;
            double a = pi_dsm_view_scale(model->native_view, alpha, sigma);
            t[r] = ti;
            scale[r] = sigma * sigma / (a * a);
            pi_dsm_target(model->native_view, d, data + i * d, z + r * d, alpha, sigma,
                          xt + r * d, target + r * d);
        }
        if (st == PI_OK)
            st = pi_model_eval_ctx(model, model->native_view, rows, xt, t, out, &ctx);
        for (size_t r = 0; st == PI_OK && r < rows; r++) {
            size_t i = (start + r) / samples, j = (start + r) % samples;
            double sq = 0.0;
            for (size_t k = 0; k < d; k++) {
                double e = (double)out[r * d + k] - (double)target[r * d + k];
                sq += e * e;
            }
            double term = 0.5 * z_total * scale[r] * sq; /* one draw of the sampled term */
            if (!isfinite(term)) {
                st = pi_fail(PI_ENUMERIC,
                             "pi_likelihood_action_bound: non-finite model output at point %zu, t = %g",
                             i, t[r]);
                break;
            }
            point_sum += term;
            point_sq += term * term;
            if (j + 1 == samples) {
                const float *x = data + i * d;
                double norm2 = 0.0;
                for (size_t k = 0; k < d; k++)
                    norm2 += (double)x[k] * x[k];
                double mean = point_sum / (double)samples;
                double b = constant +
                           alpha_max * alpha_max * norm2 / (2.0 * prior_std * prior_std) + mean;
                sum += b;
                sum_sq += b * b;
                if (samples > 1)
                    draws_sq += (point_sq - point_sum * mean) / (double)(samples - 1) /
                                (double)samples;
                point_sum = point_sq = 0.0;
            }
        }
    }
    pi_free(ws_raw);
    pi_free(z);
    pi_free(xt);
    pi_free(target);
    pi_free(out);
    pi_free(t);
    pi_free(scale);
    if (st != PI_OK)
        return st;
    double mean = sum / (double)n;
    *bound = mean;
    if (stderr_out != NULL) {
        /* Across points when there are several (this includes the Monte Carlo noise of each
         * point's estimate); for one point, the Monte Carlo error of its estimate. */
        double var = n > 1 ? (sum_sq - sum * mean) / (double)(n - 1) / (double)n : draws_sq;
        *stderr_out = sqrt(var > 0.0 ? var : 0.0);
    }
    return PI_OK;
}
