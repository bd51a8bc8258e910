/* Which BLIS kernels the process runs (lib/core/blis_kernels.c, issue 17). One binary, three
 * runs from meson with different environments (argv[1] names the case):
 *   default      on a CPU with AVX-512 the library runs BLIS's AVX-512 "skx" kernels: the
 *                context every pathint call uses (bli_gks_query_cntx(), what a NULL context
 *                means) has skx's sgemm register blocking, 32 x 12, and an optimised kernel;
 *   detected     PATHINT_BLIS_ARCH=detected: the process runs what BLIS alone detects, read
 *                from a BLIS-only program (argv[2]) in the same environment;
 *   environment  BLIS_ARCH_TYPE=3 set by the user: kept (haswell, 6 x 16) and left in place.
 * The CPU is read here with the compiler's own CPUID code, not pathint's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "pathint.h"

static const char *mode = "default";
static const char *detect_program = NULL;

static int cpu_runs_skx(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static dim_t sgemm_blocking(bszid_t which)
{
    return bli_cntx_get_blksz_def_dt(BLIS_FLOAT, which, bli_gks_query_cntx());
}

/* A product through pi_sgemm is right whatever kernels run (odd sizes reach the edge cases). */
static void check_sgemm_result(void)
{
    enum { M = 37, N = 29, K = 53 };
    static float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 5) % 13) - 6.0f;
    pi_sgemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N, 2);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float ref = 0; /* small integers: exact in float whatever the order */
            for (int p = 0; p < K; p++)
                ref += a[i * K + p] * b[p * N + j];
            assert_true(c[i * N + j] == ref);
        }
}

static void test_default_runs_best_kernels(void **state)
{
    (void)state;
    assert_null(getenv("BLIS_ARCH_TYPE")); /* pathint put the environment back */
    if (cpu_runs_skx() && bli_info_get_simd_size() >= 64) {
        assert_string_equal(pi_blis_kernels(), "skx");
        assert_string_equal(pi_blis_kernel_choice(), "pathint");
        assert_int_equal(bli_arch_query_id(), BLIS_ARCH_SKX);
        assert_int_equal(sgemm_blocking(BLIS_MR), 32);
        assert_int_equal(sgemm_blocking(BLIS_NR), 12);
        assert_string_equal(bli_gks_l3_ukr_impl_string(BLIS_GEMM_UKR, BLIS_NAT, BLIS_FLOAT),
                            bli_info_get_gemm_ukr_impl_string(BLIS_NAT, BLIS_FLOAT));
        assert_string_not_equal(bli_info_get_gemm_ukr_impl_string(BLIS_NAT, BLIS_FLOAT), "refrnce");
    } else {
        print_message("no AVX-512 here (or BLIS without it): BLIS's own choice, %s\n", pi_blis_kernels());
        assert_string_equal(pi_blis_kernel_choice(), "detected");
    }
    check_sgemm_result();
}

static void test_opt_out_runs_detected(void **state)
{
    (void)state;
    assert_non_null(detect_program);
    FILE *p = popen(detect_program, "r");
    assert_non_null(p);
    char detected[64] = "";
    assert_non_null(fgets(detected, sizeof detected, p));
    assert_int_equal(pclose(p), 0);
    detected[strcspn(detected, "\n")] = '\0';
    assert_string_equal(pi_blis_kernel_choice(), "detected");
    assert_string_equal(pi_blis_kernels(), detected);
    print_message("BLIS alone detects %s; pathint with the opt-out runs %s\n", detected, pi_blis_kernels());
    check_sgemm_result();
}

static void test_user_environment_wins(void **state)
{
    (void)state;
    const char *set = getenv("BLIS_ARCH_TYPE");
    assert_non_null(set); /* never removed when the user set it */
    assert_string_equal(set, "3");
    assert_string_equal(pi_blis_kernel_choice(), "environment");
    assert_string_equal(pi_blis_kernels(), "haswell");
    assert_int_equal(sgemm_blocking(BLIS_MR), 6);
    assert_int_equal(sgemm_blocking(BLIS_NR), 16);
    check_sgemm_result();
}

static void test_reports(void **state)
{
    (void)state;
    assert_string_equal(pi_blis_version(), bli_info_get_version_str());
    const char *t = pi_blis_threading();
    assert_true(!strcmp(t, "pthreads") || !strcmp(t, "openmp") || !strcmp(t, "none"));
    assert_true(pi_cpu_count() >= 1);
    __builtin_cpu_init();
    static const struct {
        const char *name;
        int have;
    } expect[] = {{"sse2", 0}, {"sse4.1", 0}, {"avx", 0}, {"fma", 0}, {"avx2", 0},
                  {"avx512f", 0}, {"avx512dq", 0}, {"avx512bw", 0}, {"avx512vl", 0}};
    int have[9] = {__builtin_cpu_supports("sse2"),     __builtin_cpu_supports("sse4.1"),
                   __builtin_cpu_supports("avx"),      __builtin_cpu_supports("fma"),
                   __builtin_cpu_supports("avx2"),     __builtin_cpu_supports("avx512f"),
                   __builtin_cpu_supports("avx512dq"), __builtin_cpu_supports("avx512bw"),
                   __builtin_cpu_supports("avx512vl")};
    for (size_t i = 0; i < 9; i++) {
        const char *name = NULL;
        int supported = -1;
        assert_int_equal(pi_cpu_feature_at(i, &name, &supported), PI_OK);
        assert_string_equal(name, expect[i].name);
        assert_int_equal(supported != 0, have[i] != 0);
    }
    const char *name = NULL;
    int supported = 0;
    assert_int_equal(pi_cpu_feature_at(9, &name, &supported), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "past the end"));
}

int main(int argc, char **argv)
{
    if (argc > 1)
        mode = argv[1];
    if (argc > 2)
        detect_program = argv[2];
    const struct CMUnitTest common[] = {cmocka_unit_test(test_reports)};
    if (!strcmp(mode, "detected")) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_opt_out_runs_detected)};
        return cmocka_run_group_tests(tests, NULL, NULL) | cmocka_run_group_tests(common, NULL, NULL);
    }
    if (!strcmp(mode, "environment")) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_user_environment_wins)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_default_runs_best_kernels)};
    return cmocka_run_group_tests(tests, NULL, NULL) | cmocka_run_group_tests(common, NULL, NULL);
}
