/* One sampling run: workspace, parallel regions on the sampler's pool, the
 * fixed-step loop, callbacks, trajectories and cancellation (MATH.md §3).
 *
 * Rows are independent for every fixed-step method: the noise of (row, step, element) comes
 * from Philox and each row's arithmetic does not depend on the other rows, so the partition
 * into worker ranges and model chunks cannot change a single bit of the result. Workers take
 * contiguous row ranges; each evaluates the model on chunks of at most PI_SAMPLER_CHUNK rows
 * with its own workspace and one BLIS thread. Everything is allocated before the first step. */
#include "sampler_impl.h"

#include <string.h>

/* ---- parallel regions on the sampler's pool ------------------------------------------- */

/* Worker w's rows: [n·w/W, n·(w+1)/W), in chunks. */
static pi_status work_rows(pi_run *run, int w, pi_rows_fn fn, void *ctx)
{
    size_t lo = run->n * (size_t)w / (size_t)run->nworkers;
    size_t hi = run->n * (size_t)(w + 1) / (size_t)run->nworkers;
    size_t chunk = run->s->worker_chunk;
    for (size_t r0 = lo; r0 < hi; r0 += chunk) {
        size_t r1 = r0 + chunk < hi ? r0 + chunk : hi;
        run->workers[w].row0 = r0; /* conditions of the chunk's rows (guidance.c) */
        pi_status st = fn(run, r0, r1, &run->workers[w], ctx);
        if (st != PI_OK)
            return st;
    }
    return PI_OK;
}

typedef struct rows_region {
    pi_run *run;
    pi_rows_fn fn;
    void *ctx;
} rows_region;

/* Task w = row range w with workspace w (whichever pool worker runs it). */
static pi_status rows_task(size_t task, int worker, void *p)
{
    (void)worker;
    const rows_region *r = p;
    return work_rows(r->run, (int)task, r->fn, r->ctx);
}

pi_status pi_run_parallel(pi_run *run, pi_rows_fn fn, void *ctx)
{
    rows_region region = {run, fn, ctx};
    return pi_pool_run(run->pool, run->nworkers, (size_t)run->nworkers, rows_task, &region);
}

pi_status pi_sampler_pool(pi_sampler_t *s, pi_pool **out)
{
    return pi_pool_fit(&s->pool, s->threads, out);
}

/* ---- helpers for integrators ----------------------------------------------------------- */

pi_status pi_run_eval(pi_run *run, pi_worker *w, pi_view view, size_t rows, const float *in,
                      double t)
{
    if (pi_model_is_conditional(run->model))
        return pi_run_eval_conditional(run, w, view, rows, in, t);
    for (size_t i = 0; i < rows; i++)
        w->tvec[i] = t;
    pi_eval_ctx ctx = {w->workspace, w->workspace_bytes, 1, NULL, NULL};
    return pi_model_eval_ctx(run->model, view, rows, in, w->tvec, w->fout, &ctx);
}

void pi_run_noise(const pi_run *run, uint32_t stream, size_t row, uint32_t step_key, double *out)
{
    pi_rng_normal_d(run->seed, stream, run->first_row + (uint64_t)row, step_key, run->dim, out);
}

/* Virtual Brownian tree (time-keyed noise). The path of (seed, row) on [lo, hi] = [t_min, t_max]
 * of the SDE: W(lo) = 0, W(hi) = sqrt(hi − lo) ξ_0; the midpoint of interval k (root 1,
 * children 2k, 2k + 1) is the Brownian bridge value (W(a) + W(b))/2 + sqrt((b − a)/4) ξ_k; after
 * PI_BROWNIAN_DEPTH levels, t inside leaf k gets the bridge value
 * W(a) + (t − a)/(b − a) (W(b) − W(a)) + sqrt((t − a)(b − t)/(b − a)) ξ_k. Every ξ is a vector of
 * dim Philox normals keyed (seed, PI_STREAM_BROWNIAN, row, k): W(t) is one fixed function of t,
 * and W at points in different leaves has exactly the joint law of Brownian motion. */
typedef struct brownian_walk {
    double a, b; /* current interval */
    uint32_t k;  /* its node */
    double *wa, *wb; /* W(a), W(b), dim each */
} brownian_walk;

