/* Philox4x32-10 known answers (Random123 kat_vectors) and the normal/uniform transforms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/philox.h"

static void test_known_answers(void **state)
{
    (void)state;
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        pi_philox4x32_10(cases[c], cases[c] + 4, out);
        for (int i = 0; i < 4; i++)
            assert_int_equal(out[i], cases[c][6 + i]);
    }
}

static void test_uniform_range(void **state)
{
    (void)state;
    assert_true(pi_u01_from_words(0, 0) > 0.0);
    assert_true(pi_u01_from_words(0xffffffff, 0xffffffff) <= 1.0);
    assert_true(pi_u01_from_words(0xffffffff, 0xffffffff) == 1.0);
}

/* Pure function of (seed, stream, sample, step, element): arrays and single draws agree,
 * and the prefix of a longer array equals a shorter one. */
static void test_pure_function(void **state)
{
    (void)state;
    double a[37], b[10];
    pi_rng_normal_d(42, 1, 7, 3, 37, a);
    pi_rng_normal_d(42, 1, 7, 3, 10, b);
    for (int i = 0; i < 10; i++)
        assert_true(a[i] == b[i]);
    for (int i = 0; i < 37; i++)
        assert_true(a[i] == pi_rng_normal1(42, 1, 7, 3, (uint64_t)i));
    float f[37];
    pi_rng_normal_f(42, 1, 7, 3, 37, f);
    for (int i = 0; i < 37; i++)
        assert_true(f[i] == (float)a[i]);
    double u[9];
    pi_rng_uniform_d(5, 2, 1ull << 40, 9, 9, u);
    for (int i = 0; i < 9; i++)
        assert_true(u[i] == pi_rng_uniform1(5, 2, 1ull << 40, 9, (uint64_t)i));
    /* Different sample / step / stream / seed give different numbers. */
    assert_true(pi_rng_normal1(42, 1, 7, 3, 0) != pi_rng_normal1(42, 1, 8, 3, 0));
    assert_true(pi_rng_normal1(42, 1, 7, 3, 0) != pi_rng_normal1(42, 1, 7, 4, 0));
    assert_true(pi_rng_normal1(42, 1, 7, 3, 0) != pi_rng_normal1(42, 2, 7, 3, 0));
    assert_true(pi_rng_normal1(42, 1, 7, 3, 0) != pi_rng_normal1(43, 1, 7, 3, 0));
    /* The high 24 bits of the sample index matter too. */
    assert_true(pi_rng_normal1(42, 1, 1ull << 33, 3, 0) != pi_rng_normal1(42, 1, 0, 3, 0));
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean, variance and Kolmogorov–Smirnov distance of 2e5 normals, seed 1234.
 * Tolerances: 5 standard errors for mean (sd 1/sqrt(n)) and variance (sd sqrt(2/n));
 * KS critical value at α = 0.001 is 1.95/sqrt(n). */
static void test_normal_statistics(void **state)
{
    (void)state;
    const size_t n = 200000;
    double *z = malloc(n * sizeof *z);
    assert_non_null(z);
    for (size_t i = 0; i < n / 100; i++)
        pi_rng_normal_d(1234, PI_STREAM_AUX, i, 0, 100, z + 100 * i);
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += z[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (z[i] - mean) * (z[i] - mean);
    var /= (double)(n - 1);
    assert_true(fabs(mean) < 5.0 / sqrt((double)n));
    assert_true(fabs(var - 1.0) < 5.0 * sqrt(2.0 / (double)n));
    qsort(z, n, sizeof *z, compare_double);
    double ks = 0.0;
    for (size_t i = 0; i < n; i++) {
        double cdf = 0.5 * erfc(-z[i] / sqrt(2.0));
        double lo = fabs(cdf - (double)i / (double)n), hi = fabs(cdf - (double)(i + 1) / (double)n);
        ks = fmax(ks, fmax(lo, hi));
    }
    assert_true(ks < 1.95 / sqrt((double)n));
    free(z);
}

static void test_uniform_statistics(void **state)
{
    (void)state;
    const size_t n = 100000;
    double *u = malloc(n * sizeof *u);
    assert_non_null(u);
    pi_rng_uniform_d(99, PI_STREAM_AUX, 0, 0, n, u);
    qsort(u, n, sizeof *u, compare_double);
    double ks = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(u[i] > 0.0 && u[i] <= 1.0);
        ks = fmax(ks, fmax(fabs(u[i] - (double)i / (double)n), fabs(u[i] - (double)(i + 1) / (double)n)));
    }
    assert_true(ks < 1.95 / sqrt((double)n));
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),     cmocka_unit_test(test_uniform_range),
        cmocka_unit_test(test_pure_function),     cmocka_unit_test(test_normal_statistics),
        cmocka_unit_test(test_uniform_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
