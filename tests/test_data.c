/* Built-in data sets and data files (lib/data): determinism, the documented geometry and
 * moments of each set, round trips through .npy / .csv / .f32, files written by numpy, and
 * strict rejection of malformed or hostile files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pathint.h"

#ifndef PI_SOURCE_ROOT
#define PI_SOURCE_ROOT "."
#endif

static size_t quick(size_t full, size_t small) { return getenv("PI_TEST_QUICK") ? small : full; }

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/pi_test_data_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *data, size_t bytes)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, bytes, fp), bytes);
    assert_int_equal(fclose(fp), 0);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* ---- generators ------------------------------------------------------------------------ */

static const pi_dataset all_sets[] = {PI_DATASET_SWISS_ROLL, PI_DATASET_GAUSSIANS_25, PI_DATASET_RING_8,
                                      PI_DATASET_MOONS, PI_DATASET_CHECKERBOARD};

static void test_generate_deterministic_prefix(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof all_sets / sizeof all_sets[0]; s++) {
        float a[2 * 300], b[2 * 40], c[2 * 40];
        assert_int_equal(pi_data_generate(all_sets[s], 300, 7, a), PI_OK);
        assert_int_equal(pi_data_generate(all_sets[s], 40, 7, b), PI_OK);
        assert_int_equal(pi_data_generate(all_sets[s], 40, 8, c), PI_OK);
        /* Row i depends only on (seed, i): a prefix of a large draw is a small draw. */
        assert_memory_equal(a, b, sizeof b);
        assert_memory_not_equal(b, c, sizeof b);
        for (size_t i = 0; i < 600; i++)
            assert_true(isfinite(a[i]));
    }
}

static void test_swiss_roll_moments(void **state)
{
    (void)state;
    const size_t n = quick(40000, 4000);
    float *x = malloc(2 * n * sizeof *x);
    assert_non_null(x);
    assert_int_equal(pi_data_generate(PI_DATASET_SWISS_ROLL, n, 1, x), PI_OK);
    /* Exact moments: t ~ U[1.5π, 4.5π]; x = (t cos t + 0.5 z1)/6.865, y = (t sin t + 0.5 z2)/6.865. */
    const double pi = 3.14159265358979323846, scale = 6.865;
    double ex = 0, ey = 0, ex2 = 0, ey2 = 0;
    const int grid = 200000;
    for (int k = 0; k < grid; k++) {
        double t = 1.5 * pi * (1.0 + 2.0 * (k + 0.5) / grid);
        ex += t * cos(t) / grid;
        ey += t * sin(t) / grid;
        ex2 += (t * cos(t) * t * cos(t) + 0.25) / grid;
        ey2 += (t * sin(t) * t * sin(t) + 0.25) / grid;
    }
    ex /= scale;
    ey /= scale;
    ex2 /= scale * scale;
    ey2 /= scale * scale;
    double mx = 0, my = 0, mx2 = 0, my2 = 0, rmax = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i], v = x[2 * i + 1];
        mx += u / n;
        my += v / n;
        mx2 += u * u / n;
        my2 += v * v / n;
        double r = sqrt(u * u + v * v) * scale;
        if (r > rmax)
            rmax = r;
    }
    double se_x = sqrt((ex2 - ex * ex) / n), se_y = sqrt((ey2 - ey * ey) / n);
    assert_true(fabs(mx - ex) < 5 * se_x);
    assert_true(fabs(my - ey) < 5 * se_y);
    /* Second moments within 5 % (the fourth moments are bounded, the sample is large). */
    assert_true(fabs(mx2 / ex2 - 1) < 0.05);
    assert_true(fabs(my2 / ey2 - 1) < 0.05);
    /* The roll's radius is t ≤ 4.5π plus noise. */
    assert_true(rmax < 4.5 * pi + 0.5 * 6.0 * sqrt(2.0));
    free(x);
}

