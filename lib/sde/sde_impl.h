/* Internal view of a forward SDE (MATH.md §1). Other modules read the struct directly through
 * pi_sde_eval() and friends; only sde/ writes it. */
#ifndef PI_SDE_IMPL_H
#define PI_SDE_IMPL_H

#include "core/core.h"

#define PI_SDE_TABLE_SIZE 2048 /* custom SDEs given by (f, g): nodes of the α, σ table */

struct pi_sde {
    pi_sde_kind kind;
    double beta_min, beta_max; /* VP linear, sub-VP */
    double cosine_s;           /* VP cosine */
    double sigma_min, sigma_max; /* VE, EDM */
    double t_min, t_max;
    /* custom */
    pi_sde_marginal_fn marginal_fn;
    pi_sde_coefficient_fn coefficient_fn;
    void *user_data;
    /* custom by (f, g): log α and σ²/α² at uniform nodes on [0, t_max], with derivatives,
     * for cubic Hermite interpolation. NULL otherwise. */
    double *table; /* 4 × (PI_SDE_TABLE_SIZE + 1): y1, y1', y2, y2' */
    /* discrete (ᾱ table): 3 × discrete_n doubles: ᾱ as given, ℓ = log σ̃² = log((1 − ᾱ)/ᾱ)
     * at the nodes t_i = (i + 1)/N, and dℓ/dτ there (monotone cubic Hermite slopes, τ = tN − 1).
     * NULL otherwise. */
    double *discrete;
    size_t discrete_n;
};

/* Everything a solver needs at one time. */
typedef struct pi_sde_point {
    double alpha, sigma; /* marginal: x_t = α x0 + σ z */
    double f, g2;        /* drift coefficient f = α'/α and g² */
    double sigma_tilde;  /* σ/α */
} pi_sde_point;

/* Evaluate at t (no argument checks beyond what callbacks report). PI_ECALLBACK if a custom
 * callback fails, PI_ENUMERIC if it returns non-finite values. */
pi_status pi_sde_eval(const pi_sde_t *sde, double t, pi_sde_point *p);

/* Marginal only (cheaper for the built-in kinds). */
pi_status pi_sde_eval_marginal(const pi_sde_t *sde, double t, double *alpha, double *sigma);

/* σ̃ at t and its inverse (no checks); the inverse returns PI_EINVAL outside the range. */
pi_status pi_sde_eval_sigma_tilde(const pi_sde_t *sde, double t, double *sigma_tilde);
pi_status pi_sde_invert_sigma_tilde(const pi_sde_t *sde, double sigma_tilde, double *t);

/* Prior standard deviation (no checks). */
double pi_sde_prior_std_of(const pi_sde_t *sde);

/* Copy into caller storage (custom tables are duplicated). Free with pi_sde_release. */
pi_status pi_sde_copy_into(const pi_sde_t *src, pi_sde_t *dst);
void pi_sde_release(pi_sde_t *sde);

/* Zero *s and set the defaults of a kind (the parameters all kinds carry). */
void pi_sde_init_defaults(pi_sde_t *s, pi_sde_kind kind);

/* Discrete SDEs: fill ℓ and its slopes from the ᾱ already in sde->discrete[0 .. discrete_n). */
void pi_sde_discrete_build(pi_sde_t *sde);

/* 1 if the two SDEs are the same kind with the same parameters. */
int pi_sde_equal(const pi_sde_t *a, const pi_sde_t *b);

#endif
