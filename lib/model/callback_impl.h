/* Internals of the callback model kind shared by callback.c and callback_derivatives.c. */
#ifndef PI_CALLBACK_IMPL_H
#define PI_CALLBACK_IMPL_H

#include "model_impl.h"

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
} pi_callback_model;

/* The score from the value callback (float points). */
pi_status pi_callback_score_d(const pi_model_t *m, const double *x, double t, double *s);

/* From the derivative callbacks (callback_derivatives.c). */
pi_status pi_callback_value_d(const pi_model_t *m, const double *x, double t, double *s);
pi_status pi_callback_directional_d(const pi_model_t *m, const double *x, double t,
                                    const double *b, const double *c, size_t na,
                                    const double *a, double *s, double *sb, double *sc,
                                    double *g, double *gb, double *gc, double *gbc,
                                    double *scratch);
pi_status pi_callback_jvp_exact(const pi_model_t *m, const double *x, double t, const double *v,
                                double *out);
pi_status pi_callback_jacobian_exact(const pi_model_t *m, const double *x, double t,
                                     double *jac);
pi_status pi_callback_divergence_exact(const pi_model_t *m, const double *x, double t,
                                       double *div);
pi_status pi_callback_hessians_exact(const pi_model_t *m, const double *x, double t,
                                     double *hess);
pi_status pi_callback_grad_div_exact(const pi_model_t *m, const double *x, double t,
                                     double *grad);
pi_status pi_callback_hess_div_exact(const pi_model_t *m, const double *x, double t,
                                     double *hd);

#endif