static void test_gaussians_25_geometry(void **state)
{
    (void)state;
    const size_t n = quick(25000, 2500);
    float *x = malloc(2 * n * sizeof *x);
    assert_non_null(x);
    assert_int_equal(pi_data_generate(PI_DATASET_GAUSSIANS_25, n, 3, x), PI_OK);
    size_t count[25] = {0};
    double var = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i] * 2.828, v = x[2 * i + 1] * 2.828;
        double cu = 2 * round(u / 2), cv = 2 * round(v / 2);
        assert_true(fabs(cu) <= 4 && fabs(cv) <= 4);
        assert_true(fabs(u - cu) < 0.4 && fabs(v - cv) < 0.4); /* 8 std */
        var += ((u - cu) * (u - cu) + (v - cv) * (v - cv)) / (2.0 * n);
        count[(int)((cv + 4) / 2) * 5 + (int)((cu + 4) / 2)]++;
    }
    assert_true(fabs(sqrt(var) / 0.05 - 1) < 0.05);
    /* Multinomial counts: each within 5 standard deviations of n/25. */
    double p = 1.0 / 25, sd = sqrt(n * p * (1 - p));
    for (int k = 0; k < 25; k++)
        assert_true(fabs((double)count[k] - n * p) < 5 * sd);
    free(x);
}

static void test_ring_moons_checkerboard_geometry(void **state)
{
    (void)state;
    const size_t n = quick(10000, 1000);
    float *x = malloc(2 * n * sizeof *x);
    assert_non_null(x);
    const double pi = 3.14159265358979323846;

    assert_int_equal(pi_data_generate(PI_DATASET_RING_8, n, 5, x), PI_OK);
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i] * 1.414, v = x[2 * i + 1] * 1.414;
        double angle = atan2(v, u), k = round(angle / (pi / 4));
        double du = u - 2 * cos(k * pi / 4), dv = v - 2 * sin(k * pi / 4);
        assert_true(sqrt(du * du + dv * dv) < 0.02 * 8);
    }

    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, n, 5, x), PI_OK);
    size_t upper = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i] + 0.5, v = x[2 * i + 1] + 0.25;
        /* distance to the upper arc (unit circle, y ≥ 0) or the lower arc (centre (1, 0.5)) */
        double d1 = fabs(sqrt(u * u + v * v) - 1), d2 = fabs(hypot(u - 1, v - 0.5) - 1);
        assert_true((d1 < 0.4 && v > -0.4) || (d2 < 0.4 && v < 0.9));
        upper += d1 < d2;
    }
    assert_true(fabs((double)upper / n - 0.5) < 0.1);

    assert_int_equal(pi_data_generate(PI_DATASET_CHECKERBOARD, n, 5, x), PI_OK);
    size_t cells[8] = {0};
    for (size_t i = 0; i < n; i++) {
        double u = x[2 * i], v = x[2 * i + 1];
        assert_true(u >= -4 && u < 4 && v >= -4 && v < 4);
        long cu = (long)floor(u / 2), cv = (long)floor(v / 2);
        assert_int_equal(((cu + cv) % 2 + 2) % 2, 0); /* the "black" squares only */
        cells[(cu + 2) * 2 + (cv + 2) / 2]++;
    }
    for (int k = 0; k < 8; k++)
        assert_true(fabs((double)cells[k] / n - 0.125) < 0.05);
    free(x);
}

static void test_generate_bad_arguments(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4};
    assert_int_equal(pi_data_generate((pi_dataset)0, 2, 0, x), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "dataset"));
    assert_int_equal(pi_data_generate((pi_dataset)6, 2, 0, x), PI_EINVAL);
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, 0, 0, x), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "n must be"));
    assert_int_equal(pi_data_generate(PI_DATASET_MOONS, 2, 0, NULL), PI_EINVAL);
    assert_true(x[0] == 1 && x[3] == 4);
}

/* ---- files ----------------------------------------------------------------------------- */

