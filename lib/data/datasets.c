/* Built-in 2-D data sets (docs/training.md lists each convention).
 *
 * Row i is a pure function of (seed, i): uniforms come from Philox stream PI_STREAM_DATA,
 * sample i, step 0, normals from the same stream, sample i, step 1. So the first rows of a
 * large draw equal a small draw with the same seed, whatever n. */
#include "core/core.h"
#include "core/philox.h"

#define PI_PI 3.14159265358979323846

/* Per-row generator: a few uniforms and normals of row i. */
typedef struct row_rng {
    uint64_t seed;
    uint64_t row;
} row_rng;

static double row_uniform(const row_rng *r, uint64_t element)
{
    return pi_rng_uniform1(r->seed, PI_STREAM_DATA, r->row, 0, element);
}

static double row_normal(const row_rng *r, uint64_t element)
{
    return pi_rng_normal1(r->seed, PI_STREAM_DATA, r->row, 1, element);
}

/* An index in [0, k) from a uniform in (0, 1]. */
static unsigned pick(double u, unsigned k)
{
    unsigned i = (unsigned)(u * k);
    return i >= k ? k - 1 : i;
}

/* sklearn make_swiss_roll(noise = 0.5): t = 1.5π(1 + 2u), (x, y, z) = (t cos t, 21 v, t sin t)
 * plus N(0, 0.5²) on each coordinate; Hirono et al. keep (x, z) / 6.865. y is drawn (and
 * discarded) so that the noise indices match sklearn's three coordinates. */
static void swiss_roll(const row_rng *r, float *out)
{
    const double noise = 0.5, scale = 6.865;
    double t = 1.5 * PI_PI * (1.0 + 2.0 * row_uniform(r, 0));
    double x = t * cos(t) + noise * row_normal(r, 0);
    double z = t * sin(t) + noise * row_normal(r, 2);
    out[0] = (float)(x / scale);
    out[1] = (float)(z / scale);
}

/* 5 × 5 grid of centres {−4, −2, 0, 2, 4}², std 0.05, all divided by 2.828 (Hirono et al.). */
static void gaussians_25(const row_rng *r, float *out)
{
    const double std = 0.05, scale = 2.828;
    unsigned k = pick(row_uniform(r, 0), 25);
    double cx = -4.0 + 2.0 * (double)(k % 5), cy = -4.0 + 2.0 * (double)(k / 5);
    out[0] = (float)((cx + std * row_normal(r, 0)) / scale);
    out[1] = (float)((cy + std * row_normal(r, 1)) / scale);
}

/* 8 centres at radius 2, angles 2πk/8, std 0.02, all divided by 1.414 (the common
 * "8 gaussians" normalisation: radius ≈ √2, unit-ish variance). */
static void ring_8(const row_rng *r, float *out)
{
    const double radius = 2.0, std = 0.02, scale = 1.414;
    unsigned k = pick(row_uniform(r, 0), 8);
    double angle = 2.0 * PI_PI * (double)k / 8.0;
    out[0] = (float)((radius * cos(angle) + std * row_normal(r, 0)) / scale);
    out[1] = (float)((radius * sin(angle) + std * row_normal(r, 1)) / scale);
}

/* sklearn make_moons(noise = 0.05) with the angle drawn uniformly in [0, π] instead of on a
 * linspace (rows stay independent), the moon by a fair coin, then shifted by (−0.5, −0.25)
 * so the set is centred. */
static void moons(const row_rng *r, float *out)
{
    const double noise = 0.05;
    double angle = PI_PI * row_uniform(r, 0);
    double x, y;
    if (row_uniform(r, 1) <= 0.5) {
        x = cos(angle);
        y = sin(angle);
    } else {
        x = 1.0 - cos(angle);
        y = 0.5 - sin(angle);
    }
    out[0] = (float)(x - 0.5 + noise * row_normal(r, 0));
    out[1] = (float)(y - 0.25 + noise * row_normal(r, 1));
}

/* FFJORD's checkerboard: x1 ~ U[−2, 2), x2 ~ U[0, 1) − 2·B + (floor(x1) mod 2),
 * B ~ Bernoulli(½), both times 2: 8 unit squares of side 2 in [−4, 4]². */
static void checkerboard(const row_rng *r, float *out)
{
    double x1 = 4.0 * (1.0 - row_uniform(r, 0)) - 2.0; /* (0, 1] → [−2, 2) */
    double x2 = (1.0 - row_uniform(r, 1)) - (row_uniform(r, 2) <= 0.5 ? 2.0 : 0.0);
    double parity = fmod(floor(x1), 2.0);
    if (parity < 0.0)
        parity += 2.0;
    x2 += parity;
    out[0] = (float)(2.0 * x1);
    out[1] = (float)(2.0 * x2);
}

pi_status pi_data_generate(pi_dataset dataset, size_t n, uint64_t seed, float *out)
{
    void (*gen)(const row_rng *, float *) = NULL;
    switch (dataset) {
    case PI_DATASET_SWISS_ROLL: gen = swiss_roll; break;
    case PI_DATASET_GAUSSIANS_25: gen = gaussians_25; break;
    case PI_DATASET_RING_8: gen = ring_8; break;
    case PI_DATASET_MOONS: gen = moons; break;
    case PI_DATASET_CHECKERBOARD: gen = checkerboard; break;
    }
    if (gen == NULL)
        return pi_fail(PI_EINVAL,
                       "pi_data_generate: dataset must be one of PI_DATASET_SWISS_ROLL (1) .. "
                       "PI_DATASET_CHECKERBOARD (5), got %d",
                       (int)dataset);
    if (n == 0 || n > PI_MAX_ELEMENTS / 2)
        return pi_fail(PI_EINVAL, "pi_data_generate: n must be in [1, 2^39], got %zu", n);
    PI_CHECK_NULL(out);
    for (size_t i = 0; i < n; i++) {
        row_rng r = {seed, (uint64_t)i};
        gen(&r, out + 2 * i);
    }
    return PI_OK;
}
