/**
 * @file pathint.hpp
 * @brief Header-only C++17 RAII wrapper of pathint.h.
 *
 * Design choices (see docs/embedding.md):
 * - **Ownership**: each class owns one C handle through std::unique_ptr, so objects are
 *   move-only and free their handle exactly once. Borrowing follows the C API: a sampler
 *   or trainer borrows its model, which must outlive it (as in C).
 * - **Errors are exceptions**: every failing call throws pathint::error, carrying the
 *   status code (status()) and the library's detailed message (what(), from
 *   pi_last_error()). Exceptions fit the intended use (setup, file I/O and runs that
 *   either work or are reported), and keep call sites short. Hot paths that must not
 *   throw can call the C API directly through get().
 * - **Callbacks** are std::function objects kept on the heap by the owning object (so
 *   moves do not invalidate the C user_data pointer). An exception thrown inside a
 *   callback never crosses the C library: it is caught, the C call is stopped, and the
 *   exception is rethrown, unchanged, when the C call returns.
 * - Arrays are row-major n × dim float, as in C; helpers return std::vector.
 * - **Options**: a setter is a method taking the value and returning *this (for chaining);
 *   the method of the same name without arguments reads the value back from the library
 *   (sampler.hbar(0.5); double h = sampler.hbar();). Defaults and ranges: option_info().
 */
#ifndef PATHINT_HPP
#define PATHINT_HPP

#include <pathint.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace pathint {

/** A failed pathint call: status() is the pi_status code, what() the detailed message. */
class error : public std::runtime_error {
public:
    error(pi_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    pi_status status() const noexcept { return status_; }
    /** The static description of the code (pi_status_string()). */
    const char *status_string() const noexcept { return pi_status_string(status_); }

private:
    pi_status status_;
};

namespace detail {

inline void check(pi_status status)
{
    if (status != PI_OK) {
        const char *detail = pi_last_error();
        throw error(status, detail && *detail ? std::string(detail) : std::string(pi_status_string(status)));
    }
}

/** Where a callback parks an exception until the C call returns. */
struct pending {
    std::exception_ptr exception;
    void rethrow_if_any()
    {
        if (exception) {
            std::exception_ptr e = exception;
            exception = nullptr;
            std::rethrow_exception(e);
        }
    }
};

/** Call a C function; a callback's exception takes precedence over the status it caused. */
template <class... Pendings>
void call(pi_status status, Pendings *...pendings)
{
    if (status != PI_OK)
        (void)std::initializer_list<int>{(pendings ? (pendings->rethrow_if_any(), 0) : 0)...};
    check(status);
}

struct sde_deleter {
    void operator()(pi_sde_t *p) const noexcept { pi_sde_destroy(p); }
};
struct model_deleter {
    void operator()(pi_model_t *p) const noexcept { pi_model_destroy(p); }
};
struct sampler_deleter {
    void operator()(pi_sampler_t *p) const noexcept { pi_sampler_destroy(p); }
};
struct likelihood_deleter {
    void operator()(pi_likelihood_t *p) const noexcept { pi_likelihood_destroy(p); }
};
struct trainer_deleter {
    void operator()(pi_trainer_t *p) const noexcept { pi_trainer_destroy(p); }
};
struct free_deleter {
    void operator()(float *p) const noexcept { pi_free(p); }
};

} // namespace detail

/** The library's version string (may differ from the header's PI_VERSION_STRING). */
inline std::string version() { return pi_version_string(); }

/** One row of the library's option table (pi_option_info()). */
struct option_description {
    std::string name;      /**< the setter's argument as messages spell it */
    double default_value;  /**< what a new handle reads back */
    double min, max;       /**< the range (see flags for exclusive ends) */
    unsigned flags;        /**< PI_OPTION_MIN_EXCLUSIVE | PI_OPTION_MAX_EXCLUSIVE | PI_OPTION_INTEGER | PI_OPTION_EVEN */
};
/** The default and range of an option; throws for an unknown key. */
inline option_description option_info(pi_option key)
{
    const char *name = nullptr;
    option_description d{};
    detail::check(pi_option_info(key, &name, &d.default_value, &d.min, &d.max, &d.flags));
    d.name = name;
    return d;
}
/** Bits per dimension of an NLL in nats (pi_bits_per_dim()). */
inline double bits_per_dim(double nll, std::size_t dim, double scale = 1.0)
{
    double out = 0;
    detail::check(pi_bits_per_dim(nll, dim, scale, &out));
    return out;
}

namespace detail {
/** Read one value through a getter pi_X_get_Y(handle, &value). */
template <class T, class H, class F>
T get(F fn, H *handle)
{
    T value{};
    check(fn(handle, &value));
    return value;
}
} // namespace detail

/* ------------------------------------------------------------------------------------- */
/** A forward SDE (pi_sde_t). */
class sde {
public:
    explicit sde(pi_sde_kind kind = PI_SDE_KIND_VP_LINEAR)
    {
        pi_sde_t *p = nullptr;
        detail::check(pi_sde_create(kind, &p));
        p_.reset(p);
    }
    /** Take ownership of a C handle. */
    static sde adopt(pi_sde_t *p)
    {
        sde s(nullptr);
        s.p_.reset(p);
        return s;
    }

