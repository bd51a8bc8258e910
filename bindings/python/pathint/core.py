"""Pythonic classes over the C API: SDE, Model, Sampler, Trainer, and data helpers.

Arrays: points are ``(n, dim)`` ``float32`` C-contiguous arrays and are passed to
C without a copy. Any other array-like (float64, lists, Fortran order, ...) is
converted once with ``numpy.ascontiguousarray(x, dtype=numpy.float32)``. Times
are float64. Results are new numpy arrays owned by Python.

Objects own their C handle and free it on ``close()``, on leaving a ``with``
block, or when garbage collected. Objects that borrow another (a sampler its
model, a trainer its model, a callback model its Python function) keep a Python
reference to it, so the borrowed object lives as long as needed.

Callbacks: an exception raised inside a Python callback stops the C call
(the callback returns nonzero) and is re-raised, unchanged, when the C call
returns. ``KeyboardInterrupt`` (Ctrl-C) during ``Sampler.sample``,
``Sampler.nll`` or ``Trainer.fit`` cancels the run cleanly and is raised when it has
returned (in the main thread, a SIGINT handler is installed for the duration of the call).
"""

import contextlib
import ctypes
import enum
import os
import signal
import threading

import numpy as np

from . import _library as L
from .errors import InvalidArgumentError, PathintError

__all__ = [
    "SDEKind", "SDEParam", "View", "ModelKind", "Divergence", "Method", "Schedule", "WKBAlgorithm",
    "Weighting", "TimeSampling", "LRSchedule", "Dataset",
    "SDE", "Model", "Sampler", "Trainer", "generate_data", "load_data", "save_data", "bits_per_dim",
    "version", "version_number",
]


# ---- enums (values mirror include/pathint.h) ------------------------------------------------
class SDEKind(enum.IntEnum):
    VP_LINEAR = 1
    VP_COSINE = 2
    SUBVP = 3
    VE = 4
    EDM = 5
    CUSTOM = 6


class SDEParam(enum.IntEnum):
    BETA_MIN = 1
    BETA_MAX = 2
    COSINE_S = 3
    SIGMA_MIN = 4
    SIGMA_MAX = 5
    T_MIN = 6
    T_MAX = 7


class View(enum.IntEnum):
    SCORE = 0
    EPS = 1
    DENOISED = 2
    V = 3


class Precond(enum.IntEnum):
    NONE = 0
    EDM = 1
    INPUT = 2


class ModelKind(enum.IntEnum):
    GMM = 1
    EMPIRICAL = 2
    MLP = 3
    CALLBACK = 4


class Divergence(enum.IntEnum):
    EXACT = 0
    HUTCHINSON_RADEMACHER = 1
    HUTCHINSON_GAUSSIAN = 2


class Method(enum.IntEnum):
    EULER = 1
    EXP1 = 2
    EXP2M = 3
    HEUN = 4
    RK45 = 5


class Schedule(enum.IntEnum):
    UNIFORM_T = 1
    KARRAS = 2
    UNIFORM_LAMBDA = 3
    CUSTOM = 4


class WKBAlgorithm(enum.IntEnum):
    SWEEP = 0
    REFERENCE = 1


class Weighting(enum.IntEnum):
    LIKELIHOOD = 0
    SIGMA2 = 1
    EDM = 2


class TimeSampling(enum.IntEnum):
    UNIFORM = 0
    IMPORTANCE = 1
    LOGNORMAL = 2


class LRSchedule(enum.IntEnum):
    CONSTANT = 0
    COSINE = 1


class Dataset(enum.IntEnum):
    SWISS_ROLL = 1
    GAUSSIANS_25 = 2
    RING_8 = 3
    MOONS = 4
    CHECKERBOARD = 5


def _precond(value):
    """(mode, sigma_data) from True/False (EDM with σ_data 0.5 / none), a float σ_data (EDM),
    a mode ('edm', 'input', 'none', Precond) or a (mode, sigma_data) pair."""
    if isinstance(value, bool):
        return (Precond.EDM if value else Precond.NONE), 0.5
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidArgumentError("preconditioning pair must be (mode, sigma_data)", status=-1)
        return _enum(Precond, value[0]), float(value[1])
    if isinstance(value, (str, Precond)):
        return _enum(Precond, value), 0.5
    return Precond.EDM, float(value)


def _enum(cls, value):
    """Accept an enum member, its int value, or its name in any case ('exp2m', 'swiss_roll')."""
    if isinstance(value, str):
        key = value.upper().replace("-", "_")
        aliases = {"VP": "VP_LINEAR", "DDIM": "EXP1", "DPM2M": "EXP2M", "25_GAUSSIANS": "GAUSSIANS_25",
                   "8_GAUSSIANS": "RING_8", "EPSILON": "EPS", "X0": "DENOISED"}
        key = aliases.get(key, key)
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise InvalidArgumentError(f"unknown {cls.__name__} '{value}' (choose from {names})",
                                       status=-1) from None
    return cls(int(value))


