/* pathint command: progress on stderr (a redrawn bar on a terminal, a few plain lines
 * otherwise), and the sampler's and trainer's step callbacks that drive it and turn Ctrl-C
 * into a cancel. */
#ifndef PATHINT_TOOL_PROGRESS_H
#define PATHINT_TOOL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct progress {
    const char *label;
    uint64_t total;
    double start, last_draw;
    int tty, last_tenth, active;
} progress;

/* Seconds on a monotonic clock. */
double now_seconds(void);

/* Start a bar of `total` units (silent under --quiet). */
void progress_begin(progress *p, const char *label, uint64_t total);
/* Report `done` units, with an optional extra text; `final` draws the closing line. */
void progress_update(progress *p, uint64_t done, const char *extra, int final);

/* user_data of the step callbacks below. */
typedef struct run_progress {
    progress bar;
    uint64_t offset; /* steps done in earlier calls (a resumed training) */
} run_progress;

/* pi_sampler_set_callback() callback: the bar counts steps and shows t. */
int on_sampler_step(size_t step, size_t nsteps, double t, size_t n, size_t dim, const float *x,
                    const float *denoised, void *user_data);
/* pi_trainer_set_callback() callback: the bar counts steps and shows the EMA loss. */
int on_train_step(uint64_t step, double loss, double ema_loss, double steps_per_second, void *user_data);

#endif
