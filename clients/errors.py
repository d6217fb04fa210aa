"""One exception tree for both transports: gRPC status codes and HTTP statuses map onto the same classes.

Every server error keeps the server's ``message`` and the raw code: ``code`` (canonical status name such as
``"NOT_FOUND"``), ``grpc_code`` (its number, gRPC only) and ``http_status`` (REST only).

    TfsError
    ├── ValidationError              bad input caught before sending (also a ValueError)
    ├── ResponseDecodeError          the server's answer could not be decoded
    ├── ModelNotFoundError           NOT_FOUND / 404: unknown model or version
    ├── InvalidInputError            INVALID_ARGUMENT, OUT_OF_RANGE / 400 (an unknown label is also 400 in TF Serving)
    │   └── FailedPreconditionError  FAILED_PRECONDITION (REST sends it as 400, so it arrives as InvalidInputError)
    ├── UnavailableError             UNAVAILABLE / 503, and connection failures (code "UNAVAILABLE", no status)
    ├── DeadlineExceededError        DEADLINE_EXCEEDED / 504, and client-side timeouts (also a TimeoutError)
    ├── PermissionDeniedError        PERMISSION_DENIED, UNAUTHENTICATED / 401, 403
    ├── ResourceExhaustedError       RESOURCE_EXHAUSTED / 429 (e.g. a message over the size limit)
    ├── ModelLoadError               wait_until_available: a wanted version ended (END) with a load error
    ├── UnsupportedOperationError    a gRPC-only call (multi_inference, reload_config) on a REST client
    └── ServerError                  everything else (INTERNAL, UNKNOWN, UNIMPLEMENTED, 500, 501, ...)
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "CODE_NUMBERS",
    "HTTP_STATUS",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InvalidInputError",
    "ModelLoadError",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "ResponseDecodeError",
    "ServerError",
    "TfsError",
    "UnavailableError",
    "UnsupportedOperationError",
    "ValidationError",
    "from_http",
    "from_status",
    "http_status",
]

# gRPC / absl canonical status codes (identical numbering in both).
CODE_NUMBERS: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}
_CODE_NAMES = {number: name for name, number in CODE_NUMBERS.items()}

# TF Serving's ToHTTPStatusCode: the HTTP status its REST server answers for each status code (500 otherwise).
# The one copy: the embedded runtime (toolkit.server.errors) and clients.testing.FakeServer use it.
HTTP_STATUS: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def http_status(code: str | int) -> int:
    """The HTTP status TF Serving's REST API uses for a status code (name or number); 500 for unknown codes."""
    name = _CODE_NAMES.get(code) if isinstance(code, int) else code
    return HTTP_STATUS.get(name or "", 500)


# The status name an HTTP status stands for, where TF Serving's ToHTTPStatusCode makes it unambiguous.
_HTTP_CODES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class TfsError(Exception):
    """Base class of every error the clients raise."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        grpc_code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.grpc_code = grpc_code
        self.http_status = http_status

    def __str__(self) -> str:
        raw = []
        if self.code:
            raw.append(self.code if self.grpc_code is None else f"{self.code}/{self.grpc_code}")
        if self.http_status is not None:
            raw.append(f"HTTP {self.http_status}")
        return f"{self.message} ({', '.join(raw)})" if raw else self.message

    def __reduce__(self) -> tuple[Any, ...]:  # keep keyword-only attributes through pickling (e.g. multiprocessing)
        return (_rebuild, (type(self), self.message, self.code, self.grpc_code, self.http_status))


def _rebuild(
    cls: type[TfsError], message: str, code: str, grpc_code: int | None, http_status: int | None
) -> TfsError:
    return cls(message, code=code, grpc_code=grpc_code, http_status=http_status)


class ValidationError(TfsError, ValueError):
    """The request was rejected on the client before sending (names, dtypes, shapes, arguments)."""


class ResponseDecodeError(TfsError):
    """The server answered, but the answer was malformed or not what the API promises."""


class ModelNotFoundError(TfsError):
    """The model, version or servable does not exist (NOT_FOUND / HTTP 404)."""


class InvalidInputError(TfsError):
    """The server rejected the request (INVALID_ARGUMENT, OUT_OF_RANGE / HTTP 400), e.g. an unknown label."""


class FailedPreconditionError(InvalidInputError):
    """FAILED_PRECONDITION over gRPC (e.g. an unknown predict signature); REST reports the same as 400."""


class UnavailableError(TfsError):
    """The server is unreachable or not ready (UNAVAILABLE / HTTP 503, connection errors). Safe to retry."""


class DeadlineExceededError(TfsError, TimeoutError):
    """The deadline passed, on the server (DEADLINE_EXCEEDED / HTTP 504) or on the client."""


class ModelLoadError(TfsError):
    """A wanted version ended (state END) with a load error instead of becoming AVAILABLE; ``code`` is the
    server's error code. The rule lives in ``clients.readiness``; ``tfs up`` raises a subclass."""


