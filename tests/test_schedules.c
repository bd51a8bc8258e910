/* Schedules: each generator's defining property on every built-in SDE, strict decrease,
 * exact endpoints, custom arrays (and run_from inside one), and GITS (valid array, and fewer
 * endpoint errors than uniform λ at equal steps on a 2-D mixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pathint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double W[3] = {0.3, 0.5, 0.2};
static const double MU[6] = {-1.0, 0.5, 1.0, 1.0, 0.2, -1.2};
static const double VAR[6] = {0.02, 0.05, 0.03, 0.02, 0.04, 0.03};

static pi_sampler_t *make(pi_sde_kind kind, pi_sde_t **sde, pi_model_t **model)
{
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sde_create(kind, sde), PI_OK);
    assert_int_equal(pi_model_create_gmm(*sde, 2, 3, W, MU, VAR, model), PI_OK);
    assert_int_equal(pi_sampler_create(*model, &s), PI_OK);
    return s;
}

static void release(pi_sampler_t *s, pi_sde_t *sde, pi_model_t *model)
{
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
}

static void test_named_schedules(void **state)
{
    (void)state;
    const pi_sde_kind kinds[] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE,
                                 PI_SDE_KIND_EDM};
    for (size_t k = 0; k < 5; k++) {
        pi_sde_t *sde;
        pi_model_t *model;
        pi_sampler_t *s = make(kinds[k], &sde, &model);
        double t_min, t_max;
        assert_int_equal(pi_sde_time_range(sde, &t_min, &t_max), PI_OK);
        const size_t N = 17;
        double t[18], sig[18], lam[18];
        size_t count;
        for (int sched = PI_SCHEDULE_UNIFORM_T; sched <= PI_SCHEDULE_UNIFORM_LAMBDA; sched++) {
            assert_int_equal(pi_sampler_set_steps(s, N), PI_OK);
            assert_int_equal(pi_sampler_set_schedule(s, (pi_schedule)sched, 7.0), PI_OK);
            assert_int_equal(pi_sampler_get_times(s, 18, t, &count), PI_OK);
            assert_int_equal(count, N + 1);
            assert_true(t[0] == t_max);
            assert_true(t[N] == t_min);
            for (size_t i = 0; i <= N; i++) {
                assert_int_equal(pi_sde_sigma_tilde(sde, t[i], &sig[i], &lam[i]), PI_OK);
                if (i > 0)
                    assert_true(t[i] < t[i - 1]);
            }
            for (size_t i = 1; i < N; i++) {
                double u = (double)i / N;
                if (sched == PI_SCHEDULE_UNIFORM_T)
                    assert_true(fabs(t[i] - (t_max + u * (t_min - t_max))) < 1e-14);
                if (sched == PI_SCHEDULE_KARRAS) {
                    double a = pow(sig[0], 1.0 / 7), b = pow(sig[N], 1.0 / 7);
                    double expect = pow(a + u * (b - a), 7);
                    assert_true(fabs(sig[i] - expect) <= 1e-9 * expect);
                }
                if (sched == PI_SCHEDULE_UNIFORM_LAMBDA) {
                    double expect = lam[0] + u * (lam[N] - lam[0]);
                    assert_true(fabs(lam[i] - expect) <= 1e-9 * (1.0 + fabs(expect)));
                }
            }
        }
        /* Karras with another ρ, and a time range. */
        assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_KARRAS, 3.0), PI_OK);
        double mid = 0.5 * (t_min + t_max);
        assert_int_equal(pi_sampler_set_time_range(s, mid, t_min), PI_OK);
        assert_int_equal(pi_sampler_get_times(s, 18, t, &count), PI_OK);
        assert_true(t[0] == mid);
        for (size_t i = 0; i <= N; i++)
            assert_int_equal(pi_sde_sigma_tilde(sde, t[i], &sig[i], NULL), PI_OK);
        double a = pow(sig[0], 1.0 / 3), b = pow(sig[N], 1.0 / 3);
        assert_true(fabs(sig[5] - pow(a + 5.0 / N * (b - a), 3)) <= 1e-9 * sig[5]);
        release(s, sde, model);
    }
}

