"""One error tree: gRPC status codes and HTTP statuses map onto the same classes, keeping message and raw code."""

from __future__ import annotations

import pickle

import grpc
import pytest

from clients import errors
from clients.errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidInputError,
    ModelNotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ServerError,
    TfsError,
    UnavailableError,
    ValidationError,
)
from clients.grpc_client import map_rpc_error

CASES = [
    # (gRPC code, HTTP status TF Serving uses for it, class over gRPC, class over REST)
    ("NOT_FOUND", 404, ModelNotFoundError, ModelNotFoundError),
    ("INVALID_ARGUMENT", 400, InvalidInputError, InvalidInputError),
    ("OUT_OF_RANGE", 400, InvalidInputError, InvalidInputError),
    ("FAILED_PRECONDITION", 400, FailedPreconditionError, InvalidInputError),
    ("UNAVAILABLE", 503, UnavailableError, UnavailableError),
    ("DEADLINE_EXCEEDED", 504, DeadlineExceededError, DeadlineExceededError),
    ("PERMISSION_DENIED", 403, PermissionDeniedError, PermissionDeniedError),
    ("UNAUTHENTICATED", 401, PermissionDeniedError, PermissionDeniedError),
    ("RESOURCE_EXHAUSTED", 429, ResourceExhaustedError, ResourceExhaustedError),
    ("UNIMPLEMENTED", 501, ServerError, ServerError),
    ("INTERNAL", 500, ServerError, ServerError),
    ("UNKNOWN", 500, ServerError, ServerError),
]


class _RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(("code", "status", "grpc_cls", "rest_cls"), CASES, ids=[c[0] for c in CASES])
def test_grpc_and_http_map_to_the_same_classes(code, status, grpc_cls, rest_cls) -> None:
    over_grpc = map_rpc_error(_RpcError(getattr(grpc.StatusCode, code), "the server said so"))
    assert type(over_grpc) is grpc_cls
    assert over_grpc.message == "the server said so"
    assert over_grpc.code == code and over_grpc.grpc_code == getattr(grpc.StatusCode, code).value[0]
    assert over_grpc.http_status is None

    over_rest = errors.from_http(status, b'{\n    "error": "the server said so"\n}')
    assert type(over_rest) is rest_cls
    assert over_rest.message == "the server said so" and over_rest.http_status == status
    # One except clause catches both protocols' version of the same failure.
    assert isinstance(over_grpc, rest_cls) and isinstance(over_rest, TfsError)


def test_unknown_label_is_invalid_input_on_both() -> None:
    message = "Unrecognized servable version label: nope"
    assert isinstance(errors.from_status("INVALID_ARGUMENT", message), InvalidInputError)
    assert isinstance(errors.from_http(400, b'{"error": "Unrecognized servable version label: nope"}'), InvalidInputError)


def test_str_shows_message_and_raw_codes() -> None:
    assert str(errors.from_status(5, "Servable not found")) == "Servable not found (NOT_FOUND/5)"
    assert str(errors.from_http(404, b'{"error": "x"}')) == "x (NOT_FOUND, HTTP 404)"
    assert str(errors.from_http(502, b"bad gateway")) == "bad gateway (HTTP 502)"


def test_error_bodies_old_escapes_and_raw_text() -> None:
    old = b"{ \"error\": \"Failed to process element: 0 of \\'instances\\' list.\" }"
    assert errors.from_http(400, old).message == "Failed to process element: 0 of 'instances' list."
    html = b"<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD></HTML>\n"
    not_found = errors.from_http(404, html)
    assert isinstance(not_found, ModelNotFoundError) and not_found.message.startswith("<HTML>")
    assert errors.from_http(500, b"").message == "HTTP 500"
    assert errors.from_http(400, b'{"other": 1}').message == '{"other": 1}'


def test_builtin_bases_and_pickling() -> None:
    assert issubclass(DeadlineExceededError, TimeoutError)
    assert issubclass(ValidationError, ValueError)
    original = errors.from_status("NOT_FOUND", "gone")
    clone = pickle.loads(pickle.dumps(original))
    assert type(clone) is ModelNotFoundError and clone.code == "NOT_FOUND" and clone.grpc_code == 5
