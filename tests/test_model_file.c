/* Model files: bitwise round trips (mixture, empirical, MLP when built), every corrupted byte
 * and every truncation rejected, forged sizes rejected without allocation, and failed saves
 * that leave the previous file intact. Set PI_WRITE_CORPUS=<dir> to also write small valid
 * files there (the fuzz seed corpus in tests/fuzz/corpus/model_load/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gmm_fixtures.h"
#include "model/model_impl.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pi_model_file_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (dir != NULL) {
        struct dirent *e;
        char path[600];
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            chmod(path, 0700);
            if (remove(path) != 0) {
                /* a sub-directory with files */
                DIR *sub = opendir(path);
                if (sub != NULL) {
                    struct dirent *f;
                    char inner[900];
                    while ((f = readdir(sub)) != NULL)
                        if (f->d_name[0] != '.') {
                            snprintf(inner, sizeof inner, "%s/%s", path, f->d_name);
                            remove(inner);
                        }
                    closedir(sub);
                    remove(path);
                }
            }
        }
        closedir(dir);
    }
    rmdir(tmpdir);
    return 0;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const unsigned char *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (size > 0)
        assert_int_equal(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

static pi_sde_t *make_sde(pi_sde_kind kind)
{
    pi_sde_t *sde = NULL;
    if (kind == PI_SDE_KIND_DISCRETE) /* Stable Diffusion's table, zero terminal SNR */
        assert_int_equal(pi_sde_create_beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR, 1000, 0.00085,
                                                     0.012, PI_BETA_FLAG_ZERO_TERMINAL_SNR, &sde),
                         PI_OK);
    else
        assert_int_equal(pi_sde_create(kind, &sde), PI_OK);
    return sde;
}

static void maybe_write_corpus(const char *name, const char *src)
{
    const char *dir = getenv("PI_WRITE_CORPUS");
    if (dir == NULL)
        return;
    size_t size;
    unsigned char *data = slurp(src, &size);
    char dst[512];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    spit(dst, data, size);
    free(data);
}

/* Save, load, compare evaluations bitwise, save again and compare bytes. */
static void check_round_trip(pi_model_t *m, const char *name)
{
    char p1[512], p2[512], again[128];
    path_of(p1, sizeof p1, name);
    snprintf(again, sizeof again, "%.100s.again", name);
    path_of(p2, sizeof p2, again);
    assert_int_equal(pi_model_save(m, p1), PI_OK);
    pi_model_t *back = NULL;
    assert_int_equal(pi_model_load(p1, &back), PI_OK);
    pi_model_kind k1, k2;
    size_t d1, d2;
    const pi_sde_t *s1, *s2;
    assert_int_equal(pi_model_get_kind(m, &k1), PI_OK);
    assert_int_equal(pi_model_get_kind(back, &k2), PI_OK);
    assert_int_equal(k1, k2);
    assert_int_equal(pi_model_get_dim(m, &d1), PI_OK);
    assert_int_equal(pi_model_get_dim(back, &d2), PI_OK);
    assert_int_equal(d1, d2);
    assert_int_equal(pi_model_get_sde(m, &s1), PI_OK);
    assert_int_equal(pi_model_get_sde(back, &s2), PI_OK);
    assert_true(pi_sde_equal(s1, s2));
    const size_t n = 9;
    float *x = malloc(n * d1 * sizeof *x), *a = malloc(n * d1 * sizeof *a),
          *b = malloc(n * d1 * sizeof *b);
    double t_min, t_max, *t = malloc(n * sizeof *t);
    assert_int_equal(pi_sde_time_range(s1, &t_min, &t_max), PI_OK);
    for (size_t i = 0; i < n * d1; i++)
        x[i] = (float)sin(0.7 * (double)i);
    for (size_t i = 0; i < n; i++)
        t[i] = t_min + (t_max - t_min) * (0.05 + 0.9 * (double)i / (double)n);
    for (int view = PI_VIEW_SCORE; view <= PI_VIEW_FLOW; view++) {
        assert_int_equal(pi_model_eval(m, (pi_view)view, n, x, t, a), PI_OK);
        assert_int_equal(pi_model_eval(back, (pi_view)view, n, x, t, b), PI_OK);
        assert_memory_equal(a, b, n * d1 * sizeof *a);
    }
    assert_int_equal(pi_model_save(back, p2), PI_OK);
    size_t z1, z2;
    unsigned char *f1 = slurp(p1, &z1), *f2 = slurp(p2, &z2);
    assert_int_equal(z1, z2);
    assert_memory_equal(f1, f2, z1);
    maybe_write_corpus(name, p1);
    free(f1); free(f2); free(x); free(a); free(b); free(t);
    pi_model_destroy(back);
    remove(p2);
}

