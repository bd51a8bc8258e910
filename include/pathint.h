/**
 * @file pathint.h
 * @brief pathint: score-based diffusion models in the path-integral (ħ) view.
 *
 * The whole stable public API of pathint lives in this one header (C11, C++ clean).
 * It reads top-down in the order a user meets the handles: an SDE, a model on it,
 * a sampler, a likelihood, a trainer, data. A whole program:
 *
 * @code
 * #include <pathint.h>
 * #include <stdio.h>
 *
 * int main(void)
 * {
 *     double w[2] = {0.5, 0.5}, mu[4] = {-1, 0, 1, 0}, var[4] = {0.01, 0.01, 0.01, 0.01};
 *     float x[1000 * 2];
 *     double nll0[10], c1[10];
 *     pi_sde_t *sde = NULL;
 *     pi_model_t *model = NULL;
 *     pi_sampler_t *sampler = NULL;
 *     pi_likelihood_t *lik = NULL;
 *     pi_status st = pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);      // forward SDE
 *     if (!st) st = pi_model_create_gmm(sde, 2, 2, w, mu, var, &model); // exact score
 *     if (!st) st = pi_sampler_create(model, &sampler);
 *     if (!st) st = pi_sampler_set_hbar(sampler, 0.5);       // between ODE (0) and SDE (1)
 *     if (!st) st = pi_sampler_set_seed(sampler, 42);        // same bits on any thread count
 *     if (!st) st = pi_sampler_run(sampler, 1000, x);        // 1000 samples, 1000 × 2 floats
 *     if (!st) st = pi_likelihood_create(model, &lik);
 *     if (!st) st = pi_likelihood_nll(lik, 10, x, nll0, c1); // −log q⁰ and its ħ slope
 *     if (st)
 *         fprintf(stderr, "pathint: %s\n", pi_last_error());
 *     else
 *         printf("NLL at hbar 0.5 ~ %.3f\n", nll0[0] - 0.5 * c1[0]);
 *     pi_likelihood_destroy(lik);                             // destroy accepts NULL
 *     pi_sampler_destroy(sampler);
 *     pi_model_destroy(model);
 *     pi_sde_destroy(sde);
 *     return st != PI_OK;
 * }
 * @endcode
 *
 * Conventions, the same for every function:
 * - Handles are opaque: ::pi_sde_t, ::pi_model_t, ::pi_sampler_t, ::pi_likelihood_t,
 *   ::pi_trainer_t.
 * - Every fallible function returns a ::pi_status (0 = #PI_OK, negative = error)
 *   and delivers results through out-parameters, last. On failure the out-parameters
 *   and every caller-owned buffer are left untouched unless the function documents
 *   otherwise, and pi_last_error() describes the failure, naming the argument.
 * - Arguments come in one order: the handle, options that select what (view, mode),
 *   sizes, inputs, outputs. Arrays whose length follows from the sizes passed
 *   (n × dim) are exact; arrays whose length the library decides (times, parameters)
 *   take a capacity and report the count.
 * - Point arrays are row-major `n × dim` `float`; times and scalars are `double`;
 *   sizes are `size_t`; seeds are `uint64_t`; flags are `int` 0 or 1.
 * - Every enum starts at 1 (0 is never valid) and its constants carry the enum's name
 *   (::pi_method → PI_METHOD_*).
 * - Every option has a setter `pi_X_set_Y` and a getter `pi_X_get_Y`; its default and
 *   range are in one table, queryable with pi_option_info(). There is no "use the
 *   default" sentinel value.
 * - Long work (sampler, likelihood, trainer) reports progress through a per-handle
 *   callback and can be canceled from another thread (pi_X_cancel()).
 * - Destroy functions accept NULL.
 * - The library copies what it keeps; what it borrows is stated per function.
 * - Loaders (models, safetensors, checkpoints, data) read regular files only: a device,
 *   FIFO or directory is refused with #PI_EIO before anything is read.
 * - Saves (models, safetensors, checkpoints, data) are atomic: they write
 *   `.<name>.pathint.tmp.XXXXXX` next to the final target (symbolic links are followed),
 *   fsync it and rename it over the target, so a failed or killed save leaves the old
 *   file intact. The new file keeps the old file's permission bits, or gets
 *   0666 & ~umask like fopen() when new; a target that is not a regular file is refused
 *   with #PI_EIO. The temporary of a killed save is removed by the next save of the same
 *   target (a live save holds a flock() on its own). A name too long for a temporary
 *   name within NAME_MAX uses a prefix of it and a hash of the whole name.
 * - No global mutable state: everything lives in handles, except the per-thread
 *   message returned by pi_last_error().
 */
