/* The action bound of MATH.md §5 (lib/train/bound.c) on exact Gaussian-mixture models.
 *
 * For a model whose score is the exact score of its own diffused mixture q, the reverse SDE
 * (ħ = 1) started from π generates q up to the prior mismatch, and the bound's path KL is 0:
 * per point, bound(x) = −log q_0(x) + (prior term, ~α_T² ≈ 4e-5 nats here) + (t_min smoothing,
 * ~σ²(t_min)/v ≈ 1e-3 nats here). So the bound must match the exact −log q_0(x) point by
 * point within its Monte Carlo error, for points from the mixture and far from it, and for a
 * model that does not match the data. A model with a wrong score pays the action on top. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmm_fixtures.h"
#include "pathint.h"

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

/* Per-point bound against the exact −log q_0 of the model's own mixture. */
static void check_pointwise(pi_sde_kind kind, size_t dim, uint64_t seed)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, dim, 3, seed, 1.0, 0.05, 0.3), 0);
    pi_model_t *m = gmm_fixture_model(&f, sde);
    assert_non_null(m);
    const size_t points = quick() ? 4 : 12, samples = quick() ? 2000 : 6000;
    float *x = malloc(points * dim * sizeof *x);
    assert_non_null(x);
    gmm_fixture_sample(&f, points, seed + 1, x);
    for (size_t j = 0; j < dim; j++) /* one point far from every component */
        x[j] = 2.5f;
    double gap_sum = 0.0, gap_var = 0.0;
    for (size_t i = 0; i < points; i++) {
        double bound, se, xd[16];
        assert_int_equal(fixture_action_bound(m, 1, x + i * dim, samples, 100 + i, &bound, &se),
                         PI_OK);
        for (size_t j = 0; j < dim; j++)
            xd[j] = x[i * dim + j];
        double nll = -gmm_fixture_logpdf(&f, xd, 1.0, 0.0);
        double gap = bound - nll;
        if (fabs(gap) > 5.0 * se + 0.02)
            fail_msg("kind %d point %zu: bound %.4f vs -log q0 %.4f (gap %.4f, se %.4f)", (int)kind,
                     i, bound, nll, gap, se);
        gap_sum += gap;
        gap_var += se * se;
    }
    double mean_gap = gap_sum / points, mean_se = sqrt(gap_var) / points;
    print_message("kind %d, d = %zu: mean(bound + log q0) = %.4f +- %.4f nats over %zu points\n",
                  (int)kind, dim, mean_gap, mean_se, points);
    assert_true(fabs(mean_gap) < 4.0 * mean_se + 0.01);
    free(x);
    pi_model_destroy(m);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

static void test_bound_equals_exact_nll_pointwise(void **state)
{
    (void)state;
    check_pointwise(PI_SDE_KIND_VP_LINEAR, 2, 3);
    check_pointwise(PI_SDE_KIND_VP_COSINE, 3, 4);
    check_pointwise(PI_SDE_KIND_SUBVP, 2, 5);
}

/* Data from mixture A, model: mixture B with the same means and wider components. The bound
 * still matches −log q_B (the model is exact for B), so averaged over A's samples it is the
 * cross-entropy, above A's entropy by KL(A‖B) > 0; and it is independent of the seed within
 * the reported error. */
static void test_bound_of_mismatched_model(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    gmm_fixture a, b;
    assert_int_equal(gmm_fixture_random(&a, 2, 2, 7, 1.0, 0.05, 0.1), 0);
    assert_int_equal(gmm_fixture_random(&b, 2, 2, 7, 1.0, 0.05, 0.1), 0);
    for (size_t i = 0; i < 4; i++)
        b.vars[i] *= 3.0;
    pi_model_t *ma = gmm_fixture_model(&a, sde), *mb = gmm_fixture_model(&b, sde);
    assert_non_null(ma);
    assert_non_null(mb);
    const size_t n = quick() ? 50 : 400, samples = quick() ? 20 : 50;
    float *x = malloc(n * 2 * sizeof *x);
    assert_non_null(x);
    gmm_fixture_sample(&a, n, 9, x);
    double ent = 0.0, cross = 0.0;
    for (size_t i = 0; i < n; i++) {
        double xd[2] = {x[2 * i], x[2 * i + 1]};
        ent -= gmm_fixture_logpdf(&a, xd, 1.0, 0.0) / n;
        cross -= gmm_fixture_logpdf(&b, xd, 1.0, 0.0) / n;
    }
    double bound_a, se_a, bound_b, se_b, bound_b2, se_b2;
    assert_int_equal(fixture_action_bound(ma, n, x, samples, 1, &bound_a, &se_a), PI_OK);
    assert_int_equal(fixture_action_bound(mb, n, x, samples, 1, &bound_b, &se_b), PI_OK);
    assert_int_equal(fixture_action_bound(mb, n, x, samples, 2, &bound_b2, &se_b2), PI_OK);
    print_message("entropy %.4f, bound(A) %.4f +- %.4f; cross-entropy %.4f, bound(B) %.4f +- "
                  "%.4f\n",
                  ent, bound_a, se_a, cross, bound_b, se_b);
    /* The standard error is over points, so it includes the spread of −log q itself: the
     * comparison with the exact value on the same points is much tighter than 4 se. */
    assert_true(fabs(bound_a - ent) < 4.0 * se_a);
    assert_true(fabs(bound_b - cross) < 4.0 * se_b);
    assert_true(cross > ent + 0.1);
    assert_true(fabs(bound_b - bound_b2) < 4.0 * sqrt(se_b * se_b + se_b2 * se_b2));
    /* Deterministic in the seed. */
    double again;
    assert_int_equal(fixture_action_bound(mb, n, x, samples, 1, &again, NULL), PI_OK);
    assert_true(again == bound_b);
    free(x);
    pi_model_destroy(ma);
    pi_model_destroy(mb);
    gmm_fixture_free(&a);
    gmm_fixture_free(&b);
    pi_sde_destroy(sde);
}

