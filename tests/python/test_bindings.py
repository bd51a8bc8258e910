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


def test_build_info_says_what_runs():
    info = pi.build_info()
    assert info["version"] == pi.version()
    assert info["blis_version"].count(".") >= 1
    assert info["blis_kernel_choice"] in ("pathint", "environment", "detected", "host")
    assert info["blis_threading"] in ("pthreads", "openmp", "none")
    assert info["cpu_count"] >= 1
    cpu = set(open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0].split()) if \
        os.path.exists("/proc/cpuinfo") else None
    if cpu is not None and "avx512f" in cpu:  # the kernel, too, saves the ZMM state when it lists avx512f
        assert "avx512f" in info["cpu_vector_extensions"]
        if {"avx512dq", "avx512bw", "avx512vl"} <= cpu and info["blis_kernel_choice"] == "pathint":
            assert info["blis_kernels"] == "skx"
    if cpu is not None:
        assert set(info["cpu_vector_extensions"]) - {"sse4.1"} <= cpu | {"sse4.1"}


def test_refuses_other_major_version(monkeypatch):
    monkeypatch.setattr(_library, "ABI_MAJOR", pi.ABI_MAJOR + 1)
    with pytest.raises(pi.LibraryNotFoundError, match="major version"):
        _library.Library(LIB.path)


def test_missing_library_is_a_clear_error(tmp_path):
    with pytest.raises(pi.LibraryNotFoundError, match="cannot load"):
        _library.Library(str(tmp_path / "nope.so"))


def test_refuses_a_library_that_lacks_a_function(monkeypatch):
    table = dict(_library.SIGNATURES)
    table["pi_function_from_the_future"] = (_library.STATUS, [])
    monkeypatch.setattr(_library, "SIGNATURES", table)
    with pytest.raises(pi.LibraryNotFoundError, match="pi_function_from_the_future"):
        _library.Library(LIB.path)


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
    simple = pi.SDE.preset("simple")
    assert simple.get_param("beta_min") == 0.0 and simple.time_range == sde.time_range
    assert pi.SDE.preset("cosine").kind == pi.SDEKind.VP_COSINE
    assert pi.SDE.preset(pi.SDEPreset.COSINE).time_range == pi.SDE.preset("cosine").time_range
    with pytest.raises(pi.InvalidArgumentError, match="known: vp"):
        pi.SDE.preset("nope")
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
    assert pi.Precond.INPUT == 3
    assert scaled.preconditioning == (pi.Precond.INPUT, 1.0)
    assert edm.preconditioning == (pi.Precond.EDM, pi.option_info("mlp_sigma_data").default)
    assert plain.preconditioning[0] == pi.Precond.NONE


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


def test_sampler_reaches_the_mixture():
    _, model, (w, mu, var) = mixture()
    s = pi.Sampler(model, hbar=1.0, steps=100, seed=3)
    x = s.sample(4000).astype(np.float64)
    mean = (w[:, None] * mu).sum(axis=0)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=0.08)


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


def test_sampler_options_read_back_from_the_library():
    _, model, _ = mixture()
    s = pi.Sampler(model, schedule="karras", rho=5.0, tolerances=(1e-4, 1e-6), corrector=(2, 0.2),
                   denoise_final=True)
    assert (s.schedule, s.rho) == (pi.Schedule.KARRAS, 5.0)
    s.set_schedule("uniform_t")          # rho not given: the sampler's value is kept
    assert (s.schedule, s.rho) == (pi.Schedule.UNIFORM_T, 5.0)
    assert s.tolerances == (1e-4, 1e-6) and s.corrector == (2, pytest.approx(0.2))
    s.set_tolerances(atol=1e-7)
    assert s.tolerances == (1e-4, 1e-7)
    assert s.denoise_final is True and s.record_trajectory is False
    s.record_trajectory = True
    assert s.record_trajectory is True
    sde = model.sde
    assert s.time_range == (pytest.approx(sde.time_range[1]), pytest.approx(sde.time_range[0]))
    s.time_range = (0.8, 0.01)
    assert s.time_range == (0.8, 0.01)
    assert s.times[0] == pytest.approx(0.8) and s.times.size == s.steps + 1
    with pytest.raises(pi.InvalidArgumentError):
        s.steps = 0
    assert s.steps == 50  # a rejected value leaves the option as it was