/* One level down towards t: the midpoint value from ξ_k (in xi), then the half holding t. */
static void brownian_down(brownian_walk *bw, double t, const double *xi, size_t dim)
{
    double m = bw->a + 0.5 * (bw->b - bw->a), sd = sqrt(0.25 * (bw->b - bw->a));
    int right = t >= m;
    double *mid = right ? bw->wa : bw->wb; /* the end that moves to m */
    for (size_t j = 0; j < dim; j++)
        mid[j] = 0.5 * (bw->wa[j] + bw->wb[j]) + sd * xi[j];
    if (right)
        bw->a = m;
    else
        bw->b = m;
    bw->k = 2 * bw->k + (uint32_t)right;
}

/* From a walk at a leaf: W(t) into out (may alias nothing of the walk). */
static void brownian_leaf(const pi_run *run, size_t row, const brownian_walk *bw, double t,
                          double *xi, double *out)
{
    size_t dim = run->dim;
    double len = bw->b - bw->a, u = (t - bw->a) / len;
    double sd = sqrt(fmax(0.0, (t - bw->a) * (bw->b - t) / len));
    pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, bw->k, dim, xi);
    for (size_t j = 0; j < dim; j++)
        out[j] = bw->wa[j] + u * (bw->wb[j] - bw->wa[j]) + sd * xi[j];
}

