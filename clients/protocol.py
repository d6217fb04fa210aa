"""The client API as ``typing.Protocol``s: ``ServingClient`` (GrpcClient, RestClient) and ``AsyncServingClient``
(AsyncGrpcClient, AsyncRestClient). Type code that takes "any client" with these instead of ``Any``.

``multi_inference`` and ``reload_config`` are not part of them: TF Serving offers those over gRPC only, so only
the gRPC clients have them (a REST client raises ``UnsupportedOperationError`` when asked for one).
mypy checks the four classes against these (bottom of this file); tests/unit/clients/test_protocol.py compares
the signatures at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from clients._base import DEFAULT, Timeout
from clients.types import ClassifyResult, ModelMetadata, ModelVersionStatus

__all__ = ["AsyncServingClient", "ServingClient"]


@runtime_checkable
class ServingClient(Protocol):
    """A blocking TF Serving client (gRPC or REST)."""

    endpoint: str
    timeout: Timeout

    def predict(self, inputs: Mapping[str, Any] | Any, model: str, *, version: int | None = None,
                label: str | None = None, signature: str | None = None,
                output_filter: Sequence[str] | None = None, timeout: Timeout = DEFAULT) -> dict[str, np.ndarray]: ...

    def classify(self, examples: Sequence[Mapping[str, Any]], model: str, *, version: int | None = None,
                 label: str | None = None, signature: str | None = None, context: Mapping[str, Any] | None = None,
                 timeout: Timeout = DEFAULT) -> ClassifyResult: ...

    def regress(self, examples: Sequence[Mapping[str, Any]], model: str, *, version: int | None = None,
                label: str | None = None, signature: str | None = None, context: Mapping[str, Any] | None = None,
                timeout: Timeout = DEFAULT) -> np.ndarray: ...

    def metadata(self, model: str, *, version: int | None = None, label: str | None = None,
                 timeout: Timeout = DEFAULT) -> ModelMetadata: ...

    def status(self, model: str, *, version: int | None = None, label: str | None = None,
               timeout: Timeout = DEFAULT) -> list[ModelVersionStatus]: ...

    def wait_until_available(self, model: str, versions: Sequence[int] | None = None, *,
                             timeout: float | None = 60.0, poll_interval: float = 0.25) -> list[ModelVersionStatus]: ...

    def clear_cache(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncServingClient(Protocol):
    """An asyncio TF Serving client (gRPC or REST): the same calls as ``ServingClient``, as coroutines."""

    endpoint: str
    timeout: Timeout

    async def predict(self, inputs: Mapping[str, Any] | Any, model: str, *, version: int | None = None,
                      label: str | None = None, signature: str | None = None,
                      output_filter: Sequence[str] | None = None,
                      timeout: Timeout = DEFAULT) -> dict[str, np.ndarray]: ...

    async def classify(self, examples: Sequence[Mapping[str, Any]], model: str, *, version: int | None = None,
                       label: str | None = None, signature: str | None = None,
                       context: Mapping[str, Any] | None = None, timeout: Timeout = DEFAULT) -> ClassifyResult: ...

    async def regress(self, examples: Sequence[Mapping[str, Any]], model: str, *, version: int | None = None,
                      label: str | None = None, signature: str | None = None,
                      context: Mapping[str, Any] | None = None, timeout: Timeout = DEFAULT) -> np.ndarray: ...

    async def metadata(self, model: str, *, version: int | None = None, label: str | None = None,
                       timeout: Timeout = DEFAULT) -> ModelMetadata: ...

    async def status(self, model: str, *, version: int | None = None, label: str | None = None,
                     timeout: Timeout = DEFAULT) -> list[ModelVersionStatus]: ...

    async def wait_until_available(self, model: str, versions: Sequence[int] | None = None, *,
                                   timeout: float | None = 60.0,
                                   poll_interval: float = 0.25) -> list[ModelVersionStatus]: ...

    def clear_cache(self) -> None: ...

    async def close(self) -> None: ...


if TYPE_CHECKING:  # mypy proves that all four clients satisfy the protocols

    from clients.grpc_client import AsyncGrpcClient, GrpcClient
    from clients.rest_client import AsyncRestClient, RestClient

    def _conforms(grpc: GrpcClient, rest: RestClient, agrpc: AsyncGrpcClient, arest: AsyncRestClient) -> None:
        sync_clients: list[ServingClient] = [grpc, rest]
        async_clients: list[AsyncServingClient] = [agrpc, arest]
        del sync_clients, async_clients
