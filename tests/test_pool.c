/* The thread pool (lib/core/threads.h): static assignment, persistent workers, error
 * forwarding, the sharing rule; and end to end through the model, the sampler and the
 * likelihood with threads > 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "pathint.h"
#include "warped_model.h"

/* ---- the pool itself ------------------------------------------------------------------ */

enum { MAX_TASKS = 1000, MAX_W = 8 };

typedef struct record {
    atomic_int runs[MAX_TASKS];
    int worker[MAX_TASKS];
    pthread_t thread[MAX_TASKS];
} record;

static pi_status record_task(size_t task, int worker, void *ctx)
{
    record *r = ctx;
    atomic_fetch_add(&r->runs[task], 1);
    r->worker[task] = worker;
    r->thread[task] = pthread_self();
    return PI_OK;
}

static void test_every_task_once_static(void **state)
{
    (void)state;
    record *r = calloc(1, sizeof *r);
    for (int threads = 1; threads <= 5; threads++) {
        pi_pool *pool = NULL;
        assert_int_equal(pi_pool_create(threads, &pool), PI_OK);
        assert_int_equal(pi_pool_threads(pool), threads);
        size_t counts[] = {1, 2, 3, 7, 100, MAX_TASKS};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            size_t n = counts[c];
            for (int workers = 1; workers <= 6; workers++) {
                memset(r, 0, sizeof *r);
                assert_int_equal(pi_pool_run(pool, workers, n, record_task, r), PI_OK);
                size_t W = (size_t)workers;
                if (W > (size_t)threads)
                    W = (size_t)threads;
                if (W > n)
                    W = n;
                for (size_t i = 0; i < n; i++) {
                    assert_int_equal(atomic_load(&r->runs[i]), 1);
                    assert_int_equal(r->worker[i], (int)(i % W)); /* worker w: w, w + W, ... */
                    /* A worker's tasks run on one thread; worker 0 is the caller. */
                    assert_true(pthread_equal(r->thread[i], r->thread[i % W]));
                    if (i % W == 0)
                        assert_true(pthread_equal(r->thread[i], pthread_self()));
                }
            }
        }
        pi_pool_destroy(pool);
    }
    /* No pool: everything on the caller as worker 0. */
    memset(r, 0, sizeof *r);
    assert_int_equal(pi_pool_run(NULL, 4, 10, record_task, r), PI_OK);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(atomic_load(&r->runs[i]), 1);
        assert_int_equal(r->worker[i], 0);
    }
    assert_int_equal(pi_pool_threads(NULL), 1);
    pi_pool_destroy(NULL);
    free(r);
}

/* Persistent workers: the threads are the same for every region (none is started per call),
 * and distinct from each other. */
static void test_workers_persist(void **state)
{
    (void)state;
    enum { W = 4, REGIONS = 2000 };
    pi_pool *pool = NULL;
    assert_int_equal(pi_pool_create(W, &pool), PI_OK);
    record *r = calloc(1, sizeof *r);
    pthread_t first[W];
    for (int k = 0; k < REGIONS; k++) {
        assert_int_equal(pi_pool_run(pool, W, W, record_task, r), PI_OK);
        for (int w = 0; w < W; w++) {
            if (k == 0)
                first[w] = r->thread[w];
            else
                assert_true(pthread_equal(r->thread[w], first[w]));
        }
    }
    for (int a = 0; a < W; a++)
        for (int b = a + 1; b < W; b++)
            assert_false(pthread_equal(first[a], first[b]));
    for (int w = 0; w < W; w++)
        assert_int_equal(atomic_load(&r->runs[w]), REGIONS);
    free(r);
    pi_pool_destroy(pool);
}

/* Tasks 7, 9 and 10 fail with their own messages; with 4 workers they are on workers 3, 1
 * and 2, and whichever finishes first, task 7's status and message must come back. */
static pi_status failing_task(size_t task, int worker, void *ctx)
{
    atomic_int *ran = ctx;
    atomic_fetch_add(&ran[task], 1);
    if (task == 7 || task == 9 || task == 10)
        return pi_fail(task == 7 ? PI_ECALLBACK : PI_ENUMERIC, "task %zu failed on worker %d",
                       task, worker);
    return PI_OK;
}

