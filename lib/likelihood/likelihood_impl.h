/* Internal likelihood engine (MATH.md §4): order-0 probability-flow NLL, the WKB coefficient
 * c1 by the backward sweep and by the published nested reference algorithm. The public
 * handle (likelihood.c) is a thin layer over pi_likelihood_compute(); bench/ and tests call
 * it directly to run one algorithm and read per-point counts. */
#ifndef PI_LIKELIHOOD_IMPL_H
#define PI_LIKELIHOOD_IMPL_H

#include "core/core.h"

#include <stdatomic.h>
#include "model/model_impl.h"
#include "ode/ode.h"

/* Which coefficients to compute. */
typedef enum pi_c1_mode {
    PI_C1_NONE = 0,      /* order 0 only */
    PI_C1_SWEEP = 1,     /* forward solve + backward sweep of (x, u, H, c) (wkb_sweep.c) */
    PI_C1_REFERENCE = 2, /* Hirono's δx form with nested finite-difference solves */
    PI_C1_STOCHASTIC = 3 /* probed sweep in O(d) memory per probe (wkb_stochastic.c) */
} pi_c1_mode;

typedef struct pi_lik_options {
    pi_divergence div_mode; /* divergence of the order-0 solve */
    size_t probes;          /* Hutchinson probes (>= 1) */
    uint64_t seed;          /* probes (PI_STREAM_PROBE) and dequantisation (PI_STREAM_DEQUANT) */
    uint64_t first_row;     /* point i draws its noise as point first_row + i */
    double rtol, atol;      /* order-0 solve and sweep (and the reference's outer solve) */
    size_t max_steps;       /* per solve */
    pi_c1_mode c1_mode;
    double dequant_bin;     /* 0 = off; else x + u·bin, u ~ U[0,1)^d per point */
    int threads;            /* worker threads across points (>= 1) */
    pi_pool *pool;          /* the owner's pool the points run on (NULL: the calling thread) */
    atomic_int *cancel;     /* nonzero asks to stop: points not yet started get
                             * PI_ECANCELED; NULL = not cancellable (then progress must be
                             * NULL too: a nonzero progress return sets *cancel) */
    pi_likelihood_fn progress; /* after each finished point, serialised; NULL = none */
    void *progress_data;
    /* reference algorithm only */
    double ref_inner_rtol, ref_inner_atol; /* nested solves */
    double ref_fd_step;                    /* finite-difference step h (absolute) */
    /* stochastic sweep only */
    size_t c1_probes; /* independent probes K (>= 1); the standard error needs K >= 2 */
    /* exact sweep only: 0 = the model's dense derivatives where they fit, its sweep products
     * (no d³ tensors; the MLP beyond d ≈ 16) elsewhere; 1 = the products wherever the model
     * has them (tests, benchmarks) */
    int sweep_products;
} pi_lik_options;

/* Defaults: exact divergence, 1 probe, seed 0, rtol 1e-6, atol 1e-8, 100000 steps, sweep,
 * no dequantisation, 1 thread, reference inner 1e-10/1e-10 and h = 1e-2. */
void pi_lik_options_default(pi_lik_options *options);

/* Per-point diagnostics. NFE counts model calls of every kind (score, Jacobian-vector
 * product, Jacobian, divergence, ∇(∇·s), Hessians, ∇∇(∇·s)), each as one evaluation. */
typedef struct pi_nll_point_stats {
    size_t nfe_order0;   /* model calls of the order-0 solve */
    size_t nfe_c1;       /* model calls of the c1 algorithm (excluding order 0) */
    size_t steps_order0; /* accepted + rejected steps of the order-0 solve */
    size_t steps_c1;     /* sweep: backward steps; reference: outer steps */
    double seconds_order0, seconds_c1; /* wall time (monotonic clock) */
    pi_status status;
    double c1_stderr; /* standard error of c1 over the probes (stochastic sweep; else 0) */
    size_t nfe_c2;     /* model calls of the second-order coefficient (nested sweeps) */
    double seconds_c2;
    double c2_stderr;  /* standard error of c2 over independent replicates (stochastic; else 0) */
} pi_nll_point_stats;

/* Validate options (PI_EINVAL naming the field) and model dimension. */
pi_status pi_lik_options_check(const pi_lik_options *options, const char *func);

/* Compute, for n points x (n × dim, float), nll_out[i] = −log q⁰(x_i) (nats, after
 * dequantisation if enabled) and, unless c1_out is NULL or c1_mode is NONE, c1_out[i].
 * Points with non-finite coordinates get PI_EINVAL, NaN outputs; failed solves get their
 * status and NaN outputs; the other points are computed. stats_out (n entries) may be NULL.
 * Returns PI_OK or the first per-point failure (pi_last_error() names the point). */