    sde clone() const
    {
        pi_sde_t *p = nullptr;
        detail::check(pi_sde_clone(p_.get(), &p));
        return adopt(p);
    }
    /** Set a parameter; returns *this for chaining: sde(PI_SDE_KIND_VP_LINEAR).set(PI_SDE_PARAM_BETA_MIN, 0). */
    sde &set(pi_sde_param param, double value)
    {
        detail::check(pi_sde_set_param(p_.get(), param, value));
        return *this;
    }
    double get(pi_sde_param param) const
    {
        double v = 0;
        detail::check(pi_sde_get_param(p_.get(), param, &v));
        return v;
    }
    pi_sde_kind kind() const
    {
        pi_sde_kind k{};
        detail::check(pi_sde_get_kind(p_.get(), &k));
        return k;
    }
    /** {α(t), σ(t)}. */
    std::pair<double, double> marginal(double t) const
    {
        double a = 0, s = 0;
        detail::check(pi_sde_marginal(p_.get(), t, &a, &s));
        return {a, s};
    }
    /** {f(t), g(t)}. */
    std::pair<double, double> coefficients(double t) const
    {
        double f = 0, g = 0;
        detail::check(pi_sde_coefficients(p_.get(), t, &f, &g));
        return {f, g};
    }
    /** {t_min, T}. */
    std::pair<double, double> time_range() const
    {
        double a = 0, b = 0;
        detail::check(pi_sde_time_range(p_.get(), &a, &b));
        return {a, b};
    }
    double prior_std() const
    {
        double s = 0;
        detail::check(pi_sde_prior_std(p_.get(), &s));
        return s;
    }
    std::vector<float> prior_sample(std::size_t n, std::size_t dim, std::uint64_t seed) const
    {
        std::vector<float> out(n * dim);
        detail::check(pi_sde_prior_sample(p_.get(), n, dim, seed, out.data()));
        return out;
    }

    /** A discrete-time SDE from a table of ᾱ (pi_sde_create_discrete()). */
    static sde discrete(const std::vector<double> &alphas_cumprod)
    {
        pi_sde_t *p = nullptr;
        detail::check(pi_sde_create_discrete(alphas_cumprod.data(), alphas_cumprod.size(), &p));
        return adopt(p);
    }
    /** A discrete-time SDE from a named β schedule (pi_sde_create_beta_schedule()). */
    static sde beta_schedule(pi_beta_schedule schedule, std::size_t n = 1000,
                             double beta_start = 0.00085, double beta_end = 0.012,
                             unsigned flags = 0)
    {
        pi_sde_t *p = nullptr;
        detail::check(pi_sde_create_beta_schedule(schedule, n, beta_start, beta_end, flags, &p));
        return adopt(p);
    }
    /** The ᾱ table of a discrete SDE. */
    std::vector<double> alphas_cumprod() const
    {
        std::size_t n = 0;
        detail::check(pi_sde_get_alphas_cumprod(p_.get(), 0, nullptr, &n));
        std::vector<double> out(n);
        detail::check(pi_sde_get_alphas_cumprod(p_.get(), out.size(), out.data(), &n));
        return out;
    }
    /** The host network's timestep at t (discrete: tN − 1; rectified flow: 1000 t). */
    double timestep(double t) const
    {
        double v = 0;
        detail::check(pi_sde_timestep_from_time(p_.get(), t, &v));
        return v;
    }
    double time_from_timestep(double timestep) const
    {
        double v = 0;
        detail::check(pi_sde_time_from_timestep(p_.get(), timestep, &v));
        return v;
    }
    /** Sampler times for @p steps host timesteps in diffusers' spacing. */
    std::vector<double> discrete_times(pi_timestep_spacing spacing, std::size_t steps,
                                       std::size_t steps_offset = 0) const
    {
        std::vector<double> out(steps + 1);
        std::size_t count = 0;
        detail::check(pi_sde_discrete_times(p_.get(), spacing, steps, steps_offset, out.size(),
                                            out.data(), &count));
        out.resize(count);
        return out;
    }
    /** Shift times in place: σ̃ ↦ shift · σ̃ (pi_sde_shift_times()). */
    void shift_times(std::vector<double> &times, double shift) const
    {
        detail::check(pi_sde_shift_times(p_.get(), shift, times.size(), times.data()));
    }

    pi_sde_t *get() const noexcept { return p_.get(); }

private:
    explicit sde(std::nullptr_t) {}
    std::unique_ptr<pi_sde_t, detail::sde_deleter> p_;
};

/* ------------------------------------------------------------------------------------- */
/** A score model (pi_model_t). Immutable after creation: may be shared by threads. */
class model {
public:
    /** fn(n, dim, x, t, out): fill out (n × dim) in the view given at creation. */
    using function = std::function<void(std::size_t n, std::size_t dim, const float *x, const double *t, float *out)>;

