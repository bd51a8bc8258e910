/* The MLP model kind (mlp.c): the one adapter between pi_model_t and nn's pi_mlp network.
 * For the model code that handles MLP files (safetensors.c). */
#ifndef PI_MLP_MODEL_H
#define PI_MLP_MODEL_H

#include "model/model_impl.h"
#include "nn/nn.h"

/* The network of an MLP model (NULL if m is not an MLP). */
pi_mlp *pi_mlp_of(const pi_model_t *m);

/* Create an MLP model with the given options and zero weights. */
pi_status pi_mlp_create_shaped(const pi_sde_t *sde, size_t dim, size_t width, size_t layers,
                               size_t features, pi_embedding embedding, pi_view output_view,
                               pi_precond precond, double sigma_data, pi_model_t **out);

/* Give an MLP model k classes and/or a condition vector (no-op for 0, 0); re-initialises
 * its weights from the seed. */
pi_status pi_mlp_model_set_conditions(pi_model_t *m, size_t classes, size_t cond_dim);

#endif
