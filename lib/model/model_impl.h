/* Internal model interface: one vtable, one file per kind (gmm.c, empirical.c, mlp.c,
 * callback.c). Samplers, likelihood and training reach a model only through the functions
 * declared here (MATH.md §2). */
#ifndef PI_MODEL_IMPL_H
#define PI_MODEL_IMPL_H

#include "core/core.h"
#include "core/threads.h"
#include "sde/sde_impl.h"

/* Per-call evaluation context: caller-owned scratch and the BLIS thread count. A model is
 * immutable and shared; all scratch comes from here so concurrent calls never collide. */
/* Per-row conditions of one evaluation (issue 15), n rows like x. labels[i] is a class in
 * [0, classes), or PI_COND_NULL for the null condition (the unconditional branch); a model
 * with classes = 0 reads 0 for a conditional row. vectors: n × cond_dim (NULL when
 * cond_dim = 0), zero on null rows. row_data: the host's per-row pointers, or NULL. */
typedef struct pi_cond_rows {
    const int32_t *labels;
    const float *vectors;
    void *const *row_data;
} pi_cond_rows;

typedef struct pi_eval_ctx {
    void *workspace;       /* >= pi_model_workspace_bytes(model, n) bytes, 64-byte aligned */
    size_t workspace_bytes;
    int threads;           /* BLIS threads for this call (>= 1) */
    pi_pool *pool;         /* rows in parallel on this pool; NULL: on the calling thread */
    const pi_cond_rows *cond; /* NULL: every row has the null condition (or the model has none) */
} pi_eval_ctx;

struct pi_model_type {
    const char *name;
    pi_model_kind kind;
    /* 1: host code that must not be entered from two threads within one library call
     * (pi_model_fn's promise); parallel regions then run such a model on one worker. */
    int serial;
    /* Scratch needed by eval for n rows (0 if none). */
    size_t (*workspace_bytes)(const pi_model_t *m, size_t n);
    /* Batched float evaluation in m->native_view. x, out: n × dim; t: n times. */
    pi_status (*eval)(const pi_model_t *m, size_t n, const float *x, const double *t, float *out,
                      const pi_eval_ctx *ctx);
    /* Double-precision derivatives of the score s = ∇log p_t at one point. Any may be NULL:
     * model.c then falls back to central finite differences of the next lower order. */
    pi_status (*score_d)(const pi_model_t *m, const double *x, double t, double *s);
    pi_status (*jvp_d)(const pi_model_t *m, const double *x, double t, const double *v,
                       double *out);                                           /* (∂s/∂x) v */
    pi_status (*jacobian_d)(const pi_model_t *m, const double *x, double t, double *jac);
    /* jac[i*d + j] = ∂s_i/∂x_j */
    pi_status (*divergence_d)(const pi_model_t *m, const double *x, double t, double *div);
    pi_status (*grad_div_d)(const pi_model_t *m, const double *x, double t, double *grad);
    /* ∇(∇·s), d values */
    pi_status (*hessians_d)(const pi_model_t *m, const double *x, double t, double *hess);
    /* hess[(k*d + i)*d + j] = ∂²s_k/∂x_i∂x_j */
    pi_status (*hess_div_d)(const pi_model_t *m, const double *x, double t, double *hess);
    /* ∇∇(∇·s), d × d */
    pi_status (*logpdf_d)(const pi_model_t *m, const double *x, double t, double *logp);
    /* Model file payload (model_file.c frames it); NULL = kind cannot be saved. */
    pi_status (*write_payload)(const pi_model_t *m, pi_file *file);
    void (*destroy)(pi_model_t *m); /* frees m->impl */
    /* Optional: several of the derivatives above at one point from one computation (each
     * output may be NULL; div is ∇·s). NULL: pi_model_derivatives_d calls them one by one. */
    pi_status (*derivatives_d)(const pi_model_t *m, const double *x, double t, double *s,
                               double *jac, double *div, double *grad_div, double *hess,
                               double *hess_div);

    /* ---- trainable kinds (all NULL for the others) ---- */
    /* The flat parameter vector and its length. Writable through the pointer although m is
     * const here: pi_model_set_params and the trainer update it in place (m->impl owns it). */
    float *(*params)(const pi_model_t *m, size_t *count);
    /* σ_data of the kind's preconditioning (the EDM loss weighting uses it). */
    double (*sigma_data)(const pi_model_t *m);
    /* Training: scratch for `batch` rows, a forward pass in m->native_view that keeps what
     * backward needs in ws, and the backward pass grad = Σ_rows ∂(Σ dout · out)/∂θ for the
     * last forward on ws (same n). */
    size_t (*train_workspace_bytes)(const pi_model_t *m, size_t batch);
    pi_status (*forward_train)(const pi_model_t *m, size_t n, const float *x, const double *t,
                               float *out, void *ws, int threads, pi_pool *pool);
    pi_status (*backward)(const pi_model_t *m, size_t n, const float *dout, float *grad,
                          void *ws, int threads, pi_pool *pool);
    /* Conditional kinds: forward_train with per-row conditions (NULL: all null). NULL for
     * kinds without conditions. */
    pi_status (*forward_train_cond)(const pi_model_t *m, size_t n, const float *x,
                                    const double *t, const pi_cond_rows *cond, float *out,
                                    void *ws, int threads, pi_pool *pool);

