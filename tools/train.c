/* pathint train: fit an MLP score model by denoising score matching. */
#include "commands.h"
#include "messages.h"
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const named_value dataset_names[] = {
    {"swiss-roll", PI_DATASET_SWISS_ROLL}, {"25-gaussians", PI_DATASET_GAUSSIANS_25},
    {"8-gaussians", PI_DATASET_RING_8},    {"moons", PI_DATASET_MOONS},
    {"checkerboard", PI_DATASET_CHECKERBOARD}, {NULL, 0}};
const named_value precond_names[] = {{"edm", PI_PRECOND_EDM},
                                     {"input", PI_PRECOND_INPUT},
                                     {"none", PI_PRECOND_NONE},
                                     {NULL, 0}};
static const named_value weighting_names[] = {{"likelihood", PI_WEIGHTING_LIKELIHOOD},
                                              {"sigma2", PI_WEIGHTING_SIGMA2},
                                              {"edm", PI_WEIGHTING_EDM},
                                              {"flow", PI_WEIGHTING_FLOW},
                                              {NULL, 0}};

/* The trainer's EMA starts from the initial weights, without warm-up: a long memory would
 * keep a visible share of them after a short run, so the decay follows the run length. */
double default_ema(uint64_t steps) { return steps < 5000 ? 0.99 : steps < 50000 ? 0.998 : 0.999; }

/* Discrete ᾱ tables by diffusers' names (value: schedule, + 8 for zero terminal SNR). */
static const named_value beta_schedule_names[] = {
    {"linear", PI_BETA_SCHEDULE_LINEAR},
    {"scaled_linear", PI_BETA_SCHEDULE_SCALED_LINEAR},
    {"squaredcos_cap_v2", PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2},
    {"linear+zsnr", PI_BETA_SCHEDULE_LINEAR + 8},
    {"scaled_linear+zsnr", PI_BETA_SCHEDULE_SCALED_LINEAR + 8},
    {"squaredcos_cap_v2+zsnr", PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2 + 8},
    {NULL, 0}};

static const option_spec train_options[] = {
    {"data", 'd', "FILE", "training points: .csv, .npy or .f32"},
    {"dataset", 0, "NAME", "or a built-in 2-D set: swiss-roll, 25-gaussians, 8-gaussians, moons, checkerboard"},
    {"n", 'n', "N", "points to generate for --dataset (default 20000)"},
    {"out", 'o', "FILE", "model file to write (required unless --checkpoint)"},
    {"sde", 0, "NAME", "vp, vp-cosine, subvp, ve, edm, simple (default), cosine, rectified_flow"},
    {"beta-schedule", 0, "NAME", "instead of --sde, a discrete 1000-step table: linear (1e-4 to 0.02), scaled_linear (0.00085 to 0.012), squaredcos_cap_v2, each +zsnr for zero terminal SNR"},
    {"width", 0, "W", "hidden width (default 128)"},
    {"layers", 0, "L", "hidden layers (default 3)"},
    {"steps", 0, "N", "Adam steps (default 16000)"},
    {"batch", 0, "B", "batch size (default 128)"},
    {"lr", 0, "LR", "learning rate (default 4e-3, cosine decay)"},
    {"weighting", 0, "NAME", "likelihood (default), sigma2, edm, flow (flow matching)"},
    {"precond", 0, "NAME", "input/output scaling: edm (default), input (unit-scale input, eps output), none (x/alpha)"},
    {"sigma-data", 0, "S", "sigma_data of the scaling (default 0.5)"},
    {"ema", 0, "D", "EMA decay of the weights (default 0.99 below 5000 steps, 0.998 below 50000, else 0.999)"},
    {"seed", 0, "S", "seed of weights, batches and noise (default 0)"},
    {"threads", 'j', "K", "worker threads (default 1)"},
    {"checkpoint", 0, "FILE", "also write a resumable trainer checkpoint"},
    {"resume", 0, "FILE", "continue from a checkpoint (--steps more steps)"},
    {"safetensors", 0, "FILE", "also export the weights as .safetensors"},
    {"labels", 0, "FILE", "a class label per data row (integers 0..K-1, one column): a class-conditional model"},
    {"cond-dropout", 0, "P", "with --labels: probability of training the null condition (default 0.1)"},
    {"quiet", 'q', NULL, "no progress output"},
    {"help", 'h', NULL, "show this help"},
    {NULL, 0, NULL, NULL}};

