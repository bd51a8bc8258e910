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
    sampler &method(pi_method m)
    {
        detail::check(pi_sampler_set_method(p_.get(), m));
        return *this;
    }
    sampler &steps(std::size_t n)
    {
        detail::check(pi_sampler_set_steps(p_.get(), n));
        return *this;
    }
    sampler &schedule(pi_schedule s, double rho = 7.0)
    {
        detail::check(pi_sampler_set_schedule(p_.get(), s, rho));
        return *this;
    }
    sampler &times(const std::vector<double> &t)
    {
        detail::check(pi_sampler_set_times(p_.get(), t.data(), t.size()));
        return *this;
    }
    sampler &seed(std::uint64_t s)
    {
        detail::check(pi_sampler_set_seed(p_.get(), s));
        return *this;
    }
    sampler &threads(int k)
    {
        detail::check(pi_sampler_set_threads(p_.get(), k));
        return *this;
    }
    sampler &denoise_final(bool on)
    {
        detail::check(pi_sampler_set_denoise_final(p_.get(), on ? 1 : 0));
        return *this;
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

    likelihood &divergence(pi_divergence mode, std::size_t probes = 1)
    {
        detail::check(pi_likelihood_set_divergence(p_.get(), mode, probes));
        return *this;
    }
    likelihood &tolerances(double rtol, double atol)
    {
        detail::check(pi_likelihood_set_tolerances(p_.get(), rtol, atol));
        return *this;
    }
    likelihood &wkb_algorithm(pi_wkb_algorithm a)
    {
        detail::check(pi_likelihood_set_wkb_algorithm(p_.get(), a));
        return *this;
    }
    likelihood &dequantization(double bin_width)
    {
        detail::check(pi_likelihood_set_dequantization(p_.get(), bin_width));
        return *this;
    }
    likelihood &seed(std::uint64_t s)
    {
        detail::check(pi_likelihood_set_seed(p_.get(), s));
        return *this;
    }
    likelihood &threads(int k)
    {
        detail::check(pi_likelihood_set_threads(p_.get(), k));
        return *this;
    }
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
    trainer &lr_schedule(pi_lr_schedule s, std::uint64_t warmup, std::uint64_t total)
    {
        detail::check(pi_trainer_set_lr_schedule(p_.get(), s, warmup, total));
        return *this;
    }
    trainer &batch_size(std::size_t b)
    {
        detail::check(pi_trainer_set_batch_size(p_.get(), b));
        return *this;
    }
    trainer &weighting(pi_weighting w)
    {
        detail::check(pi_trainer_set_weighting(p_.get(), w));
        return *this;
    }
    trainer &time_sampling(pi_time_sampling s)
    {
        detail::check(pi_trainer_set_time_sampling(p_.get(), s));
        return *this;
    }
    trainer &ema(double decay)
    {
        detail::check(pi_trainer_set_ema(p_.get(), decay));
        return *this;
    }
    trainer &seed(std::uint64_t s)
    {
        detail::check(pi_trainer_set_seed(p_.get(), s));
        return *this;
    }
    trainer &threads(int k)
    {
        detail::check(pi_trainer_set_threads(p_.get(), k));
        return *this;
    }
    trainer &on_progress(progress_function fn)
    {
        state_->fn = std::move(fn);
        if (state_->fn)
            detail::check(pi_trainer_set_callback(p_.get(), &trainer::trampoline, state_.get()));
        else
            detail::check(pi_trainer_set_callback(p_.get(), nullptr, nullptr));
        return *this;
    }
    /** @p steps Adam steps on n points (n × dim); afterwards the model holds the EMA weights. */
    void fit(std::size_t n, const float *data, std::uint64_t steps)
    {
        detail::call(pi_trainer_fit(p_.get(), n, data, steps), &state_->errors);
    }
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
