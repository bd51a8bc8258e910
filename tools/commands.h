/* pathint command: the subcommands (one file each) and what several of them share: data and
 * model files, the sampler options, per-point likelihoods in blocks, the training defaults. */
#ifndef PATHINT_TOOL_COMMANDS_H
#define PATHINT_TOOL_COMMANDS_H

#include <pathint.h>

#include "arguments.h"

#include <stddef.h>
#include <stdint.h>

/* A subcommand: `pathint NAME [options]`. */
typedef struct command {
    const char *name, *usage, *description; /* the description's first line is its summary */
    const option_spec *options;
    int max_positional; /* arguments besides the options */
    int (*run)(args *a);
} command;

extern const command train_command, sample_command, nll_command, wkb_command, demo_command, info_command;

/* ---- files.c: data and model files ---- */
int is_png(const char *path);
/* Load points (.csv, .npy, .f32) into *data (free with pi_free). 0 or EXIT_RUNTIME. */
int load_data(const char *path, float **data, size_t *n, size_t *dim);
/* Save n × dim floats: .npy/.csv/.f32 through the library, "-" as CSV on stdout. */
int save_data(const char *path, size_t n, size_t dim, const float *data);
int load_model(const char *path, pi_model_t **model);
/* Before any work: whether an output path can be written (NULL and "-" can): its directory
 * exists and is writable, and an existing target is a regular file (or a link to one).
 * 0 or EXIT_RUNTIME with a message. */
int check_output(const char *path);
/* A square window around the first two coordinates of the points. */
void data_bounds(size_t n, size_t dim, const float *x, double *lo, double *hi);
int write_scatter_png(const char *path, size_t n, size_t dim, const float *x, const char *title);

/* ---- sampler_options.c: the options of sample, nll and wkb ---- */
#define SAMPLER_OPTIONS                                                                             \
    {"hbar", 0, "H", "ħ >= 0: 0 = probability-flow ODE, 1 = reverse SDE (default 0)"},              \
        {"steps", 0, "N", "integration steps (default 50)"},                                      \
        {"method", 0, "NAME", "euler, exp1 (= ddim), exp2m (= dpm2m, default), heun, rk45, exp3m, ipndm, sa, unipc"},       \
        {"schedule", 0, "NAME", "uniform-lambda (default), uniform-t, karras"},                    \
        {"rho", 0, "R", "Karras schedule exponent (default 7)"},                                   \
        {"seed", 0, "S", "seed of all noise (default 0)"},                                         \
        {"threads", 'j', "K", "worker threads (default 1; results do not depend on it)"},          \
        {"quiet", 'q', NULL, "no progress output"},                                                \
        {"help", 'h', NULL, "show this help"}

/* Parse the sampler options without applying them, so that a usage error is reported (exit 2)
 * before any file is opened. 0 or EXIT_USAGE. */
int check_sampler_options(args *a);
/* Apply the sampler options that were given. */
pi_status configure_sampler(args *a, pi_sampler_t *s);

/* ---- likelihood.c ---- */
/* NLL₀ (and c1 when c1 != NULL) of n points, in blocks, so progress and Ctrl-C work. Returns
 * a pi_status; points that failed get NaN and are counted in *failed. */
pi_status likelihood_in_blocks(pi_likelihood_t *lik, size_t n, size_t dim, const float *x, double *nll,
                               double *c1, int threads, const char *label, size_t *failed);

/* ---- train.c: shared with demo ---- */
extern const named_value dataset_names[], precond_names[];
/* EMA decay of the weights for a run of `steps`. */
double default_ema(uint64_t steps);

#endif
