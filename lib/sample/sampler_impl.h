/* Internal view of the ħ sampler (MATH.md §3): the sampler struct, the integrator vtable,
 * the per-run state shared by the driver and the integrators, and the schedule generators.
 *
 * Layering: schedule.c and gits.c produce time arrays; one file per integrator consumes
 * them through `struct pi_integrator_type`; driver.c owns a run (workspace, worker threads,
 * callback, trajectory, cancellation); sampler.c holds the public setters. The sampler only
 * samples: the likelihood is its own handle (lib/likelihood/). */
#ifndef PI_SAMPLER_IMPL_H
#define PI_SAMPLER_IMPL_H

#include "core/core.h"
#include "core/philox.h"
#include "core/threads.h"
#include "model/model_impl.h"
#include "sde/sde_impl.h"

#include <stdatomic.h>

/* Rows per model evaluation inside one worker: bounds the model workspace
 * (O(width · chunk)) whatever n is. */
#define PI_SAMPLER_CHUNK 1024
/* ... and chunk × dim <= this many elements, so that large dimensions (images) keep the
 * per-worker scratch near PI_WORKER_BUFFERS + 2 MiB. */
#define PI_SAMPLER_CHUNK_ELEMENTS ((size_t)1 << 17)
/* Double scratch buffers of chunk × dim per worker, available to integrators. */
#define PI_WORKER_BUFFERS 6
/* Time-keyed noise: levels of the virtual Brownian tree over [t_min, t_max] of the SDE (leaves
 * of width (t_max − t_min)/2^24), and its per-worker scratch in rows of dim doubles. */
#define PI_BROWNIAN_DEPTH 24
#define PI_BROWNIAN_SCRATCH 7
/* Most bytes of the per-row cache of the tree's upper levels (pi_run.wstack): runs whose rows ×
 * dim × levels need more cache fewer levels, and none (wstack NULL) when W(T) and one level do
 * not fit (results do not depend on it). */
#define PI_BROWNIAN_CACHE_BYTES ((size_t)64 << 20)
/* Maximum number of corrector steps per predictor step (the noise key packs it in 8 bits). */
#define PI_MAX_CORRECTOR_STEPS 255
/* Most previous-step values a multistep integrator keeps (iPNDM order 4 needs 3). */
#define PI_MAX_HISTORY 3
/* Limits of the adaptive solver. */
#define PI_RK_MAX_ATTEMPTS 1000000

/* Scratch of one worker thread: model workspace plus chunk-sized buffers. */
typedef struct pi_worker {
    void *workspace; /* model scratch, 64-byte aligned */
    size_t workspace_bytes;
    double *tvec;    /* chunk times (one per row) for pi_model_eval_ctx */
    float *fin;      /* chunk × dim model input */
    float *fout;     /* chunk × dim model output */
    double *noise;   /* chunk × dim standard normals */
    double *buf[PI_WORKER_BUFFERS]; /* chunk × dim each */
    double *brownian; /* PI_BROWNIAN_SCRATCH × dim: the Brownian tree's walk (one row at a time) */
    void *block;     /* the single allocation backing all of the above */
    /* Conditional models (issue 15; guidance.c). */
    size_t row0;     /* run index of the first row of the chunk being processed */
    float *gin, *gout; /* 2 × chunk × dim: the guided batch (conditional rows, then null rows) */
    double *gt;      /* 2 × chunk times */
    int32_t *glabels;/* 2 × chunk labels */
    float *gcond;    /* 2 × chunk × cond_dim vectors */
    void **growdata; /* 2 × chunk per-row pointers */
    float *uncond;   /* chunk × dim: D(x, ∅) of the last evaluation (CFG++) */
    void *gblock;    /* the allocation backing the guidance buffers */
} pi_worker;

/* Per-step coefficients, computed once per step in double by the driver and integrators. */
typedef struct pi_step_coeffs {
    double t_s, t_t;       /* from t_s down to t_t */
    pi_sde_point ps, pt;   /* SDE at both ends */
    double c[12];          /* integrator-specific coefficients */
    int first_order;       /* multistep: no history yet / final step to σ = 0 */
    size_t nfe;            /* model evaluations per row of this step (set by prepare) */
    size_t step;           /* index of the step (0-based; the step-keyed noise's key) */
} pi_step_coeffs;

