"""Pythonic classes over the C API: SDE, Model, Sampler, Likelihood, Trainer, and data helpers.

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
``Likelihood.nll`` or ``Trainer.fit`` cancels the run cleanly and is raised when it has
returned (in the main thread, a SIGINT handler is installed for the duration of the call).

Options are never shadowed in Python: every property reads the library's getter, and an
option not given keeps the library's default (see :func:`option_info`).
"""

import collections
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
    "SDEKind", "SDEParam", "BetaSchedule", "TimestepSpacing", "View", "ModelKind", "Divergence", "Embedding", "Precond", "Method", "Schedule",
    "WKBAlgorithm", "Weighting", "TimeSampling", "LRSchedule", "Dataset", "Option", "OptionInfo", "Derivative",
    "SDE", "Model", "Sampler", "Likelihood", "NLLDiagnostics", "Trainer", "option_info",
    "shift_from_sequence_length",
    "generate_data", "load_data", "save_data", "bits_per_dim", "version", "version_number",
]


# ---- enums (values mirror include/pathint.h; every enum starts at 1) --------------------------
class SDEKind(enum.IntEnum):
    VP_LINEAR = 1
    VP_COSINE = 2
    SUBVP = 3
    VE = 4
    EDM = 5
    CUSTOM = 6
    RECTIFIED_FLOW = 7
    DISCRETE = 8


class BetaSchedule(enum.IntEnum):
    LINEAR = 1
    SCALED_LINEAR = 2
    SQUAREDCOS_CAP_V2 = 3


class TimestepSpacing(enum.IntEnum):
    LEADING = 1
    TRAILING = 2
    LINSPACE = 3


class SDEPreset(enum.IntEnum):
    SIMPLE = 1
    COSINE = 2


class SDEParam(enum.IntEnum):
    BETA_MIN = 1
    BETA_MAX = 2
    COSINE_S = 3
    SIGMA_MIN = 4
    SIGMA_MAX = 5
    T_MIN = 6
    T_MAX = 7


class View(enum.IntEnum):
    SCORE = 1
    EPS = 2
    DENOISED = 3
    V = 4
    FLOW = 5


class ModelKind(enum.IntEnum):
    GMM = 1
    EMPIRICAL = 2
    MLP = 3
    CALLBACK = 4


class Divergence(enum.IntEnum):
    EXACT = 1
    HUTCHINSON_RADEMACHER = 2
    HUTCHINSON_GAUSSIAN = 3


class Embedding(enum.IntEnum):
    LOG_SIGMA = 1
    TIME = 2


class Precond(enum.IntEnum):
    NONE = 1
    EDM = 2
    INPUT = 3


class Noise(enum.IntEnum):
    STEP = 1
    BROWNIAN = 2


class Method(enum.IntEnum):
    EULER = 1
    EXP1 = 2
    EXP2M = 3
    HEUN = 4
    RK45 = 5
    EXP3M = 6
    IPNDM = 7
    SA = 8
    UNIPC = 9


class Schedule(enum.IntEnum):
    UNIFORM_T = 1
    KARRAS = 2
    UNIFORM_LAMBDA = 3
    CUSTOM = 4


class WKBAlgorithm(enum.IntEnum):
    SWEEP = 1
    REFERENCE = 2
    STOCHASTIC = 3


class Derivative(enum.IntFlag):
    """Directional products a callback model's derivative function computes (``pi_derivative``):
    J b, Jᵀa, ∇ₓ(aᵀJb), ∇ₓ(aᵀD²F[b, c]) of its function F (J = ∂F/∂x)."""
    JVP = 1
    VJP = 2
    VJP_JVP = 4
    VJP_JVP2 = 8
    VALUE = 16


class Weighting(enum.IntEnum):
    LIKELIHOOD = 1
    SIGMA2 = 2
    EDM = 3
    FLOW = 4


class TimeSampling(enum.IntEnum):
    UNIFORM = 1
    IMPORTANCE = 2
    LOGNORMAL = 3


class LRSchedule(enum.IntEnum):
    CONSTANT = 1
    COSINE = 2


class Dataset(enum.IntEnum):
    SWISS_ROLL = 1
    GAUSSIANS_25 = 2
    RING_8 = 3
    MOONS = 4
    CHECKERBOARD = 5


class Option(enum.IntEnum):
    """Keys of :func:`option_info` (``pi_option``)."""
    SAMPLER_HBAR = 1
    SAMPLER_METHOD = 2
    SAMPLER_STEPS = 3
    SAMPLER_SCHEDULE = 4
    SAMPLER_KARRAS_RHO = 5
    SAMPLER_SEED = 6
    SAMPLER_THREADS = 7
    SAMPLER_DENOISE_FINAL = 8
    SAMPLER_RTOL = 9
    SAMPLER_ATOL = 10
    SAMPLER_CORRECTOR_STEPS = 11
    SAMPLER_CORRECTOR_SNR = 12
    LIKELIHOOD_DIVERGENCE = 13
    LIKELIHOOD_PROBES = 14
    LIKELIHOOD_RTOL = 15
    LIKELIHOOD_ATOL = 16
    LIKELIHOOD_WKB_ALGORITHM = 17
    LIKELIHOOD_DEQUANTIZATION = 18
    LIKELIHOOD_SEED = 19
    LIKELIHOOD_THREADS = 20
    MODEL_THREADS = 21
    MLP_OUTPUT_VIEW = 22
    MLP_EMBEDDING = 23
    MLP_EMBEDDING_FEATURES = 24
    MLP_PRECONDITIONING = 25
    MLP_SIGMA_DATA = 26
    TRAINER_LEARNING_RATE = 27
    TRAINER_LR_SCHEDULE = 28
    TRAINER_WARMUP_STEPS = 29
    TRAINER_TOTAL_STEPS = 30
    TRAINER_BATCH_SIZE = 31
    TRAINER_WEIGHTING = 32
    TRAINER_TIME_SAMPLING = 33
    TRAINER_LOGNORMAL_MEAN = 34
    TRAINER_LOGNORMAL_STD = 35
    TRAINER_ADAM_BETA1 = 36
    TRAINER_ADAM_BETA2 = 37
    TRAINER_ADAM_EPS = 38
    TRAINER_WEIGHT_DECAY = 39
    TRAINER_GRAD_CLIP = 40
    TRAINER_EMA = 41
    TRAINER_SEED = 42
    TRAINER_THREADS = 43
    SAMPLER_FIRST_ROW = 44
    LIKELIHOOD_FIRST_ROW = 45
    SAMPLER_GUIDANCE = 46
    SAMPLER_GUIDANCE_RESCALE = 47
    SAMPLER_GUIDANCE_SIGMA_MIN = 48
    SAMPLER_GUIDANCE_SIGMA_MAX = 49
    SAMPLER_CFGPP = 50
    TRAINER_COND_DROPOUT = 51
    SAMPLER_NOISE = 52
    LIKELIHOOD_WKB_PROBES = 53


#: Flags of :class:`OptionInfo` (``PI_OPTION_*``).
OPTION_MIN_EXCLUSIVE, OPTION_MAX_EXCLUSIVE, OPTION_INTEGER, OPTION_EVEN = 1, 2, 4, 8


class OptionInfo(collections.namedtuple("OptionInfo", "key name default min max flags")):
    """One row of the library's option table: the setter's argument name, default, range, flags."""

    __slots__ = ()

    @property
    def integer(self):
        return bool(self.flags & OPTION_INTEGER)

    def accepts(self, value):
        """Whether the setters accept ``value`` (the range and flags of this row)."""
        lo_ok = value > self.min if self.flags & OPTION_MIN_EXCLUSIVE else value >= self.min
        hi_ok = value < self.max if self.flags & OPTION_MAX_EXCLUSIVE else value <= self.max
        ok = lo_ok and hi_ok
        if ok and self.flags & OPTION_INTEGER:
            ok = _real(value).is_integer()
        if ok and self.flags & OPTION_EVEN:
            ok = int(value) % 2 == 0
        return ok


def option_info(key=None):
    """The library's table of option defaults and ranges (``pi_option_info``).

    With a key (an :class:`Option`, its int or its name such as ``"sampler_hbar"``), that
    key's :class:`OptionInfo`; without, a dict of every key's (keys from 1 until the library
    reports an unknown key).
    """
    lib = L.lib()

    def one(k):
        name, default, lo, hi, flags = ctypes.c_char_p(), ctypes.c_double(), ctypes.c_double(), \
            ctypes.c_double(), ctypes.c_uint()
        lib.pi_option_info(int(k), ctypes.byref(name), ctypes.byref(default), ctypes.byref(lo),
                           ctypes.byref(hi), ctypes.byref(flags))
        try:
            k = Option(int(k))
        except ValueError:
            pass  # a key newer than this package
        return OptionInfo(k, name.value.decode(), default.value, lo.value, hi.value, flags.value)

    if key is not None:
        return one(_enum(Option, key) if isinstance(key, str) else int(key))
    table = {}
    k = 1
    while True:
        try:
            info = one(k)
        except InvalidArgumentError:
            return table
        table[info.key] = info
        k += 1


