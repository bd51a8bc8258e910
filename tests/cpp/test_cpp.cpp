// Tests of the header-only C++ wrapper (bindings/cpp/pathint.hpp), compiled with
// -std=c++17 -Wall -Wextra -Werror. A plain program: exit 0 on success, 1 with a message.
#include "pathint.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>

static int failures = 0;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

// Handles are move-only.
static_assert(!std::is_copy_constructible<pathint::sde>::value, "sde is move-only");
static_assert(!std::is_copy_constructible<pathint::model>::value, "model is move-only");
static_assert(!std::is_copy_constructible<pathint::sampler>::value, "sampler is move-only");
static_assert(!std::is_copy_constructible<pathint::trainer>::value, "trainer is move-only");
static_assert(!std::is_copy_constructible<pathint::likelihood>::value, "likelihood is move-only");
static_assert(std::is_nothrow_move_constructible<pathint::likelihood>::value, "likelihood moves without throwing");
static_assert(std::is_nothrow_move_constructible<pathint::sde>::value, "sde moves without throwing");
static_assert(std::is_nothrow_move_constructible<pathint::model>::value, "model moves without throwing");
static_assert(std::is_nothrow_move_constructible<pathint::sampler>::value, "sampler moves without throwing");

static void test_sde()
{
    pathint::sde vp(PI_SDE_KIND_VP_LINEAR);
    double t = 0.5, integral = 0.1 * t + 0.5 * (20.0 - 0.1) * t * t;
    auto [alpha, sigma] = vp.marginal(t);
    CHECK(std::fabs(alpha - std::exp(-0.5 * integral)) < 1e-12);
    CHECK(std::fabs(sigma - std::sqrt(1 - alpha * alpha)) < 1e-12);
    vp.set(PI_SDE_PARAM_BETA_MIN, 0.0).set(PI_SDE_PARAM_T_MIN, 0.01);
    CHECK(vp.get(PI_SDE_PARAM_BETA_MIN) == 0.0);
    CHECK(std::fabs(vp.time_range().first - 0.01) < 1e-15);
    pathint::sde moved = std::move(vp);
    CHECK(moved.get() != nullptr && vp.get() == nullptr);
    CHECK(moved.clone().kind() == PI_SDE_KIND_VP_LINEAR);
    // every built-in kind at t = 0.5 (α > 0, σ > 0)
    /* issue 14: rectified flow, discrete tables, host timesteps, shifts */
    {
        pathint::sde rf(PI_SDE_KIND_RECTIFIED_FLOW);
        auto [a, s] = rf.marginal(0.25);
        if (std::fabs(a - 0.75) > 1e-15 || std::fabs(s - 0.25) > 1e-15 || rf.timestep(0.25) != 250.0)
            throw std::runtime_error("rectified flow marginal");
        std::vector<double> t = {0.5, 0.25};
        rf.shift_times(t, 3.0);
        if (std::fabs(t[0] - 0.75) > 1e-14 || std::fabs(t[1] - 0.5) > 1e-14)
            throw std::runtime_error("shift");
        pathint::sde sd = pathint::sde::beta_schedule(PI_BETA_SCHEDULE_SCALED_LINEAR);
        std::vector<double> abar = sd.alphas_cumprod();
        pathint::sde again = pathint::sde::discrete(abar);
        if (abar.size() != 1000 || std::fabs(again.marginal(again.time_from_timestep(500)).first - std::sqrt(abar[500])) > 1e-12)
            throw std::runtime_error("discrete table");
        if (sd.discrete_times(PI_TIMESTEP_SPACING_TRAILING, 10).size() != 11)
            throw std::runtime_error("spacing");
        bool threw = false;
        try {
            pathint::sde::discrete({0.5, 0.9});
        } catch (const pathint::error &) {
            threw = true;
        }
        if (!threw)
            throw std::runtime_error("a rising table must throw");
    }
    for (pi_sde_kind k : {PI_SDE_KIND_VP_LINEAR, PI_SDE_KIND_VP_COSINE, PI_SDE_KIND_SUBVP, PI_SDE_KIND_VE, PI_SDE_KIND_EDM}) {
        auto [a, s] = pathint::sde(k).marginal(0.5);
        CHECK(a > 0 && s > 0);
    }
}

