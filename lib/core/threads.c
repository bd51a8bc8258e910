/* Persistent worker pool (threads.h). Dispatch is one generation counter: the caller publishes
 * the region, bumps the generation and wakes sleeping workers; each worker runs its static
 * share, records its first failure, and the last one to finish wakes the caller.
 *
 * Waiting: PI_POOL_SPIN_ROUNDS polls (one pause instruction each, tens of microseconds in all)
 * before sleeping on a condition variable. A sampler step dispatches two or three regions a
 * few microseconds apart, so a worker that sleeps between them pays a futex wake-up each
 * time. bench's sampler_small_batch_64x50_2t (samples/s, medians of 4 interleaved runs, idle
 * 2-core Xeon, BLIS haswell): 0 polls 3345, 2000 polls 5431, 20000 polls 5619, the 0.1
 * per-run pool 3530; with two CPU hogs running (`yes`), 2000 polls 2101 against 1443 for 0.1.
 * Yielding inside the spin was far worse under load (151: the caller gave its core to the hogs
 * for whole time slices), so there is none. */
#include "threads.h"

#include <pthread.h>
#include <string.h>

#define MESSAGE_BYTES 512 /* as status.c's per-thread message */
#ifndef PI_POOL_SPIN_ROUNDS /* polls of the generation / pending count before sleeping */
#define PI_POOL_SPIN_ROUNDS 2000
#endif
#define SPIN_ROUNDS PI_POOL_SPIN_ROUNDS
#define MAX_THREADS 1024

/* Set once on pool worker threads: a region dispatched from a worker runs inline. */
static _Thread_local int on_pool_worker;

typedef struct failure {
    pi_status status;
    size_t task;
    char message[MESSAGE_BYTES];
} failure;

typedef struct helper {
    struct pi_pool *pool;
    int worker;
} helper;

struct pi_pool {
    int threads;        /* workers including the caller */
    int started;        /* helper threads running: workers 1..started */
    pthread_t *tids;
    helper *helpers;
    failure *failures;  /* one per worker */
    atomic_flag busy;   /* a region is running */

    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int sleepers;       /* helpers waiting on go (under mu) */
    int caller_waiting; /* the caller waits on done (under mu) */
    atomic_int quit;
    atomic_ulong generation;
    atomic_int pending; /* helpers that have not finished the current region (all helpers
                         * acknowledge every region, so none can still be reading it when the
                         * caller publishes the next) */

