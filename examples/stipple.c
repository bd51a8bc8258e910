/* stipple.c: an art use of pathint — stippling.
 *
 * Points are drawn from an image's darkness (a procedurally generated test image, or a PGM
 * given with --image), an MLP score model is fitted to them, and new stipplings are
 * generated at several ħ: ħ = 0 (the probability-flow ODE) gives crisp, deterministic
 * placements; larger ħ adds the reverse SDE's noise and softens the drawing.
 *
 *   stipple [--image FILE.pgm] [--points N] [--train-steps N] [--hbar 0,0.5,1]
 *           [--prefix stipple] [--threads K] [--seed S]
 *
 * Writes PREFIX-target.png (the image as stipples from the data) and PREFIX-hbar<H>.png
 * (or .ppm when built without libpng).
 */
#include <pathint.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

typedef struct image {
    int width, height;
    float *darkness; /* width × height in [0, 1], row 0 at the top */
} image;

/* A test image: a dark disc with a soft edge, a ring, and a diagonal band fading out. */
static int procedural_image(image *img)
{
    img->width = img->height = 256;
    img->darkness = malloc(256 * 256 * sizeof(float));
    if (!img->darkness)
        return -1;
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++) {
            double u = (x + 0.5) / 256 - 0.5, v = (y + 0.5) / 256 - 0.5;
            double r = hypot(u + 0.12, v + 0.1);
            double disc = 1.0 / (1.0 + exp((r - 0.17) / 0.015));
            double ring = exp(-pow((hypot(u - 0.18, v - 0.2) - 0.13) / 0.02, 2));
            double band = fabs(u - v - 0.1) < 0.04 ? 0.6 * (0.5 - u) : 0.0;
            double d = disc + ring + band;
            img->darkness[y * 256 + x] = (float)(d > 1 ? 1 : d < 0 ? 0 : d);
        }
    return 0;
}

/* A binary (P5) or plain (P2) PGM; darkness = 1 - value / maxval. */
static int read_pgm(const char *path, image *img)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char magic[3] = {0};
    int w, h, maxval, rc = -1;
    if (fscanf(f, "%2s", magic) != 1 || (strcmp(magic, "P5") && strcmp(magic, "P2")))
        goto done;
    int *field[] = {&w, &h, &maxval};
    for (int i = 0; i < 3; i++) {
        int c;
        while ((c = fgetc(f)) == '#' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
            if (c == '#')
                while ((c = fgetc(f)) != '\n' && c != EOF)
                    ;
        ungetc(c, f);
        if (fscanf(f, "%d", field[i]) != 1)
            goto done;
    }
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384 || maxval <= 0 || maxval > 65535)
        goto done;
    fgetc(f);
    img->width = w;
    img->height = h;
    img->darkness = malloc((size_t)w * (size_t)h * sizeof(float));
    if (!img->darkness)
        goto done;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        int v;
        if (magic[1] == '2') {
            if (fscanf(f, "%d", &v) != 1)
                goto done;
        } else if (maxval < 256) {
            if ((v = fgetc(f)) == EOF)
                goto done;
        } else {
            int hi = fgetc(f), lo = fgetc(f);
            if (lo == EOF)
                goto done;
            v = hi << 8 | lo;
        }
        img->darkness[i] = 1.0f - (float)v / (float)maxval;
    }
    rc = 0;
done:
    fclose(f);
    return rc;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(splitmix(s) >> 11) * 0x1.0p-53; }

/* n points with density ∝ darkness, by rejection; coordinates in [-1, 1]², y up. */
static void draw_points(const image *img, size_t n, uint64_t seed, float *out)
{
    uint64_t s = seed;
    int aspect_w = img->width >= img->height;
    double sx = aspect_w ? 1.0 : (double)img->width / img->height;
    double sy = aspect_w ? (double)img->height / img->width : 1.0;
    for (size_t i = 0; i < n;) {
        double u = uniform(&s), v = uniform(&s);
        int px = (int)(u * img->width), py = (int)(v * img->height);
        if (uniform(&s) < img->darkness[(size_t)py * (size_t)img->width + (size_t)px]) {
            out[2 * i] = (float)((2 * u - 1) * sx);
            out[2 * i + 1] = (float)((1 - 2 * v) * sy);
            i++;
        }
    }
}