# ---- options -------------------------------------------------------------------------------
def test_option_info_lists_every_key():
    table = pi.option_info()
    assert list(table) == list(pi.Option)
    hbar = table[pi.Option.SAMPLER_HBAR]
    assert (hbar.name, hbar.default, hbar.min, hbar.max) == ("hbar", 0.0, 0.0, 1e6)
    assert pi.option_info("likelihood_rtol") == table[pi.Option.LIKELIHOOD_RTOL]
    assert table[pi.Option.MLP_EMBEDDING_FEATURES].flags & pi.core.OPTION_EVEN
    assert not table[pi.Option.SAMPLER_RTOL].accepts(1.0) and table[pi.Option.SAMPLER_RTOL].accepts(0.5)
    with pytest.raises(pi.InvalidArgumentError):
        pi.option_info(9999)


def _assert_defaults(options):
    table = pi.option_info()
    assert options
    for key, value in options.items():
        assert value == table[key].default, f"{key.name}: {value} != {table[key].default}"


def test_fresh_handles_read_back_the_table_defaults():
    sde = pi.SDE("vp")
    gmm = pi.Model.gmm(sde, [1.0], [[0.0, 0.0]], [[1.0, 1.0]])
    mlp = pi.Model.mlp(sde, 2, width=8, layers=1)
    _assert_defaults(gmm.options)
    assert set(mlp.options) == {pi.Option.MODEL_THREADS} | {k for k in pi.Option if k.name.startswith("MLP_")}
    _assert_defaults(mlp.options)
    _assert_defaults(pi.Sampler(gmm).options)
    assert set(pi.Sampler(gmm).options) == {k for k in pi.Option if k.name.startswith("SAMPLER_")}
    _assert_defaults(pi.Likelihood(gmm).options)
    assert set(pi.Likelihood(gmm).options) == {k for k in pi.Option if k.name.startswith("LIKELIHOOD_")}
    _assert_defaults(pi.Trainer(mlp).options)
    assert set(pi.Trainer(mlp).options) == {k for k in pi.Option if k.name.startswith("TRAINER_")}


def _raw_message(fn_name, handle, *args):
    """Call a setter through a fresh ctypes binding without errcheck: (status, pi_last_error())."""
    cdll = ctypes.CDLL(LIB.path)
    fn = getattr(cdll, fn_name)
    fn.restype = ctypes.c_int
    status = fn(handle._ptr, *args)
    cdll.pi_last_error.restype = ctypes.c_char_p
    return status, cdll.pi_last_error().decode()


@pytest.mark.parametrize("make, setter, attr, bad, c_name, c_args", [
    (lambda m: pi.Likelihood(m), lambda h, v: setattr(h, "threads", v), "threads", 0,
     "pi_likelihood_set_threads", (ctypes.c_int(0),)),
    (lambda m: pi.Likelihood(m), lambda h, v: h.set_tolerances(rtol=v), "rtol", 1.0,
     "pi_likelihood_set_tolerances", (ctypes.c_double(1.0), ctypes.c_double(1e-8))),
    (lambda m: pi.Sampler(m), lambda h, v: setattr(h, "hbar", v), "hbar", -1.0,
     "pi_sampler_set_hbar", (ctypes.c_double(-1.0),)),
    (lambda m: pi.Likelihood(m, divergence="hutchinson_rademacher"), lambda h, v: setattr(h, "probes", v),
     "probes", 5000,
     "pi_likelihood_set_divergence", (ctypes.c_int(2), ctypes.c_size_t(5000))),
])
def test_setter_errors_carry_the_library_message(make, setter, attr, bad, c_name, c_args):
    _, model, _ = mixture()
    h = make(model)
    before = getattr(h, attr)
    with pytest.raises(pi.InvalidArgumentError) as info:
        setter(h, bad)
    assert getattr(h, attr) == before  # unchanged
    status, message = _raw_message(c_name, h, *c_args)
    assert status == -1 and message
    assert message in str(info.value) or str(info.value).endswith(message.split(": ", 1)[-1])
    assert info.value.function == c_name


