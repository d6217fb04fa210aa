"""One error type for the embedded runtime, carrying TF Serving's absl status code and message.

Both protocol layers translate it: gRPC copies the code 1:1 (as TF Serving's ``ToGRPCStatus``), REST maps it to
an HTTP status with ``http_status`` (TF Serving's ``ToHTTPStatusCode``) and a ``{"error": message}`` body.
"""

from __future__ import annotations

import enum

from clients.errors import http_status as _http_status


class Code(enum.IntEnum):
    """absl / gRPC status codes (the numbers are identical in both)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def http_status(code: Code | int) -> int:
    """HTTP status TF Serving's REST server uses for an absl status code (500 for anything unknown); the table
    is ``clients.errors.HTTP_STATUS``, shared with the clients' FakeServer."""
    return _http_status(int(code))


class ServingError(Exception):
    """A request failed with a TF-Serving-style status: ``code`` (absl) and ``message`` (without code prefix)."""

    def __init__(self, code: Code | int, message: str) -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_status_string(self) -> str:
        """``Status::ToString()`` form, e.g. ``INVALID_ARGUMENT: bad``, used when TF Serving nests an error."""
        return f"{self.code.name}: {self.message}"

    @property
    def http_status(self) -> int:
        return http_status(self.code)


class PortInUseError(OSError):
    """A listening address of the runtime (its gRPC or REST port, or socket path) could not be bound; the message
    names the address. (``toolkit.launch.errors.PortInUseError`` is the launcher's: a host port taken before start.)"""
