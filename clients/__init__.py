"""TF Serving clients without TensorFlow: one API over gRPC and REST, sync and async, numpy in and out.

    from clients import GrpcClient, RestClient
    with GrpcClient("localhost:8500") as client:
        outputs = client.predict({"x": np.ones((2, 3), np.float32)}, "my_model")   # dict[str, np.ndarray]

Base dependencies only (numpy, grpcio, protobuf, httpx, h11, orjson). ``clients.testing.FakeServer`` is an in-process
test double for unit-testing code that uses these clients. Names are loaded on first use (PEP 562), so a REST-only
application never imports grpc and vice versa.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clients import errors, testing
    from clients.errors import (
        DeadlineExceededError,
        FailedPreconditionError,
        InvalidInputError,
        ModelLoadError,
        ModelNotFoundError,
        PermissionDeniedError,
        ResourceExhaustedError,
        ResponseDecodeError,
        ServerError,
        TfsError,
        UnavailableError,
        UnsupportedOperationError,
        ValidationError,
    )
    from clients.grpc_client import AsyncGrpcClient, GrpcClient
    from clients.options import TLS, Keepalive, Reconnect, Retry
    from clients.protocol import AsyncServingClient, ServingClient
    from clients.rest_client import AsyncRestClient, RestClient
    from clients.testing import FakeServer
    from clients.types import (
        ClassifyResult,
        ModelMetadata,
        ModelVersionStatus,
        SignatureSpec,
        TensorSpec,
    )

_EXPORTS: dict[str, str] = {
    "GrpcClient": "clients.grpc_client",
    "AsyncGrpcClient": "clients.grpc_client",
    "RestClient": "clients.rest_client",
    "AsyncRestClient": "clients.rest_client",
    "Retry": "clients.options",
    "TLS": "clients.options",
    "Keepalive": "clients.options",
    "Reconnect": "clients.options",
    "TensorSpec": "clients.types",
    "SignatureSpec": "clients.types",
    "ModelMetadata": "clients.types",
    "ModelVersionStatus": "clients.types",
    "ClassifyResult": "clients.types",
    "FakeServer": "clients.testing",
    "ServingClient": "clients.protocol",
    "AsyncServingClient": "clients.protocol",
    **{
        name: "clients.errors"
        for name in (
            "TfsError",
            "ValidationError",
            "ResponseDecodeError",
            "ModelNotFoundError",
            "InvalidInputError",
            "FailedPreconditionError",
            "UnavailableError",
            "DeadlineExceededError",
            "PermissionDeniedError",
            "ResourceExhaustedError",
            "ServerError",
            "ModelLoadError",
            "UnsupportedOperationError",
        )
    },
}
_SUBMODULES = {"errors", "testing", "codec", "json_codec", "types", "options", "validation", "examples",
               "readiness", "protocol"}

__all__ = [
    "TLS",
    "AsyncGrpcClient",
    "AsyncRestClient",
    "AsyncServingClient",
    "ClassifyResult",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FakeServer",
    "GrpcClient",
    "InvalidInputError",
    "Keepalive",
    "ModelLoadError",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelVersionStatus",
    "PermissionDeniedError",
    "Reconnect",
    "ResourceExhaustedError",
    "ResponseDecodeError",
    "RestClient",
    "Retry",
    "ServerError",
    "ServingClient",
    "SignatureSpec",
    "TensorSpec",
    "TfsError",
    "UnavailableError",
    "UnsupportedOperationError",
    "ValidationError",
    "errors",
    "testing",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"clients.{name}")
    else:
        raise AttributeError(f"module 'clients' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
