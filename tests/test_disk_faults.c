/* Disk faults while saving (issue 9): a directory that does not exist, a read-only directory,
 * and a full disk. Every failing save must report the error (PI_EIO with a message naming the
 * path), leave the previous file byte for byte intact, and leave no temporary file behind.
 *
 * "Disk full" is simulated with RLIMIT_FSIZE (writes past the limit fail with EFBIG; SIGXFSZ
 * is ignored), which needs no privileges. /dev/full cannot be used: saves are atomic (write a
 * temporary file next to the target, then rename), so the target's directory must be a real
 * writable one. Read-only directories: chmod 0555 for ordinary users; root ignores file
 * permissions, so as root the read-only case uses a directory of /proc instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pathint.h"

typedef struct saver {
    const char *name;
    const char *ext;
    /* Make the object (version selects the content: 0 = old file, 1 = new content). */
    void *(*make)(int version);
    pi_status (*save)(void *obj, const char *path);
    void (*destroy)(void *obj);
} saver;

static char dir[256];

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *size = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    return buf;
}

static int count_temporaries(const char *d)
{
    DIR *dp = opendir(d);
    if (dp == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(dp);
    return n;
}

/* ---- savers -------------------------------------------------------------------------- */

typedef struct arr {
    size_t n, dim;
    float *data;
} arr;

static void *make_array(int version)
{
    arr *a = malloc(sizeof *a);
    a->n = version ? 4096 : 8;
    a->dim = 3;
    a->data = malloc(a->n * a->dim * sizeof(float));
    for (size_t i = 0; i < a->n * a->dim; i++)
        a->data[i] = (float)i * (version ? 0.5f : 1.0f) + 0.25f;
    return a;
}
static void destroy_array(void *p)
{
    arr *a = p;
    free(a->data);
    free(a);
}
static pi_status save_array(void *p, const char *path)
{
    arr *a = p;
    return pi_data_save(path, a->n, a->dim, a->data);
}

typedef struct trained {
    pi_sde_t *sde;
    pi_model_t *model;
    pi_trainer_t *trainer;
} trained;

static void *make_trainer(int version)
{
    trained *t = calloc(1, sizeof *t);
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &t->sde), PI_OK);
    assert_int_equal(pi_model_create_mlp(t->sde, 2, version ? 64 : 8, 2, &t->model), PI_OK);
    assert_int_equal(pi_trainer_create(t->model, &t->trainer), PI_OK);
    float data[64];
    for (int i = 0; i < 64; i++)
        data[i] = (float)(i % 7) * 0.1f;
    assert_int_equal(pi_trainer_set_batch_size(t->trainer, 16), PI_OK);
    assert_int_equal(pi_trainer_step(t->trainer, 32, data, NULL), PI_OK);
    return t;
}
static void destroy_trainer(void *p)
{
    trained *t = p;
    pi_trainer_destroy(t->trainer);
    pi_model_destroy(t->model);
    pi_sde_destroy(t->sde);
    free(t);
}
static pi_status save_trainer(void *p, const char *path)
{
    return pi_trainer_save(((trained *)p)->trainer, path);
}

static pi_status save_model(void *p, const char *path)
{
    return pi_model_save(((trained *)p)->model, path);
}
static pi_status save_safetensors(void *p, const char *path)
{
    return pi_model_save_safetensors(((trained *)p)->model, path);
}

static const saver savers[] = {
    {"pi_model_save", "pim", make_trainer, save_model, destroy_trainer},
    {"pi_model_save_safetensors", "safetensors", make_trainer, save_safetensors, destroy_trainer},
    {"pi_data_save .npy", "npy", make_array, save_array, destroy_array},
    {"pi_data_save .csv", "csv", make_array, save_array, destroy_array},
    {"pi_data_save .f32", "f32", make_array, save_array, destroy_array},
    {"pi_trainer_save", "ckpt", make_trainer, save_trainer, destroy_trainer},
};
#define NSAVERS (sizeof savers / sizeof savers[0])