static int cmd_train(args *a)
{
    const char *data_path = opt_str(a, "data", NULL), *out = opt_str(a, "out", NULL);
    const char *ckpt = opt_str(a, "checkpoint", NULL), *resume = opt_str(a, "resume", NULL);
    int dataset = opt_choice(a, "dataset", dataset_names, 0);
    size_t ngen = (size_t)opt_u64(a, "n", 20000, 1, 100000000);
    /* The SDE by its library name (pi_sde_name_at lists them): a kind or a preset. */
    named_value sde_names[16];
    size_t nsde = 0;
    while (nsde + 1 < sizeof sde_names / sizeof sde_names[0] &&
           pi_sde_name_at(nsde, &sde_names[nsde].name, NULL) == PI_OK) {
        sde_names[nsde].value = (int)nsde;
        nsde++;
    }
    sde_names[nsde] = (named_value){NULL, 0};
    int sde_index = opt_choice(a, "sde", sde_names, -1);
    const char *sde_name = sde_index >= 0 ? sde_names[sde_index].name : "simple";
    size_t width = (size_t)opt_u64(a, "width", 128, 1, 65536);
    size_t layers = (size_t)opt_u64(a, "layers", 3, 1, 64);
    uint64_t steps = opt_u64(a, "steps", 16000, 1, UINT64_MAX / 2);
    size_t batch = (size_t)opt_u64(a, "batch", 128, 1, 1u << 24);
    double lr = opt_double(a, "lr", 4e-3);
    double ema = opt_double(a, "ema", default_ema(steps));
    int weighting = opt_choice(a, "weighting", weighting_names, PI_WEIGHTING_LIKELIHOOD);
    int beta_schedule = opt_choice(a, "beta-schedule", beta_schedule_names, 0);
    int precond = opt_choice(a, "precond", precond_names, PI_PRECOND_EDM);
    double sigma_data = opt_double(a, "sigma-data", 0.5);
    uint64_t seed = opt_u64(a, "seed", 0, 0, UINT64_MAX);
    int threads = (int)opt_u64(a, "threads", 1, 1, 256);
    opt_library_range(a, "lr", PI_OPTION_TRAINER_LEARNING_RATE);
    opt_library_range(a, "ema", PI_OPTION_TRAINER_EMA);
    opt_library_range(a, "sigma-data", PI_OPTION_MLP_SIGMA_DATA);
    opt_library_range(a, "batch", PI_OPTION_TRAINER_BATCH_SIZE);
    opt_library_range(a, "threads", PI_OPTION_TRAINER_THREADS);
    if (a->bad)
        return EXIT_USAGE;
    if (resume && (has_opt(a, "precond") || has_opt(a, "sigma-data")))
        return fail_usage("--resume takes the model from the checkpoint; drop --precond/--sigma-data");
    if (!data_path == !has_opt(a, "dataset"))
        return fail_usage("give exactly one of --data FILE and --dataset NAME");
    if (!out && !ckpt)
        return fail_usage("missing --out FILE (or --checkpoint FILE)");
    if (resume && (has_opt(a, "sde") || has_opt(a, "beta-schedule") || has_opt(a, "width") ||
                   has_opt(a, "layers")))
        return fail_usage("--resume takes the model from the checkpoint; drop --sde/--beta-schedule/--width/--layers");
    if (has_opt(a, "sde") && has_opt(a, "beta-schedule"))
        return fail_usage("give at most one of --sde and --beta-schedule");
    /* Unwritable outputs are found before the training, not after it. */
    int out_rc = check_output(out);
    if (!out_rc)
        out_rc = check_output(ckpt);
    if (!out_rc)
        out_rc = check_output(opt_str(a, "safetensors", NULL));
    if (out_rc)
        return out_rc;

    const char *labels_path = opt_str(a, "labels", NULL);
    double cond_dropout = opt_double(a, "cond-dropout", 0.1);
    float *x = NULL, *lf = NULL;
    int32_t *labels = NULL;
    size_t classes = 0;
    size_t n = 0, dim = 0;
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    int rc = 0;
    pi_status st;
    if (data_path) {
        if ((rc = load_data(data_path, &x, &n, &dim)))
            return rc;
    } else {
        n = ngen;
        dim = 2;
        x = malloc(n * dim * sizeof *x);
        if (!x)
            return fail_runtime("out of memory");
        if ((st = pi_data_generate((pi_dataset)dataset, n, seed, x))) {
            free(x);
            return fail_status(st, "cannot generate the data set");
        }
    }
    if (labels_path) {
        size_t ln = 0, ldim = 0;
        if ((rc = load_data(labels_path, &lf, &ln, &ldim)))
            goto done;
        if (ldim != 1 || ln != n) {
            rc = fail_runtime("--labels: need one label per data row (%zu x 1), got %zu x %zu", n, ln, ldim);
            goto done;
        }
        labels = malloc(n * sizeof *labels);
        if (!labels) {
            rc = fail_runtime("out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if (!(lf[i] >= 0.0f && lf[i] < 65536.0f) || lf[i] != (float)(int32_t)lf[i]) {
                rc = fail_runtime("--labels: row %zu is %g, not an integer in [0, 65535]", i, (double)lf[i]);
                goto done;
            }
            labels[i] = (int32_t)lf[i];
            if ((size_t)labels[i] + 1 > classes)
                classes = (size_t)labels[i] + 1;
        }
    }
    uint64_t offset = 0;
    if (resume) {
        if ((st = pi_trainer_resume(resume, &model, &tr))) {
            rc = fail_status(st, "cannot resume from '%s'", resume);
            goto done;
        }
        pi_trainer_get_step(tr, &offset);
        note("resumed from %s at step %llu\n", resume, (unsigned long long)offset);
        /* The checkpoint holds the dropout (version 3); an explicit --cond-dropout replaces it. */
        if (has_opt(a, "cond-dropout") && (st = pi_trainer_set_cond_dropout(tr, cond_dropout))) {
            rc = fail_option(st, "cannot set up training");
            goto done;
        }
    } else {
        if (beta_schedule > 0) {
            int kind = beta_schedule & 7; /* the hosts' default β range for each schedule */
            double b0 = kind == PI_BETA_SCHEDULE_LINEAR ? 1e-4 : 0.00085;
            double b1 = kind == PI_BETA_SCHEDULE_LINEAR ? 0.02 : 0.012;
            st = pi_sde_create_beta_schedule((pi_beta_schedule)kind, 1000, b0, b1,
                                             beta_schedule & 8 ? PI_BETA_FLAG_ZERO_TERMINAL_SNR : 0,
                                             &sde);
        } else {
            st = pi_sde_create_named(sde_name, &sde);
        }
        if (!st)
            st = labels ? pi_model_create_mlp_cond(sde, dim, width, layers, classes, 0, &model)
                        : pi_model_create_mlp(sde, dim, width, layers, &model);
        if (!st)
            st = pi_model_mlp_init(model, seed);
        /* EDM preconditioning with σ_data = 0.5 by default. With --precond none the network
         * sees x̃ = x/α of size ~1/α(T) and the WKB slope c1 is dominated by its Jacobian
         * errors; EDM with σ_data = 1 (the built-in sets' own scale) starts exactly at the
         * best Gaussian fit, a saddle the 25-Gaussian set never left (loss 13.9 against 7.0
         * with σ_data = 0.5); docs/reproduction.md. */
        if (!st)
            st = pi_model_mlp_set_preconditioning(model, (pi_precond)precond, sigma_data);
        if (!st)
            st = pi_trainer_create(model, &tr);
        if (!st)
            st = pi_trainer_set_learning_rate(tr, lr);
        if (!st)
            st = pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, steps / 50, steps);
        if (!st)
            st = pi_trainer_set_batch_size(tr, batch);
        if (!st)
            st = pi_trainer_set_weighting(tr, (pi_weighting)weighting);
        if (!st && weighting == PI_WEIGHTING_LIKELIHOOD)
            st = pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE);
        if (!st)
            st = pi_trainer_set_ema(tr, ema);
        if (!st)
            st = pi_trainer_set_seed(tr, seed);
        if (!st && labels)
            st = pi_trainer_set_cond_dropout(tr, cond_dropout);
        if (st) {
            rc = fail_option(st, "cannot set up training");
            goto done;
        }
    }
    if ((st = pi_trainer_set_threads(tr, threads))) {
        rc = fail_option(st, "invalid --threads");
        goto done;
    }
    size_t nparams = 0;
    pi_model_get_num_params(model, &nparams);
    note("training an MLP (%zu parameters) on %zu points of dimension %zu for %llu steps\n", nparams, n, dim,
         (unsigned long long)steps);
    run_progress rp = {0};
    rp.offset = offset;
    progress_begin(&rp.bar, "train", steps);
    pi_trainer_set_callback(tr, on_train_step, &rp);
    double t0 = now_seconds();
    st = labels ? pi_trainer_fit_cond(tr, n, x, labels, 0, NULL, steps) : pi_trainer_fit(tr, n, x, steps);
    if (st) {
        rc = fail_status(st, "training failed");
        goto done;
    }
    progress_update(&rp.bar, steps, NULL, 1);
    double loss = NAN;
    pi_trainer_loss(tr, 1, n < 4096 ? n : 4096, x, &loss);
    printf("trained %llu steps in %.1f s; loss %.4f\n", (unsigned long long)steps, now_seconds() - t0, loss);
    if (out && (st = pi_model_save(model, out))) {
        rc = fail_status(st, "cannot write model '%s'", out);
        goto done;
    }
    if (out)
        note("wrote model to %s\n", out);
    if (ckpt) {
        if ((st = pi_trainer_save(tr, ckpt))) {
            rc = fail_status(st, "cannot write checkpoint '%s'", ckpt);
            goto done;
        }
        note("wrote checkpoint to %s\n", ckpt);
    }
    const char *st_path = opt_str(a, "safetensors", NULL);
    if (st_path) {
        if ((st = pi_model_save_safetensors(model, st_path))) {
            rc = fail_status(st, "cannot write '%s'", st_path);
            goto done;
        }
        note("wrote weights to %s\n", st_path);
    }
done:
    pi_free(lf);
    free(labels);
    if (data_path)
        pi_free(x);
    else
        free(x);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    return rc;
}

const command train_command = {
    .name = "train",
    .usage = "pathint train (--data FILE | --dataset NAME) --out MODEL [options]",
    .description = "Fit an MLP score model by denoising score matching (likelihood weighting by default)\n"
                   "and write it as a pathint model file.",
    .options = train_options,
    .max_positional = 0,
    .run = cmd_train,
};
