/* The library's one thread pool: persistent workers, allocation-free fork-join dispatch.
 *
 * A pi_pool is created once by the handle that does the work (sampler, model, trainer) and
 * reused for every parallel region; threads are started only by pi_pool_create (this is the
 * only file of the library that starts threads). A region is pi_pool_run: tasks are assigned
 * statically (worker w of W runs tasks w, w + W, w + 2W, ...), so which tasks share a worker
 * never depends on timing, and callers whose tasks are independent get the same bits for any
 * thread count.
 *
 * Errors: every task runs (a failing task does not stop the others). The status of the first
 * failing task in task order is returned and that task's pi_last_error() message (recorded on
 * the worker thread, where it is thread-local) is copied to the calling thread, whichever
 * thread ran it.
 *
 * Sharing rule: a pool may be reached by several threads at once (e.g. the pool of a shared,
 * immutable model). One region runs on the pool at a time: pi_pool_run takes the pool with a
 * try-lock and, if the pool is busy (another thread's region, or a region that dispatches
 * onto its own pool from a task) or the caller is itself a worker thread of a pool, runs the
 * region inline on the calling thread with the same task → worker assignment. Nobody ever
 * waits for a busy pool, so nesting and sharing cannot deadlock; the results are the same
 * bits, only slower. */
#ifndef PI_THREADS_H
#define PI_THREADS_H

#include "core.h"

#include <stdatomic.h>

/* One task: fn(task, worker, ctx), worker in [0, W). Tasks of one worker run in order on one
 * thread, so per-worker scratch indexed by `worker` needs no locking. */
typedef pi_status (*pi_task_fn)(size_t task, int worker, void *ctx);

typedef struct pi_pool pi_pool;

/* A pool of `threads` workers in [1, 1024]: worker 0 is the thread that calls pi_pool_run,
 * workers 1..threads−1 are started here and wait for regions. A worker thread that cannot be
 * started is not an error: its tasks then run on the calling thread (same results). */
pi_status pi_pool_create(int threads, pi_pool **out);
/* Stops and joins the workers. Not while a region runs on the pool. NULL is a no-op. */
void pi_pool_destroy(pi_pool *pool);
/* The number of workers the pool was created with (1 for NULL). */
int pi_pool_threads(const pi_pool *pool);
/* The pool a handle keeps in *slot for `threads` workers: made at the first use with
 * threads > 1, remade when the count changed, NULL (run on the caller) for threads <= 1.
 * *out = *slot. On failure the slot is empty and a later call tries again. Not while a
 * region runs on the old pool. */
pi_status pi_pool_fit(pi_pool **slot, int threads, pi_pool **out);

/* Run tasks [0, ntasks) on W = min(workers, pi_pool_threads(pool), ntasks) workers (workers:
 * how many per-worker scratch slots the caller has; pool NULL runs everything on the caller
 * as worker 0). Allocates nothing: usable inside step loops. Returns the first failing task's
 * status with its message, PI_OK otherwise. */
pi_status pi_pool_run(pi_pool *pool, int workers, size_t ntasks, pi_task_fn fn, void *ctx);

/* A pool created at first use inside an object that is shared between threads through a
 * const pointer (a model): concurrent first uses race with a compare-and-swap, the loser
 * destroys its pool. Zero-initialised (calloc) means empty. */
typedef struct pi_lazy_pool {
    _Atomic(pi_pool *) pool;
} pi_lazy_pool;
/* *out = the pool of `threads` workers, created if needed; NULL (and PI_OK) for threads <= 1.
 * PI_ENOMEM leaves the slot empty (a later call tries again). */
pi_status pi_lazy_pool_get(pi_lazy_pool *lazy, int threads, pi_pool **out);
/* Destroy the pool (thread-count change or the owner's destruction): not concurrently with
 * any other use of the owner. */
void pi_lazy_pool_reset(pi_lazy_pool *lazy);

#endif