static void test_first_failure_forwarded(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        pi_pool *pool = NULL;
        assert_int_equal(pi_pool_create(threads, &pool), PI_OK);
        for (int rep = 0; rep < 50; rep++) {
            atomic_int ran[16] = {0};
            (void)pi_fail(PI_EINVAL, "stale message of the caller");
            assert_int_equal(pi_pool_run(pool, threads, 16, failing_task, ran), PI_ECALLBACK);
            char want[64];
            snprintf(want, sizeof want, "task 7 failed on worker %d", 7 % threads);
            assert_string_equal(pi_last_error(), want);
            for (int i = 0; i < 16; i++)
                assert_int_equal(atomic_load(&ran[i]), 1); /* every task ran */
        }
        pi_pool_destroy(pool);
    }
    atomic_int ran[16] = {0};
    assert_int_equal(pi_pool_run(NULL, 1, 16, failing_task, ran), PI_ECALLBACK);
    assert_string_equal(pi_last_error(), "task 7 failed on worker 0");
}

/* A task that dispatches onto its own (busy) pool, and onto a second pool from a worker:
 * both run inline, with the same results and no deadlock. */
typedef struct nest {
    pi_pool *outer, *other;
    atomic_int inner_runs[64];
} nest;

static pi_status inner_task(size_t task, int worker, void *ctx)
{
    (void)worker;
    nest *n = ctx;
    atomic_fetch_add(&n->inner_runs[task], 1);
    return task == 5 ? pi_fail(PI_ENUMERIC, "inner task %zu", task) : PI_OK;
}

static pi_status outer_task(size_t task, int worker, void *ctx)
{
    (void)worker;
    nest *n = ctx;
    pi_pool *target = task % 2 == 0 ? n->outer : n->other;
    pi_status st = pi_pool_run(target, 4, 8, inner_task, n);
    if (st != PI_ENUMERIC || strcmp(pi_last_error(), "inner task 5") != 0)
        return pi_fail(PI_EINVAL, "nested region of task %zu went wrong", task);
    return PI_OK;
}

static void test_nested_regions_run_inline(void **state)
{
    (void)state;
    nest *n = calloc(1, sizeof *n);
    assert_int_equal(pi_pool_create(3, &n->outer), PI_OK);
    assert_int_equal(pi_pool_create(2, &n->other), PI_OK);
    for (int rep = 0; rep < 20; rep++) {
        memset(n->inner_runs, 0, sizeof n->inner_runs);
        assert_int_equal(pi_pool_run(n->outer, 3, 6, outer_task, n), PI_OK);
        for (int i = 0; i < 8; i++)
            assert_int_equal(atomic_load(&n->inner_runs[i]), 6);
    }
    pi_pool_destroy(n->outer);
    pi_pool_destroy(n->other);
    free(n);
}

/* Several threads use one pool at once (as with a shared model): one region at a time runs
 * on the workers, the others inline; every region is complete and correct. */
typedef struct shared_pool {
    pi_pool *pool;
    pi_lazy_pool lazy;
    pi_pool *seen[4];
    int failures;
} shared_pool;

typedef struct caller_arg {
    shared_pool *sp;
    int id;
} caller_arg;

static pi_status square_task(size_t task, int worker, void *ctx)
{
    (void)worker;
    double *out = ctx;
    out[task] = sqrt((double)task) * (double)task;
    return PI_OK;
}

static void *caller_main(void *p)
{
    caller_arg *a = p;
    shared_pool *sp = a->sp;
    pi_pool *lazy = NULL;
    if (pi_lazy_pool_get(&sp->lazy, 3, &lazy) != PI_OK)
        return NULL;
    sp->seen[a->id] = lazy;
    double out[257];
    for (int k = 0; k < 300; k++) {
        memset(out, 0, sizeof out);
        pi_pool *pool = k % 2 ? sp->pool : lazy;
        if (pi_pool_run(pool, 4, 257, square_task, out) != PI_OK)
            return NULL;
        for (size_t i = 0; i < 257; i++)
            if (out[i] != sqrt((double)i) * (double)i)
                return NULL;
    }
    return a;
}