static void test_round_trip_all_formats(void **state)
{
    (void)state;
    const char *names[] = {"a.npy", "a.csv", "a.f32", "A.NPY"};
    const size_t n = 257, dim = 3;
    float data[257 * 3];
    for (size_t i = 0; i < n * dim; i++) /* awkward values: tiny, huge, negative, exact */
        data[i] = (float)(i % 7 == 0 ? 1e-30 * i : i % 7 == 1 ? -3.0e30 / (i + 1)
                          : sin((double)i) * pow(10.0, (double)(i % 13) - 6));
    data[5] = 0.0f;
    data[6] = -0.0f;
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        char path[128];
        tmp_path(path, sizeof path, names[f]);
        assert_int_equal(pi_data_save(path, n, dim, data), PI_OK);
        float *back = NULL;
        size_t bn = 0, bd = 0;
        assert_int_equal(pi_data_load(path, &back, &bn, &bd), PI_OK);
        assert_int_equal(bn, n);
        assert_int_equal(bd, dim);
        for (size_t i = 0; i < n * dim; i++)
            assert_true(back[i] == data[i]); /* bitwise up to the sign of zero */
        pi_free(back);
    }
}

/* A file written by numpy 1.24 (tests/fuzz/corpus/data_npy/), float64, 2-D. */
static void test_load_numpy_written_file(void **state)
{
    (void)state;
    float *x = NULL;
    size_t n = 0, dim = 0;
    assert_int_equal(pi_data_load(PI_SOURCE_ROOT "/tests/fuzz/corpus/data_npy/numpy_f8_4x2.npy",
                                  &x, &n, &dim),
                     PI_OK);
    assert_int_equal(n, 4);
    assert_int_equal(dim, 2);
    const float expect[8] = {0.0f, 1.0f, 2.5f, -3.0f, 1e-3f, 1e3f, -0.125f, 7.0f};
    for (int i = 0; i < 8; i++)
        assert_true(x[i] == expect[i]);
    pi_free(x);
    assert_int_equal(pi_data_load(PI_SOURCE_ROOT "/tests/fuzz/corpus/data_npy/numpy_f4_5.npy", &x,
                                  &n, &dim),
                     PI_OK);
    assert_int_equal(n, 5);
    assert_int_equal(dim, 1);
    for (int i = 0; i < 5; i++)
        assert_true(x[i] == (float)i * 0.5f);
    pi_free(x);
}

/* Build a .npy file by hand with the given version and header dictionary. */
static size_t make_npy(unsigned char *buf, int major, const char *dict, const void *data,
                       size_t data_bytes)
{
    size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(len & 0xff);
    buf[9] = (unsigned char)(len >> 8);
    if (major != 1) {
        buf[10] = 0;
        buf[11] = 0;
    }
    memcpy(buf + pre, dict, len);
    memcpy(buf + pre + len, data, data_bytes);
    return pre + len + data_bytes;
}

static void test_npy_variants_and_rejections(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "h.npy");
    unsigned char buf[512];
    double d[6] = {1, 2, 3, 4, 5, 6};
    float *x = (float *)0x1, *keep = x;
    size_t n = 99, dim = 99;

    /* v2.0, float64, shape (3, 2) with keys in another order, trailing comma-less. */
    size_t len = make_npy(buf, 2, "{'shape': (3, 2), 'fortran_order': False, 'descr': '<f8'}\n",
                          d, sizeof d);
    write_bytes(path, buf, len);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 2);
    assert_true(x[5] == 6.0f);
    pi_free(x);

    struct {
        const char *dict;
        size_t bytes;
        const char *message;
    } bad[] = {
        {"{'descr': '>f8', 'fortran_order': False, 'shape': (3, 2), }\n", 48, "dtype"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }\n", 48, "dtype"},
        {"{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }\n", 48, "fortran"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 1), }\n", 48, "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n", 48, "1-D or 2-D"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }\n", 40, "data bytes"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 0), }\n", 0, "empty"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 2), }\n", 48,
         "data bytes"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (184467440737095516150, 2), }\n",
         48, "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': 1}\n", 48, "key"},
        {"{'descr': '<f8' 'fortran_order': False}\n", 48, "dictionary"},
        {"['descr']\n", 48, "dictionary"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = make_npy(buf, 1, bad[i].dict, d, bad[i].bytes);
        write_bytes(path, buf, len);
        x = keep;
        n = dim = 99;
        assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
        if (strstr(pi_last_error(), bad[i].message) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, pi_last_error(), bad[i].message);
        assert_true(x == keep && n == 99 && dim == 99);
    }
    /* Header length pointing past the end; version 9; a NaN value. */
    len = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", d, 8);
    buf[9] = 0x7f;
    write_bytes(path, buf, len);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    buf[9] = 0;
    buf[6] = 9;
    write_bytes(path, buf, len);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "version"));
    double nan_row[2] = {1.0, NAN};
    len = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
                   nan_row, sizeof nan_row);
    write_bytes(path, buf, len);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "row 1"));
    double huge[1] = {1e300}; /* finite double, not a finite float */
    len = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", huge,
                   sizeof huge);
    write_bytes(path, buf, len);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_true(x == keep);
}

