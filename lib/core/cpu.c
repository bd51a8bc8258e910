/* CPU vector extensions by CPUID and XGETBV (cpu.h). No cache: a few CPUID instructions cost
 * less than a lock, and nothing calls this in a loop. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "cpu.h"
#include "core.h"

#include <sched.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void pi_cpu_detect(pi_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    {
        unsigned vmax, v[3];
        __cpuid(0, vmax, v[0], v[2], v[1]); /* "GenuineIntel" is ebx, edx, ecx */
        char name[13];
        memcpy(name, v, 12);
        name[12] = '\0';
        f->vendor = !strcmp(name, "GenuineIntel") ? PI_CPU_VENDOR_INTEL
                    : !strcmp(name, "AuthenticAMD") ? PI_CPU_VENDOR_AMD
                                                    : PI_CPU_VENDOR_OTHER;
        const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        const unsigned ext_family = (a >> 20) & 0xff, ext_model = (a >> 16) & 0xf;
        f->family = base_family == 15 ? base_family + ext_family : base_family;
        f->model = base_family == 6 || base_family == 15 ? (ext_model << 4) + base_model : base_model;
    }
    f->sse2 = (d >> 26) & 1;
    f->sse41 = (c >> 19) & 1;
    const int osxsave = (c >> 27) & 1;
    if (!osxsave)
        return; /* the OS does not say what it saves: no AVX of any width */
    const unsigned long long xcr0 = read_xcr0();
    const int ymm = (xcr0 & 0x6) == 0x6;         /* XMM and YMM state */
    const int zmm = ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    f->avx = ymm && ((c >> 28) & 1);
    f->fma = f->avx && ((c >> 12) & 1);
    if (__get_cpuid_max(0, NULL) < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = f->avx && ((b >> 5) & 1);
    f->avx512f = zmm && ((b >> 16) & 1);
    f->avx512dq = f->avx512f && ((b >> 17) & 1);
    f->avx512bw = f->avx512f && ((b >> 30) & 1);
    f->avx512vl = f->avx512f && ((b >> 31) & 1);
}
#else
void pi_cpu_detect(pi_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif

int pi_cpu_has_avx512(const pi_cpu_features *f)
{
    return f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl;
}

int pi_cpu_has_avx2_fma(const pi_cpu_features *f)
{
    return f->avx2 && f->fma;
}

/* The table pi_cpu_feature_at() walks, in the order the header documents. */
typedef struct feature_name {
    const char *name;
    size_t offset;
} feature_name;
static const feature_name feature_names[] = {
    {"sse2", offsetof(pi_cpu_features, sse2)},         {"sse4.1", offsetof(pi_cpu_features, sse41)},
    {"avx", offsetof(pi_cpu_features, avx)},           {"fma", offsetof(pi_cpu_features, fma)},
    {"avx2", offsetof(pi_cpu_features, avx2)},         {"avx512f", offsetof(pi_cpu_features, avx512f)},
    {"avx512dq", offsetof(pi_cpu_features, avx512dq)}, {"avx512bw", offsetof(pi_cpu_features, avx512bw)},
    {"avx512vl", offsetof(pi_cpu_features, avx512vl)},
};
enum { FEATURE_COUNT = sizeof feature_names / sizeof feature_names[0] };

pi_status pi_cpu_feature_at(size_t index, const char **name, int *supported)
{
    PI_CHECK_NULL(name);
    PI_CHECK_NULL(supported);
    if (index >= FEATURE_COUNT)
        return pi_fail(PI_EINVAL, "pi_cpu_feature_at: index %zu is past the end (%d features)", index,
                       (int)FEATURE_COUNT);
    pi_cpu_features f;
    pi_cpu_detect(&f);
    *name = feature_names[index].name;
    *supported = *(const int *)((const char *)&f + feature_names[index].offset);
    return PI_OK;
}

unsigned pi_cpu_count(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
#endif
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}