    static model gmm(const sde &s, std::size_t dim, const std::vector<double> &weights,
                     const std::vector<double> &means, const std::vector<double> &vars)
    {
        if (means.size() != weights.size() * dim || vars.size() != means.size())
            throw error(PI_EINVAL, "pathint::model::gmm: means and vars must hold weights.size() * dim values");
        pi_model_t *p = nullptr;
        detail::check(pi_model_create_gmm(s.get(), dim, weights.size(), weights.data(), means.data(),
                                          vars.data(), &p));
        return model(p);
    }
    static model empirical(const sde &s, std::size_t dim, std::size_t n, const float *data)
    {
        pi_model_t *p = nullptr;
        detail::check(pi_model_create_empirical(s.get(), dim, n, data, &p));
        return model(p);
    }
    static model mlp(const sde &s, std::size_t dim, std::size_t width, std::size_t layers)
    {
        pi_model_t *p = nullptr;
        detail::check(pi_model_create_mlp(s.get(), dim, width, layers, &p));
        return model(p);
    }
    /** A conditional MLP: @p classes labels and/or a condition vector of @p cond_dim values
     *  (pi_model_create_mlp_cond; docs/training.md). */
    static model mlp_cond(const sde &s, std::size_t dim, std::size_t width, std::size_t layers,
                          std::size_t classes, std::size_t cond_dim)
    {
        pi_model_t *p = nullptr;
        detail::check(pi_model_create_mlp_cond(s.get(), dim, width, layers, classes, cond_dim, &p));
        return model(p);
    }
    /** A model backed by a C++ function (kept alive by the model). */
    static model callback(const sde &s, std::size_t dim, pi_view view, function fn)
    {
        auto state = std::make_shared<callback_state>();
        state->fn = std::move(fn);
        pi_model_t *p = nullptr;
        detail::check(pi_model_create_callback(s.get(), dim, view, &model::trampoline, state.get(), &p));
        model m(p);
        m.state_ = std::move(state);
        return m;
    }
    static model load(const std::string &path)
    {
        pi_model_t *p = nullptr;
        detail::check(pi_model_load(path.c_str(), &p));
        return model(p);
    }
    /** Take ownership of a C handle. */
    static model adopt(pi_model_t *p) { return model(p); }

    void save(const std::string &path) const { detail::check(pi_model_save(p_.get(), path.c_str())); }

    std::size_t dim() const
    {
        std::size_t d = 0;
        detail::check(pi_model_get_dim(p_.get(), &d));
        return d;
    }
    pi_model_kind kind() const
    {
        pi_model_kind k{};
        detail::check(pi_model_get_kind(p_.get(), &k));
        return k;
    }
    /** Re-initialise an MLP's weights from a seed. */
    model &init(std::uint64_t seed)
    {
        detail::check(pi_model_mlp_init(p_.get(), seed));
        return *this;
    }
    model &threads(int k)
    {
        detail::check(pi_model_set_threads(p_.get(), k));
        return *this;
    }
    int threads() const { return detail::get<int>(pi_model_get_threads, p_.get()); }
    /** MLP options (pathint::error with PI_EUNSUPPORTED for other kinds). */
    model &output_view(pi_view view)
    {
        detail::check(pi_model_mlp_set_output_view(p_.get(), view));
        return *this;
    }
    pi_view output_view() const { return detail::get<pi_view>(pi_model_mlp_get_output_view, p_.get()); }
    model &embedding(pi_embedding kind, std::size_t features)
    {
        detail::check(pi_model_mlp_set_embedding(p_.get(), kind, features));
        return *this;
    }
    /** {kind, features}. */
    std::pair<pi_embedding, std::size_t> embedding() const
    {
        pi_embedding k{};
        std::size_t f = 0;
        detail::check(pi_model_mlp_get_embedding(p_.get(), &k, &f));
        return {k, f};
    }
    model &preconditioning(pi_precond mode, double sigma_data)
    {
        detail::check(pi_model_mlp_set_preconditioning(p_.get(), mode, sigma_data));
        return *this;
    }
    /** {mode, sigma_data}. */
    std::pair<pi_precond, double> preconditioning() const
    {
        pi_precond m{};
        double sd = 0;
        detail::check(pi_model_mlp_get_preconditioning(p_.get(), &m, &sd));
        return {m, sd};
    }
    /** {hidden_width, hidden_layers}. */
    std::pair<std::size_t, std::size_t> shape() const
    {
        std::size_t w = 0, l = 0;
        detail::check(pi_model_mlp_get_shape(p_.get(), &w, &l));
        return {w, l};
    }
    /** Evaluate n points at one time t into out (n × dim). */
    void eval(pi_view view, std::size_t n, const float *x, double t, float *out) const
    {
        detail::call(pi_model_eval_at(p_.get(), view, n, x, t, out), pending());
    }
    std::vector<float> eval(pi_view view, const std::vector<float> &x, double t) const
    {
        std::vector<float> out(x.size());
        eval(view, x.size() / dim(), x.data(), t, out.data());
        return out;
    }
    std::size_t num_params() const
    {
        std::size_t n = 0;
        detail::check(pi_model_get_num_params(p_.get(), &n));
        return n;
    }
    /** A copy of the trainable parameters. */
    std::vector<float> params() const
    {
        std::vector<float> out(num_params());
        std::size_t count = 0;
        detail::check(pi_model_get_params(p_.get(), out.size(), out.data(), &count));
        out.resize(count);
        return out;
    }
    model &params(const std::vector<float> &values)
    {
        detail::check(pi_model_set_params(p_.get(), values.size(), values.data()));
        return *this;
    }

