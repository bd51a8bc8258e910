/* Which of BLIS's kernel sets this process runs (docs/embedding.md, "BLIS kernels").
 *
 * BLIS picks one sub-configuration per process, once, when it initialises: from the
 * environment variable BLIS_ARCH_TYPE (the integer value of its arch_t) if set, else by its
 * own CPUID rules. Debian 12's BLIS 0.9 falls back to "haswell" (AVX2) on AVX-512 Xeons whose
 * brand string does not name a model it knows, and to "generic" on CPU families newer than
 * it (AMD Zen 5), although its family build carries the AVX-512 "skx" kernels. The context of
 * another sub-configuration cannot be reached through BLIS's exported API (bli_gks_lookup_id
 * is internal), so pathint asks for the kernels the only way BLIS offers: when the library is
 * loaded it sets BLIS_ARCH_TYPE, initialises BLIS and removes the variable again, so the
 * environment the host and its children see is unchanged. It does so only when
 *   - PATHINT_BLIS_ARCH is unset or "auto" (any other value, "detected" the documented one,
 *     leaves BLIS to its own detection),
 *   - the user has not set BLIS_ARCH_TYPE (theirs always wins),
 *   - the CPU has AVX-512 F, DQ, BW and VL and the OS saves the ZMM state (CPUID + XGETBV)
 *     and the BLIS build has "skx" (then skx), or the CPU has AVX2 + FMA with the YMM state
 *     saved, the build has "haswell" and BLIS 0.9's own rules would pick a set narrower than
 *     AVX2 (a vendor or CPU family newer than BLIS; then haswell) — pi_blis_decide() in
 *     blis_kernels.h has the full table.
 * BLIS 0.9 aborts the process when BLIS_ARCH_TYPE names a sub-configuration it was built
 * without, and its exported API cannot tell which are built in without that risk (the
 * registry, bli_gks_lookup_id, is internal; an unregistered id reaches
 * bli_check_initialized_gks_cntx, which aborts). So a sub-configuration counts as built in only
 * when the blis.h pathint was compiled against lists it (BLIS_CONFIG_SKX, BLIS_CONFIG_HASWELL:
 * Debian ships blis.h and libblis.so.4 from one build) and the library loaded at run time agrees
 * on what it can: its SIMD width (64 bytes for skx, at least 32 for haswell) and, for haswell, a
 * 0.9.x version string (the release whose detection rules pi_blis09_detect() models).
 * If the host initialised BLIS before loading pathint, BLIS keeps its first choice and
 * pi_blis_kernel_choice() says "host". */
#include "blis_kernels.h"
#include "core.h"
#include "cpu.h"
#include "gemm.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_OUT_VARIABLE "PATHINT_BLIS_ARCH"

int pi_blis09_detect(const pi_cpu_features *f)
{
    const int avx2_fma = pi_cpu_has_avx2_fma(f);
    if (f->vendor == PI_CPU_VENDOR_INTEL) {
        if (avx2_fma)
            return (int)BLIS_ARCH_HASWELL; /* or skx, by the brand string: see the header */
        if (f->avx)
            return (int)BLIS_ARCH_SANDYBRIDGE;
        if (f->sse2)
            return (int)BLIS_ARCH_PENRYN; /* BLIS asks SSE3 + SSSE3; every 64-bit Intel has both */
        return (int)BLIS_ARCH_GENERIC;
    }
    if (f->vendor == PI_CPU_VENDOR_AMD && avx2_fma) {
        if (f->family == 0x19)
            return (int)BLIS_ARCH_ZEN3;
        if (f->family == 0x17)
            return f->model >= 0x30 ? (int)BLIS_ARCH_ZEN2 : (int)BLIS_ARCH_ZEN;
        if (f->family == 0x15 && f->model >= 0x60 && f->model <= 0x7f)
            return (int)BLIS_ARCH_EXCAVATOR;
    }
    if (f->vendor == PI_CPU_VENDOR_AMD && f->family == 0x15 && f->fma && f->avx)
        /* FMA4 parts before excavator; which of the three does not matter here: no AVX2 */
        return f->model >= 0x30 ? (int)BLIS_ARCH_STEAMROLLER : (int)BLIS_ARCH_PILEDRIVER;
    return (int)BLIS_ARCH_GENERIC;
}

