/* Fuzz regressions (issue 9): every committed seed (tests/fuzz/corpus/<harness>/) and every
 * fixed finding (tests/fuzz/regressions/<harness>/) replayed through the fuzz entry points in
 * an ordinary build, so valgrind and the ASan/UBSan CI build check them on every run.
 *
 * Findings whose bug is still open live in tests/fuzz/findings/ and in the known_bug_* tests
 * below, which only run with PI_TEST_KNOWN_BUGS=1 (they fail until the library is fixed; see
 * docs/benchmarks.md). Once fixed: move the file to tests/fuzz/regressions/<harness>/, rename
 * the test regression_* and drop the environment guard (as for finding 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI_FUZZ_REGRESSIONS 1
#include "fuzz/fuzz_targets.c"

#ifndef PI_SOURCE_ROOT
#define PI_SOURCE_ROOT "."
#endif

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static size_t replay_dir(const char *dir, fuzz_fn fn)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL)
            continue;
        uint8_t *buf = malloc(1 << 20);
        size_t size = fread(buf, 1, 1 << 20, fp);
        fclose(fp);
        assert_int_equal(fn(buf, size), 0);
        free(buf);
        count++;
    }
    closedir(dp);
    return count;
}

static void replay(const char *harness, fuzz_fn fn)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", PI_SOURCE_ROOT, harness);
    size_t seeds = replay_dir(dir, fn);
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", PI_SOURCE_ROOT, harness);
    size_t fixed = replay_dir(dir, fn);
    print_message("%-12s %zu seeds, %zu fixed findings replayed\n", harness, seeds, fixed);
}

static void test_model_load(void **state)
{
    (void)state;
    replay("model_load", pi_fuzz_model_load);
}
static void test_safetensors(void **state)
{
    (void)state;
    replay("safetensors", pi_fuzz_safetensors);
}
static void test_data_csv(void **state)
{
    (void)state;
    replay("data_csv", pi_fuzz_data_csv);
}
static void test_data_npy(void **state)
{
    (void)state;
    replay("data_npy", pi_fuzz_data_npy);
}
static void test_setters(void **state)
{
    (void)state;
    replay("setters", pi_fuzz_setters);
}

/* Finding 1 (fuzz_model_load, now tests/fuzz/regressions/model_load/
 * model_load_empirical_huge_data_nan_exp.pim; fixed in 7ee7d0a):
 * an empirical model whose data are finite but huge (|y| ~ 1e37) makes ‖y‖² overflow to Inf
 * in float, the logits become NaN, and lib/model/empirical.c:58 (exp_nonpositive) converts
 * NaN to int32_t: undefined behaviour (UBSan: "-nan is outside the range of representable
 * values of type 'int'"), and the evaluation returns PI_OK with non-finite output. The same
 * happens through the public API without any file. Expected: finite output or PI_ENUMERIC
 * (or the huge data rejected at creation). */
static void regression_empirical_huge_data(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    float data[6] = {2.7e37f, -1.0f, 0.5f, 3.0e37f, 0.25f, -0.75f};
    pi_model_t *m = NULL;
    pi_status st = pi_model_create_empirical(sde, 2, 3, data, &m);
    if (st == PI_OK) {
        float x[2] = {0.1f, 0.2f}, out[2] = {0, 0};
        double t = 0.3;
        st = pi_model_eval(m, PI_VIEW_DENOISED, 1, x, &t, out);
        if (st == PI_OK)
            assert_true(isfinite(out[0]) && isfinite(out[1]));
        else
            assert_int_equal(st, PI_ENUMERIC);
    }
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* Finding 2 (fuzz_safetensors, 2026-11-25, now tests/fuzz/regressions/safetensors/
 * safetensors_huge_weights_nan_exp.safetensors; fixed in 04d1445): an MLP whose weights are finite but huge
 * (~1e37) overflows its pre-activations to ±Inf, Inf − Inf gives NaN, and lib/nn/dense.c:34
 * (exp_poly, via silu) converts NaN to int32_t: undefined behaviour (UBSan: "nan is outside
 * the range of representable values of type 'int'"); the evaluation returns PI_OK with
 * non-finite output. Reachable without files through pi_model_set_params. Expected: finite
 * output or PI_ENUMERIC (as the mixture and empirical models now do), or such weights
 * rejected when set/loaded. */
static void regression_mlp_huge_weights(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 2, 4, 2, &m), PI_OK);
    size_t np = 0;
    assert_int_equal(pi_model_get_num_params(m, &np), PI_OK);
    float *p = malloc(np * sizeof *p);
    for (size_t i = 0; i < np; i++)
        p[i] = (i % 3 == 0) ? 1.8e37f : -0.7f;
    pi_status st = pi_model_set_params(m, np, p);
    if (st == PI_OK) {
        float x[4] = {0.1f, 0.2f, -0.3f, 0.4f}, out[4] = {0, 0, 0, 0};
        double t[2] = {0.3, 0.7};
        st = pi_model_eval(m, PI_VIEW_DENOISED, 2, x, t, out);
        if (st == PI_OK)
            for (int i = 0; i < 4; i++)
                assert_true(isfinite(out[i]));
        else
            assert_int_equal(st, PI_ENUMERIC);
    }
    free(p);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_load),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_data_csv),
        cmocka_unit_test(test_data_npy),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(regression_empirical_huge_data),
        cmocka_unit_test(regression_mlp_huge_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
