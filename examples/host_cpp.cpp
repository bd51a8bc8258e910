// host_cpp.cpp: the C++ wrapper (bindings/cpp/pathint.hpp) in a small program.
// Builds an exact two-bump mixture, samples it at several ħ, and asks for the likelihood of
// a few points; every failure is a pathint::error with a status and a message.
#include "pathint.hpp"

#include <cmath>
#include <cstdio>

int main()
{
    try {
        pathint::sde vp(PI_SDE_KIND_VP_LINEAR);
        pathint::model m = pathint::model::gmm(vp, 2, {0.3, 0.7}, {-1.0, 0.0, 1.0, 0.5},
                                               {0.05, 0.05, 0.1, 0.02});
        pathint::sampler s(m);
        s.steps(50).seed(7).threads(2);
        for (double hbar : {0.0, 0.5, 1.0}) {
            std::vector<float> x = s.hbar(hbar).run(2000);
            double right = 0;
            for (std::size_t i = 0; i < x.size() / 2; i++)
                right += x[2 * i] > 0;
            std::printf("ħ = %.1f: %.1f%% of 2000 samples in the right bump (exact: 70%%)\n", hbar,
                        100.0 * right / 2000);
        }
        const float points[] = {-1.0f, 0.0f, 1.0f, 0.5f, 0.0f, 0.0f};
        pathint::likelihood lik(m);
        lik.threads(2);
        pathint::likelihood::result l = lik.nll(3, points);
        for (std::size_t i = 0; i < 3; i++)
            std::printf("x = (%+.1f, %+.1f): NLL0 = %.3f nats, c1 = %+.4f (≈ 0 for an exact score)\n",
                        points[2 * i], points[2 * i + 1], l.nll0[i], l.c1[i]);
        s.hbar(-1.0); // an error, reported as an exception
    } catch (const pathint::error &e) {
        std::printf("pathint::error as expected: %s [%s]\n", e.what(), e.status_string());
        return e.status() == PI_EINVAL ? 0 : 1;
    }
    return 1;
}