# ---- likelihood ----------------------------------------------------------------------------
def mixture_1d():
    sde = pi.SDE("vp", beta_max=80.0)  # p_T is the N(0, 1) prior to ~1e-9: NLL0 = −log p_{t_min}
    w, mu, var = [0.3, 0.7], [[-1.0], [1.5]], [[0.04], [0.25]]
    return sde, pi.Model.gmm(sde, w, mu, var)


def _c_api_nll(model, x, rtol, atol, threads):
    """NLL0 and c1 straight through the C API (no Python class in between)."""
    lik = _library.LikelihoodPtr()
    LIB.pi_likelihood_create(model, ctypes.byref(lik))
    try:
        LIB.pi_likelihood_set_tolerances(lik, rtol, atol)
        LIB.pi_likelihood_set_threads(lik, threads)
        nll = np.empty(len(x))
        c1 = np.empty(len(x))
        LIB.pi_likelihood_nll(lik, len(x), x, nll, c1.ctypes.data)
        return nll, c1
    finally:
        LIB.pi_likelihood_destroy(lik)


def test_likelihood_of_a_1d_mixture_is_exact_and_equals_the_c_api():
    sde, model = mixture_1d()
    x = np.array([[-1.2], [-0.9], [0.2], [1.4], [2.5]], np.float32)
    with pi.Likelihood(model, rtol=1e-8, atol=1e-10, threads=2) as lik:
        assert lik.tolerances == (1e-8, 1e-10) and lik.threads == 2
        nll0, c1 = lik.nll(x)
        nll_only, none = lik.nll(x, c1=False)
        hbar = lik.nll_hbar(x, 0.5)
        diag = lik.nll_ex(x)
    ref0, ref1 = _c_api_nll(model, x, 1e-8, 1e-10, 2)
    np.testing.assert_array_equal(nll0, ref0)  # the class adds nothing: same bits
    np.testing.assert_array_equal(c1, ref1)
    assert none is None
    np.testing.assert_allclose(nll_only, nll0, rtol=1e-9)
    np.testing.assert_allclose(hbar, nll0 - 0.5 * c1, rtol=1e-9)
    np.testing.assert_array_equal(diag.nll0, nll0)
    assert np.all(diag.status == 0) and np.all(diag.nfe > 0)
    # exact score: NLL0 is the data density's −log p at t_min
    t_min = sde.time_range[0]
    np.testing.assert_allclose(nll0, -model.logpdf(x, t_min), atol=1e-4)
    np.testing.assert_allclose(c1, 0.0, atol=1e-3)  # and the ħ slope vanishes


def test_likelihood_of_the_2d_mixture_and_action_bound():
    sde, model, _ = mixture()
    x = np.array([[-1.0, 0.5], [0.9, -0.4], [0.0, 0.0]], np.float32)
    lik = pi.Likelihood(model, rtol=1e-8, atol=1e-10)
    nll0, c1 = lik.nll(x)
    np.testing.assert_allclose(nll0, -model.logpdf(x, sde.time_range[0]), atol=1e-2)
    np.testing.assert_allclose(c1, 0.0, atol=2e-2)
    data = pi.Sampler(model, hbar=1.0, steps=100, seed=2).sample(256)
    b, se = lik.action_bound(data, samples=8)
    assert np.isfinite(b) and se > 0
    assert lik.action_bound(data, samples=8) == (b, se)  # deterministic in the handle's seed
    exact = np.mean(-model.logpdf(data, sde.time_range[0]))
    assert abs(b - exact) < 4 * se + 0.05  # the exact score: the bound is the NLL


def test_likelihood_options_and_errors():
    _, model = mixture_1d()
    lik = pi.Likelihood(model, divergence="hutchinson_gaussian", probes=4, wkb_algorithm="reference",
                        dequantization=0.01, seed=9)
    assert (lik.divergence, lik.probes) == (pi.Divergence.HUTCHINSON_GAUSSIAN, 4)
    lik.probes = 8
    assert (lik.divergence, lik.probes) == (pi.Divergence.HUTCHINSON_GAUSSIAN, 8)
    assert lik.wkb_algorithm == pi.WKBAlgorithm.REFERENCE
    assert (lik.dequantization, lik.seed) == (0.01, 9)
    lik.divergence = "exact"
    assert (lik.divergence, lik.probes) == (pi.Divergence.EXACT, 1)  # stored as 1 for exact
    with pytest.raises(pi.InvalidArgumentError, match="threads"):
        pi.Likelihood(model, threads=0)
    with pytest.raises(pi.InvalidArgumentError, match="hbar"):
        lik.nll_hbar([[0.0]], -1.0)
    with pytest.raises(pi.InvalidArgumentError, match="dimension"):
        lik.nll(np.zeros((2, 3)))
    lik.close()
    with pytest.raises(pi.InvalidArgumentError, match="closed"):
        lik.nll([[0.0]])