static void test_missing_directory(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSAVERS; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/no/such/dir/file.%s", dir, savers[i].ext);
        void *obj = savers[i].make(0);
        pi_status st = savers[i].save(obj, path);
        print_message("%-20s missing dir -> %s: %s\n", savers[i].name, pi_status_string(st),
                      pi_last_error());
        assert_int_equal(st, PI_EIO);
        assert_non_null(strstr(pi_last_error(), "no/such/dir"));
        assert_int_not_equal(access(path, F_OK), 0);
        savers[i].destroy(obj);
    }
}

static void test_read_only_directory(void **state)
{
    (void)state;
    char rodir[300];
    int as_root = geteuid() == 0;
    if (as_root) {
        snprintf(rodir, sizeof rodir, "/proc/self"); /* root ignores modes; /proc refuses */
    } else {
        snprintf(rodir, sizeof rodir, "%s/ro", dir);
        assert_int_equal(mkdir(rodir, 0755), 0);
    }
    for (size_t i = 0; i < NSAVERS; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/file.%s", rodir, savers[i].ext);
        void *old = savers[i].make(0), *obj = savers[i].make(1);
        size_t old_size = 0;
        unsigned char *old_bytes = NULL;
        if (!as_root) {
            assert_int_equal(savers[i].save(old, path), PI_OK);
            old_bytes = read_all(path, &old_size);
            assert_int_equal(chmod(rodir, 0555), 0);
        }
        pi_status st = savers[i].save(obj, path);
        print_message("%-20s read-only dir %s -> %s: %s\n", savers[i].name, rodir,
                      pi_status_string(st), pi_last_error());
        assert_int_equal(st, PI_EIO);
        assert_non_null(strstr(pi_last_error(), rodir));
        if (!as_root) {
            size_t size = 0;
            unsigned char *now = read_all(path, &size);
            assert_int_equal(size, old_size);
            assert_memory_equal(now, old_bytes, size);
            assert_int_equal(count_temporaries(rodir), 0);
            free(now);
            free(old_bytes);
            assert_int_equal(chmod(rodir, 0755), 0);
            remove(path);
        }
        savers[i].destroy(old);
        savers[i].destroy(obj);
    }
    if (!as_root)
        rmdir(rodir);
}

static void test_disk_full(void **state)
{
    (void)state;
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_IGN);
    for (size_t i = 0; i < NSAVERS; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/full.%s", dir, savers[i].ext);
        void *old = savers[i].make(0), *obj = savers[i].make(1);
        assert_int_equal(savers[i].save(old, path), PI_OK);
        size_t old_size = 0, new_size = 0;
        unsigned char *old_bytes = read_all(path, &old_size);
        /* How big is the new content? Save it elsewhere once. */
        char probe[600];
        snprintf(probe, sizeof probe, "%s/probe.%s", dir, savers[i].ext);
        assert_int_equal(savers[i].save(obj, probe), PI_OK);
        free(read_all(probe, &new_size));
        remove(probe);
        assert_true(new_size > 64);
        /* The "disk" holds only half of the new file. */
        struct rlimit lim = saved;
        lim.rlim_cur = (rlim_t)(new_size / 2);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        pi_status st = savers[i].save(obj, path);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pi_last_error());
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        print_message("%-20s disk full (%zu of %zu bytes fit) -> %s: %s\n", savers[i].name,
                      new_size / 2, new_size, pi_status_string(st), msg);
        assert_int_equal(st, PI_EIO);
        assert_non_null(strstr(msg, path));
        size_t size = 0;
        unsigned char *now = read_all(path, &size);
        assert_int_equal(size, old_size);
        assert_memory_equal(now, old_bytes, size);
        assert_int_equal(count_temporaries(dir), 0);
        free(now);
        free(old_bytes);
        remove(path);
        savers[i].destroy(old);
        savers[i].destroy(obj);
    }
    signal(SIGXFSZ, SIG_DFL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pi_disk_faults_XXXXXX");
    return mkdtemp(dir) == NULL;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_directory),
        cmocka_unit_test(test_read_only_directory),
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