    pi_model_t *get() const noexcept { return p_.get(); }
    /** Where this model's callback parks exceptions (nullptr for other kinds). */
    detail::pending *pending() const noexcept { return state_ ? &state_->errors : nullptr; }

private:
    struct callback_state {
        function fn;
        detail::pending errors;
    };
    explicit model(pi_model_t *p) : state_(), p_(p) {}
    static int trampoline(std::size_t n, std::size_t dim, const float *x, const double *t, float *out, void *user)
    {
        auto *state = static_cast<callback_state *>(user);
        try {
            state->fn(n, dim, x, t, out);
            return 0;
        } catch (...) {
            if (!state->errors.exception)
                state->errors.exception = std::current_exception();
            return 1;
        }
    }
    std::shared_ptr<callback_state> state_; // declared first: destroyed after the handle
    std::unique_ptr<pi_model_t, detail::model_deleter> p_;
};

/* ------------------------------------------------------------------------------------- */
/** The ħ sampler (pi_sampler_t). One thread at a time; cancel() from any thread. */
class sampler {
public:
    /** on_step(step, nsteps, t, n, dim, x, denoised) -> true to cancel. */
    using step_function = std::function<bool(std::size_t step, std::size_t nsteps, double t, std::size_t n,
                                             std::size_t dim, const float *x, const float *denoised)>;

    /** Borrows @p m, which must outlive the sampler. */
    explicit sampler(const model &m) : model_pending_(m.pending()), state_(std::make_unique<step_state>())
    {
        pi_sampler_t *p = nullptr;
        detail::check(pi_sampler_create(m.get(), &p));
        p_.reset(p);
        dim_ = m.dim();
    }

