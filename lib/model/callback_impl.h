/* Internals of the callback model kind shared by callback.c and callback_derivatives.c. */
#ifndef PI_CALLBACK_IMPL_H
#define PI_CALLBACK_IMPL_H

#include "model_impl.h"

#include <stdatomic.h>

typedef struct pi_callback_model {
    pi_model_fn fn;
    pi_model_cond_fn cond_fn; /* conditional models (issue 15); fn is NULL then */
    void *user_data;
    int timestep;             /* the host takes τ = scale · t + offset, not t (issue 14) */
    double tau_scale, tau_offset;
    /* derivative callbacks (issue 18); deriv NULL = none */
    pi_model_derivative_fn deriv;
    unsigned provided; /* PI_DERIVATIVE_* bits the host computes */
    void *deriv_user;
    /* Scratch kept by the model between calls, so that the float stencils, the derivative
     * products and the null conditions allocate nothing once it has grown to the largest call
     * (a step loop calls them with the same sizes every step). Held by one call at a time
     * (`busy`, 0 -> 1); a call that finds it held (two library calls on the model at once, or
     * a host that re-enters the model) takes its scratch from the heap instead. */
    atomic_int busy;
    unsigned char *scratch;
    size_t scratch_bytes;
} pi_callback_model;

/* One call's scratch, a stack: pieces are cut from the model's buffer while they fit, else
 * come from the heap; freeing the newest piece (and any freed before it out of order) gives
 * its room back. pi_cb_scratch_end grows the model's buffer to the call's peak, so the next
 * call of the same sizes allocates nothing. */
#define PI_CB_SCRATCH_DEPTH 16
typedef struct pi_cb_scratch {
    pi_callback_model *cb;
    unsigned char *buf; /* the model's buffer while held, else NULL */
    size_t cap, used, need; /* need: the peak of used, whether the pieces fit or not */
    int held;               /* 1: this call holds the model's buffer */
    int untracked;          /* pieces beyond the stack's depth: room is no longer given back */
    size_t depth;
    struct {
        void *p;       /* NULL: freed out of order */
        size_t before; /* used before this piece */
    } piece[PI_CB_SCRATCH_DEPTH];
} pi_cb_scratch;

void pi_cb_scratch_begin(const pi_model_t *m, pi_cb_scratch *sc);
void pi_cb_scratch_end(pi_cb_scratch *sc);
/* count × size bytes (pieces start at multiples of 64 bytes from malloc's alignment); NULL on
 * overflow or exhaustion (the caller fails with PI_ENOMEM and a message). */
void *pi_cb_scratch_alloc(pi_cb_scratch *sc, size_t count, size_t size);
/* Frees a piece (p from the heap) and gives its room back if it is the newest; NULL: no-op. */
void pi_cb_scratch_free(pi_cb_scratch *sc, void *p);

/* The score from the value callback (float points), with the call's scratch. */
pi_status pi_callback_score_sc(const pi_model_t *m, const double *x, double t, double *s,
                               pi_cb_scratch *sc);
/* The same as a vtable entry (holds the model's scratch for the call). */
pi_status pi_callback_score_d(const pi_model_t *m, const double *x, double t, double *s);

/* From the derivative callbacks (callback_derivatives.c), with the call's scratch. */
pi_status pi_callback_value_d(const pi_model_t *m, const double *x, double t, double *s,
                              pi_cb_scratch *sc);
pi_status pi_callback_directional_d(const pi_model_t *m, const double *x, double t,
                                    const double *b, const double *c, size_t na,
                                    const double *a, double *s, double *sb, double *sc,
                                    double *g, double *gb, double *gc, double *gbc,
                                    double *scratch, pi_cb_scratch *scr);
pi_status pi_callback_jvp_exact(const pi_model_t *m, const double *x, double t, const double *v,
                                double *out, pi_cb_scratch *sc);
/* Dense derivatives of the score from the products on unit vectors (one batched host call):
 * the Jacobian jac[i d + j] = ∂s_i/∂x_j, the divergence (one value), the Hessians
 * hess[(k d + i) d + j] = ∂²s_k/∂x_i∂x_j, ∇(∇·s) (d values) and ∇∇(∇·s) (d × d). */
typedef enum {
    PI_CB_EXACT_JACOBIAN,
    PI_CB_EXACT_DIVERGENCE,
    PI_CB_EXACT_HESSIANS,
    PI_CB_EXACT_GRAD_DIV,
    PI_CB_EXACT_HESS_DIV
} pi_cb_exact;
pi_status pi_callback_exact(const pi_model_t *m, pi_cb_exact what, const double *x, double t,
                            double *out, pi_cb_scratch *sc);

#endif