static void test_shared_pool_and_lazy_creation(void **state)
{
    (void)state;
    shared_pool sp;
    memset(&sp, 0, sizeof sp);
    assert_int_equal(pi_pool_create(4, &sp.pool), PI_OK);
    pthread_t th[4];
    caller_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (caller_arg){&sp, i};
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        pthread_join(th[i], &ret);
        assert_ptr_equal(ret, &args[i]);
    }
    /* The racing first uses agree on one pool. */
    for (int i = 1; i < 4; i++)
        assert_ptr_equal(sp.seen[i], sp.seen[0]);
    pi_pool *again = NULL;
    assert_int_equal(pi_lazy_pool_get(&sp.lazy, 3, &again), PI_OK);
    assert_ptr_equal(again, sp.seen[0]);
    assert_int_equal(pi_pool_threads(again), 3);
    pi_lazy_pool_reset(&sp.lazy);
    pi_lazy_pool_reset(&sp.lazy); /* empty: no-op */
    assert_int_equal(pi_lazy_pool_get(&sp.lazy, 1, &again), PI_OK);
    assert_null(again); /* one thread needs no pool */
    pi_pool_destroy(sp.pool);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    pi_pool *pool = NULL;
    assert_int_equal(pi_pool_create(0, &pool), PI_EINVAL);
    assert_int_equal(pi_pool_create(1025, &pool), PI_EINVAL);
    assert_null(pool);
    assert_int_equal(pi_pool_create(2, NULL), PI_EINVAL);
}

/* ---- end to end: the first failing worker's message reaches the caller ---------------- */

/* A mixture with a zero-variance component: its score overflows float far from the mean at
 * small σ, with a message naming the row. */
static pi_model_t *singular_gmm(size_t dim)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    double w = 1.0, mu[4] = {0}, var[4] = {0};
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_gmm(sde, dim, 1, &w, mu, var, &m), PI_OK);
    pi_sde_destroy(sde);
    return m;
}

static void test_model_eval_forwards_worker_message(void **state)
{
    (void)state;
    enum { N = 64, D = 2 };
    pi_model_t *m = singular_gmm(D);
    assert_int_equal(pi_model_set_threads(m, 4), PI_OK);
    float x[N * D], out[N * D];
    double t[N];
    for (size_t i = 0; i < N * D; i++)
        x[i] = 0.01f * (float)(i % 17);
    for (size_t i = 0; i < N; i++)
        t[i] = 2e-3;
    x[61 * D + 1] = 1e37f; /* row 61: the last chunk, never worker 0's */
    for (int rep = 0; rep < 20; rep++) {
        (void)pi_fail(PI_EINVAL, "stale message of the caller");
        assert_int_equal(pi_model_eval(m, PI_VIEW_SCORE, N, x, t, out), PI_ENUMERIC);
        assert_non_null(strstr(pi_last_error(), "row 61, column 1"));
    }
    pi_model_destroy(m);
}

static void test_sampler_forwards_worker_message(void **state)
{
    (void)state;
    enum { N = 64, D = 2 };
    pi_model_t *m = singular_gmm(D);
    pi_sampler_t *s = NULL;
    assert_int_equal(pi_sampler_create(m, &s), PI_OK);
    assert_int_equal(pi_sampler_set_steps(s, 10), PI_OK);
    float x[N * D];
    for (int threads = 2; threads <= 4; threads += 2) {
        assert_int_equal(pi_sampler_set_threads(s, threads), PI_OK);
        for (int rep = 0; rep < 5; rep++) {
            for (size_t i = 0; i < N * D; i++)
                x[i] = 0.01f * (float)(i % 13);
            x[62 * D] = 3e38f; /* row 62: the last worker's */
            (void)pi_fail(PI_EINVAL, "stale message of the caller");
            pi_status st = pi_sampler_run_from(s, 0.5, N, x);
            assert_int_equal(st, PI_ENUMERIC);
            /* The model's own message from that worker (its row index is within the
             * worker's chunk). */
            assert_non_null(strstr(pi_last_error(), "Gaussian mixture: the score at row"));
            assert_non_null(strstr(pi_last_error(), "overflows float"));
        }
    }
    /* The sampler keeps working afterwards (its pool survives a failed run). */
    for (size_t i = 0; i < N * D; i++)
        x[i] = 0.01f * (float)(i % 13);
    assert_int_equal(pi_sampler_run_from(s, 0.5, N, x), PI_OK);
    pi_sampler_destroy(s);
    pi_model_destroy(m);
}

/* A model kind the library runs in parallel (the test's warped mixture) failing at one point
 * only: with 1, 2 and 4 threads the point is computed by worker 0, 0 and 2, and the caller
 * gets that worker's own message. */
