/* Models shared by the WKB suites (test_wkb_stochastic, test_wkb2_stochastic). Test-only code:
 * every failure is a cmocka failure. */
#ifndef PI_TEST_WKB_MODELS_H
#define PI_TEST_WKB_MODELS_H

#include "pathint.h"

#include <stddef.h>
#include <stdint.h>

/* Nonzero under PI_TEST_QUICK (the valgrind pass). */
int wkb_quick(void);

/* The VP (linear β) SDE. */
pi_sde_t *wkb_make_vp(void);

/* An untrained MLP (width × layers, initialised from seed) with EDM preconditioning: an
 * untrained network is then a perturbed Gaussian score, as a trained one is a perturbed data
 * score (the ε view of an untrained network divides O(1) outputs by σ(t_min) and gives
 * c1 ~ 1e9). */
pi_model_t *wkb_make_mlp(const pi_sde_t *sde, size_t d, size_t width, size_t layers,
                         uint64_t seed);

#endif