# ---- arrays ---------------------------------------------------------------------------------
def _points(x, dim=None, name="x"):
    """(n, dim) float32 C-contiguous: no copy when x already is one."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1 and dim is not None:
        a = a.reshape(-1, dim) if dim > 1 else a.reshape(-1, 1)
    if a.ndim != 2:
        raise InvalidArgumentError(f"{name} must be a 2-D (n, dim) array, got shape {a.shape}", status=-1)
    if dim is not None and a.shape[1] != dim:
        raise InvalidArgumentError(f"{name} has dimension {a.shape[1]} but {dim} is needed", status=-1)
    return a


def _times(t, n):
    if np.ndim(t) == 0:  # (ascontiguousarray would turn a scalar into shape (1,))
        return np.full(n, float(t))
    a = np.ascontiguousarray(t, dtype=np.float64)
    if a.shape != (n,):
        raise InvalidArgumentError(f"t must be a scalar or have shape ({n},), got {a.shape}", status=-1)
    return a


def _ptr(a):
    return None if a is None else a.ctypes.data


def _path(p):
    return os.fsencode(p)


# ---- callback plumbing ----------------------------------------------------------------------
class _PendingError:
    """Holds the first exception raised inside a callback until the C call returns."""

    def __init__(self):
        self._lock = threading.Lock()
        self.exc = None

    def store(self, exc):
        with self._lock:
            if self.exc is None:
                self.exc = exc

    def take(self):
        with self._lock:
            exc, self.exc = self.exc, None
            return exc


def _call(fn, *args, pending=()):
    """Call a C function; if it failed because a callback raised, re-raise that exception."""
    try:
        return fn(*args)
    except PathintError as err:
        for p in pending:
            exc = p.take()
            if exc is not None:
                raise exc.with_traceback(exc.__traceback__) from err
        raise
    finally:
        for p in pending:
            p.take()


class _Interrupt:
    """Ctrl-C during a long C call: while the call runs, SIGINT only sets ``hit`` (the handler
    runs between bytecodes, i.e. inside our step callbacks), the callbacks then ask the C
    run to stop, and KeyboardInterrupt is raised once the call has returned cleanly. Raising
    KeyboardInterrupt inside a ctypes callback instead could be lost as an 'unraisable'
    exception when it fires before the callback's own try block."""

    def __init__(self):
        self.hit = False
        self.on_hit = None


@contextlib.contextmanager
def _interruptible(on_hit=None):
    state = _Interrupt()
    state.on_hit = on_hit
    if threading.current_thread() is not threading.main_thread():
        yield state  # signals are delivered to the main thread only
        return

    def handler(signum, frame):
        state.hit = True
        if state.on_hit is not None:
            state.on_hit()

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
    if state.hit:
        raise KeyboardInterrupt


