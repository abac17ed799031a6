"""Exceptions raised by mlcore.

Every error carries the core's message (what went wrong and what to do) and its canonical status
code. The classes mirror gRPC's canonical codes; catch :class:`MlcoreError` for all of them::

    try:
        client.get_project("nope")
    except mlcore.NotFoundError as e:
        print(e.code_name, e.message)
"""

from __future__ import annotations


class MlcoreError(Exception):
    """Base class of every mlcore error."""

    code: int = 2
    code_name: str = "UNKNOWN"

    def __init__(self, message: str = "", code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} [{self.code_name}]"


class CancelledError(MlcoreError):
    """The operation was cancelled (CANCELLED)."""

    code, code_name = 1, "CANCELLED"


class UnknownError(MlcoreError):
    """An error without a more specific code (UNKNOWN)."""

    code, code_name = 2, "UNKNOWN"


class InvalidArgumentError(MlcoreError, ValueError):
    """A malformed name, spec, URI, filter or config (INVALID_ARGUMENT)."""

    code, code_name = 3, "INVALID_ARGUMENT"


class DeadlineExceededError(MlcoreError, TimeoutError):
    """The operation did not finish in time (DEADLINE_EXCEEDED)."""

    code, code_name = 4, "DEADLINE_EXCEEDED"


class NotFoundError(MlcoreError, LookupError):
    """The named project, job, run, artifact or model does not exist (NOT_FOUND)."""

    code, code_name = 5, "NOT_FOUND"


class AlreadyExistsError(MlcoreError):
    """Something with that name already exists (ALREADY_EXISTS)."""

    code, code_name = 6, "ALREADY_EXISTS"


class PermissionDeniedError(MlcoreError):
    """The caller may not do this, or a path is not accessible (PERMISSION_DENIED)."""

    code, code_name = 7, "PERMISSION_DENIED"


class QuotaExceededError(MlcoreError):
    """A quota, rate limit or disk capacity is exhausted (RESOURCE_EXHAUSTED)."""

    code, code_name = 8, "RESOURCE_EXHAUSTED"


ResourceExhaustedError = QuotaExceededError


class FailedPreconditionError(MlcoreError):
    """The system is not in a state that allows this (FAILED_PRECONDITION)."""

    code, code_name = 9, "FAILED_PRECONDITION"


class AbortedError(MlcoreError):
    """A concurrent change won; retry with fresh state (ABORTED)."""

    code, code_name = 10, "ABORTED"


class OutOfRangeError(MlcoreError, IndexError):
    """A position or range past the end (OUT_OF_RANGE)."""

    code, code_name = 11, "OUT_OF_RANGE"


class UnimplementedError(MlcoreError, NotImplementedError):
    """The backend does not offer this operation (UNIMPLEMENTED)."""

    code, code_name = 12, "UNIMPLEMENTED"


class InternalError(MlcoreError):
    """A bug in mlcore (INTERNAL); please report it with the message."""

    code, code_name = 13, "INTERNAL"


class UnavailableError(MlcoreError, ConnectionError):
    """The backend cannot be reached or the store is busy; retry later (UNAVAILABLE)."""

    code, code_name = 14, "UNAVAILABLE"


class DataLossError(MlcoreError):
    """Stored data is corrupt or lost (DATA_LOSS)."""

    code, code_name = 15, "DATA_LOSS"


class UnauthenticatedError(MlcoreError):
    """Missing or invalid credentials; log in again (UNAUTHENTICATED)."""

    code, code_name = 16, "UNAUTHENTICATED"


# The one table from status codes to exception classes.
_BY_CODE: dict[int, type[MlcoreError]] = {
    cls.code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        QuotaExceededError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}


def _from_status(code: int, message: str) -> MlcoreError:
    """Builds the exception for a status code (called by the compiled module)."""
    cls = _BY_CODE.get(code, UnknownError)
    return cls(message, code if cls is UnknownError else None)


__all__ = [name for name, obj in globals().items() if isinstance(obj, type) and issubclass(obj, MlcoreError)]
