"""First-row index (issue 19): partitions of rows [a, b) run with first_row = a equal one whole
run bit for bit, in the sampler (sample, sample_from) and the likelihood (nll, nll_hbar)."""
import numpy as np
import pytest

import pathint as pi


@pytest.fixture(scope="module")
def gmm():
    sde = pi.SDE("vp")
    return pi.Model.gmm(sde, [0.3, 0.7], [[-1.0, 0.5], [1.0, -0.5]], [[0.1, 0.2], [0.15, 0.1]])


def _splits(n, rng, parts):
    cuts = np.sort(rng.choice(np.arange(1, n), size=parts - 1, replace=False))
    return [0, *cuts.tolist(), n]


@pytest.mark.parametrize("method,hbar,threads", [("euler", 1.0, 1), ("exp2m", 0.5, 3), ("heun", 0.2, 2)])
def test_sampler_partitions_equal_one_run(gmm, method, hbar, threads):
    rng = np.random.default_rng(19)
    with pi.Sampler(gmm, hbar=hbar, method=method, steps=15, seed=123, threads=threads) as s:
        whole = s.sample(41)
        for parts in (2, 3, 5):
            edges = _splits(41, rng, parts)
            pieces = [s.sample(b - a, first_row=a) for a, b in zip(edges[:-1], edges[1:])]
            assert np.array_equal(np.concatenate(pieces), whole), edges
        assert s.first_row == 0  # the keyword sets it for one run only
        x0 = (0.4 * np.sin(np.arange(82, dtype=np.float32))).reshape(41, 2)
        whole_from = s.sample_from(0.6, x0)
        parts = [s.sample_from(0.6, x0[a:b], first_row=a) for a, b in [(0, 17), (17, 30), (30, 41)]]
        assert np.array_equal(np.concatenate(parts), whole_from)
        # The option is sticky when set on the handle, and read back among the options.
        s.first_row = 40
        assert s.options[pi.Option.SAMPLER_FIRST_ROW] == 40
        assert np.array_equal(s.sample(1), whole[40:])
        assert not np.array_equal(s.sample(1, first_row=39), whole[40:])


@pytest.mark.parametrize("divergence", ["hutchinson_gaussian", "hutchinson_rademacher", "exact"])
def test_likelihood_partitions_equal_one_computation(gmm, divergence):
    x = np.random.default_rng(3).normal(size=(10, 2)).astype(np.float32)
    x[1] = x[0]
    with pi.Likelihood(gmm, divergence=divergence, probes=2, seed=8, threads=2) as lik:
        if divergence == "hutchinson_gaussian":
            lik.dequantization = 0.01
        nll0, c1 = lik.nll(x)
        if divergence == "hutchinson_gaussian":
            assert nll0[0] != nll0[1]  # equal points, different rows: different probes
            # (±1 probes in 2-D can give equal estimates by chance)
        for a in (1, 4, 9):
            n_a, c_a = lik.nll(x[:a])
            n_b, c_b = lik.nll(x[a:], first_row=a)
            assert np.array_equal(np.concatenate([n_a, n_b]), nll0)
            assert np.array_equal(np.concatenate([c_a, c_b]), c1)
        assert lik.first_row == 0
        hb = lik.nll_hbar(x, 0.5)
        assert np.array_equal(np.concatenate([lik.nll_hbar(x[:6], 0.5), lik.nll_hbar(x[6:], 0.5, first_row=6)]), hb)
        assert lik.options[pi.Option.LIKELIHOOD_FIRST_ROW] == 0


def test_first_row_bad_values(gmm):
    top = 2**64 - 1
    with pi.Sampler(gmm, steps=5) as s, pi.Likelihood(gmm) as lik:
        assert s.sample(3, first_row=top - 2).shape == (3, 2)  # rows up to 2^64 - 1
        with pytest.raises(pi.InvalidArgumentError, match="first_row"):
            s.sample(4, first_row=top - 2)
        with pytest.raises(pi.InvalidArgumentError, match="first_row"):
            s.sample_from(0.5, np.zeros((2, 2), np.float32), first_row=top)
        with pytest.raises(pi.InvalidArgumentError, match="first_row"):
            lik.nll(np.zeros((3, 2), np.float32), first_row=top - 1)
        for bad in (-1, 2**64, 1.5, "3", True):
            with pytest.raises(pi.InvalidArgumentError, match="first_row"):
                s.sample(1, first_row=bad)
            with pytest.raises(pi.InvalidArgumentError, match="first_row"):
                lik.first_row = bad
        assert s.first_row == 0 and lik.first_row == 0  # a failed call leaves the option as it was


def test_rk45_partitions_agree_to_the_integration_error():
    """RK45 is the documented exception (pathint.h, pi_sampler_set_first_row): one step-size
    sequence for all rows of a run, so a partition takes other steps and other bits. It must
    still agree with the whole run to well within the whole run's own error against a tight
    solution (measured: 9e-3 vs 0.10 at 1e-3, 1.5e-4 vs 1.8e-3 at 1e-5), and a given batch is
    the same for any thread count."""
    rng = np.random.default_rng(0)
    model = pi.Model.gmm(pi.SDE("vp"), np.ones(10) / 10, rng.normal(size=(10, 2)), np.full((10, 2), 0.05))
    ref = pi.Sampler(model, method="rk45", tolerances=(1e-11, 1e-11), seed=1).sample(1000)
    for tol in (1e-3, 1e-5):
        s = pi.Sampler(model, method="rk45", tolerances=(tol, tol), seed=1)
        whole = s.sample(1000)
        parts = np.concatenate([s.sample(600), s.sample(400, first_row=600)])
        assert not np.array_equal(parts, whole)  # if this becomes exact, update the docs
        error = np.max(np.abs(whole - ref))
        assert np.max(np.abs(parts - whole)) <= 0.25 * error, (tol, np.max(np.abs(parts - whole)), error)
        s.threads = 3
        assert np.array_equal(s.sample(1000), whole)
