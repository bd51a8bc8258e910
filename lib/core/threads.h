/* Minimal fork-join parallel loop on pthreads. No global state: threads are started per call. */
#ifndef PI_THREADS_H
#define PI_THREADS_H

#include "core.h"

/* Run fn(task, worker, ctx) for task in [0, ntasks) on up to nthreads threads (worker in
 * [0, nthreads)). Tasks are assigned statically: worker w runs tasks w, w + nthreads, ...
 * Returns the first nonzero status in task order (all tasks run to completion). */
typedef pi_status (*pi_task_fn)(size_t task, int worker, void *ctx);
pi_status pi_parallel_for(int nthreads, size_t ntasks, pi_task_fn fn, void *ctx);

#endif
