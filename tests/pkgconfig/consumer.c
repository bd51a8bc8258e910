/* A program built only from an installed pathint (pkg-config): prints α and σ at t = 0.5
 * for each built-in SDE and writes a small Gaussian-mixture model file for minimal.c. */
#include <pathint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    static const struct {
        pi_sde_kind kind;
        const char *name;
    } kinds[] = {{PI_SDE_KIND_VP_LINEAR, "vp"}, {PI_SDE_KIND_VP_COSINE, "vp-cosine"}, {PI_SDE_KIND_SUBVP, "subvp"},
                 {PI_SDE_KIND_VE, "ve"}, {PI_SDE_KIND_EDM, "edm"}};
    if (pi_version_number() / 10000 != PI_VERSION_MAJOR) {
        fprintf(stderr, "header %s but library %s\n", PI_VERSION_STRING, pi_version_string());
        return 1;
    }
    printf("pathint %s\n", pi_version_string());
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        pi_sde_t *sde = NULL;
        double alpha, sigma;
        if (pi_sde_create(kinds[i].kind, &sde) || pi_sde_marginal(sde, 0.5, &alpha, &sigma)) {
            fprintf(stderr, "%s: %s\n", kinds[i].name, pi_last_error());
            return 1;
        }
        printf("%-10s alpha(0.5) = %.6f  sigma(0.5) = %.6f\n", kinds[i].name, alpha, sigma);
        pi_sde_destroy(sde);
    }
    if (argc > 1) {
        pi_sde_t *sde = NULL;
        pi_model_t *model = NULL;
        const double w[2] = {0.5, 0.5}, mu[4] = {-1, 0, 1, 0}, var[4] = {0.01, 0.01, 0.01, 0.01};
        pi_status st = pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);
        if (!st)
            st = pi_model_create_gmm(sde, 2, 2, w, mu, var, &model);
        if (!st)
            st = pi_model_save(model, argv[1]);
        pi_model_destroy(model);
        pi_sde_destroy(sde);
        if (st) {
            fprintf(stderr, "cannot write %s: %s\n", argv[1], pi_last_error());
            return 1;
        }
    }
    return 0;
}
