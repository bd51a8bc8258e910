/* The exact mixture's score, one row at a time with the components in blocks of 8 (issue 17):
 * a vectorised double exp instead of one libm exp per component, tables per time in structure-
 * of-arrays form. Accuracy: double throughout (log-sum-exp max-subtracted, exp within 5e-16
 * relative), rounded to float once at the end, as the scalar code did. The instruction set is
 * chosen at run time; all paths compute the same operations in the same order, so they agree
 * bit for bit (gmm_rows.h). */
#include "gmm_rows.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8l __attribute__((vector_size(64)));
typedef uint64_t v8u __attribute__((vector_size(64)));
typedef double v8du __attribute__((vector_size(64), aligned(8))); /* for unaligned access */

/* The vectors never cross a non-inlined call, so the ABI note GCC gives for 64-byte vectors
 * in the baseline path does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define v8_splat(v) ((v8d){(v), (v), (v), (v), (v), (v), (v), (v)})
#define v8_select(mask, a, b) ((v8d)(((v8l)(mask) & (v8l)(a)) | (~(v8l)(mask) & (v8l)(b))))
#define v8_load(p) (*(const v8du *)(p))
#define v8_store(p, v) (*(v8du *)(p) = (v))

#define KATTR
#define KN(name) base_##name
#include "gmm_rows.inc"
#undef KATTR
#undef KN

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 9)
#define HAVE_WIDE_PATHS 1
#define KATTR __attribute__((target("avx2")))
#define KN(name) avx2_##name
#include "gmm_rows.inc"
#undef KATTR
#undef KN
#define KATTR __attribute__((target("avx512f")))
#define KN(name) avx512_##name
#include "gmm_rows.inc"
#undef KATTR
#undef KN
#endif

size_t pi_gmm_tables_doubles(size_t k, size_t d)
{
    size_t kp = (k + PI_GMM_LANES - 1) / PI_GMM_LANES * PI_GMM_LANES;
    return 2 * d * kp + 2 * kp;
}

void pi_gmm_tables_bind(pi_gmm_tables *tab, size_t k, size_t d, double *base)
{
    tab->k = k;
    tab->kp = (k + PI_GMM_LANES - 1) / PI_GMM_LANES * PI_GMM_LANES;
    tab->d = d;
    tab->amu = base;
    tab->inv = tab->amu + d * tab->kp;
    tab->cst = tab->inv + d * tab->kp;
    tab->e = tab->cst + tab->kp;
}

void pi_gmm_tables_fill(pi_gmm_tables *tab, const double *logw, const double *mu,
                        const double *var, double alpha, double a2, double s2)
{
    const size_t k = tab->k, kp = tab->kp, d = tab->d;
    for (size_t c = 0; c < kp; c++) {
        double logdet = 0.0;
        for (size_t j = 0; j < d; j++) {
            if (c < k) {
                double cv = a2 * var[c * d + j] + s2;
                tab->amu[j * kp + c] = alpha * mu[c * d + j];
                tab->inv[j * kp + c] = 1.0 / cv;
                logdet += log(cv);
            } else {
                tab->amu[j * kp + c] = 0.0;
                tab->inv[j * kp + c] = 0.0;
            }
        }
        tab->cst[c] = c < k ? logw[c] - 0.5 * logdet : -INFINITY;
    }
}

int pi_gmm_row_score(const pi_gmm_tables *tab, const float *x, double *acc)
{
#ifdef HAVE_WIDE_PATHS
    if (__builtin_cpu_supports("avx512f"))
        return avx512_row_score(tab, x, acc);
    if (__builtin_cpu_supports("avx2"))
        return avx2_row_score(tab, x, acc);
#endif
    return base_row_score(tab, x, acc);
}

void pi_gmm_exp8(const double *x, double *out)
{
    v8_store(out, base_exp8(v8_load(x)));
}

int pi_gmm_row_score_isa(int isa, const pi_gmm_tables *tab, const float *x, double *acc)
{
    switch (isa) {
    case 0:
        return base_row_score(tab, x, acc);
#ifdef HAVE_WIDE_PATHS
    case 1:
        return __builtin_cpu_supports("avx2") ? avx2_row_score(tab, x, acc) : -1;
    case 2:
        return __builtin_cpu_supports("avx512f") ? avx512_row_score(tab, x, acc) : -1;
#endif
    default:
        return -1;
    }
}