static void test_likelihood_forwards_worker_message(void **state)
{
    (void)state;
    enum { N = 8, D = 2 };
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    const double w[1] = {1.0}, mu[D] = {0.0, 0.0}, var[D] = {1.0, 1.0};
    pi_model_t *gmm = NULL;
    assert_int_equal(pi_model_create_gmm(sde, D, 1, w, mu, var, &gmm), PI_OK);
    pi_sde_destroy(sde);
    pi_model_t *m = warped_model_create(gmm, 1.0, 1.0);
    assert_non_null(m);
    warped_model_fail_above(m, 50.0);
    pi_likelihood_t *lik = NULL;
    assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
    float x[N * D];
    for (size_t i = 0; i < N * D; i++)
        x[i] = 0.1f * (float)(i % 5) - 0.2f;
    x[6 * D] = 100.0f; /* point 6: worker 2 of 4 */
    double nll[N];
    for (int threads = 1; threads <= 4; threads *= 2) {
        assert_int_equal(pi_likelihood_set_threads(lik, threads), PI_OK);
        (void)pi_fail(PI_EINVAL, "stale message of the caller");
        assert_int_equal(pi_likelihood_nll(lik, N, x, nll, NULL), PI_ENUMERIC);
        const char *msg = pi_last_error();
        assert_non_null(strstr(msg, "point 6"));
        assert_non_null(strstr(msg, "x[0] = 100 is beyond 50")); /* the worker's own message */
        for (size_t i = 0; i < N; i++)
            assert_true(i == 6 ? isnan(nll[i]) : isfinite(nll[i]));
    }
    pi_likelihood_destroy(lik);
    pi_model_destroy(m);
}

typedef struct serial_probe {
    atomic_int inside, overlaps, calls;
} serial_probe;

/* Standard normal score; fails (returns 42) on any row with x0 > 50; counts overlapping calls. */
static int failing_score(size_t n, size_t dim, const float *x, const double *t, float *out,
                         void *user_data)
{
    (void)t;
    serial_probe *p = user_data;
    if (atomic_fetch_add(&p->inside, 1) != 0)
        atomic_fetch_add(&p->overlaps, 1);
    atomic_fetch_add(&p->calls, 1);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (x[i * dim] > 50.0f)
            rc = 42;
        for (size_t j = 0; j < dim; j++)
            out[i * dim + j] = -x[i * dim + j];
    }
    atomic_fetch_sub(&p->inside, 1);
    return rc;
}

/* A host callback model is never entered from two threads within one likelihood call
 * (pi_model_fn's promise), whatever the handle's threads; its failure's message reaches the
 * caller. */
static void test_likelihood_callback_is_serial(void **state)
{
    (void)state;
    enum { N = 8, D = 2 };
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    serial_probe probe;
    atomic_init(&probe.inside, 0);
    atomic_init(&probe.overlaps, 0);
    atomic_init(&probe.calls, 0);
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_callback(sde, D, PI_VIEW_SCORE, failing_score, &probe, &m),
                     PI_OK);
    pi_sde_destroy(sde);
    pi_likelihood_t *lik = NULL;
    assert_int_equal(pi_likelihood_create(m, &lik), PI_OK);
    assert_int_equal(pi_likelihood_set_threads(lik, 4), PI_OK);
    float x[N * D];
    for (size_t i = 0; i < N * D; i++)
        x[i] = 0.1f * (float)(i % 5) - 0.2f;
    x[6 * D] = 100.0f;
    double nll[N];
    assert_int_equal(pi_likelihood_nll(lik, N, x, nll, NULL), PI_ECALLBACK);
    assert_non_null(strstr(pi_last_error(), "point 6"));
    assert_non_null(strstr(pi_last_error(), "returned 42"));
    assert_true(atomic_load(&probe.calls) > N);
    assert_int_equal(atomic_load(&probe.overlaps), 0);
    pi_likelihood_destroy(lik);
    pi_model_destroy(m);
}

/* ---- a shared model with threads > 1 from several caller threads ------------------------ */

enum { SHARED_N = 1024, SHARED_D = 2, CALLERS = 4, CALLS = 6 };

typedef struct shared_model {
    const pi_model_t *mlp, *gmm;
    const float *x;
    const double *t;
    const float *ref_mlp;
    const double *ref_div;
} shared_model;

static void *shared_caller(void *p)
{
    const shared_model *sm = p;
    float *out = malloc(SHARED_N * SHARED_D * sizeof *out);
    double *div = malloc(SHARED_N * sizeof *div);
    void *ok = (void *)sm;
    for (int k = 0; k < CALLS && ok != NULL; k++) {
        if (pi_model_eval(sm->mlp, PI_VIEW_EPS, SHARED_N, sm->x, sm->t, out) != PI_OK ||
            memcmp(out, sm->ref_mlp, SHARED_N * SHARED_D * sizeof *out) != 0)
            ok = NULL;
        if (pi_model_divergence(sm->gmm, PI_DIVERGENCE_EXACT, 1, 0, SHARED_N, sm->x, sm->t, div) !=
                PI_OK ||
            memcmp(div, sm->ref_div, SHARED_N * sizeof *div) != 0)
            ok = NULL;
    }
    free(out);
    free(div);
    return ok;
}