void pi_run_step_noise(const pi_run *run, const pi_step_coeffs *co, size_t row, pi_worker *w,
                       double *out)
{
    size_t dim = run->dim;
    double lo = run->sde->t_min, hi = run->sde->t_max, ts = co->t_s, tt = co->t_t;
    if (run->s->noise != PI_NOISE_BROWNIAN) {
        pi_run_noise(run, PI_STREAM_STEP, row, (uint32_t)co->step, out);
        return;
    }
    double *xi = w->brownian, *ws = xi + dim;
    double *wc = run->wcur != NULL ? run->wcur + row * dim : NULL;
    int cache = wc != NULL && co->step == run->step; /* the step being taken, not a replay */
    if (cache && run->wtime[row] == ts) {
        /* W(t_s) is the previous step's W(t_t): one walk, to t_t, bit for bit the same W. The
         * walk to t_s left its upper levels in the row's stack: the levels where t_t lies in the
         * same intervals are the same nodes with the same values, so the walk starts below
         * them (the interval ends are recomputed by the same arithmetic). */
        const size_t cap = run->wlevels;
        /* no kept levels (over the budget): W(T) in the worker's scratch, drawn every step */
        double *stack = run->wstack != NULL ? run->wstack + row * (cap + 1) * dim : ws + 5 * dim;
        size_t valid = run->wstack != NULL ? run->wdepth[row] : 0, shared = 0;
        brownian_walk s1 = {lo, hi, 1, ws + dim, ws + 2 * dim};
        const double *wa = NULL, *wb = stack; /* W(a), W(b) of the shared interval; NULL = 0 */
        if (valid == 0) {
            pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, 0, dim,
                            stack);
            double sr = sqrt(hi - lo);
            for (size_t j = 0; j < dim; j++)
                stack[j] *= sr;
            valid = 1;
        }
        while (shared + 1 < valid) { /* descent shared + 1 is cached: is it t_t's too? */
            double m = s1.a + 0.5 * (s1.b - s1.a);
            int right = tt >= m;
            if ((ts >= m) != right)
                break;
            if (right) {
                s1.a = m;
                wa = stack + (shared + 1) * dim;
            } else {
                s1.b = m;
                wb = stack + (shared + 1) * dim;
            }
            s1.k = 2 * s1.k + (uint32_t)right;
            shared++;
        }
        for (size_t j = 0; j < dim; j++) {
            s1.wa[j] = wa != NULL ? wa[j] : 0.0;
            s1.wb[j] = wb[j];
        }
        for (size_t l = shared; l < PI_BROWNIAN_DEPTH; l++) {
            pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, s1.k, dim, xi);
            brownian_down(&s1, tt, xi, dim);
            if (l + 1 <= cap) /* keep the new midpoint value: the end that moved */
                memcpy(stack + (l + 1) * dim, (s1.k & 1u) ? s1.wa : s1.wb, dim * sizeof *stack);
        }
        if (run->wstack != NULL)
            run->wdepth[row] = (uint32_t)(cap + 1);
        brownian_leaf(run, row, &s1, tt, xi, ws);
        double inv = 1.0 / sqrt(ts - tt);
        for (size_t j = 0; j < dim; j++) {
            out[j] = (wc[j] - ws[j]) * inv;
            wc[j] = ws[j];
        }
        run->wtime[row] = tt;
        return;
    }
    brownian_walk p = {lo, hi, 1, ws + dim, ws + 2 * dim};
    brownian_walk q = {0.0, 0.0, 0, ws + 3 * dim, ws + 4 * dim};
    for (size_t j = 0; j < dim; j++)
        p.wa[j] = 0.0;
    pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, 0, dim, p.wb);
    double sroot = sqrt(hi - lo);
    for (size_t j = 0; j < dim; j++)
        p.wb[j] *= sroot;
    /* The step being taken leaves t_t's levels in the row's stack for the next step. */
    if (run->wstack == NULL)
        cache = 0; /* nothing to keep (wcur and wtime are still kept below) */
    const size_t cap = cache ? run->wlevels : 0;
    double *stack = cache ? run->wstack + row * (cap + 1) * dim : NULL;
    if (cache) {
        run->wdepth[row] = 0; /* until the walk is complete */
        memcpy(stack, p.wb, dim * sizeof *stack);
    }
    /* Shared descent while t_s and t_t lie in the same half. */
    int level = 0, split = 0;
    for (; level < PI_BROWNIAN_DEPTH; level++) {
        double m = p.a + 0.5 * (p.b - p.a);
        pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, p.k, dim, xi);
        if ((ts >= m) != (tt >= m)) { /* they part here: q follows t_t from a copy */
            q.a = p.a;
            q.b = p.b;
            q.k = p.k;
            memcpy(q.wa, p.wa, dim * sizeof *q.wa);
            memcpy(q.wb, p.wb, dim * sizeof *q.wb);
            brownian_down(&p, ts, xi, dim);
            brownian_down(&q, tt, xi, dim);
            split = 1;
            level++;
            if (cache && (size_t)level <= cap)
                memcpy(stack + (size_t)level * dim, (q.k & 1u) ? q.wa : q.wb, dim * sizeof *stack);
            break;
        }
        brownian_down(&p, ts, xi, dim);
        if (cache && (size_t)level + 1 <= cap) /* a level of t_t's path too */
            memcpy(stack + ((size_t)level + 1) * dim, (p.k & 1u) ? p.wa : p.wb, dim * sizeof *stack);
    }
    if (!split) { /* one leaf holds both times: the tree cannot resolve this step */
        pi_run_noise(run, PI_STREAM_STEP, row, (uint32_t)co->step, out);
        return;
    }
    for (int l = level; l < PI_BROWNIAN_DEPTH; l++) {
        pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, p.k, dim, xi);
        brownian_down(&p, ts, xi, dim);
        pi_rng_normal_d(run->seed, PI_STREAM_BROWNIAN, run->first_row + (uint64_t)row, q.k, dim, xi);
        brownian_down(&q, tt, xi, dim);
        if (cache && (size_t)l + 1 <= cap)
            memcpy(stack + ((size_t)l + 1) * dim, (q.k & 1u) ? q.wa : q.wb, dim * sizeof *stack);
    }
    brownian_leaf(run, row, &p, ts, xi, ws);
    brownian_leaf(run, row, &q, tt, xi, out);
    if (wc != NULL && co->step == run->step) {
        memcpy(wc, out, dim * sizeof *wc);
        run->wtime[row] = tt;
        if (cache)
            run->wdepth[row] = (uint32_t)(cap + 1);
    }
    double inv = 1.0 / sqrt(ts - tt);
    for (size_t j = 0; j < dim; j++)
        out[j] = (ws[j] - out[j]) * inv;
}

/* ---- workspace --------------------------------------------------------------------------- */

void pi_sampler_release_workspace(pi_sampler_t *s)
{
    for (int w = 0; w < s->workers_count; w++) {
        pi_free(s->workers[w].block);
        pi_free(s->workers[w].gblock);
    }
    pi_free(s->workers);
    s->workers = NULL;
    s->workers_count = 0;
    s->worker_chunk = 0;
    pi_free(s->times);
    s->times = NULL;
    s->times_capacity = 0;
    pi_free(s->state_block);
    s->state_block = NULL;
    s->state_bytes = 0;
    pi_free(s->traj_x_own);
    pi_free(s->traj_d_own);
    s->traj_x_own = s->traj_d_own = NULL;
    s->traj_own_capacity = 0;
    s->traj_x = s->traj_d = NULL;
    s->traj_points = 0;
}