static void test_errors()
{
    pathint::sde vp;
    try {
        vp.set(PI_SDE_PARAM_BETA_MAX, -1.0);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EINVAL);
        CHECK(std::string(e.what()).find("beta") != std::string::npos);
        CHECK(std::string(e.status_string()) == pi_status_string(PI_EINVAL));
    }
    try {
        pathint::model::load("/nonexistent/dir/model.pim");
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EIO || e.status() == PI_EFORMAT);
    }
}

static pathint::model two_bumps(const pathint::sde &s)
{
    return pathint::model::gmm(s, 2, {0.5, 0.5}, {-1, 0, 1, 0}, {0.01, 0.01, 0.01, 0.01});
}

static void test_model_and_sampler()
{
    pathint::sde vp;
    pathint::model m = two_bumps(vp);
    CHECK(m.dim() == 2 && m.kind() == PI_MODEL_KIND_GMM);
    // the score at the midpoint between symmetric bumps is zero
    std::vector<float> s = m.eval(PI_VIEW_SCORE, {0.0f, 0.0f}, 0.3);
    CHECK(std::fabs(s[0]) < 1e-5 && std::fabs(s[1]) < 1e-5);

    pathint::sampler smp(m);
    smp.hbar(1.0).steps(50).seed(42).method(PI_METHOD_EXP2M);
    std::vector<float> a = smp.run(200), b = smp.run(200);
    CHECK(a == b);
    smp.threads(2);
    CHECK(smp.run(200) == a);
    double mean_abs_x = 0;
    for (std::size_t i = 0; i < 200; i++)
        mean_abs_x += std::fabs(a[2 * i]) / 200;
    CHECK(std::fabs(mean_abs_x - 1.0) < 0.1);

    // a step function that counts, then one that cancels, then one that throws
    std::size_t calls = 0;
    smp.on_step([&](std::size_t, std::size_t, double, std::size_t, std::size_t, const float *, const float *) {
        calls++;
        return false;
    });
    smp.run(10);
    CHECK(calls == 50);
    smp.on_step([](std::size_t step, std::size_t, double, std::size_t, std::size_t, const float *,
                   const float *) { return step == 5; });
    try {
        smp.run(10);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_ECANCELED);
    }
    smp.on_step([](std::size_t step, std::size_t, double, std::size_t, std::size_t, const float *,
                   const float *) -> bool {
        if (step == 3)
            throw std::out_of_range("from the step function");
        return false;
    });
    try {
        smp.run(10);
        CHECK(!"no exception");
    } catch (const std::out_of_range &e) {
        CHECK(std::string(e.what()) == "from the step function");
    }
    smp.on_step(nullptr);
    pathint::sampler moved = std::move(smp);
    CHECK(moved.run(5).size() == 10);
}

static void test_callback_model()
{
    pathint::sde vp;
    int calls = 0;
    pathint::model m = pathint::model::callback(vp, 2, PI_VIEW_SCORE,
        [&](std::size_t n, std::size_t dim, const float *x, const double *, float *out) {
            calls++;
            for (std::size_t i = 0; i < n * dim; i++)
                out[i] = -x[i];
        });
    pathint::model moved = std::move(m); // the function stays valid across moves
    std::vector<float> s = moved.eval(PI_VIEW_SCORE, {1.0f, -2.0f}, 0.5);
    CHECK(calls == 1 && s[0] == -1.0f && s[1] == 2.0f);

    pathint::model bad = pathint::model::callback(vp, 2, PI_VIEW_SCORE,
        [](std::size_t, std::size_t, const float *, const double *, float *) {
            throw std::logic_error("no score");
        });
    try {
        bad.eval(PI_VIEW_SCORE, {0.0f, 0.0f}, 0.5);
        CHECK(!"no exception");
    } catch (const std::logic_error &e) {
        CHECK(std::string(e.what()) == "no score");
    }
    pathint::sampler smp(bad);
    try {
        smp.steps(5).run(4);
        CHECK(!"no exception");
    } catch (const std::logic_error &) {
    }
}