    sampler &hbar(double h)
    {
        detail::check(pi_sampler_set_hbar(p_.get(), h));
        return *this;
    }
    double hbar() const { return detail::get<double>(pi_sampler_get_hbar, p_.get()); }
    /** Classifier-free guidance scale w (1: none; docs/samplers.md). */
    sampler &guidance(double w)
    {
        detail::check(pi_sampler_set_guidance(p_.get(), w));
        return *this;
    }
    double guidance() const { return detail::get<double>(pi_sampler_get_guidance, p_.get()); }
    /** Per-row labels (and/or condition vectors) of the following runs; n = 0 clears them. */
    sampler &conditions(std::size_t n, const std::int32_t *labels, std::size_t cond_dim = 0,
                        const float *cond = nullptr)
    {
        detail::check(pi_sampler_set_conditions(p_.get(), n, labels, cond_dim, cond, nullptr));
        return *this;
    }
    /** Inpainting data (n × dim known values and mask weights in [0, 1]); n = 0 clears. */
    sampler &inpainting(std::size_t n, const float *known, const float *mask)
    {
        detail::check(pi_sampler_set_inpainting(p_.get(), n, known, mask));
        return *this;
    }
    sampler &method(pi_method m)
    {
        detail::check(pi_sampler_set_method(p_.get(), m));
        return *this;
    }
    pi_method method() const { return detail::get<pi_method>(pi_sampler_get_method, p_.get()); }
    sampler &steps(std::size_t n)
    {
        detail::check(pi_sampler_set_steps(p_.get(), n));
        return *this;
    }
    std::size_t steps() const { return detail::get<std::size_t>(pi_sampler_get_steps, p_.get()); }
    /** The schedule and Karras' ρ (7 by default, the library's default; other schedules keep it). */
    sampler &schedule(pi_schedule s, double rho)
    {
        detail::check(pi_sampler_set_schedule(p_.get(), s, rho));
        return *this;
    }
    /** The schedule, keeping the sampler's ρ. */
    sampler &schedule(pi_schedule s) { return schedule(s, schedule().second); }
    /** {schedule, ρ}. */
    std::pair<pi_schedule, double> schedule() const
    {
        pi_schedule s{};
        double rho = 0;
        detail::check(pi_sampler_get_schedule(p_.get(), &s, &rho));
        return {s, rho};
    }
    sampler &times(const std::vector<double> &t)
    {
        detail::check(pi_sampler_set_times(p_.get(), t.data(), t.size()));
        return *this;
    }
    /** The current schedule as steps + 1 times. */
    std::vector<double> times() const
    {
        std::size_t count = 0;
        detail::check(pi_sampler_get_times(p_.get(), 0, nullptr, &count));
        std::vector<double> out(count);
        detail::check(pi_sampler_get_times(p_.get(), out.size(), out.data(), &count));
        out.resize(count);
        return out;
    }
    sampler &time_range(double t_start, double t_end)
    {
        detail::check(pi_sampler_set_time_range(p_.get(), t_start, t_end));
        return *this;
    }
    /** {t_start, t_end}. */
    std::pair<double, double> time_range() const
    {
        double a = 0, b = 0;
        detail::check(pi_sampler_get_time_range(p_.get(), &a, &b));
        return {a, b};
    }
    sampler &seed(std::uint64_t s)
    {
        detail::check(pi_sampler_set_seed(p_.get(), s));
        return *this;
    }
    std::uint64_t seed() const { return detail::get<std::uint64_t>(pi_sampler_get_seed, p_.get()); }
    sampler &threads(int k)
    {
        detail::check(pi_sampler_set_threads(p_.get(), k));
        return *this;
    }
    int threads() const { return detail::get<int>(pi_sampler_get_threads, p_.get()); }
    sampler &denoise_final(bool on)
    {
        detail::check(pi_sampler_set_denoise_final(p_.get(), on ? 1 : 0));
        return *this;
    }
    bool denoise_final() const { return detail::get<int>(pi_sampler_get_denoise_final, p_.get()) != 0; }
    /** Step noise of ħ > 0: step-keyed or one Brownian path per (seed, row). */
    sampler &noise(pi_noise kind)
    {
        detail::check(pi_sampler_set_noise(p_.get(), kind));
        return *this;
    }
    pi_noise noise() const { return detail::get<pi_noise>(pi_sampler_get_noise, p_.get()); }
    /** Tolerances of #PI_METHOD_RK45. */
    sampler &tolerances(double rtol, double atol)
    {
        detail::check(pi_sampler_set_tolerances(p_.get(), rtol, atol));
        return *this;
    }
    /** {rtol, atol}. */
    std::pair<double, double> tolerances() const
    {
        double r = 0, a = 0;
        detail::check(pi_sampler_get_tolerances(p_.get(), &r, &a));
        return {r, a};
    }
    /** Langevin corrector steps per step (0 = none) and signal-to-noise ratio. */
    sampler &corrector(std::size_t steps, double snr)
    {
        detail::check(pi_sampler_set_corrector(p_.get(), steps, snr));
        return *this;
    }
    /** {steps, snr}. */
    std::pair<std::size_t, double> corrector() const
    {
        std::size_t n = 0;
        double snr = 0;
        detail::check(pi_sampler_get_corrector(p_.get(), &n, &snr));
        return {n, snr};
    }
    /** A per-step function (an empty function removes it). */
    sampler &on_step(step_function fn)
    {
        state_->fn = std::move(fn);
        if (state_->fn)
            detail::check(pi_sampler_set_callback(p_.get(), &sampler::trampoline, state_.get()));
        else
            detail::check(pi_sampler_set_callback(p_.get(), nullptr, nullptr));
        return *this;
    }
    /** Stop a running run() at its next step; safe from any thread. */
    void cancel() noexcept { pi_sampler_cancel(p_.get()); }

    /** n samples into out (n × dim). */
    void run(std::size_t n, float *out)
    {
        detail::call(pi_sampler_run(p_.get(), n, out), &state_->errors, model_pending_);
    }
    std::vector<float> run(std::size_t n)
    {
        std::vector<float> out(n * dim_);
        run(n, out.data());
        return out;
    }
    /** Integrate states x (n × dim, in place) from t_start down to t_min. */
    void run_from(double t_start, std::size_t n, float *x)
    {
        detail::call(pi_sampler_run_from(p_.get(), t_start, n, x), &state_->errors, model_pending_);
    }

    /** {nfe, accepted, rejected} of the last run. */
    std::tuple<std::size_t, std::size_t, std::size_t> stats() const
    {
        std::size_t a = 0, b = 0, c = 0;
        detail::check(pi_sampler_get_stats(p_.get(), &a, &b, &c));
        return {a, b, c};
    }

    pi_sampler_t *get() const noexcept { return p_.get(); }

private:
    struct step_state {
        step_function fn;
        detail::pending errors;
    };
    static int trampoline(std::size_t step, std::size_t nsteps, double t, std::size_t n, std::size_t dim,
                          const float *x, const float *denoised, void *user)
    {
        auto *state = static_cast<step_state *>(user);
        try {
            return state->fn(step, nsteps, t, n, dim, x, denoised) ? 1 : 0;
        } catch (...) {
            state->errors.exception = std::current_exception();
            return 1;
        }
    }
    detail::pending *model_pending_;
    std::unique_ptr<step_state> state_;
    std::unique_ptr<pi_sampler_t, detail::sampler_deleter> p_;
    std::size_t dim_ = 0;
};

/* ------------------------------------------------------------------------------------- */
/** NLL₀ and its WKB slope (pi_likelihood_t). One thread at a time; cancel() from any thread. */
class likelihood {
public:
    /** progress(done, n) -> true to stop. */
    using progress_function = std::function<bool(std::size_t done, std::size_t n)>;

