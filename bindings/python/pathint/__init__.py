"""pathint: score-based diffusion models in the path-integral (ħ) view — Python bindings.

Pure ctypes + numpy over the C library ``libpathint``. The library is found, in
order, at an explicit path (``pathint.load_library(path)``), in the environment
variable ``PATHINT_LIBRARY``, next to this package, or on the system's library
path; a library of another major version is refused.

    >>> import pathint as pi
    >>> sde = pi.SDE("vp")
    >>> model = pi.Model.gmm(sde, [0.5, 0.5], [[-1, 0], [1, 0]], [[0.05, 0.05]] * 2)
    >>> with pi.Sampler(model, hbar=0.5, steps=100, seed=1) as s:
    ...     x = s.sample(1000)            # (1000, 2) float32
    >>> with pi.Likelihood(model, threads=2) as lik:
    ...     nll0, c1 = lik.nll(x[:10])    # NLL(ħ) ≈ nll0 − ħ c1

See docs/python.md.
"""

from ._library import ABI_MAJOR, load_library
from .core import (SDE, BetaSchedule, Dataset, Divergence, Embedding, Likelihood, LRSchedule, Method, Model, ModelKind,
                   NLLDiagnostics, Noise, Option, OptionInfo, Precond, Sampler, Schedule, SDEKind, SDEParam,
                   SDEPreset, TimeSampling, TimestepSpacing, shift_from_sequence_length,
                   Trainer, View, Weighting, WKBAlgorithm, Derivative, bits_per_dim, generate_data, load_data, option_info,
                   save_data, version, version_number, build_info)
from .errors import (CallbackError, CanceledError, ConvergenceError, FormatError, InvalidArgumentError,
                     LibraryNotFoundError, MismatchError, BusyError, NumericError, OutOfMemoryError, PathintError,
                     PathintIOError, UnsupportedError)

__all__ = [
    "ABI_MAJOR", "load_library", "version", "version_number", "build_info",
    "SDE", "Model", "Sampler", "Likelihood", "NLLDiagnostics", "Trainer", "generate_data", "load_data",
    "save_data", "bits_per_dim", "option_info", "Option", "OptionInfo",
    "SDEKind", "SDEParam", "SDEPreset", "View", "ModelKind", "Precond", "Embedding", "Divergence", "Method", "Noise", "Schedule",
    "WKBAlgorithm", "Derivative", "Weighting", "TimeSampling", "LRSchedule", "Dataset",
    "BetaSchedule", "TimestepSpacing", "shift_from_sequence_length",
    "PathintError", "InvalidArgumentError", "OutOfMemoryError", "UnsupportedError", "PathintIOError",
    "FormatError", "CallbackError", "CanceledError", "NumericError", "ConvergenceError", "MismatchError", "BusyError",
    "LibraryNotFoundError",
]

__version__ = "1.2.0"  # of this package; the library's is pathint.version()