pi_status pi_likelihood_compute(const pi_model_t *model, const pi_lik_options *options, size_t n,
                                const float *x, double *nll_out, double *c1_out,
                                pi_nll_point_stats *stats_out);

/* pi_likelihood_compute() and, unless c2_out is NULL, the second-order coefficient c2 per
 * point (wkb_second_order.c; needs c1_out, dim <= PI_C2_MAX_DIM). */
pi_status pi_likelihood_compute2(const pi_model_t *model, const pi_lik_options *options,
                                 size_t n, const float *x, double *nll_out, double *c1_out,
                                 double *c2_out, pi_nll_point_stats *stats_out);

/* ---- one point in double precision (used by the driver and by tests) --------------------- */

/* Scratch for one worker: everything the per-point functions need, allocated once per call. */
typedef struct pi_lik_ws pi_lik_ws;
pi_status pi_lik_ws_create(size_t dim, const pi_lik_options *options, pi_lik_ws **out);
void pi_lik_ws_destroy(pi_lik_ws *ws);

/* Order 0 from x0 at t_min to T: *logq = log π(x_T) + ∫ ∇·f_PF dt; x_T (dim values) may be
 * NULL. point_index seeds the Hutchinson probes. */
pi_status pi_order0_point(const pi_model_t *model, const pi_lik_options *options, pi_lik_ws *ws,
                          uint64_t point_index, const double *x0, double *logq, double *x_T,
                          pi_nll_point_stats *stats);

/* c1 by the backward sweep, given x_T from the order-0 solve (MATH.md §4, linear-response
 * form). Exact traces (the d × d matrix H is integrated). */
pi_status pi_wkb_sweep_point(const pi_model_t *model, const pi_lik_options *options,
                             pi_lik_ws *ws, const double *x_T, double *c1,
                             pi_nll_point_stats *stats);

/* The sweep's right-hand side on y = (x[d], u[d], H[d×d] row-major, c) with its scratch
 * (shared with the second-order coefficient, wkb_second_order.c). */
typedef struct pi_wkb_sweep_ctx {
    const pi_model_t *model;
    size_t dim;
    double *s, *gd;   /* score, ∇(∇·s) */
    double *jac, *hd; /* J_s, ∇∇(∇·s) (d × d) */
    double *hess;     /* d × d × d */
    size_t nfe;
} pi_wkb_sweep_ctx;
pi_status pi_wkb_sweep_rhs(double t, const double *y, double *dydt, void *ctx);

/* c2 (log q^ħ = log q⁰ + ħ c1 + ħ² c2 + O(ħ³)) by an outer solve with nested sweeps
 * (wkb_second_order.c): ∇ℓ1 and Δℓ1 by central differences (step o->ref_fd_step) of 2d + 1
 * sweeps started at x and x ± h e_i, inner tolerances o->ref_inner_rtol/atol. x0 is the
 * (dequantised) data point. dim <= PI_C2_MAX_DIM. */
#define PI_C2_MAX_DIM 16
typedef struct pi_wkb2_ws pi_wkb2_ws;
/* The probability-flow ODE ẋ = f x − ½ g² s for `copies` points of model->dim stacked in y
 * (the nested c2's copies, exact and stochastic); s is dim doubles of scratch; *nfe counts
 * the score evaluations. */
pi_status pi_pf_copies_rhs(const pi_model_t *model, size_t copies, double t, const double *y,
                           double *dydt, double *s, size_t *nfe);
pi_status pi_wkb2_ws_create(size_t dim, pi_wkb2_ws **out);
void pi_wkb2_ws_destroy(pi_wkb2_ws *ws);
pi_status pi_wkb2_point(const pi_model_t *model, const pi_lik_options *options, pi_wkb2_ws *ws,
                        const double *x0, double *c2, pi_nll_point_stats *stats);

/* c1 by the stochastic sweep (wkb_stochastic.c): mean over o->c1_probes probes and its
 * standard error; probes from (o->seed, point_index). */
pi_status pi_wkb_stochastic_point(const pi_model_t *model, const pi_lik_options *options,
                                  pi_lik_ws *ws, uint64_t point_index, const double *x_T,
                                  double *c1, double *c1_stderr, pi_nll_point_stats *stats);