    /** Borrows @p m, which must outlive the handle. */
    explicit likelihood(const model &m) : model_pending_(m.pending()), state_(std::make_unique<progress_state>())
    {
        pi_likelihood_t *p = nullptr;
        detail::check(pi_likelihood_create(m.get(), &p));
        p_.reset(p);
    }

    likelihood &divergence(pi_divergence mode, std::size_t probes)
    {
        detail::check(pi_likelihood_set_divergence(p_.get(), mode, probes));
        return *this;
    }
    /** The divergence mode, keeping the probe count. */
    likelihood &divergence(pi_divergence mode) { return divergence(mode, divergence().second); }
    /** {mode, probes}. */
    std::pair<pi_divergence, std::size_t> divergence() const
    {
        pi_divergence m{};
        std::size_t probes = 0;
        detail::check(pi_likelihood_get_divergence(p_.get(), &m, &probes));
        return {m, probes};
    }
    likelihood &tolerances(double rtol, double atol)
    {
        detail::check(pi_likelihood_set_tolerances(p_.get(), rtol, atol));
        return *this;
    }
    /** {rtol, atol}. */
    std::pair<double, double> tolerances() const
    {
        double r = 0, a = 0;
        detail::check(pi_likelihood_get_tolerances(p_.get(), &r, &a));
        return {r, a};
    }
    likelihood &wkb_algorithm(pi_wkb_algorithm a)
    {
        detail::check(pi_likelihood_set_wkb_algorithm(p_.get(), a));
        return *this;
    }
    pi_wkb_algorithm wkb_algorithm() const
    {
        return detail::get<pi_wkb_algorithm>(pi_likelihood_get_wkb_algorithm, p_.get());
    }
    likelihood &dequantization(double bin_width)
    {
        detail::check(pi_likelihood_set_dequantization(p_.get(), bin_width));
        return *this;
    }
    double dequantization() const { return detail::get<double>(pi_likelihood_get_dequantization, p_.get()); }
    likelihood &seed(std::uint64_t s)
    {
        detail::check(pi_likelihood_set_seed(p_.get(), s));
        return *this;
    }
    std::uint64_t seed() const { return detail::get<std::uint64_t>(pi_likelihood_get_seed, p_.get()); }
    likelihood &threads(int k)
    {
        detail::check(pi_likelihood_set_threads(p_.get(), k));
        return *this;
    }
    int threads() const { return detail::get<int>(pi_likelihood_get_threads, p_.get()); }
    /** Progress callback (an empty function removes it); exceptions it throws are rethrown. */
    likelihood &on_progress(progress_function fn)
    {
        state_->fn = std::move(fn);
        if (state_->fn)
            detail::check(pi_likelihood_set_callback(p_.get(), &trampoline, state_.get()));
        else
            detail::check(pi_likelihood_set_callback(p_.get(), nullptr, nullptr));
        return *this;
    }
    /** Stop a running computation between points; safe from any thread. */
    void cancel() noexcept { pi_likelihood_cancel(p_.get()); }

    struct result {
        std::vector<double> nll0; /**< −log q⁰(x) per point, nats */
        std::vector<double> c1;   /**< WKB coefficient: NLL(ħ) ≈ nll0 − ħ c1 (empty without c1) */
    };
    /** NLL₀ (and c1 when @p with_c1) of n points x (n × dim). */
    result nll(std::size_t n, const float *x, bool with_c1 = true)
    {
        result r;
        r.nll0.resize(n);
        if (with_c1)
            r.c1.resize(n);
        detail::call(pi_likelihood_nll(p_.get(), n, x, r.nll0.data(), with_c1 ? r.c1.data() : nullptr),
                     &state_->errors, model_pending_);
        return r;
    }
    /** NLL₀ − ħ c1 of n points. */
    std::vector<double> nll_hbar(double hbar, std::size_t n, const float *x)
    {
        std::vector<double> out(n);
        detail::call(pi_likelihood_nll_hbar(p_.get(), hbar, n, x, out.data()), &state_->errors, model_pending_);
        return out;
    }

