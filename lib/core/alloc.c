/* Allocation and small numeric helpers. */
#include "core.h"

#include <stdlib.h>

int pi_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > PI_MAX_ELEMENTS / a)
        return 0;
    if (a * b > PI_MAX_ELEMENTS)
        return 0;
    *out = a * b;
    return 1;
}

void *pi_malloc(size_t bytes) { return malloc(bytes == 0 ? 1 : bytes); }

void *pi_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        return calloc(1, 1);
    if (size > SIZE_MAX / count)
        return NULL;
    return calloc(count, size);
}

void *pi_alloc_array(size_t count, size_t size)
{
    if (count != 0 && size > SIZE_MAX / count)
        return NULL;
    return pi_malloc(count * size);
}

void pi_free(void *ptr) { free(ptr); }

pi_status pi_alloc_or_fail(void **out, size_t count, size_t size, const char *what)
{
    void *p = pi_alloc_array(count, size);
    if (p == NULL)
        return pi_fail(PI_ENOMEM, "out of memory allocating %zu x %zu bytes for %s", count, size,
                       what);
    *out = p;
    return PI_OK;
}

size_t pi_first_nonfinite_f(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

size_t pi_first_nonfinite_d(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

uint64_t pi_checksum64(const void *data, size_t bytes, uint64_t seed)
{
    /* FNV-1a 64 over bytes, then a final avalanche (splitmix64 finaliser). */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < bytes; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}
