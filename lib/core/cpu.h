/* What the CPU and the operating system together let this process run (CPUID + XGETBV): a
 * vector extension counts only when the OS also saves its registers on a context switch. */
#ifndef PI_CPU_H
#define PI_CPU_H

typedef struct pi_cpu_features {
    int sse2, sse41, avx, fma, avx2;
    int avx512f, avx512dq, avx512bw, avx512vl;
} pi_cpu_features;

/* Fill *f from CPUID and XGETBV; all zero on a non-x86 build. */
void pi_cpu_detect(pi_cpu_features *f);

/* AVX-512 F, DQ, BW and VL with the ZMM state saved: what BLIS's "skx" kernels need. */
int pi_cpu_has_avx512(const pi_cpu_features *f);

#endif
