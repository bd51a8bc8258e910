/* Which BLIS kernels the process runs (lib/core/blis_kernels.c, issue 17). One binary, three
 * runs from meson with different environments (argv[1] names the case):
 *   default      on a CPU with AVX-512 the library runs BLIS's AVX-512 "skx" kernels: the
 *                context every pathint call uses (bli_gks_query_cntx(), what a NULL context
 *                means) has skx's sgemm register blocking, 32 x 12, and an optimised kernel;
 *   detected     PATHINT_BLIS_ARCH=detected: the process runs what BLIS alone detects, read
 *                from a BLIS-only program (argv[2]) in the same environment;
 *   environment  BLIS_ARCH_TYPE=3 set by the user: kept (haswell, 6 x 16) and left in place.
 * Every mode also walks pi_blis_decide()'s table on synthetic CPUs and builds (the generic-on-
 * AVX2 case this machine cannot show), and the detected mode checks pi_blis09_detect(), the
 * model of BLIS 0.9's rules, against what BLIS itself picks on this machine.
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

#include "core/blis_kernels.h"
#include "core/cpu.h"
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

/* Synthetic CPUs: what each vector level reports through CPUID + XGETBV. */
static pi_cpu_features cpu(int vendor, unsigned family, unsigned model, int level)
{
    pi_cpu_features f = {0};
    f.vendor = vendor;
    f.family = family;
    f.model = model;
    f.sse2 = f.sse41 = 1;
    f.avx = level >= 1;                            /* 1: AVX (sandybridge) */
    f.fma = level >= 2;                            /* 2: AVX + FMA, no AVX2 (piledriver) */
    f.avx2 = level >= 3;                           /* 3: AVX2 + FMA */
    f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = level >= 4; /* 4: AVX-512 */
    return f;
}

static void test_decision_table(void **state)
{
    (void)state;
    enum { I = PI_CPU_VENDOR_INTEL, A = PI_CPU_VENDOR_AMD, O = PI_CPU_VENDOR_OTHER };
    const int SKX = BLIS_ARCH_SKX, HSW = BLIS_ARCH_HASWELL, NONE = -1;
    const pi_blis_build full = {1, 1, 1};     /* Debian 12's x86_64 family build */
    const pi_blis_build no_hsw = {1, 1, 0};   /* a build without haswell: never ask for it */
    const pi_blis_build no_skx = {1, 0, 1};   /* ... without skx */
    const pi_blis_build not_0_9 = {0, 1, 1};  /* a BLIS whose detection rules are not modelled */
    const struct {
        pi_cpu_features f;
        const pi_blis_build *b;
        const char *opt, *user;
        int want;
    } rows[] = {
        /* AVX-512 on any vendor: skx when built in, whatever BLIS detects */
        {cpu(A, 0x1a, 0x02, 4), &full, NULL, NULL, SKX},   /* Zen 5: BLIS says generic */
        {cpu(A, 0x19, 0x61, 4), &full, NULL, NULL, SKX},   /* Zen 4: BLIS says zen3 */
        {cpu(I, 6, 0x8f, 4), &full, NULL, NULL, SKX},      /* Sapphire Rapids: haswell/skx */
        {cpu(I, 6, 0x8f, 4), &full, "auto", NULL, SKX},
        {cpu(I, 6, 0x8f, 4), &full, "", NULL, SKX},
        {cpu(I, 6, 0x8f, 4), &not_0_9, NULL, NULL, SKX},
        {cpu(A, 0x1a, 0x02, 4), &no_skx, NULL, NULL, HSW}, /* falls to the AVX2 rule */
        {cpu(A, 0x1a, 0x02, 4), &no_skx, NULL, "0", NONE},
        /* AVX2 + FMA, no AVX-512: haswell only where BLIS 0.9 would pick less than AVX2 */
        {cpu(A, 0x1a, 0x00, 3), &full, NULL, NULL, HSW},   /* a family newer than BLIS 0.9 */
        {cpu(O, 0x18, 0x01, 3), &full, NULL, NULL, HSW},   /* Hygon Dhyana: unknown vendor */
        {cpu(O, 7, 0x3b, 3), &full, NULL, NULL, HSW},      /* Zhaoxin KX-6000 */
        {cpu(A, 0x1a, 0x00, 3), &no_hsw, NULL, NULL, NONE}, /* not built in: never asked */
        {cpu(A, 0x1a, 0x00, 3), &not_0_9, NULL, NULL, NONE}, /* unknown rules: left alone */
        {cpu(A, 0x1a, 0x00, 3), &full, "detected", NULL, NONE},
        {cpu(A, 0x1a, 0x00, 3), &full, "anything-else", NULL, NONE},
        {cpu(A, 0x1a, 0x00, 3), &full, NULL, "3", NONE},
        {cpu(A, 0x1a, 0x00, 3), &full, NULL, "", NONE},    /* set, even empty: the user's */
        {cpu(A, 0x19, 0x21, 3), &full, NULL, NULL, NONE},  /* Zen 3: BLIS's zen3 is kept */
        {cpu(A, 0x17, 0x71, 3), &full, NULL, NULL, NONE},  /* Zen 2 */
        {cpu(A, 0x17, 0x01, 3), &full, NULL, NULL, NONE},  /* Zen */
        {cpu(A, 0x15, 0x65, 3), &full, NULL, NULL, NONE},  /* Excavator */
        {cpu(I, 6, 0x3c, 3), &full, NULL, NULL, NONE},     /* Haswell: BLIS's haswell */
        {cpu(I, 6, 0x9e, 3), &full, NULL, NULL, NONE},     /* Kaby Lake */
        /* narrower CPUs: nothing pathint could ask for that they run */
        {cpu(O, 0x18, 0x01, 2), &full, NULL, NULL, NONE},  /* FMA without AVX2 */
        {cpu(A, 0x15, 0x02, 2), &full, NULL, NULL, NONE},  /* Piledriver */
        {cpu(I, 6, 0x2a, 1), &full, NULL, NULL, NONE},     /* Sandy Bridge */
        {cpu(O, 6, 0x0f, 0), &full, NULL, NULL, NONE},     /* SSE only */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int got = pi_blis_decide(&rows[i].f, rows[i].b, rows[i].opt, rows[i].user);
        if (got != rows[i].want)
            print_error("row %zu: got %d, want %d\n", i, got, rows[i].want);
        assert_int_equal(got, rows[i].want);
    }
    /* A CPU whose OS does not save the YMM state reports no AVX2/FMA (cpu.c): nothing asked. */
    pi_cpu_features f = cpu(A, 0x1a, 0x00, 0);
    f.avx2 = 0;
    assert_int_equal(pi_blis_decide(&f, &full, NULL, NULL), NONE);
    /* BLIS 0.9's rules themselves */
    assert_int_equal(pi_blis09_detect(&(pi_cpu_features){0}), BLIS_ARCH_GENERIC);
    pi_cpu_features z5 = cpu(A, 0x1a, 0x02, 4), z3 = cpu(A, 0x19, 0x21, 3), z2 = cpu(A, 0x17, 0x31, 3),
                    z1 = cpu(A, 0x17, 0x08, 3), ex = cpu(A, 0x15, 0x60, 3), hy = cpu(O, 0x18, 0, 3),
                    sk = cpu(I, 6, 0x55, 4), sb = cpu(I, 6, 0x2a, 1);
    assert_int_equal(pi_blis09_detect(&z5), BLIS_ARCH_GENERIC);
    assert_int_equal(pi_blis09_detect(&z3), BLIS_ARCH_ZEN3);
    assert_int_equal(pi_blis09_detect(&z2), BLIS_ARCH_ZEN2);
    assert_int_equal(pi_blis09_detect(&z1), BLIS_ARCH_ZEN);
    assert_int_equal(pi_blis09_detect(&ex), BLIS_ARCH_EXCAVATOR);
    assert_int_equal(pi_blis09_detect(&hy), BLIS_ARCH_GENERIC);
    assert_int_equal(pi_blis09_detect(&sk), BLIS_ARCH_HASWELL);
    assert_int_equal(pi_blis09_detect(&sb), BLIS_ARCH_SANDYBRIDGE);
}

