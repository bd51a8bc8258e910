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
 *   - the CPU has AVX-512 F, DQ, BW and VL and the OS saves the ZMM state (CPUID + XGETBV),
 *   - and the BLIS build has an AVX-512 sub-configuration (its SIMD size is 64 bytes): BLIS
 *     0.9 aborts the process when BLIS_ARCH_TYPE names a sub-configuration it was built without.
 * If the host initialised BLIS before loading pathint, BLIS keeps its first choice and
 * pi_blis_kernel_choice() says "host". */
#include "core.h"
#include "cpu.h"
#include "gemm.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_OUT_VARIABLE "PATHINT_BLIS_ARCH"

/* The arch_t pathint asks for at load, or -1 to leave BLIS alone. A pure function of the
 * environment, the CPU and the BLIS build, so the queries below can recompute it. */
static int wanted_arch(void)
{
    const char *opt = getenv(OPT_OUT_VARIABLE);
    if (opt != NULL && opt[0] != '\0' && strcmp(opt, "auto") != 0)
        return -1;
    if (getenv("BLIS_ARCH_TYPE") != NULL)
        return -1;
    pi_cpu_features f;
    pi_cpu_detect(&f);
    if (pi_cpu_has_avx512(&f) && bli_info_get_simd_size() >= 64)
        return (int)BLIS_ARCH_SKX;
    return -1;
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
