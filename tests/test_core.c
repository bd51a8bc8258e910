/* Status codes, messages, version, allocation helpers, atomic files, parallel loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/core.h"
#include "core/threads.h"
#include "pathint.h"

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(pi_version_number(), PI_VERSION_NUMBER);
    assert_string_equal(pi_version_string(), PI_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", PI_VERSION_MAJOR, PI_VERSION_MINOR, PI_VERSION_PATCH);
    assert_string_equal(buf, PI_VERSION_STRING);
}

static void test_status_strings(void **state)
{
    (void)state;
    assert_string_equal(pi_status_string(PI_OK), "ok");
    assert_string_equal(pi_status_string(PI_ENOMEM), "out of memory");
    assert_string_equal(pi_status_string(12345), "unknown status");
    assert_string_equal(pi_status_string(1), "unknown status");
    /* The documented values (include/pathint.h, PI_DOXYGEN block) are the compiled ones. */
    assert_int_equal(PI_EINVAL, -1);
    assert_int_equal(PI_ENOMEM, -2);
    assert_int_equal(PI_EUNSUPPORTED, -3);
    assert_int_equal(PI_EIO, -4);
    assert_int_equal(PI_EFORMAT, -5);
    assert_int_equal(PI_ECALLBACK, -6);
    assert_int_equal(PI_ECANCELED, -7);
    assert_int_equal(PI_ENUMERIC, -8);
    assert_int_equal(PI_ENOCONVERGE, -9);
    assert_int_equal(PI_EMISMATCH, -10);
    assert_int_equal(PI_EBUSY, -11);
    /* Every listed code has a distinct non-empty message and a distinct non-positive value. */
    int values[] = {
#define V_(name, value, message) value,
        PI_STATUS_LIST(V_)
#undef V_
    };
    size_t count = sizeof values / sizeof values[0];
    for (size_t i = 0; i < count; i++) {
        assert_true(values[i] <= 0);
        assert_string_not_equal(pi_status_string(values[i]), "unknown status");
        for (size_t j = i + 1; j < count; j++) {
            assert_int_not_equal(values[i], values[j]);
            assert_string_not_equal(pi_status_string(values[i]), pi_status_string(values[j]));
        }
    }
}

static void *thread_fail(void *arg)
{
    (void)arg;
    pi_fail(PI_EINVAL, "from another thread");
    return NULL;
}

#include <pthread.h>
static void test_last_error_thread_local(void **state)
{
    (void)state;
    assert_int_equal(pi_fail(PI_ENUMERIC, "hbar must be >= 0, got %g", -1.0), PI_ENUMERIC);
    assert_string_equal(pi_last_error(), "hbar must be >= 0, got -1");
    pthread_t t;
    pthread_create(&t, NULL, thread_fail, NULL);
    pthread_join(t, NULL);
    assert_string_equal(pi_last_error(), "hbar must be >= 0, got -1");
    /* Long messages are truncated, not overflowed. */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pi_fail(PI_EINVAL, "%s", big);
    assert_true(strlen(pi_last_error()) < 512);
}

static void test_size_mul(void **state)
{
    (void)state;
    size_t out = 7;
    assert_true(pi_size_mul(1000, 1000, &out));
    assert_int_equal(out, 1000000);
    out = 7;
    assert_false(pi_size_mul(SIZE_MAX / 2, 3, &out));
    assert_false(pi_size_mul((size_t)1 << 30, (size_t)1 << 11, &out));
    assert_int_equal(out, 7);
    assert_null(pi_alloc_array(SIZE_MAX / 2, 4));
    void *p = NULL;
    assert_int_equal(pi_alloc_or_fail(&p, SIZE_MAX / 2, 4, "test buffer"), PI_ENOMEM);
    assert_non_null(strstr(pi_last_error(), "test buffer"));
    pi_free(NULL);
}

static void test_nonfinite(void **state)
{
    (void)state;
    float f[4] = {1, 2, NAN, 3};
    double d[3] = {1, INFINITY, 0};
    assert_int_equal(pi_first_nonfinite_f(f, 4), 2);
    assert_int_equal(pi_first_nonfinite_f(f, 2), 2);
    assert_int_equal(pi_first_nonfinite_d(d, 3), 1);
}

static pi_status write_hello(pi_file *file, const void *ctx)
{
    return pi_file_write(file, ctx, strlen(ctx));
}

static pi_status write_then_fail(pi_file *file, const void *ctx)
{
    pi_status st = pi_file_write(file, ctx, strlen(ctx));
    if (st != PI_OK)
        return st;
    return pi_fail(PI_EIO, "simulated failure half-way");
}