static void test_trainer_and_data()
{
    pathint::sde vp;
    std::vector<float> data = pathint::generate(PI_DATASET_MOONS, 1000, 1);
    pathint::model m = pathint::model::mlp(vp, 2, 16, 2);
    m.init(3);
    pathint::trainer tr(m);
    tr.learning_rate(2e-3).batch_size(64).ema(0.9).seed(1);
    std::uint64_t last = 0;
    tr.on_progress([&](std::uint64_t step, double, double, double) {
        last = step;
        return false;
    });
    tr.fit(1000, data.data(), 50);
    CHECK(tr.step() == 50 && last > 0);
    tr.on_progress([](std::uint64_t, double, double, double) -> bool { throw std::runtime_error("stop"); });
    try {
        tr.fit(1000, data.data(), 50);
        CHECK(!"no exception");
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "stop");
    }
}

/* Issue 15: a class-conditional MLP trained with labels and sampled with guidance. */
static void test_conditions()
{
    pathint::sde vp;
    std::vector<float> data(2 * 1000);
    std::vector<std::int32_t> labels(1000);
    for (std::size_t i = 0; i < 1000; i++) {
        labels[i] = (std::int32_t)(i % 2);
        data[2 * i] = labels[i] ? 1.5f : -1.5f;
        data[2 * i + 1] = 0.1f * (float)(i % 7) - 0.3f;
    }
    pathint::model m = pathint::model::mlp_cond(vp, 2, 32, 2, 2, 0);
    pathint::trainer tr(m);
    tr.learning_rate(3e-3).cond_dropout(0.2);
    CHECK(tr.cond_dropout() == 0.2);
    tr.fit(1000, data.data(), labels.data(), 600);
    pathint::sampler s(m);
    s.steps(20).guidance(2.0);
    CHECK(s.guidance() == 2.0);
    std::vector<std::int32_t> want(100);
    for (std::size_t i = 0; i < 100; i++)
        want[i] = (std::int32_t)(i % 2);
    s.conditions(100, want.data());
    std::vector<float> x = s.run(100);
    int right = 0;
    for (std::size_t i = 0; i < 100; i++)
        right += (x[2 * i] > 0.0f) == (want[i] == 1);
    CHECK(right >= 90);
    try {
        std::int32_t bad[1] = {5};
        s.conditions(1, bad);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EINVAL);
    }
}

/* A one-shot latch: the callback waits until another thread has called cancel(). */
struct latch {
    std::mutex m;
    std::condition_variable cv;
    bool flag = false;
    void set()
    {
        std::lock_guard<std::mutex> lock(m);
        flag = true;
        cv.notify_all();
    }
    bool wait()
    {
        std::unique_lock<std::mutex> lock(m);
        return cv.wait_for(lock, std::chrono::seconds(10), [&] { return flag; });
    }
};

static bool same_bits(const std::vector<double> &a, const double *b)
{
    for (std::size_t i = 0; i < a.size(); i++)
        if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0)
            return false;
    return true;
}

