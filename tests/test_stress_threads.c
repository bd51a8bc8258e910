/* Thread safety and determinism under stress (issue 9).
 *
 * 8 threads share one model (a Gaussian mixture and a small MLP), each with its own sampler;
 * 1000 runs with random options (fewer with PI_TEST_QUICK). Every result must equal, bit for
 * bit, the result of the same job run serially beforehand. A second test cancels running
 * samplers from another thread at random moments: the run returns PI_OK or PI_ECANCELED,
 * x_out is fully defined (finite), and the same sampler then reproduces the serial result.
 * Built under TSan by tests/run_analyzers.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pathint.h"

#define NTHREADS 8

static int quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct job {
    int model;        /* 0 = GMM, 1 = MLP */
    pi_method method;
    double hbar;
    size_t steps, n;
    uint64_t seed;
    int threads;
    pi_schedule schedule;
    int denoise_final;
    size_t corrector;
    float *expect;    /* serial result */
    pi_status expect_status;
} job;

typedef struct shared {
    const pi_model_t *models[2];
    size_t dim[2];
    job *jobs;
    size_t njobs;
    int failures;
    char first_failure[256];
    pthread_mutex_t lock;
} shared;

static void random_job(job *j, uint64_t *rng)
{
    static const pi_method methods[] = {PI_METHOD_EULER, PI_METHOD_EXP1, PI_METHOD_EXP2M,
                                        PI_METHOD_HEUN, PI_METHOD_RK45};
    static const pi_schedule schedules[] = {PI_SCHEDULE_UNIFORM_T, PI_SCHEDULE_KARRAS,
                                            PI_SCHEDULE_UNIFORM_LAMBDA};
    static const double hbars[] = {0.0, 0.25, 0.5, 1.0, 2.0};
    memset(j, 0, sizeof *j);
    j->model = (int)(splitmix(rng) % 4 == 0); /* MLP for a quarter of the jobs */
    j->method = methods[splitmix(rng) % 5];
    j->hbar = j->method == PI_METHOD_RK45 ? 0.0 : hbars[splitmix(rng) % 5];
    j->steps = 1 + splitmix(rng) % 12;
    j->n = 1 + splitmix(rng) % 40;
    j->seed = splitmix(rng);
    j->threads = 1 + (int)(splitmix(rng) % 3);
    j->schedule = schedules[splitmix(rng) % 3];
    j->denoise_final = (int)(splitmix(rng) % 2);
    j->corrector = splitmix(rng) % 5 == 0 ? 1 : 0;
}

/* Run one job on a fresh or given sampler. */
static pi_status run_job(const pi_model_t *m, const job *j, pi_sampler_t *s, float *x)
{
    pi_status st = pi_sampler_set_method(s, j->method);
    if (st == PI_OK)
        st = pi_sampler_set_hbar(s, j->hbar);
    if (st == PI_OK)
        st = pi_sampler_set_schedule(s, j->schedule, 7.0);
    if (st == PI_OK)
        st = pi_sampler_set_steps(s, j->steps);
    if (st == PI_OK)
        st = pi_sampler_set_seed(s, j->seed);
    if (st == PI_OK)
        st = pi_sampler_set_threads(s, j->threads);
    if (st == PI_OK)
        st = pi_sampler_set_denoise_final(s, j->denoise_final);
    if (st == PI_OK) /* options are sticky: always set (RK45 takes no corrector) */
        st = pi_sampler_set_corrector(s, j->method == PI_METHOD_RK45 ? 0 : j->corrector, 0.16);
    (void)m;
    if (st == PI_OK)
        st = pi_sampler_run(s, j->n, x);
    return st;
}

static void record_failure(shared *sh, const char *fmt, size_t index, const job *j)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->failures++ == 0)
        snprintf(sh->first_failure, sizeof sh->first_failure,
                 "%s: job %zu (model %d method %d hbar %g steps %zu n %zu threads %d)", fmt, index,
                 j->model, (int)j->method, j->hbar, j->steps, j->n, j->threads);
    pthread_mutex_unlock(&sh->lock);
}

typedef struct worker_arg {
    shared *sh;
    int id;
} worker_arg;

static void *stress_worker(void *p)
{
    worker_arg *a = p;
    shared *sh = a->sh;
    pi_sampler_t *s[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (pi_sampler_create(sh->models[k], &s[k]) != PI_OK)
            return NULL;
    float *x = malloc(64 * 16 * sizeof(float));
    /* Each thread takes every NTHREADS-th job, reusing its two samplers (options are sticky,
     * so reuse also checks that a run depends only on the current options). */
    for (size_t i = (size_t)a->id; i < sh->njobs; i += NTHREADS) {
        const job *j = &sh->jobs[i];
        size_t total = j->n * sh->dim[j->model];
        pi_status st = run_job(sh->models[j->model], j, s[j->model], x);
        if (st != j->expect_status)
            record_failure(sh, "status differs from the serial run", i, j);
        else if (st == PI_OK && memcmp(x, j->expect, total * sizeof(float)) != 0)
            record_failure(sh, "result differs from the serial run", i, j);
    }
    free(x);
    pi_sampler_destroy(s[0]);
    pi_sampler_destroy(s[1]);
    return NULL;
}

static pi_model_t *make_gmm(const pi_sde_t *sde, size_t dim)
{
    double w[3] = {0.2, 0.5, 0.3}, mu[3 * 4], var[3 * 4];
    for (size_t i = 0; i < 3 * dim; i++) {
        mu[i] = (double)((i * 7) % 5) - 2.0;
        var[i] = 0.05 + 0.01 * (double)(i % 3);
    }
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_gmm(sde, dim, 3, w, mu, var, &m), PI_OK);
    return m;
}