def test_likelihood_stochastic_c1_agrees_with_the_exact_sweep():
    # issue 18: c1="stochastic" probes tr H (O(d) memory); every point within 3 standard errors
    # of the exact sweep, the same bits on 1 and 2 threads, K = 0 refused naming the option.
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 3, width=16, layers=2, seed=4, output_view="score")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32) * 0.7
    nll_e, c1_e, se_e = pi.Likelihood(model, c1="exact").nll_wkb(x)
    assert np.all(se_e == 0.0)
    lik = pi.Likelihood(model, c1="stochastic", wkb_probes=64, seed=3)
    assert (lik.wkb_algorithm, lik.wkb_probes) == (pi.WKBAlgorithm.STOCHASTIC, 64)
    nll_s, c1_s, se_s = lik.nll_wkb(x)
    np.testing.assert_array_equal(nll_s, nll_e)
    assert np.all(se_s > 0) and np.all(np.abs(c1_s - c1_e) < 3 * se_s)
    lik.threads = 2
    np.testing.assert_array_equal(lik.nll_wkb(x)[1], c1_s)
    with pytest.raises(pi.InvalidArgumentError, match="probes"):
        lik.wkb_probes = 0
    with pytest.raises(ValueError):
        pi.Likelihood(model, c1="approximate")


def test_likelihood_second_order():
    # issue 18: nll(x, order=2) -> (nll0, c1, c2); nll0 and c1 are order 1's, c2 is the same
    # on 1 and 2 threads, order=1 is the default, dimension > 16 is unsupported.
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 1, width=8, layers=2, seed=4, output_view="score")
    x = np.array([[-0.5], [0.7]], np.float32)
    lik = pi.Likelihood(model, rtol=1e-4, atol=1e-6)
    nll0, c1, c2 = lik.nll(x, order=2)
    a, b = lik.nll(x)
    np.testing.assert_array_equal(nll0, a)
    np.testing.assert_array_equal(c1, b)
    assert np.all(np.isfinite(c2)) and np.all(c2 != 0.0)
    lik.threads = 2
    np.testing.assert_array_equal(lik.nll(x, order=2)[2], c2)
    assert lik.nll(x, order=0)[1] is None
    with pytest.raises(ValueError):
        lik.nll(x, order=3)
    big = pi.Model.mlp(sde, 17, width=8, layers=1, seed=1, output_view="score")
    with pytest.raises(pi.PathintError, match="dim <= 16"):
        pi.Likelihood(big).nll(np.zeros((1, 17), np.float32), order=2)


def test_likelihood_second_order_stochastic():
    # issue 18: nll_wkb2(x) -> (nll0, c1, c1_stderr, c2, c2_stderr); exact algorithms give
    # standard errors 0 and nll(x, order=2)'s c2; c1="stochastic" gives a stochastic c2 (mean
    # over wkb_probes replicates) within 3 standard errors of the exact one, the same c2 from
    # nll(x, order=2), and the same bits on 2 threads. 1-D: every replicate is exact, so the
    # standard error is tiny; dimension 17 > 16 runs stochastically. (nll(x, order=2) on 2
    # threads gives nll_wkb2's c2.)
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 1, width=8, layers=2, seed=4, output_view="score")
    x = np.array([[-0.5], [0.7]], np.float32)
    lik = pi.Likelihood(model, rtol=1e-4, atol=1e-6)
    nll0, c1, se1, c2, se2 = lik.nll_wkb2(x)
    np.testing.assert_array_equal(c2, lik.nll(x, order=2)[2])
    assert np.all(se1 == 0.0) and np.all(se2 == 0.0)
    # the stochastic inner solves run at the handle's tolerance, whose error enters through
    # the second difference / h^2: at rtol 1e-4 that is ~1 % here, at 1e-7 ~1e-5
    sto = pi.Likelihood(model, c1="stochastic", wkb_probes=2, seed=5, rtol=1e-7, atol=1e-9)
    n_s, c1_s, se1_s, c2_s, se2_s = sto.nll_wkb2(x)
    assert np.all(np.isfinite(se2_s)) and np.all(se2_s < 1e-2 * np.abs(c2) + 1e-6)
    assert np.all(np.abs(c2_s - c2) < 3 * se2_s + 2e-3 * np.abs(c2))
    sto.threads = 2
    np.testing.assert_array_equal(sto.nll(x, order=2)[2], c2_s)
    big = pi.Model.mlp(sde, 17, width=4, layers=1, seed=1, output_view="score")
    r = pi.Likelihood(big, c1="stochastic", wkb_probes=2, rtol=1e-3, atol=1e-5).nll_wkb2(
        np.zeros((1, 17), np.float32))
    assert np.isfinite(r[3][0]) and r[4][0] > 0