static void test_round_trip_gmm(void **state)
{
    (void)state;
    const pi_sde_kind kinds[7] = {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE, PI_SDE_KIND_EDM,
                                  PI_SDE_KIND_RECTIFIED_FLOW, PI_SDE_KIND_DISCRETE};
    for (int k = 0; k < 7; k++) {
        gmm_fixture f;
        assert_int_equal(gmm_fixture_random(&f, 2 + (size_t)k, 3, 40 + (uint64_t)k, 1.0, 0.0, 0.2), 0);
        pi_sde_t *sde = make_sde(kinds[k]);
        /* non-default parameters travel too */
        switch (kinds[k]) {
        case PI_SDE_KIND_VP_LINEAR: assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_BETA_MAX, 15.0), PI_OK); break;
        case PI_SDE_KIND_VE: assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 30.0), PI_OK); break;
        case PI_SDE_KIND_EDM:
            assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MAX, 120.0), PI_OK);
            assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_SIGMA_MIN, 100.0), PI_OK);
            break;
        case PI_SDE_KIND_RECTIFIED_FLOW: assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MAX, 0.9999), PI_OK); break;
        case PI_SDE_KIND_DISCRETE: assert_int_equal(pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.02), PI_OK); break;
        default: break;
        }
        pi_model_t *m = gmm_fixture_model(&f, sde);
        assert_non_null(m);
        char name[64];
        snprintf(name, sizeof name, "gmm_sde%d.pim", (int)kinds[k]);
        check_round_trip(m, name);
        pi_model_destroy(m);
        pi_sde_destroy(sde);
        gmm_fixture_free(&f);
    }
}

static void test_round_trip_empirical(void **state)
{
    (void)state;
    const size_t n = 13, d = 3;
    float y[39];
    for (size_t i = 0; i < n * d; i++)
        y[i] = (float)cos(1.3 * (double)i);
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_COSINE);
    pi_model_t *m;
    assert_int_equal(pi_model_create_empirical(sde, d, n, y, &m), PI_OK);
    check_round_trip(m, "empirical.pim");
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

static void test_round_trip_mlp(void **state)
{
    (void)state;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR);
    pi_model_t *m = NULL;
    if (pi_model_create_mlp(sde, 2, 8, 2, &m) != PI_OK) {
        pi_sde_destroy(sde);
        skip(); /* the MLP kind is not built in this tree */
    }
    assert_int_equal(pi_model_mlp_init(m, 12345), PI_OK);
    check_round_trip(m, "mlp.pim");
    size_t np, np2;
    assert_int_equal(pi_model_get_num_params(m, &np), PI_OK);
    assert_true(np > 0);
    char p[512];
    path_of(p, sizeof p, "mlp.pim");
    pi_model_t *back;
    assert_int_equal(pi_model_load(p, &back), PI_OK);
    assert_int_equal(pi_model_get_num_params(back, &np2), PI_OK);
    assert_int_equal(np, np2);
    float *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    assert_int_equal(pi_model_get_params(m, np, a, NULL), PI_OK);
    assert_int_equal(pi_model_get_params(back, np, b, NULL), PI_OK);
    assert_memory_equal(a, b, np * sizeof *a);
    free(a);
    free(b);
    pi_model_destroy(back);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