def _precond(value):
    """(mode, sigma_data) from True/False (EDM / none), a float σ_data (EDM), a mode ('edm',
    'input', 'none', Precond) or a (mode, sigma_data) pair; sigma_data is None where not given
    (the caller keeps the model's current value)."""
    if isinstance(value, bool):
        return (Precond.EDM if value else Precond.NONE), None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidArgumentError("preconditioning pair must be (mode, sigma_data)", status=-1)
        return _enum(Precond, value[0]), _real(value[1])
    if isinstance(value, (str, Precond)):
        return _enum(Precond, value), None
    return Precond.EDM, _real(value)


def shift_from_sequence_length(seq_len, base_seq_len=256, max_seq_len=4096, base_shift=0.5,
                               max_shift=1.15):
    """The SD3/Flux resolution-dependent shift e^μ, μ linear in the sequence length (diffusers'
    calculate_shift with its defaults)."""
    v = ctypes.c_double()
    L.lib().pi_shift_from_sequence_length(float(seq_len), float(base_seq_len), float(max_seq_len),
                                          float(base_shift), float(max_shift), ctypes.byref(v))
    return v.value


def _enum(cls, value):
    """Accept an enum member, its int value, or its name in any case ('exp2m', 'swiss_roll')."""
    if isinstance(value, str):
        key = value.upper().replace("-", "_")
        aliases = {"VP": "VP_LINEAR", "DDIM": "EXP1", "DPM2M": "EXP2M", "25_GAUSSIANS": "GAUSSIANS_25",
                   "8_GAUSSIANS": "RING_8", "EPSILON": "EPS", "X0": "DENOISED",
                   "RF": "RECTIFIED_FLOW", "VELOCITY": "FLOW", "V_PREDICTION": "V", "SAMPLE": "DENOISED"}
        key = aliases.get(key, key)
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise InvalidArgumentError(f"unknown {cls.__name__} '{value}' (choose from {names})",
                                       status=-1) from None
    try:
        return cls(int(value))
    except ValueError:
        names = ", ".join(f"{m.name.lower()} ({m.value})" for m in cls)
        raise InvalidArgumentError(f"{value} is not a {cls.__name__} (choose from {names})", status=-1) from None


# ---- arrays ---------------------------------------------------------------------------------
def _points(x, dim=None, name="x"):
    """(n, dim) float32 C-contiguous: no copy when x already is one."""
    a = _real_array(x, np.float32, name)
    if a.ndim == 1 and dim is not None:
        a = a.reshape(-1, dim) if dim > 1 else a.reshape(-1, 1)
    if a.ndim != 2:
        raise InvalidArgumentError(f"{name} must be a 2-D (n, dim) array, got shape {a.shape}", status=-1)
    if dim is not None and a.shape[1] != dim:
        raise InvalidArgumentError(f"{name} has dimension {a.shape[1]} but {dim} is needed", status=-1)
    return a


def _times(t, n):
    if np.ndim(t) == 0:  # (ascontiguousarray would turn a scalar into shape (1,))
        return np.full(n, _real(t))
    a = _real_array(t, np.float64, "t")
    if a.shape != (n,):
        raise InvalidArgumentError(f"t must be a scalar or have shape ({n},), got {a.shape}", status=-1)
    return a


def _real(value):
    """float(value), refusing complex values (numpy would drop the imaginary part with a warning)."""
    if isinstance(value, (complex, np.complexfloating)) or \
            (isinstance(value, np.ndarray) and np.iscomplexobj(value)):
        raise InvalidArgumentError(f"expected a real number, got the complex value {value!r}", status=-1)
    return float(value)


def _real_array(x, dtype, name):
    """np.ascontiguousarray(x, dtype), refusing complex input instead of dropping its imaginary part."""
    if np.iscomplexobj(x):
        raise InvalidArgumentError(f"{name} must be real, got a complex array", status=-1)
    return np.ascontiguousarray(x, dtype=dtype)


def _ptr(a):
    return None if a is None else a.ctypes.data


def _path(p):
    return os.fsencode(p)


def _get(fn, handle, ctype):
    """Call a one-value getter pi_X_get_Y(handle, &out) and return the value."""
    v = ctype()
    fn(handle, ctypes.byref(v))
    return v.value


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


def _row_index(value):
    """A first-row index: an integer in [0, 2^64 − 1] (ctypes would wrap a negative one)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"first_row must be an integer, got {value!r}", status=-1)
    if not 0 <= int(value) <= 0xFFFFFFFFFFFFFFFF:
        raise InvalidArgumentError(f"first_row must be in [0, 2^64 - 1], got {value}", status=-1)
    return int(value)


@contextlib.contextmanager
def _first_row(handle, first_row):
    """Within the block, the handle's first row is ``first_row`` (None: leave it)."""
    if first_row is None:
        yield
        return
    previous = handle.first_row
    handle.first_row = first_row
    try:
        yield
    finally:
        handle.first_row = previous