static void test_csv_parsing(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "c.csv");
    float *x = NULL;
    size_t n = 0, dim = 0;

    write_text(path, "x,y\r\n1,2\r\n\r\n -3.5e1 , +.25\r\n1e-3,4.\r\n");
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 2);
    const float expect[6] = {1, 2, -35, 0.25f, 1e-3f, 4};
    for (int i = 0; i < 6; i++)
        assert_true(x[i] == expect[i]);
    pi_free(x);

    write_text(path, "0.1\n0.2\n0.3"); /* one column, no final newline */
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 1);
    assert_true(x[2] == 0.3f);
    pi_free(x);

    float *keep = (float *)0x1;
    struct {
        const char *text, *message;
    } bad[] = {
        {"1,2\n3,4\n5\n", "line 3 (data row 2) has 1 columns"},
        {"a,b\n1,2\n3,x\n", "line 3 (data row 1), column 1 is not a number"},
        {"1,2\n3,nan\n", "column 1 is not a number"},
        {"1,2\n3,1e60\n", "not a finite float32"},
        {"1,2\n3,4e\n", "not a number"},
        {"1,2\n3,,\n", "columns"},
        {"a,b\n", "no data rows"},
        {"", "no data rows"},
        {"1,2\n3,--4\n", "not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        x = keep;
        n = dim = 7;
        assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
        if (strstr(pi_last_error(), bad[i].message) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, pi_last_error(), bad[i].message);
        assert_true(x == keep && n == 7 && dim == 7);
    }
    write_bytes(path, "1,2\n\0,3\n", 8);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
}

/* Issue 20, point 4: a first line that fails to parse was dropped as a header with PI_OK,
 * losing a data row; a header is a line of names, a BOM is skipped, '<f4\0' is not '<f4'. */
static void test_first_line_is_never_dropped(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "first.csv");
    float *x = NULL;
    size_t n = 0, dim = 0;
    /* A UTF-8 byte-order mark before numbers: all three rows are kept. */
    write_text(path, "\xEF\xBB\xBF" "1.5,2\n3,4\n5,6\n");
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_int_equal(n, 3);
    assert_true(x[0] == 1.5f && x[5] == 6.0f);
    pi_free(x);
    /* ... and before a header of (quoted, non-ASCII, underscore) names. */
    write_text(path, "\xEF\xBB\xBF\"x\", _y2 ,gr\xC3\xB6\xC3\x9F" "e\n1,2,3\n");
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_int_equal(n, 1);
    assert_int_equal(dim, 3);
    pi_free(x);
    float *keep = (float *)0x1;
    struct {
        const char *text, *message;
    } bad[] = {
        {"nan,1\n3,4\n", "line 1, column 0 is neither a number nor a column name"},
        {"1,-inf\n3,4\n", "line 1, column 1 is neither"},
        {"1,Infinity\n3,4\n", "line 1, column 1 is neither"},
        {"\"1.5\",2\n3,4\n", "line 1, column 0 is neither"},
        {"1,,2\n3,4,5\n", "line 1, column 1 is neither"},
        {"0x10,2\n3,4\n", "line 1, column 0 is neither"},
        {"\xEF\xBC\x91,2\n3,4\n", "line 1, column 0 is neither"}, /* full-width 1 */
        {"\n\nx,\n3,4\n", "line 3, column 1 is neither"},
        {"\xEF\xBB\xBF\xEF\xBB\xBF" "1,2\n", "line 1, column 0 is neither"}, /* two BOMs */
        {"x,1\n3,4\n", "line 1 mixes numbers and column names (column 1 is a number)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        x = keep;
        n = dim = 7;
        assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
        if (strstr(pi_last_error(), bad[i].message) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, pi_last_error(), bad[i].message);
        assert_true(x == keep && n == 7 && dim == 7);
    }
    /* .npy: a descr with an embedded NUL is not '<f4'. */
    tmp_path(path, sizeof path, "nul.npy");
    unsigned char buf[256];
    const float one[2] = {1.0f, 2.0f};
    static const char dict[] = "{'descr': '<f4\0', 'fortran_order': False, 'shape': (2,), }";
    size_t len = sizeof dict - 1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)len;
    buf[9] = 0;
    memcpy(buf + 10, dict, len);
    memcpy(buf + 10 + len, one, sizeof one);
    write_bytes(path, buf, 10 + len + sizeof one);
    x = keep;
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "descr"));
    assert_true(x == keep);
}