def test_likelihood_progress_callback():
    _, model = mixture_1d()
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(-1, 1)
    seen = []
    lik = pi.Likelihood(model, threads=3, callback=lambda done, n: seen.append((done, n)) and False)
    lik.nll(x, c1=False)
    assert seen == [(i, 12) for i in range(1, 13)]  # once per point, serialised
    lik.callback = lambda done, n: done == 4          # true stops
    with pytest.raises(pi.CanceledError):
        lik.nll(x)
    diag = lik.nll_ex(x)                              # the diagnostics say which points ran
    assert np.sum(diag.status == 0) >= 4 and np.any(diag.status == -7)
    assert np.all(np.isnan(diag.nll0[diag.status == -7]))

    def boom(done, n):
        raise LookupError("from the progress callback")
    lik.callback = boom
    with pytest.raises(LookupError, match="progress callback") as info:
        lik.nll(x)
    assert isinstance(info.value.__cause__, pi.CanceledError)
    lik.callback = None
    assert np.all(np.isfinite(lik.nll(x)[0]))  # usable afterwards


def test_likelihood_cancel_from_another_thread():
    _, model = mixture_1d()
    x = np.linspace(-2, 2, 8, dtype=np.float32).reshape(-1, 1)
    first_point = threading.Event()
    canceled = threading.Event()

    def progress(done, n):
        if done == 1:
            first_point.set()
            assert canceled.wait(10)  # the next point sees the cancel
        return False

    lik = pi.Likelihood(model, callback=progress)

    def canceller():
        assert first_point.wait(10)
        lik.cancel()
        canceled.set()

    t = threading.Thread(target=canceller)
    t.start()
    diag = lik.nll_ex(x)
    t.join()
    assert diag.status[0] == 0 and np.isfinite(diag.nll0[0])
    assert np.all(diag.status[1:] == -7) and np.all(np.isnan(diag.nll0[1:]))
    first_point.clear()
    canceled.clear()
    t = threading.Thread(target=canceller)
    t.start()
    with pytest.raises(pi.CanceledError, match="cancel"):
        lik.nll(x)
    t.join()
    lik.cancel()  # idle: does not stop the next call
    lik.callback = None
    assert np.all(np.isfinite(lik.nll(x)[0]))


@pytest.mark.parametrize("threads", [1, 2])
def test_keyboard_interrupt_cancels_the_likelihood(threads):
    # worker 0 of the library's pool is the calling thread, so the handler runs between its points
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    _, model = mixture_1d()
    x = np.linspace(-2, 2, 50, dtype=np.float32).reshape(-1, 1)
    seen = []

    def progress(done, n):
        seen.append(done)
        if done == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return False

    lik = pi.Likelihood(model, callback=progress, threads=threads)
    with pytest.raises(KeyboardInterrupt):
        lik.nll(x)
    assert len(seen) < 50
    lik.callback = None
    assert lik.nll(x[:3])[0].shape == (3,)  # still usable


