/* game_loop.c: embedding pathint in a game or art tool's frame loop.
 *
 * The pattern:
 *  - one model, created once and shared read-only by every thread;
 *  - one sampler per worker thread (a sampler is used by one thread at a time);
 *  - each entity (a swarm, a brush, an NPC) gets its own points every frame, from a seed
 *    derived from (entity id, frame): the same entity looks the same whichever worker draws
 *    it, with whatever thread count;
 *  - a per-frame time budget enforced by the step callback: when the frame's deadline
 *    passes, the callback returns nonzero, the run stops with PI_ECANCELED and its output
 *    holds the states of the last completed step (a coarser but valid result);
 *  - the main thread can stop everything at once with pi_sampler_cancel(), which is safe
 *    from any thread (here: a hard deadline, and "quit" at the end).
 *
 *   game_loop [--frames N] [--entities N] [--points N] [--workers K] [--budget-ms B]
 *             [--steps S] [--hbar H] [--model FILE]
 */
#include <pathint.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    int frames, entities, points, workers, steps;
    double budget_ms, hbar;
    const char *model_path;
} options;

typedef struct game game;

typedef struct worker {
    game *g;
    int index;
    pthread_t thread;
    pi_sampler_t *sampler;
    int entities_done, cut_short, failed;
    double busy_ms;
} worker;

struct game {
    options opt;
    const pi_model_t *model; /* shared by all workers */
    float *positions;        /* entities × points × 2: this frame's result */
    worker *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int frame, frames_started, workers_finished, quit;
    atomic_int next_entity;  /* work queue: the next entity to draw this frame */
    atomic_int frame_over;   /* set by the main thread at the hard deadline */
    struct timespec deadline; /* soft deadline of the current frame */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double ms_until(const struct timespec *deadline)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(deadline->tv_sec - ts.tv_sec) * 1e3 +
           (double)(deadline->tv_nsec - ts.tv_nsec) * 1e-6;
}

/* A seed from (entity, frame) only: splitmix64 of the pair. */
static uint64_t entity_seed(int entity, int frame)
{
    uint64_t z = ((uint64_t)entity << 32 | (uint32_t)frame) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The budget: stop when the frame's soft deadline has passed or the main thread says so. */
static int on_step(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                   const float *denoised, void *user_data)
{
    (void)step, (void)nsteps, (void)t, (void)n, (void)dim, (void)x, (void)denoised;
    worker *w = user_data;
    return atomic_load(&w->g->frame_over) || ms_until(&w->g->deadline) <= 0.0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    game *g = w->g;
    int seen = 0;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        while (!g->quit && g->frames_started == seen)
            pthread_cond_wait(&g->wake, &g->lock);
        if (g->quit) {
            pthread_mutex_unlock(&g->lock);
            return NULL;
        }
        seen = g->frames_started;
        int frame = g->frame;
        pthread_mutex_unlock(&g->lock);

        double t0 = now_ms();
        for (int e; (e = atomic_fetch_add(&g->next_entity, 1)) < g->opt.entities;) {
            float *out = g->positions + (size_t)e * (size_t)g->opt.points * 2;
            if (atomic_load(&g->frame_over)) { /* out of time: keep last frame's points */
                w->cut_short++;
                continue;
            }
            pi_sampler_set_seed(w->sampler, entity_seed(e, frame));
            pi_status st = pi_sampler_run(w->sampler, (size_t)g->opt.points, out);
            if (st == PI_ECANCELED)
                w->cut_short++; /* out holds the last completed step: coarse but valid */
            else if (st != PI_OK)
                w->failed++;
            w->entities_done++;
        }
        w->busy_ms += now_ms() - t0;

        pthread_mutex_lock(&g->lock);
        if (++g->workers_finished == g->opt.workers)
            pthread_cond_signal(&g->done);
        pthread_mutex_unlock(&g->lock);
    }
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.frames = 10, .entities = 16, .points = 256, .workers = 2, .steps = 20,
                   .budget_ms = 16.0, .hbar = 0.5, .model_path = NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(a, "--frames")) o->frames = atoi(v);
        else if (!strcmp(a, "--entities")) o->entities = atoi(v);
        else if (!strcmp(a, "--points")) o->points = atoi(v);
        else if (!strcmp(a, "--workers")) o->workers = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--budget-ms")) o->budget_ms = atof(v);
        else if (!strcmp(a, "--hbar")) o->hbar = atof(v);
        else if (!strcmp(a, "--model")) o->model_path = v;
        else return -1;
        i++;
    }
    return o->frames > 0 && o->entities > 0 && o->points > 0 && o->workers > 0 && o->workers <= 64 &&
                   o->steps > 0 && o->budget_ms > 0 ? 0 : -1;
}

