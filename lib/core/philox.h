/* Philox4x32-10 counter-based RNG (Salmon et al. 2011, Random123).
 *
 * Noise for (seed, stream, sample, step, element) is a pure function of those values:
 *   key     = (seed lo32, seed hi32)
 *   counter = (element / 2, step, sample lo32, stream << 24 | sample hi24)
 * One block of 4 words gives two 53-bit uniforms and, by Box–Muller in double, the normals
 * for elements 2j and 2j+1. Results do not depend on batch size, block size or threads. */
#ifndef PI_PHILOX_H
#define PI_PHILOX_H

#include <stddef.h>
#include <stdint.h>

/* Streams separate the uses of one seed. */
enum pi_rng_stream {
    PI_STREAM_PRIOR = 0,     /* prior samples: step 0 */
    PI_STREAM_STEP = 1,      /* sampler step noise: step = step index */
    PI_STREAM_CORRECTOR = 2, /* Langevin corrector noise: step = step * 256 + corrector index */
    PI_STREAM_PROBE = 3,     /* Hutchinson probes */
    PI_STREAM_TRAIN = 4,     /* training: sample = training step, step = purpose */
    PI_STREAM_DATA = 5,      /* built-in data sets */
    PI_STREAM_INIT = 6,      /* weight initialisation */
    PI_STREAM_DEQUANT = 7,   /* likelihood dequantisation */
    PI_STREAM_AUX = 8,       /* anything else (GITS, bounds, tests) */
    PI_STREAM_INPAINT = 9,   /* inpainting: forward-marginal noise of the known part, step =
                              * steps taken (0: the initial state) */
    PI_STREAM_BROWNIAN = 10  /* sampler's time-keyed Brownian tree: step = tree node */
};

/* One Philox4x32-10 block: ctr (4 words) under key (2 words). */
void pi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Uniform in (0, 1] with 53 random bits from two words. */
double pi_u01_from_words(uint32_t hi, uint32_t lo);

/* count standard normals for elements [0, count) of (seed, stream, sample, step). */
void pi_rng_normal_d(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                     double *out);
void pi_rng_normal_f(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                     float *out);
/* count uniforms in (0, 1]: element e uses word pair (2(e%2), 2(e%2)+1) of block e/2. */
void pi_rng_uniform_d(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                      double *out);
/* A single normal / uniform for one element (same values as the array forms). */
double pi_rng_normal1(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step,
                      uint64_t element);
double pi_rng_uniform1(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step,
                       uint64_t element);

#endif