static int is_avx2_arch(int id)
{
    return id == (int)BLIS_ARCH_SKX || id == (int)BLIS_ARCH_KNL || id == (int)BLIS_ARCH_HASWELL ||
           id == (int)BLIS_ARCH_ZEN || id == (int)BLIS_ARCH_ZEN2 || id == (int)BLIS_ARCH_ZEN3 ||
           id == (int)BLIS_ARCH_EXCAVATOR;
}

int pi_blis_decide(const pi_cpu_features *f, const pi_blis_build *b, const char *opt,
                   const char *user_arch)
{
    if (opt != NULL && opt[0] != '\0' && strcmp(opt, "auto") != 0)
        return -1;
    if (user_arch != NULL)
        return -1;
    if (pi_cpu_has_avx512(f) && b->has_skx)
        return (int)BLIS_ARCH_SKX;
    if (pi_cpu_has_avx2_fma(f) && b->has_haswell && b->rules_0_9 && !is_avx2_arch(pi_blis09_detect(f)))
        return (int)BLIS_ARCH_HASWELL;
    return -1;
}

/* What the loaded BLIS carries (the file comment says why these tests and no others). */
static void read_build(pi_blis_build *b)
{
    const size_t simd = (size_t)bli_info_get_simd_size();
    b->rules_0_9 = strncmp(bli_info_get_version_str(), "0.9.", 4) == 0;
#ifdef BLIS_CONFIG_SKX
    b->has_skx = simd >= 64;
#else
    b->has_skx = 0;
#endif
#ifdef BLIS_CONFIG_HASWELL
    b->has_haswell = simd >= 32 && b->rules_0_9;
#else
    b->has_haswell = 0;
#endif
}

/* The arch_t pathint asks for at load, or -1 to leave BLIS alone. A pure function of the
 * environment, the CPU and the BLIS build, so the queries below can recompute it. */
static int wanted_arch(void)
{
    pi_cpu_features f;
    pi_cpu_detect(&f);
    pi_blis_build b;
    read_build(&b);
    return pi_blis_decide(&f, &b, getenv(OPT_OUT_VARIABLE), getenv("BLIS_ARCH_TYPE"));
}

/* Called by the load-time constructor in gemm.c (before main for a linked library; inside
 * dlopen for Python's ctypes): setenv is not thread-safe against a concurrent getenv, so this
 * is the one moment pathint touches the environment, and it puts it back. */
void pi_blis_choose_kernels(void)
{
    const int id = wanted_arch();
    if (id < 0)
        return;
    char value[16];
    snprintf(value, sizeof value, "%d", id);
    if (setenv("BLIS_ARCH_TYPE", value, 0) != 0)
        return;
    bli_init(); /* reads BLIS_ARCH_TYPE now, once for the process; a no-op if already done */
    unsetenv("BLIS_ARCH_TYPE");
}

const char *pi_blis_version(void)
{
    return bli_info_get_version_str();
}

const char *pi_blis_kernels(void)
{
    /* BLIS 0.9.0 aborts when its arch id is queried before its first initialisation with
     * BLIS_ARCH_TYPE set (the lookup runs before the contexts are registered): init first. */
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}

const char *pi_blis_kernel_choice(void)
{
    if (getenv("BLIS_ARCH_TYPE") != NULL)
        return "environment";
    const int id = wanted_arch();
    if (id < 0)
        return "detected";
    bli_init();
    return (int)bli_arch_query_id() == id ? "pathint" : "host";
}

const char *pi_blis_threading(void)
{
    if (bli_info_get_enable_openmp())
        return "openmp";
    if (bli_info_get_enable_pthreads())
        return "pthreads";
    return "none";
}