static void test_likelihood()
{
    pathint::sde vp;
    vp.set(PI_SDE_PARAM_BETA_MAX, 80.0); // p_T is the prior: NLL0 = −log p_{t_min} exactly
    pathint::model m = pathint::model::gmm(vp, 1, {0.3, 0.7}, {-1.0, 1.5}, {0.04, 0.25});
    const float x[] = {-1.2f, -0.9f, 0.2f, 1.4f, 2.5f};
    const std::size_t n = 5;

    pathint::likelihood lik(m);
    // a fresh handle reads back the table's defaults
    CHECK(lik.tolerances().first == pathint::option_info(PI_OPTION_LIKELIHOOD_RTOL).default_value);
    CHECK(lik.tolerances().second == pathint::option_info(PI_OPTION_LIKELIHOOD_ATOL).default_value);
    CHECK(lik.divergence().first == PI_DIVERGENCE_EXACT && lik.divergence().second == 1);
    CHECK(lik.wkb_algorithm() == PI_WKB_ALGORITHM_SWEEP && lik.dequantization() == 0.0);
    CHECK(lik.seed() == 0 && lik.threads() == 1);

    lik.tolerances(1e-8, 1e-10).threads(2);
    CHECK(lik.tolerances().first == 1e-8 && lik.threads() == 2);
    pathint::likelihood::result r = lik.nll(n, x);

    // the same numbers, bit for bit, straight through the C API
    pi_likelihood_t *c = nullptr;
    double nll0[5], c1[5];
    CHECK(pi_likelihood_create(m.get(), &c) == PI_OK);
    CHECK(pi_likelihood_set_tolerances(c, 1e-8, 1e-10) == PI_OK);
    CHECK(pi_likelihood_set_threads(c, 2) == PI_OK);
    CHECK(pi_likelihood_nll(c, n, x, nll0, c1) == PI_OK);
    CHECK(same_bits(r.nll0, nll0) && same_bits(r.c1, c1));
    double bound_c = 0, se_c = 0;
    CHECK(pi_likelihood_action_bound(c, 8, n, x, &bound_c, &se_c) == PI_OK);
    pi_likelihood_destroy(c);

    // exact score: NLL0 = −log p_{t_min}(x) and c1 = 0
    const double t_min = vp.time_range().first;
    double alpha = 0, sigma = 0;
    CHECK(pi_sde_marginal(vp.get(), t_min, &alpha, &sigma) == PI_OK);
    for (std::size_t i = 0; i < n; i++) {
        const double w[2] = {0.3, 0.7}, mu[2] = {-1.0, 1.5}, v[2] = {0.04, 0.25};
        double p = 0;
        for (int k = 0; k < 2; k++) {
            double var = alpha * alpha * v[k] + sigma * sigma, d = x[i] - alpha * mu[k];
            p += w[k] * std::exp(-0.5 * d * d / var) / std::sqrt(2 * 3.14159265358979323846 * var);
        }
        CHECK(std::fabs(r.nll0[i] + std::log(p)) < 1e-4);
        CHECK(std::fabs(r.c1[i]) < 1e-3);
    }
    std::vector<double> h = lik.nll_hbar(0.5, n, x);
    for (std::size_t i = 0; i < n; i++)
        CHECK(std::fabs(h[i] - (r.nll0[i] - 0.5 * r.c1[i])) < 1e-9 * std::fabs(h[i]) + 1e-12);
    pathint::likelihood::result only0 = lik.nll(n, x, false);
    CHECK(only0.c1.empty() && std::fabs(only0.nll0[0] - r.nll0[0]) < 1e-9);

    std::pair<double, double> b = lik.seed(0).action_bound(n, x, 8);
    CHECK(b.first == bound_c && b.second == se_c);

    // progress: once per point, 1..n in order
    std::vector<std::size_t> done;
    lik.on_progress([&](std::size_t d, std::size_t total) {
        CHECK(total == n);
        done.push_back(d);
        return false;
    });
    lik.nll(n, x);
    CHECK(done.size() == n && done.front() == 1 && done.back() == n);
    for (std::size_t i = 0; i < done.size(); i++)
        CHECK(done[i] == i + 1);

    // an exception in the progress function comes back unchanged
    lik.on_progress([](std::size_t d, std::size_t) -> bool {
        if (d == 2)
            throw std::domain_error("from the progress function");
        return false;
    });
    try {
        lik.nll(n, x);
        CHECK(!"no exception");
    } catch (const std::domain_error &e) {
        CHECK(std::string(e.what()) == "from the progress function");
    }
    try {
        lik.nll_ex(n, x);
        CHECK(!"no exception");
    } catch (const std::domain_error &) {
    }
    // a true result stops; nll_ex reports which points ran
    lik.threads(1).on_progress([](std::size_t d, std::size_t) { return d == 2; });
    try {
        lik.nll(n, x);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_ECANCELED);
    }
    pathint::likelihood::diagnostics diag = lik.nll_ex(n, x);
    CHECK(diag.status[0] == PI_OK && diag.status[1] == PI_OK && diag.nfe[0] > 0);
    for (std::size_t i = 2; i < n; i++)
        CHECK(diag.status[i] == PI_ECANCELED && std::isnan(diag.nll0[i]));

    // cancel from another thread: the progress function of point 1 waits for it
    latch first, canceled;
    lik.on_progress([&](std::size_t d, std::size_t) {
        if (d == 1) {
            first.set();
            CHECK(canceled.wait());
        }
        return false;
    });
    std::thread canceller([&] {
        CHECK(first.wait());
        lik.cancel();
        canceled.set();
    });
    try {
        lik.nll(n, x);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_ECANCELED);
    }
    canceller.join();
    lik.cancel(); // idle: does nothing
    lik.on_progress(nullptr);
    CHECK(lik.nll(n, x).nll0.size() == n);

    pathint::likelihood moved = std::move(lik);
    CHECK(moved.nll(1, x, false).nll0.size() == 1);
    try {
        moved.threads(0);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EINVAL && std::string(e.what()).find("threads") != std::string::npos);
    }
}