class _Handle:
    """Base of the handle-owning classes: context manager, close(), idempotent destroy."""

    _destroy_name = None

    def __init__(self, ptr, owner=None):
        self._lib = L.lib()
        self._ptr = ptr
        self._owner = owner  # an object this one borrows from (kept alive), or None if we own it

    @property
    def _as_parameter_(self):
        if not self._ptr:
            raise InvalidArgumentError(f"this {type(self).__name__} has been closed", status=-1)
        return self._ptr

    def close(self):
        """Free the C object now (idempotent). Borrowed handles are not freed."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr and self._owner is None and self._destroy_name:
            getattr(self._lib, self._destroy_name)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


# ---- SDE ------------------------------------------------------------------------------------
class SDE(_Handle):
    """A forward SDE dx = f(t) x dt + g(t) dw with marginal N(α x0, σ² I).

    ``SDE('vp', beta_min=0.0, t_min=0.01)`` creates a built-in kind and sets
    parameters (names of :class:`SDEParam`, lower case). ``SDE.custom(...)``
    wraps Python functions.
    """

    _destroy_name = "pi_sde_destroy"

    def __init__(self, kind="vp", **params):
        lib = L.lib()
        out = L.SDEPtr()
        lib.pi_sde_create(int(_enum(SDEKind, kind)), ctypes.byref(out))
        super().__init__(out)
        self._callbacks = None
        try:
            # Raise ranges before lowering them is the caller's job; apply maxima first.
            for key in sorted(params, key=lambda k: 0 if k.endswith("max") else 1):
                self.set_param(key, params[key])
        except BaseException:
            self.close()
            raise

    @classmethod
    def _wrap(cls, ptr, owner=None):
        self = cls.__new__(cls)
        _Handle.__init__(self, ptr, owner)
        self._callbacks = None
        return self

    @classmethod
    def custom(cls, t_min, t_max, marginal=None, coefficients=None):
        """An SDE from Python functions.

        ``marginal(t) -> (alpha, sigma, dalpha, dsigma)`` or
        ``coefficients(t) -> (f, g)``; give exactly one. The functions are kept
        alive by the SDE and by every model made from it.
        """
        lib = L.lib()
        pending = _PendingError()
        mfn = cfn = None
        if marginal is not None:
            def marginal_tramp(t, a, s, da, ds, _user):
                try:
                    a[0], s[0], da[0], ds[0] = (float(v) for v in marginal(t))
                    return 0
                except BaseException as exc:  # noqa: B902 - re-raised after the call
                    pending.store(exc)
                    return 1
            mfn = L.SDEMarginalFn(marginal_tramp)
        if coefficients is not None:
            def coefficient_tramp(t, f, g, _user):
                try:
                    f[0], g[0] = (float(v) for v in coefficients(t))
                    return 0
                except BaseException as exc:
                    pending.store(exc)
                    return 1
            cfn = L.SDECoefficientFn(coefficient_tramp)
        out = L.SDEPtr()
        _call(lib.pi_sde_create_custom, float(t_min), float(t_max),
              mfn if mfn is not None else ctypes.cast(None, L.SDEMarginalFn),
              cfn if cfn is not None else ctypes.cast(None, L.SDECoefficientFn), None, ctypes.byref(out),
              pending=(pending,))
        self = cls._wrap(out)
        self._callbacks = (mfn, cfn, marginal, coefficients)
        self._pending = pending
        return self

    def _pendings(self):
        p = getattr(self, "_pending", None)
        if p is None and self._owner is not None and hasattr(self._owner, "_pendings"):
            return self._owner._pendings()
        return (p,) if p is not None else ()

    def clone(self):
        out = L.SDEPtr()
        self._lib.pi_sde_clone(self, ctypes.byref(out))
        c = SDE._wrap(out)
        c._callbacks = self._callbacks
        return c

    @property
    def kind(self):
        k = ctypes.c_int()
        self._lib.pi_sde_get_kind(self, ctypes.byref(k))
        return SDEKind(k.value)

    def set_param(self, param, value):
        self._lib.pi_sde_set_param(self, int(_enum(SDEParam, param)), float(value))

    def get_param(self, param):
        v = ctypes.c_double()
        self._lib.pi_sde_get_param(self, int(_enum(SDEParam, param)), ctypes.byref(v))
        return v.value

    @property
    def time_range(self):
        """(t_min, T)."""
        a, b = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_sde_time_range(self, ctypes.byref(a), ctypes.byref(b))
        return a.value, b.value

    def marginal(self, t):
        """(α(t), σ(t))."""
        a, s = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_sde_marginal, self, float(t), ctypes.byref(a), ctypes.byref(s),
              pending=self._pendings())
        return a.value, s.value

    def coefficients(self, t):
        """(f(t), g(t))."""
        f, g = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_sde_coefficients, self, float(t), ctypes.byref(f), ctypes.byref(g),
              pending=self._pendings())
        return f.value, g.value

    def sigma_tilde(self, t):
        """(σ̃ = σ/α, λ = −log σ̃) at t."""
        s, lam = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_sde_sigma_tilde, self, float(t), ctypes.byref(s), ctypes.byref(lam),
              pending=self._pendings())
        return s.value, lam.value

    def time_from_sigma_tilde(self, sigma_tilde):
        t = ctypes.c_double()
        _call(self._lib.pi_sde_time_from_sigma_tilde, self, float(sigma_tilde), ctypes.byref(t),
              pending=self._pendings())
        return t.value

    @property
    def prior_std(self):
        s = ctypes.c_double()
        self._lib.pi_sde_prior_std(self, ctypes.byref(s))
        return s.value

    def prior_sample(self, n, dim, seed=0):
        out = np.empty((n, dim), np.float32)
        self._lib.pi_sde_prior_sample(self, n, dim, seed, out)
        return out

    def prior_logpdf(self, x):
        x = _points(x)
        out = np.empty(x.shape[0], np.float64)
        self._lib.pi_sde_prior_logpdf(self, x.shape[0], x.shape[1], x, out)
        return out

    def __repr__(self):
        return f"<pathint.SDE {self.kind.name.lower()} t in {self.time_range}>" if self._ptr else \
            "<pathint.SDE closed>"


# ---- Model ----------------------------------------------------------------------------------
class Model(_Handle):
    """A score model bound to (a copy of) an SDE. Create with the class methods."""

    _destroy_name = "pi_model_destroy"

    @classmethod
    def _wrap(cls, ptr, keep=(), sde=None):
        self = cls.__new__(cls)
        _Handle.__init__(self, ptr)
        self._keep = tuple(keep)  # Python objects C borrows (callbacks, custom SDE functions)
        self._pending = _PendingError()
        # A custom SDE's Python functions are borrowed by the model's copy of the SDE.
        self._sde_pending = getattr(sde, "_pending", None)
        return self

    @staticmethod
    def _create(fn, *args, pending=()):
        out = L.ModelPtr()
        _call(fn, *args, ctypes.byref(out), pending=pending)
        return out

    @classmethod
    def gmm(cls, sde, weights, means, variances):
        """Exact Gaussian mixture Σ w_k N(μ_k, diag(v_k)); means and variances are (k, dim)."""
        w = np.ascontiguousarray(weights, dtype=np.float64).ravel()
        m = np.ascontiguousarray(means, dtype=np.float64)
        if m.ndim == 1:
            m = m.reshape(len(w), -1)
        v = np.ascontiguousarray(np.broadcast_to(np.asarray(variances, dtype=np.float64), m.shape))
        k, dim = m.shape
        lib = L.lib()
        out = cls._create(lib.pi_model_create_gmm, sde, dim, k, w, m, v)
        return cls._wrap(out, keep=(sde._callbacks,), sde=sde)

    @classmethod
    def empirical(cls, sde, data):
        """The empirical optimal denoiser of ``data`` (n, dim), copied."""
        x = _points(data, name="data")
        lib = L.lib()
        out = cls._create(lib.pi_model_create_empirical, sde, x.shape[1], x.shape[0], x)
        return cls._wrap(out, keep=(sde._callbacks,), sde=sde)

    @classmethod
    def mlp(cls, sde, dim, width=128, layers=3, seed=None, output_view=None, embedding=None,
            embedding_features=None, preconditioning=None):
        """A trainable MLP (``layers`` hidden layers of ``width``, SiLU).

        ``preconditioning``: True (EDM, σ_data 0.5), a float σ_data (EDM), a mode
        (``"edm"``, ``"input"``, ``"none"`` or :class:`Precond`) or a pair ``(mode, sigma_data)``.
        """
        lib = L.lib()
        out = cls._create(lib.pi_model_create_mlp, sde, dim, width, layers)
        self = cls._wrap(out, keep=(sde._callbacks,), sde=sde)
        try:
            if seed is not None:
                lib.pi_model_mlp_init(self, seed)
            if output_view is not None:
                lib.pi_model_mlp_set_output_view(self, int(_enum(View, output_view)))
            if embedding is not None or embedding_features is not None:
                kind = 0 if embedding in (None, "log_sigma") else 1 if embedding == "time" else int(embedding)
                lib.pi_model_mlp_set_embedding(self, kind, embedding_features or 16)
            if preconditioning is not None:
                mode, sigma_data = _precond(preconditioning)
                lib.pi_model_mlp_set_preconditioning(self, int(mode), sigma_data)
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def callback(cls, sde, dim, fn, view="score"):
        """A model backed by ``fn(x, t) -> array (n, dim)`` in ``view`` (score, eps or denoised).

        ``x`` is a read-only (n, dim) float32 view and ``t`` an (n,) float64 view, valid
        only during the call. An exception in ``fn`` aborts the calling C function and
        is re-raised when it returns. ``fn`` may be called from worker threads.
        """
        lib = L.lib()
        pending = _PendingError()

        def tramp(n, d, x, t, out, _user):
            try:
                xa = np.ctypeslib.as_array(x, shape=(n, d))
                xa.flags.writeable = False
                ta = np.ctypeslib.as_array(t, shape=(n,))
                result = np.asarray(fn(xa, ta), dtype=np.float32)
                np.ctypeslib.as_array(out, shape=(n, d))[...] = result.reshape(n, d)
                return 0
            except BaseException as exc:
                pending.store(exc)
                return 1

        cfn = L.ModelFn(tramp)
        out = cls._create(lib.pi_model_create_callback, sde, dim, int(_enum(View, view)), cfn, None)
        self = cls._wrap(out, keep=(cfn, fn, sde._callbacks), sde=sde)
        self._pending = pending
        return self

    @classmethod
    def load(cls, path):
        """Load a pathint model file."""
        lib = L.lib()
        return cls._wrap(cls._create(lib.pi_model_load, _path(path)))

    @classmethod
    def load_safetensors(cls, sde, path):
        """An MLP on ``sde`` from a .safetensors file (pathint's or PyTorch's tensor names)."""
        lib = L.lib()
        return cls._wrap(cls._create(lib.pi_model_load_safetensors, sde, _path(path)),
                         keep=(sde._callbacks,), sde=sde)

    def _pendings(self):
        sde_pending = getattr(self, "_sde_pending", None)
        return (self._pending,) if sde_pending is None else (self._pending, sde_pending)

    def save(self, path):
        self._lib.pi_model_save(self, _path(path))

    def save_safetensors(self, path):
        self._lib.pi_model_save_safetensors(self, _path(path))

    @property
    def kind(self):
        k = ctypes.c_int()
        self._lib.pi_model_get_kind(self, ctypes.byref(k))
        return ModelKind(k.value)

    @property
    def dim(self):
        d = ctypes.c_size_t()
        self._lib.pi_model_get_dim(self, ctypes.byref(d))
        return d.value

    @property
    def sde(self):
        """The model's SDE (borrowed from the model; keeps the model alive)."""
        p = L.SDEPtr()
        self._lib.pi_model_get_sde(self, ctypes.byref(p))
        return SDE._wrap(p, owner=self)

    @property
    def threads(self):
        return getattr(self, "_threads", 1)

    @threads.setter
    def threads(self, k):
        self._lib.pi_model_set_threads(self, int(k))
        self._threads = int(k)

    def eval(self, view, x, t):
        """The model in ``view`` (score, eps, denoised, v) at points x (n, dim) and times t."""
        x = _points(x, self.dim)
        out = np.empty_like(x)
        if np.ndim(t) == 0:
            _call(self._lib.pi_model_eval_at, self, int(_enum(View, view)), x.shape[0], x, float(t), out,
                  pending=self._pendings())
        else:
            _call(self._lib.pi_model_eval, self, int(_enum(View, view)), x.shape[0], x,
                  _times(t, x.shape[0]), out, pending=self._pendings())
        return out

    def score(self, x, t):
        return self.eval(View.SCORE, x, t)

    def divergence(self, x, t, mode="exact", probes=1, seed=0):
        x = _points(x, self.dim)
        out = np.empty(x.shape[0], np.float64)
        _call(self._lib.pi_model_divergence, self, x.shape[0], x, _times(t, x.shape[0]),
              int(_enum(Divergence, mode)), probes, seed, out, pending=self._pendings())
        return out

    def jvp(self, x, t, v):
        x = _points(x, self.dim)
        v = _points(v, self.dim, name="v")
        out = np.empty_like(x)
        _call(self._lib.pi_model_jvp, self, x.shape[0], x, _times(t, x.shape[0]), v, out,
              pending=self._pendings())
        return out

    def logpdf(self, x, t):
        """Exact log p_t(x) (Gaussian mixture and empirical models)."""
        x = _points(x, self.dim)
        out = np.empty(x.shape[0], np.float64)
        self._lib.pi_model_logpdf(self, x.shape[0], x, _times(t, x.shape[0]), out)
        return out

    @property
    def num_params(self):
        n = ctypes.c_size_t()
        self._lib.pi_model_num_params(self, ctypes.byref(n))
        return n.value

    @property
    def params(self):
        """A copy of the trainable parameters (float32 vector); assign to replace them."""
        out = np.empty(self.num_params, np.float32)
        self._lib.pi_model_get_params(self, out, out.size)
        return out

    @params.setter
    def params(self, values):
        v = np.ascontiguousarray(values, dtype=np.float32).ravel()
        self._lib.pi_model_set_params(self, v, v.size)

    def action_bound(self, data, samples=16, seed=0):
        """(bound, stderr): the action bound on −log q¹ per point (MATH.md §5)."""
        x = _points(data, self.dim, name="data")
        b, e = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_model_action_bound, self, x.shape[0], x, samples, seed, ctypes.byref(b),
              ctypes.byref(e), pending=self._pendings())
        return b.value, e.value

    def __repr__(self):
        if not self._ptr:
            return "<pathint.Model closed>"
        return f"<pathint.Model {self.kind.name.lower()} dim={self.dim}>"