    struct diagnostics : result {
        std::vector<std::size_t> nfe; /**< network evaluations per point */
        std::vector<pi_status> status; /**< each point's status (failed or canceled points are NaN) */
    };
    /**
     * nll() with per-point diagnostics. Per-point failures and cancellation do not throw
     * (status says which points ran); failures before any point ran, and exceptions of the
     * progress or model callback, do.
     */
    diagnostics nll_ex(std::size_t n, const float *x, bool with_c1 = true)
    {
        diagnostics d;
        d.nll0.resize(n);
        if (with_c1)
            d.c1.resize(n);
        d.nfe.assign(n, 0);
        const pi_status not_reached = 1; // no pi_status is positive
        d.status.assign(n, not_reached);
        pi_status st = pi_likelihood_nll_ex(p_.get(), n, x, d.nll0.data(), with_c1 ? d.c1.data() : nullptr,
                                            d.nfe.data(), d.status.data());
        if (st != PI_OK && (n == 0 || d.status[0] == not_reached))
            detail::call(st, &state_->errors, model_pending_);
        state_->errors.rethrow_if_any();
        if (model_pending_)
            model_pending_->rethrow_if_any();
        return d;
    }

    /** {bound, stderr}: the action bound on −log q¹ (ħ = 1) of n points, nats per point,
     *  with @p samples (t, z) draws each; deterministic in seed(), uses threads(). */
    std::pair<double, double> action_bound(std::size_t n, const float *data, std::size_t samples = 16)
    {
        double b = 0, se = 0;
        detail::call(pi_likelihood_action_bound(p_.get(), samples, n, data, &b, &se), model_pending_);
        return {b, se};
    }

    pi_likelihood_t *get() const noexcept { return p_.get(); }

private:
    struct progress_state {
        progress_function fn;
        detail::pending errors;
    };
    static int trampoline(std::size_t done, std::size_t n, void *user)
    {
        auto *state = static_cast<progress_state *>(user);
        try {
            return state->fn(done, n) ? 1 : 0;
        } catch (...) {
            if (!state->errors.exception)
                state->errors.exception = std::current_exception();
            return 1;
        }
    }
    detail::pending *model_pending_;
    std::unique_ptr<progress_state> state_;
    std::unique_ptr<pi_likelihood_t, detail::likelihood_deleter> p_;
};

/* ------------------------------------------------------------------------------------- */
/** Denoising score matching for an MLP model (pi_trainer_t), which it borrows and updates. */
class trainer {
public:
    /** progress(step, loss, ema_loss, steps_per_second) -> true to cancel. */
    using progress_function = std::function<bool(std::uint64_t step, double loss, double ema_loss, double rate)>;

