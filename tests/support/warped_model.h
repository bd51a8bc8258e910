/* A perturbed score for likelihood tests: s̃(x, t) = scale · s_inner(x, φ(t)) with the time warp
 * φ(t) = t_min + warp (t − t_min). For a mixture, evaluating at the wrong time is evaluating
 * with the wrong variances α(φ)² v_k + σ(φ)²; no ħ-independent density has this score. Every
 * double-precision derivative is the inner model's, scaled, so the likelihood code sees exact
 * derivatives of a non-exact score. */
#ifndef PI_TEST_WARPED_MODEL_H
#define PI_TEST_WARPED_MODEL_H

#include "model/model_impl.h"

/* Takes ownership of inner (destroyed with the result, or on failure). dim <= 64. Returns
 * NULL on failure. */
pi_model_t *warped_model_create(pi_model_t *inner, double scale, double warp);

/* Make every evaluation at a point with x[0] > threshold fail with PI_ENUMERIC and the message
 * "warped test model: x[0] = <x> is beyond <threshold>" (set on the evaluating thread), so tests
 * can fail one point inside a parallel region. +inf (the default) never fails. */
void warped_model_fail_above(pi_model_t *m, double threshold);

#endif
