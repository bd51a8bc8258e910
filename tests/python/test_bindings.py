"""Tests of the Python ctypes package against the C library's results and closed forms.

Run through meson (PATHINT_LIBRARY and PYTHONPATH are set), or by hand:
    PATHINT_LIBRARY=build/lib/libpathint.so PYTHONPATH=bindings/python python3 -m pytest tests/python
"""
import ctypes
import gc
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import pathint as pi
from pathint import _library

LIB = pi.load_library()


def requires(*names):
    missing = [n for n in names if not LIB.has(n)]
    return pytest.mark.skipif(bool(missing), reason="the library does not have " + ", ".join(missing) + " yet")


def vp_alpha(t, b0=0.1, b1=20.0):
    return np.exp(-0.5 * (b0 * t + 0.5 * (b1 - b0) * t * t))


def mixture():
    sde = pi.SDE("vp")
    w = np.array([0.3, 0.7])
    mu = np.array([[-1.0, 0.5], [1.0, -0.5]])
    var = np.array([[0.05, 0.1], [0.2, 0.05]])
    return sde, pi.Model.gmm(sde, w, mu, var), (w, mu, var)


def mixture_score(x, t, w, mu, var):
    a = vp_alpha(t)
    s2 = 1 - a * a
    v = a * a * var + s2                      # (k, d)
    diff = x[:, None, :] - a * mu[None]       # (n, k, d)
    logp = np.log(w)[None] - 0.5 * np.sum(diff ** 2 / v + np.log(2 * np.pi * v), axis=2)
    r = np.exp(logp - logp.max(axis=1, keepdims=True))
    r /= r.sum(axis=1, keepdims=True)
    return np.sum(r[:, :, None] * (-diff / v), axis=1)


# ---- loading ------------------------------------------------------------------------------
def test_version_matches_header_major():
    assert pi.version_number() // 10000 == pi.ABI_MAJOR
    assert pi.version().count(".") == 2


def test_refuses_other_major_version(monkeypatch):
    monkeypatch.setattr(_library, "ABI_MAJOR", pi.ABI_MAJOR + 1)
    with pytest.raises(pi.LibraryNotFoundError, match="major version"):
        _library.Library(LIB.path)


def test_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(pi.LibraryNotFoundError, match="cannot load"):
        _library.Library(str(tmp_path / "nope.so"))


def test_every_declared_function_has_a_signature():
    for name, (restype, argtypes) in _library.SIGNATURES.items():
        if LIB.has(name):
            fn = LIB.raw[name]
            assert fn.argtypes == argtypes
            assert fn.restype is (ctypes.c_int if restype == _library.STATUS else restype)
        else:
            with pytest.raises(pi.UnsupportedError):
                getattr(LIB, name)()


# ---- SDE ----------------------------------------------------------------------------------
def test_sde_marginal_matches_closed_form():
    with pi.SDE("vp") as sde:
        for t in (0.01, 0.3, 0.9):
            a, s = sde.marginal(t)
            assert a == pytest.approx(vp_alpha(t), rel=1e-12)
            assert s == pytest.approx(np.sqrt(1 - vp_alpha(t) ** 2), rel=1e-10)
        st, lam = sde.sigma_tilde(0.4)
        assert sde.time_from_sigma_tilde(st) == pytest.approx(0.4, rel=1e-9)
        assert lam == pytest.approx(-np.log(st))
        assert sde.kind == pi.SDEKind.VP_LINEAR
        assert sde.time_range == (pytest.approx(1e-3), pytest.approx(1.0))


def test_sde_params_and_presets():
    sde = pi.SDE("vp", beta_min=0.0, t_min=0.01)  # Hirono et al.'s SIMPLE
    assert sde.get_param("beta_min") == 0.0
    assert sde.time_range[0] == pytest.approx(0.01)
    f, g = sde.coefficients(0.5)
    assert g * g == pytest.approx(10.0)  # β(0.5) with β from 0 to 20
    assert f == pytest.approx(-5.0)
    clone = sde.clone()
    assert clone.get_param("beta_min") == 0.0
    sde.close()
    sde.close()  # idempotent
    with pytest.raises(pi.InvalidArgumentError, match="closed"):
        sde.marginal(0.5)


