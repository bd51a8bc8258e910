/* pathint sample: draw samples with the ħ sampler. */
#include "commands.h"
#include "messages.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const option_spec sample_options[] = {
    {"model", 'm', "FILE", "model file (required)"},
    {"n", 'n', "N", "number of samples (default 1000)"},
    {"out", 'o', "FILE", "output: .csv, .npy, .f32, .png (scatter) or - for CSV on stdout (default -)"},
    {"denoise-final", 0, NULL, "return the denoiser output at the last step"},
    {"label", 0, "K", "class of every sample (a class-conditional model)"},
    {"guidance", 0, "W", "classifier-free guidance scale (default 1: none; 0: unconditional)"},
    {"noise", 0, "NAME", "noise of ħ > 0: step (= philox, default; keyed by step) or brownian (keyed by time: the path stays when --steps changes)"},
    SAMPLER_OPTIONS,
    {NULL, 0, NULL, NULL}};

/* pi_noise by the names of the C enum and Python's pi.Noise; "philox" names the step-keyed draws. */
static const named_value noise_names[] = {
    {"step", PI_NOISE_STEP}, {"philox", PI_NOISE_STEP}, {"brownian", PI_NOISE_BROWNIAN}, {NULL, 0}};

static int cmd_sample(args *a)
{
    const char *model_path = opt_str(a, "model", a->npositional ? a->positional[0] : NULL);
    if (!model_path)
        return fail_usage("missing --model FILE");
    size_t n = (size_t)opt_u64(a, "n", 1000, 1, 100000000);
    const char *out = opt_str(a, "out", "-");
    if (a->npositional && has_opt(a, "model"))
        return fail_usage("give the model once: as --model FILE or as an argument, not both");
    (void)opt_choice(a, "noise", noise_names, PI_NOISE_STEP);
    if (a->bad || check_sampler_options(a))
        return EXIT_USAGE;
    int rc = check_output(out);
    if (rc)
        return rc;
    pi_model_t *model = NULL;
    pi_sampler_t *s = NULL;
    float *x = NULL;
    rc = load_model(model_path, &model);
    if (rc)
        return rc;
    size_t dim = 0;
    pi_model_get_dim(model, &dim);
    pi_status st = pi_sampler_create(model, &s);
    if (st) {
        rc = fail_status(st, "cannot create a sampler");
        goto done;
    }
    st = configure_sampler(a, s);
    if (a->bad) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (!st && has_opt(a, "denoise-final"))
        st = pi_sampler_set_denoise_final(s, 1);
    if (!st && has_opt(a, "noise"))
        st = pi_sampler_set_noise(s, (pi_noise)opt_choice(a, "noise", noise_names, PI_NOISE_STEP));
    if (!st && has_opt(a, "guidance"))
        st = pi_sampler_set_guidance(s, opt_double(a, "guidance", 1.0));
    if (!st && has_opt(a, "label")) {
        int32_t *labels = malloc(n * sizeof *labels);
        if (!labels) {
            rc = fail_runtime("out of memory");
            goto done;
        }
        int32_t k = (int32_t)opt_u64(a, "label", 0, 0, 65535);
        for (size_t i = 0; i < n; i++)
            labels[i] = k;
        st = pi_sampler_set_conditions(s, n, labels, 0, NULL, NULL);
        free(labels);
    }
    if (st) {
        rc = fail_option(st, "invalid sampler option");
        goto done;
    }
    run_progress rp = {0};
    progress_begin(&rp.bar, "sample", 1);
    pi_sampler_set_callback(s, on_sampler_step, &rp);
    x = malloc(n * dim * sizeof *x);
    if (!x) {
        rc = fail_runtime("out of memory for %zu samples of dimension %zu", n, dim);
        goto done;
    }
    st = pi_sampler_run(s, n, x);
    if (st) {
        rc = fail_status(st, "sampling failed");
        goto done;
    }
    progress_update(&rp.bar, rp.bar.total, NULL, 1);
    if (is_png(out)) {
        char title[96];
        snprintf(title, sizeof title, "%zu samples, ħ = %g", n, opt_double(a, "hbar", 0.0));
        rc = write_scatter_png(out, n, dim, x, title);
    } else {
        rc = save_data(out, n, dim, x);
    }
    if (!rc && strcmp(out, "-") != 0)
        note("wrote %zu samples of dimension %zu to %s\n", n, dim, out);
done:
    free(x);
    pi_sampler_destroy(s);
    pi_model_destroy(model);
    return rc;
}

const command sample_command = {
    .name = "sample",
    .usage = "pathint sample --model MODEL [-n N] [--out FILE] [options]",
    .description = "Draw samples with the ħ sampler: dx = [f x - (1+ħ)/2 g² s] dt + √ħ g dw̄.",
    .options = sample_options,
    .max_positional = 1, /* the model file, as an alternative to --model */
    .run = cmd_sample,
};