/* State of one run, shared by the driver and the integrator of the run. Buffers are
 * allocated when the run starts; nothing is allocated per step. */
typedef struct pi_run {
    struct pi_sampler *s;
    const pi_model_t *model;
    const pi_sde_t *sde;
    size_t n, dim;
    double hbar;
    uint64_t seed;
    uint64_t first_row;  /* row r of the run draws its noise as row first_row + r */
    float *x_out;        /* caller buffer: float mirror of x after every step */
    double *x;           /* n × dim solver state (double) */
    float *den;          /* n × dim D(x_k, t_k) at the current step's start */
    float *den_prev;     /* n × dim D at the previous step's start (multistep history) */
    double *xnew;        /* n × dim (adaptive: candidate state) */
    double *xaux;        /* n × dim (integrators with aux_state: e.g. the corrected state) */
    double *wcur;        /* n × dim: W(wtime[r]) of each row's Brownian path (time-keyed noise) */
    double *wtime;       /* n: the time of wcur's row, NAN when none */
    /* Upper levels of each row's last walk down the Brownian tree (to wtime[r]): row r holds
     * wlevels + 1 vectors of dim doubles, W(t_max) then the midpoint value made by descent
     * 1 .. wlevels; wdepth[r] of them are valid (0: none). A step reuses the levels its walk
     * shares with the last one (the same nodes, so the same bits). */
    double *wstack;
    uint32_t *wdepth;
    size_t wlevels;
    double *k_first;     /* n × dim (adaptive: FSAL first stage) */
    double *k_last;      /* n × dim (adaptive: last stage) */
    double *row_err;     /* n (adaptive: per-row squared scaled error sums) */
    const double *times; /* steps + 1 times (fixed-step methods) */
    size_t nsteps;
    size_t step;         /* index of the step being taken (0-based) */
    pi_step_coeffs co;   /* the current step */
    double h_prev_lambda;/* multistep: λ-width of the previous step */
    double h_prev2_lambda;/* multistep: λ-width of the step before it */
    /* Multistep history of integrators with history > 0 (n × dim floats each): a step writes
     * its value into hist[0]; hist[1 .. hist_count] hold those of the previous steps, newest
     * first. The driver rotates them after every step. */
    float *hist[PI_MAX_HISTORY + 1];
    size_t hist_count;
    int nworkers;
    pi_worker *workers;
    pi_pool *pool;       /* the sampler's pool (NULL: one worker) */
    /* Counters of this run (main thread only), published to the sampler when it ends. */
    size_t nfe;          /* model evaluations per row */
    size_t accepted, rejected; /* steps */
    int den_valid;       /* den holds D at the start of the step just taken */
    int record;          /* trajectory recording on */
    float *traj_x, *traj_d; /* trajectory buffers of this run (traj_d may be NULL) */
    size_t traj_capacity_points;
} pi_run;

/* An integrator: a const vtable per file (STYLE.md #1). */
struct pi_integrator_type {
    const char *name;
    int order;          /* theoretical order for the ODE (ħ = 0) */
    int stochastic;     /* 1 if it supports ħ > 0 */
    /* Fixed-step methods: per-step coefficients (serial, double) ... */
    pi_status (*prepare)(pi_run *run, pi_step_coeffs *co);
    /* ... then rows [r0, r1) advanced from co->t_s to co->t_t (r1 − r0 <= PI_SAMPLER_CHUNK),
     * reading and writing run->x, filling run->den for those rows. */
    pi_status (*step_rows)(pi_run *run, const pi_step_coeffs *co, size_t r0, size_t r1,
                           pi_worker *w);
    /* Adaptive methods instead own the whole loop (NULL for fixed-step methods). */
    pi_status (*integrate)(pi_run *run, double t_start, double t_end);
    size_t nfe_per_step; /* model evaluations per row per step (fixed-step methods) */
    size_t history;      /* previous-step values kept in run->hist (0 .. PI_MAX_HISTORY) */
    int aux_state;       /* 1: the run keeps a second n × dim double state in run->xaux */
};