def test_sde_prior():
    sde = pi.SDE("ve")
    x = sde.prior_sample(500, 3, seed=7)
    assert x.dtype == np.float32 and x.shape == (500, 3)
    assert np.array_equal(x[:10], sde.prior_sample(10, 3, seed=7))  # row i depends on (seed, i) only
    std = sde.prior_std
    lp = sde.prior_logpdf(x[:5])
    ref = -0.5 * np.sum(x[:5].astype(np.float64) ** 2, axis=1) / std ** 2 - 1.5 * np.log(2 * np.pi * std ** 2)
    np.testing.assert_allclose(lp, ref, rtol=1e-6)


def test_custom_sde_and_exceptions_inside_it():
    def marginal(t):
        a = np.exp(-t)
        s = np.sqrt(1 - a * a)
        return a, s, -a, a * a / s

    sde = pi.SDE.custom(1e-3, 1.0, marginal=marginal)
    assert sde.marginal(0.5) == (pytest.approx(np.exp(-0.5)), pytest.approx(np.sqrt(1 - np.exp(-1.0))))

    class Boom(Exception):
        pass

    calls = []

    def bad(t):
        calls.append(t)
        if len(calls) > 50:  # let creation probe the function, then fail
            raise Boom("from python")
        return marginal(t)

    sde2 = pi.SDE.custom(1e-3, 1.0, marginal=bad)
    calls.extend([0] * 100)
    with pytest.raises(Boom):
        sde2.marginal(0.5)


def test_errors_map_to_classes():
    sde = pi.SDE("vp")
    with pytest.raises(pi.InvalidArgumentError) as info:
        sde.set_param("beta_max", float("nan"))
    err = info.value
    assert isinstance(err, pi.PathintError) and isinstance(err, ValueError)
    assert err.status == -1 and err.function == "pi_sde_set_param"
    assert "beta" in str(err).lower()
    with pytest.raises(pi.InvalidArgumentError, match="unknown SDEKind"):
        pi.SDE("nonsense")
    assert pi.errors.error_for_status(-10, "x").__class__ is pi.MismatchError
    assert pi.errors.error_for_status(-999, "x").__class__ is pi.PathintError


# ---- models -------------------------------------------------------------------------------
def test_gmm_score_and_views_match_closed_form():
    sde, model, (w, mu, var) = mixture()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    t = 0.3
    s = model.eval("score", x, t)
    np.testing.assert_allclose(s, mixture_score(x.astype(np.float64), t, w, mu, var), rtol=2e-4, atol=2e-4)
    a, sig = sde.marginal(t)
    np.testing.assert_allclose(model.eval(pi.View.EPS, x, t), -sig * s, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.eval("denoised", x, t), (x + sig * sig * s) / a, rtol=1e-4, atol=1e-4)
    # per-row times
    ts = np.full(64, t)
    np.testing.assert_array_equal(model.eval("score", x, ts), s)
    assert model.kind == pi.ModelKind.GMM and model.dim == 2
    assert model.sde.kind == pi.SDEKind.VP_LINEAR


def test_gmm_logpdf_and_divergence():
    sde, model, (w, mu, var) = mixture()
    x = np.array([[0.1, 0.2], [-1.0, 0.4]], np.float32)
    t = 0.5
    a = vp_alpha(t)
    v = a * a * var + 1 - a * a
    diff = x[:, None, :].astype(np.float64) - a * mu[None]
    comp = np.log(w)[None] - 0.5 * np.sum(diff ** 2 / v + np.log(2 * np.pi * v), axis=2)
    ref = np.log(np.exp(comp).sum(axis=1))
    np.testing.assert_allclose(model.logpdf(x, t), ref, rtol=1e-6)
    # divergence of the score by central differences of the closed form
    h = 1e-4
    div = np.zeros(2)
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        div += (mixture_score(x + e, t, w, mu, var)[:, j] - mixture_score(x - e, t, w, mu, var)[:, j]) / (2 * h)
    np.testing.assert_allclose(model.divergence(x, t), div, rtol=1e-4)


def test_arrays_are_zero_copy_or_converted_once():
    from pathint.core import _points
    a = np.zeros((5, 2), np.float32)
    assert _points(a) is a
    f = np.asfortranarray(np.zeros((5, 2)))
    b = _points(f)
    assert b.dtype == np.float32 and b.flags.c_contiguous
    _, model, _ = mixture()
    out = model.eval("score", [[0.0, 0.0]], 0.5)  # lists work too
    assert out.shape == (1, 2)
    with pytest.raises(pi.InvalidArgumentError, match="dimension"):
        model.eval("score", np.zeros((3, 5)), 0.5)