# ---- Sampler --------------------------------------------------------------------------------
class Sampler(_Handle):
    """The ħ sampler over a model: dx = [f x − (1+ħ)/2 g² s] dt + √ħ g dw̄.

    Options are properties (``hbar``, ``method``, ``steps``, ``seed``, ``threads``,
    ``schedule``) or keyword arguments of the constructor. A sampler is used by
    one thread at a time; :meth:`cancel` may be called from any thread.
    """

    _destroy_name = "pi_sampler_destroy"

    def __init__(self, model, hbar=None, method=None, steps=None, schedule=None, rho=None, seed=None,
                 threads=None, denoise_final=None, record_trajectory=False):
        lib = L.lib()
        out = L.SamplerPtr()
        lib.pi_sampler_create(model, ctypes.byref(out))
        super().__init__(out)
        self.model = model  # borrowed by C: keep it alive
        self._pending = _PendingError()
        self._user_step = None
        self._opts = {"hbar": 0.0, "method": Method.EXP2M, "steps": 50, "schedule": Schedule.UNIFORM_LAMBDA,
                      "rho": None, "seed": 0, "threads": 1}
        self._stepfn = L.StepFn(self._on_step)
        self._interrupt = None
        self._record = False
        try:
            self._lib.pi_sampler_set_callback(self, self._stepfn, None)
            for key, value in (("hbar", hbar), ("method", method), ("steps", steps), ("seed", seed),
                               ("threads", threads)):
                if value is not None:
                    setattr(self, key, value)
            if schedule is not None or rho is not None:
                self.set_schedule(schedule if schedule is not None else Schedule.UNIFORM_LAMBDA, rho)
            if denoise_final is not None:
                self.denoise_final = denoise_final
            if record_trajectory:
                self.record_trajectory = True
        except BaseException:
            self.close()
            raise

    # The step callback always goes through Python so that Ctrl-C reaches the run.
    def _on_step(self, step, nsteps, t, n, dim, x, denoised, _user):
        try:
            if self._interrupt is not None and self._interrupt.hit:
                return 1
            if self._user_step is not None:
                xa = np.ctypeslib.as_array(x, shape=(n, dim))
                da = np.ctypeslib.as_array(denoised, shape=(n, dim)) if denoised else None
                return 1 if self._user_step(step, nsteps, t, xa, da) else 0
            return 0
        except BaseException as exc:
            self._pending.store(exc)
            return 1

    def _pendings(self):
        return (self._pending,) + self.model._pendings()

    @property
    def callback(self):
        """``fn(step, nsteps, t, x, denoised) -> bool``: called after every step; a true
        result cancels the run (:class:`CanceledError`). x and denoised are views valid
        only during the call (copy them to keep them)."""
        return self._user_step

    @callback.setter
    def callback(self, fn):
        self._user_step = fn

    def _set(self, key, fn, value, converted):
        fn(self, converted)
        self._opts[key] = value

    hbar = property(lambda self: self._opts["hbar"],
                    lambda self, v: self._set("hbar", self._lib.pi_sampler_set_hbar, float(v), float(v)),
                    doc="ħ >= 0: 0 = probability-flow ODE, 1 = reverse SDE.")
    steps = property(lambda self: self._opts["steps"],
                     lambda self, v: self._set("steps", self._lib.pi_sampler_set_steps, int(v), int(v)))
    seed = property(lambda self: self._opts["seed"],
                    lambda self, v: self._set("seed", self._lib.pi_sampler_set_seed, int(v), int(v)))
    threads = property(lambda self: self._opts["threads"],
                       lambda self, v: self._set("threads", self._lib.pi_sampler_set_threads, int(v), int(v)))

    @property
    def method(self):
        return self._opts["method"]

    @method.setter
    def method(self, value):
        m = _enum(Method, value)
        self._set("method", self._lib.pi_sampler_set_method, m, int(m))

    @property
    def schedule(self):
        return self._opts["schedule"]

    @schedule.setter
    def schedule(self, value):
        self.set_schedule(value)

    def set_schedule(self, schedule, param=None):
        """A named schedule and its parameter (ρ for Karras), or a custom array of times."""
        if not isinstance(schedule, (str, int, enum.Enum)):
            self.times = schedule
            return
        s = _enum(Schedule, schedule)
        self._lib.pi_sampler_set_schedule(self, int(s), float("nan") if param is None else float(param))
        self._opts["schedule"], self._opts["rho"] = s, param

    @property
    def times(self):
        """The schedule as an array of steps + 1 times (assign an array for a custom schedule)."""
        count = ctypes.c_size_t()
        cap = self.steps + 1
        out = np.empty(cap, np.float64)
        self._lib.pi_sampler_get_times(self, out.ctypes.data, cap, ctypes.byref(count))
        return out[:count.value].copy()

    @times.setter
    def times(self, values):
        t = np.ascontiguousarray(values, dtype=np.float64).ravel()
        self._lib.pi_sampler_set_times(self, t, t.size)
        self._opts["schedule"], self._opts["steps"] = Schedule.CUSTOM, t.size - 1

    def set_time_range(self, t_start, t_end):
        self._lib.pi_sampler_set_time_range(self, float(t_start), float(t_end))

    @property
    def denoise_final(self):
        return self._opts.get("denoise_final", False)

    @denoise_final.setter
    def denoise_final(self, enabled):
        self._lib.pi_sampler_set_denoise_final(self, 1 if enabled else 0)
        self._opts["denoise_final"] = bool(enabled)

    def set_tolerances(self, rtol, atol):
        self._lib.pi_sampler_set_tolerances(self, float(rtol), float(atol))

    def set_corrector(self, steps, snr):
        self._lib.pi_sampler_set_corrector(self, int(steps), float(snr))

    def set_likelihood_options(self, divergence=None, probes=1, rtol=None, atol=None, wkb=None,
                               dequantization=None):
        """Options of :meth:`nll`: divergence mode and probes, ODE tolerances, WKB algorithm, bin width."""
        if divergence is not None:
            self._lib.pi_sampler_set_divergence(self, int(_enum(Divergence, divergence)), int(probes))
        if rtol is not None or atol is not None:
            self._lib.pi_sampler_set_nll_tolerances(self, 1e-6 if rtol is None else rtol,
                                                    1e-8 if atol is None else atol)
        if wkb is not None:
            self._lib.pi_sampler_set_wkb_algorithm(self, int(_enum(WKBAlgorithm, wkb)))
        if dequantization is not None:
            self._lib.pi_sampler_set_dequantization(self, float(dequantization))

    @property
    def record_trajectory(self):
        return self._record

    @record_trajectory.setter
    def record_trajectory(self, enabled):
        self._lib.pi_sampler_record_trajectory(self, 1 if enabled else 0, None, None, 0)
        self._record = bool(enabled)

    def cancel(self):
        """Ask a running sample() to stop at its next step (any thread)."""
        self._lib.pi_sampler_cancel(self)

    # -- runs --
    def _run(self, fn, *args):
        """Run a sampler call; Ctrl-C cancels it at its next step and raises KeyboardInterrupt
        once it has returned."""
        with _interruptible() as self._interrupt:
            try:
                _call(fn, self, *args, pending=self._pendings())
            except PathintError:
                if not self._interrupt.hit:
                    raise
            finally:
                self._interrupt = None

    def sample(self, n):
        """n samples from the prior at T down to t_min: an (n, dim) float32 array."""
        out = np.empty((int(n), self.model.dim), np.float32)
        self._run(self._lib.pi_sampler_run, out.shape[0], out)
        return out

    def sample_from(self, t_start, x, copy=True):
        """Integrate states x given at t_start down to t_min (SDEdit / img2img).

        With ``copy=False`` and x a float32 C-contiguous array, x is updated in place.
        """
        a = _points(x, self.model.dim)
        if copy and a is x:
            a = a.copy()
        self._run(self._lib.pi_sampler_run_from, float(t_start), a.shape[0], a)
        return a

    @property
    def trajectory(self):
        """(x, denoised) of the last run with recording on: arrays (steps + 1, n, dim), copied.
        ``(None, None)`` when nothing was recorded; denoised may be None."""
        xp, dp = L.c_float_p(), L.c_float_p()
        npts = ctypes.c_size_t()
        self._lib.pi_sampler_get_trajectory(self, ctypes.byref(xp), ctypes.byref(dp), ctypes.byref(npts))
        rows = getattr(self, "_last_rows", 0)
        if not xp or npts.value == 0 or rows == 0:
            return None, None
        shape = (npts.value, rows, self.model.dim)
        size = shape[0] * shape[1] * shape[2]
        x = np.ctypeslib.as_array(xp, shape=(size,)).reshape(shape).copy()
        d = np.ctypeslib.as_array(dp, shape=(size,)).reshape(shape).copy() if dp else None
        return x, d

    @property
    def stats(self):
        """(nfe, accepted, rejected) of the last run."""
        a, b, c = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        self._lib.pi_sampler_get_stats(self, ctypes.byref(a), ctypes.byref(b), ctypes.byref(c))
        return a.value, b.value, c.value

    def gits(self, steps, fine_steps=256, n_samples=256):
        """A GITS-optimised schedule (array of steps + 1 times) for :attr:`times`."""
        out = np.empty(int(steps) + 1, np.float64)
        self._run(self._lib.pi_sampler_gits, int(steps), int(fine_steps), int(n_samples), out)
        return out

    def nll(self, x, c1=True, block=None):
        """(nll0, c1): −log q⁰(x) per point in nats and the WKB coefficient c1 (None if c1=False).

        NLL at this sampler's ħ is ``nll0 - hbar * c1``. Points are processed in blocks
        so that Ctrl-C stops the computation between blocks.
        """
        a = _points(x, self.model.dim)
        n = a.shape[0]
        nll = np.empty(n, np.float64)
        c = np.empty(n, np.float64) if c1 else None
        block = block or max(16, 8 * self.threads)
        with _interruptible() as interrupt:
            for i in range(0, n, block):
                if interrupt.hit:
                    break
                j = min(n, i + block)
                _call(self._lib.pi_sampler_nll, self, j - i, a[i:j], nll[i:j],
                      None if c is None else c[i:j].ctypes.data, pending=self._pendings())
        return nll, c

    def nll_hbar(self, x):
        """−log q^ħ ≈ NLL₀ − ħ c1 at this sampler's ħ, per point."""
        nll, c = self.nll(x, c1=True)
        return nll - self.hbar * c

    def __repr__(self):
        if not self._ptr:
            return "<pathint.Sampler closed>"
        return (f"<pathint.Sampler hbar={self.hbar} method={self.method.name.lower()} steps={self.steps} "
                f"seed={self.seed}>")