#ifndef PATHINT_H
#define PATHINT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup version Version
 *  @{ */
#define PI_VERSION_MAJOR 1 /**< Incremented on incompatible ABI changes (with the SONAME). */
#define PI_VERSION_MINOR 2 /**< Incremented when functions are added. */
#define PI_VERSION_PATCH 0 /**< Incremented for fixes. */
/** The version as one number: major * 10000 + minor * 100 + patch. */
#define PI_VERSION_NUMBER (PI_VERSION_MAJOR * 10000 + PI_VERSION_MINOR * 100 + PI_VERSION_PATCH)
/** The version as a string "major.minor.patch". */
#define PI_VERSION_STRING "1.2.0"
/** @} */

#ifndef PI_API
#if defined(_WIN32) || defined(__CYGWIN__)
#if defined(PI_BUILDING_LIBRARY)
#define PI_API __declspec(dllexport)
#elif defined(PI_STATIC)
#define PI_API
#else
#define PI_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define PI_API __attribute__((visibility("default")))
#else
#define PI_API
#endif
#endif

/** @defgroup status Status codes and errors
 *  @{ */

/**
 * X-macro list of every status code: name, value, message. Values are explicit
 * and never reused.
 */
#define PI_STATUS_LIST(X)                                                      \
    X(PI_OK, 0, "ok")                                                          \
    X(PI_EINVAL, -1, "invalid argument")                                       \
    X(PI_ENOMEM, -2, "out of memory")                                          \
    X(PI_EUNSUPPORTED, -3, "operation not supported by this object")          \
    X(PI_EIO, -4, "input/output error")                                        \
    X(PI_EFORMAT, -5, "malformed, corrupt or unsupported file")                \
    X(PI_ECALLBACK, -6, "a host callback reported failure")                    \
    X(PI_ECANCELED, -7, "the operation was canceled")                          \
    X(PI_ENUMERIC, -8, "numerical failure (non-finite value or divergence)")   \
    X(PI_ENOCONVERGE, -9, "solver did not converge (step size underflow or step limit)") \
    X(PI_EMISMATCH, -10, "objects do not match (dimension, SDE or shape)")   \
    X(PI_EBUSY, -11, "the handle is busy with another call")

#if defined(PI_DOXYGEN)
/** Status codes (generated from #PI_STATUS_LIST; listed here for the documentation). */
enum pi_status_code {
    PI_OK = 0,             /**< ok */
    PI_EINVAL = -1,        /**< invalid argument */
    PI_ENOMEM = -2,        /**< out of memory */
    PI_EUNSUPPORTED = -3,  /**< operation not supported by this object */
    PI_EIO = -4,           /**< input/output error */
    PI_EFORMAT = -5,       /**< malformed, corrupt or unsupported file */
    PI_ECALLBACK = -6,     /**< a host callback reported failure */
    PI_ECANCELED = -7,     /**< the operation was canceled */
    PI_ENUMERIC = -8,      /**< numerical failure (non-finite value or divergence) */
    PI_ENOCONVERGE = -9,   /**< solver did not converge (step size underflow or step limit) */
    PI_EMISMATCH = -10,    /**< objects do not match (dimension, SDE or shape) */
    PI_EBUSY = -11         /**< the handle is busy with another call: a second sampler run,
                                likelihood computation or training call on one handle while
                                the first is in progress (another thread, or a callback) */
};
#else
enum pi_status_code {
#define PI_STATUS_ENUM_(name, value, message) name = value,
    PI_STATUS_LIST(PI_STATUS_ENUM_)
#undef PI_STATUS_ENUM_
};
#endif

/** Return type of every fallible function: #PI_OK or a negative code. */
typedef int pi_status;

/**
 * Static description of a status code.
 * @param[in] status Any value.
 * @return A static string; "unknown status" for values not in the list.
 * @threadsafety Safe.
 */
PI_API const char *pi_status_string(pi_status status);

/**
 * The calling thread's detailed message for its most recent failure, for
 * example "hbar must be >= 0, got -1". Successful calls do not clear it.
 * @return A thread-local string, valid until the thread's next failing call;
 *         "" if the thread has not failed yet.
 * @threadsafety Safe: each thread has its own message.
 */
PI_API const char *pi_last_error(void);

/**
 * Release memory that pathint allocated on the caller's behalf (for example
 * by pi_data_load()). NULL is ignored.
 * @param[in] ptr Memory returned by pathint, or NULL.
 */
PI_API void pi_free(void *ptr);
/** @} */

/** @addtogroup version
 *  @{ */
/** @return PI_VERSION_NUMBER of the library actually linked. */
PI_API unsigned pi_version_number(void);
/** @return PI_VERSION_STRING of the library actually linked (static string). */
PI_API const char *pi_version_string(void);

/**
 * @name What this process runs
 * BLIS picks one kernel set per process, once, when it initialises. When libpathint is
 * loaded on a CPU with AVX-512 (F, DQ, BW, VL, and an OS that saves the ZMM registers, checked
 * with CPUID and XGETBV) and a BLIS build that carries AVX-512 kernels, pathint asks BLIS for
 * its "skx" kernels, whatever BLIS would detect (Debian 12's BLIS 0.9 falls back to AVX2 or
 * generic kernels on CPUs newer than it); on a CPU with AVX2 and FMA but no AVX-512, where
 * BLIS 0.9's own rules would pick kernels narrower than AVX2 (generic: a vendor or CPU family
 * newer than BLIS), it asks for "haswell" if the build has it. It sets BLIS_ARCH_TYPE, initialises BLIS and
 * removes the variable again, all inside the library's load-time constructor. It never does
 * so when the user set BLIS_ARCH_TYPE (that choice wins), nor when the environment variable
 * PATHINT_BLIS_ARCH is set to anything but "auto" (spell it "detected" to keep BLIS's own
 * detection). The choice is process-wide: a host that calls BLIS itself runs the same
 * kernels; a host that initialised BLIS before loading pathint keeps its own choice
 * (pi_blis_kernel_choice() then says "host"). See docs/embedding.md, "BLIS kernels".
 * @{
 */
/** @return BLIS's version string, for example "0.9.0" (static). @threadsafety Safe. */
PI_API const char *pi_blis_version(void);
/** @return The name of the BLIS sub-configuration (kernel set) this process runs, for example
 *  "skx", "haswell", "zen3" or "generic" (static); initialises BLIS if nothing has.
 *  @threadsafety Safe. */
PI_API const char *pi_blis_kernels(void);
/** How pi_blis_kernels() was chosen (static): "pathint" (pathint asked for the AVX-512
 *  or AVX2 kernels at load), "environment" (the user's BLIS_ARCH_TYPE), "detected" (BLIS's own CPU
 *  detection: PATHINT_BLIS_ARCH opted out, or pathint had nothing better to ask for) or "host"
 *  (BLIS was initialised before pathint was loaded and kept its first choice).
 *  @threadsafety Safe. */
PI_API const char *pi_blis_kernel_choice(void);
/** @return BLIS's threading model (static): "pthreads", "openmp" or "none". Each pathint
 *  handle passes its own thread count to BLIS per call. @threadsafety Safe. */
PI_API const char *pi_blis_threading(void);
/** The CPU's vector extensions, counted only when the OS also saves their registers: index 0
 *  to 8 gives "sse2", "sse4.1", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512bw",
 *  "avx512vl". @p name receives a static string, @p supported 1 or 0 (all 0 off x86).
 *  @return #PI_OK, #PI_EINVAL past the end or for a NULL pointer. @threadsafety Safe. */
PI_API pi_status pi_cpu_feature_at(size_t index, const char **name, int *supported);
/** @return The CPUs this process may run on (its affinity mask; at least 1): the most
 *  threads worth giving pi_sampler_set_threads() and friends. @threadsafety Safe. */
PI_API unsigned pi_cpu_count(void);
/** @} */
/** @} */

/** @defgroup handles Opaque handles
 *  @{ */
typedef struct pi_sde pi_sde_t;         /**< A forward SDE. Immutable once shared. */
typedef struct pi_model pi_model_t;     /**< A score model bound to an SDE. */
typedef struct pi_sampler pi_sampler_t; /**< An ħ-family sampler over a model. */
typedef struct pi_likelihood pi_likelihood_t; /**< NLL₀ and its WKB slope over a model. */
typedef struct pi_trainer pi_trainer_t; /**< A denoising-score-matching trainer. */
/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup sde Forward SDEs
 * Linear forward SDEs dx = f(t) x dt + g(t) dw with marginal
 * p_t(x | x0) = N(α(t) x0, σ(t)² I) (docs/concepts.md).
 * @code
 * pi_sde_t *sde;
 * pi_sde_create(PI_SDE_KIND_VP_LINEAR, &sde);             // β from 0.1 to 20, t in [1e-3, 1]
 * pi_sde_set_param(sde, PI_SDE_PARAM_T_MIN, 0.01);
 * double alpha, sigma;
 * pi_sde_marginal(sde, 0.5, &alpha, &sigma);              // x_t = α x_0 + σ z
 * pi_sde_destroy(sde);                                    // models keep their own copy
 * @endcode
 *
 * @threadsafety A ::pi_sde_t may be shared between threads once its
 * parameters are set; setters must not race with any other use.
 *  @{ */

/** The built-in SDE kinds. */
typedef enum pi_sde_kind {
    PI_SDE_KIND_VP_LINEAR = 1, /**< VP, β(t) linear from β_min to β_max (defaults 0.1, 20; t ∈ [1e-3, 1]). */
    PI_SDE_KIND_VP_COSINE = 2, /**< VP cosine schedule (Nichol & Dhariwal), s = 0.008, t ∈ [1e-3, 1 − 1e-3]. */
    PI_SDE_KIND_SUBVP = 3,     /**< sub-VP (Song et al. 2021), same β as VP linear. */
    PI_SDE_KIND_VE = 4,        /**< Variance exploding, σ from σ_min = 0.01 to σ_max = 50, t ∈ [1e-5, 1]. */
    PI_SDE_KIND_EDM = 5,       /**< EDM (Karras et al. 2022): α = 1, σ = t ∈ [0.002, 80]. */
    PI_SDE_KIND_CUSTOM = 6,    /**< Host callbacks (pi_sde_create_custom()). */
    PI_SDE_KIND_RECTIFIED_FLOW = 7, /**< Rectified flow / flow matching (SD3, Flux): α = 1 − t,
                                     *   σ = t, prior N(0, I); t ∈ [1e-3, 1 − 1e-3] (t_max < 1
                                     *   keeps λ = log(α/σ) finite; docs/samplers.md). */
    PI_SDE_KIND_DISCRETE = 8   /**< Discrete-time VP from a table of ᾱ (DDPM/LDM):
                                *   pi_sde_create_discrete() or pi_sde_create_beta_schedule(). */
} pi_sde_kind;

/** Parameters of the built-in SDEs (pi_sde_set_param()). */
typedef enum pi_sde_param {
    PI_SDE_PARAM_BETA_MIN = 1,  /**< VP linear / sub-VP: β(0), >= 0. */
    PI_SDE_PARAM_BETA_MAX = 2,  /**< VP linear / sub-VP: β(1), > β_min. */
    PI_SDE_PARAM_COSINE_S = 3,  /**< VP cosine: offset s >= 0. */
    PI_SDE_PARAM_SIGMA_MIN = 4, /**< VE / EDM: smallest σ, > 0. */
    PI_SDE_PARAM_SIGMA_MAX = 5, /**< VE / EDM: largest σ, > σ_min. */
    PI_SDE_PARAM_T_MIN = 6,     /**< Data end of the time range (all kinds but EDM, where t = σ). */
    PI_SDE_PARAM_T_MAX = 7      /**< Noise end T of the time range. */
} pi_sde_param;

/**
 * Host callback giving the marginal coefficients of a custom SDE.
 * @param[in] t Time.
 * @param[out] alpha α(t) > 0.
 * @param[out] sigma σ(t) >= 0.
 * @param[out] dalpha α'(t).
 * @param[out] dsigma σ'(t).
 * @param[in] user_data As given to pi_sde_create_custom().
 * @return 0 on success, nonzero to report failure (#PI_ECALLBACK).
 */
typedef int (*pi_sde_marginal_fn)(double t, double *alpha, double *sigma,
                                  double *dalpha, double *dsigma, void *user_data);

/**
 * Host callback giving the drift and diffusion coefficients f(t), g(t) of a
 * custom SDE; α and σ are then integrated numerically from t = 0 (α = 1, σ = 0).
 * @return 0 on success, nonzero to report failure (#PI_ECALLBACK).
 */
typedef int (*pi_sde_coefficient_fn)(double t, double *f, double *g, void *user_data);

/**
 * Create a built-in SDE with the defaults listed with ::pi_sde_kind.
 * @param[in] kind One of the built-in kinds (not #PI_SDE_KIND_CUSTOM).
 * @param[out] out The new SDE; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_sde_create(pi_sde_kind kind, pi_sde_t **out);

/**
 * Create an SDE from host callbacks. Give either @p marginal (preferred) or
 * @p coefficients (then α, σ are computed by quadrature). The prior is
 * N(0, σ(t_max)² I).
 * @param[in] t_min Data end of the time range, >= 0.
 * @param[in] t_max Noise end, > t_min.
 * @param[in] marginal α, σ and derivatives, or NULL.
 * @param[in] coefficients f and g, or NULL (exactly one of the two).
 * @param[in] user_data Borrowed; passed to the callbacks; must outlive the SDE
 *            and every model made from it.
 * @param[out] out The new SDE.
 * @return #PI_OK, #PI_EINVAL, #PI_ECALLBACK (the callback failed at a probe time), #PI_ENOMEM.
 */
PI_API pi_status pi_sde_create_custom(double t_min, double t_max, pi_sde_marginal_fn marginal,
                                      pi_sde_coefficient_fn coefficients, void *user_data,
                                      pi_sde_t **out);

/**
 * Create a discrete-time SDE (DDPM/LDM: SD 1.x/2.x, SDXL) from the table of ᾱ
 * (diffusers' `alphas_cumprod`) over N training steps. Training step τ = i has
 * α = √ᾱ_i, σ = √(1 − ᾱ_i) at t = (i + 1)/N, so t ∈ [1/N, 1] covers the table
 * (the default range). Between the nodes log σ̃² = −log SNR is a monotone cubic
 * (Fritsch–Carlson) in t; below 1/N σ̃ falls linearly to 0 at t = 0
 * (docs/samplers.md). The SDE is VP (α² + σ² = 1), prior N(0, I).
 * @param[in] alphas_cumprod N values in (0, 1), strictly decreasing; the last may be 0
 *            (zero terminal SNR: read as 2^-24, as diffusers does). Copied.
 * @param[in] n N >= 2, at most 2^20.
 * @param[out] out The new SDE; untouched on failure.
 * @return #PI_OK, #PI_EINVAL (NULL, n < 2, NaN, out of range or not decreasing), #PI_ENOMEM.
 */
PI_API pi_status pi_sde_create_discrete(const double *alphas_cumprod, size_t n, pi_sde_t **out);

/** The β schedules of DDPM-style training (pi_sde_create_beta_schedule()), as diffusers names them. */
typedef enum pi_beta_schedule {
    PI_BETA_SCHEDULE_LINEAR = 1,        /**< β linear from beta_start to beta_end (DDPM: 1e-4, 0.02). */
    PI_BETA_SCHEDULE_SCALED_LINEAR = 2, /**< √β linear (Stable Diffusion: 0.00085, 0.012 over 1000). */
    PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2 = 3 /**< Nichol & Dhariwal's cosine ᾱ, β capped at 0.999
                                             *   (beta_start, beta_end ignored). */
} pi_beta_schedule;

/** Flag of pi_sde_create_beta_schedule(): rescale to zero terminal SNR (Lin et al. 2024,
 *  diffusers' rescale_zero_terminal_snr): √ᾱ shifted and scaled so that √ᾱ_0 is kept and
 *  ᾱ_{N−1} = 0. */
#define PI_BETA_FLAG_ZERO_TERMINAL_SNR 1u

/**
 * Create a discrete SDE from a named β schedule: ᾱ_i = Π_{k<=i} (1 − β_k), then as
 * pi_sde_create_discrete().
 * @param[in] schedule A ::pi_beta_schedule.
 * @param[in] n Training steps N, 2 to 2^20 (hosts: 1000).
 * @param[in] beta_start β_0, in (0, 1) (ignored by #PI_BETA_SCHEDULE_SQUAREDCOS_CAP_V2).
 * @param[in] beta_end β_{N−1}, in [beta_start, 1) (ignored likewise).
 * @param[in] flags 0 or #PI_BETA_FLAG_ZERO_TERMINAL_SNR.
 * @param[out] out The new SDE; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_sde_create_beta_schedule(pi_beta_schedule schedule, size_t n,
                                             double beta_start, double beta_end, unsigned flags,
                                             pi_sde_t **out);

/**
 * The ᾱ table of a discrete SDE, as given (a zero terminal entry stays 0).
 * @param[in] sde A #PI_SDE_KIND_DISCRETE SDE.
 * @param[in] capacity Doubles @p alphas_cumprod holds (0 with NULL to query the count).
 * @param[out] alphas_cumprod The table, or NULL.
 * @param[out] count N.
 * @return #PI_OK, #PI_EINVAL (not discrete, or capacity < N with a non-NULL buffer).
 */
PI_API pi_status pi_sde_get_alphas_cumprod(const pi_sde_t *sde, size_t capacity,
                                           double *alphas_cumprod, size_t *count);

/**
 * The host's training timestep at pathint's time t: τ = tN − 1 on a discrete SDE (τ = i at
 * table entry i, fractional between), τ = 1000 t on rectified flow (SD3/Flux pipelines pass
 * 1000 σ). A callback model receives t; this gives what the host network was trained on.
 * @return #PI_OK, #PI_EINVAL (other kinds, t outside [0, t_max]).
 */
PI_API pi_status pi_sde_timestep_from_time(const pi_sde_t *sde, double t, double *timestep);
/** Inverse of pi_sde_timestep_from_time(). @return #PI_OK, #PI_EINVAL (other kinds, or a
 *  timestep whose t falls outside [0, t_max]). */
PI_API pi_status pi_sde_time_from_timestep(const pi_sde_t *sde, double timestep, double *t);

/** How hosts pick S of the N training timesteps (diffusers' `timestep_spacing`). */
typedef enum pi_timestep_spacing {
    PI_TIMESTEP_SPACING_LEADING = 1,  /**< τ_k = k·⌊N/S⌋ + offset, k = S−1 .. 0 (SD 1.x: offset 1). */
    PI_TIMESTEP_SPACING_TRAILING = 2, /**< τ_k = round(N − k·N/S) − 1, k = 0 .. S−1 (zero-SNR models). */
    PI_TIMESTEP_SPACING_LINSPACE = 3  /**< τ = round(linspace(N − 1, 0, S)). */
} pi_timestep_spacing;

/**
 * The sampler times of a discrete SDE for S steps in a host's spacing: t = (τ + 1)/N for
 * each selected training timestep, from the largest down, then t = 1/N (τ = 0, the final
 * ᾱ_0 of DDIM with set_alpha_to_one = false) unless the last τ is already 0. Give the array
 * to pi_sampler_set_times() (with pi_sampler_set_denoise_final() for the x₀ prediction).
 * @param[in] sde A discrete SDE whose range holds the times.
 * @param[in] spacing A ::pi_timestep_spacing.
 * @param[in] steps S, 1 to N.
 * @param[in] steps_offset Added to every τ by #PI_TIMESTEP_SPACING_LEADING (diffusers'
 *            `steps_offset`); must be 0 for the others.
 * @param[in] capacity Doubles @p times holds (>= S + 1).
 * @param[out] times Strictly decreasing times.
 * @param[out] count The number written (S + 1, or S when the last τ is 0).
 * @return #PI_OK, #PI_EINVAL (not discrete; S out of range; a τ outside [0, N − 1] or times
 *         outside the SDE's range or not decreasing; capacity too small), nothing written.
 */
PI_API pi_status pi_sde_discrete_times(const pi_sde_t *sde, pi_timestep_spacing spacing,
                                       size_t steps, size_t steps_offset, size_t capacity,
                                       double *times, size_t *count);

/**
 * Shift a time array as flow-matching hosts do, on any SDE: in the rectified-flow time
 * σ_rf = σ̃/(1 + σ̃) of the same SNR, σ_rf ↦ s σ_rf/(1 + (s − 1) σ_rf), which is σ̃ ↦ s σ̃.
 * Times whose shifted σ̃ passes σ̃(t_max) become t_max; t = 0 stays 0.
 * @param[in] sde The SDE.
 * @param[in] shift s > 0, finite (1: no change; SD3: 3).
 * @param[in] count Entries of @p times, >= 1.
 * @param[in,out] times Strictly decreasing times in [0, t_max]; shifted in place.
 * @return #PI_OK, #PI_EINVAL (bad shift, times, or a result that is not strictly decreasing
 *         after the clamp: @p times unchanged), #PI_ECALLBACK (custom SDE).
 */
PI_API pi_status pi_sde_shift_times(const pi_sde_t *sde, double shift, size_t count,
                                    double *times);

/**
 * The resolution-dependent shift of SD3/Flux hosts: μ linear in the sequence length L
 * (image tokens) through (base_seq_len, base_shift) and (max_seq_len, max_shift), and
 * s = e^μ, so that pi_sde_shift_times() with s is σ ↦ e^μ/(e^μ + (1/σ − 1)) (diffusers'
 * use_dynamic_shifting; defaults there: 256, 4096, 0.5, 1.15).
 * @param[in] seq_len L > 0.
 * @param[in] base_seq_len Must differ from @p max_seq_len; both > 0.
 * @param[in] max_seq_len
 * @param[in] base_shift μ at base_seq_len (finite).
 * @param[in] max_shift μ at max_seq_len (finite).
 * @param[out] shift s = e^μ.
 * @return #PI_OK, #PI_EINVAL (non-finite or non-positive lengths, equal lengths, s not finite).
 */
PI_API pi_status pi_shift_from_sequence_length(double seq_len, double base_seq_len,
                                               double max_seq_len, double base_shift,
                                               double max_shift, double *shift);

/** Named parameter sets of the built-in SDEs (pi_sde_create_preset()). */
typedef enum pi_sde_preset {
    PI_SDE_PRESET_SIMPLE = 1, /**< Hirono et al.'s SIMPLE: VP linear, β 0 → 20, t ∈ [0.01, 1]. */
    PI_SDE_PRESET_COSINE = 2  /**< Hirono et al.'s COSINE: VP cosine, s = 0, t ∈ [0.01, 1 − 1e-3]. */
} pi_sde_preset;
/** Create the SDE of a preset; @p out untouched on failure. @return #PI_OK, #PI_EINVAL, #PI_ENOMEM. */
PI_API pi_status pi_sde_create_preset(pi_sde_preset preset, pi_sde_t **out);
/** Create an SDE by name, exact and case-sensitive: a built-in kind with its defaults ("vp",
 *  "vp-cosine", "subvp", "ve", "edm", "rectified_flow") or a preset ("simple", "cosine"); @p out untouched on
 *  failure. @return #PI_OK, #PI_EINVAL (the message lists the names), #PI_ENOMEM. */
PI_API pi_status pi_sde_create_named(const char *name, pi_sde_t **out);
/** The names pi_sde_create_named() accepts, for listings: index 0 to 7 gives "vp", "vp-cosine",
 *  "subvp", "ve", "edm", "simple", "cosine" (kinds, then presets, in enum order), then
 *  "rectified_flow" (added in 1.1, after the presets so old indices keep their names). @p name and
 *  @p description (may be NULL) receive static strings. @return #PI_OK, #PI_EINVAL past the
 *  end or for a NULL @p name. */
PI_API pi_status pi_sde_name_at(size_t index, const char **name, const char **description);

/** Destroy an SDE. NULL is ignored. Models keep their own copy. */
PI_API void pi_sde_destroy(pi_sde_t *sde);

/** Copy an SDE (custom SDEs share the borrowed user_data). */
PI_API pi_status pi_sde_clone(const pi_sde_t *sde, pi_sde_t **out);

/** The kind of an SDE. */
PI_API pi_status pi_sde_get_kind(const pi_sde_t *sde, pi_sde_kind *out);

/**
 * Set a parameter, validated against the others (e.g. β_min < β_max); set
 * the larger bound first when moving a range upward.
 * @return #PI_OK, #PI_EINVAL (unknown parameter for this kind, NaN, out of range).
 */
PI_API pi_status pi_sde_set_param(pi_sde_t *sde, pi_sde_param param, double value);

/** Read a parameter. @return #PI_OK or #PI_EINVAL for a parameter the kind lacks. */
PI_API pi_status pi_sde_get_param(const pi_sde_t *sde, pi_sde_param param, double *out);

/** The time range [t_min, T]. Either pointer may be NULL. */
PI_API pi_status pi_sde_time_range(const pi_sde_t *sde, double *t_min, double *t_max);

/**
 * Marginal coefficients at time t: x_t = α x_0 + σ z.
 * @param[in] sde The SDE.
 * @param[in] t Any finite t in [0, T] (t = 0 gives α = 1 and σ = 0, except VE where σ(0) = σ_min).
 * @param[out] alpha May be NULL.
 * @param[out] sigma May be NULL.
 */
PI_API pi_status pi_sde_marginal(const pi_sde_t *sde, double t, double *alpha, double *sigma);

/** Drift coefficient f(t) = α'/α and diffusion g(t) = sqrt((σ²)' − 2fσ²). Either may be NULL. */
PI_API pi_status pi_sde_coefficients(const pi_sde_t *sde, double t, double *f, double *g);

/** Scaled noise level σ̃ = σ/α and half log-SNR λ = −log σ̃ at t. Either may be NULL. */
PI_API pi_status pi_sde_sigma_tilde(const pi_sde_t *sde, double t, double *sigma_tilde,
                                    double *lambda);

/**
 * Inverse of σ̃(t): the t in the SDE's range [0, T] with σ̃(t) = sigma_tilde,
 * to full double precision (closed form or safeguarded Newton).
 * @return #PI_OK, #PI_EINVAL if sigma_tilde is outside σ̃([0, T]).
 */
PI_API pi_status pi_sde_time_from_sigma_tilde(const pi_sde_t *sde, double sigma_tilde,
                                              double *t);

/** The prior standard deviation (1 for the VP family, σ(T) otherwise). */
PI_API pi_status pi_sde_prior_std(const pi_sde_t *sde, double *std);

/**
 * Draw n prior samples N(0, prior_std² I). Row i depends only on (seed, i):
 * the same seed gives the same rows whatever n.
 * @param[in] sde The SDE.
 * @param[in] n Number of rows, >= 1.
 * @param[in] dim Dimension, >= 1.
 * @param[in] seed Seed (Philox key).
 * @param[out] out n × dim floats.
 * @return #PI_OK, #PI_EINVAL.
 */
PI_API pi_status pi_sde_prior_sample(const pi_sde_t *sde, size_t n, size_t dim, uint64_t seed,
                                     float *out);

/**
 * Prior log-density (nats) of n points of dimension dim.
 * @param[in] sde The SDE.
 * @param[in] n Number of rows, >= 1.
 * @param[in] dim Dimension, >= 1.
 * @param[in] x n × dim finite points.
 * @param[out] out n doubles.
 * @return #PI_OK, #PI_EINVAL (a non-finite coordinate: the message names its row).
 */
PI_API pi_status pi_sde_prior_logpdf(const pi_sde_t *sde, size_t n, size_t dim, const float *x,
                                     double *out);
/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup model Score models
 * A ::pi_model_t is a score model bound to a copy of an SDE. Four views of
 * one model (docs/concepts.md): score s = ∇log p_t, noise ε = −σ s, denoiser
 * D = (x + σ² s)/α, velocity v = α ε − σ D.
 * @code
 * pi_model_t *model;
 * pi_model_create_mlp(sde, 2, 128, 3, &model);            // or _gmm, _empirical, _callback
 * pi_model_mlp_set_preconditioning(model, PI_PRECOND_INPUT, 1.0);
 * pi_model_eval_at(model, PI_VIEW_DENOISED, n, x, 0.5, out);  // any view, any kind
 * pi_model_save(model, "model.pim");                      // pi_model_load() reads it back
 * pi_model_destroy(model);
 * @endcode
 *
 * @threadsafety Immutable after creation and configuration; may be shared by
 * any number of threads (samplers, likelihood). A trainer mutates its model:
 * do not sample from a model while it is being trained.
 *  @{ */

/** The four views of a model's output. */
typedef enum pi_view {
    PI_VIEW_SCORE = 1,    /**< s = ∇log p_t(x). */
    PI_VIEW_EPS = 2,      /**< ε = −σ s. */
    PI_VIEW_DENOISED = 3, /**< D = (x + σ² s)/α. */
    PI_VIEW_V = 4,        /**< v = α ε − σ D. */
    PI_VIEW_FLOW = 5      /**< Flow velocity u = α' D + σ' ε = f x − ½ g² s, the dx/dt of the
                           *   conditional interpolant (flow matching; ε − x₀ on rectified flow). */
} pi_view;

/** Model kinds. */
typedef enum pi_model_kind {
    PI_MODEL_KIND_GMM = 1,       /**< Exact Gaussian mixture. */
    PI_MODEL_KIND_EMPIRICAL = 2, /**< Empirical optimal denoiser of a data set. */
    PI_MODEL_KIND_MLP = 3,       /**< Trainable MLP. */
    PI_MODEL_KIND_CALLBACK = 4   /**< Host callback. */
} pi_model_kind;

/** How a divergence ∇·s is computed. */
typedef enum pi_divergence {
    PI_DIVERGENCE_EXACT = 1,                /**< Exact (closed form or d forward-mode products). */
    PI_DIVERGENCE_HUTCHINSON_RADEMACHER = 2, /**< Hutchinson estimator, Rademacher probes. */
    PI_DIVERGENCE_HUTCHINSON_GAUSSIAN = 3   /**< Hutchinson estimator, Gaussian probes. */
} pi_divergence;

/** Noise-level embedding of the MLP. */
typedef enum pi_embedding {
    PI_EMBEDDING_LOG_SIGMA = 1, /**< Sinusoidal features of log σ̃(t) (default). */
    PI_EMBEDDING_TIME = 2       /**< Sinusoidal features of t. */
} pi_embedding;

/** How an MLP's input and output are scaled with the noise level
 *  (pi_model_mlp_set_preconditioning(); q = σ̃² + σ_data²). */
typedef enum pi_precond {
    PI_PRECOND_NONE = 1,  /**< Input x̃ = x/α, output the chosen view (default). */
    PI_PRECOND_EDM = 2,   /**< Input x̃/√q, output D = c_skip x̃ + c_out F (Karras et al.). */
    PI_PRECOND_INPUT = 3  /**< Input x̃/√q, output the chosen view unscaled. For a VP SDE
                               with σ_data = 1 the input is x itself (DDPM's
                               parametrisation). */
} pi_precond;

/**
 * Host score function, batched.
 * @param[in] n Rows (the library may pass batches of stencil points when it
 *            differentiates the callback).
 * @param[in] dim Dimension.
 * @param[in] x n × dim points.
 * @param[in] t n times (one per row).
 * @param[out] out n × dim values in the view declared at creation; they must
 *             be finite (a non-finite value gives #PI_ENUMERIC).
 * @param[in] user_data As given at creation.
 * @return 0 on success; nonzero aborts the calling run with #PI_ECALLBACK.
 * @threadsafety One library call never calls it from two threads at once,
 * but a model shared by several threads (e.g. samplers running concurrently)
 * calls it concurrently, so it must then be reentrant.
 */
typedef int (*pi_model_fn)(size_t n, size_t dim, const float *x, const double *t, float *out,
                           void *user_data);

/**
 * Exact Gaussian mixture Σ_k w_k N(μ_k, diag(v_k)); its score at any t is
 * that of the diffused mixture Σ_k w_k N(α μ_k, α² v_k + σ²). Score, log-density
 * and all derivatives are closed form and log-sum-exp stable (far points and
 * tiny σ give finite values). Zero variances are allowed; such a component is
 * singular at σ(t) = 0, where evaluation fails with #PI_EINVAL. Accuracy of the
 * batched float evaluation: the log-sum-exp and the score are computed in double
 * (components in blocks of 8 lanes, exp within 5e-16 relative) and rounded to
 * float once, so each output is within one float ulp of pi_model_score_d();
 * AVX-512, AVX2 and baseline CPUs give the same bits. Mixtures with k·dim > 2^16
 * and dim <= 2^12 are evaluated through BLIS dgemm (the quadratic forms expanded, the softmax as
 * an online log-sum-exp in double over blocks of components): each log-weight is
 * within 2^-30 of the direct formula's (rows where the expansion could cancel
 * more take the direct formula), the output within 1e-6·max(1, |s|) of
 * pi_model_score_d() (tested; typically the same float), and the bits follow
 * BLIS's kernel set like every dense product (larger dimensions: the direct
 * formula, one row at a time).
 * @param[in] sde Copied; the caller may destroy it after the call.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] k Number of components, >= 1 (k·dim <= 2^40).
 * @param[in] weights k positive finite weights with a finite sum; they are
 *            normalised to sum 1 (so any positive scale is accepted; zero,
 *            negative or non-finite weights are rejected). Copied.
 * @param[in] means k × dim, finite. Copied.
 * @param[in] vars k × dim diagonal variances, finite and >= 0. Copied.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL (the message names the argument and index),
 *         #PI_ENOMEM.
 * @threadsafety Reentrant.
 */
PI_API pi_status pi_model_create_gmm(const pi_sde_t *sde, size_t dim, size_t k,
                                     const double *weights, const double *means,
                                     const double *vars, pi_model_t **out);

/**
 * The empirical optimal denoiser of a data set: the exact score of the
 * diffused empirical distribution (1/n) Σ_i N(α y_i, σ² I) (docs/concepts.md),
 * D*(x, t) = Σ_i w_i y_i with w = softmax(−‖x − α y_i‖²/(2σ²)). Batches are
 * evaluated as two BLIS GEMMs per data block plus a stable softmax, in
 * O(n·dim) per point and O(batch block · data block) memory; at σ(t) = 0 the
 * denoiser is the nearest data point. The log-density and derivatives need
 * σ(t) > 0.
 * @param[in] sde Copied.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] n Number of data points, >= 1 (n·dim <= 2^40).
 * @param[in] data n × dim, finite. Copied; the caller may free it after the call.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 * @threadsafety Reentrant.
 */
PI_API pi_status pi_model_create_empirical(const pi_sde_t *sde, size_t dim, size_t n,
                                           const float *data, pi_model_t **out);

/**
 * A trainable MLP: [x̃ (or c_in x̃), embedding] → hidden_layers × (Linear, SiLU)
 * → Linear → dim outputs (the exact definition is in
 * docs/safetensors.md). x̃ = x/α; the embedding is @c features sinusoidal
 * features of ln(σ̃)/4 (default) or of t. Parameters form one flat float
 * vector, layer by layer W (out × in, row-major, PyTorch's nn.Linear layout)
 * then b; see pi_model_get_params(). Weights are initialised from seed 0 like
 * PyTorch's nn.Linear (uniform in ±1/√in); call pi_model_mlp_init() for
 * another seed. Defaults: ε output, 16 log-σ̃ features, no preconditioning.
 * @param[in] sde Copied.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] hidden_width Width W, in [1, 65536].
 * @param[in] hidden_layers Number of hidden layers L, in [1, 1024].
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_model_create_mlp(const pi_sde_t *sde, size_t dim, size_t hidden_width,
                                     size_t hidden_layers, pi_model_t **out);

/**
 * Re-initialise an MLP's weights reproducibly from a seed (Philox; the same
 * seed gives the same weights on every machine).
 * @return #PI_OK; #PI_EINVAL for NULL; #PI_EUNSUPPORTED if @p model is not an MLP.
 */
PI_API pi_status pi_model_mlp_init(pi_model_t *model, uint64_t seed);
/**
 * The view the MLP's last layer predicts: #PI_VIEW_SCORE, #PI_VIEW_EPS
 * or #PI_VIEW_DENOISED (default and range: ::pi_option). Ignored under #PI_PRECOND_EDM (the
 * network then predicts EDM's F and the model gives the denoiser).
 * @return #PI_OK; #PI_EINVAL for another view; #PI_EUNSUPPORTED if not an MLP.
 */
PI_API pi_status pi_model_mlp_set_output_view(pi_model_t *model, pi_view view);
/**
 * Noise embedding: kind and number of sinusoidal features (an even number;
 * defaults and ranges: ::pi_option). Changing the number of
 * features changes the first layer's shape: the weights are then
 * re-initialised from the last seed given to pi_model_mlp_init() (0 if none).
 * @return #PI_OK; #PI_EINVAL for a bad kind or count; #PI_EUNSUPPORTED if not an MLP.
 */
PI_API pi_status pi_model_mlp_set_embedding(pi_model_t *model, pi_embedding kind,
                                            size_t features);
/**
 * Input and output scaling (::pi_precond; defaults and ranges: ::pi_option).
 * With q = σ̃² + σ_data²: #PI_PRECOND_EDM gives the denoiser
 * D = c_skip x̃ + c_out F(c_in x̃), c_skip = σ_data²/q, c_out = σ̃ σ_data/√q,
 * c_in = 1/√q; #PI_PRECOND_INPUT feeds c_in x̃ and keeps the output view of
 * pi_model_mlp_set_output_view(); #PI_PRECOND_NONE feeds x̃ = x/α, which grows
 * like 1/α(T) at the prior end (≈ 150 for VP β_max = 20) and makes the
 * network's x-derivatives, hence the WKB coefficient c1, noisy. Both scaled
 * modes keep every input at unit scale for σ_data near the data's standard
 * deviation per coordinate. With #PI_PRECOND_EDM and σ_data equal to it, the
 * untrained model (F ≈ 0) is the best Gaussian fit, a saddle of the loss that
 * multimodal data may never leave (25 Gaussians, σ_data = 1); half of it
 * (0.5 there) trains. σ_data is validated even for #PI_PRECOND_NONE.
 * @param[in,out] model An MLP model.
 * @param[in] mode A ::pi_precond value.
 * @param[in] sigma_data σ_data > 0.
 * @return #PI_OK; #PI_EINVAL for a bad value; #PI_EUNSUPPORTED if not an MLP.
 */
PI_API pi_status pi_model_mlp_set_preconditioning(pi_model_t *model, pi_precond mode,
                                                  double sigma_data);
/** Read back the preconditioning mode and σ_data; either pointer may be NULL.
 *  @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED if not an MLP. */
PI_API pi_status pi_model_mlp_get_preconditioning(const pi_model_t *model, pi_precond *mode,
                                                  double *sigma_data);
/** Read back the output view. @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED if not an MLP. */
PI_API pi_status pi_model_mlp_get_output_view(const pi_model_t *model, pi_view *view);
/** Read back the embedding kind and feature count; either pointer may be NULL.
 *  @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED if not an MLP. */
PI_API pi_status pi_model_mlp_get_embedding(const pi_model_t *model, pi_embedding *kind,
                                            size_t *features);
/** The hidden width and number of hidden layers given at creation; either pointer may be NULL.
 *  @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED if not an MLP. */
PI_API pi_status pi_model_mlp_get_shape(const pi_model_t *model, size_t *hidden_width,
                                        size_t *hidden_layers);

/**
 * A model backed by a host function in a declared view (score, ε, denoiser
 * or v; the library converts to any view). Derivatives for the likelihood are
 * central finite differences of the callback, each stencil evaluated as one
 * batched call: Jacobian, Jacobian-vector products and divergence to about
 * 1e-4 relative, Hessians and ∇(∇·s) to about 1e-3 (the callback sees float
 * points); ∇∇(∇·s) and the log-density are #PI_EUNSUPPORTED. A callback model
 * cannot be saved to a file.
 * @param[in] sde Copied.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] view The view @p fn returns (#PI_VIEW_SCORE .. #PI_VIEW_FLOW).
 * @param[in] fn The host function; nonzero returns abort the calling
 *            operation with #PI_ECALLBACK.
 * @param[in] user_data Borrowed (may be NULL); must outlive the model.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_model_create_callback(const pi_sde_t *sde, size_t dim, pi_view view,
                                          pi_model_fn fn, void *user_data, pi_model_t **out);

/** The null condition: a row with this label asks a conditional model for its
 * unconditional prediction (docs/samplers.md, "Guidance"). */
#define PI_COND_NULL (-1)

/**
 * Host score function of a conditional model, batched (issue 15). It sees the
 * condition of every row; for guidance the sampler hands it ONE batch holding
 * the conditional rows and, after them, the same points with the null
 * condition (label #PI_COND_NULL, vector zero), never two calls.
 * @param[in] n Rows.
 * @param[in] dim Dimension.
 * @param[in] x n × dim points.
 * @param[in] t n times.
 * @param[in] labels n entries, never NULL: a class in [0, classes) (0 when the
 *            model has no classes), or #PI_COND_NULL for the null condition.
 * @param[in] cond_dim Condition-vector length (0: none).
 * @param[in] cond n × cond_dim condition vectors (NULL when cond_dim is 0);
 *            zero on rows the library made null.
 * @param[in] row_data n per-row pointers as given to
 *            pi_sampler_set_conditions() (a null row carries its conditional
 *            row's pointer), or NULL when none were given.
 * @param[out] out n × dim values in the declared view, finite.
 * @param[in] user_data As given at creation.
 * @return 0 on success; nonzero aborts the calling run with #PI_ECALLBACK.
 * @threadsafety As ::pi_model_fn.
 */
typedef int (*pi_model_cond_fn)(size_t n, size_t dim, const float *x, const double *t,
                                const int32_t *labels, size_t cond_dim, const float *cond,
                                void *const *row_data, float *out, void *user_data);

/**
 * An MLP that takes a condition (issue 15): k classes (a learned class
 * embedding) and/or a condition vector of length c, added to the time
 * embedding's projection in the first layer, and a null condition for
 * classifier-free guidance (docs/training.md, "Conditional networks"): the
 * first Linear layer has (k ? k + 1 : 0) + (c ? c + 1 : 0) more inputs,
 * one-hot(label, k + 1 with the null class last), then [c, 1] (or [0, 0] for
 * the null condition). Otherwise as pi_model_create_mlp(); the options of
 * pi_model_mlp_set_*() apply. Saved as model-file MLP payload version 2.
 * @param[in] sde Copied.
 * @param[in] dim Dimension.
 * @param[in] hidden_width,hidden_layers As pi_model_create_mlp().
 * @param[in] classes k in [0, 65536].
 * @param[in] cond_dim c in [0, 65536]; classes and cond_dim are not both 0.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_model_create_mlp_cond(const pi_sde_t *sde, size_t dim, size_t hidden_width,
                                          size_t hidden_layers, size_t classes, size_t cond_dim,
                                          pi_model_t **out);

/**
 * A conditional model backed by a host function (as
 * pi_model_create_callback(), whose rules it shares). Derivatives for the
 * likelihood and every evaluation without conditions use the null condition.
 * @param[in] sde Copied.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] view The view @p fn returns.
 * @param[in] classes Number of classes k (labels in [0, k)), in [0, 65536].
 * @param[in] cond_dim Condition-vector length, in [0, 65536]; classes and
 *            cond_dim are not both 0.
 * @param[in] unconditional 1 if @p fn accepts the null condition (needed
 *            for guidance), else 0.
 * @param[in] fn The host function.
 * @param[in] user_data Borrowed (may be NULL); must outlive the model.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */

PI_API pi_status pi_model_create_callback_cond(const pi_sde_t *sde, size_t dim, pi_view view,
                                               size_t classes, size_t cond_dim, int unconditional,
                                               pi_model_cond_fn fn, void *user_data,
                                               pi_model_t **out);

/**
 * Like pi_model_create_callback(), for a host network trained on its own timestep: @p fn
 * receives, in place of pathint's t, the training timestep τ of pi_sde_timestep_from_time()
 * (discrete SDE: τ = tN − 1, the table index, fractional between entries; rectified flow:
 * τ = 1000 t), as DDPM/LDM and SD3/Flux networks expect. @p view declares the prediction
 * type (ε, v, x₀ = #PI_VIEW_DENOISED, #PI_VIEW_FLOW or the score).
 * @param[in] sde Copied; discrete or rectified flow.
 * @param[in] dim Dimension, in [1, 2^20].
 * @param[in] view The view @p fn returns (#PI_VIEW_SCORE .. #PI_VIEW_FLOW).
 * @param[in] fn The host function; it receives timesteps in its `t` argument.
 * @param[in] user_data Borrowed (may be NULL); must outlive the model.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL (also for another SDE kind), #PI_ENOMEM.
 */
PI_API pi_status pi_model_create_callback_timestep(const pi_sde_t *sde, size_t dim, pi_view view,
                                                   pi_model_fn fn, void *user_data,
                                                   pi_model_t **out);

/** Directional products of a callback model's function F (in its declared view),
 *  J = ∂F/∂x; also bits of pi_model_callback_set_derivatives()'s @p provided. */
typedef enum pi_derivative {
    PI_DERIVATIVE_JVP = 1,     /**< out = J b */
    PI_DERIVATIVE_VJP = 2,     /**< out = Jᵀ a */
    PI_DERIVATIVE_VJP_JVP = 4, /**< out = ∇ₓ(aᵀ J b) */
    PI_DERIVATIVE_VJP_JVP2 = 8, /**< out = ∇ₓ(aᵀ D²F[b, c]) = ∇ₓ ∂_c(aᵀ J b) */
    PI_DERIVATIVE_VALUE = 16    /**< out = F(x) in double (the likelihood then uses it
                                     instead of the float value callback) */
} pi_derivative;

/**
 * Derivative callback of a callback model: the product @p kind of its function F at n
 * rows, in double precision.
 * @param[in] kind One ::pi_derivative.
 * @param[in] n Rows.
 * @param[in] dim Dimension.
 * @param[in] x n × dim points.
 * @param[in] t n times.
 * @param[in] a,b,c n × dim vectors; those the kind does not use are NULL.
 * @param[out] out n × dim results; they must be finite (#PI_ENUMERIC otherwise).
 * @param[in] user_data As given to pi_model_callback_set_derivatives().
 * @return 0 on success; nonzero aborts the calling run with #PI_ECALLBACK.
 * @threadsafety As ::pi_model_fn.
 */
typedef int (*pi_model_derivative_fn)(pi_derivative kind, size_t n, size_t dim,
                                      const double *x, const double *t, const double *a,
                                      const double *b, const double *c, double *out,
                                      void *user_data);

/**
 * Give a callback model derivative callbacks (double precision, batched). With
 * #PI_DERIVATIVE_JVP they replace the float finite differences of the Jacobian,
 * Jacobian-vector products and divergence; with #PI_DERIVATIVE_VJP also those of the
 * Hessians and ∇(∇·s), and ∇∇(∇·s) becomes available, so the exact WKB sweep runs; with
 * both, #PI_WKB_ALGORITHM_STOCHASTIC runs in O(d) memory. #PI_DERIVATIVE_VJP_JVP and
 * #PI_DERIVATIVE_VJP_JVP2 not given come from central differences (in double) of the next
 * lower product; pi_model_callback_get_derivatives() says which.
 * @param[in] model A callback model.
 * @param[in] fn The callback, or NULL (with @p provided 0) to remove it. It receives
 *            pathint's time t, also on a model made by
 *            pi_model_create_callback_timestep() (convert with pi_sde_timestep_from_time()).
 * @param[in] provided An or of ::pi_derivative values: the products @p fn computes.
 * @param[in] user_data Borrowed; passed to @p fn.
 * @return #PI_OK, #PI_EINVAL (NULL model, bad @p provided), #PI_EUNSUPPORTED (not a
 *         callback model).
 */
PI_API pi_status pi_model_callback_set_derivatives(pi_model_t *model, pi_model_derivative_fn fn,
                                                   unsigned provided, void *user_data);
/**
 * Which products a callback model's derivative callback computes (@p provided) and which
 * come from finite differences of them (@p finite_difference); either pointer may be NULL.
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED (not a callback model).
 */
PI_API pi_status pi_model_callback_get_derivatives(const pi_model_t *model, unsigned *provided,
                                                   unsigned *finite_difference);

/**
 * Destroy a model and everything it owns.
 * @param[in] model The model, or NULL (ignored). It must not be in use by a
 *            sampler or trainer.
 */
PI_API void pi_model_destroy(pi_model_t *model);

/**
 * The model's kind.
 * @param[in] model The model.
 * @param[out] out Its kind.
 * @return #PI_OK, #PI_EINVAL (NULL argument).
 */
PI_API pi_status pi_model_get_kind(const pi_model_t *model, pi_model_kind *out);
/**
 * The model's dimension.
 * @param[in] model The model.
 * @param[out] out Its dimension.
 * @return #PI_OK, #PI_EINVAL (NULL argument).
 */
PI_API pi_status pi_model_get_dim(const pi_model_t *model, size_t *out);
/**
 * The model's own copy of its SDE.
 * @param[in] model The model.
 * @param[out] out Borrowed: valid while the model lives; do not destroy it.
 * @return #PI_OK, #PI_EINVAL (NULL argument).
 */
PI_API pi_status pi_model_get_sde(const pi_model_t *model, const pi_sde_t **out);
/**
 * Number of threads used by pi_model_eval(), pi_model_divergence(),
 * pi_model_jvp() and pi_model_logpdf() (BLIS threads through its per-call
 * runtime object, or rows in parallel). Results do not depend on it.
 * @param[in] model The model (a setter: not concurrently with other use).
 * @param[in] threads Default and range: ::pi_option (MODEL_THREADS).
 * @return #PI_OK, #PI_EINVAL.
 */
PI_API pi_status pi_model_set_threads(pi_model_t *model, int threads);
/** Read back the thread count. */
PI_API pi_status pi_model_get_threads(const pi_model_t *model, int *threads);

/**
 * Evaluate the model in any view (converted exactly from the kind's native
 * view; docs/concepts.md).
 * @param[in] model The model.
 * @param[in] view One of ::pi_view.
 * @param[in] n Rows, >= 1 (n·dim <= 2^40).
 * @param[in] x n × dim, finite.
 * @param[in] t n times, one per row, each in (0, T] with σ(t) > 0.
 * @param[out] out n × dim, not overlapping @p x; untouched on failure except
 *             for #PI_ECALLBACK and #PI_ENUMERIC (points too far from the
 *             model for float arithmetic, or non-finite callback output), after
 *             which it may be partly written.
 * @return #PI_OK, #PI_EINVAL (message names the argument, row or column),
 *         #PI_ECALLBACK, #PI_ENUMERIC, #PI_ENOMEM.
 * @threadsafety Safe on a shared model (allocates its own scratch per call).
 */
PI_API pi_status pi_model_eval(const pi_model_t *model, pi_view view, size_t n, const float *x,
                               const double *t, float *out);

/**
 * pi_model_eval() with one time @p t for all rows (same arguments, errors
 * and thread safety).
 */
PI_API pi_status pi_model_eval_at(const pi_model_t *model, pi_view view, size_t n,
                                  const float *x, double t, float *out);

/**
 * The conditions a model takes: classes k, condition-vector length, and
 * whether it has an unconditional branch (the null condition). An
 * unconditional model reports 0, 0, 1.
 * @param[in] model The model.
 * @param[out] classes,cond_dim,unconditional Any may be NULL.
 */
PI_API pi_status pi_model_get_conditions(const pi_model_t *model, size_t *classes,
                                         size_t *cond_dim, int *unconditional);

/**
 * pi_model_eval() with a condition per row.
 * @param[in] model The model.
 * @param[in] view One of ::pi_view.
 * @param[in] n Rows, >= 1.
 * @param[in] x n × dim, finite.
 * @param[in] t n times.
 * @param[in] labels n classes in [0, k) or #PI_COND_NULL (if the model has
 *            a null branch), or NULL: with @p cond NULL too every row takes
 *            the null condition; a model without classes needs NULL.
 * @param[in] cond_dim The model's condition-vector length (0 if it has none).
 * @param[in] cond n × cond_dim finite vectors, or NULL when cond_dim is 0.
 * @param[in] row_data n pointers handed to a callback model, or NULL.
 * @param[out] out n × dim.
 * @return #PI_OK, #PI_EINVAL (a label out of range, a wrong cond_dim, a
 *         non-finite vector, conditions on an unconditional model), and the
 *         codes of pi_model_eval().
 */
PI_API pi_status pi_model_eval_cond(const pi_model_t *model, pi_view view, size_t n,
                                    const float *x, const double *t, const int32_t *labels,
                                    size_t cond_dim, const float *cond, void *const *row_data,
                                    float *out);

/**
 * Divergence ∇·s of the score at n points, in double precision.
 * @param[in] model The model.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim, finite.
 * @param[in] t n times in (0, T] with σ(t) > 0.
 * @param[in] mode #PI_DIVERGENCE_EXACT (closed form, or the trace of the exact
 *            Jacobian) or a Hutchinson mode (mean of zᵀ(∂s/∂x)z over probes).
 * @param[in] probes Number of Hutchinson probes, in [1, 2^32 − 1] (ignored
 *            for exact).
 * @param[in] seed Seed of the probes: probe p of row i is drawn from Philox
 *            (seed, probe stream, sample i, step p), so results do not depend
 *            on n, batching or threads.
 * @param[out] out n doubles; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ECALLBACK, #PI_ENUMERIC, #PI_ENOMEM.
 * @threadsafety Safe on a shared model.
 */
PI_API pi_status pi_model_divergence(const pi_model_t *model, pi_divergence mode, size_t probes,
                                     uint64_t seed, size_t n, const float *x, const double *t,
                                     double *out);

/**
 * Jacobian-vector products (∂s/∂x) v of the score at n points (computed in
 * double, returned as float).
 * @param[in] model The model.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim, finite.
 * @param[in] t n times in (0, T] with σ(t) > 0.
 * @param[in] v n × dim directions, finite.
 * @param[out] out n × dim; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ECALLBACK, #PI_ENUMERIC, #PI_ENOMEM.
 * @threadsafety Safe on a shared model.
 */
PI_API pi_status pi_model_jvp(const pi_model_t *model, size_t n, const float *x,
                              const double *t, const float *v, float *out);

/**
 * Exact log-density log p_t(x) (nats) of the model's distribution at time t:
 * Gaussian mixtures and empirical models (t with σ(t) > 0);
 * #PI_EUNSUPPORTED for MLP and callback models.
 * @param[in] model The model.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim, finite.
 * @param[in] t n times in (0, T] with σ(t) > 0.
 * @param[out] out n doubles; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED, #PI_ENOMEM.
 * @threadsafety Safe on a shared model.
 */
PI_API pi_status pi_model_logpdf(const pi_model_t *model, size_t n, const float *x,
                                 const double *t, double *out);

/**
 * Number of trainable float parameters.
 * @param[in] model The model.
 * @param[out] out The count (0 for Gaussian-mixture, empirical and callback models).
 * @return #PI_OK, #PI_EINVAL (NULL argument).
 */
PI_API pi_status pi_model_get_num_params(const pi_model_t *model, size_t *out);
/**
 * Copy the parameters out (the MLP's flat vector, see pi_model_save_safetensors()).
 * @param[in] model The model.
 * @param[in] capacity Floats @p params can hold; at least pi_model_get_num_params().
 * @param[out] params The parameters; untouched on failure.
 * @param[out] count The number written (may be NULL).
 * @return #PI_OK, #PI_EINVAL (NULL, or a capacity too small: the message gives the
 *         count needed), #PI_EUNSUPPORTED (a kind without parameters).
 */
PI_API pi_status pi_model_get_params(const pi_model_t *model, size_t capacity, float *params,
                                     size_t *count);
/**
 * Replace the parameters.
 * @param[in] model The model (not concurrently with other use).
 * @param[in] count Must equal pi_model_get_num_params().
 * @param[in] params @p count finite floats; copied.
 * @return #PI_OK, #PI_EINVAL (count or a non-finite value, model unchanged),
 *         #PI_EUNSUPPORTED (a kind without parameters).
 */
PI_API pi_status pi_model_set_params(pi_model_t *model, size_t count, const float *params);

/**
 * Save a model (GMM, empirical or MLP with a built-in SDE) in pathint's
 * versioned little-endian binary format with a checksum
 * (docs/model-format.md). The file is written to a temporary name next to
 * @p path, synced and renamed: a failure never leaves a truncated file and
 * leaves any previous file at @p path intact.
 * @param[in] model The model.
 * @param[in] path Target file name (non-empty).
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED (callback model or custom SDE),
 *         #PI_EIO, #PI_ENOMEM.
 * @threadsafety Safe on a shared model.
 */
PI_API pi_status pi_model_save(const pi_model_t *model, const char *path);
/**
 * Load a model file written by pi_model_save(). Everything is validated
 * (magic, version, sizes against the file length before any allocation,
 * checksum, SDE parameters, finite values): corrupt or hostile files are
 * rejected with #PI_EFORMAT and a message naming the field.
 * @param[in] path File name.
 * @param[out] out The new model; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_EIO (cannot open or read), #PI_EFORMAT,
 *         #PI_ENOMEM.
 */
PI_API pi_status pi_model_load(const char *path, pi_model_t **out);
/**
 * Export an MLP's weights as .safetensors (docs/safetensors.md): tensors
 * net.<2l>.weight / net.<2l>.bias in PyTorch's layout (the state_dict of a
 * module holding the network as `self.net = nn.Sequential(...)`), F32, with
 * the options in "__metadata__". Written to a temporary name and renamed.
 * @return #PI_OK; #PI_EINVAL for NULL; #PI_EUNSUPPORTED if not an MLP; #PI_EIO.
 */
PI_API pi_status pi_model_save_safetensors(const pi_model_t *model, const char *path);
/**
 * Create an MLP on @p sde from a .safetensors file written by pathint or
 * PyTorch (docs/safetensors.md). The shapes give the network; the metadata,
 * if present, gives the options and must agree with the shapes. F32, F64,
 * F16 and BF16 tensors are read. Malformed or hostile files fail with
 * #PI_EFORMAT and a message; @p out is untouched on failure.
 * @param[in] sde Copied.
 * @param[in] path The file.
 * @param[out] out The new model.
 * @return #PI_OK, #PI_EINVAL, #PI_EIO, #PI_EFORMAT, #PI_ENOMEM.
 */
PI_API pi_status pi_model_load_safetensors(const pi_sde_t *sde, const char *path,
                                           pi_model_t **out);

/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup sampler The ħ sampler family
 * dx = [f x − (1+ħ)/2 g² s] dt + √ħ g dw̄, backward from T (docs/samplers.md).
 * @code
 * pi_sampler_t *sampler;
 * pi_sampler_create(model, &sampler);
 * pi_sampler_set_hbar(sampler, 1.0);                      // the reverse SDE
 * pi_sampler_set_method(sampler, PI_METHOD_EXP2M);
 * pi_sampler_set_steps(sampler, 20);
 * pi_sampler_set_threads(sampler, 4);                     // same bits as 1 thread
 * pi_sampler_run(sampler, n, x);                          // n × dim samples
 * pi_sampler_destroy(sampler);
 * @endcode
 * @threadsafety A sampler is used by one thread at a time, except
 * pi_sampler_cancel(), which any thread may call. A second pi_sampler_run() or
 * pi_sampler_run_from() on a sampler whose run is in progress (from another thread or
 * from its step callback) fails with #PI_EBUSY and leaves the running run alone. It
 * borrows its model, which must outlive it; many samplers may share one model.
 *  @{ */

/** Integrators. */
typedef enum pi_method {
    PI_METHOD_EULER = 1,       /**< Euler–Maruyama in t (any SDE). */
    PI_METHOD_EXP1 = 2,        /**< First-order exponential integrator (ħ = 0: DDIM). */
    PI_METHOD_EXP2M = 3,       /**< Second-order multistep exponential (ħ = 0: DPM-Solver++(2M)). */
    PI_METHOD_HEUN = 4,        /**< Heun (stochastic Heun for ħ > 0). */
    PI_METHOD_RK45 = 5,        /**< Adaptive embedded Runge–Kutta (ħ = 0 only). Its step sizes
                                    follow one error norm over the whole batch, so its rows
                                    depend on the batch (not on the thread count) and its
                                    partitions are not bitwise exact (pi_sampler_set_first_row()). */
    PI_METHOD_EXP3M = 6,       /**< Third-order multistep exponential, any ħ (since 1.1). */
    PI_METHOD_IPNDM = 7,       /**< iPNDM, Adams–Bashforth up to order 4 in σ̃ (ħ = 0 only; since 1.1). */
    PI_METHOD_SA = 8,          /**< Stochastic Adams predictor–corrector (SA-Solver, τ² = ħ), any ħ (since 1.1). */
    PI_METHOD_UNIPC = 9        /**< UniPC predictor–corrector, bh2, order 3 (ħ = 0 only; since 1.1). */
} pi_method;

/** Step schedules (generators of time arrays). */
typedef enum pi_schedule {
    PI_SCHEDULE_UNIFORM_T = 1,      /**< Uniform in t. */
    PI_SCHEDULE_KARRAS = 2,         /**< Karras et al. in σ̃, parameter ρ. */
    PI_SCHEDULE_UNIFORM_LAMBDA = 3, /**< Uniform in λ = −log σ̃. */
    PI_SCHEDULE_CUSTOM = 4          /**< The array given to pi_sampler_set_times(). */
} pi_schedule;

/**
 * Per-step callback, called after every step on the caller's thread.
 * @param[in] step Steps done (1..nsteps; accepted steps for #PI_METHOD_RK45).
 * @param[in] nsteps Steps of the run, or 0 for the adaptive #PI_METHOD_RK45.
 * @param[in] t Current time.
 * @param[in] n Rows.
 * @param[in] dim Dimension.
 * @param[in] x n × dim current states (read-only).
 * @param[in] denoised n × dim denoiser output at the step's start, or NULL
 *            (#PI_METHOD_RK45).
 * @param[in] user_data As given to pi_sampler_set_callback().
 * @return 0 to continue, nonzero to cancel (the run returns #PI_ECANCELED).
 */
typedef int (*pi_step_fn)(size_t step, size_t nsteps, double t, size_t n, size_t dim,
                          const float *x, const float *denoised, void *user_data);

/**
 * Create a sampler with the defaults of ::pi_option (ħ = 0, EXP2M, 50 steps,
 * uniform-λ schedule, seed 0, 1 thread) and the SDE's whole time range.
 * @param[in] model Borrowed; must outlive the sampler.
 * @param[out] out The new sampler; untouched on failure.
 */
PI_API pi_status pi_sampler_create(const pi_model_t *model, pi_sampler_t **out);
/** Destroy a sampler. NULL is ignored. */
PI_API void pi_sampler_destroy(pi_sampler_t *sampler);
/** The model (borrowed). */
PI_API pi_status pi_sampler_get_model(const pi_sampler_t *sampler, const pi_model_t **model);

/** ħ >= 0: 0 = probability-flow ODE, 1 = reverse SDE, > 1 more noise than the reverse SDE. */
PI_API pi_status pi_sampler_set_hbar(pi_sampler_t *sampler, double hbar);
/** Read back ħ. */
PI_API pi_status pi_sampler_get_hbar(const pi_sampler_t *sampler, double *hbar);
/** The integrator. */
PI_API pi_status pi_sampler_set_method(pi_sampler_t *sampler, pi_method method);
/** Read back the integrator. */
PI_API pi_status pi_sampler_get_method(const pi_sampler_t *sampler, pi_method *method);
/** Number of steps (>= 1). For RK45 it is the initial step count hint. */
PI_API pi_status pi_sampler_set_steps(pi_sampler_t *sampler, size_t steps);
/** Read back the number of steps. */
PI_API pi_status pi_sampler_get_steps(const pi_sampler_t *sampler, size_t *steps);
/**
 * The schedule, and Karras' ρ (default and range: ::pi_option). Other
 * schedules ignore @p rho and keep the stored value, so pass
 * the option's default or the value read back.
 */
PI_API pi_status pi_sampler_set_schedule(pi_sampler_t *sampler, pi_schedule schedule,
                                         double rho);
/** Read back the schedule and ρ; either pointer may be NULL. */
PI_API pi_status pi_sampler_get_schedule(const pi_sampler_t *sampler, pi_schedule *schedule,
                                         double *rho);
/**
 * A custom time array (copied), strictly decreasing, within the SDE's range;
 * count = steps + 1. Selects #PI_SCHEDULE_CUSTOM and sets the steps.
 */
PI_API pi_status pi_sampler_set_times(pi_sampler_t *sampler, const double *times, size_t count);
/**
 * The current schedule as an array of steps + 1 times.
 * @param[in] sampler The sampler.
 * @param[in] capacity Doubles @p times can hold (>= steps + 1).
 * @param[out] times The times, from t_start down to t_end; untouched on failure.
 * @param[out] count The number written (steps + 1); may be NULL, except that with
 *            @p times NULL and @p capacity 0 only the count is reported.
 * @return #PI_OK, #PI_EINVAL (NULL, or a capacity too small: the message gives the
 *         count needed).
 */
PI_API pi_status pi_sampler_get_times(const pi_sampler_t *sampler, size_t capacity, double *times,
                                      size_t *count);
/** Start and end times of pi_sampler_run(), within the SDE's range (defaults: its T and
 *  t_min). */
PI_API pi_status pi_sampler_set_time_range(pi_sampler_t *sampler, double t_start, double t_end);
/** Read back the time range; either pointer may be NULL. */
PI_API pi_status pi_sampler_get_time_range(const pi_sampler_t *sampler, double *t_start,
                                           double *t_end);
/** Seed of all noise (prior and steps). */
PI_API pi_status pi_sampler_set_seed(pi_sampler_t *sampler, uint64_t seed);
/** Read back the seed. */
PI_API pi_status pi_sampler_get_seed(const pi_sampler_t *sampler, uint64_t *seed);
/**
 * Row index of the first row of the next runs (default 0; sticky like the seed).
 *
 * Row i of a run of n rows draws all its noise (prior and steps) as row first_row + i, so
 * a run of b − a rows with first_row = a gives, bit for bit, rows a … b − 1 of one run of
 * b rows: a large draw can be split into partitions [a, b) across processes or machines
 * and put back together exactly. That holds for the fixed-step methods (every method but
 * #PI_METHOD_RK45). RK45 keeps one sequence of step sizes for all rows of a run, accepted
 * or rejected by one error norm over all of them (an RMS), so each row's steps, and thus its
 * bits, depend on which other rows share the run: rows [a, b) run alone take other steps
 * than in the whole run. Each is still a solution of the same ODE to the tolerances, so a
 * partition differs from the whole run by about the integration error (measured, 2-D
 * mixture, VP: 1.5e-4 at rtol = atol = 1e-5, where the whole run is 1.8e-3 from a 1e-11
 * solution; max over 1000 rows). Partition-exact RK45 would need a step-size sequence per
 * row (per-row times in every model call, rows finishing after different step counts, and no
 * common accepted step for the callback and the trajectory); use a fixed-step method where
 * partitions must match bit for bit. pi_sampler_run() and
 * pi_sampler_run_from() fail with #PI_EINVAL if first_row + n − 1 exceeds 2^64 − 1.
 */
PI_API pi_status pi_sampler_set_first_row(pi_sampler_t *sampler, uint64_t first_row);
/** Read back the first row index. */
PI_API pi_status pi_sampler_get_first_row(const pi_sampler_t *sampler, uint64_t *first_row);
/** Worker threads; results do not depend on it. */
PI_API pi_status pi_sampler_set_threads(pi_sampler_t *sampler, int threads);
/** Read back the thread count. */
PI_API pi_status pi_sampler_get_threads(const pi_sampler_t *sampler, int *threads);
/** 1: the final step returns the denoiser output D instead of x; 0: x. */
PI_API pi_status pi_sampler_set_denoise_final(pi_sampler_t *sampler, int enabled);
/** Read back the denoise-final flag (0 or 1). */
PI_API pi_status pi_sampler_get_denoise_final(const pi_sampler_t *sampler, int *enabled);
/** Step noise of ħ > 0 (since 1.1). */
typedef enum pi_noise {
    /** Normals keyed by (seed, row, step index): runs with other step counts draw other noise. */
    PI_NOISE_STEP = 1,
    /** Normalised increments of one Brownian path per (seed, row), a fixed function of t (a
     *  virtual Brownian tree on Philox): runs with 20 and 40 steps of one seed follow the same
     *  path and land close together. */
    PI_NOISE_BROWNIAN = 2
} pi_noise;

/**
 * How the step noise of ħ > 0 is drawn (default and range: ::pi_option SAMPLER_NOISE). Either
 * way the result is the same for any thread count, batch size and partition of rows.
 * @param[in] sampler The sampler.
 * @param[in] noise A ::pi_noise.
 * @return #PI_OK, or #PI_EINVAL for NULL or a value outside ::pi_noise.
 */
PI_API pi_status pi_sampler_set_noise(pi_sampler_t *sampler, pi_noise noise);
/** Read back the step-noise kind. */
PI_API pi_status pi_sampler_get_noise(const pi_sampler_t *sampler, pi_noise *noise);
/** Tolerances of the adaptive method (#PI_METHOD_RK45). */
PI_API pi_status pi_sampler_set_tolerances(pi_sampler_t *sampler, double rtol, double atol);
/** Read back the tolerances; either pointer may be NULL. */
PI_API pi_status pi_sampler_get_tolerances(const pi_sampler_t *sampler, double *rtol,
                                           double *atol);
/** Langevin corrector: @p steps corrector steps after each predictor step (0: none),
 *  signal-to-noise ratio @p snr. */
PI_API pi_status pi_sampler_set_corrector(pi_sampler_t *sampler, size_t steps, double snr);
/** Read back the corrector; either pointer may be NULL. */
PI_API pi_status pi_sampler_get_corrector(const pi_sampler_t *sampler, size_t *steps,
                                          double *snr);
/** Step callback (NULL removes it). @p user_data is borrowed. */
PI_API pi_status pi_sampler_set_callback(pi_sampler_t *sampler, pi_step_fn fn, void *user_data);
/** Read back the step callback and its user data; either pointer may be NULL. */
PI_API pi_status pi_sampler_get_callback(const pi_sampler_t *sampler, pi_step_fn *fn,
                                         void **user_data);
/**
 * Ask a running sampler to stop at its next step (the run returns #PI_ECANCELED
 * with x_out at the last completed step). A cancel while idle does nothing.
 * @threadsafety Safe from any thread.
 */
PI_API pi_status pi_sampler_cancel(pi_sampler_t *sampler);

/**
 * Record sampling and denoising trajectories. With buffers NULL the sampler
 * owns them; otherwise each buffer (borrowed) holds @p capacity floats and
 * must fit (steps + 1) × n × dim. enabled = 0 stops recording (and forgets
 * the buffers).
 */
PI_API pi_status pi_sampler_set_trajectory(pi_sampler_t *sampler, int enabled, size_t capacity,
                                           float *x_buf, float *denoised_buf);
/** Read back whether recording is on and the caller buffers' capacity (0 when the sampler
 *  owns the buffers); either pointer may be NULL. */
PI_API pi_status pi_sampler_get_trajectory_settings(const pi_sampler_t *sampler, int *enabled,
                                                    size_t *capacity);
/**
 * The last run's trajectories: @p npoints time points (steps + 1), each n × dim with that
 * run's n. After a canceled or failed run, the points it completed (0 when it failed before
 * its first step, whatever earlier runs recorded). Pointers are valid until the next run or
 * destroy. Any pointer may be NULL.
 */
PI_API pi_status pi_sampler_get_trajectory(const pi_sampler_t *sampler, const float **x,
                                           const float **denoised, size_t *npoints);

/** Counters of the last run: network evaluations (per row), accepted and rejected steps. */
PI_API pi_status pi_sampler_get_stats(const pi_sampler_t *sampler, size_t *nfe,
                                      size_t *accepted, size_t *rejected);

/**
 * Draw n samples from the prior at t_start down to t_end. With the fixed-step
 * methods row i depends only on (seed, i): the result is bitwise identical for
 * any n, thread count and partition (docs/samplers.md). #PI_METHOD_RK45 is the
 * exception in n: one adaptive step sequence serves the whole batch, chosen from
 * an error norm over all rows, so row i also depends on the other rows (its
 * prior draw does not); for a given batch it is bitwise identical for any
 * thread count, but a partition of the rows run separately is not bitwise
 * exact (pi_sampler_set_first_row()).
 * @param[in] sampler The sampler (its options are read, counters and
 *            trajectory written).
 * @param[in] n Rows, >= 1 (n · dim <= 2^40).
 * @param[out] x_out n × dim. Untouched on #PI_EINVAL / #PI_ENOMEM. On
 *             #PI_ECANCELED / #PI_ECALLBACK / #PI_ENUMERIC it holds the
 *             states at the last completed step (fully defined).
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM, #PI_ECANCELED, #PI_ECALLBACK,
 *         #PI_ENUMERIC, #PI_ENOCONVERGE (RK45).
 */
PI_API pi_status pi_sampler_run(pi_sampler_t *sampler, size_t n, float *x_out);
/**
 * Integrate given states from @p t_start down to t_end (SDEdit / img2img).
 * Named schedules are regenerated from t_start with the same number of
 * steps; a custom array keeps its times below t_start.
 * @param[in] sampler The sampler.
 * @param[in] t_start Start time in (t_end, T].
 * @param[in] n Rows, >= 1.
 * @param[in,out] x_inout n × dim finite states at t_start; the samples on
 *                return. Failures leave it as pi_sampler_run() leaves x_out.
 * @return As pi_sampler_run().
 */
PI_API pi_status pi_sampler_run_from(pi_sampler_t *sampler, double t_start, size_t n,
                                     float *x_inout);

/**
 * Per-row conditions for the following runs of a conditional model (sticky
 * until replaced or cleared; issue 15). A run must then have exactly @p n
 * rows; row i of every run takes condition i. Without conditions a run of a
 * conditional model is unconditional (the null condition).
 * @param[in] sampler The sampler.
 * @param[in] n Rows, >= 1; 0 with every array NULL clears the conditions.
 * @param[in] labels n classes in [0, k), or NULL (a model with classes then
 *            gets the null condition unless @p cond is given: not allowed).
 *            #PI_COND_NULL asks for the unconditional prediction of that row.
 *            Copied.
 * @param[in] cond_dim The model's condition-vector length (0: none).
 * @param[in] cond n × cond_dim finite vectors, or NULL. Copied.
 * @param[in] row_data n pointers handed to a conditional callback with each
 *            row, or NULL. The array is copied; the pointees are borrowed.
 * @return #PI_OK, #PI_EINVAL (label >= k, wrong cond_dim, NaN in cond, an
 *         unconditional model; nothing changed), #PI_ENOMEM.
 */
PI_API pi_status pi_sampler_set_conditions(pi_sampler_t *sampler, size_t n, const int32_t *labels,
                                           size_t cond_dim, const float *cond,
                                           void *const *row_data);
/** Rows of the conditions set (0: none). */
PI_API pi_status pi_sampler_get_conditions(const pi_sampler_t *sampler, size_t *n);
/**
 * Classifier-free guidance scale w: the sampler uses
 * D_w = D(x, ∅) + w (D(x, c) − D(x, ∅)) for every integrator and ħ (w = 1:
 * the conditional model, no extra evaluation; w = 0: unconditional). Other
 * values need a model with a null branch (checked here and at the run).
 * Each guided evaluation is one model call on 2 × rows (docs/samplers.md).
 * @return #PI_OK, #PI_EINVAL (range, NaN, a model without null branch).
 */
PI_API pi_status pi_sampler_set_guidance(pi_sampler_t *sampler, double w);
/** The guidance scale. */
PI_API pi_status pi_sampler_get_guidance(const pi_sampler_t *sampler, double *w);
/**
 * Guidance rescale φ (Lin et al. 2024): D ← φ (std(D_c)/std(D_w)) D_w +
 * (1 − φ) D_w, the standard deviations over each row's elements.
 */
PI_API pi_status pi_sampler_set_guidance_rescale(pi_sampler_t *sampler, double phi);
/** The guidance rescale φ. */
PI_API pi_status pi_sampler_get_guidance_rescale(const pi_sampler_t *sampler, double *phi);
/**
 * Guidance interval (Kynkäänniemi et al. 2024): guide only evaluations with
 * σ̃(t) in [sigma_min, sigma_max]; elsewhere the model is evaluated with its
 * condition alone (w = 1). sigma_min <= sigma_max.
 */
PI_API pi_status pi_sampler_set_guidance_interval(pi_sampler_t *sampler, double sigma_min,
                                                  double sigma_max);
/** The guidance interval. */
PI_API pi_status pi_sampler_get_guidance_interval(const pi_sampler_t *sampler, double *sigma_min,
                                                  double *sigma_max);
/**
 * CFG++ (Chung et al. 2024) for #PI_METHOD_EXP1: the guided denoiser D_w
 * gives the step's target, the unconditional D(x, ∅) its re-noising
 * direction (docs/samplers.md). A run with another method fails with
 * #PI_EINVAL. The CFG++ paper's λ is w here, typically in [0, 1].
 */
PI_API pi_status pi_sampler_set_cfgpp(pi_sampler_t *sampler, int enabled);
/** Whether CFG++ is on. */
PI_API pi_status pi_sampler_get_cfgpp(const pi_sampler_t *sampler, int *enabled);
/**
 * Inpainting (issue 15): after the initial state and after every step to t,
 * the known part is replaced by a sample of its forward marginal,
 * x ← m ⊙ (α(t) x0 + σ(t) z) + (1 − m) ⊙ x (z from the seed's own stream), so
 * the known elements follow the noised data while the model fills the rest.
 * Fixed-step methods only. Sticky until replaced or cleared; a run must then
 * have exactly @p n rows.
 * @param[in] sampler The sampler.
 * @param[in] n Rows, >= 1; 0 with NULL arrays clears.
 * @param[in] known n × dim finite known data x0 (values under m = 0 are not
 *            read but must be finite). Copied.
 * @param[in] mask n × dim weights in [0, 1] (1: known). Copied.
 * @return #PI_OK, #PI_EINVAL (nothing changed), #PI_ENOMEM.
 */
PI_API pi_status pi_sampler_set_inpainting(pi_sampler_t *sampler, size_t n, const float *known,
                                           const float *mask);
/** Rows of the inpainting data set (0: none). */
PI_API pi_status pi_sampler_get_inpainting(const pi_sampler_t *sampler, size_t *n);

/**
 * GITS (Chen et al.): optimise a schedule of @p steps steps by dynamic
 * programming over a fine teacher grid of @p fine_steps uniform-λ steps, on
 * @p n_samples ODE trajectories (seeded by the sampler's seed, from its
 * t_start to t_end; docs/samplers.md).
 * @param[in] sampler The sampler (model, seed, time range, threads).
 * @param[in] steps Steps of the result, >= 1.
 * @param[in] fine_steps Teacher steps, in [steps, 4096].
 * @param[in] n_samples Teacher trajectories, >= 1.
 * @param[out] times_out steps + 1 times, ready for pi_sampler_set_times();
 *             untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM, or a failure of the teacher run.
 */
PI_API pi_status pi_sampler_gits(pi_sampler_t *sampler, size_t steps, size_t fine_steps,
                                 size_t n_samples, double *times_out);

/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup likelihood Likelihood: NLL₀ and its WKB slope in ħ
 * A ::pi_likelihood_t computes, for points x, the probability-flow negative
 * log-likelihood NLL₀ = −log q⁰(x) and its first WKB coefficient c1, so that the
 * density of the ħ sampler is −log q^ħ(x) ≈ NLL₀ − ħ c1 (Hirono et al.;
 * docs/likelihood.md). It depends on the model only, not on a sampler.
 * @code
 * pi_likelihood_t *lik;
 * pi_likelihood_create(model, &lik);
 * pi_likelihood_set_threads(lik, 4);              // same numbers on any thread count
 * pi_likelihood_nll(lik, n, x, nll0, c1);         // c1 may be NULL: order 0 only
 * pi_likelihood_nll_hbar(lik, 0.5, n, x, nll);    // NLL₀ − 0.5 c1
 * pi_likelihood_destroy(lik);
 * @endcode
 * @threadsafety A likelihood handle is used by one thread at a time;
 * pi_likelihood_cancel() may be called from any thread. A second computation
 * (pi_likelihood_nll(), _nll_ex(), _nll_hbar(), _action_bound()) on a handle whose
 * computation is in progress fails with #PI_EBUSY. Its model is borrowed and
 * must outlive it; several handles may share one model.
 *  @{ */

/** WKB algorithm for c1. */
typedef enum pi_wkb_algorithm {
    PI_WKB_ALGORITHM_SWEEP = 1,    /**< Forward solve + one backward sweep (fast, default). */
    PI_WKB_ALGORITHM_REFERENCE = 2, /**< Nested finite-difference solves as published (slow cross-check). */
    /** The sweep with tr H probed instead of carried (docs/likelihood.md): O(d) memory per
     *  probe, any dimension for models with directional products (the MLP), c1 as a mean
     *  over K independent probes (::pi_option LIKELIHOOD_WKB_PROBES) with a standard error
     *  (pi_likelihood_nll_wkb()). Seeded by the handle's seed; same bits on any thread
     *  count. Mixtures and the empirical denoiser (no directional products) use their exact
     *  dense derivatives and probe only the trace (dimension <= 128). */
    PI_WKB_ALGORITHM_STOCHASTIC = 3
} pi_wkb_algorithm;

/**
 * Progress callback of a likelihood computation: called once per finished point,
 * never concurrently (from whichever worker thread finished it), with @p done
 * counting finished points 1..n.
 * @return 0 to continue; nonzero stops: points not yet started get NaN and
 *         status #PI_ECANCELED, and the call returns #PI_ECANCELED.
 */
typedef int (*pi_likelihood_fn)(size_t done, size_t n, void *user_data);

/**
 * Create a likelihood handle over a model, with the defaults of ::pi_option.
 * @param[in] model Borrowed; must outlive the handle.
 * @param[out] out The new handle; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_ENOMEM.
 */
PI_API pi_status pi_likelihood_create(const pi_model_t *model, pi_likelihood_t **out);
/** Destroy a likelihood handle. NULL is ignored. */
PI_API void pi_likelihood_destroy(pi_likelihood_t *lik);
/** The model (borrowed). */
PI_API pi_status pi_likelihood_get_model(const pi_likelihood_t *lik, const pi_model_t **model);

/** How ∇·s is computed in the order-0 solve, and the Hutchinson probe count (ignored,
 *  stored as 1, for the exact mode). */
PI_API pi_status pi_likelihood_set_divergence(pi_likelihood_t *lik, pi_divergence mode,
                                              size_t probes);
/** Read back the divergence mode and probes; either pointer may be NULL. */
PI_API pi_status pi_likelihood_get_divergence(const pi_likelihood_t *lik, pi_divergence *mode,
                                              size_t *probes);
/** Tolerances of the ODE solves (order 0 and the WKB sweep). */
PI_API pi_status pi_likelihood_set_tolerances(pi_likelihood_t *lik, double rtol, double atol);
/** Read back the tolerances; either pointer may be NULL. */
PI_API pi_status pi_likelihood_get_tolerances(const pi_likelihood_t *lik, double *rtol,
                                              double *atol);
/** The algorithm for c1. */
PI_API pi_status pi_likelihood_set_wkb_algorithm(pi_likelihood_t *lik,
                                                 pi_wkb_algorithm algorithm);
/** Read back the algorithm for c1. */
PI_API pi_status pi_likelihood_get_wkb_algorithm(const pi_likelihood_t *lik,
                                                 pi_wkb_algorithm *algorithm);
/**
 * Independent probes K of #PI_WKB_ALGORITHM_STOCHASTIC (::pi_option
 * LIKELIHOOD_WKB_PROBES, [1, 4096], default 16): memory and cost grow as K, the standard
 * error as 1/√K. K = 1 gives no standard error (NaN).
 * @return #PI_OK, #PI_EINVAL (NULL, K out of range).
 */
PI_API pi_status pi_likelihood_set_wkb_probes(pi_likelihood_t *lik, size_t probes);
/** Read back the probes of the stochastic WKB sweep. */
PI_API pi_status pi_likelihood_get_wkb_probes(const pi_likelihood_t *lik, size_t *probes);
/**
 * Uniform dequantisation for discrete data: before the solve each point gets
 * u · bin_width added, u ~ U[0,1)^d (Philox, keyed by the seed and the point index).
 * 0 disables it.
 */
PI_API pi_status pi_likelihood_set_dequantization(pi_likelihood_t *lik, double bin_width);
/** Read back the dequantisation bin width. */
PI_API pi_status pi_likelihood_get_dequantization(const pi_likelihood_t *lik, double *bin_width);
/** Seed of the Hutchinson probes and the dequantisation noise. */
PI_API pi_status pi_likelihood_set_seed(pi_likelihood_t *lik, uint64_t seed);
/** Read back the seed. */
PI_API pi_status pi_likelihood_get_seed(const pi_likelihood_t *lik, uint64_t *seed);
/**
 * Row index of the first point of the next computations (default 0; sticky like the seed).
 *
 * Point i of pi_likelihood_nll(), pi_likelihood_nll_ex() and pi_likelihood_nll_hbar()
 * draws its Hutchinson probes and its dequantisation noise as point first_row + i, so
 * points [a, b) computed with first_row = a give, bit for bit, the results of those points
 * in one computation over all of them (NLL₀ and c1 of the other modes use no noise). They
 * fail with #PI_EINVAL if first_row + n − 1 exceeds 2^64 − 1. pi_likelihood_action_bound()
 * ignores it (its result is a mean over the points).
 */
PI_API pi_status pi_likelihood_set_first_row(pi_likelihood_t *lik, uint64_t first_row);
/** Read back the first row index. */
PI_API pi_status pi_likelihood_get_first_row(const pi_likelihood_t *lik, uint64_t *first_row);
/** Worker threads across points; results do not depend on it. */
PI_API pi_status pi_likelihood_set_threads(pi_likelihood_t *lik, int threads);
/** Read back the thread count. */
PI_API pi_status pi_likelihood_get_threads(const pi_likelihood_t *lik, int *threads);
/** Progress callback (NULL removes it). @p user_data is borrowed. */
PI_API pi_status pi_likelihood_set_callback(pi_likelihood_t *lik, pi_likelihood_fn fn,
                                            void *user_data);
/** Read back the callback and its user data; either pointer may be NULL. */
PI_API pi_status pi_likelihood_get_callback(const pi_likelihood_t *lik, pi_likelihood_fn *fn,
                                            void **user_data);
/**
 * Ask a running computation to stop, from any thread: points not yet started get NaN
 * and status #PI_ECANCELED; finished points keep their values. A cancel while idle
 * does nothing (it does not stop the next call).
 * @threadsafety Safe from any thread.
 */
PI_API pi_status pi_likelihood_cancel(pi_likelihood_t *lik);

/**
 * Probability-flow likelihood and its WKB slope.
 * @param[in] lik The handle.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim points.
 * @param[out] nll_out n values of −log q⁰(x) in nats.
 * @param[out] c1_out n first-order coefficients c1 (log q^ħ ≈ log q⁰ + ħ c1), or NULL
 *             to compute order 0 only.
 * @return #PI_OK, or the first per-point failure (the other points are still
 *         computed; failed points are NaN); #PI_ECANCELED after pi_likelihood_cancel()
 *         or a nonzero callback; #PI_EUNSUPPORTED when c1 is asked for a dimension
 *         beyond the algorithm's limit (sweep 128, reference 64; stochastic: none for
 *         MLPs and callback models with derivative callbacks, 128 for the others), or
 *         for the stochastic sweep on a callback model without derivative callbacks.
 */
PI_API pi_status pi_likelihood_nll(pi_likelihood_t *lik, size_t n, const float *x,
                                   double *nll_out, double *c1_out);
/**
 * The density of the ħ sampler to first order: nll_out = NLL₀ − ħ c1 (c1 is not
 * computed at ħ = 0).
 * @param[in] lik The handle.
 * @param[in] hbar ħ, in the sampler's range (::pi_option SAMPLER_HBAR).
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim points.
 * @param[out] nll_out n values of −log q^ħ(x) to first order in ħ, nats.
 * @return As pi_likelihood_nll().
 */
PI_API pi_status pi_likelihood_nll_hbar(pi_likelihood_t *lik, double hbar, size_t n,
                                        const float *x, double *nll_out);
/**
 * pi_likelihood_nll() with per-point diagnostics: @p nfe_out network evaluations
 * and @p status_out the status of each point (either may be NULL).
 */
PI_API pi_status pi_likelihood_nll_ex(pi_likelihood_t *lik, size_t n, const float *x,
                                      double *nll_out, double *c1_out, size_t *nfe_out,
                                      pi_status *status_out);
/**
 * pi_likelihood_nll() with the standard error of each c1: over the probes for
 * #PI_WKB_ALGORITHM_STOCHASTIC (NaN with one probe), 0 for the deterministic algorithms
 * (whose error is the solver tolerance's). Failed points get NaN.
 * @param[in] lik The handle.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim points.
 * @param[out] nll_out n values of −log q⁰(x) in nats.
 * @param[out] c1_out n first-order coefficients.
 * @param[out] c1_stderr_out n standard errors of c1.
 * @return As pi_likelihood_nll().
 */
PI_API pi_status pi_likelihood_nll_wkb(pi_likelihood_t *lik, size_t n, const float *x,
                                       double *nll_out, double *c1_out,
                                       double *c1_stderr_out);
/**
 * NLL₀, c1 and the second WKB coefficient c2: −log q^ħ(x) = NLL₀ − ħ c1 − ħ² c2 + O(ħ³)
 * (docs/likelihood.md, "Second order"). c1 comes from the handle's algorithm; c2 from an
 * outer solve whose ∇ℓ1 and Δℓ1 are central differences of 2 dim + 1 nested sweeps
 * (cost about 100× the c1 sweep in 1-D, growing as dim³ × (2 dim + 1)), so dimension is
 * limited to 16. The first-order value NLL₀ − ħ c1 is within a fraction ε of the change
 * ħ c1 while ħ <= ε |c1 / c2| (the CLI and docs use ε = 0.1).
 * @param[in] lik The handle.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim points.
 * @param[out] nll_out n values of −log q⁰(x) in nats.
 * @param[out] c1_out n first-order coefficients.
 * @param[out] c2_out n second-order coefficients.
 * With #PI_WKB_ALGORITHM_STOCHASTIC, c2 is the stochastic estimate of
 * pi_likelihood_nll_wkb2_ex() (which also gives the standard errors).
 * @return As pi_likelihood_nll(); #PI_EUNSUPPORTED for dim > 16 (stochastic algorithm:
 *         see pi_likelihood_nll_wkb2_ex()) or a model without dense derivatives (Hessians
 *         of s, ∇∇(∇·s)).
 */
PI_API pi_status pi_likelihood_nll_wkb2(pi_likelihood_t *lik, size_t n, const float *x,
                                        double *nll_out, double *c1_out, double *c2_out);
/**
 * pi_likelihood_nll_wkb2() with the standard errors of c1 and c2. With
 * #PI_WKB_ALGORITHM_STOCHASTIC, c2 is estimated in O(dim) memory (docs/likelihood.md,
 * "Second order, stochastic"): K = ::pi_option LIKELIHOOD_WKB_PROBES independent
 * replicates, each an outer solve along the order-0 path whose ∇ℓ1 and Δℓ1 come from three
 * stochastic sweeps (two probes each) started at x and x ± (h/√dim) ξ for one Rademacher ξ;
 * c2 is their mean and its standard error std/√K (NaN for K = 1). Cost per replicate: at
 * each of its outer evaluations (typically 50–300) three order-0 solves and three two-probe
 * stochastic sweeps, so seconds to minutes per point. Dimension: any for models with directional products (the MLP,
 * callback models with derivative callbacks), else at most 128 (their dense derivatives).
 * Deterministic in the handle's seed and first row; same bits on any thread count. The
 * other algorithms give the nested exact c2 (dim <= 16) with standard error 0.
 * @param[in] lik The handle.
 * @param[in] n Points, >= 1.
 * @param[in] x n × dim points.
 * @param[out] nll_out n values of −log q⁰(x) in nats.
 * @param[out] c1_out n first-order coefficients.
 * @param[out] c1_stderr_out n standard errors of c1 (as pi_likelihood_nll_wkb()).
 * @param[out] c2_out n second-order coefficients.
 * @param[out] c2_stderr_out n standard errors of c2 (0 for the exact algorithms).
 * @return As pi_likelihood_nll_wkb2().
 */
PI_API pi_status pi_likelihood_nll_wkb2_ex(pi_likelihood_t *lik, size_t n, const float *x,
                                           double *nll_out, double *c1_out,
                                           double *c1_stderr_out, double *c2_out,
                                           double *c2_stderr_out);
/**
 * The action bound (docs/training.md) on −log q¹ (ħ = 1), the NLL of the reverse SDE,
 * per point −log q¹_0(x) ≤ −E[log π(x_T)] + ½ ∫ E[g² ‖s(x_t,t) + z/σ‖² − g² ‖z/σ‖²
 * − 2 d f] dt, averaged over data: the denoising-score-matching loss with likelihood
 * weighting plus constants. Only the first term of the integral is sampled (t ∝ g²/σ²,
 * stratified per point, z ~ N(0, I)); the rest is exact. Works for any model (evaluated in
 * its native view); with the exact score of a distribution q it equals −log q_0(x) up to
 * the prior mismatch and t_min. Deterministic in the handle's seed; uses its threads.
 * @param[in] lik The handle.
 * @param[in] samples (t, z) draws per point, in [1, 2^20].
 * @param[in] n Points, >= 1.
 * @param[in] data n × dim, finite.
 * @param[out] bound Mean bound in nats per point.
 * @param[out] stderr_out Its standard error (may be NULL): over points if n >= 2
 *             (includes the Monte Carlo noise), else over draws (conservative: the
 *             stratification is ignored).
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED (σ̃(t_min) = 0), #PI_ENUMERIC,
 *         #PI_ECALLBACK, #PI_ENOMEM.
 */
PI_API pi_status pi_likelihood_action_bound(pi_likelihood_t *lik, size_t samples, size_t n,
                                            const float *data, double *bound,
                                            double *stderr_out);
/**
 * Bits per dimension of an NLL in nats: (nll + dim · log(scale)) / (dim · ln 2),
 * where @p scale is the data's quantisation scale (e.g. 256 for 8-bit pixels
 * mapped to [0, 1]; 1 for none).
 * @return #PI_OK, #PI_EINVAL (dim 0, scale not finite and > 0, nll not finite, NULL out).
 */
PI_API pi_status pi_bits_per_dim(double nll, size_t dim, double scale, double *out);
/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup trainer Training
 * @code
 * pi_trainer_t *trainer;
 * pi_trainer_create(mlp_model, &trainer);
 * pi_trainer_set_learning_rate(trainer, 4e-3);
 * pi_trainer_fit(trainer, n, data, 20000);                // the model then holds the EMA weights
 * pi_trainer_save(trainer, "run.ckpt");                   // pi_trainer_resume() continues it
 * pi_trainer_destroy(trainer);
 * @endcode
 * Denoising score matching from the action principle (docs/training.md): minimise
 * L(θ) = E_t E_x0 E_z [λ(t) ‖s_θ(α x0 + σ z, t) + z/σ‖²] with AdamW, optional
 * warm-up and cosine decay, global-norm gradient clipping and an EMA of the
 * weights. The loss is evaluated in the MLP's native view (ε, score or
 * denoiser), converted analytically, so no large terms cancel.
 *
 * Weights: during steps the model holds the training ("raw") weights.
 * pi_trainer_fit() ends, whatever its status (once its arguments are valid),
 * by storing the raw weights inside the trainer and putting the EMA weights
 * into the model, so the model samples with the EMA weights. The next
 * pi_trainer_step() or pi_trainer_fit() puts the raw weights back first. Do
 * not change the model's weights or architecture while a trainer is attached.
 *
 * Randomness: training step k draws its batch indices, times and noise from
 * Philox keyed by (seed, k): batches are drawn with replacement (so n < batch
 * is allowed), and with a fixed seed and thread count training is bitwise
 * reproducible, also across pi_trainer_save() / pi_trainer_resume().
 *
 * @threadsafety One thread at a time: pi_trainer_fit(), pi_trainer_step() or
 * pi_trainer_loss() on a trainer that is running one of them (another thread, or its
 * callback) fails with #PI_EBUSY. The trainer borrows and mutates its
 * model (an MLP), which must outlive it; do not evaluate the model from other
 * threads while a step or fit runs.
 *  @{ */

/** Loss weighting λ(t). */
typedef enum pi_weighting {
    PI_WEIGHTING_LIKELIHOOD = 1, /**< λ = g² (bounds the NLL). */
    PI_WEIGHTING_SIGMA2 = 2,     /**< λ = σ² (ε-MSE, DDPM). */
    PI_WEIGHTING_EDM = 3,        /**< EDM: (σ̃² + σ_d²)/(σ̃ σ_d)² on ‖D − x0‖², σ_d the MLP's σ_data. */
    PI_WEIGHTING_FLOW = 4        /**< Flow matching: λ = g⁴/4, i.e. ‖u_θ − (α' x0 + σ' z)‖² on the flow
                                  *   view u (on rectified flow: ‖u_θ − (z − x0)‖², docs/training.md). */
} pi_weighting;

/** Training-time sampling. */
typedef enum pi_time_sampling {
    PI_TIME_SAMPLING_UNIFORM = 1,    /**< t ~ U[t_min, T]. */
    PI_TIME_SAMPLING_IMPORTANCE = 2, /**< t ∝ g²/σ² (log σ̃ uniform), reweighted to stay unbiased for the uniform-t loss. */
    PI_TIME_SAMPLING_LOGNORMAL = 3   /**< EDM: log σ̃ ~ N(P_mean, P_std²), clamped to the SDE's range; not reweighted. */
} pi_time_sampling;

/** Learning-rate schedule. */
typedef enum pi_lr_schedule {
    PI_LR_SCHEDULE_CONSTANT = 1, /**< Constant after warm-up. */
    PI_LR_SCHEDULE_COSINE = 2    /**< Cosine decay to 0 over the total steps, after warm-up. */
} pi_lr_schedule;

/**
 * Progress callback of pi_trainer_fit(), called after every step.
 * @param[in] step Steps taken so far (the trainer's counter, >= 1).
 * @param[in] loss This step's batch loss.
 * @param[in] ema_loss Exponential moving average of the batch loss (decay 0.99).
 * @param[in] steps_per_second Steps of this fit call per wall-clock second.
 * @param[in] user_data As given to pi_trainer_set_callback().
 * @return 0 to continue; nonzero cancels the fit (#PI_ECANCELED).
 */
typedef int (*pi_train_fn)(uint64_t step, double loss, double ema_loss, double steps_per_second,
                           void *user_data);

/**
 * Create a trainer for an MLP model, with the defaults of ::pi_option: lr 1e-3,
 * constant schedule, no warm-up, batch 256, #PI_WEIGHTING_LIKELIHOOD,
 * #PI_TIME_SAMPLING_UNIFORM, log-normal (−1.2, 1.2), Adam (0.9, 0.999, 1e-8),
 * weight decay 0, no clipping, EMA 0.999, seed 0, 1 thread, no callback.
 * @param[in] model Borrowed and mutated; must outlive the trainer.
 * @param[out] out The new trainer; untouched on failure.
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED (not an MLP), #PI_ENOMEM.
 */
PI_API pi_status pi_trainer_create(pi_model_t *model, pi_trainer_t **out);
/** Destroy a trainer (the model is left as it is). NULL is ignored. */
PI_API void pi_trainer_destroy(pi_trainer_t *trainer);
/** Peak learning rate. */
PI_API pi_status pi_trainer_set_learning_rate(pi_trainer_t *trainer, double lr);
/** Read back the peak learning rate. */
PI_API pi_status pi_trainer_get_learning_rate(const pi_trainer_t *trainer, double *lr);
/**
 * Learning-rate schedule over the trainer's step counter k (0-based): during
 * warm-up lr·(k+1)/warmup_steps, then constant, or for #PI_LR_SCHEDULE_COSINE
 * lr·½(1 + cos(π (k − warmup)/(total − warmup))) and 0 from total_steps on.
 * @param[in] trainer The trainer.
 * @param[in] schedule #PI_LR_SCHEDULE_CONSTANT or #PI_LR_SCHEDULE_COSINE.
 * @param[in] warmup_steps Linear warm-up length (0 = none), <= 2^53.
 * @param[in] total_steps Cosine: > warmup_steps; ignored for constant.
 */
PI_API pi_status pi_trainer_set_lr_schedule(pi_trainer_t *trainer, pi_lr_schedule schedule,
                                            uint64_t warmup_steps, uint64_t total_steps);
/** Read back the schedule and its step counts; any pointer may be NULL. */
PI_API pi_status pi_trainer_get_lr_schedule(const pi_trainer_t *trainer, pi_lr_schedule *schedule,
                                            uint64_t *warmup_steps, uint64_t *total_steps);
/** Rows per step (drawn with replacement; may exceed n). */
PI_API pi_status pi_trainer_set_batch_size(pi_trainer_t *trainer, size_t batch);
/** Read back the batch size. */
PI_API pi_status pi_trainer_get_batch_size(const pi_trainer_t *trainer, size_t *batch);
/** Loss weighting λ(t) (see ::pi_weighting). */
PI_API pi_status pi_trainer_set_weighting(pi_trainer_t *trainer, pi_weighting weighting);
/** Read back the weighting. */
PI_API pi_status pi_trainer_get_weighting(const pi_trainer_t *trainer, pi_weighting *weighting);
/** How training times are drawn (see ::pi_time_sampling). */
PI_API pi_status pi_trainer_set_time_sampling(pi_trainer_t *trainer, pi_time_sampling sampling);
/** Read back the time sampling. */
PI_API pi_status pi_trainer_get_time_sampling(const pi_trainer_t *trainer,
                                              pi_time_sampling *sampling);
/** Log-normal σ̃ sampling: log σ̃ ~ N(P_mean, P_std²) (EDM's −1.2, 1.2 are the defaults). */
PI_API pi_status pi_trainer_set_lognormal(pi_trainer_t *trainer, double p_mean, double p_std);
/** Read back P_mean and P_std; either pointer may be NULL. */
PI_API pi_status pi_trainer_get_lognormal(const pi_trainer_t *trainer, double *p_mean,
                                          double *p_std);
/** Adam moments β1, β2 and ε (defaults and ranges: ::pi_option). */
PI_API pi_status pi_trainer_set_adam(pi_trainer_t *trainer, double beta1, double beta2,
                                     double eps);
/** Read back β1, β2 and ε; any pointer may be NULL. */
PI_API pi_status pi_trainer_get_adam(const pi_trainer_t *trainer, double *beta1, double *beta2,
                                     double *eps);
/**
 * Decoupled weight decay (AdamW, as torch.optim.AdamW): each step multiplies
 * every parameter, biases included, by (1 − lr_k · decay) before the Adam
 * update; 0 is plain Adam (default and range: ::pi_option).
 */
PI_API pi_status pi_trainer_set_weight_decay(pi_trainer_t *trainer, double decay);
/** Read back the weight decay. */
PI_API pi_status pi_trainer_get_weight_decay(const pi_trainer_t *trainer, double *decay);
/**
 * Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_): when
 * ‖g‖ > max_norm the gradient is scaled by max_norm/(‖g‖ + 1e-6); 0 disables
 * clipping (default and range: ::pi_option).
 */
PI_API pi_status pi_trainer_set_grad_clip(pi_trainer_t *trainer, double max_norm);
/** Read back the clipping norm (0 = off). */
PI_API pi_status pi_trainer_get_grad_clip(const pi_trainer_t *trainer, double *max_norm);
/**
 * EMA of weights: after step k (1, 2, ...) ema ← d·ema + (1 − d)·θ with the warmed-up
 * decay d = min(decay, (1 + k)/(10 + k)), so short runs are not dominated by the initial
 * weights (default and range: ::pi_option).
 */
PI_API pi_status pi_trainer_set_ema(pi_trainer_t *trainer, double decay);
/** Read back the EMA decay. */
PI_API pi_status pi_trainer_get_ema(const pi_trainer_t *trainer, double *decay);
/** Seed of every training draw (batches, times, noise) and of pi_trainer_loss(). */
PI_API pi_status pi_trainer_set_seed(pi_trainer_t *trainer, uint64_t seed);
/** Read back the seed. */
PI_API pi_status pi_trainer_get_seed(const pi_trainer_t *trainer, uint64_t *seed);
/** Threads of the forward and backward passes; results do not depend on it. */
PI_API pi_status pi_trainer_set_threads(pi_trainer_t *trainer, int threads);
/** Read back the thread count. */
PI_API pi_status pi_trainer_get_threads(const pi_trainer_t *trainer, int *threads);
/**
 * Progress callback of pi_trainer_fit().
 * @param[in] trainer The trainer.
 * @param[in] fn The callback; NULL removes it.
 * @param[in] user_data Borrowed; passed to fn.
 */
PI_API pi_status pi_trainer_set_callback(pi_trainer_t *trainer, pi_train_fn fn, void *user_data);
/** Read back the progress callback and its user data; either pointer may be NULL. */
PI_API pi_status pi_trainer_get_callback(const pi_trainer_t *trainer, pi_train_fn *fn,
                                         void **user_data);
/**
 * Ask a running pi_trainer_fit() to stop after its current step: it returns
 * #PI_ECANCELED with the EMA weights in the model, as when the callback stops it.
 * A cancel while idle does nothing.
 * @threadsafety Safe from any thread.
 */
PI_API pi_status pi_trainer_cancel(pi_trainer_t *trainer);
/** The model being trained (borrowed). */
PI_API pi_status pi_trainer_get_model(const pi_trainer_t *trainer, pi_model_t **model);
/**
 * One AdamW step on a batch drawn (with replacement) from data. The model
 * holds the raw training weights afterwards.
 * @param[in] trainer The trainer.
 * @param[in] n Rows of data, >= 1.
 * @param[in] data n × dim, finite (a bad row is named in the error); read
 *            during the call only. Validated in full on every call (O(n·dim)).
 * @param[out] loss_out The batch loss (may be NULL).
 * @return #PI_OK, #PI_EINVAL, #PI_EMISMATCH (the model's architecture
 *         changed), #PI_EUNSUPPORTED (SDE with σ̃(t_min) = 0), #PI_ENUMERIC
 *         (non-finite loss or gradient: nothing is updated, the step counter
 *         does not advance), #PI_ENOMEM.
 */
PI_API pi_status pi_trainer_step(pi_trainer_t *trainer, size_t n, const float *data,
                                 double *loss_out);
/**
 * Take @p steps AdamW steps (>= 1), calling the progress callback after each.
 * Afterwards the model holds the EMA weights, also when the fit stops early:
 * #PI_ECANCELED (callback) or #PI_ENUMERIC (divergence: the last good weights
 * are kept, the failing step is not counted). Other codes as pi_trainer_step().
 */
PI_API pi_status pi_trainer_fit(pi_trainer_t *trainer, size_t n, const float *data,
                                uint64_t steps);
/**
 * Probability that a training row of a conditional model takes the null
 * condition instead of its own (classifier-free guidance training: one
 * network learns the conditional and the unconditional prediction). Drawn
 * per row and step from the trainer's seed.
 */
PI_API pi_status pi_trainer_set_cond_dropout(pi_trainer_t *trainer, double p);
/** The condition dropout probability. */
PI_API pi_status pi_trainer_get_cond_dropout(const pi_trainer_t *trainer, double *p);
/**
 * pi_trainer_fit() of a conditional model with a condition per data row
 * (issue 15); each drawn row trains under its condition, or under the null
 * condition with the trainer's condition dropout probability.
 * @param[in] trainer The trainer.
 * @param[in] n Rows of data.
 * @param[in] data n × dim, finite.
 * @param[in] labels n classes in [0, k) (or #PI_COND_NULL), or NULL for a
 *            model without classes. Read during the call only.
 * @param[in] cond_dim The model's condition-vector length (0: none).
 * @param[in] cond n × cond_dim finite vectors, or NULL when cond_dim is 0.
 * @param[in] steps Steps, >= 1.
 * @return As pi_trainer_fit(); #PI_EINVAL for a label >= k, a wrong
 *         cond_dim, NaN in cond or an unconditional model (nothing changed).
 */
PI_API pi_status pi_trainer_fit_cond(pi_trainer_t *trainer, size_t n, const float *data,
                                     const int32_t *labels, size_t cond_dim, const float *cond,
                                     uint64_t steps);
/**
 * The trainer's loss (its weighting and time sampling) of the weights the
 * model holds now, averaged over all n points with @p samples (t, z) draws
 * each (in [1, 2^20]). Deterministic in the trainer's seed, so two calls on
 * the same data compare weights with the same draws.
 * @param[in] trainer The trainer.
 * @param[in] samples Draws per point, in [1, 2^20].
 * @param[in] n Rows of data, >= 1.
 * @param[in] data n × dim, finite.
 * @param[out] loss_out The mean loss; untouched on failure.
 */
PI_API pi_status pi_trainer_loss(pi_trainer_t *trainer, size_t samples, size_t n,
                                 const float *data, double *loss_out);
/** Steps taken so far (restored by pi_trainer_resume()). */
PI_API pi_status pi_trainer_get_step(const pi_trainer_t *trainer, uint64_t *step);
/**
 * Write a checkpoint: the MLP's architecture and SDE, raw and EMA weights,
 * Adam moments, step counter (the RNG position), seed and every option
 * (docs/training.md lists the format). The callback is not saved. Written to
 * a temporary name and renamed: a failed save leaves an existing file intact.
 * @return #PI_OK, #PI_EINVAL, #PI_EUNSUPPORTED (custom SDE), #PI_EIO, #PI_ENOMEM.
 */
PI_API pi_status pi_trainer_save(const pi_trainer_t *trainer, const char *path);
/**
 * Restore a checkpoint: a new model and a trainer on it, ready to continue.
 * Continuing gives bitwise the results of an uninterrupted run (same thread
 * count). The model holds what it held when saved (the EMA weights after
 * pi_trainer_fit()).
 * @param[in] path A file written by pi_trainer_save().
 * @param[out] model_out The new model; the caller destroys it after the trainer.
 * @param[out] out The new trainer.
 * @return #PI_OK, #PI_EINVAL, #PI_EIO, #PI_EFORMAT (corrupt or foreign file),
 *         #PI_ENOMEM. Both outputs are untouched on failure.
 */
PI_API pi_status pi_trainer_resume(const char *path, pi_model_t **model_out,
                                   pi_trainer_t **out);
/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup data Data sets and files
 * @code
 * float *data;
 * size_t n, dim;
 * pi_data_load("points.csv", &data, &n, &dim);            // .csv, .npy or .f32
 * pi_free(data);
 * float roll[4096 * 2];
 * pi_data_generate(PI_DATASET_SWISS_ROLL, 4096, 7, roll);  // built-in 2-D sets
 * @endcode
 *  @{ */

/** Built-in 2-D data sets (conventions in docs/training.md). */
typedef enum pi_dataset {
    PI_DATASET_SWISS_ROLL = 1,   /**< sklearn make_swiss_roll(noise 0.5): t = 1.5π(1 + 2u), (t cos t, t sin t) + N(0, 0.5²), / 6.865 (Hirono et al.). */
    PI_DATASET_GAUSSIANS_25 = 2, /**< 5×5 grid {−4, −2, 0, 2, 4}², std 0.05, all / 2.828 (Hirono et al.). */
    PI_DATASET_RING_8 = 3,       /**< 8 centres at radius 2, angles 2πk/8, std 0.02, all / 1.414. */
    PI_DATASET_MOONS = 4,        /**< sklearn make_moons(noise 0.05) with uniform angles, shifted by (−0.5, −0.25). */
    PI_DATASET_CHECKERBOARD = 5  /**< FFJORD's checkerboard: 8 squares of side 2 in [−4, 4]². */
} pi_dataset;

/**
 * Generate n points (n × 2 floats) of a built-in data set. Row i depends
 * only on (seed, i): the first rows of a large draw equal a small draw.
 * @param[in] dataset One of ::pi_dataset.
 * @param[in] n In [1, 2^39].
 * @param[in] seed Any value.
 * @param[out] out n × 2 floats; untouched on failure.
 */
PI_API pi_status pi_data_generate(pi_dataset dataset, size_t n, uint64_t seed, float *out);
/**
 * Load an n × dim float array from a file: `.npy` (versions 1.0–3.0, '<f4' or
 * '<f8', C order, 1-D → dim 1 or 2-D), `.csv` (comma-separated decimal
 * numbers, an optional header line of column names (each starting with a letter
 * or '_', optionally quoted; a first line that is neither numbers nor names is an
 * error naming its column), a UTF-8 byte-order mark skipped, blank lines skipped,
 * the same column count on every row; locale independent) or pathint's raw float32 (`.f32`: magic
 * "PIF32\0\0\0", u64 n, u64 dim, n·dim float32, all little-endian). The
 * content's magic number decides for .npy and .f32; otherwise a `.csv`
 * extension. Every value must be finite in float32. Sizes are checked
 * against the file length before anything is allocated.
 * @param[in] path The file.
 * @param[out] data Allocated by pathint; release with pi_free().
 * @param[out] n Rows.
 * @param[out] dim Columns.
 * @return #PI_OK, #PI_EINVAL, #PI_EIO, #PI_EFORMAT (with the line, row or
 *         field at fault), #PI_ENOMEM. Outputs untouched on failure.
 */
PI_API pi_status pi_data_load(const char *path, float **data, size_t *n, size_t *dim);
/**
 * Save an n × dim array (finite values); the format follows the extension
 * (.npy: v1.0 '<f4'; .csv: "%.9g", which round-trips float32; .f32). Written
 * to a temporary name and renamed: a failure never leaves a partial file.
 * @return #PI_OK, #PI_EINVAL (unknown extension, bad sizes, non-finite
 *         data), #PI_EIO, #PI_ENOMEM.
 */
PI_API pi_status pi_data_save(const char *path, size_t n, size_t dim, const float *data);
/** @} */

/* ------------------------------------------------------------------------ */
/** @defgroup options Defaults and bounds of every option
 * Each option of each handle has one key here. Its default and its valid range are stated
 * once, in this table (the setters' documentation does not repeat them), and the library
 * validates every setter against the same table, so what pi_option_info() reports is
 * exactly what the setters accept. Every option can also be
 * read back from its handle (`pi_X_get_Y` beside `pi_X_set_Y`). There is no "use the
 * default" sentinel: to restore a default, read it here and set it.
 *
 * | key | default | range |
 * |---|---|---|
 * | SAMPLER_HBAR | 0 | [0, 10⁶] |
 * | SAMPLER_METHOD | #PI_METHOD_EXP2M | a ::pi_method |
 * | SAMPLER_STEPS | 50 | [1, 2^24] |
 * | SAMPLER_SCHEDULE | #PI_SCHEDULE_UNIFORM_LAMBDA | a ::pi_schedule |
 * | SAMPLER_KARRAS_RHO | 7 | (0, 1e3] |
 * | SAMPLER_SEED | 0 | any uint64_t |
 * | SAMPLER_THREADS | 1 | [1, 256] |
 * | SAMPLER_DENOISE_FINAL | 0 | 0 or 1 |
 * | SAMPLER_NOISE | #PI_NOISE_STEP | a ::pi_noise |
 * | SAMPLER_RTOL, SAMPLER_ATOL | 1e-5, 1e-5 | (0, 1), (0, 1e6] |
 * | SAMPLER_CORRECTOR_STEPS | 0 | [0, 255] |
 * | SAMPLER_CORRECTOR_SNR | 0.16 | (0, 1e6] |
 * | LIKELIHOOD_DIVERGENCE | #PI_DIVERGENCE_EXACT | a ::pi_divergence |
 * | LIKELIHOOD_PROBES | 1 | [1, 4096] |
 * | LIKELIHOOD_RTOL, LIKELIHOOD_ATOL | 1e-6, 1e-8 | (0, 1), (0, 1e6] |
 * | LIKELIHOOD_WKB_ALGORITHM | #PI_WKB_ALGORITHM_SWEEP | a ::pi_wkb_algorithm |
 * | LIKELIHOOD_DEQUANTIZATION | 0 (off) | [0, 1e6] |
 * | LIKELIHOOD_SEED | 0 | any uint64_t |
 * | LIKELIHOOD_THREADS | 1 | [1, 256] |
 * | LIKELIHOOD_WKB_PROBES | 16 | [1, 4096] |
 * | MODEL_THREADS | 1 | [1, 256] |
 * | MLP_OUTPUT_VIEW | #PI_VIEW_EPS | #PI_VIEW_SCORE .. #PI_VIEW_DENOISED |
 * | MLP_EMBEDDING | #PI_EMBEDDING_LOG_SIGMA | a ::pi_embedding |
 * | MLP_EMBEDDING_FEATURES | 16 | even, [2, 4096] |
 * | MLP_PRECONDITIONING | #PI_PRECOND_NONE | a ::pi_precond |
 * | MLP_SIGMA_DATA | 0.5 | (0, 1e30] |
 * | TRAINER_LEARNING_RATE | 1e-3 | (0, 1000] |
 * | TRAINER_LR_SCHEDULE | #PI_LR_SCHEDULE_CONSTANT | a ::pi_lr_schedule |
 * | TRAINER_WARMUP_STEPS, TRAINER_TOTAL_STEPS | 0, 0 | [0, 2^53] |
 * | TRAINER_BATCH_SIZE | 256 | [1, 2^22] |
 * | TRAINER_WEIGHTING | #PI_WEIGHTING_LIKELIHOOD | a ::pi_weighting |
 * | TRAINER_TIME_SAMPLING | #PI_TIME_SAMPLING_UNIFORM | a ::pi_time_sampling |
 * | TRAINER_LOGNORMAL_MEAN, _STD | −1.2, 1.2 | [−100, 100], (0, 100] |
 * | TRAINER_ADAM_BETA1, _BETA2, _EPS | 0.9, 0.999, 1e-8 | [0, 1), [0, 1), (0, 1] |
 * | TRAINER_WEIGHT_DECAY | 0 | [0, 1000] |
 * | TRAINER_GRAD_CLIP | 0 (off) | [0, 1e30] |
 * | TRAINER_EMA | 0.999 | [0, 1) |
 * | TRAINER_SEED | 0 | any uint64_t |
 * | TRAINER_THREADS | 1 | [1, 256] |
 * | SAMPLER_FIRST_ROW, LIKELIHOOD_FIRST_ROW | 0 | any uint64_t |
 * | SAMPLER_GUIDANCE | 1 (none) | [0, 1e4] |
 * | SAMPLER_GUIDANCE_RESCALE | 0 (off) | [0, 1] |
 * | SAMPLER_GUIDANCE_SIGMA_MIN, _MAX | 0, 1e30 | [0, 1e30], min <= max |
 * | SAMPLER_CFGPP | 0 | 0 or 1 |
 * | TRAINER_COND_DROPOUT | 0.1 | [0, 1) |
 *
 * The sampler's time range defaults to the SDE's [t_min, T] and is bounded by it, so it is
 * not in the table (pi_sampler_get_time_range() reads it).
 *  @{ */

/** Keys of pi_option_info(). Values are part of the ABI. */
typedef enum pi_option {
    PI_OPTION_SAMPLER_HBAR = 1,
    PI_OPTION_SAMPLER_METHOD = 2,
    PI_OPTION_SAMPLER_STEPS = 3,
    PI_OPTION_SAMPLER_SCHEDULE = 4,
    PI_OPTION_SAMPLER_KARRAS_RHO = 5,
    PI_OPTION_SAMPLER_SEED = 6,
    PI_OPTION_SAMPLER_THREADS = 7,
    PI_OPTION_SAMPLER_DENOISE_FINAL = 8,
    PI_OPTION_SAMPLER_RTOL = 9,
    PI_OPTION_SAMPLER_ATOL = 10,
    PI_OPTION_SAMPLER_CORRECTOR_STEPS = 11,
    PI_OPTION_SAMPLER_CORRECTOR_SNR = 12,
    PI_OPTION_LIKELIHOOD_DIVERGENCE = 13,
    PI_OPTION_LIKELIHOOD_PROBES = 14,
    PI_OPTION_LIKELIHOOD_RTOL = 15,
    PI_OPTION_LIKELIHOOD_ATOL = 16,
    PI_OPTION_LIKELIHOOD_WKB_ALGORITHM = 17,
    PI_OPTION_LIKELIHOOD_DEQUANTIZATION = 18,
    PI_OPTION_LIKELIHOOD_SEED = 19,
    PI_OPTION_LIKELIHOOD_THREADS = 20,
    PI_OPTION_MODEL_THREADS = 21,
    PI_OPTION_MLP_OUTPUT_VIEW = 22,
    PI_OPTION_MLP_EMBEDDING = 23,
    PI_OPTION_MLP_EMBEDDING_FEATURES = 24,
    PI_OPTION_MLP_PRECONDITIONING = 25,
    PI_OPTION_MLP_SIGMA_DATA = 26,
    PI_OPTION_TRAINER_LEARNING_RATE = 27,
    PI_OPTION_TRAINER_LR_SCHEDULE = 28,
    PI_OPTION_TRAINER_WARMUP_STEPS = 29,
    PI_OPTION_TRAINER_TOTAL_STEPS = 30,
    PI_OPTION_TRAINER_BATCH_SIZE = 31,
    PI_OPTION_TRAINER_WEIGHTING = 32,
    PI_OPTION_TRAINER_TIME_SAMPLING = 33,
    PI_OPTION_TRAINER_LOGNORMAL_MEAN = 34,
    PI_OPTION_TRAINER_LOGNORMAL_STD = 35,
    PI_OPTION_TRAINER_ADAM_BETA1 = 36,
    PI_OPTION_TRAINER_ADAM_BETA2 = 37,
    PI_OPTION_TRAINER_ADAM_EPS = 38,
    PI_OPTION_TRAINER_WEIGHT_DECAY = 39,
    PI_OPTION_TRAINER_GRAD_CLIP = 40,
    PI_OPTION_TRAINER_EMA = 41,
    PI_OPTION_TRAINER_SEED = 42,
    PI_OPTION_TRAINER_THREADS = 43,
    PI_OPTION_SAMPLER_FIRST_ROW = 44,
    PI_OPTION_LIKELIHOOD_FIRST_ROW = 45,
    PI_OPTION_SAMPLER_GUIDANCE = 46,
    PI_OPTION_SAMPLER_GUIDANCE_RESCALE = 47,
    PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MIN = 48,
    PI_OPTION_SAMPLER_GUIDANCE_SIGMA_MAX = 49,
    PI_OPTION_SAMPLER_CFGPP = 50,
    PI_OPTION_TRAINER_COND_DROPOUT = 51,
    PI_OPTION_SAMPLER_NOISE = 52,
    PI_OPTION_LIKELIHOOD_WKB_PROBES = 53
} pi_option;

/** Flags of pi_option_info(). */
#define PI_OPTION_MIN_EXCLUSIVE 1u /**< The range excludes its minimum. */
#define PI_OPTION_MAX_EXCLUSIVE 2u /**< The range excludes its maximum. */
#define PI_OPTION_INTEGER 4u       /**< Integer-valued (counts, enums, flags, seeds). */
#define PI_OPTION_EVEN 8u          /**< Integer and even. */

/**
 * The name, default and valid range of an option. Iterate from key 1 until #PI_EINVAL to
 * list them all.
 * @param[in] option A ::pi_option key.
 * @param[out] name Its name as setters' messages spell it ("hbar", "rtol"); may be NULL.
 * @param[out] default_value The default; may be NULL.
 * @param[out] min,max The range; either may be NULL. Enum options give their first and
 *             last value; seeds 0 and 2^64 − 1 (as doubles).
 * @param[out] flags #PI_OPTION_MIN_EXCLUSIVE, #PI_OPTION_MAX_EXCLUSIVE, #PI_OPTION_INTEGER,
 *             #PI_OPTION_EVEN, or'ed; may be NULL.
 * @return #PI_OK, #PI_EINVAL for an unknown key.
 * @threadsafety Safe.
 */
PI_API pi_status pi_option_info(pi_option option, const char **name, double *default_value,
                                double *min, double *max, unsigned *flags);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* PATHINT_H */