def test_empirical_model_denoises_to_nearest_point():
    sde = pi.SDE("vp")
    data = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]], np.float32)
    model = pi.Model.empirical(sde, data)
    x = data + 0.01
    t_min = sde.time_range[0]
    np.testing.assert_allclose(model.eval("denoised", x, t_min), data, atol=1e-3)


def test_callback_model_matches_function_and_stays_alive():
    sde = pi.SDE("vp")
    seen = []

    def fn(x, t):
        seen.append(len(x))
        return -x / (1.0 + t[:, None])

    model = pi.Model.callback(sde, 2, fn, view="score")
    del fn
    gc.collect()
    x = np.random.default_rng(1).normal(size=(10, 2)).astype(np.float32)
    np.testing.assert_allclose(model.eval("score", x, 0.5), -x / 1.5, rtol=1e-6)
    assert seen


def test_callback_model_exception_is_reraised():
    sde = pi.SDE("vp")

    def fn(x, t):
        raise KeyError("no score here")

    model = pi.Model.callback(sde, 2, fn)
    with pytest.raises(KeyError, match="no score here") as info:
        model.eval("score", np.zeros((4, 2), np.float32), 0.5)
    assert isinstance(info.value.__cause__, pi.CallbackError)
    # the model is still usable afterwards (with another function)
    ok = pi.Model.callback(sde, 2, lambda x, t: np.zeros_like(x))
    assert np.all(ok.eval("score", np.ones((2, 2)), 0.5) == 0)


@requires("pi_sampler_run")
def test_callback_model_exception_in_sampler_run():
    sde = pi.SDE("vp")
    n_calls = [0]

    def fn(x, t):
        n_calls[0] += 1
        if n_calls[0] > 3:
            raise RuntimeError("fails on the fourth batch")
        return -x

    model = pi.Model.callback(sde, 2, fn)
    s = pi.Sampler(model, steps=10)
    with pytest.raises(RuntimeError, match="fourth batch"):
        s.sample(16)


@requires("pi_model_save", "pi_model_load")
def test_model_file_round_trip(tmp_path):
    _, model, _ = mixture()
    path = tmp_path / "m.pim"
    model.save(path)
    loaded = pi.Model.load(path)
    x = np.random.default_rng(2).normal(size=(20, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.eval("score", x, 0.4), model.eval("score", x, 0.4))
    with pytest.raises(pi.PathintError) as info:
        pi.Model.load(tmp_path / "missing.pim")
    assert info.value.status in (-4, -5)
    (tmp_path / "junk.pim").write_bytes(b"not a model at all" * 10)
    with pytest.raises(pi.FormatError):
        pi.Model.load(tmp_path / "junk.pim")


@requires("pi_model_save_safetensors", "pi_model_load_safetensors")
def test_safetensors_round_trip(tmp_path):
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 2, width=16, layers=2, seed=3)
    path = tmp_path / "w.safetensors"
    model.save_safetensors(path)
    back = pi.Model.load_safetensors(sde, path)
    np.testing.assert_array_equal(back.params, model.params)


def test_mlp_preconditioning_modes(tmp_path):
    sde = pi.SDE("vp")
    x = np.random.default_rng(4).normal(size=(16, 2)).astype(np.float32)
    t = 0.7
    alpha, _ = sde.marginal(t)
    plain = pi.Model.mlp(sde, 2, width=16, layers=2, seed=5)
    scaled = pi.Model.mlp(sde, 2, width=16, layers=2, seed=5, preconditioning=("input", 1.0))
    # VP with sigma_data = 1: the scaled network's input is x itself, the plain one's x/alpha,
    # and the output view (eps) is kept, so scaled(x) == plain(alpha x).
    np.testing.assert_allclose(scaled.eval("eps", x, t), plain.eval("eps", alpha * x, t),
                               rtol=1e-5, atol=1e-6)
    edm = pi.Model.mlp(sde, 2, width=16, layers=2, seed=5, preconditioning="edm")
    assert not np.allclose(edm.eval("eps", x, t), scaled.eval("eps", x, t))
    path = tmp_path / "input.pim"
    scaled.save(path)
    np.testing.assert_array_equal(pi.Model.load(path).eval("eps", x, t), scaled.eval("eps", x, t))
    for bad in ("sideways", ("input",), ("input", -1.0)):
        with pytest.raises(pi.InvalidArgumentError):
            pi.Model.mlp(sde, 2, width=4, layers=1, preconditioning=bad)
    assert pi.Precond.INPUT == 2