/* The model of BLIS 0.9's rules agrees with BLIS on this machine (run in the opt-out process,
 * where BLIS detected by itself). An AVX-512 Intel CPU is the one case the model leaves open
 * (skx or haswell by BLIS's brand-string FMA count). */
static void test_model_matches_blis_here(void **state)
{
    (void)state;
    pi_cpu_features f;
    pi_cpu_detect(&f);
    bli_init();
    const int blis = (int)bli_arch_query_id(), model = pi_blis09_detect(&f);
    print_message("CPU vendor %d family 0x%x model 0x%x: BLIS detects %s, the model says %s\n", f.vendor,
                  f.family, f.model, bli_arch_string((arch_t)blis), bli_arch_string((arch_t)model));
    if (strncmp(bli_info_get_version_str(), "0.9.", 4) != 0) {
        print_message("BLIS %s is not 0.9.x: the model is not for it\n", bli_info_get_version_str());
        return;
    }
    if (f.vendor == PI_CPU_VENDOR_INTEL && pi_cpu_has_avx512(&f))
        assert_true(blis == BLIS_ARCH_SKX || blis == BLIS_ARCH_HASWELL);
    else
        assert_int_equal(blis, model);
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
    const struct CMUnitTest common[] = {cmocka_unit_test(test_reports), cmocka_unit_test(test_decision_table)};
    if (!strcmp(mode, "detected")) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_opt_out_runs_detected),
                                           cmocka_unit_test(test_model_matches_blis_here)};
        return cmocka_run_group_tests(tests, NULL, NULL) | cmocka_run_group_tests(common, NULL, NULL);
    }
    if (!strcmp(mode, "environment")) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_user_environment_wins),
                                           cmocka_unit_test(test_decision_table)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_default_runs_best_kernels)};
    return cmocka_run_group_tests(tests, NULL, NULL) | cmocka_run_group_tests(common, NULL, NULL);
}
