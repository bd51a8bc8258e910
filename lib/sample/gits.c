/* GITS, geometry-inspired time scheduling (Chen et al. 2024; MATH.md §3): choose `steps` of
 * the `fine_steps` uniform-λ teacher times by dynamic programming.
 *
 * 1. Teacher: n_samples prior draws (the sampler's seed) integrated by EXP2M at ħ = 0 on the
 *    fine grid τ_0 > ... > τ_M, recording x_i and D_i = D(x_i, τ_i).
 * 2. Cost of a coarse step i → j (i < j): the mean over samples of ‖x̂_j − x_j‖, x̂_j one DDIM
 *    (EXP1, ħ = 0) step from the teacher point x_i: x̂_j = α_j [D_i + (σ̃_j/σ̃_i)(x_i/α_i − D_i)].
 * 3. DP: minimise Σ_k γ^(N−k) c(i_(k−1), i_k) over 0 = i_0 < i_1 < ... < i_N = M, with
 *    γ = 1.15. The coefficient is our reading of Chen et al.'s 1.15: an error made at step k is
 *    amplified by about γ per later step, so early (high-noise) steps weigh more. */
#include "sampler_impl.h"

#include <string.h>

#define GITS_GAMMA 1.15
#define GITS_MAX_FINE 4096

pi_status pi_sampler_gits(pi_sampler_t *sampler, size_t steps, size_t fine_steps,
                          size_t n_samples, double *times_out)
{
    PI_CHECK_NULL(sampler);
    PI_CHECK_NULL(times_out);
    if (steps == 0)
        return pi_fail(PI_EINVAL, "pi_sampler_gits: steps must be >= 1, got %zu", steps);
    if (fine_steps < steps || fine_steps > GITS_MAX_FINE)
        return pi_fail(PI_EINVAL, "pi_sampler_gits: fine_steps must be in [steps = %zu, %d], got %zu",
                       steps, GITS_MAX_FINE, fine_steps);
    if (n_samples == 0 || n_samples > ((size_t)1 << 24))
        return pi_fail(PI_EINVAL, "pi_sampler_gits: n_samples must be in [1, 2^24], got %zu",
                       n_samples);
    const pi_sde_t *sde = sampler->sde;
    size_t M = fine_steps, d = sampler->dim, total = n_samples * d, traj_floats;
    if (!pi_size_mul(M + 1, total, &traj_floats))
        return pi_fail(PI_EINVAL, "pi_sampler_gits: fine_steps x n_samples x dim is too large");

    double *grid = pi_alloc_array(M + 1, sizeof *grid);
    double *alpha = pi_alloc_array(M + 1, sizeof *alpha);
    double *sig = pi_alloc_array(M + 1, sizeof *sig);
    double *cost = pi_alloc_array((M + 1) * (M + 1), sizeof *cost);
    double *best = pi_alloc_array((steps + 1) * (M + 1), sizeof *best);
    size_t *from = pi_alloc_array((steps + 1) * (M + 1), sizeof *from);
    float *xs = pi_alloc_array(total, sizeof *xs);
    pi_sampler_t *teacher = NULL;
    pi_status st = PI_OK;
    if (grid == NULL || alpha == NULL || sig == NULL || cost == NULL || best == NULL ||
        from == NULL || xs == NULL) {
        st = pi_fail(PI_ENOMEM, "pi_sampler_gits: out of memory (fine grid of %zu steps)", M);
        goto done;
    }
    st = pi_schedule_fill(sde, PI_SCHEDULE_UNIFORM_LAMBDA, 0.0, sampler->t_start, sampler->t_end,
                          M, grid);
    for (size_t i = 0; st == PI_OK && i <= M; i++) {
        double a, s;
        st = pi_sde_eval_marginal(sde, grid[i], &a, &s);
        alpha[i] = a;
        sig[i] = s / a;
    }
    if (st != PI_OK)
        goto done;

    /* 1. Teacher trajectories. */
    st = pi_sampler_create(sampler->model, &teacher);
    if (st == PI_OK)
        st = pi_sampler_set_method(teacher, PI_METHOD_EXP2M);
    if (st == PI_OK)
        st = pi_sampler_set_times(teacher, grid, M + 1);
    if (st == PI_OK)
        st = pi_sampler_set_seed(teacher, sampler->seed);
    if (st == PI_OK)
        st = pi_sampler_set_threads(teacher, sampler->threads);
    if (st == PI_OK)
        st = pi_sampler_set_trajectory(teacher, 1, 0, NULL, NULL);
    if (st == PI_OK)
        st = pi_sampler_run(teacher, n_samples, xs);
    if (st != PI_OK)
        goto done;
    const float *tx = teacher->traj_x, *td = teacher->traj_d;

    /* 2. Costs of every coarse DDIM step between teacher times. */
    for (size_t i = 0; i < M; i++) {
        const float *xi = tx + i * total, *di = td + i * total;
        for (size_t j = i + 1; j <= M; j++) {
            const float *xj = tx + j * total;
            double r = sig[j] / sig[i], ai = 1.0 / alpha[i], aj = alpha[j], sum = 0.0;
            for (size_t k = 0; k < n_samples; k++) {
                double e2 = 0.0;
                for (size_t c = 0; c < d; c++) {
                    size_t e = k * d + c;
                    double D = di[e];
                    double xh = aj * (D + r * ((double)xi[e] * ai - D));
                    e2 += (xh - xj[e]) * (xh - xj[e]);
                }
                sum += sqrt(e2);
            }
            cost[i * (M + 1) + j] = sum / (double)n_samples;
        }
    }

    /* 3. Dynamic programming over the number of steps taken. */
    for (size_t k = 0; k <= steps; k++)
        for (size_t j = 0; j <= M; j++)
            best[k * (M + 1) + j] = INFINITY;
    best[0] = 0.0;
    for (size_t k = 1; k <= steps; k++) {
        double wk = pow(GITS_GAMMA, (double)(steps - k));
        for (size_t j = k; j <= M; j++) {
            double b = INFINITY;
            size_t arg = 0;
            for (size_t i = k - 1; i < j; i++) {
                double v = best[(k - 1) * (M + 1) + i] + wk * cost[i * (M + 1) + j];
                if (v < b) {
                    b = v;
                    arg = i;
                }
            }
            best[k * (M + 1) + j] = b;
            from[k * (M + 1) + j] = arg;
        }
    }
    if (!isfinite(best[steps * (M + 1) + M])) {
        st = pi_fail(PI_ENUMERIC, "pi_sampler_gits: non-finite cost (teacher diverged?)");
        goto done;
    }
    size_t j = M;
    for (size_t k = steps; k > 0; k--) {
        times_out[k] = grid[j];
        j = from[k * (M + 1) + j];
    }
    times_out[0] = grid[0];

done:
    pi_sampler_destroy(teacher);
    pi_free(grid);
    pi_free(alpha);
    pi_free(sig);
    pi_free(cost);
    pi_free(best);
    pi_free(from);
    pi_free(xs);
    return st;
}
