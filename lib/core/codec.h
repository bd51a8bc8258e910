/* The one little-endian codec of the file formats (model files, checkpoints, data files,
 * safetensors): fixed-width integers and IEEE floats to and from bytes, whatever the host's
 * byte order. Floats travel as their bit patterns (NaN payloads and −0.0 survive). */
#ifndef PI_CODEC_H
#define PI_CODEC_H

#include <stdint.h>
#include <string.h>

static inline void pi_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void pi_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void pi_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint16_t pi_get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t pi_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t pi_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void pi_put_f32(unsigned char *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    pi_put_u32(p, bits);
}

static inline void pi_put_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    pi_put_u64(p, bits);
}

static inline float pi_get_f32(const unsigned char *p)
{
    uint32_t bits = pi_get_u32(p);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline double pi_get_f64(const unsigned char *p)
{
    uint64_t bits = pi_get_u64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

#endif