extern const struct pi_integrator_type *const pi_integrator_euler;
extern const struct pi_integrator_type *const pi_integrator_exp1;
extern const struct pi_integrator_type *const pi_integrator_exp2m;
extern const struct pi_integrator_type *const pi_integrator_heun;
extern const struct pi_integrator_type *const pi_integrator_rk45;
extern const struct pi_integrator_type *const pi_integrator_exp3m;
extern const struct pi_integrator_type *const pi_integrator_ipndm;
extern const struct pi_integrator_type *const pi_integrator_sa;
extern const struct pi_integrator_type *const pi_integrator_unipc;

struct pi_sampler {
    const pi_model_t *model; /* borrowed */
    const pi_sde_t *sde;     /* the model's SDE */
    size_t dim;

    /* options */
    double hbar;
    pi_method method;
    const struct pi_integrator_type *integrator;
    size_t steps;
    pi_schedule schedule;
    double schedule_param;   /* ρ for Karras */
    double *custom_times;    /* steps + 1 (PI_SCHEDULE_CUSTOM) */
    size_t custom_count;
    double t_start, t_end;   /* run range, default [t_max, t_min] of the SDE */
    uint64_t seed;
    uint64_t first_row;      /* row index of the run's first row (noise keys) */
    int threads;
    int denoise_final;
    pi_noise noise;          /* step-keyed or time-keyed (Brownian tree) step noise */
    double rtol, atol;       /* adaptive sampling */
    size_t corrector_steps;
    double corrector_snr;
    pi_step_fn callback;
    void *callback_data;
    atomic_int cancel;       /* set by pi_sampler_cancel() while running */
    atomic_int running;      /* a run is in progress */

    /* trajectory */
    int record;
    float *traj_x_user, *traj_d_user; /* borrowed or NULL */
    size_t traj_user_capacity;        /* floats per user buffer */
    float *traj_x_own, *traj_d_own;   /* library-owned */
    size_t traj_own_capacity;
    const float *traj_x, *traj_d;     /* of the last run */
    size_t traj_points;

    /* counters of the last run */
    size_t nfe, accepted, rejected;

    /* workspace kept between runs, regrown when a run needs more */
    double *times;           /* schedule of the current run */
    size_t times_capacity;
    void *state_block;       /* x, den, den_prev, ... */
    size_t state_bytes;
    pi_worker *workers;
    int workers_count;
    size_t worker_chunk;
    pi_pool *pool;           /* persistent workers, made at the first run with threads > 1;
                              * remade when the thread count changed, freed by destroy */

    /* conditions, guidance and inpainting (issue 15; guidance.c) */
    size_t cond_rows;        /* rows of the conditions (0: none) */
    int32_t *labels;         /* cond_rows labels, or NULL */
    float *cond;             /* cond_rows × model cond_dim, or NULL */
    void **row_data;         /* cond_rows pointers, or NULL */
    double guidance, guidance_rescale, guidance_sigma_min, guidance_sigma_max;
    int cfgpp;
    size_t inpaint_rows;     /* rows of the inpainting data (0: none) */
    float *inpaint_known, *inpaint_mask; /* inpaint_rows × dim each */
};

/* ---- schedules (schedule.c): generators of strictly decreasing time arrays -------------- */

/* Fill times[0..steps] from t_start down to t_end for a named schedule. param: ρ for Karras
 * (ignored otherwise). No argument checks beyond the math (callers validate). */
pi_status pi_schedule_fill(const pi_sde_t *sde, pi_schedule schedule, double param,
                           double t_start, double t_end, size_t steps, double *times);

/* Validate a custom array: count >= 2, finite, strictly decreasing, within [t_min, t_max]. */
pi_status pi_schedule_validate(const pi_sde_t *sde, const double *times, size_t count,
                               const char *fn);

/* The sampler's current schedule from t_start (may differ from the option, for run_from)
 * into times[0..steps]; steps written to *steps_out. times must hold steps + 1. */
pi_status pi_sampler_build_times(const pi_sampler_t *s, double t_start, double *times,
                                 size_t *steps_out);

/* ---- driver (driver.c) ----------------------------------------------------------------- */