def test_mlp_params_round_trip():
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 2, width=8, layers=2, seed=1)
    p = model.params
    assert p.dtype == np.float32 and p.size == model.num_params > 0
    model.params = p * 0.5
    np.testing.assert_array_equal(model.params, p * 0.5)
    with pytest.raises(pi.InvalidArgumentError):
        model.params = p[:-1]


# ---- sampler ------------------------------------------------------------------------------
@requires("pi_sampler_run")
def test_sampler_options_determinism_and_threads():
    _, model, _ = mixture()
    with pi.Sampler(model, hbar=0.5, steps=20, seed=11, method="exp2m") as s:
        assert (s.hbar, s.steps, s.seed, s.method) == (0.5, 20, 11, pi.Method.EXP2M)
        a = s.sample(300)
        assert a.shape == (300, 2) and a.dtype == np.float32
        b = s.sample(300)
        np.testing.assert_array_equal(a, b)
        s.threads = 2
        np.testing.assert_array_equal(s.sample(300), a)  # results do not depend on threads
        np.testing.assert_array_equal(s.sample(100), a[:100])  # nor on the batch size
        s.seed = 12
        assert not np.array_equal(s.sample(300), a)
        s.method = pi.Method.HEUN
        s.set_schedule("karras", 7.0)
        times = s.times
        assert times.shape == (21,) and np.all(np.diff(times) < 0)
        s.times = np.linspace(1.0, 1e-3, 11)
        assert s.steps == 10 and s.schedule == pi.Schedule.CUSTOM
        assert s.sample(10).shape == (10, 2)
        nfe, _, _ = s.stats
        assert nfe > 0
    with pytest.raises(pi.InvalidArgumentError):
        pi.Sampler(model, hbar=-1.0)


@requires("pi_sampler_run")
def test_sampler_reaches_the_mixture():
    _, model, (w, mu, var) = mixture()
    s = pi.Sampler(model, hbar=1.0, steps=100, seed=3)
    x = s.sample(4000).astype(np.float64)
    mean = (w[:, None] * mu).sum(axis=0)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.08)


@requires("pi_sampler_run_from")
def test_sample_from_and_trajectory():
    sde, model, _ = mixture()
    s = pi.Sampler(model, steps=8, seed=0, record_trajectory=True)
    x = s.sample(50)
    traj, den = s.trajectory
    assert traj.shape == (9, 50, 2)
    np.testing.assert_array_equal(traj[-1], x)
    start = np.zeros((5, 2), np.float32)
    out = s.sample_from(0.5, start)
    assert out is not start and np.all(start == 0) and out.shape == (5, 2)
    inplace = np.zeros((5, 2), np.float32)
    res = s.sample_from(0.5, inplace, copy=False)
    assert res is inplace and not np.all(inplace == 0)


@requires("pi_sampler_run")
def test_step_callback_cancel_and_exceptions():
    _, model, _ = mixture()
    s = pi.Sampler(model, steps=10)
    seen = []
    s.callback = lambda step, nsteps, t, x, d: seen.append((step, nsteps, x.shape)) or False
    s.sample(7)
    assert [v[0] for v in seen] == list(range(1, 11)) and seen[0][1:] == (10, (7, 2))
    s.callback = lambda step, *rest: step == 3
    with pytest.raises(pi.CanceledError):
        s.sample(7)

    def boom(step, *rest):
        if step == 2:
            raise ValueError("stop here")
    s.callback = boom
    with pytest.raises(ValueError, match="stop here"):
        s.sample(7)
    s.callback = None
    assert s.sample(7).shape == (7, 2)  # usable after a failure


@requires("pi_sampler_run")
def test_keyboard_interrupt_cancels_cleanly():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    sde = pi.SDE("vp")

    def slow(x, t):
        time.sleep(0.002)
        return -x

    model = pi.Model.callback(sde, 2, slow)
    s = pi.Sampler(model, steps=5000)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        s.sample(4)
    timer.join()
    assert time.monotonic() - t0 < 5.0
    s.steps = 3
    assert s.sample(4).shape == (4, 2)