/* Its state size (x and K probes' δ, w, v, u_A, u_B, c) and workspace. */
typedef struct pi_wkb_stoch_ws pi_wkb_stoch_ws;
size_t pi_wkb_stochastic_state(size_t dim, size_t probes);
pi_status pi_wkb_stochastic_ws_create(const pi_model_t *model, size_t probes,
                                      pi_wkb_stoch_ws **out);
void pi_wkb_stochastic_ws_destroy(pi_wkb_stoch_ws *ws);
/* Its pieces, for the stochastic c2 (wkb_second_order_stochastic.c): the K × 3 × d probes
 * (z, ζ_A, ζ_B per probe, set by the caller), the state at T from x_T (x, then per probe δ,
 * w, v, u_A, u_B, c), and the right-hand side of the backward solve (ctx: pi_wkb_stoch_ctx). */
typedef struct pi_wkb_stoch_ctx {
    const pi_model_t *model;
    pi_wkb_stoch_ws *w;
    size_t nfe;
} pi_wkb_stoch_ctx;
double *pi_wkb_stochastic_probes(pi_wkb_stoch_ws *w);
void pi_wkb_stochastic_init(const pi_model_t *model, pi_wkb_stoch_ws *w, const double *x_T,
                            double *y);
pi_status pi_wkb_stochastic_rhs(double t, const double *y, double *dydt, void *ctx);

/* c2 by the stochastic route (wkb_second_order_stochastic.c), O(d) memory for models with
 * directional products: o->c1_probes independent replicates, each an adaptive outer solve
 * whose ∇ℓ1 and Δℓ1 come from three stochastic sweeps started at x and x ± h ξ (ξ
 * Rademacher) with two inner probes; *c2 is the mean over replicates and *c2_stderr its
 * standard error (NaN for one replicate). Noise from (o->seed, point_index). Dimension: any
 * for models with directional products, else <= 128 (the dense derivatives). */
typedef struct pi_wkb2s_ws pi_wkb2s_ws;
pi_status pi_wkb2s_ws_create(const pi_model_t *model, pi_wkb2s_ws **out);
void pi_wkb2s_ws_destroy(pi_wkb2s_ws *ws);
pi_status pi_wkb2s_point(const pi_model_t *model, const pi_lik_options *options,
                         pi_wkb2s_ws *ws, uint64_t point_index, const double *x0, double *c2,
                         double *c2_stderr, pi_nll_point_stats *stats);

/* c1 by Hirono et al.'s δx form with nested finite-difference order-0 solves. */
pi_status pi_wkb_reference_point(const pi_model_t *model, const pi_lik_options *options,
                                 pi_lik_ws *ws, const double *x0, double *c1,
                                 pi_nll_point_stats *stats);

/* The action bound on −log q¹ averaged over n data points (action_bound.c): `samples` (t, z)
 * draws per point keyed by seed, rows on `threads` workers of pool (NULL: the caller);
 * *stderr_out may be NULL. */
pi_status pi_lik_action_bound(const pi_model_t *model, size_t n, const float *data,
                              size_t samples, uint64_t seed, int threads, pi_pool *pool,
                              double *bound, double *stderr_out);

/* log π(y) of the SDE's prior N(0, std² I) and its gradient (grad may be NULL). */
double pi_lik_prior_logpdf(const pi_sde_t *sde, size_t dim, const double *y, double *grad);

/* ---- internals shared by the engine files ------------------------------------------------- */

struct pi_lik_ws {
    size_t dim;
    size_t probes;
    pi_ode_evolve *ode; /* Dormand–Prince workspace for the largest state */
    double *state;   /* largest state */
    double *vec;     /* 8 × dim scratch vectors */
    double *mat;     /* 3 × dim² scratch matrices */
    double *hess;    /* dim³: Hessians of s's components */
    double *probe;   /* probes × dim Hutchinson probes of the current solve */
    /* reference algorithm: the nested solve of 2d+1 copies and its solver workspace */
    double *inner_state;
    pi_ode_evolve *inner_ode;
    double *inner_vec; /* 4 × dim scratch for the inner right-hand side */
    pi_wkb_stoch_ws *stoch; /* stochastic sweep (NULL unless c1_mode is PI_C1_STOCHASTIC) */
    pi_wkb2_ws *wkb2;       /* second order (NULL unless c2 is asked for) */
    /* the exact sweep's products path: model scratch, made at the first point that needs it */
    double *sweep_scratch;
    size_t sweep_scratch_len;
    pi_wkb2s_ws *wkb2s;     /* stochastic second order (c2 asked for with PI_C1_STOCHASTIC) */
};

#endif
