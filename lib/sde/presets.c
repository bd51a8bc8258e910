/* Named SDEs: the built-in kinds by name, and the parameter sets of Hirono et al. (MATH.md §1)
 * that the command-line program and the reproduction examples share. */
#include "sde_impl.h"

#include <string.h>

typedef struct sde_name {
    const char *name, *description;
    pi_sde_kind kind;     /* a built-in kind with its defaults, or 0 */
    pi_sde_preset preset; /* or a preset, 0 otherwise */
} sde_name;

/* Kinds, then presets, each in enum order, then names added later: the order pi_sde_name_at()
 * documents. */
static const sde_name sde_names[] = {
    {"vp", "VP, linear beta (defaults: beta 0.1 -> 20, t in [1e-3, 1])", PI_SDE_KIND_VP_LINEAR, 0},
    {"vp-cosine", "VP, cosine schedule (defaults: s = 0.008, t in [1e-3, 1 - 1e-3])", PI_SDE_KIND_VP_COSINE, 0},
    {"subvp", "sub-VP (defaults: beta 0.1 -> 20, t in [1e-3, 1])", PI_SDE_KIND_SUBVP, 0},
    {"ve", "VE (defaults: sigma 0.01 -> 50, t in [1e-5, 1])", PI_SDE_KIND_VE, 0},
    {"edm", "EDM, t = sigma (defaults: sigma in [0.002, 80])", PI_SDE_KIND_EDM, 0},
    {"simple", "Hirono et al.'s SIMPLE: VP linear, beta 0 -> 20, t in [0.01, 1]", 0, PI_SDE_PRESET_SIMPLE},
    {"cosine", "Hirono et al.'s COSINE: VP cosine, s = 0, t in [0.01, 1 - 1e-3]", 0, PI_SDE_PRESET_COSINE},
    /* 1.1: appended so the indices above keep their names */
    {"rectified_flow", "rectified flow / flow matching: alpha = 1 - t, sigma = t (defaults: t in [1e-3, 1 - 1e-3])",
     PI_SDE_KIND_RECTIFIED_FLOW, 0},
};
enum { SDE_NAME_COUNT = sizeof sde_names / sizeof sde_names[0] };

typedef struct preset_param {
    pi_sde_param param;
    double value;
} preset_param;

pi_status pi_sde_create_preset(pi_sde_preset preset, pi_sde_t **out)
{
    PI_CHECK_NULL(out);
    /* Every value is set, so a change of the kinds' defaults cannot move a preset. Ranges are
     * set widest first, so no intermediate state is invalid. */
    static const preset_param simple[] = {{PI_SDE_PARAM_T_MAX, 1.0},
                                          {PI_SDE_PARAM_T_MIN, 0.01},
                                          {PI_SDE_PARAM_BETA_MAX, 20.0},
                                          {PI_SDE_PARAM_BETA_MIN, 0.0}};
    static const preset_param cosine[] = {{PI_SDE_PARAM_T_MAX, 1.0 - 1e-3}, {PI_SDE_PARAM_T_MIN, 0.01}, {PI_SDE_PARAM_COSINE_S, 0.0}};
    pi_sde_kind kind;
    const preset_param *params;
    size_t count;
    switch (preset) {
    case PI_SDE_PRESET_SIMPLE:
        kind = PI_SDE_KIND_VP_LINEAR, params = simple, count = sizeof simple / sizeof simple[0];
        break;
    case PI_SDE_PRESET_COSINE:
        kind = PI_SDE_KIND_VP_COSINE, params = cosine, count = sizeof cosine / sizeof cosine[0];
        break;
    default:
        return pi_fail(PI_EINVAL, "pi_sde_create_preset: preset must be PI_SDE_PRESET_SIMPLE (1) or "
                                  "PI_SDE_PRESET_COSINE (2), got %d", (int)preset);
    }
    pi_sde_t *sde = NULL;
    pi_status st = pi_sde_create(kind, &sde);
    for (size_t i = 0; i < count && st == PI_OK; i++)
        st = pi_sde_set_param(sde, params[i].param, params[i].value);
    if (st != PI_OK) {
        pi_sde_destroy(sde);
        return st;
    }
    *out = sde;
    return PI_OK;
}

pi_status pi_sde_create_named(const char *name, pi_sde_t **out)
{
    PI_CHECK_NULL(name);
    PI_CHECK_NULL(out);
    for (size_t i = 0; i < SDE_NAME_COUNT; i++) {
        if (strcmp(sde_names[i].name, name) != 0)
            continue;
        if (sde_names[i].preset != 0)
            return pi_sde_create_preset(sde_names[i].preset, out);
        return pi_sde_create(sde_names[i].kind, out);
    }
    char known[192] = "";
    for (size_t i = 0; i < SDE_NAME_COUNT; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, sde_names[i].name, sizeof known - strlen(known) - 1);
    }
    return pi_fail(PI_EINVAL, "pi_sde_create_named: unknown SDE name '%.64s' (known: %s)", name, known);
}

pi_status pi_sde_name_at(size_t index, const char **name, const char **description)
{
    PI_CHECK_NULL(name);
    if (index >= SDE_NAME_COUNT)
        return pi_fail(PI_EINVAL, "pi_sde_name_at: index %zu is past the end (%d names)", index,
                       (int)SDE_NAME_COUNT);
    *name = sde_names[index].name;
    if (description != NULL)
        *description = sde_names[index].description;
    return PI_OK;
}