    /* ---- optional: directional products in O(d) memory (the stochastic WKB sweep) ----
     * NULL: the kind has none (the sweep then contracts the dense derivatives above). The
     * outputs are those of pi_model_directional_d; scratch holds directional_scratch(m)
     * doubles. */
    size_t (*directional_scratch)(const pi_model_t *m);
    pi_status (*directional_d)(const pi_model_t *m, const double *x, double t, const double *b,
                               const double *c, size_t na, const double *a, double *s,
                               double *sb, double *sc, double *g, double *gb, double *gc,
                               double *gbc, double *scratch);

    /* ---- optional: the exact sweep's products without d³ tensors (large dimensions) ----
     * At (x, t) with the sweep's u: s, J, ∇·s, ∇(∇·s), uhess = Σ_k u_k ∇∇s_k and ∇∇(∇·s)
     * (d × d), any output but u NULL, from sweep_scratch(m) doubles of scratch.
     * sweep_dense(m): 1 where derivatives_d's dense tensors fit (the sweep keeps them there).
     * NULL: the kind has none (the sweep contracts the dense derivatives). */
    size_t (*sweep_scratch)(const pi_model_t *m);
    int (*sweep_dense)(const pi_model_t *m);
    pi_status (*sweep_products_d)(const pi_model_t *m, const double *x, double t,
                                  const double *u, double *s, double *jac, double *div,
                                  double *grad_div, double *uhess, double *hess_div,
                                  double *scratch);
};

struct pi_model {
    const struct pi_model_type *type;
    pi_sde_t sde;        /* own copy */
    size_t dim;
    pi_view native_view; /* what type->eval returns */
    int threads;         /* default BLIS threads for the public eval functions */
    void *impl;          /* kind-specific state */
    pi_lazy_pool pool;   /* `threads` workers for the public functions, made at first use */
    /* Conditions (issue 15): classes k (0: none), condition-vector length c (0: none), and
     * whether the model has the null condition (an unconditional branch, for guidance). */
    size_t classes, cond_dim;
    int unconditional;
};

/* 1 if the model takes a condition (classes or a condition vector). */
static inline int pi_model_is_conditional(const pi_model_t *m)
{
    return m->classes > 0 || m->cond_dim > 0;
}

/* Check n rows of caller conditions against the model (labels in [0, k) or, where the model
 * has a null branch, −1; cond_dim equal to the model's; vectors finite). `fn` names the
 * public function in the message. Any of labels, cond, row_data may be NULL. */
pi_status pi_model_check_conditions(const char *fn, const pi_model_t *m, size_t n,
                                    const int32_t *labels, size_t cond_dim, const float *cond);

/* Common construction (model.c): allocate a model of the given type bound to a copy of sde. */
pi_status pi_model_alloc(const struct pi_model_type *type, const pi_sde_t *sde, size_t dim,
                         pi_view native_view, pi_model_t **out);

/* ---- used by sample/, likelihood/, train/ ----------------------------------------------- */

size_t pi_model_workspace_bytes(const pi_model_t *m, size_t n);

/* The model's own pool of m->threads workers (created at first use; the model may be shared,
 * see threads.h for the sharing rule); *out NULL for one thread. */
pi_status pi_model_pool(const pi_model_t *m, pi_pool **out);

/* Evaluate in any view with caller scratch (no allocation). */
pi_status pi_model_eval_ctx(const pi_model_t *m, pi_view view, size_t n, const float *x,
                            const double *t, float *out, const pi_eval_ctx *ctx);

/* Convert n rows between views at per-row (α, σ) (views.c). in and out may alias. */
void pi_view_convert(pi_view from, pi_view to, size_t n, size_t dim, const float *x,
                     const double *alpha, const double *sigma, const float *in, float *out);
void pi_view_convert_d(pi_view from, pi_view to, size_t dim, const double *x, double alpha,
                       double sigma, const double *in, double *out);
/* The same at one SDE point (α, σ, f, g²) for all n rows, for every view including
 * PI_VIEW_FLOW (the two above cannot convert the flow view: they lack f and g²). */
void pi_view_convert_at(pi_view from, pi_view to, size_t n, size_t dim, const float *x,
                        const pi_sde_point *p, const float *in, float *out);
void pi_view_convert_at_d(pi_view from, pi_view to, size_t dim, const double *x,
                          const pi_sde_point *p, const double *in, double *out);

/* Double-precision score and derivatives at one point (dispatch + finite-difference
 * fallbacks). Thread-safe; they allocate nothing for d <= 64 and otherwise take scratch
 * from the heap. */