static void test_custom_and_run_from(void **state)
{
    (void)state;
    pi_sde_t *sde;
    pi_model_t *model;
    pi_sampler_t *s = make(PI_SDE_KIND_VP_LINEAR, &sde, &model);
    const double custom[6] = {1.0, 0.6, 0.3, 0.1, 0.02, 1e-3};
    assert_int_equal(pi_sampler_set_times(s, custom, 6), PI_OK);
    double t[8];
    size_t count, nfe;
    assert_int_equal(pi_sampler_get_times(s, 8, t, &count), PI_OK);
    assert_int_equal(count, 6);
    assert_memory_equal(t, custom, sizeof custom);
    float x[20];
    assert_int_equal(pi_sampler_run(s, 10, x), PI_OK);
    assert_int_equal(pi_sampler_get_stats(s, &nfe, NULL, NULL), PI_OK);
    assert_int_equal(nfe, 5);
    /* From t = 0.45 the steps below 0.45 are kept: 0.45, 0.3, 0.1, 0.02, 1e-3. */
    assert_int_equal(pi_sampler_run_from(s, 0.45, 10, x), PI_OK);
    assert_int_equal(pi_sampler_get_stats(s, &nfe, NULL, NULL), PI_OK);
    assert_int_equal(nfe, 4);
    /* set_steps leaves the custom schedule for uniform λ. */
    assert_int_equal(pi_sampler_set_steps(s, 3), PI_OK);
    assert_int_equal(pi_sampler_get_times(s, 8, t, &count), PI_OK);
    assert_int_equal(count, 4);
    /* ... and PI_SCHEDULE_CUSTOM brings the array back. */
    assert_int_equal(pi_sampler_set_schedule(s, PI_SCHEDULE_CUSTOM, 7.0), PI_OK);
    assert_int_equal(pi_sampler_get_times(s, 8, t, &count), PI_OK);
    assert_int_equal(count, 6);
    release(s, sde, model);
}

static double endpoint_error(pi_sampler_t *s, const float *x0, const float *ref, size_t n)
{
    float *x = malloc(n * 2 * sizeof *x);
    memcpy(x, x0, n * 2 * sizeof *x);
    assert_int_equal(pi_sampler_run_from(s, 1.0, n, x), PI_OK);
    double e = 0.0;
    for (size_t i = 0; i < n * 2; i++)
        e += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
    free(x);
    return sqrt(e / (double)(n * 2));
}

static void test_gits(void **state)
{
    (void)state;
    pi_sde_t *sde;
    pi_model_t *model;
    pi_sampler_t *s = make(PI_SDE_KIND_VP_LINEAR, &sde, &model);
    const size_t n = 256, N = 6;
    float *x0 = malloc(n * 2 * sizeof *x0), *ref = malloc(n * 2 * sizeof *ref);
    assert_int_equal(pi_sde_prior_sample(sde, n, 2, 99, x0), PI_OK);
    memcpy(ref, x0, n * 2 * sizeof *ref);
    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_RK45), PI_OK);
    assert_int_equal(pi_sampler_set_tolerances(s, 1e-8, 1e-8), PI_OK);
    assert_int_equal(pi_sampler_run_from(s, 1.0, n, ref), PI_OK);

    double times[7];
    assert_int_equal(pi_sampler_gits(s, N, 120, 64, times), PI_OK);
    assert_true(times[0] == 1.0);
    assert_true(times[N] == 1e-3);
    for (size_t i = 1; i <= N; i++)
        assert_true(times[i] < times[i - 1]);

    assert_int_equal(pi_sampler_set_method(s, PI_METHOD_EXP1), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, N), PI_OK);
    double e_uniform = endpoint_error(s, x0, ref, n);
    assert_int_equal(pi_sampler_set_times(s, times, N + 1), PI_OK);
    double e_gits = endpoint_error(s, x0, ref, n);
    printf("  DDIM, %zu steps: uniform-lambda error %.4f, GITS error %.4f\n", N, e_uniform, e_gits);
    printf("  GITS times:");
    for (size_t i = 0; i <= N; i++)
        printf(" %.4g", times[i]);
    printf("\n");
    assert_true(e_gits < e_uniform);

    /* Bad input. */
    assert_int_equal(pi_sampler_gits(s, 0, 100, 10, times), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "steps"));
    assert_int_equal(pi_sampler_gits(s, 10, 5, 10, times), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "fine_steps"));
    assert_int_equal(pi_sampler_gits(s, 5, 100, 0, times), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "n_samples"));
    assert_int_equal(pi_sampler_gits(s, 5, 100, 10, NULL), PI_EINVAL);
    free(x0);
    free(ref);
    release(s, sde, model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_named_schedules),
        cmocka_unit_test(test_custom_and_run_from),
        cmocka_unit_test(test_gits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
