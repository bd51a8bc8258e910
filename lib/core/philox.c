/* Philox4x32-10 (Salmon, Moraes, Dror & Shaw, SC'11), constants as in Random123. */
#include "philox.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void pi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

double pi_u01_from_words(uint32_t hi, uint32_t lo)
{
    uint64_t bits = (((uint64_t)hi << 32) | lo) >> 11; /* 53 bits */
    return ((double)bits + 1.0) * 0x1.0p-53;           /* (0, 1] */
}

static void block(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, uint64_t pair,
                  uint32_t out[4])
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)pair, step, (uint32_t)sample,
                             (stream << 24) | ((uint32_t)(sample >> 32) & 0xFFFFFFu)};
    pi_philox4x32_10(ctr, key, out);
}

/* Box–Muller: z0 = r cos(2πu2), z1 = r sin(2πu2), r = sqrt(−2 log u1), u1 ∈ (0, 1]. */
static void normal_pair(const uint32_t w[4], double *z0, double *z1)
{
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = pi_u01_from_words(w[0], w[1]);
    double u2 = pi_u01_from_words(w[2], w[3]);
    double r = sqrt(-2.0 * log(u1));
    *z0 = r * cos(two_pi * u2);
    *z1 = r * sin(two_pi * u2);
}

void pi_rng_normal_d(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                     double *out)
{
    for (size_t j = 0; 2 * j < count; j++) {
        uint32_t w[4];
        double z0, z1;
        block(seed, stream, sample, step, j, w);
        normal_pair(w, &z0, &z1);
        out[2 * j] = z0;
        if (2 * j + 1 < count)
            out[2 * j + 1] = z1;
    }
}

void pi_rng_normal_f(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                     float *out)
{
    for (size_t j = 0; 2 * j < count; j++) {
        uint32_t w[4];
        double z0, z1;
        block(seed, stream, sample, step, j, w);
        normal_pair(w, &z0, &z1);
        out[2 * j] = (float)z0;
        if (2 * j + 1 < count)
            out[2 * j + 1] = (float)z1;
    }
}

void pi_rng_uniform_d(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step, size_t count,
                      double *out)
{
    for (size_t j = 0; 2 * j < count; j++) {
        uint32_t w[4];
        block(seed, stream, sample, step, j, w);
        out[2 * j] = pi_u01_from_words(w[0], w[1]);
        if (2 * j + 1 < count)
            out[2 * j + 1] = pi_u01_from_words(w[2], w[3]);
    }
}

double pi_rng_normal1(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step,
                      uint64_t element)
{
    uint32_t w[4];
    double z0, z1;
    block(seed, stream, sample, step, element / 2, w);
    normal_pair(w, &z0, &z1);
    return (element % 2) ? z1 : z0;
}

double pi_rng_uniform1(uint64_t seed, uint32_t stream, uint64_t sample, uint32_t step,
                       uint64_t element)
{
    uint32_t w[4];
    block(seed, stream, sample, step, element / 2, w);
    return (element % 2) ? pi_u01_from_words(w[2], w[3]) : pi_u01_from_words(w[0], w[1]);
}