static size_t round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static pi_status ensure_workers(pi_sampler_t *s, int count, size_t chunk)
{
    if (s->workers_count == count && s->worker_chunk == chunk)
        return PI_OK;
    for (int w = 0; w < s->workers_count; w++) {
        pi_free(s->workers[w].block);
        pi_free(s->workers[w].gblock);
    }
    pi_free(s->workers);
    s->workers = NULL;
    s->workers_count = 0;
    s->worker_chunk = 0;
    size_t d = s->dim;
    size_t cd = chunk * d;
    /* A conditional model may be evaluated on a guided batch of 2 × chunk rows. */
    size_t gbytes = pi_guidance_buffer_bytes(s, chunk);
    size_t ws = round64(pi_model_workspace_bytes(s->model, gbytes > 0 ? 2 * chunk : chunk));
    size_t doubles = chunk + (size_t)(1 + PI_WORKER_BUFFERS) * cd + PI_BROWNIAN_SCRATCH * d;
    size_t bytes = 64 + ws + doubles * sizeof(double) + 2 * cd * sizeof(float);
    pi_worker *workers = pi_calloc((size_t)count, sizeof *workers);
    if (workers == NULL)
        return pi_fail(PI_ENOMEM, "sampler: out of memory for %d workers", count);
    for (int w = 0; w < count; w++) {
        pi_worker *wk = &workers[w];
        wk->block = pi_malloc(bytes);
        wk->gblock = gbytes > 0 ? pi_malloc(gbytes) : NULL;
        if (wk->block == NULL || (gbytes > 0 && wk->gblock == NULL)) {
            pi_free(wk->block);
            pi_free(wk->gblock);
            for (int v = 0; v < w; v++) {
                pi_free(workers[v].block);
                pi_free(workers[v].gblock);
            }
            pi_free(workers);
            return pi_fail(PI_ENOMEM, "sampler: out of memory for %zu bytes of worker scratch", bytes);
        }
        unsigned char *base = wk->block;
        base += (64 - ((uintptr_t)base & 63)) & 63;
        wk->workspace = base;
        wk->workspace_bytes = ws;
        double *dp = (double *)(void *)(base + ws);
        wk->tvec = dp;
        dp += chunk;
        wk->noise = dp;
        dp += cd;
        for (int b = 0; b < PI_WORKER_BUFFERS; b++) {
            wk->buf[b] = dp;
            dp += cd;
        }
        wk->brownian = dp;
        dp += PI_BROWNIAN_SCRATCH * d;
        float *fp = (float *)(void *)dp;
        wk->fin = fp;
        wk->fout = fp + cd;
        if (gbytes > 0)
            pi_guidance_buffer_layout(s, chunk, wk->gblock, wk);
    }
    s->workers = workers;
    s->workers_count = count;
    s->worker_chunk = chunk;
    return PI_OK;
}

/* State block: x, xnew, k_first, k_last (doubles, the last three for adaptive methods only),
 * row_err (n doubles), den and den_prev (floats), then history + 1 multistep buffers (floats)
 * for integrators that keep a history. */