def _remember_rows(method):
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self._last_rows = result.shape[0]
        return result
    wrapper.__doc__ = method.__doc__
    wrapper.__name__ = method.__name__
    return wrapper


Sampler.sample = _remember_rows(Sampler.sample)
Sampler.sample_from = _remember_rows(Sampler.sample_from)


# ---- Trainer --------------------------------------------------------------------------------
class Trainer(_Handle):
    """Denoising score matching for an MLP model (which it borrows and updates).

    Keyword options: lr, lr_schedule ('constant'/'cosine'), warmup, total_steps,
    batch, weighting, time_sampling, lognormal=(p_mean, p_std), adam=(β1, β2, ε),
    weight_decay, grad_clip, ema, seed, threads.
    """

    _destroy_name = "pi_trainer_destroy"

    def __init__(self, model, **options):
        lib = L.lib()
        out = L.TrainerPtr()
        lib.pi_trainer_create(model, ctypes.byref(out))
        super().__init__(out)
        self._init(model, options)

    def _init(self, model, options):
        self.model = model
        self._pending = _PendingError()
        self._user_cb = None
        self._interrupt = None
        self._trainfn = L.TrainFn(self._on_step)
        try:
            self._lib.pi_trainer_set_callback(self, self._trainfn, None)
            self.configure(**options)
        except BaseException:
            self.close()
            raise

    def configure(self, lr=None, lr_schedule=None, warmup=0, total_steps=0, batch=None, weighting=None,
                  time_sampling=None, lognormal=None, adam=None, weight_decay=None, grad_clip=None, ema=None,
                  seed=None, threads=None):
        lib = self._lib
        if lr is not None:
            lib.pi_trainer_set_learning_rate(self, float(lr))
        if lr_schedule is not None:
            lib.pi_trainer_set_lr_schedule(self, int(_enum(LRSchedule, lr_schedule)), int(warmup),
                                           int(total_steps))
        if batch is not None:
            lib.pi_trainer_set_batch_size(self, int(batch))
        if weighting is not None:
            lib.pi_trainer_set_weighting(self, int(_enum(Weighting, weighting)))
        if time_sampling is not None:
            lib.pi_trainer_set_time_sampling(self, int(_enum(TimeSampling, time_sampling)))
        if lognormal is not None:
            lib.pi_trainer_set_lognormal(self, float(lognormal[0]), float(lognormal[1]))
        if adam is not None:
            lib.pi_trainer_set_adam(self, *(float(v) for v in adam))
        if weight_decay is not None:
            lib.pi_trainer_set_weight_decay(self, float(weight_decay))
        if grad_clip is not None:
            lib.pi_trainer_set_grad_clip(self, float(grad_clip))
        if ema is not None:
            lib.pi_trainer_set_ema(self, float(ema))
        if seed is not None:
            lib.pi_trainer_set_seed(self, int(seed))
        if threads is not None:
            lib.pi_trainer_set_threads(self, int(threads))

    def _on_step(self, step, loss, ema_loss, rate, _user):
        try:
            if self._interrupt is not None and self._interrupt.hit:
                return 1
            if self._user_cb is not None:
                return 1 if self._user_cb(step, loss, ema_loss, rate) else 0
            return 0
        except BaseException as exc:
            self._pending.store(exc)
            return 1

    def fit(self, data, steps, callback=None):
        """Take ``steps`` Adam steps on ``data`` (n, dim); afterwards the model holds the EMA weights.

        ``callback(step, loss, ema_loss, steps_per_second)`` is called as training
        progresses; a true result cancels (:class:`CanceledError`). Returns self.
        """
        x = _points(data, self.model.dim, name="data")
        self._user_cb = callback
        try:
            with _interruptible() as self._interrupt:
                try:
                    _call(self._lib.pi_trainer_fit, self, x.shape[0], x, int(steps),
                          pending=(self._pending,) + self.model._pendings())
                except PathintError:
                    if not self._interrupt.hit:
                        raise
        finally:
            self._user_cb = None
            self._interrupt = None
        return self

    def step(self, data):
        """One Adam step on a batch drawn from data; returns the batch loss."""
        x = _points(data, self.model.dim, name="data")
        loss = ctypes.c_double()
        _call(self._lib.pi_trainer_step, self, x.shape[0], x, ctypes.byref(loss), pending=(self._pending,))
        return loss.value

    def loss(self, data, samples=1):
        x = _points(data, self.model.dim, name="data")
        loss = ctypes.c_double()
        self._lib.pi_trainer_loss(self, x.shape[0], x, int(samples), ctypes.byref(loss))
        return loss.value

    def bound(self, data, samples=16):
        """(bound, stderr): the action bound on NLL at ħ = 1 (nats per point)."""
        x = _points(data, self.model.dim, name="data")
        b, e = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_trainer_bound(self, x.shape[0], x, int(samples), ctypes.byref(b), ctypes.byref(e))
        return b.value, e.value

    @property
    def step_count(self):
        s = ctypes.c_uint64()
        self._lib.pi_trainer_get_step(self, ctypes.byref(s))
        return s.value

    def save(self, path):
        """Write a resumable checkpoint (atomic)."""
        self._lib.pi_trainer_save(self, _path(path))

    @classmethod
    def resume(cls, path):
        """Restore a checkpoint: returns a new trainer; its model is ``trainer.model``."""
        lib = L.lib()
        m, t = L.ModelPtr(), L.TrainerPtr()
        lib.pi_trainer_resume(_path(path), ctypes.byref(m), ctypes.byref(t))
        model = Model._wrap(m)
        self = cls.__new__(cls)
        _Handle.__init__(self, t)
        self._init(model, {})
        return self


