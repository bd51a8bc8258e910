/* pathint info: the library version and build, and what a model file holds. */
#include "commands.h"
#include "plot.h"

#include <stdio.h>

static const option_spec info_options[] = {{"help", 'h', NULL, "show this help"}, {NULL, 0, NULL, NULL}};

static const named_value model_kind_names[] = {{"gaussian mixture", PI_MODEL_KIND_GMM},
                                               {"empirical", PI_MODEL_KIND_EMPIRICAL},
                                               {"mlp", PI_MODEL_KIND_MLP},
                                               {"callback", PI_MODEL_KIND_CALLBACK},
                                               {NULL, 0}};
static const named_value sde_kind_names[] = {{"vp (linear beta)", PI_SDE_KIND_VP_LINEAR}, {"vp cosine", PI_SDE_KIND_VP_COSINE},
                                             {"sub-vp", PI_SDE_KIND_SUBVP},           {"ve", PI_SDE_KIND_VE},
                                             {"edm", PI_SDE_KIND_EDM},                {"custom", PI_SDE_KIND_CUSTOM},
                                             {"rectified flow", PI_SDE_KIND_RECTIFIED_FLOW}, {"discrete (alpha-bar table)", PI_SDE_KIND_DISCRETE},
                                             {NULL, 0}};

static int cmd_info(args *a)
{
    printf("pathint %s (library %s, ABI %u)\n", PI_VERSION_STRING, pi_version_string(),
           pi_version_number() / 10000);
    printf("png output  %s\n", plot_have_png() ? "yes (libpng)" : "no (built without libpng)");
    printf("blis        %s, kernels %s (%s), threading %s\n", pi_blis_version(), pi_blis_kernels(),
           pi_blis_kernel_choice(), pi_blis_threading());
    printf("cpu         %u CPUs for this process; vector extensions", pi_cpu_count());
    const char *name;
    int supported;
    for (size_t i = 0; pi_cpu_feature_at(i, &name, &supported) == PI_OK; i++)
        if (supported)
            printf(" %s", name);
    printf("\n");
    if (a->npositional == 0)
        return 0;
    pi_model_t *model = NULL;
    int rc = load_model(a->positional[0], &model);
    if (rc)
        return rc;
    pi_model_kind kind = 0;
    size_t dim = 0, nparams = 0;
    const pi_sde_t *sde = NULL;
    pi_sde_kind skind = 0;
    double t0 = 0, t1 = 0;
    pi_model_get_kind(model, &kind);
    pi_model_get_dim(model, &dim);
    pi_model_get_num_params(model, &nparams);
    pi_model_get_sde(model, &sde);
    pi_sde_get_kind(sde, &skind);
    pi_sde_time_range(sde, &t0, &t1);
    printf("model       %s\nkind        %s\ndimension   %zu\n", a->positional[0], name_of(model_kind_names, kind),
           dim);
    if (kind == PI_MODEL_KIND_MLP)
        printf("parameters  %zu\n", nparams);
    printf("sde         %s, t in [%g, %g]\n", name_of(sde_kind_names, skind), t0, t1);
    static const struct {
        pi_sde_param p;
        const char *name;
    } params[] = {{PI_SDE_PARAM_BETA_MIN, "beta_min"}, {PI_SDE_PARAM_BETA_MAX, "beta_max"}, {PI_SDE_PARAM_COSINE_S, "cosine_s"},
                  {PI_SDE_PARAM_SIGMA_MIN, "sigma_min"}, {PI_SDE_PARAM_SIGMA_MAX, "sigma_max"}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        double v;
        if (pi_sde_get_param(sde, params[i].p, &v) == PI_OK)
            printf("  %-10s %g\n", params[i].name, v);
    }
    pi_model_destroy(model);
    return 0;
}

const command info_command = {
    .name = "info",
    .usage = "pathint info [MODEL]",
    .description = "Print the library version and build, and describe a model file.",
    .options = info_options,
    .max_positional = MAX_POSITIONAL, /* MODEL; parse_args caps the count */
    .run = cmd_info,
};
