"""Conditions and classifier-free guidance through the Python binding (issue 15)."""
import numpy as np
import pytest

import pathint as pi

VAR = 0.3
MEANS = np.array([[1.0, -0.5], [-1.0, 0.75]])  # classes 0 and 1
NULL_MEAN = np.zeros(2)


def _gaussian_classes(sde, calls):
    def fn(x, t, labels, cond):
        calls.append((x.shape[0], int(np.sum(labels == -1))))
        assert np.all(t == t[0])  # the sampler evaluates one time per call
        alpha, sigma = sde.marginal(t[0])
        mu = np.where((labels == -1)[:, None], NULL_MEAN[None, :], MEANS[np.clip(labels, 0, 1)])
        return -(x - alpha * mu) / (alpha ** 2 * VAR + sigma ** 2)
    return fn


def test_guided_means_and_one_batched_call():
    sde = pi.SDE("vp")
    calls = []
    model = pi.Model.callback_cond(sde, 2, _gaussian_classes(sde, calls), classes=2)
    sampler = pi.Sampler(model, steps=30, seed=3, guidance=2.0)
    assert sampler.guidance == 2.0
    n = 2000
    labels = np.arange(n) % 2
    x = sampler.sample(n, labels=labels)
    # Equal variances: guidance samples N(mu_null + w (mu_c - mu_null), VAR) exactly.
    for c in range(2):
        want = NULL_MEAN + 2.0 * (MEANS[c] - NULL_MEAN)
        got = x[labels == c].mean(axis=0)
        assert np.all(np.abs(got - want) < 0.06), (c, got, want)
        assert np.all(np.abs(x[labels == c].var(axis=0) - VAR) < 0.05)
    # every evaluation of a chunk (<= 1024 rows): one host call holding the chunk's rows and,
    # after them, as many null rows
    assert calls and all(rows % 2 == 0 and nulls == rows // 2 for rows, nulls in calls)
    assert sum(rows for rows, _ in calls) == 2 * n * 30  # 30 EXP2M steps, one evaluation each

    # conditions were for that run only
    y = sampler.sample(4)
    assert y.shape == (4, 2)


def test_bad_conditions_raise():
    sde = pi.SDE("vp")
    model = pi.Model.callback_cond(sde, 2, _gaussian_classes(sde, []), classes=2)
    sampler = pi.Sampler(model, steps=5)
    with pytest.raises(pi.InvalidArgumentError, match="labels"):
        sampler.sample(3, labels=[0, 2, 1])
    with pytest.raises(pi.InvalidArgumentError):
        sampler.guidance = float("nan")
    assert sampler.guidance == 1.0
    gmm = pi.Model.gmm(sde, [1.0], [[0.0, 0.0]], [[1.0, 1.0]])
    with pytest.raises(pi.InvalidArgumentError, match="unconditional"):
        pi.Sampler(gmm, guidance=2.0)


def test_inpainting_keeps_the_known_part():
    sde = pi.SDE("vp")
    gmm = pi.Model.gmm(sde, [0.5, 0.5], [[2.0, 2.0], [-2.0, -2.0]], [[0.05, 0.05], [0.05, 0.05]])
    sampler = pi.Sampler(gmm, steps=40, hbar=1.0, method="exp1", seed=1)
    n = 200
    known = np.zeros((n, 2), np.float32)
    known[:, 0] = np.where(np.arange(n) % 2 == 0, 2.0, -2.0)
    mask = np.zeros((n, 2), np.float32)
    mask[:, 0] = 1.0
    sampler.set_inpainting(known, mask)
    x = sampler.sample(n)
    agree = np.mean(np.abs(x[:, 1] - known[:, 0]) < 0.7)
    assert agree > 0.9, agree
    with pytest.raises(pi.InvalidArgumentError, match="mask"):
        sampler.set_inpainting(known, mask * 2.0)


def test_conditional_mlp_trains_and_guides():
    """The names scripts use: Model.mlp(classes=), Trainer(cond_dropout=), fit(labels=),
    Sampler(guidance=), sample(n, labels=)."""
    sde = pi.SDE("vp")
    rng = np.random.default_rng(0)
    n = 2000
    labels = np.arange(n) % 2
    data = np.stack([np.where(labels == 1, 1.5, -1.5) + 0.2 * rng.standard_normal(n),
                     0.2 * rng.standard_normal(n)], axis=1).astype(np.float32)
    model = pi.Model.mlp(sde, 2, width=64, layers=2, classes=2)
    assert model.conditions == (2, 0, True)
    trainer = pi.Trainer(model, lr=3e-3, cond_dropout=0.1)
    assert trainer.cond_dropout == 0.1
    trainer.fit(data, 1500, labels=labels)
    sampler = pi.Sampler(model, steps=25, guidance=2.0)
    want = np.arange(200) % 2
    x = sampler.sample(200, labels=want)
    assert np.mean((x[:, 0] > 0) == (want == 1)) >= 0.95
    with pytest.raises(pi.InvalidArgumentError, match="labels"):
        trainer.fit(data, 1, labels=labels + 1)
    for path, load in (("/tmp/pi_py_cond.pim", pi.Model.load),
                       ("/tmp/pi_py_cond.safetensors", lambda p: pi.Model.load_safetensors(sde, p))):
        (model.save if path.endswith(".pim") else model.save_safetensors)(path)
        back = load(path)
        assert back.conditions == (2, 0, True)
        s2 = pi.Sampler(back, steps=25, guidance=2.0)
        assert np.array_equal(s2.sample(200, labels=want), x)