# ---- data and misc --------------------------------------------------------------------------
def generate_data(dataset, n, seed=0):
    """n points (n, 2) of a built-in data set ('swiss_roll', '25_gaussians', 'moons', ...)."""
    out = np.empty((int(n), 2), np.float32)
    L.lib().pi_data_generate(int(_enum(Dataset, dataset)), out.shape[0], int(seed), out)
    return out


def load_data(path):
    """An (n, dim) float32 array from .npy, .csv or .f32 (read by the C library)."""
    lib = L.lib()
    ptr = L.c_float_p()
    n, d = ctypes.c_size_t(), ctypes.c_size_t()
    lib.pi_data_load(_path(path), ctypes.byref(ptr), ctypes.byref(n), ctypes.byref(d))
    try:
        return np.ctypeslib.as_array(ptr, shape=(n.value, d.value)).copy()
    finally:
        lib.pi_free(ptr)


def save_data(path, x):
    """Write an (n, dim) array; the format follows the extension (.npy, .csv, .f32)."""
    a = _points(x)
    L.lib().pi_data_save(_path(path), a.shape[0], a.shape[1], a)


def bits_per_dim(nll, dim, scale):
    return L.lib().pi_bits_per_dim(float(nll), int(dim), float(scale))


def version():
    """The loaded library's version string."""
    return L.lib().version


def version_number():
    return L.lib().version_number