/* Without a model file: eight bumps on a ring, an exact Gaussian mixture (no training). */
static pi_status ring_model(pi_model_t **out)
{
    double w[8], mu[16], var[16];
    for (int k = 0; k < 8; k++) {
        w[k] = 1.0;
        mu[2 * k] = 2.0 * cos(k * 0.785398163397448);
        mu[2 * k + 1] = 2.0 * sin(k * 0.785398163397448);
        var[2 * k] = var[2 * k + 1] = 0.02;
    }
    pi_sde_t *sde = NULL;
    pi_status st = pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);
    if (st == PI_OK)
        st = pi_model_create_gmm(sde, 2, 8, w, mu, var, out);
    pi_sde_destroy(sde); /* the model keeps its own copy */
    return st;
}

int main(int argc, char **argv)
{
    game g;
    memset(&g, 0, sizeof g);
    if (parse(argc, argv, &g.opt)) {
        fprintf(stderr, "usage: %s [--frames N] [--entities N] [--points N] [--workers K] [--budget-ms B] "
                        "[--steps S] [--hbar H] [--model FILE]\n", argv[0]);
        return 2;
    }
    const options *o = &g.opt;
    pi_model_t *model = NULL;
    pi_status st = o->model_path ? pi_model_load(o->model_path, &model) : ring_model(&model);
    size_t dim = 0;
    if (st == PI_OK)
        pi_model_get_dim(model, &dim);
    if (st == PI_OK && dim != 2) {
        fprintf(stderr, "game_loop: this demo draws 2-D points; the model has dimension %zu\n", dim);
        pi_model_destroy(model);
        return 1;
    }
    if (st != PI_OK) {
        fprintf(stderr, "game_loop: cannot create the model: %s\n", pi_last_error());
        return 1;
    }
    g.model = model;
    g.positions = calloc((size_t)o->entities * (size_t)o->points * 2, sizeof(float));
    g.workers = calloc((size_t)o->workers, sizeof *g.workers);
    if (!g.positions || !g.workers)
        return 1;
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.wake, NULL);
    pthread_cond_init(&g.done, NULL);
    atomic_init(&g.next_entity, 0);
    atomic_init(&g.frame_over, 0);

    /* Setup cost is paid once, outside the frame loop: samplers allocate their workspace on
     * the first run of a given size and reuse it afterwards. */
    for (int i = 0; i < o->workers; i++) {
        worker *w = &g.workers[i];
        w->g = &g;
        w->index = i;
        if ((st = pi_sampler_create(model, &w->sampler)) || (st = pi_sampler_set_hbar(w->sampler, o->hbar)) ||
            (st = pi_sampler_set_steps(w->sampler, (size_t)o->steps)) ||
            (st = pi_sampler_set_method(w->sampler, PI_METHOD_EXP2M)) ||
            (st = pi_sampler_set_callback(w->sampler, on_step, w))) {
            fprintf(stderr, "game_loop: sampler setup failed: %s\n", pi_last_error());
            return 1;
        }
        pthread_create(&w->thread, NULL, worker_main, w);
    }

    printf("%d entities × %d points, %d workers, %d steps at ħ = %g, budget %.1f ms per frame\n", o->entities,
           o->points, o->workers, o->steps, o->hbar, o->budget_ms);
    int total_cut = 0, total_failed = 0;
    double worst = 0, sum = 0;
    for (int f = 0; f < o->frames; f++) {
        double t0 = now_ms();
        pthread_mutex_lock(&g.lock);
        g.frame = f;
        atomic_store(&g.next_entity, 0);
        atomic_store(&g.frame_over, 0);
        g.workers_finished = 0;
        for (int i = 0; i < o->workers; i++)
            g.workers[i].cut_short = g.workers[i].failed = g.workers[i].entities_done = 0;
        clock_gettime(CLOCK_MONOTONIC, &g.deadline);
        long ns = g.deadline.tv_nsec + (long)(o->budget_ms * 1e6);
        g.deadline.tv_sec += ns / 1000000000L;
        g.deadline.tv_nsec = ns % 1000000000L;
        g.frames_started++;
        pthread_cond_broadcast(&g.wake);
        /* Hard deadline at 1.5 × the budget: cancel every sampler from this thread. */
        struct timespec hard;
        clock_gettime(CLOCK_REALTIME, &hard);
        ns = hard.tv_nsec + (long)(o->budget_ms * 1.5e6);
        hard.tv_sec += ns / 1000000000L;
        hard.tv_nsec = ns % 1000000000L;
        int hard_cancel = 0;
        while (g.workers_finished < o->workers) {
            if (!hard_cancel && pthread_cond_timedwait(&g.done, &g.lock, &hard) != 0) {
                atomic_store(&g.frame_over, 1);
                for (int i = 0; i < o->workers; i++)
                    pi_sampler_cancel(g.workers[i].sampler);
                hard_cancel = 1;
            } else if (hard_cancel) {
                pthread_cond_wait(&g.done, &g.lock);
            }
        }
        pthread_mutex_unlock(&g.lock);
        double ms = now_ms() - t0;
        int cut = 0, failed = 0;
        for (int i = 0; i < o->workers; i++) {
            cut += g.workers[i].cut_short;
            failed += g.workers[i].failed;
        }
        total_cut += cut;
        total_failed += failed;
        worst = ms > worst ? ms : worst;
        sum += ms;
        /* "Render": the centroid of entity 0, as a stand-in for drawing. */
        double cx = 0, cy = 0;
        for (int p = 0; p < o->points; p++) {
            cx += g.positions[2 * p];
            cy += g.positions[2 * p + 1];
        }
        printf("frame %3d  %7.2f ms  %d/%d entities full quality%s  entity 0 at (%+.3f, %+.3f)\n", f, ms,
               o->entities - cut - failed, o->entities, hard_cancel ? "  (hard cancel)" : "", cx / o->points,
               cy / o->points);
    }

    /* Quit: wake the workers to exit (a real game would also cancel in-flight runs here). */
    pthread_mutex_lock(&g.lock);
    g.quit = 1;
    atomic_store(&g.frame_over, 1);
    for (int i = 0; i < o->workers; i++)
        pi_sampler_cancel(g.workers[i].sampler);
    pthread_cond_broadcast(&g.wake);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < o->workers; i++)
        pthread_join(g.workers[i].thread, NULL);

    /* Determinism: redraw entity 0 of the last frame on this thread, with no budget. */
    float *again = malloc((size_t)o->points * 2 * sizeof *again);
    pi_sampler_t *check = NULL;
    int same = -1;
    if (again && pi_sampler_create(model, &check) == PI_OK && pi_sampler_set_hbar(check, o->hbar) == PI_OK &&
        pi_sampler_set_steps(check, (size_t)o->steps) == PI_OK &&
        pi_sampler_set_method(check, PI_METHOD_EXP2M) == PI_OK &&
        pi_sampler_set_seed(check, entity_seed(0, o->frames - 1)) == PI_OK &&
        pi_sampler_run(check, (size_t)o->points, again) == PI_OK)
        same = memcmp(again, g.positions, (size_t)o->points * 2 * sizeof(float)) == 0;
    printf("mean frame %.2f ms, worst %.2f ms; %d entity draws cut short by the budget, %d failed\n",
           sum / o->frames, worst, total_cut, total_failed);
    printf("entity 0 redrawn on the main thread: %s\n",
           same == 1 ? "bit-identical (deterministic per entity)"
                     : same == 0 ? "different (it was cut short by the budget in the last frame)" : "not checked");
    pi_sampler_destroy(check);
    free(again);
    for (int i = 0; i < o->workers; i++)
        pi_sampler_destroy(g.workers[i].sampler);
    pi_model_destroy(model);
    free(g.positions);
    free(g.workers);
    pthread_mutex_destroy(&g.lock);
    pthread_cond_destroy(&g.wake);
    pthread_cond_destroy(&g.done);
    return total_failed ? 1 : 0;
}