    explicit trainer(model &m) : state_(std::make_unique<progress_state>())
    {
        pi_trainer_t *p = nullptr;
        detail::check(pi_trainer_create(m.get(), &p));
        p_.reset(p);
    }
    trainer &learning_rate(double lr)
    {
        detail::check(pi_trainer_set_learning_rate(p_.get(), lr));
        return *this;
    }
    double learning_rate() const { return detail::get<double>(pi_trainer_get_learning_rate, p_.get()); }
    trainer &lr_schedule(pi_lr_schedule s, std::uint64_t warmup, std::uint64_t total)
    {
        detail::check(pi_trainer_set_lr_schedule(p_.get(), s, warmup, total));
        return *this;
    }
    /** {schedule, warmup_steps, total_steps}. */
    std::tuple<pi_lr_schedule, std::uint64_t, std::uint64_t> lr_schedule() const
    {
        pi_lr_schedule s{};
        std::uint64_t w = 0, t = 0;
        detail::check(pi_trainer_get_lr_schedule(p_.get(), &s, &w, &t));
        return {s, w, t};
    }
    trainer &batch_size(std::size_t b)
    {
        detail::check(pi_trainer_set_batch_size(p_.get(), b));
        return *this;
    }
    std::size_t batch_size() const { return detail::get<std::size_t>(pi_trainer_get_batch_size, p_.get()); }
    trainer &weighting(pi_weighting w)
    {
        detail::check(pi_trainer_set_weighting(p_.get(), w));
        return *this;
    }
    pi_weighting weighting() const { return detail::get<pi_weighting>(pi_trainer_get_weighting, p_.get()); }
    trainer &time_sampling(pi_time_sampling s)
    {
        detail::check(pi_trainer_set_time_sampling(p_.get(), s));
        return *this;
    }
    pi_time_sampling time_sampling() const
    {
        return detail::get<pi_time_sampling>(pi_trainer_get_time_sampling, p_.get());
    }
    trainer &lognormal(double p_mean, double p_std)
    {
        detail::check(pi_trainer_set_lognormal(p_.get(), p_mean, p_std));
        return *this;
    }
    /** {P_mean, P_std}. */
    std::pair<double, double> lognormal() const
    {
        double m = 0, s = 0;
        detail::check(pi_trainer_get_lognormal(p_.get(), &m, &s));
        return {m, s};
    }
    trainer &adam(double beta1, double beta2, double eps)
    {
        detail::check(pi_trainer_set_adam(p_.get(), beta1, beta2, eps));
        return *this;
    }
    /** {β1, β2, ε}. */
    std::tuple<double, double, double> adam() const
    {
        double b1 = 0, b2 = 0, eps = 0;
        detail::check(pi_trainer_get_adam(p_.get(), &b1, &b2, &eps));
        return {b1, b2, eps};
    }
    trainer &weight_decay(double decay)
    {
        detail::check(pi_trainer_set_weight_decay(p_.get(), decay));
        return *this;
    }
    double weight_decay() const { return detail::get<double>(pi_trainer_get_weight_decay, p_.get()); }
    trainer &grad_clip(double max_norm)
    {
        detail::check(pi_trainer_set_grad_clip(p_.get(), max_norm));
        return *this;
    }
    double grad_clip() const { return detail::get<double>(pi_trainer_get_grad_clip, p_.get()); }
    trainer &ema(double decay)
    {
        detail::check(pi_trainer_set_ema(p_.get(), decay));
        return *this;
    }
    double ema() const { return detail::get<double>(pi_trainer_get_ema, p_.get()); }
    trainer &seed(std::uint64_t s)
    {
        detail::check(pi_trainer_set_seed(p_.get(), s));
        return *this;
    }
    std::uint64_t seed() const { return detail::get<std::uint64_t>(pi_trainer_get_seed, p_.get()); }
    trainer &threads(int k)
    {
        detail::check(pi_trainer_set_threads(p_.get(), k));
        return *this;
    }
    int threads() const { return detail::get<int>(pi_trainer_get_threads, p_.get()); }
    trainer &on_progress(progress_function fn)
    {
        state_->fn = std::move(fn);
        if (state_->fn)
            detail::check(pi_trainer_set_callback(p_.get(), &trainer::trampoline, state_.get()));
        else
            detail::check(pi_trainer_set_callback(p_.get(), nullptr, nullptr));
        return *this;
    }
    /** Stop a running fit() after its current step (it then throws PI_ECANCELED); safe from any
     *  thread. A cancel while idle does nothing. */
    void cancel() noexcept { pi_trainer_cancel(p_.get()); }
    /** @p steps Adam steps on n points (n × dim); afterwards the model holds the EMA weights. */
    void fit(std::size_t n, const float *data, std::uint64_t steps)
    {
        detail::call(pi_trainer_fit(p_.get(), n, data, steps), &state_->errors);
    }
    /** fit() of a conditional model with one label per data row (pi_trainer_fit_cond). */
    void fit(std::size_t n, const float *data, const std::int32_t *labels, std::uint64_t steps)
    {
        detail::call(pi_trainer_fit_cond(p_.get(), n, data, labels, 0, nullptr, steps), &state_->errors);
    }
    /** Probability that a row trains the null condition (default 0.1). */
    trainer &cond_dropout(double p)
    {
        detail::check(pi_trainer_set_cond_dropout(p_.get(), p));
        return *this;
    }
    double cond_dropout() const { return detail::get<double>(pi_trainer_get_cond_dropout, p_.get()); }
    /** The trainer's loss over n points with @p samples (t, z) draws each (deterministic in seed()). */
    double loss(std::size_t n, const float *data, std::size_t samples = 1)
    {
        double l = 0;
        detail::check(pi_trainer_loss(p_.get(), samples, n, data, &l));
        return l;
    }
    std::uint64_t step() const
    {
        std::uint64_t s = 0;
        detail::check(pi_trainer_get_step(p_.get(), &s));
        return s;
    }
    void save(const std::string &path) const { detail::check(pi_trainer_save(p_.get(), path.c_str())); }

    pi_trainer_t *get() const noexcept { return p_.get(); }

private:
    struct progress_state {
        progress_function fn;
        detail::pending errors;
    };
    static int trampoline(std::uint64_t step, double loss, double ema_loss, double rate, void *user)
    {
        auto *state = static_cast<progress_state *>(user);
        try {
            return state->fn(step, loss, ema_loss, rate) ? 1 : 0;
        } catch (...) {
            state->errors.exception = std::current_exception();
            return 1;
        }
    }
    std::unique_ptr<progress_state> state_;
    std::unique_ptr<pi_trainer_t, detail::trainer_deleter> p_;
};

/* ------------------------------------------------------------------------------------- */
/** A loaded n × dim array. */
struct array {
    std::vector<float> data;
    std::size_t n = 0, dim = 0;
};

/** n points (n × 2) of a built-in data set. */
inline std::vector<float> generate(pi_dataset dataset, std::size_t n, std::uint64_t seed = 0)
{
    std::vector<float> out(n * 2);
    detail::check(pi_data_generate(dataset, n, seed, out.data()));
    return out;
}
/** Load .npy, .csv or .f32. */
inline array load(const std::string &path)
{
    float *p = nullptr;
    array a;
    detail::check(pi_data_load(path.c_str(), &p, &a.n, &a.dim));
    std::unique_ptr<float, detail::free_deleter> owned(p);
    a.data.assign(p, p + a.n * a.dim);
    return a;
}
/** Save n × dim floats; the format follows the extension. */
inline void save(const std::string &path, std::size_t n, std::size_t dim, const float *data)
{
    detail::check(pi_data_save(path.c_str(), n, dim, data));
}

} // namespace pathint

#endif
