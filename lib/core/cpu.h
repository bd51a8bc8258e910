/* What the CPU and the operating system together let this process run (CPUID + XGETBV): a
 * vector extension counts only when the OS also saves its registers on a context switch. */
#ifndef PI_CPU_H
#define PI_CPU_H

enum { PI_CPU_VENDOR_OTHER = 0, PI_CPU_VENDOR_INTEL = 1, PI_CPU_VENDOR_AMD = 2 };

typedef struct pi_cpu_features {
    int sse2, sse41, avx, fma, avx2;
    int avx512f, avx512dq, avx512bw, avx512vl;
    /* CPUID leaf 0's vendor string and leaf 1's display family and model (base + extended
     * fields, as Intel and AMD define them and BLIS reads them). */
    int vendor;
    unsigned family, model;
} pi_cpu_features;

/* Fill *f from CPUID and XGETBV; all zero on a non-x86 build. */
void pi_cpu_detect(pi_cpu_features *f);

/* AVX-512 F, DQ, BW and VL with the ZMM state saved: what BLIS's "skx" kernels need. */
int pi_cpu_has_avx512(const pi_cpu_features *f);

/* AVX2 and FMA3 with the YMM state saved: what BLIS's "haswell" kernels need. */
int pi_cpu_has_avx2_fma(const pi_cpu_features *f);

#endif