def test_bits_per_dim():
    assert pi.bits_per_dim(np.log(2.0) * 3, 3) == pytest.approx(1.0)
    assert pi.bits_per_dim(0.0, 2, 256.0) == pytest.approx(8.0)
    with pytest.raises(pi.InvalidArgumentError, match="dim"):
        pi.bits_per_dim(1.0, 0, 1.0)
    with pytest.raises(pi.InvalidArgumentError):
        pi.bits_per_dim(float("nan"), 2, 1.0)


# ---- trainer ------------------------------------------------------------------------------
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
    path = tmp_path / "ckpt.bin"
    tr.save(path)
    back = pi.Trainer.resume(path)
    assert back.step_count == tr.step_count
    assert back.options == tr.options  # every option is in the checkpoint
    np.testing.assert_array_equal(back.model.params, model.params)


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


def test_trainer_options_read_back_and_cancel_from_another_thread():
    sde = pi.SDE("vp")
    model = pi.Model.mlp(sde, 2, width=16, layers=1, seed=1)
    tr = pi.Trainer(model, lr=2e-3, lr_schedule="cosine", total_steps=100, batch=32, weighting="sigma2",
                    adam=(0.8, 0.99, 1e-7), grad_clip=1.0, seed=4, threads=2)
    assert tr.lr == 2e-3 and tr.lr_schedule == (pi.LRSchedule.COSINE, 0, 100)
    tr.configure(warmup=10)                                  # the other parts are kept
    assert tr.lr_schedule == (pi.LRSchedule.COSINE, 10, 100)
    assert (tr.batch, tr.weighting, tr.adam, tr.grad_clip, tr.seed, tr.threads) == \
        (32, pi.Weighting.SIGMA2, (0.8, 0.99, 1e-7), 1.0, 4, 2)
    with pytest.raises(pi.InvalidArgumentError, match="ema"):
        tr.ema = 1.0
    assert tr.ema == pi.option_info("trainer_ema").default
    data = pi.generate_data("moons", 500)
    stepped = threading.Event()
    canceled = threading.Event()

    def progress(step, *rest):
        if step == 3:
            stepped.set()
            assert canceled.wait(10)
        return False

    def canceller():
        assert stepped.wait(10)
        tr.cancel()
        canceled.set()

    t = threading.Thread(target=canceller)
    t.start()
    with pytest.raises(pi.CanceledError):
        tr.fit(data, 1000, callback=progress)
    t.join()
    assert 3 <= tr.step_count <= 4
    tr.cancel()  # idle: does not stop the next fit
    tr.fit(data, 2)
    assert tr.step_count <= 6


# ---- data ---------------------------------------------------------------------------------
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


# ---- issue 20, point 1: hostile use of the binding (each case was a heap error under ASan) --
def test_gmm_refuses_lengths_that_do_not_match_the_means():
    sde = pi.SDE("vp")
    means = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    with pytest.raises(pi.InvalidArgumentError, match=r"means must have shape \(1, dim\)"):
        pi.Model.gmm(sde, [1.0], means, 1.0)  # 1 weight for 3 means: read past weights[0]
    with pytest.raises(pi.InvalidArgumentError, match="variances must be"):
        pi.Model.gmm(sde, [0.2, 0.3, 0.5], means, [[1.0, 1.0]] * 2)
    with pytest.raises(pi.InvalidArgumentError, match="weights must be"):
        pi.Model.gmm(sde, [[0.5, 0.5]], means[:2], 1.0)
    # The accepted forms: a scalar, one (dim,) row, or (k, dim).
    for var in (0.5, [0.5, 0.5], [[0.5, 0.5]] * 3):
        m = pi.Model.gmm(sde, [0.2, 0.3, 0.5], means, var)
        assert m.dim == 2


def test_trajectory_after_a_canceled_run_has_that_runs_rows():
    _, model, _ = mixture()
    s = pi.Sampler(model, steps=8, seed=0, record_trajectory=True)
    s.sample(50)
    assert s.trajectory[0].shape == (9, 50, 2)
    s.callback = lambda step, nsteps, t, x, d: step >= 3  # cancel after the third step
    with pytest.raises(pi.CanceledError):
        s.sample(5)
    traj, _ = s.trajectory
    assert traj.shape[1:] == (5, 2) and 1 <= traj.shape[0] < 9
    # A run that fails before its first step records nothing (not the previous run's rows).
    s.callback = None
    s.sample(50)
    with pytest.raises(pi.InvalidArgumentError):
        s.sample(0)
    assert s.trajectory == (None, None)


