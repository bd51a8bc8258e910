"""Exceptions: one class per pathint status code, all derived from PathintError."""

__all__ = [
    "PathintError", "InvalidArgumentError", "OutOfMemoryError", "UnsupportedError",
    "PathintIOError", "FormatError", "CallbackError", "CanceledError", "NumericError",
    "ConvergenceError", "MismatchError", "BusyError", "LibraryNotFoundError", "error_for_status",
]


class PathintError(Exception):
    """A pathint call failed.

    ``status`` is the library's status code (a negative int), ``message`` the
    detailed text of ``pi_last_error()`` for the failing call, and ``function``
    the C function that failed.
    """

    status = None

    def __init__(self, message, status=None, function=None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.function = function


class InvalidArgumentError(PathintError, ValueError):
    status = -1


class OutOfMemoryError(PathintError, MemoryError):
    status = -2


class UnsupportedError(PathintError):
    status = -3


class PathintIOError(PathintError, OSError):
    status = -4


class FormatError(PathintError):
    status = -5


class CallbackError(PathintError):
    status = -6


class CanceledError(PathintError):
    status = -7


class NumericError(PathintError, ArithmeticError):
    status = -8


class ConvergenceError(PathintError):
    status = -9


class MismatchError(PathintError, ValueError):
    status = -10


class BusyError(PathintError):
    """A second call on a handle (sampler, likelihood, trainer) while its first one runs."""
    status = -11


class LibraryNotFoundError(PathintError, ImportError):
    """The shared library could not be found or is an incompatible version."""


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, OutOfMemoryError, UnsupportedError, PathintIOError, FormatError,
    CallbackError, CanceledError, NumericError, ConvergenceError, MismatchError, BusyError)}


def error_for_status(status, message, function=None):
    """The exception object for a status code (PathintError for unknown codes)."""
    cls = _BY_STATUS.get(status, PathintError)
    return cls(message, status=status, function=function)