static void test_f32_rejections(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "r.f32");
    unsigned char buf[64] = "PIF32\0\0\0";
    float *x = (float *)0x1;
    size_t n = 5, dim = 5;
    /* Forged shape (2^40 rows) in a 40-byte file: rejected before any allocation. */
    memset(buf + 8, 0, 16);
    buf[8 + 5] = 1;
    buf[16] = 2;
    write_bytes(path, buf, 40);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    /* Rows × cols that overflow size_t. */
    memset(buf + 8, 0xff, 16);
    write_bytes(path, buf, 40);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    /* Truncated header, zero rows, bad magic. */
    write_bytes(path, buf, 12);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    memset(buf + 8, 0, 16);
    buf[16] = 1;
    write_bytes(path, buf, 24);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    buf[0] = 'X';
    write_bytes(path, buf, 24);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "magic"));
    assert_true(x == (float *)0x1 && n == 5 && dim == 5);
}

static void test_load_save_bad_arguments(void **state)
{
    (void)state;
    char path[128];
    float *x = NULL;
    size_t n, dim;
    float data[4] = {1, 2, 3, 4};
    tmp_path(path, sizeof path, "missing.npy");
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EIO);
    assert_int_equal(pi_data_load(NULL, &x, &n, &dim), PI_EINVAL);
    assert_int_equal(pi_data_load(path, NULL, &n, &dim), PI_EINVAL);
    tmp_path(path, sizeof path, "x.txt");
    write_text(path, "1,2\n");
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_EFORMAT);
    assert_non_null(strstr(pi_last_error(), "unknown data format"));
    assert_int_equal(pi_data_save(path, 2, 2, data), PI_EINVAL);
    tmp_path(path, sizeof path, "y.npy");
    assert_int_equal(pi_data_save(path, 0, 2, data), PI_EINVAL);
    assert_int_equal(pi_data_save(path, 2, 0, data), PI_EINVAL);
    assert_int_equal(pi_data_save(path, 2, 2, NULL), PI_EINVAL);
    data[3] = INFINITY;
    assert_int_equal(pi_data_save(path, 2, 2, data), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "row 1, column 1"));
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    data[3] = 4;
    /* A failing save (directory missing) leaves no file; an existing file survives a failing
     * save untouched (the data are validated before anything is written). */
    assert_int_equal(pi_data_save("/nonexistent-dir-pi/z.npy", 2, 2, data), PI_EIO);
    assert_int_equal(pi_data_save(path, 2, 2, data), PI_OK);
    data[0] = NAN;
    assert_int_equal(pi_data_save(path, 2, 2, data), PI_EINVAL);
    assert_int_equal(pi_data_load(path, &x, &n, &dim), PI_OK);
    assert_true(n == 2 && dim == 2 && x[0] == 1.0f);
    pi_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_deterministic_prefix),
        cmocka_unit_test(test_swiss_roll_moments),
        cmocka_unit_test(test_gaussians_25_geometry),
        cmocka_unit_test(test_ring_moons_checkerboard_geometry),
        cmocka_unit_test(test_generate_bad_arguments),
        cmocka_unit_test(test_round_trip_all_formats),
        cmocka_unit_test(test_load_numpy_written_file),
        cmocka_unit_test(test_npy_variants_and_rejections),
        cmocka_unit_test(test_csv_parsing),
        cmocka_unit_test(test_first_line_is_never_dropped),
        cmocka_unit_test(test_f32_rejections),
        cmocka_unit_test(test_load_save_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