/* A model whose score is wrong by a factor pays the action ½∫g² E‖s_θ − ∇log p_t‖² dt > 0:
 * its bound exceeds the exact model's on the same data. */
typedef struct scaled_score {
    pi_model_t *exact;
    double factor;
} scaled_score;

static int scaled_fn(size_t n, size_t dim, const float *x, const double *t, float *out,
                     void *user_data)
{
    const scaled_score *s = user_data;
    if (pi_model_eval(s->exact, PI_VIEW_SCORE, n, x, t, out) != PI_OK)
        return 1;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = (float)(out[i] * s->factor);
    return 0;
}

static void test_wrong_score_pays_the_action(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    gmm_fixture f;
    assert_int_equal(gmm_fixture_random(&f, 2, 3, 11, 1.0, 0.05, 0.3), 0);
    pi_model_t *exact = gmm_fixture_model(&f, sde);
    assert_non_null(exact);
    scaled_score s = {exact, 1.3};
    pi_model_t *wrong = NULL;
    assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_SCORE, scaled_fn, &s, &wrong),
                     PI_OK);
    const size_t n = quick() ? 30 : 200;
    float *x = malloc(n * 2 * sizeof *x);
    assert_non_null(x);
    gmm_fixture_sample(&f, n, 12, x);
    double b_exact, b_wrong, se1, se2;
    assert_int_equal(fixture_action_bound(exact, n, x, 30, 5, &b_exact, &se1), PI_OK);
    assert_int_equal(fixture_action_bound(wrong, n, x, 30, 5, &b_wrong, &se2), PI_OK);
    print_message("bound exact %.4f, score x 1.3 %.4f\n", b_exact, b_wrong);
    assert_true(b_wrong > b_exact + 0.05);
    free(x);
    pi_model_destroy(wrong);
    pi_model_destroy(exact);
    gmm_fixture_free(&f);
    pi_sde_destroy(sde);
}

static void test_bound_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    double w = 1, mu[2] = {0, 0}, var[2] = {1, 1};
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_gmm(sde, 2, 1, &w, mu, var, &m), PI_OK);
    float x[4] = {0, 1, NAN, 0};
    double bound = 7, se = 7;
    assert_int_equal(fixture_action_bound(NULL, 1, x, 4, 0, &bound, &se), PI_EINVAL);
    assert_int_equal(fixture_action_bound(m, 0, x, 4, 0, &bound, &se), PI_EINVAL);
    assert_int_equal(fixture_action_bound(m, 1, x, 0, 0, &bound, &se), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "samples"));
    assert_int_equal(fixture_action_bound(m, 2, x, 4, 0, &bound, &se), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "row 1"));
    assert_int_equal(fixture_action_bound(m, 1, x, 1, 0, &bound, &se), PI_EINVAL);
    assert_int_equal(fixture_action_bound(m, 1, x, 4, 0, NULL, &se), PI_EINVAL);
    assert_true(bound == 7 && se == 7);
    /* A standard normal model at the standard normal prior: the bound is −log N(x; 0, I)
     * up to the t_min smoothing. */
    assert_int_equal(fixture_action_bound(m, 1, x, 2000, 0, &bound, &se), PI_OK);
    double exact = log(2 * M_PI) + 0.5;
    assert_true(fabs(bound - exact) < 5 * se + 0.01);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_equals_exact_nll_pointwise),
        cmocka_unit_test(test_bound_of_mismatched_model),
        cmocka_unit_test(test_wrong_score_pays_the_action),
        cmocka_unit_test(test_bound_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
