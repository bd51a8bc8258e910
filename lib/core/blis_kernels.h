/* The decision behind pathint's choice of BLIS kernels (blis_kernels.c), as pure functions of
 * the CPU, the BLIS build and the environment, so tests can walk their table on CPUs this
 * machine is not (tests/test_blis_kernels.c). Arch ids are the values of BLIS's arch_t. */
#ifndef PI_BLIS_KERNELS_H
#define PI_BLIS_KERNELS_H

#include "cpu.h"

/* What the BLIS the process runs is known to carry. */
typedef struct pi_blis_build {
    int rules_0_9;   /* its version is 0.9.x, whose CPUID rules pi_blis09_detect() models */
    int has_skx;     /* the AVX-512 "skx" sub-configuration is built in */
    int has_haswell; /* the AVX2 "haswell" sub-configuration is built in */
} pi_blis_build;

/* The sub-configuration BLIS 0.9's own CPUID rules (frame/base/bli_cpuid.c) pick on a CPU, for
 * a build with every x86_64 sub-configuration: Intel by features only (skx, haswell, sandybridge,
 * penryn; skx also needs the FMA-unit count BLIS reads from the brand string, which a feature set
 * does not carry, so an AVX-512 Intel CPU gives skx or haswell and this returns haswell, the
 * misdetection issue 17 measured), AMD by family and model (0x19 zen3, 0x17 zen/zen2, 0x15
 * excavator..bulldozer), anything else generic. */
int pi_blis09_detect(const pi_cpu_features *f);

/* The arch id pathint sets in BLIS_ARCH_TYPE before BLIS initialises, or -1 to leave BLIS to
 * its own detection. opt is PATHINT_BLIS_ARCH, user_arch BLIS_ARCH_TYPE (NULL when unset).
 * Rules, in order:
 *   1. opt set, non-empty and not "auto": -1 (the opt-out);
 *   2. user_arch set: -1 (the user's choice wins);
 *   3. the CPU runs AVX-512 (F, DQ, BW, VL, ZMM state saved) and the build has skx: skx;
 *   4. the CPU runs AVX2 + FMA, the build has haswell, and BLIS 0.9's rules would give a
 *      sub-configuration narrower than AVX2 (generic, penryn, sandybridge, bulldozer,
 *      piledriver, steamroller: an x86 vendor or family newer than BLIS): haswell. BLIS's own
 *      AVX2 choices (haswell, zen, zen2, zen3, excavator) are kept; for a BLIS that is not
 *      0.9.x, whose rules pathint does not know, this rule does not fire;
 *   5. otherwise -1. */
int pi_blis_decide(const pi_cpu_features *f, const pi_blis_build *b, const char *opt,
                   const char *user_arch);

#endif