/* Run the sampler on x (n × dim floats, initial states already in x_out when from_states). */
pi_status pi_sampler_execute(pi_sampler_t *s, double t_start, size_t n, float *x_out,
                             int from_states);

/* The sampler's pool of s->threads workers, created (or remade after a thread-count change)
 * here, outside any parallel region; *out NULL for one thread. */
pi_status pi_sampler_pool(pi_sampler_t *s, pi_pool **out);

/* Free the workspace kept between runs (times, state, workers, owned trajectories). */
void pi_sampler_release_workspace(pi_sampler_t *s);

/* Used by integrators: evaluate the model on rows [r0, r1) of the float input `in`
 * (chunk-local, (r1 − r0) × dim) at time t in `view` into w->fout. */
pi_status pi_run_eval(pi_run *run, pi_worker *w, pi_view view, size_t rows, const float *in,
                      double t);

/* Standard normals for row `row` of the run (noise row first_row + row), step key `step_key`, stream, into out (dim doubles). */
void pi_run_noise(const pi_run *run, uint32_t stream, size_t row, uint32_t step_key, double *out);

/* The step's standard normals for row `row` into out (dim doubles): with the sampler's noise
 * PI_NOISE_BROWNIAN the normalised increment (W(t_s) − W(t_t))/sqrt(t_s − t_t) of the row's
 * Brownian path (one fixed function of t per (seed, row), docs/samplers.md), else the step-keyed
 * normals of (PI_STREAM_STEP, row, co->step). Reads co->t_s, co->t_t, co->step only. Uses
 * w->brownian. */
void pi_run_step_noise(const pi_run *run, const pi_step_coeffs *co, size_t row, pi_worker *w,
                       double *out);

/* Run fn(run, r0, r1, worker) over all rows in chunks on the run's workers; returns the first
 * failure in row order. */
typedef pi_status (*pi_rows_fn)(pi_run *run, size_t r0, size_t r1, pi_worker *w, void *ctx);
pi_status pi_run_parallel(pi_run *run, pi_rows_fn fn, void *ctx);

/* Copy the state x into the caller's float array x_out (PI_ENUMERIC on non-finite values). */
pi_status pi_run_mirror(pi_run *run);

/* After a step: mirror x into x_out, record the trajectory, call the callback, check cancel.
 * step is 1-based, nsteps 0 for adaptive. */
pi_status pi_run_after_step(pi_run *run, size_t step, size_t nsteps, double t);

/* ---- conditions and guidance (guidance.c) ---------------------------------------------- */

/* Defaults of the guidance options (sampler creation). */
void pi_sampler_init_guidance(pi_sampler_t *s);
/* Free the conditions and the inpainting data (sampler destruction). */
void pi_sampler_free_conditions(pi_sampler_t *s);
/* Checks of a run of n rows against the conditions, guidance and inpainting settings. */
pi_status pi_sampler_check_conditions(const pi_sampler_t *s, size_t n, int adaptive);
/* Bytes of a worker's guidance buffers for `chunk` rows (0 for an unconditional model), and
 * their layout in block. */
size_t pi_guidance_buffer_bytes(const pi_sampler_t *s, size_t chunk);
void pi_guidance_buffer_layout(const pi_sampler_t *s, size_t chunk, void *block, pi_worker *w);
/* pi_run_eval for a conditional model: rows w->row0 .. + rows with their conditions, guided
 * as the sampler's options say (one model call on 2 × rows when guided). */
pi_status pi_run_eval_conditional(pi_run *run, pi_worker *w, pi_view view, size_t rows,
                                  const float *in, double t);
/* Inpainting on rows [r0, r1) of run->x at time t (p: the SDE there); `steps_done` keys the
 * noise (0: the initial state). No-op without inpainting data. */
void pi_inpaint_rows(pi_run *run, size_t steps_done, const pi_sde_point *p, size_t r0, size_t r1,
                     pi_worker *w);

/* Langevin corrector (corrector.c) on rows [r0, r1) at the end time of step `step`, in place on
 * run->x; the worker's fin, fout and noise are used. */
pi_status pi_corrector_rows(pi_run *run, size_t step, double t, const pi_sde_point *p, size_t r0,
                            size_t r1, pi_worker *w);

#endif