@requires("pi_sampler_nll")
def test_nll_of_exact_mixture_is_exact_and_c1_vanishes():
    sde, model, _ = mixture()
    s = pi.Sampler(model)
    s.set_likelihood_options(rtol=1e-8, atol=1e-10)
    x = np.array([[-1.0, 0.5], [0.9, -0.4], [0.0, 0.0]], np.float32)
    nll0, c1 = s.nll(x)
    t_min = sde.time_range[0]
    # (the VP prior N(0, I) is not exactly p_T, hence the tolerance)
    np.testing.assert_allclose(nll0, -model.logpdf(x, t_min), atol=1e-2)
    np.testing.assert_allclose(c1, 0.0, atol=2e-2)
    nll_only, none = s.nll(x, c1=False)
    assert none is None
    np.testing.assert_allclose(nll_only, nll0, rtol=1e-9)
    s.hbar = 0.5
    np.testing.assert_allclose(s.nll_hbar(x), nll0 - 0.5 * c1, rtol=1e-9)


# ---- trainer ------------------------------------------------------------------------------
@requires("pi_trainer_fit")
def test_trainer_fit_callback_and_checkpoint(tmp_path):
    sde = pi.SDE("vp", beta_min=0.0, t_min=0.01)
    data = pi.generate_data("swiss_roll", 2000, seed=0)
    model = pi.Model.mlp(sde, 2, width=32, layers=2, seed=0)
    tr = pi.Trainer(model, lr=2e-3, batch=128, seed=0, ema=0.9)
    before = tr.loss(data[:500], samples=4)
    steps = []
    tr.fit(data, 200, callback=lambda step, loss, ema, rate: steps.append(step) and False)
    assert tr.step_count == 200
    assert steps and steps[-1] <= 200
    after = tr.loss(data[:500], samples=4)
    assert after < before
    with pytest.raises(pi.CanceledError):
        tr.fit(data, 100, callback=lambda step, *rest: True)

    def bad(step, *rest):
        raise ArithmeticError("from the callback")
    with pytest.raises(ArithmeticError, match="from the callback"):
        tr.fit(data, 100, callback=bad)
    if LIB.has("pi_trainer_save") and LIB.has("pi_trainer_resume"):
        path = tmp_path / "ckpt.bin"
        tr.save(path)
        back = pi.Trainer.resume(path)
        assert back.step_count == tr.step_count
        np.testing.assert_array_equal(back.model.params, model.params)


@requires("pi_trainer_fit")
def test_keyboard_interrupt_cancels_training():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 2, width=16, layers=1)
    tr = pi.Trainer(model, batch=32)
    data = pi.generate_data("moons", 500)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        tr.fit(data, 10_000_000)
    timer.join()
    assert time.monotonic() - t0 < 10.0
    done = tr.step_count
    tr.fit(data, 5)  # still usable
    assert tr.step_count == done + 5


@requires("pi_trainer_bound")
def test_trainer_bound_is_finite():
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 2, width=16, layers=1)
    tr = pi.Trainer(model)
    b, e = tr.bound(pi.generate_data("moons", 64), samples=4)
    assert np.isfinite(b) and e >= 0


# ---- data ---------------------------------------------------------------------------------
@requires("pi_data_generate", "pi_data_save", "pi_data_load")
@pytest.mark.parametrize("ext", [".npy", ".csv", ".f32"])
def test_data_round_trip(tmp_path, ext):
    x = pi.generate_data("25_gaussians", 100, seed=4)
    np.testing.assert_array_equal(x, pi.generate_data(pi.Dataset.GAUSSIANS_25, 100, seed=4))
    path = tmp_path / ("d" + ext)
    pi.save_data(path, x)
    back = pi.load_data(path)
    np.testing.assert_allclose(back, x, rtol=1e-6)
    if ext == ".npy":
        np.testing.assert_array_equal(np.load(path), x)  # a real numpy file


# ---- the same computation through the pathint command -------------------------------------
@requires("pi_model_save", "pi_sampler_run")
def test_python_and_cli_give_the_same_bits(tmp_path):
    tool = os.environ.get("PATHINT_TOOL")
    if not tool or not os.path.exists(tool):
        pytest.skip("PATHINT_TOOL is not set (the pathint command is not built)")
    _, model, _ = mixture()
    path = tmp_path / "m.pim"
    model.save(path)
    ref = pi.Sampler(model, hbar=0.7, steps=30, seed=5).sample(200)
    out = tmp_path / "s.npy"
    subprocess.run([tool, "sample", "--model", str(path), "-n", "200", "--hbar", "0.7", "--steps", "30",
                    "--seed", "5", "--quiet", "--out", str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), ref)