pi_status pi_model_score_d(const pi_model_t *m, const double *x, double t, double *s);
pi_status pi_model_jvp_d(const pi_model_t *m, const double *x, double t, const double *v,
                         double *out);
pi_status pi_model_jacobian_d(const pi_model_t *m, const double *x, double t, double *jac);
pi_status pi_model_divergence_d(const pi_model_t *m, const double *x, double t, double *div);
pi_status pi_model_grad_div_d(const pi_model_t *m, const double *x, double t, double *grad);
pi_status pi_model_hessians_d(const pi_model_t *m, const double *x, double t, double *hess);
pi_status pi_model_hess_div_d(const pi_model_t *m, const double *x, double t, double *hess);
pi_status pi_model_logpdf_d(const pi_model_t *m, const double *x, double t, double *logp);
/* Any subset of score, Jacobian, divergence, ∇(∇·s), Hessians and ∇∇(∇·s) (NULL = not
 * wanted), in one call where the kind can (the MLP: one Taylor propagation); the same values
 * as the single functions. */
pi_status pi_model_derivatives_d(const pi_model_t *m, const double *x, double t, double *s,
                                 double *jac, double *div, double *grad_div, double *hess,
                                 double *hess_div);

/* Directional products at (x, t) in O(d) memory, for kinds with type->directional_d (else
 * PI_EUNSUPPORTED): with directions b, c (NULL = 0) and na cotangents a (na × d),
 *   s, sb = J b, sc = J c                           (d values each)
 *   g = Jᵀa_j, gb = ∇ₓ(a_jᵀJb), gc = ∇ₓ(a_jᵀJc), gbc = ∇ₓ(a_jᵀ D²s[b, c])   (na × d each)
 * with J = ∂s/∂x; any output may be NULL. scratch: pi_model_directional_scratch(m) doubles. */
size_t pi_model_directional_scratch(const pi_model_t *m);
pi_status pi_model_directional_d(const pi_model_t *m, const double *x, double t,
                                 const double *b, const double *c, size_t na, const double *a,
                                 double *s, double *sb, double *sc, double *g, double *gb,
                                 double *gc, double *gbc, double *scratch);

/* ---- trainable parameters and training (model.c: dispatch through the vtable) ---------- */
/* The parameter vector (writable) and its length; NULL and *count = 0 (count may be NULL)
 * for a kind without parameters. */
float *pi_model_param_vector(const pi_model_t *m, size_t *count);
/* σ_data for the EDM loss weighting: the kind's, or 0.5. */
double pi_model_sigma_data(const pi_model_t *m);
/* 0 for NULL, a kind that cannot be trained, or batch 0. */
size_t pi_model_train_workspace_bytes(const pi_model_t *m, size_t batch);
/* PI_EINVAL for NULL arguments or n = 0, PI_EUNSUPPORTED for a kind that cannot be trained;
 * ws must hold pi_model_train_workspace_bytes(m, n) bytes. */
pi_status pi_model_forward_train(const pi_model_t *m, size_t n, const float *x, const double *t,
                                 float *out, void *ws, int threads, pi_pool *pool);
pi_status pi_model_backward(const pi_model_t *m, size_t n, const float *dout, float *grad,
                            void *ws, int threads, pi_pool *pool);
/* pi_model_forward_train with per-row conditions (cond NULL: as pi_model_forward_train). */
pi_status pi_model_forward_train_cond(const pi_model_t *m, size_t n, const float *x,
                                      const double *t, const pi_cond_rows *cond, float *out,
                                      void *ws, int threads, pi_pool *pool);

/* ---- model files (model_file.c frames header, SDE and checksum; kinds own payloads) ---- */
/* Rebuild a model of each kind from the payload its write_payload produced. They validate
 * everything (sizes against `bytes`, finiteness) and fail with PI_EFORMAT and a message. */
pi_status pi_gmm_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                              size_t bytes, pi_model_t **out);
/* The empirical denoiser's softmax pass g_i = exp(sc (g_i − mx)), returning Σ g_i, through a
 * forced instruction set (0 SSE2, 2 AVX-512F; -1 = the CPU's best), for tests; the caller
 * checks that the CPU has it. */
double pi_empirical_exp_block_isa(int isa, float *g, size_t nb, float sc, float mx);
pi_status pi_empirical_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                                    size_t bytes, pi_model_t **out);
pi_status pi_mlp_from_payload(const pi_sde_t *sde, size_t dim, const unsigned char *payload,
                              size_t bytes, pi_model_t **out);

/* A whole model file's bytes (exactly what pi_model_save writes: frame, payload, checksum)
 * to a pi_file, and a model from such bytes, validated as pi_model_load validates a file
 * (PI_EFORMAT and a "model file: ..." message for anything wrong). Checkpoints embed models
 * this way. */
pi_status pi_model_write_image(const pi_model_t *m, pi_file *file);
pi_status pi_model_read_image(const unsigned char *data, size_t size, pi_model_t **out);

#endif