static void test_options_read_back()
{
    pathint::sde vp;
    pathint::model m = two_bumps(vp);
    pathint::sampler s(m);
    CHECK(s.hbar() == pathint::option_info(PI_OPTION_SAMPLER_HBAR).default_value);
    CHECK(s.steps() == pathint::option_info(PI_OPTION_SAMPLER_STEPS).default_value);
    CHECK(s.method() == pathint::option_info(PI_OPTION_SAMPLER_METHOD).default_value);
    CHECK(s.schedule().first == pathint::option_info(PI_OPTION_SAMPLER_SCHEDULE).default_value);
    CHECK(s.schedule().second == pathint::option_info(PI_OPTION_SAMPLER_KARRAS_RHO).default_value);
    CHECK(s.threads() == 1 && s.seed() == 0 && !s.denoise_final());
    CHECK(s.corrector().first == 0);
    s.hbar(0.25).steps(12).schedule(PI_SCHEDULE_KARRAS).seed(3).threads(2).denoise_final(true);
    CHECK(s.hbar() == 0.25 && s.steps() == 12 && s.seed() == 3 && s.threads() == 2 && s.denoise_final());
    CHECK(s.noise() == PI_NOISE_STEP && s.noise(PI_NOISE_BROWNIAN).noise() == PI_NOISE_BROWNIAN);
    CHECK(s.schedule().first == PI_SCHEDULE_KARRAS && s.schedule().second == 7.0); // rho defaults to 7
    s.schedule(PI_SCHEDULE_KARRAS, 3.0);
    CHECK(s.schedule().second == 3.0);
    std::vector<double> t = s.times();
    CHECK(t.size() == 13 && t.front() > t.back());
    s.tolerances(1e-4, 1e-6).corrector(1, 0.2).time_range(0.9, 0.01);
    CHECK(s.tolerances().first == 1e-4 && s.corrector().first == 1 && s.time_range().first == 0.9);
    try {
        s.steps(0);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EINVAL);
    }
    CHECK(s.steps() == 12);

    pathint::model mlp = pathint::model::mlp(vp, 2, 8, 1);
    CHECK(mlp.threads() == 1 && mlp.output_view() == PI_VIEW_EPS);
    CHECK(mlp.embedding().first == PI_EMBEDDING_LOG_SIGMA && mlp.embedding().second == 16);
    CHECK(mlp.preconditioning().first == PI_PRECOND_NONE && mlp.preconditioning().second == 0.5);
    CHECK(mlp.shape().first == 8 && mlp.shape().second == 1);
    mlp.preconditioning(PI_PRECOND_INPUT, 1.0).output_view(PI_VIEW_SCORE);
    CHECK(mlp.preconditioning().first == PI_PRECOND_INPUT && mlp.output_view() == PI_VIEW_SCORE);
    std::vector<float> p = mlp.params();
    CHECK(p.size() == mlp.num_params() && !p.empty());
    for (float &v : p)
        v *= 0.5f;
    CHECK(mlp.params(p).params() == p);

    pathint::trainer tr(mlp);
    CHECK(tr.learning_rate() == pathint::option_info(PI_OPTION_TRAINER_LEARNING_RATE).default_value);
    CHECK(tr.batch_size() == pathint::option_info(PI_OPTION_TRAINER_BATCH_SIZE).default_value);
    CHECK(tr.weighting() == PI_WEIGHTING_LIKELIHOOD && tr.time_sampling() == PI_TIME_SAMPLING_UNIFORM);
    CHECK(std::get<0>(tr.lr_schedule()) == PI_LR_SCHEDULE_CONSTANT);
    CHECK(std::get<0>(tr.adam()) == 0.9 && std::get<1>(tr.adam()) == 0.999 && std::get<2>(tr.adam()) == 1e-8);
    CHECK(tr.lognormal().first == -1.2 && tr.lognormal().second == 1.2);
    CHECK(tr.weight_decay() == 0 && tr.grad_clip() == 0 && tr.ema() == 0.999 && tr.seed() == 0 && tr.threads() == 1);
    tr.lr_schedule(PI_LR_SCHEDULE_COSINE, 5, 50).adam(0.8, 0.99, 1e-7).grad_clip(1.0).weight_decay(0.01);
    CHECK(std::get<2>(tr.lr_schedule()) == 50 && std::get<0>(tr.adam()) == 0.8 && tr.grad_clip() == 1.0);

    CHECK(std::fabs(pathint::bits_per_dim(3 * std::log(2.0), 3) - 1.0) < 1e-15);
    try {
        pathint::option_info(static_cast<pi_option>(9999));
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_EINVAL);
    }
}