/* A small valid file image. */
static unsigned char *small_file(size_t *size)
{
    const double w[2] = {0.25, 0.75}, mu[2] = {-1.0, 2.0}, var[2] = {0.1, 0.0};
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VE);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 1, 2, w, mu, var, &m), PI_OK);
    char p[512];
    path_of(p, sizeof p, "small.pim");
    assert_int_equal(pi_model_save(m, p), PI_OK);
    maybe_write_corpus("gmm_small.pim", p);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    return slurp(p, size);
}

static void test_every_corrupted_byte(void **state)
{
    (void)state;
    size_t size;
    unsigned char *good = small_file(&size);
    char p[512];
    path_of(p, sizeof p, "corrupt.pim");
    const unsigned char flips[2] = {0x01, 0xFF};
    for (size_t off = 0; off < size; off++)
        for (int f = 0; f < 2; f++) {
            good[off] ^= flips[f];
            spit(p, good, size);
            pi_model_t *m = (pi_model_t *)0x1;
            pi_status st = pi_model_load(p, &m);
            if (st != PI_EFORMAT)
                fail_msg("byte %zu ^ 0x%02x: status %d (%s)", off, flips[f], st, pi_last_error());
            assert_true(m == (pi_model_t *)0x1);
            assert_true(strlen(pi_last_error()) > 10);
            good[off] ^= flips[f];
        }
    free(good);
}

static void test_every_truncation(void **state)
{
    (void)state;
    size_t size;
    unsigned char *good = small_file(&size);
    char p[512];
    path_of(p, sizeof p, "truncated.pim");
    for (size_t len = 0; len < size; len++) {
        spit(p, good, len);
        pi_model_t *m = NULL;
        assert_int_equal(pi_model_load(p, &m), PI_EFORMAT);
        assert_null(m);
    }
    /* trailing garbage too */
    unsigned char *longer = malloc(size + 3);
    memcpy(longer, good, size);
    memset(longer + size, 0, 3);
    spit(p, longer, size + 3);
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_load(p, &m), PI_EFORMAT);
    free(longer);
    free(good);
}

