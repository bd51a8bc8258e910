/* What pi_trainer_step computed, for tests/python/test_torch_train.py (the PyTorch loss must
 * give the same loss and gradient on the same batch): for K steps of a trainer with the given
 * options, print the model's parameters before the step, the step's draws (time uniforms and
 * log-normal normals, the trainer's Philox keys), the batch the trainer used (x0, z, t, row
 * weights), the loss pi_trainer_step returned and the gradient it applied (no clipping), all
 * as JSON, one object per step on a line.
 *
 * Usage: trainer_dump SDE DIM WIDTH LAYERS FEATURES EMBEDDING VIEW PRECOND SIGMA_DATA
 *                     WEIGHTING SAMPLING BATCH STEPS        (enums as their integer values) */
#include "core/philox.h"
#include "train/train_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void print_array(const char *name, const float *f, const double *d, size_t n)
{
    printf("\"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        printf("%s%.17g", i ? ", " : "", f != NULL ? (double)f[i] : d[i]);
    printf("]");
}

static int check(pi_status st, const char *what)
{
    if (st != PI_OK) {
        fprintf(stderr, "trainer_dump: %s: %s\n", what, pi_last_error());
        exit(1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 14) {
        fprintf(stderr, "usage: trainer_dump SDE DIM WIDTH LAYERS FEATURES EMBEDDING VIEW PRECOND "
                        "SIGMA_DATA WEIGHTING SAMPLING BATCH STEPS\n");
        return 2;
    }
    size_t dim = strtoul(argv[2], NULL, 10), width = strtoul(argv[3], NULL, 10);
    size_t layers = strtoul(argv[4], NULL, 10), features = strtoul(argv[5], NULL, 10);
    pi_embedding embedding = (pi_embedding)atoi(argv[6]);
    pi_view view = (pi_view)atoi(argv[7]);
    pi_precond precond = (pi_precond)atoi(argv[8]);
    double sigma_data = atof(argv[9]);
    pi_weighting weighting = (pi_weighting)atoi(argv[10]);
    pi_time_sampling sampling = (pi_time_sampling)atoi(argv[11]);
    size_t batch = strtoul(argv[12], NULL, 10), steps = strtoul(argv[13], NULL, 10);

    pi_sde_t *sde = NULL;
    pi_model_t *model = NULL;
    pi_trainer_t *tr = NULL;
    check(pi_sde_create_named(argv[1], &sde), "sde");
    check(pi_model_create_mlp(sde, dim, width, layers, &model), "mlp");
    check(pi_model_mlp_init(model, 3), "init");
    check(pi_model_mlp_set_embedding(model, embedding, features), "embedding");
    check(pi_model_mlp_set_output_view(model, view), "view");
    check(pi_model_mlp_set_preconditioning(model, precond, sigma_data), "precond");
    check(pi_trainer_create(model, &tr), "trainer");
    check(pi_trainer_set_batch_size(tr, batch), "batch");
    check(pi_trainer_set_weighting(tr, weighting), "weighting");
    check(pi_trainer_set_time_sampling(tr, sampling), "sampling");
    check(pi_trainer_set_learning_rate(tr, 1e-2), "lr");
    check(pi_trainer_set_seed(tr, 11), "seed");

    const size_t n = 64;
    float *data = malloc(n * dim * sizeof *data);
    for (size_t i = 0; i < n * dim; i++)
        data[i] = (float)(1.3 * sin(0.37 * (double)i + 0.2 * (double)(i % dim)));
    size_t count = 0;
    check(pi_model_get_num_params(model, &count), "num_params");
    float *params = malloc(count * sizeof *params);
    double *u = malloc(batch * sizeof *u), *normal = malloc(batch * sizeof *normal);
    for (size_t k = 0; k < steps; k++) {
        check(pi_model_get_params(model, count, params, NULL), "params");
        for (size_t i = 0; i < batch; i++) { /* draw_batch's keys (lib/train/trainer.c) */
            u[i] = pi_rng_uniform1(11, PI_STREAM_TRAIN, k, 1, i);
            normal[i] = pi_rng_normal1(11, PI_STREAM_TRAIN, k, 3, i);
        }
        double loss = 0.0;
        check(pi_trainer_step(tr, n, data, &loss), "step");
        printf("{\"step\": %zu, \"loss\": %.17g, ", k, loss);
        print_array("params", params, NULL, count);
        printf(", ");
        print_array("u", NULL, u, batch);
        printf(", ");
        print_array("normal", NULL, normal, batch);
        printf(", ");
        print_array("x0", tr->x0, NULL, batch * dim);
        printf(", ");
        print_array("z", tr->z, NULL, batch * dim);
        printf(", ");
        print_array("t", NULL, tr->t, batch);
        printf(", ");
        print_array("w", NULL, tr->w, batch);
        printf(", ");
        print_array("grad", tr->grad, NULL, count);
        printf("}\n");
    }
    free(params);
    free(u);
    free(normal);
    free(data);
    pi_trainer_destroy(tr);
    pi_model_destroy(model);
    pi_sde_destroy(sde);
    return 0;
}
