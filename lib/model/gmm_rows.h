/* The exact Gaussian mixture's score for one row at a time, components in blocks of 8 lanes
 * (gmm_rows.c). Every instruction-set path runs the same operations in the same order (no FMA
 * contraction: the library is built with -std=c11, so -ffp-contract=off), so the AVX-512,
 * AVX2 and baseline paths give bitwise identical results. */
#ifndef PI_GMM_ROWS_H
#define PI_GMM_ROWS_H

#include <stddef.h>

#define PI_GMM_LANES 8

/* Per-time tables, structure of arrays, k padded to kp = a multiple of 8 (padding lanes have
 * inv = 0 and cst = -inf, so they weigh nothing): amu[j*kp + c] = α μ_cj,
 * inv[j*kp + c] = 1 / (α² v_cj + σ²), cst[c] = log w_c − ½ Σ_j log(α² v_cj + σ²). */
typedef struct pi_gmm_tables {
    size_t k, kp, d;
    double *amu, *inv, *cst;
    double *e; /* kp doubles of scratch */
} pi_gmm_tables;

/* Doubles the tables of a k-component, d-dimensional mixture need (amu, inv, cst, e). */
size_t pi_gmm_tables_doubles(size_t k, size_t d);
/* Lay the tables out in `base` (pi_gmm_tables_doubles(k, d) doubles, 64-byte aligned). */
void pi_gmm_tables_bind(pi_gmm_tables *tab, size_t k, size_t d, double *base);
/* Fill them for one time (α, α², σ²) from the mixture (logw k, mu k×d, var k×d). */
void pi_gmm_tables_fill(pi_gmm_tables *tab, const double *logw, const double *mu,
                        const double *var, double alpha, double a2, double s2);

/* acc (d) = score at x = −Σ_c r_c (x − α μ_c) / c_c with r = softmax of the log-densities,
 * evaluated in double with a vectorised exp. Returns 0 when the largest log-density is not
 * finite (x too far from every component), 1 otherwise. */
int pi_gmm_row_score(const pi_gmm_tables *tab, const float *x, double *acc);

/* The same through one instruction set, for tests: 0 baseline, 1 AVX2, 2 AVX-512F. Returns
 * -1 when this CPU (or build) has no such path. */
int pi_gmm_row_score_isa(int isa, const pi_gmm_tables *tab, const float *x, double *acc);

/* exp of 8 doubles as the row kernel computes it (for tests): |relative error| < 5e-16 for
 * x in [-708, 709]; 0 below -708 (and for -inf). */
void pi_gmm_exp8(const double *x, double *out);

#endif
