/* BLIS object-free typed API with a per-call runtime object (thread count per call). */
#include "gemm.h"

#include <blis.h>

__attribute__((constructor)) static void choose_kernels_at_load(void)
{
    pi_blis_choose_kernels();
}

/* BLIS threads for an m×n×k product: at most one per GEMM_MACS_PER_THREAD multiply-adds.
 * A small product gains at most tens of microseconds from a second thread, while BLIS's
 * threads meet at spinning barriers several times per call: when the machine is
 * oversubscribed a barrier can wait a whole scheduler time slice for a descheduled partner.
 * Measured on a 2-core VM at load 12 (issue 17): 128×256×256 on 2 threads ran at 0.15
 * GFLOP/s with BLIS 0.9's skx kernels (its conventional, packing path) against 120 on one. */
#define GEMM_MACS_PER_THREAD ((double)(1 << 23))

static int gemm_threads(size_t m, size_t n, size_t k, int nthreads)
{
    if (nthreads <= 1)
        return 1;
    double macs = (double)m * (double)n * (double)k;
    double cap = macs / GEMM_MACS_PER_THREAD;
    if (cap < 1.0)
        return 1;
    return cap < (double)nthreads ? (int)cap : nthreads;
}

static void init_runtime(rntm_t *rntm, int nthreads)
{
    bli_rntm_init(rntm);
    bli_rntm_set_num_threads(nthreads < 1 ? 1 : nthreads, rntm);
}

void pi_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
              int nthreads)
{
    rntm_t rntm;
    init_runtime(&rntm, gemm_threads(m, n, k, nthreads));
    /* Row-major op(A) m×k: element (i, p) at a[i*lda + p] (or a[p*lda + i] if transposed). */
    bli_sgemm_ex(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k,
                 &alpha, (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1, &beta, c,
                 (inc_t)ldc, 1, NULL, &rntm);
}

void pi_dgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
              const double *a, size_t lda, const double *b, size_t ldb, double beta, double *c,
              size_t ldc, int nthreads)
{
    rntm_t rntm;
    init_runtime(&rntm, gemm_threads(m, n, k, nthreads));
    bli_dgemm_ex(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k,
                 &alpha, (double *)a, (inc_t)lda, 1, (double *)b, (inc_t)ldb, 1, &beta, c,
                 (inc_t)ldc, 1, NULL, &rntm);
}