static pi_status ensure_state(pi_sampler_t *s, pi_run *run, int adaptive)
{
    size_t total = run->n * run->dim;
    size_t nd = adaptive ? 4 : s->integrator->aux_state ? 2 : 1;
    size_t nhist = s->integrator->history > 0 ? s->integrator->history + 1 : 0;
    int brown = !adaptive && s->noise == PI_NOISE_BROWNIAN && run->hbar > 0.0;
    /* Cached tree levels: all of them if they fit the budget, else as many as fit. */
    size_t levels = 0, kept = 0; /* kept: W(T) and the levels, or 0 when not even one fits */
    if (brown) {
        size_t per_level = total * sizeof(double);
        size_t fit = per_level > 0 ? PI_BROWNIAN_CACHE_BYTES / per_level : 0;
        levels = fit < 2 ? 0 : fit - 1 < PI_BROWNIAN_DEPTH ? fit - 1 : PI_BROWNIAN_DEPTH;
        kept = fit < 2 ? 0 : levels + 1;
    }
    size_t bytes = (nd * total + (adaptive ? run->n : 0) +
                    (brown ? total + run->n + kept * total : 0)) *
                       sizeof(double) +
                   (2 + nhist) * total * sizeof(float) + (brown ? run->n * sizeof(uint32_t) : 0);
    if (bytes > s->state_bytes) {
        void *block = pi_malloc(bytes);
        if (block == NULL)
            return pi_fail(PI_ENOMEM, "sampler: out of memory for %zu bytes of state", bytes);
        pi_free(s->state_block);
        s->state_block = block;
        s->state_bytes = bytes;
    }
    double *dp = s->state_block;
    run->x = dp;
    dp += total;
    if (!adaptive && s->integrator->aux_state) {
        run->xaux = dp;
        dp += total;
    }
    if (brown) { /* the Brownian path's value at each row's current time (none yet) */
        run->wcur = dp;
        dp += total;
        run->wtime = dp;
        dp += run->n;
        for (size_t r = 0; r < run->n; r++)
            run->wtime[r] = NAN;
        run->wstack = kept > 0 ? dp : NULL;
        run->wlevels = levels;
        dp += kept * total;
    }
    if (adaptive) {
        run->xnew = dp;
        dp += total;
        run->k_first = dp;
        dp += total;
        run->k_last = dp;
        dp += total;
        run->row_err = dp;
        dp += run->n;
    }
    float *fp = (float *)(void *)dp;
    run->den = fp;
    run->den_prev = fp + total;
    for (size_t i = 0; i < nhist; i++)
        run->hist[i] = fp + (2 + i) * total;
    if (brown) {
        run->wdepth = (uint32_t *)(void *)(fp + (2 + nhist) * total);
        for (size_t r = 0; r < run->n; r++)
            run->wdepth[r] = 0;
    }
    return PI_OK;
}

static pi_status ensure_trajectory(pi_sampler_t *s, pi_run *run, size_t steps, int adaptive)
{
    size_t total = run->n * run->dim, points = steps + 1, need;
    s->traj_x = s->traj_d = NULL;
    s->traj_points = 0;
    run->record = s->record;
    if (!s->record)
        return PI_OK;
    if (!pi_size_mul(points, total, &need))
        return pi_fail(PI_EINVAL, "sampler: trajectory of %zu points x %zu floats is too large",
                       points, total);
    if (s->traj_x_user != NULL || s->traj_d_user != NULL) {
        size_t cap = s->traj_user_capacity;
        if (!adaptive && cap < need)
            return pi_fail(PI_EINVAL,
                           "sampler: trajectory capacity must be >= (steps + 1) * n * dim = %zu "
                           "floats, got %zu",
                           need, cap);
        if (cap < 2 * total)
            return pi_fail(PI_EINVAL,
                           "sampler: trajectory capacity must be >= 2 * n * dim = %zu floats, got %zu",
                           2 * total, cap);
        run->traj_x = s->traj_x_user;
        run->traj_d = s->traj_d_user;
        run->traj_capacity_points = cap / total;
        return PI_OK;
    }
    if (need > s->traj_own_capacity) {
        float *xb = pi_alloc_array(need, sizeof *xb);
        float *db = pi_alloc_array(need, sizeof *db);
        if (xb == NULL || db == NULL) {
            pi_free(xb);
            pi_free(db);
            return pi_fail(PI_ENOMEM, "sampler: out of memory for a trajectory of %zu floats", need);
        }
        pi_free(s->traj_x_own);
        pi_free(s->traj_d_own);
        s->traj_x_own = xb;
        s->traj_d_own = db;
        s->traj_own_capacity = need;
    }
    run->traj_x = s->traj_x_own;
    run->traj_d = s->traj_d_own;
    run->traj_capacity_points = s->traj_own_capacity / total;
    return PI_OK;
}

/* ---- per-step row functions ------------------------------------------------------------- */

typedef struct prior_ctx {
    double std;
} prior_ctx;

/* Inpainting of the initial states at t_start (ctx: the SDE there). */
static pi_status inpaint_start_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    pi_inpaint_rows(run, 0, ctx, r0, r1, w);
    return PI_OK;
}