static void test_atomic_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/pathint-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/file.bin", dir);
    assert_int_equal(pi_write_file_atomic(path, write_hello, "first"), PI_OK);
    unsigned char *data = NULL;
    size_t size = 0;
    assert_int_equal(pi_read_file(path, 1 << 20, &data, &size), PI_OK);
    assert_int_equal(size, 5);
    assert_memory_equal(data, "first", 5);
    pi_free(data);
    /* A failing writer leaves the previous content and no temporary file. */
    assert_int_equal(pi_write_file_atomic(path, write_then_fail, "second, longer"), PI_EIO);
    assert_int_equal(pi_read_file(path, 1 << 20, &data, &size), PI_OK);
    assert_int_equal(size, 5);
    assert_memory_equal(data, "first", 5);
    pi_free(data);
    /* The size limit is enforced. */
    assert_int_equal(pi_read_file(path, 3, &data, &size), PI_EFORMAT);
    /* Missing directory. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/file.bin", dir);
    assert_int_equal(pi_write_file_atomic(bad, write_hello, "x"), PI_EIO);
    assert_int_equal(pi_read_file(bad, 100, &data, &size), PI_EIO);
    assert_int_equal(pi_write_file_atomic("", write_hello, "x"), PI_EINVAL);
    unlink(path);
    rmdir(dir);
}

static pi_status square_task(size_t task, int worker, void *ctx)
{
    (void)worker;
    double *out = ctx;
    out[task] = (double)task * (double)task;
    return task == 77 ? PI_ENUMERIC : PI_OK;
}

static void test_pool_run(void **state)
{
    (void)state;
    double out[100];
    for (int threads = 1; threads <= 4; threads++) {
        pi_pool *pool = NULL;
        assert_int_equal(pi_pool_create(threads, &pool), PI_OK);
        memset(out, 0, sizeof out);
        assert_int_equal(pi_pool_run(pool, threads, 100, square_task, out), PI_ENUMERIC);
        for (int i = 0; i < 100; i++)
            assert_true(out[i] == (double)i * i);
        assert_int_equal(pi_pool_run(pool, threads, 0, square_task, out), PI_OK);
        pi_pool_destroy(pool);
    }
    memset(out, 0, sizeof out);
    assert_int_equal(pi_pool_run(NULL, 4, 100, square_task, out), PI_ENUMERIC);
    assert_true(out[99] == 99.0 * 99.0);
}

static void test_checksum(void **state)
{
    (void)state;
    assert_true(pi_checksum64("abc", 3, 0) == pi_checksum64("abc", 3, 0));
    assert_true(pi_checksum64("abc", 3, 0) != pi_checksum64("abd", 3, 0));
    assert_true(pi_checksum64("abc", 3, 0) != pi_checksum64("abc", 3, 1));
}

/* The little-endian codec: known byte images (least significant byte first whatever the
 * host's order) and round trips of edge values, floats by bit pattern. */
static void test_codec(void **state)
{
    (void)state;
    unsigned char b[8];
    pi_put_u16(b, 0x1234u);
    assert_int_equal(b[0], 0x34);
    assert_int_equal(b[1], 0x12);
    assert_int_equal(pi_get_u16(b), 0x1234u);
    pi_put_u32(b, 0x01020304u);
    const unsigned char le32[4] = {0x04, 0x03, 0x02, 0x01};
    assert_memory_equal(b, le32, 4);
    assert_true(pi_get_u32(le32) == 0x01020304u);
    pi_put_u64(b, 0x0102030405060708ull);
    const unsigned char le64[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    assert_memory_equal(b, le64, 8);
    assert_true(pi_get_u64(le64) == 0x0102030405060708ull);
    /* 1.0 is 0x3ff0000000000000 (f64) and 0x3f800000 (f32). */
    pi_put_f64(b, 1.0);
    const unsigned char one64[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(b, one64, 8);
    pi_put_f32(b, 1.0f);
    const unsigned char one32[4] = {0, 0, 0x80, 0x3f};
    assert_memory_equal(b, one32, 4);
    const uint64_t u64s[] = {0, 1, 0xffull, 0x8000000000000000ull, UINT64_MAX, 0xdeadbeefcafef00dull};
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
        pi_put_u64(b, u64s[i]);
        assert_true(pi_get_u64(b) == u64s[i]);
        pi_put_u32(b, (uint32_t)u64s[i]);
        assert_true(pi_get_u32(b) == (uint32_t)u64s[i]);
    }
    const double f64s[] = {0.0, -0.0, 1.5e-310, -3.25, 1e308, INFINITY, NAN};
    for (size_t i = 0; i < sizeof f64s / sizeof f64s[0]; i++) {
        pi_put_f64(b, f64s[i]);
        double back = pi_get_f64(b);
        assert_memory_equal(&back, &f64s[i], 8);
        float f = (float)f64s[i];
        pi_put_f32(b, f);
        float fb = pi_get_f32(b);
        assert_memory_equal(&fb, &f, 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_last_error_thread_local), cmocka_unit_test(test_size_mul),
        cmocka_unit_test(test_nonfinite),      cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_pool_run),       cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