class UnsupportedOperationError(TfsError, AttributeError):
    """The call exists in TF Serving's gRPC API only (MultiInference, HandleReloadConfigRequest): use a gRPC client.
    REST clients raise it when asked for such a method; it is also an AttributeError, as the method is absent."""


class PermissionDeniedError(TfsError):
    """Authentication or authorization failed (PERMISSION_DENIED, UNAUTHENTICATED / HTTP 401, 403)."""


class ResourceExhaustedError(TfsError):
    """A limit was hit (RESOURCE_EXHAUSTED / HTTP 429), e.g. a message larger than the allowed size."""


class ServerError(TfsError):
    """Any other server-side failure (INTERNAL, UNKNOWN, UNIMPLEMENTED, ... / HTTP 5xx)."""


_CLASS_FOR_CODE: dict[str, type[TfsError]] = {
    "NOT_FOUND": ModelNotFoundError,
    "INVALID_ARGUMENT": InvalidInputError,
    "OUT_OF_RANGE": InvalidInputError,
    "FAILED_PRECONDITION": FailedPreconditionError,
    "UNAVAILABLE": UnavailableError,
    "DEADLINE_EXCEEDED": DeadlineExceededError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "UNAUTHENTICATED": PermissionDeniedError,
    "RESOURCE_EXHAUSTED": ResourceExhaustedError,
}


def from_status(code: str | int, message: str) -> TfsError:
    """Build the error for a gRPC / absl status (name like ``"NOT_FOUND"`` or number like 5)."""
    number: int | None
    if isinstance(code, int):
        name = _CODE_NAMES.get(code, "UNKNOWN")
        number = code
    else:
        name = code.upper()
        number = CODE_NUMBERS.get(name)
    cls = _CLASS_FOR_CODE.get(name, ServerError)
    return cls(message, code=name, grpc_code=number)


def error_message_from_body(body: bytes) -> str:
    """The ``error`` text of a TF Serving REST error body; tolerates old ``\\'`` escapes, else the raw text."""
    text = body.decode("utf-8", errors="replace")
    for candidate in (body, text.replace("\\'", "'").encode("utf-8")):
        try:
            parsed = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(parsed, dict) and isinstance(error := parsed.get("error"), str):
            return error
        break
    return text.strip()


def from_http(status: int, body: bytes) -> TfsError:
    """Build the error for a non-2xx REST answer, mapping the HTTP status as TF Serving's ToHTTPStatusCode does."""
    message = error_message_from_body(body) or f"HTTP {status}"
    name = _HTTP_CODES.get(status)
    if name is None:
        cls: type[TfsError] = ServerError
    else:
        cls = _CLASS_FOR_CODE.get(name, ServerError)
        if name == "INVALID_ARGUMENT":
            cls = InvalidInputError  # FAILED_PRECONDITION is also 400 and cannot be told apart over REST
    return cls(message, code=name, http_status=status)