static pi_status prior_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    (void)w;
    double std = ((const prior_ctx *)ctx)->std;
    size_t d = run->dim;
    for (size_t r = r0; r < r1; r++) {
        double *xr = run->x + r * d;
        pi_rng_normal_d(run->seed, PI_STREAM_PRIOR, run->first_row + (uint64_t)r, 0, d, xr);
        for (size_t j = 0; j < d; j++)
            xr[j] *= std;
    }
    return PI_OK;
}

static pi_status load_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    (void)w;
    (void)ctx;
    size_t d = run->dim;
    for (size_t i = r0 * d; i < r1 * d; i++)
        run->x[i] = (double)run->x_out[i];
    return PI_OK;
}

/* x → x_out (the float mirror the model, the callback and the caller read). */
static pi_status mirror_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    (void)w;
    (void)ctx;
    size_t d = run->dim;
    for (size_t i = r0 * d; i < r1 * d; i++) {
        float v = (float)run->x[i];
        if (!isfinite(v))
            return pi_fail(PI_ENUMERIC,
                           "sampler: non-finite state (%g) in row %zu after step %zu; try more "
                           "steps or another method",
                           run->x[i], i / d, run->step + 1);
        run->x_out[i] = v;
    }
    return PI_OK;
}

pi_status pi_run_mirror(pi_run *run) { return pi_run_parallel(run, mirror_rows, NULL); }

static pi_status fixed_step_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    const pi_step_coeffs *co = ctx;
    pi_status st = run->s->integrator->step_rows(run, co, r0, r1, w);
    if (st == PI_OK && run->s->corrector_steps > 0 && co->pt.sigma > 0.0)
        st = pi_corrector_rows(run, run->step, co->t_t, &co->pt, r0, r1, w);
    if (st == PI_OK)
        pi_inpaint_rows(run, run->step + 1, &co->pt, r0, r1, w);
    return st;
}

/* D(x, t) for the final point, into den (σ(t) > 0). */
static pi_status final_denoise_rows(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx)
{
    double t = *(const double *)ctx;
    size_t d = run->dim;
    pi_status st = pi_run_eval(run, w, PI_VIEW_DENOISED, r1 - r0, run->x_out + r0 * d, t);
    if (st == PI_OK)
        memcpy(run->den + r0 * d, w->fout, (r1 - r0) * d * sizeof(float));
    return st;
}

pi_status pi_run_after_step(pi_run *run, size_t step, size_t nsteps, double t)
{
    pi_sampler_t *s = run->s;
    size_t total = run->n * run->dim;
    if (run->record && step < run->traj_capacity_points) {
        if (run->traj_x != NULL)
            memcpy(run->traj_x + step * total, run->x_out, total * sizeof(float));
        if (run->traj_d != NULL && run->den_valid)
            memcpy(run->traj_d + (step - 1) * total, run->den, total * sizeof(float));
        s->traj_points = step + 1;
    }
    if (s->callback != NULL) {
        int rc = s->callback(step, nsteps, t, run->n, run->dim, run->x_out,
                             run->den_valid ? run->den : NULL, s->callback_data);
        if (rc != 0)
            return pi_fail(PI_ECANCELED,
                           "sampler: canceled by the step callback (returned %d) after step %zu; "
                           "x holds the states of that step",
                           rc, step);
    }
    if (atomic_load(&s->cancel))
        return pi_fail(PI_ECANCELED,
                       "sampler: canceled by pi_sampler_cancel() after step %zu; x holds the states "
                       "of that step",
                       step);
    return PI_OK;
}

/* ---- the run ----------------------------------------------------------------------------- */

static double prior_std_at(const pi_sde_t *sde, double t_start)
{
    double std = pi_sde_prior_std_of(sde);
    if (t_start == sde->t_max)
        return std;
    /* Below T: the marginal std of unit-variance data, scaled to agree with the prior at T. */
    double a0, s0, a1, s1;
    if (pi_sde_eval_marginal(sde, t_start, &a0, &s0) != PI_OK ||
        pi_sde_eval_marginal(sde, sde->t_max, &a1, &s1) != PI_OK)
        return std;
    return std * sqrt((a0 * a0 + s0 * s0) / (a1 * a1 + s1 * s1));
}