def test_closing_a_borrowed_model_defers_the_free():
    sde = pi.SDE("vp", beta_max=15.0)
    model = pi.Model.gmm(sde, [1.0], [[0.0, 0.0]], [[1.0, 1.0]])
    view = model.sde
    s = pi.Sampler(model, steps=4, seed=0)
    lik = pi.Likelihood(model)
    times = s.times
    model.close()
    with pytest.raises(pi.InvalidArgumentError, match="closed"):
        s.sample(3)  # the sampler refuses a closed model...
    # ... but what borrows the model's memory still reads it (it was not freed under them).
    assert view.get_param("beta_max") == 15.0
    np.testing.assert_array_equal(s.times, times)
    assert model._deferred and model._borrowers == 3
    s.close()
    lik.close()
    assert model._deferred and model._borrowers == 1
    del view
    gc.collect()
    assert model._deferred is None and model._borrowers == 0  # freed with its last borrower


def test_sample_from_copy_never_writes_the_callers_array(tmp_path):
    _, model, _ = mixture()
    s = pi.Sampler(model, steps=4, seed=0)
    flat = np.zeros(6, np.float32)  # 1-D: reshaped to (3, 2), a view of the caller's array
    out = s.sample_from(0.5, flat)
    assert np.all(flat == 0) and out.shape == (3, 2) and not np.all(out == 0)
    path = tmp_path / "x.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(3, 2))
    mm[:] = 0
    mm.flush()
    out = s.sample_from(0.5, mm)
    assert np.all(mm == 0) and np.all(np.fromfile(path, np.float32) == 0)
    assert type(out) is np.ndarray

    class Sub(np.ndarray):
        pass
    sub = np.zeros((3, 2), np.float32).view(Sub)
    s.sample_from(0.5, sub)
    assert np.all(sub == 0)


def test_integers_that_do_not_fit_the_c_type_are_refused():
    _, model, _ = mixture()
    s = pi.Sampler(model)
    for key, value in (("threads", 2 ** 32 + 1), ("steps", 2 ** 64 + 10), ("steps", -1), ("seed", -1),
                       ("seed", 2 ** 64)):
        before = getattr(s, key)
        with pytest.raises(pi.InvalidArgumentError, match="outside the range"):
            setattr(s, key, value)
        assert getattr(s, key) == before
    with pytest.raises(pi.InvalidArgumentError, match="outside the range"):
        pi.bits_per_dim(1.0, -1, 256)
    with pytest.raises(pi.InvalidArgumentError, match="complex"):
        s.hbar = np.complex128(0.5 + 1j)
    with pytest.raises(pi.InvalidArgumentError, match="complex"):
        model.score(np.array([[1 + 1j, 0]]), 0.5)
    with pytest.raises(pi.InvalidArgumentError, match="complex"):
        pi.Likelihood(model).nll(np.array([[0.5j, 0]]))


def test_a_second_run_on_a_busy_sampler_raises_busy_error():  # issue 20, point 3
    _, model, _ = mixture()
    s = pi.Sampler(model, steps=4, seed=0)
    inner = []

    def reenter(step, nsteps, t, x, d):
        if not inner:
            with pytest.raises(pi.BusyError, match="another call is running on this sampler") as info:
                s.sample(3)
            inner.append(info.value.status)
        return False
    s.callback = reenter
    assert s.sample(5).shape == (5, 2)
    assert inner == [-11]
    assert pi.errors.error_for_status(-11, "x").__class__ is pi.BusyError