static void test_trainer_cancel()
{
    pathint::sde vp;
    std::vector<float> data = pathint::generate(PI_DATASET_MOONS, 500, 1);
    pathint::model m = pathint::model::mlp(vp, 2, 16, 1);
    pathint::trainer tr(m);
    tr.batch_size(32);
    latch stepped, canceled;
    tr.on_progress([&](std::uint64_t step, double, double, double) {
        if (step == 3) {
            stepped.set();
            CHECK(canceled.wait());
        }
        return false;
    });
    std::thread canceller([&] {
        CHECK(stepped.wait());
        tr.cancel();
        canceled.set();
    });
    try {
        tr.fit(500, data.data(), 1000);
        CHECK(!"no exception");
    } catch (const pathint::error &e) {
        CHECK(e.status() == PI_ECANCELED);
    }
    canceller.join();
    CHECK(tr.step() >= 3 && tr.step() <= 4);
    tr.cancel(); // idle: the next fit runs
    std::uint64_t before = tr.step();
    tr.fit(500, data.data(), 2);
    CHECK(tr.step() == before + 2);
}

int main()
{
    std::printf("pathint %s (C++ wrapper)\n", pathint::version().c_str());
    test_sde();
    test_errors();
    test_model_and_sampler();
    test_callback_model();
    test_trainer_and_data();
    test_likelihood();
    test_options_read_back();
    test_trainer_cancel();
    test_conditions();
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ wrapper checks passed\n");
    return 0;
}