    /* The current region (written by the caller before the generation moves). */
    pi_task_fn fn;
    void *ctx;
    size_t ntasks;
    int nworkers;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Worker w's share; the first failure (task order within the worker) and its message. */
static void run_share(pi_pool *p, int w)
{
    failure *f = &p->failures[w];
    f->status = PI_OK;
    for (size_t task = (size_t)w; task < p->ntasks; task += (size_t)p->nworkers) {
        pi_status st = p->fn(task, w, p->ctx);
        if (st != PI_OK && f->status == PI_OK) {
            f->status = st;
            f->task = task;
            strncpy(f->message, pi_last_error(), MESSAGE_BYTES - 1);
            f->message[MESSAGE_BYTES - 1] = '\0';
        }
    }
}

static void *helper_main(void *arg)
{
    const helper *h = arg;
    pi_pool *p = h->pool;
    on_pool_worker = 1;
    unsigned long seen = 0;
    for (;;) {
        unsigned long gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; i < SPIN_ROUNDS && gen == seen; i++) {
            cpu_relax();
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->go, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        seen = gen;
        if (atomic_load_explicit(&p->quit, memory_order_relaxed))
            break;
        if (h->worker < p->nworkers)
            run_share(p, h->worker);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_waiting)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

pi_status pi_pool_create(int threads, pi_pool **out)
{
    PI_CHECK_NULL(out);
    if (threads < 1 || threads > MAX_THREADS)
        return pi_fail(PI_EINVAL, "pi_pool_create: threads must be in [1, %d], got %d", MAX_THREADS,
                       threads);
    pi_pool *p = pi_calloc(1, sizeof *p);
    if (p == NULL)
        return pi_fail(PI_ENOMEM, "out of memory for a pool of %d threads", threads);
    p->threads = threads;
    p->failures = pi_calloc((size_t)threads, sizeof *p->failures);
    if (threads > 1) {
        p->tids = pi_alloc_array((size_t)threads - 1, sizeof *p->tids);
        p->helpers = pi_alloc_array((size_t)threads - 1, sizeof *p->helpers);
    }
    if (p->failures == NULL || (threads > 1 && (p->tids == NULL || p->helpers == NULL))) {
        pi_free(p->failures);
        pi_free(p->tids);
        pi_free(p->helpers);
        pi_free(p);
        return pi_fail(PI_ENOMEM, "out of memory for a pool of %d threads", threads);
    }
    int inited = 0; /* how many of mu, go, done are initialised */
    if (pthread_mutex_init(&p->mu, NULL) == 0 && ++inited && pthread_cond_init(&p->go, NULL) == 0 &&
        ++inited && pthread_cond_init(&p->done, NULL) == 0)
        ++inited;
    if (inited < 3) {
        /* glibc's initialisers cannot fail; other systems: no pool rather than a broken one. */
        if (inited >= 2)
            pthread_cond_destroy(&p->go);
        if (inited >= 1)
            pthread_mutex_destroy(&p->mu);
        pi_free(p->failures);
        pi_free(p->tids);
        pi_free(p->helpers);
        pi_free(p);
        return pi_fail(PI_ENOMEM, "could not initialise the synchronisation of a thread pool");
    }
    atomic_flag_clear(&p->busy);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    for (int w = 1; w < threads; w++) {
        p->helpers[w - 1] = (helper){p, w};
        if (pthread_create(&p->tids[w - 1], NULL, helper_main, &p->helpers[w - 1]) != 0)
            break; /* workers started..threads−1 run on the caller */
        p->started++;
    }
    *out = p;
    return PI_OK;
}

void pi_pool_destroy(pi_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->quit, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pi_free(p->failures);
    pi_free(p->tids);
    pi_free(p->helpers);
    pi_free(p);
}

pi_status pi_pool_fit(pi_pool **slot, int threads, pi_pool **out)
{
    *out = NULL;
    if (*slot != NULL && pi_pool_threads(*slot) != threads) {
        pi_pool_destroy(*slot); /* the thread count changed since it was made */
        *slot = NULL;
    }
    if (*slot == NULL && threads > 1) {
        pi_status st = pi_pool_create(threads, slot);
        if (st != PI_OK)
            return st;
    }
    *out = *slot;
    return PI_OK;
}

int pi_pool_threads(const pi_pool *pool) { return pool == NULL ? 1 : pool->threads; }

/* The region on the calling thread alone, tasks in order, worker = task mod W (the same
 * assignment as a parallel run). The first failure's message is kept while later tasks run. */
static pi_status run_inline(int nworkers, size_t ntasks, pi_task_fn fn, void *ctx)
{
    pi_status first = PI_OK;
    char message[MESSAGE_BYTES];
    for (size_t task = 0; task < ntasks; task++) {
        pi_status st = fn(task, (int)(task % (size_t)nworkers), ctx);
        if (st != PI_OK && first == PI_OK) {
            first = st;
            strncpy(message, pi_last_error(), MESSAGE_BYTES - 1);
            message[MESSAGE_BYTES - 1] = '\0';
        }
    }
    return first == PI_OK ? PI_OK : pi_fail(first, "%s", message);
}

pi_status pi_pool_run(pi_pool *p, int workers, size_t ntasks, pi_task_fn fn, void *ctx)
{
    if (ntasks == 0)
        return PI_OK;
    int W = workers < 1 ? 1 : workers;
    if (W > pi_pool_threads(p))
        W = pi_pool_threads(p);
    if ((size_t)W > ntasks)
        W = (int)ntasks;
    if (W == 1 || on_pool_worker || atomic_flag_test_and_set_explicit(&p->busy, memory_order_acquire))
        return run_inline(W, ntasks, fn, ctx);

    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->nworkers = W;
    int helpers = p->started < W - 1 ? p->started : W - 1; /* workers 1..helpers */
    atomic_store_explicit(&p->pending, p->started, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);

    /* Worker 0, then the workers whose threads did not start. */
    run_share(p, 0);
    for (int w = helpers + 1; w < W; w++)
        run_share(p, w);

    int left = atomic_load_explicit(&p->pending, memory_order_acquire);
    for (int i = 0; i < SPIN_ROUNDS && left > 0; i++) {
        cpu_relax();
        left = atomic_load_explicit(&p->pending, memory_order_acquire);
    }
    if (left > 0) {
        pthread_mutex_lock(&p->mu);
        p->caller_waiting = 1;
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        p->caller_waiting = 0;
        pthread_mutex_unlock(&p->mu);
    }

    const failure *first = NULL;
    for (int w = 0; w < W; w++) {
        const failure *f = &p->failures[w];
        if (f->status != PI_OK && (first == NULL || f->task < first->task))
            first = f;
    }
    pi_status st = first == NULL ? PI_OK : pi_fail(first->status, "%s", first->message);
    atomic_flag_clear_explicit(&p->busy, memory_order_release);
    return st;
}

pi_status pi_lazy_pool_get(pi_lazy_pool *lazy, int threads, pi_pool **out)
{
    *out = NULL;
    if (threads <= 1)
        return PI_OK;
    pi_pool *p = atomic_load_explicit(&lazy->pool, memory_order_acquire);
    if (p != NULL) {
        *out = p;
        return PI_OK;
    }
    pi_status st = pi_pool_create(threads, &p);
    if (st != PI_OK)
        return st;
    pi_pool *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&lazy->pool, &expected, p, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        pi_pool_destroy(p); /* another thread's pool won the race */
        p = expected;
    }
    *out = p;
    return PI_OK;
}

void pi_lazy_pool_reset(pi_lazy_pool *lazy)
{
    pi_pool *p = atomic_exchange_explicit(&lazy->pool, NULL, memory_order_acq_rel);
    pi_pool_destroy(p);
}