class _Handle:
    """Base of the handle-owning classes: context manager, close(), idempotent destroy.

    Borrowing: a handle whose C object points into another's (a sampler, likelihood or trainer
    its model, a model's SDE view its model) registers with it (:meth:`_borrow`). Closing a
    handle that live borrowers still use closes it for Python (its methods refuse) but defers
    freeing the C object until the last borrower is closed or collected, so C never reads
    freed memory."""

    _destroy_name = None

    def __init__(self, ptr, owner=None):
        self._lib = L.lib()
        self._ptr = ptr
        self._owner = owner  # an object this one borrows from (kept alive), or None if we own it
        self._borrowers = 0  # live handles that borrow this one's C object
        self._deferred = None  # the C pointer of a close() deferred until _borrowers is 0
        self._lender = None  # the handle this one borrows, released on close
        if owner is not None:
            self._borrow(owner)

    def _borrow(self, lender):
        """Record that this handle's C object uses ``lender``'s until this one is closed."""
        if isinstance(lender, _Handle) and self._lender is None:
            lender._borrowers += 1
            self._lender = lender

    def _release(self):
        self._borrowers -= 1
        ptr = self._deferred
        if self._borrowers <= 0 and ptr:
            self._deferred = None
            self._free(ptr)

    def _free(self, ptr):
        if self._owner is None and self._destroy_name:
            getattr(self._lib, self._destroy_name)(ptr)

    @property
    def _as_parameter_(self):
        if not self._ptr:
            raise InvalidArgumentError(f"this {type(self).__name__} has been closed", status=-1)
        return self._ptr

    def close(self):
        """Free the C object now (idempotent), or, while other live objects borrow it (a sampler
        its model), as soon as the last of them is closed. Borrowed handles are not freed."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            if getattr(self, "_borrowers", 0) > 0:
                self._deferred = ptr
            else:
                self._free(ptr)
        lender, self._lender = getattr(self, "_lender", None), None
        if lender is not None:
            lender._release()

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
    parameters (names of :class:`SDEParam`, lower case). ``SDE.preset('simple')``
    creates a named parameter set; ``SDE.custom(...)`` wraps Python functions.
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
    def discrete(cls, alphas_cumprod=None, beta_schedule=None, num_train_timesteps=1000,
                 beta_start=None, beta_end=None, rescale_betas_zero_snr=False):
        """A discrete-time (DDPM/LDM) SDE from a table of ᾱ (``alphas_cumprod``, e.g. a
        diffusers scheduler's) or from a named β schedule (``'linear'``, ``'scaled_linear'``,
        ``'squaredcos_cap_v2'``; diffusers' defaults: linear 1e-4 → 0.02, scaled_linear
        0.00085 → 0.012), optionally rescaled to zero terminal SNR. Table entry i sits at
        t = (i + 1)/N; see :meth:`timestep`."""
        lib = L.lib()
        out = L.SDEPtr()
        if (alphas_cumprod is None) == (beta_schedule is None):
            raise InvalidArgumentError("give exactly one of alphas_cumprod and beta_schedule", status=-1)
        if alphas_cumprod is not None:
            a = np.ascontiguousarray(alphas_cumprod, dtype=np.float64).ravel()
            lib.pi_sde_create_discrete(a, a.size, ctypes.byref(out))
        else:
            kind = _enum(BetaSchedule, beta_schedule)
            defaults = {BetaSchedule.LINEAR: (1e-4, 0.02), BetaSchedule.SCALED_LINEAR: (0.00085, 0.012),
                        BetaSchedule.SQUAREDCOS_CAP_V2: (0.0, 0.0)}[kind]
            b0 = defaults[0] if beta_start is None else float(beta_start)
            b1 = defaults[1] if beta_end is None else float(beta_end)
            lib.pi_sde_create_beta_schedule(int(kind), int(num_train_timesteps), b0, b1,
                                            1 if rescale_betas_zero_snr else 0, ctypes.byref(out))
        self = cls._wrap(out)
        return self

    @property
    def alphas_cumprod(self):
        """The ᾱ table of a discrete SDE (a copy)."""
        count = ctypes.c_size_t()
        self._lib.pi_sde_get_alphas_cumprod(self, 0, None, ctypes.byref(count))
        out = np.empty(count.value, np.float64)
        self._lib.pi_sde_get_alphas_cumprod(self, out.size, out.ctypes.data, ctypes.byref(count))
        return out

    def timestep(self, t):
        """The host's training timestep at time t: tN − 1 (discrete), 1000 t (rectified flow)."""
        v = ctypes.c_double()
        self._lib.pi_sde_timestep_from_time(self, float(t), ctypes.byref(v))
        return v.value

    def time_from_timestep(self, timestep):
        """Inverse of :meth:`timestep`."""
        v = ctypes.c_double()
        self._lib.pi_sde_time_from_timestep(self, float(timestep), ctypes.byref(v))
        return v.value

    def discrete_times(self, steps, spacing="leading", steps_offset=0):
        """Sampler times of a discrete SDE for ``steps`` steps in diffusers' ``timestep_spacing``
        ('leading', 'trailing', 'linspace'); assign to ``Sampler.times``."""
        out = np.empty(int(steps) + 1, np.float64)
        count = ctypes.c_size_t()
        self._lib.pi_sde_discrete_times(self, int(_enum(TimestepSpacing, spacing)), int(steps),
                                        int(steps_offset), out.size, out, ctypes.byref(count))
        return out[:count.value].copy()

    def shift_times(self, times, shift):
        """A copy of ``times`` shifted as flow-matching hosts do: σ̃ ↦ shift · σ̃ (in rectified-flow
        time σ ↦ sσ/(1 + (s − 1)σ)); see :func:`shift_from_sequence_length`."""
        t = np.array(times, dtype=np.float64).ravel()
        self._lib.pi_sde_shift_times(self, float(shift), t.size, t)
        return t

    @classmethod
    def preset(cls, name):
        """An SDE by its library name: a preset ('simple', 'cosine': Hirono et al.'s
        SIMPLE and COSINE, or an :class:`SDEPreset`) or a built-in kind with its
        defaults ('vp', 'vp-cosine', 'subvp', 've', 'edm')."""
        out = L.SDEPtr()
        if isinstance(name, str):
            L.lib().pi_sde_create_named(name.encode(), ctypes.byref(out))
        else:
            L.lib().pi_sde_create_preset(int(_enum(SDEPreset, name)), ctypes.byref(out))
        return cls._wrap(out)

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
                    a[0], s[0], da[0], ds[0] = (_real(v) for v in marginal(t))
                    return 0
                except BaseException as exc:  # noqa: B902 - re-raised after the call
                    pending.store(exc)
                    return 1
            mfn = L.SDEMarginalFn(marginal_tramp)
        if coefficients is not None:
            def coefficient_tramp(t, f, g, _user):
                try:
                    f[0], g[0] = (_real(v) for v in coefficients(t))
                    return 0
                except BaseException as exc:
                    pending.store(exc)
                    return 1
            cfn = L.SDECoefficientFn(coefficient_tramp)
        out = L.SDEPtr()
        _call(lib.pi_sde_create_custom, _real(t_min), _real(t_max),
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
        self._lib.pi_sde_set_param(self, int(_enum(SDEParam, param)), _real(value))

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
        _call(self._lib.pi_sde_marginal, self, _real(t), ctypes.byref(a), ctypes.byref(s),
              pending=self._pendings())
        return a.value, s.value

    def coefficients(self, t):
        """(f(t), g(t))."""
        f, g = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_sde_coefficients, self, _real(t), ctypes.byref(f), ctypes.byref(g),
              pending=self._pendings())
        return f.value, g.value

    def sigma_tilde(self, t):
        """(σ̃ = σ/α, λ = −log σ̃) at t."""
        s, lam = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_sde_sigma_tilde, self, _real(t), ctypes.byref(s), ctypes.byref(lam),
              pending=self._pendings())
        return s.value, lam.value

    def time_from_sigma_tilde(self, sigma_tilde):
        t = ctypes.c_double()
        _call(self._lib.pi_sde_time_from_sigma_tilde, self, _real(sigma_tilde), ctypes.byref(t),
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
        w = _real_array(weights, np.float64, "weights")
        m = _real_array(means, np.float64, "means")
        if w.ndim != 1 or w.size == 0:
            raise InvalidArgumentError(f"weights must be a non-empty 1-D array, got shape {w.shape}",
                                       status=-1)
        k = w.size
        if m.ndim == 1 and m.size % k == 0 and m.size > 0:
            m = m.reshape(k, -1)
        if m.ndim != 2 or m.shape[0] != k or m.shape[1] == 0:
            raise InvalidArgumentError(f"means must have shape ({k}, dim) for {k} weights, got "
                                       f"shape {np.shape(means)}", status=-1)
        dim = m.shape[1]
        v = np.asarray(_real_array(variances, np.float64, "variances")).reshape(np.shape(variances))
        # A scalar, one row (dim,) shared by all components, or (k, dim); no other broadcast.
        if v.ndim == 0 or v.shape == (dim,) or v.shape == (k, dim) or (v.ndim == 1 and v.size == k * dim):
            v = np.ascontiguousarray(np.broadcast_to(v.reshape(-1, dim) if v.ndim == 1 else v, (k, dim)))
        else:
            raise InvalidArgumentError(f"variances must be a scalar or have shape ({dim},) or ({k}, {dim}) "
                                       f"for {k} components of dimension {dim}, got shape {v.shape}",
                                       status=-1)
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
            embedding_features=None, preconditioning=None, classes=0, cond_dim=0):
        """A trainable MLP (``layers`` hidden layers of ``width``, SiLU).

        ``classes`` k and/or ``cond_dim`` c make it conditional: the first layer also reads a
        one-hot label over k + 1 columns (the null class last) and the condition vector with a
        present flag, so a null condition exists for guidance (docs/training.md).

        ``preconditioning``: True (EDM with the model's current σ_data), a float σ_data (EDM), a mode
        (``"edm"``, ``"input"``, ``"none"`` or :class:`Precond`) or a pair ``(mode, sigma_data)``.
        """
        lib = L.lib()
        if classes or cond_dim:
            out = cls._create(lib.pi_model_create_mlp_cond, sde, dim, width, layers, int(classes), int(cond_dim))
        else:
            out = cls._create(lib.pi_model_create_mlp, sde, dim, width, layers)
        self = cls._wrap(out, keep=(sde._callbacks,), sde=sde)
        try:
            if seed is not None:
                lib.pi_model_mlp_init(self, seed)
            if output_view is not None:
                lib.pi_model_mlp_set_output_view(self, int(_enum(View, output_view)))
            if embedding is not None or embedding_features is not None:
                self.set_embedding(embedding, embedding_features)
            if preconditioning is not None:
                self.preconditioning = preconditioning
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def callback(cls, sde, dim, fn, view="score", timestep=False):
        """A model backed by ``fn(x, t) -> array (n, dim)`` in ``view`` (score, eps, denoised,
        v or flow). With ``timestep=True`` (discrete or rectified-flow SDEs) ``fn`` receives the
        host's training timestep (:meth:`SDE.timestep`) in place of t.

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
        create = lib.pi_model_create_callback_timestep if timestep else lib.pi_model_create_callback
        out = cls._create(create, sde, dim, int(_enum(View, view)), cfn, None)
        self = cls._wrap(out, keep=(cfn, fn, sde._callbacks), sde=sde)
        self._pending = pending
        return self

    @property
    def conditions(self):
        """(classes, cond_dim, unconditional) of the model: (0, 0, True) if it takes no condition."""
        k, c, u = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_int()
        self._lib.pi_model_get_conditions(self, ctypes.byref(k), ctypes.byref(c), ctypes.byref(u))
        return k.value, c.value, bool(u.value)

    @classmethod
    def callback_cond(cls, sde, dim, fn, view="score", classes=0, cond_dim=0, unconditional=True):
        """A conditional model backed by ``fn(x, t, labels, cond) -> array (n, dim)`` (issue 15).

        ``labels`` is an (n,) int32 view (-1: the null condition), ``cond`` an (n, cond_dim)
        float32 view or None. For guidance the sampler passes the conditional rows and the null
        rows in one call.
        """
        lib = L.lib()
        pending = _PendingError()

        def tramp(n, d, x, t, labels, c, cond, _rows, out, _user):
            try:
                xa = np.ctypeslib.as_array(x, shape=(n, d))
                xa.flags.writeable = False
                ta = np.ctypeslib.as_array(t, shape=(n,))
                la = np.ctypeslib.as_array(labels, shape=(n,))
                ca = np.ctypeslib.as_array(cond, shape=(n, c)) if c > 0 else None
                result = np.asarray(fn(xa, ta, la, ca), dtype=np.float32)
                np.ctypeslib.as_array(out, shape=(n, d))[...] = result.reshape(n, d)
                return 0
            except BaseException as exc:
                pending.store(exc)
                return 1

        cfn = L.CondModelFn(tramp)
        out = cls._create(lib.pi_model_create_callback_cond, sde, dim, int(_enum(View, view)), int(classes),
                          int(cond_dim), int(bool(unconditional)), cfn, None)
        self = cls._wrap(out, keep=(cfn, fn, sde._callbacks), sde=sde)
        self._pending = pending
        return self

    def set_derivatives(self, fn, provided):
        """Give this callback model derivative callbacks (``pi_model_callback_set_derivatives``):
        ``fn(kind, x, t, a, b, c) -> array (n, dim)`` computes the :class:`Derivative` product
        ``kind`` of the model's function at rows x (n, dim) float64, times t (n,); a, b, c are
        (n, dim) float64 arrays or None. ``provided`` is an or of :class:`Derivative` values;
        products not provided come from finite differences of the lower ones
        (:attr:`derivatives` says which). ``fn=None`` removes them."""
        if fn is None:
            self._lib.pi_model_callback_set_derivatives(self, L.ModelDerivativeFn(), 0, None)
            self._deriv_keep = None
            return
        pending = self._pending

        def tramp(kind, n, d, x, t, a, b, c, out, _user):
            try:
                def arr(p):
                    return None if not p else np.ctypeslib.as_array(p, shape=(n, d))
                xa = arr(x)
                xa.flags.writeable = False
                ta = np.ctypeslib.as_array(t, shape=(n,))
                result = np.asarray(fn(Derivative(kind), xa, ta, arr(a), arr(b), arr(c)), dtype=np.float64)
                np.ctypeslib.as_array(out, shape=(n, d))[...] = result.reshape(n, d)
                return 0
            except BaseException as exc:
                pending.store(exc)
                return 1

        cfn = L.ModelDerivativeFn(tramp)
        self._lib.pi_model_callback_set_derivatives(self, cfn, int(provided), None)
        self._deriv_keep = (cfn, fn)

    @property
    def derivatives(self):
        """(provided, finite_difference): the :class:`Derivative` products a callback model's
        derivative function computes and those that come from finite differences of them."""
        p, f = ctypes.c_uint(), ctypes.c_uint()
        self._lib.pi_model_callback_get_derivatives(self, ctypes.byref(p), ctypes.byref(f))
        return Derivative(p.value), Derivative(f.value)

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
        """Threads of eval, divergence, jvp and logpdf, in [1, 256]; results do not depend on it."""
        return _get(self._lib.pi_model_get_threads, self, ctypes.c_int)

    @threads.setter
    def threads(self, k):
        self._lib.pi_model_set_threads(self, int(k))

    # -- MLP options (UnsupportedError for other kinds) --
    @property
    def output_view(self):
        """The view an MLP's last layer predicts (score, eps or denoised)."""
        return View(_get(self._lib.pi_model_mlp_get_output_view, self, ctypes.c_int))

    @output_view.setter
    def output_view(self, view):
        self._lib.pi_model_mlp_set_output_view(self, int(_enum(View, view)))

    @property
    def embedding(self):
        """(kind, features) of an MLP's noise embedding."""
        kind, features = ctypes.c_int(), ctypes.c_size_t()
        self._lib.pi_model_mlp_get_embedding(self, ctypes.byref(kind), ctypes.byref(features))
        return Embedding(kind.value), features.value

    def set_embedding(self, kind=None, features=None):
        """Set an MLP's embedding kind and/or feature count (the one not given is kept). A new
        feature count re-initialises the weights (see pi_model_mlp_set_embedding)."""
        cur_kind, cur_features = self.embedding
        self._lib.pi_model_mlp_set_embedding(self, int(cur_kind if kind is None else _enum(Embedding, kind)),
                                             int(cur_features if features is None else features))

    @property
    def preconditioning(self):
        """(mode, sigma_data) of an MLP; assign a mode, a pair, True/False or a float σ_data."""
        mode, sd = ctypes.c_int(), ctypes.c_double()
        self._lib.pi_model_mlp_get_preconditioning(self, ctypes.byref(mode), ctypes.byref(sd))
        return Precond(mode.value), sd.value

    @preconditioning.setter
    def preconditioning(self, value):
        mode, sigma_data = _precond(value)
        if sigma_data is None:
            sigma_data = self.preconditioning[1]
        self._lib.pi_model_mlp_set_preconditioning(self, int(mode), sigma_data)

    @property
    def shape(self):
        """(hidden_width, hidden_layers) of an MLP."""
        w, n = ctypes.c_size_t(), ctypes.c_size_t()
        self._lib.pi_model_mlp_get_shape(self, ctypes.byref(w), ctypes.byref(n))
        return w.value, n.value

    @property
    def options(self):
        """Every option of this model as read back from the library, keyed by :class:`Option`
        (MODEL_THREADS, and the MLP_* keys for an MLP)."""
        out = {Option.MODEL_THREADS: self.threads}
        if self.kind == ModelKind.MLP:
            kind, features = self.embedding
            mode, sigma_data = self.preconditioning
            out.update({Option.MLP_OUTPUT_VIEW: self.output_view, Option.MLP_EMBEDDING: kind,
                        Option.MLP_EMBEDDING_FEATURES: features, Option.MLP_PRECONDITIONING: mode,
                        Option.MLP_SIGMA_DATA: sigma_data})
        return out

    def eval(self, view, x, t):
        """The model in ``view`` (score, eps, denoised, v, flow) at points x (n, dim) and times t."""
        x = _points(x, self.dim)
        out = np.empty_like(x)
        if np.ndim(t) == 0:
            _call(self._lib.pi_model_eval_at, self, int(_enum(View, view)), x.shape[0], x, _real(t), out,
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
        _call(self._lib.pi_model_divergence, self, int(_enum(Divergence, mode)), int(probes), int(seed),
              x.shape[0], x, _times(t, x.shape[0]), out, pending=self._pendings())
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
        self._lib.pi_model_get_num_params(self, ctypes.byref(n))
        return n.value

    @property
    def params(self):
        """A copy of the trainable parameters (float32 vector); assign to replace them."""
        out = np.empty(self.num_params, np.float32)
        count = ctypes.c_size_t()
        self._lib.pi_model_get_params(self, out.size, out, ctypes.byref(count))
        return out[:count.value]

    @params.setter
    def params(self, values):
        v = np.ascontiguousarray(values, dtype=np.float32).ravel()
        self._lib.pi_model_set_params(self, v.size, v)

    def __repr__(self):
        if not self._ptr:
            return "<pathint.Model closed>"
        return f"<pathint.Model {self.kind.name.lower()} dim={self.dim}>"


# ---- Sampler --------------------------------------------------------------------------------
class Sampler(_Handle):
    """The ħ sampler over a model: dx = [f x − (1+ħ)/2 g² s] dt + √ħ g dw̄.

    Options are properties (``hbar``, ``method``, ``steps``, ``seed``, ``threads``,
    ``schedule``, ``rho``, ``denoise_final``, ``tolerances``, ``corrector``, ``time_range``,
    ``record_trajectory``), read back from the library, or keyword arguments of the
    constructor; an option not given keeps the library's default (:func:`option_info`).
    A sampler is used by one thread at a time; :meth:`cancel` may be called from any thread.
    """

    _destroy_name = "pi_sampler_destroy"

    def __init__(self, model, hbar=None, method=None, steps=None, schedule=None, rho=None, seed=None,
                 threads=None, denoise_final=None, record_trajectory=None, tolerances=None, corrector=None,
                 time_range=None, guidance=None):
        lib = L.lib()
        out = L.SamplerPtr()
        lib.pi_sampler_create(model, ctypes.byref(out))
        super().__init__(out)
        self.model = model  # borrowed by C: keep it alive
        self._borrow(model)
        self._pending = _PendingError()
        self._user_step = None
        self._stepfn = L.StepFn(self._on_step)
        self._interrupt = None
        try:
            self._lib.pi_sampler_set_callback(self, self._stepfn, None)
            for key, value in (("hbar", hbar), ("method", method), ("steps", steps), ("seed", seed),
                               ("threads", threads), ("denoise_final", denoise_final),
                               ("record_trajectory", record_trajectory), ("guidance", guidance)):
                if value is not None:
                    setattr(self, key, value)
            if schedule is not None or rho is not None:
                self.set_schedule(schedule if schedule is not None else self.schedule, rho)
            if tolerances is not None:
                self.set_tolerances(*tolerances)
            if corrector is not None:
                self.set_corrector(*corrector)
            if time_range is not None:
                self.set_time_range(*time_range)
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

    @property
    def hbar(self):
        """ħ in [0, 1e6]: 0 = probability-flow ODE, 1 = reverse SDE."""
        return _get(self._lib.pi_sampler_get_hbar, self, ctypes.c_double)

    @hbar.setter
    def hbar(self, value):
        self._lib.pi_sampler_set_hbar(self, _real(value))

    @property
    def method(self):
        return Method(_get(self._lib.pi_sampler_get_method, self, ctypes.c_int))

    @method.setter
    def method(self, value):
        self._lib.pi_sampler_set_method(self, int(_enum(Method, value)))

    @property
    def steps(self):
        return _get(self._lib.pi_sampler_get_steps, self, ctypes.c_size_t)

    @steps.setter
    def steps(self, value):
        self._lib.pi_sampler_set_steps(self, int(value))

    @property
    def seed(self):
        return _get(self._lib.pi_sampler_get_seed, self, ctypes.c_uint64)

    @seed.setter
    def seed(self, value):
        self._lib.pi_sampler_set_seed(self, int(value))

    @property
    def first_row(self):
        """Row index of the first row of the next runs (default 0): row i of a run draws its noise
        as row first_row + i, so runs over partitions [a, b) with first_row = a give exactly the
        rows of one whole run (fixed-step methods). ``sample(n, first_row=a)`` sets it for one run."""
        return _get(self._lib.pi_sampler_get_first_row, self, ctypes.c_uint64)

    @first_row.setter
    def first_row(self, value):
        self._lib.pi_sampler_set_first_row(self, _row_index(value))

    @property
    def threads(self):
        return _get(self._lib.pi_sampler_get_threads, self, ctypes.c_int)

    @threads.setter
    def threads(self, value):
        self._lib.pi_sampler_set_threads(self, int(value))

    def _get_schedule(self):
        sched, rho = ctypes.c_int(), ctypes.c_double()
        self._lib.pi_sampler_get_schedule(self, ctypes.byref(sched), ctypes.byref(rho))
        return Schedule(sched.value), rho.value

    @property
    def schedule(self):
        """The schedule (assign a name, a :class:`Schedule` or an array of times)."""
        return self._get_schedule()[0]

    @schedule.setter
    def schedule(self, value):
        self.set_schedule(value)

    @property
    def rho(self):
        """Karras' ρ (set it with :meth:`set_schedule`)."""
        return self._get_schedule()[1]

    def set_schedule(self, schedule, rho=None):
        """A named schedule and Karras' ρ (None keeps the sampler's ρ), or a custom array of times."""
        if not isinstance(schedule, (str, int, enum.Enum)):
            self.times = schedule
            return
        s = _enum(Schedule, schedule)
        self._lib.pi_sampler_set_schedule(self, int(s), self.rho if rho is None else _real(rho))

    @property
    def times(self):
        """The schedule as an array of steps + 1 times (assign an array for a custom schedule)."""
        count = ctypes.c_size_t()
        self._lib.pi_sampler_get_times(self, 0, None, ctypes.byref(count))
        out = np.empty(count.value, np.float64)
        self._lib.pi_sampler_get_times(self, out.size, out.ctypes.data, ctypes.byref(count))
        return out[:count.value]

    @times.setter
    def times(self, values):
        t = np.ascontiguousarray(values, dtype=np.float64).ravel()
        self._lib.pi_sampler_set_times(self, t, t.size)

    @property
    def time_range(self):
        """(t_start, t_end) of :meth:`sample` (defaults: the SDE's T and t_min)."""
        a, b = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_sampler_get_time_range(self, ctypes.byref(a), ctypes.byref(b))
        return a.value, b.value

    @time_range.setter
    def time_range(self, value):
        self.set_time_range(*value)

    def set_time_range(self, t_start, t_end):
        self._lib.pi_sampler_set_time_range(self, _real(t_start), _real(t_end))

    @property
    def denoise_final(self):
        return bool(_get(self._lib.pi_sampler_get_denoise_final, self, ctypes.c_int))

    @denoise_final.setter
    def denoise_final(self, enabled):
        self._lib.pi_sampler_set_denoise_final(self, 1 if enabled else 0)

    @property
    def noise(self):
        """How the step noise of hbar > 0 is drawn (:class:`Noise`)."""
        return Noise(_get(self._lib.pi_sampler_get_noise, self, ctypes.c_int))

    @noise.setter
    def noise(self, kind):
        self._lib.pi_sampler_set_noise(self, int(kind))

    @property
    def tolerances(self):
        """(rtol, atol) of the adaptive method (RK45)."""
        r, a = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_sampler_get_tolerances(self, ctypes.byref(r), ctypes.byref(a))
        return r.value, a.value

    @tolerances.setter
    def tolerances(self, value):
        self.set_tolerances(*value)

    def set_tolerances(self, rtol=None, atol=None):
        """Tolerances of RK45; the one not given is kept."""
        cur_r, cur_a = self.tolerances
        self._lib.pi_sampler_set_tolerances(self, cur_r if rtol is None else _real(rtol),
                                            cur_a if atol is None else _real(atol))

    @property
    def corrector(self):
        """(steps, snr) of the Langevin corrector (0 steps = none)."""
        n, snr = ctypes.c_size_t(), ctypes.c_double()
        self._lib.pi_sampler_get_corrector(self, ctypes.byref(n), ctypes.byref(snr))
        return n.value, snr.value

    @corrector.setter
    def corrector(self, value):
        self.set_corrector(*value)

    def set_corrector(self, steps=None, snr=None):
        """Langevin corrector steps per step and signal-to-noise ratio; the one not given is kept."""
        cur_n, cur_snr = self.corrector
        self._lib.pi_sampler_set_corrector(self, cur_n if steps is None else int(steps),
                                           cur_snr if snr is None else _real(snr))

    @property
    def record_trajectory(self):
        """Whether runs record their trajectories (buffers owned by the sampler)."""
        on, cap = ctypes.c_int(), ctypes.c_size_t()
        self._lib.pi_sampler_get_trajectory_settings(self, ctypes.byref(on), ctypes.byref(cap))
        return bool(on.value)

    @record_trajectory.setter
    def record_trajectory(self, enabled):
        self._lib.pi_sampler_set_trajectory(self, 1 if enabled else 0, 0, None, None)

    @property
    def options(self):
        """Every option as read back from the library, keyed by :class:`Option` (SAMPLER_*)."""
        schedule, rho = self._get_schedule()
        rtol, atol = self.tolerances
        csteps, snr = self.corrector
        return {Option.SAMPLER_HBAR: self.hbar, Option.SAMPLER_METHOD: self.method,
                Option.SAMPLER_STEPS: self.steps, Option.SAMPLER_SCHEDULE: schedule,
                Option.SAMPLER_KARRAS_RHO: rho, Option.SAMPLER_SEED: self.seed,
                Option.SAMPLER_THREADS: self.threads, Option.SAMPLER_DENOISE_FINAL: int(self.denoise_final),
                Option.SAMPLER_RTOL: rtol, Option.SAMPLER_ATOL: atol,
                Option.SAMPLER_CORRECTOR_STEPS: csteps, Option.SAMPLER_CORRECTOR_SNR: snr,
                Option.SAMPLER_FIRST_ROW: self.first_row,
                Option.SAMPLER_GUIDANCE: self.guidance,
                Option.SAMPLER_GUIDANCE_RESCALE: self.guidance_rescale,
                Option.SAMPLER_GUIDANCE_SIGMA_MIN: self.guidance_interval[0],
                Option.SAMPLER_GUIDANCE_SIGMA_MAX: self.guidance_interval[1],
                Option.SAMPLER_CFGPP: int(self.cfgpp),
                Option.SAMPLER_NOISE: self.noise}

    # -- conditions, guidance, inpainting (issue 15) --
    @property
    def guidance(self):
        """Classifier-free guidance scale w (1: none, 0: unconditional; docs/samplers.md)."""
        return _get(self._lib.pi_sampler_get_guidance, self, ctypes.c_double)

    @guidance.setter
    def guidance(self, value):
        self._lib.pi_sampler_set_guidance(self, float(value))

    @property
    def guidance_rescale(self):
        """Guidance rescale φ in [0, 1] (Lin et al.)."""
        return _get(self._lib.pi_sampler_get_guidance_rescale, self, ctypes.c_double)

    @guidance_rescale.setter
    def guidance_rescale(self, value):
        self._lib.pi_sampler_set_guidance_rescale(self, float(value))

    @property
    def guidance_interval(self):
        """(sigma_min, sigma_max): guidance only where σ̃(t) lies in this interval."""
        lo, hi = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_sampler_get_guidance_interval(self, ctypes.byref(lo), ctypes.byref(hi))
        return lo.value, hi.value

    @guidance_interval.setter
    def guidance_interval(self, value):
        lo, hi = value
        self._lib.pi_sampler_set_guidance_interval(self, float(lo), float(hi))

    @property
    def cfgpp(self):
        """CFG++ for the EXP1 method."""
        return bool(_get(self._lib.pi_sampler_get_cfgpp, self, ctypes.c_int))

    @cfgpp.setter
    def cfgpp(self, enabled):
        self._lib.pi_sampler_set_cfgpp(self, int(bool(enabled)))

    def set_conditions(self, labels=None, cond=None):
        """Per-row conditions of the following runs (None and None: clear). labels: n ints
        (-1: the null condition); cond: (n, cond_dim) floats. Copied by the library."""
        if labels is None and cond is None:
            self._lib.pi_sampler_set_conditions(self, 0, None, 0, None, None)
            self._cond_keep = None
            return
        lab = None if labels is None else np.ascontiguousarray(labels, np.int32).ravel()
        vec = None if cond is None else np.ascontiguousarray(cond, np.float32)
        if vec is not None and vec.ndim == 1:
            vec = vec.reshape(-1, 1) if lab is None else vec.reshape(lab.size, -1)
        n = lab.size if lab is not None else vec.shape[0]
        cdim = 0 if vec is None else vec.shape[1]
        self._lib.pi_sampler_set_conditions(self, n, None if lab is None else lab.ctypes.data, cdim,
                                            None if vec is None else vec.ctypes.data, None)

    def set_inpainting(self, known=None, mask=None):
        """Inpainting data (known x0 and a mask in [0, 1], both (n, dim)) of the following runs;
        no arguments clear it."""
        if known is None and mask is None:
            self._lib.pi_sampler_set_inpainting(self, 0, None, None)
            return
        k = _points(known, self.model.dim)
        m = np.ascontiguousarray(mask, np.float32).reshape(k.shape)
        self._lib.pi_sampler_set_inpainting(self, k.shape[0], k.ctypes.data, m.ctypes.data)

    def cancel(self):
        """Ask a running sample() to stop at its next step (any thread)."""
        self._lib.pi_sampler_cancel(self)

    # -- runs --
    def _run(self, fn, *args):
        """Run a sampler call; Ctrl-C cancels it at its next step and raises KeyboardInterrupt
        once it has returned."""
        with _interruptible(self.cancel) as self._interrupt:
            try:
                _call(fn, self, *args, pending=self._pendings())
            except PathintError:
                if not self._interrupt.hit:
                    raise
            finally:
                self._interrupt = None

    def sample(self, n, labels=None, cond=None, first_row=None):
        """n samples from the prior at T down to t_min: an (n, dim) float32 array. With labels
        (n ints) and/or cond ((n, cond_dim)), a conditional model samples row i under condition i
        (set for this run only and cleared afterwards).

        ``first_row=a`` numbers the rows a … a + n − 1 for this run (see :attr:`first_row`), so
        that partitions of a large draw, on any processes, put together equal one run."""
        out = np.empty((int(n), self.model.dim), np.float32)
        # The trajectory's rows are this run's, also when it fails or is canceled part way.
        self._last_rows = out.shape[0]
        with _first_row(self, first_row):
            if labels is None and cond is None:
                self._run(self._lib.pi_sampler_run, out.shape[0], out)
                return out
            self.set_conditions(labels, cond)
            try:
                self._run(self._lib.pi_sampler_run, out.shape[0], out)
            finally:
                self.set_conditions(None, None)
        return out

    def sample_from(self, t_start, x, copy=True, first_row=None):
        """Integrate states x given at t_start down to t_min (SDEdit / img2img).

        With ``copy=False`` and x a float32 C-contiguous array, x is updated in place.
        ``first_row`` as in :meth:`sample`.
        """
        if copy:
            # A fresh array whatever x is (1-D views, memmaps and subclasses would otherwise share
            # x's memory through ascontiguousarray and be written in place).
            x = np.array(_real_array(x, np.float32, "x"), dtype=np.float32, order="C", copy=True)
        a = _points(x, self.model.dim)
        self._last_rows = a.shape[0]
        with _first_row(self, first_row):
            self._run(self._lib.pi_sampler_run_from, _real(t_start), a.shape[0], a)
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

    def __repr__(self):
        if not self._ptr:
            return "<pathint.Sampler closed>"
        return (f"<pathint.Sampler hbar={self.hbar} method={self.method.name.lower()} steps={self.steps} "
                f"seed={self.seed}>")



# ---- Likelihood -----------------------------------------------------------------------------
#: Per-point diagnostics of :meth:`Likelihood.nll_ex`.
NLLDiagnostics = collections.namedtuple("NLLDiagnostics", "nll0 c1 nfe status")


class Likelihood(_Handle):
    """NLL₀ = −log q⁰(x) of the probability-flow ODE and its WKB slope c1 over a model
    (``pi_likelihood_t``): −log q^ħ(x) ≈ NLL₀ − ħ c1. It depends on the model only.

    Options are properties read back from the library (``divergence``, ``probes``,
    ``rtol``, ``atol``, ``wkb_algorithm``, ``dequantization``, ``seed``, ``threads``) or
    keyword arguments; ``callback(done, n) -> bool`` reports finished points (a true result
    stops the computation). :meth:`cancel` may be called from any thread; Ctrl-C cancels.
    A handle is used by one thread at a time; it borrows its model.
    """

    _destroy_name = "pi_likelihood_destroy"

    def __init__(self, model, divergence=None, probes=None, rtol=None, atol=None, wkb_algorithm=None,
                 dequantization=None, seed=None, threads=None, callback=None, c1=None, wkb_probes=None):
        lib = L.lib()
        out = L.LikelihoodPtr()
        lib.pi_likelihood_create(model, ctypes.byref(out))
        super().__init__(out)
        self.model = model  # borrowed by C: keep it alive
        self._borrow(model)
        self._pending = _PendingError()
        self._user_progress = callback
        self._interrupt = None
        self._progressfn = L.LikelihoodFn(self._on_progress)
        try:
            self._lib.pi_likelihood_set_callback(self, self._progressfn, None)
            if divergence is not None or probes is not None:
                self.set_divergence(divergence, probes)
            if rtol is not None or atol is not None:
                self.set_tolerances(rtol, atol)
            if c1 is not None:
                # "exact" is the sweep (exact traces); "stochastic" probes tr H (O(d) memory)
                names = {"exact": WKBAlgorithm.SWEEP, "sweep": WKBAlgorithm.SWEEP,
                         "reference": WKBAlgorithm.REFERENCE, "stochastic": WKBAlgorithm.STOCHASTIC}
                if c1 not in names:
                    raise ValueError(f"c1 must be 'exact', 'reference' or 'stochastic', got {c1!r}")
                wkb_algorithm = names[c1] if wkb_algorithm is None else wkb_algorithm
            for key, value in (("wkb_algorithm", wkb_algorithm), ("wkb_probes", wkb_probes),
                               ("dequantization", dequantization), ("seed", seed), ("threads", threads)):
                if value is not None:
                    setattr(self, key, value)
        except BaseException:
            self.close()
            raise

    # The progress callback always goes through Python so that Ctrl-C reaches the computation
    # (worker 0 runs on the calling thread and reports its points there). It may run on any
    # worker thread, never two at once.
    def _on_progress(self, done, n, _user):
        try:
            if self._interrupt is not None and self._interrupt.hit:
                return 1
            if self._user_progress is not None:
                return 1 if self._user_progress(done, n) else 0
            return 0
        except BaseException as exc:
            self._pending.store(exc)
            return 1

    def _pendings(self):
        return (self._pending,) + self.model._pendings()

    @property
    def callback(self):
        """``fn(done, n) -> bool``: called once per finished point (from a worker thread,
        never concurrently); a true result stops the computation (:class:`CanceledError`)."""
        return self._user_progress

    @callback.setter
    def callback(self, fn):
        self._user_progress = fn

    # -- options --
    def _get_divergence(self):
        mode, probes = ctypes.c_int(), ctypes.c_size_t()
        self._lib.pi_likelihood_get_divergence(self, ctypes.byref(mode), ctypes.byref(probes))
        return Divergence(mode.value), probes.value

    def set_divergence(self, mode=None, probes=None):
        """Divergence mode of the order-0 solve and Hutchinson probes; the one not given is kept
        (the library stores probes = 1 for the exact mode)."""
        cur_mode, cur_probes = self._get_divergence()
        self._lib.pi_likelihood_set_divergence(self, int(cur_mode if mode is None else _enum(Divergence, mode)),
                                               int(cur_probes if probes is None else probes))

    @property
    def divergence(self):
        return self._get_divergence()[0]

    @divergence.setter
    def divergence(self, mode):
        self.set_divergence(mode)

    @property
    def probes(self):
        return self._get_divergence()[1]

    @probes.setter
    def probes(self, value):
        self.set_divergence(None, value)

    @property
    def tolerances(self):
        """(rtol, atol) of the ODE solves."""
        r, a = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_likelihood_get_tolerances(self, ctypes.byref(r), ctypes.byref(a))
        return r.value, a.value

    @tolerances.setter
    def tolerances(self, value):
        self.set_tolerances(*value)

    def set_tolerances(self, rtol=None, atol=None):
        """Tolerances of the ODE solves; the one not given is kept."""
        cur_r, cur_a = self.tolerances
        self._lib.pi_likelihood_set_tolerances(self, cur_r if rtol is None else _real(rtol),
                                               cur_a if atol is None else _real(atol))

    rtol = property(lambda self: self.tolerances[0], lambda self, v: self.set_tolerances(rtol=v))
    atol = property(lambda self: self.tolerances[1], lambda self, v: self.set_tolerances(atol=v))

    @property
    def wkb_algorithm(self):
        return WKBAlgorithm(_get(self._lib.pi_likelihood_get_wkb_algorithm, self, ctypes.c_int))

    @wkb_algorithm.setter
    def wkb_algorithm(self, value):
        self._lib.pi_likelihood_set_wkb_algorithm(self, int(_enum(WKBAlgorithm, value)))

    @property
    def wkb_probes(self):
        """Independent probes K of the stochastic WKB sweep (``c1="stochastic"``)."""
        return _get(self._lib.pi_likelihood_get_wkb_probes, self, ctypes.c_size_t)

    @wkb_probes.setter
    def wkb_probes(self, value):
        self._lib.pi_likelihood_set_wkb_probes(self, int(value))

    @property
    def dequantization(self):
        """Uniform dequantisation bin width (0 = off)."""
        return _get(self._lib.pi_likelihood_get_dequantization, self, ctypes.c_double)

    @dequantization.setter
    def dequantization(self, value):
        self._lib.pi_likelihood_set_dequantization(self, _real(value))

    @property
    def seed(self):
        return _get(self._lib.pi_likelihood_get_seed, self, ctypes.c_uint64)

    @seed.setter
    def seed(self, value):
        self._lib.pi_likelihood_set_seed(self, int(value))

    @property
    def first_row(self):
        """Row index of the first point of the next computations (default 0): point i draws its
        Hutchinson probes and dequantisation noise as point first_row + i, so partitions [a, b)
        computed with first_row = a equal one computation over all points.
        ``nll(x, first_row=a)`` sets it for one call."""
        return _get(self._lib.pi_likelihood_get_first_row, self, ctypes.c_uint64)

    @first_row.setter
    def first_row(self, value):
        self._lib.pi_likelihood_set_first_row(self, _row_index(value))

    @property
    def threads(self):
        return _get(self._lib.pi_likelihood_get_threads, self, ctypes.c_int)

    @threads.setter
    def threads(self, value):
        self._lib.pi_likelihood_set_threads(self, int(value))

    @property
    def options(self):
        """Every option as read back from the library, keyed by :class:`Option` (LIKELIHOOD_*)."""
        mode, probes = self._get_divergence()
        rtol, atol = self.tolerances
        return {Option.LIKELIHOOD_DIVERGENCE: mode, Option.LIKELIHOOD_PROBES: probes,
                Option.LIKELIHOOD_RTOL: rtol, Option.LIKELIHOOD_ATOL: atol,
                Option.LIKELIHOOD_WKB_ALGORITHM: self.wkb_algorithm,
                Option.LIKELIHOOD_DEQUANTIZATION: self.dequantization,
                Option.LIKELIHOOD_SEED: self.seed, Option.LIKELIHOOD_THREADS: self.threads,
                Option.LIKELIHOOD_FIRST_ROW: self.first_row,
                Option.LIKELIHOOD_WKB_PROBES: self.wkb_probes}

    def cancel(self):
        """Stop a running computation (any thread): points not started get NaN and the call
        raises :class:`CanceledError`. A cancel while idle does nothing."""
        self._lib.pi_likelihood_cancel(self)

    # -- computations --
    def _run(self, fn, *args, tolerate=None):
        """Call fn(self, *args); Ctrl-C cancels it and raises KeyboardInterrupt once it has
        returned. ``tolerate(err)`` may accept a library error (return True) instead of raising."""
        with _interruptible(self.cancel) as self._interrupt:
            try:
                _call(fn, self, *args, pending=self._pendings())
            except PathintError as err:
                if not self._interrupt.hit and not (tolerate is not None and tolerate(err)):
                    raise
            finally:
                self._interrupt = None

    def nll(self, x, c1=True, first_row=None, order=1):
        """(nll0, c1): −log q⁰(x) per point in nats and the WKB coefficient c1 (None with
        ``c1=False``); −log q^ħ ≈ nll0 − ħ c1. A failed point raises (the others are computed).
        ``first_row=a``: these are points a … a + n − 1 of a larger set (see :attr:`first_row`).
        ``order=2``: (nll0, c1, c2) with −log q^ħ ≈ nll0 − ħ c1 − ħ² c2 (exact algorithms:
        dimension <= 16; ``c1="stochastic"``: a stochastic c2, any dimension for MLPs;
        docs/likelihood.md, "Second order"; standard errors from :meth:`nll_wkb2`);
        ``order=0`` is ``c1=False``."""
        if order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {order!r}")
        a = _points(x, self.model.dim)
        if order == 2:
            n = a.shape[0]
            nll, c, c2 = (np.empty(n, np.float64) for _ in range(3))
            with _first_row(self, first_row):
                self._run(self._lib.pi_likelihood_nll_wkb2, n, a, nll, c, c2)
            return nll, c, c2
        if order == 0:
            c1 = False
        nll = np.empty(a.shape[0], np.float64)
        c = np.empty(a.shape[0], np.float64) if c1 else None
        with _first_row(self, first_row):
            self._run(self._lib.pi_likelihood_nll, a.shape[0], a, nll, _ptr(c))
        return nll, c

    def nll_wkb(self, x, first_row=None):
        """(nll0, c1, c1_stderr) per point: the standard error of c1 over the probes of the
        stochastic sweep (NaN with one probe), 0 for the deterministic algorithms.
        ``first_row`` as in :meth:`nll`."""
        a = _points(x, self.model.dim)
        n = a.shape[0]
        nll, c, se = (np.empty(n, np.float64) for _ in range(3))
        with _first_row(self, first_row):
            self._run(self._lib.pi_likelihood_nll_wkb, n, a, nll, c, se)
        return nll, c, se

    def nll_wkb2(self, x, first_row=None):
        """(nll0, c1, c1_stderr, c2, c2_stderr) per point: as :meth:`nll_wkb` plus the second
        coefficient c2 (−log q^ħ ≈ nll0 − ħ c1 − ħ² c2) and its standard error over the
        independent replicates of the stochastic c2 (NaN with one probe), 0 for the exact
        algorithms. ``first_row`` as in :meth:`nll`."""
        a = _points(x, self.model.dim)
        n = a.shape[0]
        nll, c, se, c2, se2 = (np.empty(n, np.float64) for _ in range(5))
        with _first_row(self, first_row):
            self._run(self._lib.pi_likelihood_nll_wkb2_ex, n, a, nll, c, se, c2, se2)
        return nll, c, se, c2, se2

    def nll_hbar(self, x, hbar, first_row=None):
        """−log q^ħ(x) ≈ NLL₀ − ħ c1 per point, at the given ħ (c1 is not computed at ħ = 0)."""
        a = _points(x, self.model.dim)
        out = np.empty(a.shape[0], np.float64)
        with _first_row(self, first_row):
            self._run(self._lib.pi_likelihood_nll_hbar, _real(hbar), a.shape[0], a, out)
        return out

    def nll_ex(self, x, c1=True):
        """:meth:`nll` with per-point diagnostics: an :class:`NLLDiagnostics` (nll0, c1, nfe,
        status), where ``status`` holds each point's status code (0 = ok; failed or canceled
        points are NaN). Per-point failures and cancellation do not raise here; errors before
        any point is processed (bad arguments, memory) and callback exceptions do."""
        a = _points(x, self.model.dim)
        n = a.shape[0]
        nll = np.empty(n, np.float64)
        c = np.empty(n, np.float64) if c1 else None
        nfe = np.zeros(n, np.uintp)
        status = np.full(n, 1, np.intc)  # 1 is no status: marks "not reached"
        self._run(self._lib.pi_likelihood_nll_ex, n, a, nll, _ptr(c), nfe.ctypes.data, status.ctypes.data,
                  tolerate=lambda err: status[0] != 1)
        return NLLDiagnostics(nll, c, nfe, status)

    def action_bound(self, data, samples=16):
        """(bound, stderr): the action bound on −log q¹ (ħ = 1) in nats per point, with
        ``samples`` (t, z) draws per point; deterministic in :attr:`seed`, uses :attr:`threads`."""
        x = _points(data, self.model.dim, name="data")
        b, e = ctypes.c_double(), ctypes.c_double()
        _call(self._lib.pi_likelihood_action_bound, self, int(samples), x.shape[0], x, ctypes.byref(b),
              ctypes.byref(e), pending=self._pendings())
        return b.value, e.value

    def __repr__(self):
        if not self._ptr:
            return "<pathint.Likelihood closed>"
        return (f"<pathint.Likelihood divergence={self.divergence.name.lower()} rtol={self.rtol} "
                f"threads={self.threads}>")


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
        self.model = model  # borrowed by C: keep it alive
        self._borrow(model)
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

    def configure(self, lr=None, lr_schedule=None, warmup=None, total_steps=None, batch=None, weighting=None,
                  time_sampling=None, lognormal=None, adam=None, weight_decay=None, grad_clip=None, ema=None,
                  seed=None, threads=None, cond_dropout=None):
        """Set options; those not given keep their values (the library's defaults on a new trainer).
        ``lr_schedule``, ``warmup`` and ``total_steps`` are one setting: the parts not given are kept."""
        lib = self._lib
        if lr is not None:
            lib.pi_trainer_set_learning_rate(self, _real(lr))
        if lr_schedule is not None or warmup is not None or total_steps is not None:
            cur = self.lr_schedule
            lib.pi_trainer_set_lr_schedule(self, int(cur[0] if lr_schedule is None else _enum(LRSchedule, lr_schedule)),
                                           int(cur[1] if warmup is None else warmup),
                                           int(cur[2] if total_steps is None else total_steps))
        if batch is not None:
            lib.pi_trainer_set_batch_size(self, int(batch))
        if weighting is not None:
            lib.pi_trainer_set_weighting(self, int(_enum(Weighting, weighting)))
        if time_sampling is not None:
            lib.pi_trainer_set_time_sampling(self, int(_enum(TimeSampling, time_sampling)))
        if lognormal is not None:
            lib.pi_trainer_set_lognormal(self, _real(lognormal[0]), _real(lognormal[1]))
        if adam is not None:
            lib.pi_trainer_set_adam(self, *(_real(v) for v in adam))
        if weight_decay is not None:
            lib.pi_trainer_set_weight_decay(self, _real(weight_decay))
        if grad_clip is not None:
            lib.pi_trainer_set_grad_clip(self, _real(grad_clip))
        if ema is not None:
            lib.pi_trainer_set_ema(self, _real(ema))
        if seed is not None:
            lib.pi_trainer_set_seed(self, int(seed))
        if threads is not None:
            lib.pi_trainer_set_threads(self, int(threads))
        if cond_dropout is not None:
            lib.pi_trainer_set_cond_dropout(self, float(cond_dropout))
        return self

    cond_dropout = property(lambda self: _get(self._lib.pi_trainer_get_cond_dropout, self, ctypes.c_double),
                            lambda self, v: self.configure(cond_dropout=v),
                            doc="Probability that a row of a conditional model trains the null condition.")

    # -- options, read back from the library --
    lr = property(lambda self: _get(self._lib.pi_trainer_get_learning_rate, self, ctypes.c_double),
                  lambda self, v: self.configure(lr=v), doc="Peak learning rate.")
    batch = property(lambda self: _get(self._lib.pi_trainer_get_batch_size, self, ctypes.c_size_t),
                     lambda self, v: self.configure(batch=v), doc="Rows per step.")
    weighting = property(lambda self: Weighting(_get(self._lib.pi_trainer_get_weighting, self, ctypes.c_int)),
                         lambda self, v: self.configure(weighting=v), doc="Loss weighting λ(t).")
    time_sampling = property(
        lambda self: TimeSampling(_get(self._lib.pi_trainer_get_time_sampling, self, ctypes.c_int)),
        lambda self, v: self.configure(time_sampling=v), doc="How training times are drawn.")
    weight_decay = property(lambda self: _get(self._lib.pi_trainer_get_weight_decay, self, ctypes.c_double),
                            lambda self, v: self.configure(weight_decay=v), doc="AdamW decoupled weight decay.")
    grad_clip = property(lambda self: _get(self._lib.pi_trainer_get_grad_clip, self, ctypes.c_double),
                         lambda self, v: self.configure(grad_clip=v), doc="Global-norm clipping (0 = off).")
    ema = property(lambda self: _get(self._lib.pi_trainer_get_ema, self, ctypes.c_double),
                   lambda self, v: self.configure(ema=v), doc="EMA decay of the weights.")
    seed = property(lambda self: _get(self._lib.pi_trainer_get_seed, self, ctypes.c_uint64),
                    lambda self, v: self.configure(seed=v), doc="Seed of every training draw.")
    threads = property(lambda self: _get(self._lib.pi_trainer_get_threads, self, ctypes.c_int),
                       lambda self, v: self.configure(threads=v), doc="Threads of the passes.")

    @property
    def lr_schedule(self):
        """(schedule, warmup_steps, total_steps)."""
        sched, warm, total = ctypes.c_int(), ctypes.c_uint64(), ctypes.c_uint64()
        self._lib.pi_trainer_get_lr_schedule(self, ctypes.byref(sched), ctypes.byref(warm), ctypes.byref(total))
        return LRSchedule(sched.value), warm.value, total.value

    @property
    def lognormal(self):
        """(P_mean, P_std) of log-normal time sampling."""
        m, sd = ctypes.c_double(), ctypes.c_double()
        self._lib.pi_trainer_get_lognormal(self, ctypes.byref(m), ctypes.byref(sd))
        return m.value, sd.value

    @lognormal.setter
    def lognormal(self, value):
        self.configure(lognormal=value)

    @property
    def adam(self):
        """(β1, β2, ε) of Adam."""
        b1, b2, eps = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        self._lib.pi_trainer_get_adam(self, ctypes.byref(b1), ctypes.byref(b2), ctypes.byref(eps))
        return b1.value, b2.value, eps.value

    @adam.setter
    def adam(self, value):
        self.configure(adam=value)

    @property
    def options(self):
        """Every option as read back from the library, keyed by :class:`Option` (TRAINER_*)."""
        sched, warm, total = self.lr_schedule
        p_mean, p_std = self.lognormal
        b1, b2, eps = self.adam
        return {Option.TRAINER_LEARNING_RATE: self.lr, Option.TRAINER_LR_SCHEDULE: sched,
                Option.TRAINER_WARMUP_STEPS: warm, Option.TRAINER_TOTAL_STEPS: total,
                Option.TRAINER_BATCH_SIZE: self.batch, Option.TRAINER_WEIGHTING: self.weighting,
                Option.TRAINER_TIME_SAMPLING: self.time_sampling, Option.TRAINER_LOGNORMAL_MEAN: p_mean,
                Option.TRAINER_LOGNORMAL_STD: p_std, Option.TRAINER_ADAM_BETA1: b1,
                Option.TRAINER_ADAM_BETA2: b2, Option.TRAINER_ADAM_EPS: eps,
                Option.TRAINER_WEIGHT_DECAY: self.weight_decay, Option.TRAINER_GRAD_CLIP: self.grad_clip,
                Option.TRAINER_EMA: self.ema, Option.TRAINER_SEED: self.seed,
                Option.TRAINER_THREADS: self.threads, Option.TRAINER_COND_DROPOUT: self.cond_dropout}

    def cancel(self):
        """Ask a running :meth:`fit` to stop after its current step (any thread); it then raises
        :class:`CanceledError` with the EMA weights in the model. A cancel while idle does nothing."""
        self._lib.pi_trainer_cancel(self)

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

    def fit(self, data, steps, callback=None, labels=None, cond=None):
        """Take ``steps`` Adam steps on ``data`` (n, dim); afterwards the model holds the EMA weights.

        A conditional model takes ``labels`` (n ints) and/or ``cond`` ((n, cond_dim) floats), one
        per data row; each drawn row trains under its condition or, with probability
        ``cond_dropout``, the null one.

        ``callback(step, loss, ema_loss, steps_per_second)`` is called as training
        progresses; a true result cancels (:class:`CanceledError`). Returns self.
        """
        x = _points(data, self.model.dim, name="data")
        self._user_cb = callback
        try:
            with _interruptible(self.cancel) as self._interrupt:
                try:
                    if labels is None and cond is None:
                        _call(self._lib.pi_trainer_fit, self, x.shape[0], x, int(steps),
                              pending=(self._pending,) + self.model._pendings())
                    else:
                        lab = None if labels is None else np.ascontiguousarray(labels, np.int32).ravel()
                        vec = None if cond is None else np.ascontiguousarray(cond, np.float32).reshape(x.shape[0], -1)
                        if lab is not None and lab.size != x.shape[0]:
                            raise InvalidArgumentError(f"labels: {lab.size} values for {x.shape[0]} data rows")
                        _call(self._lib.pi_trainer_fit_cond, self, x.shape[0], x,
                              None if lab is None else lab.ctypes.data, 0 if vec is None else vec.shape[1],
                              None if vec is None else vec.ctypes.data, int(steps),
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
        """The trainer's loss of the model's current weights over all of ``data``, with ``samples``
        (t, z) draws per point; deterministic in the trainer's seed."""
        x = _points(data, self.model.dim, name="data")
        loss = ctypes.c_double()
        self._lib.pi_trainer_loss(self, int(samples), x.shape[0], x, ctypes.byref(loss))
        return loss.value

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


def bits_per_dim(nll, dim, scale=1.0):
    """(nll + dim · log(scale)) / (dim · ln 2) for an NLL in nats; ``scale`` is the data's
    quantisation scale (256 for 8-bit pixels mapped to [0, 1]). Raises for bad arguments."""
    out = ctypes.c_double()
    L.lib().pi_bits_per_dim(_real(nll), int(dim), _real(scale), ctypes.byref(out))
    return out.value


def version():
    """The loaded library's version string."""
    return L.lib().version


def version_number():
    return L.lib().version_number


def build_info():
    """What this process runs, as a dict: the library's version, BLIS's version, the BLIS kernel
    set in use and how it was chosen ("pathint", "environment", "detected" or "host"; see
    docs/embedding.md), BLIS's threading model, the CPU's vector extensions (those the OS also
    saves) and the CPUs this process may use."""
    lib = L.lib()
    features = []
    index = 0
    while True:  # the library's list ends where pi_cpu_feature_at reports past the end
        name, supported = ctypes.c_char_p(), ctypes.c_int()
        try:
            lib.pi_cpu_feature_at(index, ctypes.byref(name), ctypes.byref(supported))
        except InvalidArgumentError:
            break
        if supported.value:
            features.append(name.value.decode())
        index += 1
    return {
        "version": lib.version,
        "blis_version": lib.pi_blis_version().decode(),
        "blis_kernels": lib.pi_blis_kernels().decode(),
        "blis_kernel_choice": lib.pi_blis_kernel_choice().decode(),
        "blis_threading": lib.pi_blis_threading().decode(),
        "cpu_vector_extensions": features,
        "cpu_count": int(lib.pi_cpu_count()),
    }

