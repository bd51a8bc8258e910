/* The one door to BLIS for dense algebra. Thread counts go through BLIS's per-call runtime
 * object (rntm_t): no global BLIS settings are touched. */
#ifndef PI_GEMM_H
#define PI_GEMM_H

#include <stddef.h>

/* C (m×n) = alpha · op(A) op(B) + beta · C, all row-major with leading dimensions lda, ldb, ldc.
 * op(A) is m×k (A stored k×m if trans_a), op(B) is k×n (B stored n×k if trans_b). */
void pi_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
              int nthreads);
void pi_dgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
              const double *a, size_t lda, const double *b, size_t ldb, double beta, double *c,
              size_t ldc, int nthreads);

/* Ask BLIS for the best kernel set the CPU runs (blis_kernels.c); run once, at load, by a
 * constructor in gemm.c, the object every use of dense algebra links (so a static link
 * keeps it too). */
void pi_blis_choose_kernels(void);

#endif