static pi_status fixed_loop(pi_run *run, size_t steps)
{
    pi_sampler_t *s = run->s;
    const struct pi_integrator_type *it = s->integrator;
    for (size_t k = 0; k < steps; k++) {
        pi_step_coeffs *co = &run->co;
        memset(co, 0, sizeof *co);
        co->t_s = run->times[k];
        co->t_t = run->times[k + 1];
        pi_status st = pi_sde_eval(run->sde, co->t_s, &co->ps);
        if (st == PI_OK)
            st = pi_sde_eval(run->sde, co->t_t, &co->pt);
        if (st != PI_OK)
            return st;
        co->first_order = k == 0 || !(co->pt.sigma_tilde > 0.0);
        co->step = k;
        co->nfe = it->nfe_per_step;
        run->step = k;
        st = it->prepare(run, co);
        if (st == PI_OK)
            st = pi_run_parallel(run, fixed_step_rows, co);
        if (st != PI_OK)
            return st;
        run->nfe += co->nfe + (co->pt.sigma > 0.0 ? s->corrector_steps : 0);
        st = pi_run_parallel(run, mirror_rows, NULL);
        if (st != PI_OK)
            return st;
        run->accepted++;
        run->den_valid = 1;
        run->h_prev2_lambda = run->h_prev_lambda;
        run->h_prev_lambda = co->pt.sigma_tilde > 0.0 ? log(co->ps.sigma_tilde / co->pt.sigma_tilde)
                                                      : 0.0;
        if (it->history > 0) { /* this step's value becomes hist[1], the oldest is reused */
            float *oldest = run->hist[it->history];
            for (size_t i = it->history; i > 0; i--)
                run->hist[i] = run->hist[i - 1];
            run->hist[0] = oldest;
            if (run->hist_count < it->history)
                run->hist_count++;
        }
        st = pi_run_after_step(run, k + 1, steps, co->t_t);
        if (st != PI_OK)
            return st;
        float *tmp = run->den_prev;
        run->den_prev = run->den;
        run->den = tmp;
        run->den_valid = 0;
    }
    return PI_OK;
}