/* Rewrite a field and fix the checksum so only the semantic checks can reject it. */
static void forge(unsigned char *img, size_t size, size_t off, const void *bytes, size_t n)
{
    memcpy(img + off, bytes, n);
    uint64_t c = pi_checksum64(img, size - 8, 0);
    for (int i = 0; i < 8; i++)
        img[size - 8 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

static void expect_forged(unsigned char *good, size_t size, size_t off, const void *bytes,
                          size_t n, const char *word)
{
    unsigned char *img = malloc(size);
    memcpy(img, good, size);
    forge(img, size, off, bytes, n);
    char p[512];
    path_of(p, sizeof p, "forged.pim");
    spit(p, img, size);
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_load(p, &m), PI_EFORMAT);
    if (strstr(pi_last_error(), word) == NULL)
        fail_msg("message '%s' does not mention '%s'", pi_last_error(), word);
    assert_null(m);
    free(img);
}

static void test_forged_fields(void **state)
{
    (void)state;
    size_t size;
    unsigned char *good = small_file(&size);
    const unsigned char huge8[8] = {0, 0, 0, 0, 0, 0, 0, 0x10}; /* 2^60 */
    const unsigned char big_dim[8] = {0, 0, 0, 0, 1, 0, 0, 0};  /* 2^32 */
    const unsigned char v2[4] = {3, 0, 0, 0}, kind9[4] = {9, 0, 0, 0}, kind4[4] = {4, 0, 0, 0};
    const unsigned char sde6[4] = {6, 0, 0, 0}, one4[4] = {1, 0, 0, 0};
    const unsigned char k_huge[8] = {0, 0, 0, 0, 0, 1, 0, 0};   /* 2^40 components */
    double nan = NAN, neg = -1.0, inf = INFINITY;
    expect_forged(good, size, 0, "PATHINX", 7, "magic");
    expect_forged(good, size, 8, v2, 4, "version");
    expect_forged(good, size, 12, kind9, 4, "kind 9");
    expect_forged(good, size, 12, kind4, 4, "kind 4");
    expect_forged(good, size, 16, big_dim, 8, "dimension");
    expect_forged(good, size, 24, sde6, 4, "SDE kind 6");
    expect_forged(good, size, 28, one4, 4, "reserved");
    expect_forged(good, size, 32 + 8 * 3, &nan, 8, "sigma_min");  /* VE σ_min = NaN */
    expect_forged(good, size, 32 + 8 * 3, &neg, 8, "sigma_min");  /* out of range */
    expect_forged(good, size, 32 + 8 * 0, &inf, 8, "beta_min");   /* not finite */
    expect_forged(good, size, 32 + 8 * 1, &neg, 8, "beta_max");   /* not a VE parameter */
    expect_forged(good, size, 96, huge8, 8, "payload length");
    expect_forged(good, size, 104, k_huge, 8, "components");
    /* payload values: weights (104 + 8), means, variances */
    expect_forged(good, size, 112, &nan, 8, "weights");
    expect_forged(good, size, 112, &neg, 8, "weights");
    expect_forged(good, size, 128 + 8, &inf, 8, "means");
    expect_forged(good, size, 144 + 8, &neg, 8, "vars");
    expect_forged(good, size, 144, &nan, 8, "vars");
    double w_sum = 0.9; /* weights no longer sum to 1 */
    expect_forged(good, size, 112, &w_sum, 8, "sum to 1");
    free(good);
}

static void test_failed_save_keeps_previous(void **state)
{
    (void)state;
    const double w = 1.0, mu = 0.5, var = 0.2, mu2 = -3.0;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_EDM);
    pi_model_t *a, *b;
    assert_int_equal(pi_model_create_gmm(sde, 1, 1, &w, &mu, &var, &a), PI_OK);
    assert_int_equal(pi_model_create_gmm(sde, 1, 1, &w, &mu2, &var, &b), PI_OK);
    char missing[512];
    path_of(missing, sizeof missing, "no/such/dir/model.pim");
    assert_int_equal(pi_model_save(a, missing), PI_EIO);
    assert_non_null(strstr(pi_last_error(), "no/such/dir"));
    /* read-only directory with an existing file */
    char dir[512], p[600];
    path_of(dir, sizeof dir, "ro");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(p, sizeof p, "%s/model.pim", dir);
    assert_int_equal(pi_model_save(a, p), PI_OK);
    size_t before_size;
    unsigned char *before = slurp(p, &before_size);
    assert_int_equal(chmod(dir, 0500), 0);
    if (access(dir, W_OK) == 0) {
        /* running as root: permissions do not bind; the missing-directory case above stands */
        chmod(dir, 0700);
    } else {
        assert_int_equal(pi_model_save(b, p), PI_EIO);
        size_t after_size;
        unsigned char *after = slurp(p, &after_size);
        assert_int_equal(before_size, after_size);
        assert_memory_equal(before, after, before_size);
        free(after);
        chmod(dir, 0700);
    }
    /* saving onto a directory name fails and leaves no temporary behind */
    assert_int_not_equal(pi_model_save(b, dir), PI_OK);
    DIR *dd = opendir(tmpdir);
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        assert_null(strstr(e->d_name, ".tmp."));
    closedir(dd);
    pi_model_t *back;
    assert_int_equal(pi_model_load(p, &back), PI_OK);
    double x = 0.1, s1, s2;
    assert_int_equal(pi_model_score_d(a, &x, 1.0, &s1), PI_OK);
    assert_int_equal(pi_model_score_d(back, &x, 1.0, &s2), PI_OK);
    assert_true(s1 == s2);
    free(before);
    pi_model_destroy(back);
    pi_model_destroy(a);
    pi_model_destroy(b);
    pi_sde_destroy(sde);
}

static int host(size_t n, size_t dim, const float *x, const double *t, float *out, void *u)
{
    (void)t;
    (void)u;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = -x[i];
    return 0;
}

