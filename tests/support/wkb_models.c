#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wkb_models.h"

#include <stdlib.h>

int wkb_quick(void) { return getenv("PI_TEST_QUICK") != NULL; }

pi_sde_t *wkb_make_vp(void)
{
    pi_sde_t *sde = NULL;
    assert_int_equal(pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde), PI_OK);
    return sde;
}

pi_model_t *wkb_make_mlp(const pi_sde_t *sde, size_t d, size_t width, size_t layers,
                         uint64_t seed)
{
    pi_model_t *m = NULL;
    assert_int_equal(pi_model_create_mlp(sde, d, width, layers, &m), PI_OK);
    assert_int_equal(pi_model_mlp_init(m, seed), PI_OK);
    assert_int_equal(pi_model_mlp_set_preconditioning(m, PI_PRECOND_EDM, 0.5), PI_OK);
    return m;
}