pi_status pi_sampler_execute(pi_sampler_t *s, double t_start, size_t n, float *x_out,
                             int from_states)
{
    PI_CHECK_NULL(x_out);
    s->nfe = s->accepted = s->rejected = 0; /* a run that fails early counts nothing */
    s->traj_x = s->traj_d = NULL; /* ... and records nothing: no earlier run's rows are shown */
    s->traj_points = 0;
    size_t dim = s->dim, total;
    if (n == 0 || !pi_size_mul(n, dim, &total))
        return pi_fail(PI_EINVAL, "sampler: n must be >= 1 with n * dim <= 2^40, got n = %zu (dim %zu)",
                       n, dim);
    if ((uint64_t)(n - 1) > UINT64_MAX - s->first_row)
        return pi_fail(PI_EINVAL,
                       "sampler: first_row + n - 1 must be at most 2^64 - 1, got first_row = %llu "
                       "with n = %zu",
                       (unsigned long long)s->first_row, n);
    const struct pi_integrator_type *it = s->integrator;
    int adaptive = it->integrate != NULL;
    if (!it->stochastic && s->hbar > 0.0)
        return pi_fail(PI_EINVAL,
                       "sampler: method %s integrates the ODE and needs hbar = 0, got hbar = %g "
                       "(use EULER, EXP1, EXP2M, EXP3M, SA or HEUN for hbar > 0)",
                       it->name, s->hbar);
    if ((adaptive || it->aux_state) && s->corrector_steps > 0)
        return pi_fail(PI_EINVAL,
                       "sampler: the Langevin corrector is not available with %s; set corrector "
                       "steps to 0",
                       it->name);
    pi_status cst = pi_sampler_check_conditions(s, n, adaptive);
    if (cst != PI_OK)
        return cst;
    if (from_states) {
        size_t bad = pi_first_nonfinite_f(x_out, total);
        if (bad < total)
            return pi_fail(PI_EINVAL, "pi_sampler_run_from: x_inout[%zu] (row %zu) must be finite, got %g",
                           bad, bad / dim, (double)x_out[bad]);
    }

    /* Schedule. */
    size_t cap = (s->schedule == PI_SCHEDULE_CUSTOM ? s->custom_count : s->steps) + 2;
    if (cap > s->times_capacity) {
        double *t = pi_alloc_array(cap, sizeof *t);
        if (t == NULL)
            return pi_fail(PI_ENOMEM, "sampler: out of memory for %zu times", cap);
        pi_free(s->times);
        s->times = t;
        s->times_capacity = cap;
    }
    size_t steps;
    pi_status st = pi_sampler_build_times(s, t_start, s->times, &steps);
    if (st != PI_OK)
        return st;
    double t_end = s->times[steps];
    pi_sde_point pend;
    st = pi_sde_eval(s->sde, t_end, &pend);
    if (st != PI_OK)
        return st;
    if (adaptive && !(pend.sigma > 0.0))
        return pi_fail(PI_EINVAL, "sampler: %s needs sigma(t_end) > 0, got sigma(%g) = %g", it->name,
                       t_end, pend.sigma);

    pi_run run;
    memset(&run, 0, sizeof run);
    run.s = s;
    run.model = s->model;
    run.sde = s->sde;
    run.n = n;
    run.dim = dim;
    run.hbar = s->hbar;
    run.seed = s->seed;
    run.first_row = s->first_row;
    run.x_out = x_out;
    run.times = s->times;
    run.nsteps = steps;
    run.nworkers = (size_t)s->threads < n ? s->threads : (int)n;
    /* A host callback is never called from two threads within one library call (pathint.h). */
    if (s->model->type->serial)
        run.nworkers = 1;
    size_t per = (n + (size_t)run.nworkers - 1) / (size_t)run.nworkers;
    size_t chunk = per < PI_SAMPLER_CHUNK ? per : PI_SAMPLER_CHUNK;
    size_t max_rows = PI_SAMPLER_CHUNK_ELEMENTS / dim;
    if (chunk > max_rows)
        chunk = max_rows > 0 ? max_rows : 1;
    st = ensure_workers(s, run.nworkers, chunk);
    if (st == PI_OK)
        st = ensure_state(s, &run, adaptive);
    if (st == PI_OK)
        st = ensure_trajectory(s, &run, steps, adaptive);
    if (st != PI_OK)
        return st;
    run.workers = s->workers;
    if (run.nworkers > 1) {
        st = pi_sampler_pool(s, &run.pool);
        if (st != PI_OK)
            return st;
    }


    /* Initial states: caller's (run_from) or the prior. x_out is written only from here on. */
    if (from_states) {
        st = pi_run_parallel(&run, load_rows, NULL);
    } else {
        prior_ctx pc = {prior_std_at(s->sde, t_start)};
        st = pi_run_parallel(&run, prior_rows, &pc);
    }
    if (st == PI_OK && s->inpaint_rows > 0) {
        pi_sde_point start;
        st = pi_sde_eval(s->sde, t_start, &start);
        if (st == PI_OK)
            st = pi_run_parallel(&run, inpaint_start_rows, &start);
    }
    if (st == PI_OK && (!from_states || s->inpaint_rows > 0))
        st = pi_run_parallel(&run, mirror_rows, NULL);
    if (st == PI_OK && run.record) {
        memcpy(run.traj_x, x_out, total * sizeof(float));
        s->traj_points = 1;
        s->traj_x = run.traj_x;
        s->traj_d = adaptive ? NULL : run.traj_d;
    }

    if (st == PI_OK)
        st = adaptive ? it->integrate(&run, t_start, t_end) : fixed_loop(&run, steps);

    /* Final denoising (and the last denoised trajectory point). */
    if (st == PI_OK && (s->denoise_final || (run.record && !adaptive))) {
        if (pend.sigma > 0.0) {
            st = pi_run_parallel(&run, final_denoise_rows, &t_end);
            run.nfe += st == PI_OK;
        } else {
            memcpy(run.den, x_out, total * sizeof(float));
        }
        if (st == PI_OK && run.record && !adaptive && run.traj_d != NULL &&
            steps < run.traj_capacity_points)
            memcpy(run.traj_d + steps * total, run.den, total * sizeof(float));
        if (st == PI_OK && s->denoise_final)
            memcpy(x_out, run.den, total * sizeof(float));
    }
    /* The run counts; the sampler shows the last run's counts (also after a failure). */
    s->nfe = run.nfe;
    s->accepted = run.accepted;
    s->rejected = run.rejected;
    return st;
}