# ---- issue 14: rectified flow, discrete ᾱ tables, the flow view, shifts ---------------------
def test_rectified_flow_sde_and_flow_view():
    sde = pi.SDE("rectified_flow")
    assert sde.kind == pi.SDEKind.RECTIFIED_FLOW
    assert sde.time_range == (1e-3, 1 - 1e-3)
    a, s = sde.marginal(0.3)
    assert a == pytest.approx(0.7, abs=1e-15) and s == pytest.approx(0.3, abs=1e-15)
    # A single Gaussian N(μ, v): the exact flow velocity u = E[ε − x0 | x_t] in closed form.
    mu, v, t = 0.4, 0.3, 0.6
    model = pi.Model.gmm(sde, [1.0], [[mu]], [[v]])
    x = np.array([[-1.0], [0.2], [1.5]], np.float32)
    u = model.eval("flow", x, t)
    var_t = (1 - t) ** 2 * v + t ** 2
    x0_mean = mu + (1 - t) * v / var_t * (x - (1 - t) * mu)
    eps_mean = (x - (1 - t) * x0_mean) / t
    np.testing.assert_allclose(u, eps_mean - x0_mean, rtol=1e-5, atol=1e-5)
    assert sde.timestep(0.25) == pytest.approx(250.0)


def test_discrete_sde_from_table_and_schedule():
    sd = pi.SDE.discrete(beta_schedule="scaled_linear")
    abar = sd.alphas_cumprod
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
    np.testing.assert_allclose(abar, np.cumprod(1 - betas), rtol=1e-12)
    again = pi.SDE.discrete(alphas_cumprod=abar)
    for i in (0, 10, 500, 999):
        t = again.time_from_timestep(i)
        assert again.marginal(t)[0] == pytest.approx(np.sqrt(abar[i]), abs=1e-12)
        assert again.timestep(t) == pytest.approx(i)
    np.testing.assert_allclose(sd.discrete_times(4, "trailing"), [1.0, 0.75, 0.5, 0.25, 0.001])
    zsnr = pi.SDE.discrete(beta_schedule="scaled_linear", rescale_betas_zero_snr=True)
    assert zsnr.alphas_cumprod[-1] == 0.0
    with pytest.raises(pi.InvalidArgumentError, match="decreasing"):
        pi.SDE.discrete(alphas_cumprod=[0.5, 0.9])
    with pytest.raises(pi.InvalidArgumentError):
        pi.SDE.discrete(alphas_cumprod=[0.9, 0.5], beta_schedule="linear")


def test_shifts():
    assert pi.shift_from_sequence_length(4096) == pytest.approx(np.exp(1.15))
    assert pi.shift_from_sequence_length(256) == pytest.approx(np.exp(0.5))
    rf = pi.SDE("rectified_flow")
    t = np.array([0.9, 0.5, 0.1])
    np.testing.assert_allclose(rf.shift_times(t, 3.0), 3 * t / (1 + 2 * t), rtol=1e-14)
    with pytest.raises(pi.InvalidArgumentError, match="shift"):
        rf.shift_times(t, 0.0)


def test_timestep_callback():
    sd = pi.SDE.discrete(beta_schedule="linear", num_train_timesteps=100)
    seen = []

    def net(x, tau):
        seen.extend(tau.tolist())
        return np.zeros_like(x)

    m = pi.Model.callback(sd, 1, net, view="eps", timestep=True)
    m.eval("eps", np.zeros((2, 1), np.float32), sd.time_from_timestep(42))
    assert seen and all(abs(v - 42) < 1e-9 for v in seen)
    with pytest.raises(pi.InvalidArgumentError, match="discrete or rectified flow"):
        pi.Model.callback(pi.SDE("vp"), 1, net, view="eps", timestep=True)


# issue 16: time-keyed noise and the new methods
def test_sampler_noise_and_new_methods():
    _, model, _ = mixture()
    s = pi.Sampler(model)
    assert s.noise == pi.Noise.STEP
    s.hbar, s.steps, s.seed = 1.0, 20, 3
    s.noise = pi.Noise.BROWNIAN
    assert s.noise == pi.Noise.BROWNIAN
    a = s.sample(200)
    s.steps = 40
    b = s.sample(200)
    s.seed = 4
    c = s.sample(200)
    # one Brownian path per (seed, row): 20 and 40 steps land close, another seed does not
    assert np.mean(np.linalg.norm(a - b, axis=1)) < 0.3 * np.mean(np.linalg.norm(a - c, axis=1))
    with pytest.raises(pi.InvalidArgumentError):
        s.noise = 3
    for m in (pi.Method.EXP3M, pi.Method.SA):
        s.method = m
        assert np.isfinite(s.sample(50)).all()
    s.method, s.hbar = pi.Method.IPNDM, 0.0
    assert np.isfinite(s.sample(50)).all()