static pi_model_t *make_mlp(const pi_sde_t *sde)
{
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, 2, 16, 2, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, 7), PI_OK);
    return m;
}

static void test_shared_model_bit_exact(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    pi_model_t *gmm = make_gmm(sde, 3), *mlp = make_mlp(sde);
    sh.models[0] = gmm;
    sh.models[1] = mlp;
    sh.dim[0] = 3;
    sh.dim[1] = 2;
    sh.njobs = quick() ? 80 : 1000;
    sh.jobs = calloc(sh.njobs, sizeof *sh.jobs);
    uint64_t rng = 20261125;
    /* Serial reference results. */
    pi_sampler_t *s[2];
    assert_int_equal(pi_sampler_create(gmm, &s[0]), PI_OK);
    assert_int_equal(pi_sampler_create(mlp, &s[1]), PI_OK);
    for (size_t i = 0; i < sh.njobs; i++) {
        job *j = &sh.jobs[i];
        random_job(j, &rng);
        size_t total = j->n * sh.dim[j->model];
        j->expect = malloc(total * sizeof(float));
        /* A fresh sampler for the reference: the threaded runs reuse theirs. */
        pi_sampler_t *fresh = NULL;
        assert_int_equal(pi_sampler_create(sh.models[j->model], &fresh), PI_OK);
        j->expect_status = run_job(sh.models[j->model], j, fresh, j->expect);
        pi_sampler_destroy(fresh);
        if (j->expect_status != PI_OK)
            print_message("serial job %zu failed (%s): %s\n", i,
                          pi_status_string(j->expect_status), pi_last_error());
    }
    pi_sampler_destroy(s[0]);
    pi_sampler_destroy(s[1]);

    pthread_t th[NTHREADS];
    worker_arg args[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        args[k].sh = &sh;
        args[k].id = k;
        assert_int_equal(pthread_create(&th[k], NULL, stress_worker, &args[k]), 0);
    }
    for (int k = 0; k < NTHREADS; k++)
        pthread_join(th[k], NULL);
    if (sh.failures)
        print_message("%d failures; first: %s\n", sh.failures, sh.first_failure);
    assert_int_equal(sh.failures, 0);
    for (size_t i = 0; i < sh.njobs; i++)
        free(sh.jobs[i].expect);
    free(sh.jobs);
    pthread_mutex_destroy(&sh.lock);
    pi_model_destroy(gmm);
    pi_model_destroy(mlp);
    pi_sde_destroy(sde);
}

/* ---- cancellation from another thread ------------------------------------------------ */

typedef struct cancel_arg {
    pi_sampler_t *s;
    long delay_ns;
} cancel_arg;

static void *canceller(void *p)
{
    cancel_arg *a = p;
    struct timespec ts = {0, a->delay_ns};
    nanosleep(&ts, NULL);
    pi_sampler_cancel(a->s);
    return NULL;
}

static void test_cancel_random_moments(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *m = make_mlp(sde);
    const size_t n = 64, dim = 2;
    float *ref = malloc(n * dim * sizeof(float)), *x = malloc(n * dim * sizeof(float));
    uint64_t rng = 99;
    int rounds = quick() ? 10 : 60, canceled = 0, completed = 0;
    for (int r = 0; r < rounds; r++) {
        job j;
        random_job(&j, &rng);
        j.model = 1;
        j.n = n;
        j.steps = 20 + (size_t)(splitmix(&rng) % 40);
        pi_sampler_t *s = NULL;
        assert_int_equal(pi_sampler_create(m, &s), PI_OK);
        assert_int_equal(run_job(m, &j, s, ref), PI_OK);

        for (size_t i = 0; i < n * dim; i++)
            x[i] = NAN;
        cancel_arg ca = {s, (long)(splitmix(&rng) % 3000000)};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, canceller, &ca), 0);
        pi_status st = pi_sampler_run(s, n, x);
        pthread_join(th, NULL);
        if (st != PI_OK && st != PI_ECANCELED)
            print_message("round %d: unexpected status %s: %s\n", r, pi_status_string(st),
                          pi_last_error());
        assert_true(st == PI_OK || st == PI_ECANCELED);
        if (st == PI_ECANCELED) {
            canceled++;
            /* x_out holds the states at the last completed step: fully defined. */
            for (size_t i = 0; i < n * dim; i++)
                assert_true(isfinite(x[i]));
        } else {
            completed++;
            assert_memory_equal(x, ref, n * dim * sizeof(float));
        }
        /* A cancel that arrived after the run is harmless: the next run is complete and
         * reproduces the serial result bit for bit. */
        assert_int_equal(pi_sampler_run(s, n, x), PI_OK);
        assert_memory_equal(x, ref, n * dim * sizeof(float));
        pi_sampler_destroy(s);
    }
    print_message("cancel: %d canceled, %d completed before the cancel\n", canceled, completed);
    free(ref);
    free(x);
    pi_model_destroy(m);
    pi_sde_destroy(sde);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model_bit_exact),
        cmocka_unit_test(test_cancel_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
