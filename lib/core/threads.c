/* Fork-join parallel loop. Threads are created per call and joined before returning. */
#include "threads.h"

#include <pthread.h>

typedef struct {
    pi_task_fn fn;
    void *ctx;
    size_t ntasks;
    int nthreads;
    int worker;
    pi_status *status; /* one per task */
} worker_args;

static void run_worker(const worker_args *a)
{
    for (size_t task = (size_t)a->worker; task < a->ntasks; task += (size_t)a->nthreads)
        a->status[task] = a->fn(task, a->worker, a->ctx);
}

static void *thread_main(void *p)
{
    run_worker(p);
    return NULL;
}

pi_status pi_parallel_for(int nthreads, size_t ntasks, pi_task_fn fn, void *ctx)
{
    if (ntasks == 0)
        return PI_OK;
    if (nthreads < 1)
        nthreads = 1;
    if ((size_t)nthreads > ntasks)
        nthreads = (int)ntasks;
    pi_status *status = pi_alloc_array(ntasks, sizeof *status);
    worker_args *args = pi_alloc_array((size_t)nthreads, sizeof *args);
    pthread_t *threads = pi_alloc_array((size_t)nthreads, sizeof *threads);
    if (status == NULL || args == NULL || threads == NULL) {
        pi_free(status);
        pi_free(args);
        pi_free(threads);
        return pi_fail(PI_ENOMEM, "out of memory starting %d threads", nthreads);
    }
    int started = 1; /* worker 0 runs on the calling thread */
    for (int w = 0; w < nthreads; w++)
        args[w] = (worker_args){fn, ctx, ntasks, nthreads, w, status};
    for (int w = 1; w < nthreads; w++) {
        if (pthread_create(&threads[w], NULL, thread_main, &args[w]) != 0)
            break;
        started++;
    }
    /* Tasks of workers that could not start run here, keeping the static assignment. */
    run_worker(&args[0]);
    for (int w = started; w < nthreads; w++)
        run_worker(&args[w]);
    for (int w = 1; w < started; w++)
        pthread_join(threads[w], NULL);
    pi_status result = PI_OK;
    for (size_t task = 0; task < ntasks && result == PI_OK; task++)
        result = status[task];
    pi_free(status);
    pi_free(args);
    pi_free(threads);
    return result;
}
