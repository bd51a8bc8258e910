// Tests of the header-only C++ wrapper (bindings/cpp/pathint.hpp), compiled with
// -std=c++17 -Wall -Wextra -Werror. A plain program: exit 0 on success, 1 with a message.
#include "pathint.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
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

int main()
{
    std::printf("pathint %s (C++ wrapper)\n", pathint::version().c_str());
    test_sde();
    test_errors();
    test_model_and_sampler();
    test_callback_model();
    test_trainer_and_data();
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all C++ wrapper checks passed\n");
    return 0;
}