static void test_shared_model_concurrent_eval(void **state)
{
    (void)state;
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    pi_model_t *mlp = NULL, *gmm = NULL;
    assert_int_equal(pi_model_create_mlp(sde, SHARED_D, 32, 2, &mlp), PI_OK);
    assert_int_equal(pi_model_mlp_init(mlp, 7), PI_OK);
    double w[2] = {1, 2}, mu[4] = {-1, 0, 1, 0.5}, var[4] = {0.3, 0.2, 0.5, 0.4};
    assert_int_equal(pi_model_create_gmm(sde, SHARED_D, 2, w, mu, var, &gmm), PI_OK);
    pi_sde_destroy(sde);
    static float x[SHARED_N * SHARED_D], ref_mlp[SHARED_N * SHARED_D];
    static double t[SHARED_N], ref_div[SHARED_N];
    for (size_t i = 0; i < SHARED_N * SHARED_D; i++)
        x[i] = (float)sin(0.37 * (double)i) * 2.0f;
    for (size_t i = 0; i < SHARED_N; i++)
        t[i] = 0.05 + 0.9 * (double)(i % 97) / 97.0;
    /* Serial references. */
    assert_int_equal(pi_model_eval(mlp, PI_VIEW_EPS, SHARED_N, x, t, ref_mlp), PI_OK);
    assert_int_equal(pi_model_divergence(gmm, PI_DIVERGENCE_EXACT, 1, 0, SHARED_N, x, t, ref_div),
                     PI_OK);
    assert_int_equal(pi_model_set_threads(mlp, 2), PI_OK);
    assert_int_equal(pi_model_set_threads(gmm, 3), PI_OK);
    shared_model sm = {mlp, gmm, x, t, ref_mlp, ref_div};
    pthread_t th[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, shared_caller, &sm), 0);
    for (int i = 0; i < CALLERS; i++) {
        void *ret = NULL;
        pthread_join(th[i], &ret);
        assert_ptr_equal(ret, &sm); /* bitwise equal to the serial results */
    }
    /* A thread-count change remakes the pool; results unchanged. */
    assert_int_equal(pi_model_set_threads(mlp, 3), PI_OK);
    assert_ptr_equal(shared_caller(&sm), &sm);
    pi_model_destroy(mlp);
    pi_model_destroy(gmm);
}

/* pi_pool_fit, the handles' pool slot: none for 1 thread, made once, kept while the count
 * holds, remade when it changes, stopped (NULL) for 1 thread. */
static void test_pool_fit(void **state)
{
    (void)state;
    pi_pool *slot = NULL, *p = (pi_pool *)&slot;
    assert_int_equal(pi_pool_fit(&slot, 1, &p), PI_OK);
    assert_null(p);
    assert_null(slot);
    assert_int_equal(pi_pool_fit(&slot, 3, &p), PI_OK);
    assert_non_null(p);
    assert_ptr_equal(p, slot);
    assert_int_equal(pi_pool_threads(p), 3);
    pi_pool *again = NULL;
    assert_int_equal(pi_pool_fit(&slot, 3, &again), PI_OK);
    assert_ptr_equal(again, p); /* persistent: no new threads for the same count */
    assert_int_equal(pi_pool_fit(&slot, 2, &p), PI_OK);
    assert_int_equal(pi_pool_threads(p), 2);
    assert_int_equal(pi_pool_fit(&slot, 1, &p), PI_OK);
    assert_null(p);
    assert_null(slot); /* 1 thread runs on the caller: the workers are stopped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_fit),
        cmocka_unit_test(test_every_task_once_static),
        cmocka_unit_test(test_workers_persist),
        cmocka_unit_test(test_first_failure_forwarded),
        cmocka_unit_test(test_nested_regions_run_inline),
        cmocka_unit_test(test_shared_pool_and_lazy_creation),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_model_eval_forwards_worker_message),
        cmocka_unit_test(test_sampler_forwards_worker_message),
        cmocka_unit_test(test_likelihood_forwards_worker_message),
        cmocka_unit_test(test_likelihood_callback_is_serial),
        cmocka_unit_test(test_shared_model_concurrent_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
