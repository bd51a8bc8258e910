/* minimal.c: load a model file, draw 1000 samples, print them as CSV.
 *
 *   cc minimal.c $(pkg-config --cflags --libs pathint) -o minimal
 *   ./minimal model.pim [hbar] > samples.csv
 */
#include <pathint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [HBAR]\n", argv[0]);
        return 2;
    }
    pi_model_t *model = NULL;
    pi_sampler_t *sampler = NULL;
    size_t n = 1000, dim = 0;
    float *x = NULL;
    pi_status st = pi_model_load(argv[1], &model);
    if (st == PI_OK)
        st = pi_model_get_dim(model, &dim);
    if (st == PI_OK)
        st = pi_sampler_create(model, &sampler);
    if (st == PI_OK)
        st = pi_sampler_set_hbar(sampler, argc > 2 ? atof(argv[2]) : 0.0);
    if (st == PI_OK && !(x = malloc(n * dim * sizeof *x)))
        st = PI_ENOMEM;
    if (st == PI_OK)
        st = pi_sampler_run(sampler, n, x);
    for (size_t i = 0; st == PI_OK && i < n; i++)
        for (size_t j = 0; j < dim; j++)
            printf("%g%c", x[i * dim + j], j + 1 < dim ? ',' : '\n');
    if (st != PI_OK)
        fprintf(stderr, "minimal: %s (%s)\n", pi_last_error(), pi_status_string(st));
    free(x);
    pi_sampler_destroy(sampler);
    pi_model_destroy(model);
    return st == PI_OK ? 0 : 1;
}