static int write_stipples(const char *path, size_t n, const float *pts, const char *title)
{
    plot_canvas c;
    if (plot_canvas_init(&c, 560, 600, 0xFFFFFF))
        return -1;
    plot_panel p = {20, 40, 520, 520, -1.05, 1.05, -1.05, 1.05};
    plot_scatter(&c, &p, n, 2, pts, 1.2, 0x000000, 0.9);
    plot_text(&c, 20, 12, title, 2, 0x202020);
    char err[512], alt[1024];
    int rc = plot_write_png(&c, path, err, sizeof err);
    if (rc && !plot_have_png()) {
        snprintf(alt, sizeof alt, "%.*s.ppm", (int)(strlen(path) - 4), path);
        rc = plot_write_ppm(&c, alt, err, sizeof err);
        path = alt;
    }
    if (rc)
        fprintf(stderr, "stipple: %s\n", err);
    else
        printf("wrote %s\n", path);
    plot_canvas_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    const char *image_path = NULL, *prefix = "stipple", *hbars = "0,0.5,1";
    size_t npoints = 4000;
    long train_steps = 2000;
    int threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "usage: %s [--image FILE.pgm] [--points N] [--train-steps N] [--hbar LIST] "
                            "[--prefix P] [--threads K] [--seed S]\n", argv[0]);
            return 2;
        }
        if (!strcmp(a, "--image")) image_path = v;
        else if (!strcmp(a, "--points")) npoints = (size_t)atol(v);
        else if (!strcmp(a, "--train-steps")) train_steps = atol(v);
        else if (!strcmp(a, "--hbar")) hbars = v;
        else if (!strcmp(a, "--prefix")) prefix = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--seed")) seed = (uint64_t)atoll(v);
        else {
            fprintf(stderr, "stipple: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (npoints == 0 || train_steps <= 0 || threads <= 0) {
        fprintf(stderr, "stipple: --points, --train-steps and --threads must be positive\n");
        return 2;
    }
    image img;
    if (image_path ? read_pgm(image_path, &img) : procedural_image(&img)) {
        fprintf(stderr, "stipple: cannot read %s (binary or plain PGM expected)\n", image_path);
        return 1;
    }
    size_t ntrain = 20000;
    float *data = malloc(ntrain * 2 * sizeof *data), *x = malloc(npoints * 2 * sizeof *x);
    if (!data || !x)
        return 1;
    draw_points(&img, ntrain, seed, data);
    char path[1024], title[128];
    snprintf(path, sizeof path, "%s-target.png", prefix);
    write_stipples(path, npoints, data, "target: points drawn from the image");

    /* Fit an MLP by denoising score matching. */
    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    pi_sampler_t *s = NULL;
    /* VP with β from 0 to 20 on [0.01, 1] (Hirono et al.'s SIMPLE), likelihood weighting with
     * importance-sampled times: the recipe of `pathint demo`. */
    pi_status st = pi_sde_create_preset(PI_SDE_PRESET_SIMPLE, &sde);
    if (!st) st = pi_model_create_mlp(sde, 2, 128, 3, &model);
    if (!st) st = pi_model_mlp_init(model, seed);
    if (!st) st = pi_trainer_create(model, &tr);
    if (!st) st = pi_trainer_set_learning_rate(tr, 3e-3);
    if (!st) st = pi_trainer_set_lr_schedule(tr, PI_LR_SCHEDULE_COSINE, (uint64_t)train_steps / 50, (uint64_t)train_steps);
    if (!st) st = pi_trainer_set_batch_size(tr, 512);
    if (!st) st = pi_trainer_set_weighting(tr, PI_WEIGHTING_LIKELIHOOD);
    if (!st) st = pi_trainer_set_time_sampling(tr, PI_TIME_SAMPLING_IMPORTANCE);
    if (!st) st = pi_trainer_set_ema(tr, 0.99);
    if (!st) st = pi_trainer_set_seed(tr, seed);
    if (!st) st = pi_trainer_set_threads(tr, threads);
    if (!st) {
        printf("fitting an MLP to %zu stipples (%ld steps)...\n", ntrain, train_steps);
        fflush(stdout);
        st = pi_trainer_fit(tr, ntrain, data, (uint64_t)train_steps);
    }
    if (!st) st = pi_sampler_create(model, &s);
    if (!st) st = pi_sampler_set_steps(s, 100);
    if (!st) st = pi_sampler_set_threads(s, threads);
    if (!st) st = pi_sampler_set_seed(s, seed);
    /* One stippling per ħ in the list, all from the same seed. */
    for (const char *h = hbars; !st && *h;) {
        char *end;
        double hbar = strtod(h, &end);
        if (end == h) {
            fprintf(stderr, "stipple: bad --hbar list '%s'\n", hbars);
            st = PI_EINVAL;
            break;
        }
        h = *end == ',' ? end + 1 : end;
        if ((st = pi_sampler_set_hbar(s, hbar)) || (st = pi_sampler_run(s, npoints, x)))
            break;
        snprintf(path, sizeof path, "%s-hbar%g.png", prefix, hbar);
        snprintf(title, sizeof title, "generated, ħ = %g", hbar);
        if (write_stipples(path, npoints, x, title))
            st = PI_EIO;
    }
    if (st)
        fprintf(stderr, "stipple: %s (%s)\n", pi_last_error(), pi_status_string(st));
    pi_sampler_destroy(s);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    free(img.darkness);
    free(data);
    free(x);
    return st ? 1 : 0;
}