static int custom_marginal(double t, double *alpha, double *sigma, double *da, double *ds, void *u)
{
    (void)u;
    *alpha = 1.0;
    *sigma = t;
    *da = 0.0;
    *ds = 1.0;
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    pi_sde_t *sde = make_sde(PI_SDE_KIND_VP_LINEAR), *custom;
    pi_model_t *m;
    char p[512];
    path_of(p, sizeof p, "unsupported.pim");
    assert_int_equal(pi_model_create_callback(sde, 2, PI_VIEW_SCORE, host, NULL, &m), PI_OK);
    assert_int_equal(pi_model_save(m, p), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), "host-callback"));
    assert_int_equal(access(p, F_OK), -1);
    pi_model_destroy(m);
    assert_int_equal(pi_sde_create_custom(0.01, 1.0, custom_marginal, NULL, NULL, &custom), PI_OK);
    const double w = 1.0, mu = 0.0, var = 1.0;
    assert_int_equal(pi_model_create_gmm(custom, 1, 1, &w, &mu, &var, &m), PI_OK);
    assert_int_equal(pi_model_save(m, p), PI_EUNSUPPORTED);
    assert_non_null(strstr(pi_last_error(), "custom"));
    assert_int_equal(pi_model_save(NULL, p), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "model"));
    assert_int_equal(pi_model_save(m, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "path"));
    assert_int_equal(pi_model_save(m, ""), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "path"));
    pi_model_destroy(m);
    pi_model_t *out = NULL;
    assert_int_equal(pi_model_load(NULL, &out), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "path"));
    assert_int_equal(pi_model_load(p, NULL), PI_EINVAL);
    assert_non_null(strstr(pi_last_error(), "out"));
    assert_int_equal(pi_model_load(p, &out), PI_EIO);
    assert_non_null(strstr(pi_last_error(), "unsupported.pim"));
    assert_null(out);
    pi_sde_destroy(custom);
    pi_sde_destroy(sde);
}

/* Issue 14: a discrete SDE's table travels in a version-2 frame; forged tables are refused. */
static void test_discrete_table_frame(void **state)
{
    (void)state;
    const double abar[4] = {0.99, 0.7, 0.2, 0.01}, w[1] = {1.0}, mu[1] = {0.5}, var[1] = {0.2};
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create_discrete(abar, 4, &sde), PI_OK);
    pi_model_t *m;
    assert_int_equal(pi_model_create_gmm(sde, 1, 1, w, mu, var, &m), PI_OK);
    char p[512];
    path_of(p, sizeof p, "discrete.pim");
    assert_int_equal(pi_model_save(m, p), PI_OK);
    maybe_write_corpus("gmm_discrete.pim", p);
    size_t size;
    unsigned char *good = slurp(p, &size);
    assert_int_equal(good[8], 2); /* format version 2 */
    assert_int_equal(size, 104 + 8 + 4 * 8 + (8 + 8 * 3) + 8);
    double got;
    memcpy(&got, good + 104 + 8 + 8, 8); /* little-endian hosts: ᾱ_1 as stored */
    assert_true(got == 0.7);
    const double up = 0.995, nan = NAN;
    const unsigned char v1[4] = {1, 0, 0, 0}, n_huge[8] = {0, 0, 0, 0, 1, 0, 0, 0};
    const unsigned char vp_kind[4] = {1, 0, 0, 0};
    expect_forged(good, size, 104 + 8 + 8, &up, 8, "SDE table");   /* not decreasing */
    expect_forged(good, size, 104 + 8 + 16, &nan, 8, "SDE table"); /* NaN */
    expect_forged(good, size, 104, n_huge, 8, "table length");
    expect_forged(good, size, 8, v1, 4, "payload length");          /* table read as payload */
    expect_forged(good, size, 24, vp_kind, 4, "not discrete");
    free(good);
    /* A version-1 file (any other SDE) that claims the discrete kind has no table. */
    good = small_file(&size);
    const unsigned char kind8[4] = {8, 0, 0, 0};
    expect_forged(good, size, 24, kind8, 4, "table");
    free(good);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
    remove(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_gmm),
        cmocka_unit_test(test_round_trip_empirical),
        cmocka_unit_test(test_round_trip_mlp),
        cmocka_unit_test(test_every_corrupted_byte),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_forged_fields), cmocka_unit_test(test_discrete_table_frame),
        cmocka_unit_test(test_failed_save_keeps_previous),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
