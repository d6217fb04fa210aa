"""REST clients for TF Serving: ``RestClient`` (blocking) and ``AsyncRestClient`` (asyncio).

Same API as the gRPC clients. One keep-alive connection pool per instance (``clients._http1``: h11 framing,
TCP_NODELAY on every socket; an httpx transport instead when ``transport=`` is given), https:// with a custom CA
/ client certificate, extra headers, retries for idempotent calls.
Output dtypes and the name of a single unnamed output come from the model's signature, fetched once and cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import numpy as np

from clients import _wire, json_codec
from clients._api import AsyncApi, SyncApi
from clients._base import (
    Call,
    ClientCore,
    Plan,
    Timeout,
)
from clients._http1 import AsyncHttp1Pool, AsyncHttpxPool, Http1Pool, HttpxPool
from clients.errors import (
    DeadlineExceededError,
    TfsError,
    UnavailableError,
    UnsupportedOperationError,
    ValidationError,
    from_http,
)
from clients.options import DEFAULT_TIMEOUT, TLS, Keepalive, Retry
from clients.types import (
    ClassifyResult,
    ModelMetadata,
    ModelVersionStatus,
    SignatureSpec,
)
from clients.validation import name_inputs, validate_inputs

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python 3.11+; the clients support 3.10

__all__ = ["AsyncRestClient", "RestClient"]

GRPC_ONLY = ("multi_inference", "reload_config")


def model_path(model: str, version: int | None = None, label: str | None = None) -> str:
    """``/v1/models/<name>[/versions/<v>|/labels/<l>]`` with the name and label percent-encoded."""
    _wire.check_target(model, version, label)
    path = f"/v1/models/{quote(model, safe='')}"
    if version is not None:
        if int(version) < 0:
            raise ValidationError(f"version: the REST API only addresses versions >= 0, got {version}")
        path += f"/versions/{int(version)}"
    elif label is not None:
        path += f"/labels/{quote(label, safe='')}"
    return path


def _base_url(base_url: str, tls: TLS | None) -> str:
    if "://" not in base_url:
        base_url = ("https://" if tls is not None else "http://") + base_url
    scheme = base_url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise ValidationError(f"base_url: expected an http:// or https:// URL, got {base_url!r}")
    if scheme == "http" and tls is not None:
        raise ValidationError(f"base_url {base_url!r} is plaintext http:// but tls= was given; use https://")
    return base_url.rstrip("/")


def _map_transport_error(exc: httpx.HTTPError, what: str) -> TfsError:
    if isinstance(exc, httpx.TimeoutException):
        return DeadlineExceededError(f"{what}: {type(exc).__name__}: {exc}", code="DEADLINE_EXCEEDED")
    return UnavailableError(f"{what}: {type(exc).__name__}: {exc}", code="UNAVAILABLE")


class _RestBase(ClientCore):
    """Configuration, URL and body building shared by the sync and async REST clients."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        tls: TLS | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        keepalive: Keepalive | None = None,
        validate: bool = False,
        row_format: bool = False,
        max_connections: int = 10,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry, tls=tls, headers=headers, keepalive=keepalive, validate=validate)
        self.endpoint = _base_url(base_url, tls)
        self.row_format = row_format
        self.max_connections = max_connections
        self._verify: Any = tls.ssl_context() if tls is not None else True
        self._attach(transport)

    def _attach(self, transport: Any) -> None:
        """Open the HTTP connection pool over ``transport`` (None: the network); each I/O class its own kind."""
        raise NotImplementedError

    def _pool_options(self) -> dict[str, Any]:
        return {"verify": self._verify, "headers": self.headers, "max_connections": self.max_connections,
                "idle_seconds": self.keepalive.idle}

    @property
    def base_url(self) -> str:
        """The server's URL (``http[s]://host:port``); the same as ``endpoint``."""
        return self.endpoint

    def _attempts_for(self, call: Call) -> int:
        return self.retry.attempts_for(call.idempotent)

    def _labels(self, call: Call) -> tuple[str, str]:
        return call.path, f"{call.method} {call.path}"

    def _predict_body(self, inputs: Any, signature: SignatureSpec | None, sig_name: str | None) -> bytes:
        payload = inputs
        if self.validate and signature is not None:
            payload = validate_inputs(name_inputs(inputs, signature), signature)
        return json_codec.encode_predict_request(payload, signature=sig_name, row_format=self.row_format)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    # ------------------------------------------------------------------------------------------------ call plans
    def _predict_plan(
        self, inputs: Any, model: str, version: int | None, label: str | None, signature: str | None,
        output_filter: Sequence[str] | None, timeout: Any,
    ) -> Plan[dict[str, np.ndarray]]:
        path = model_path(model, version, label) + ":predict"
        spec = yield from self._signature_plan(model, version, label, signature, required=self.validate)
        body = self._predict_body(inputs, spec, signature)
        content = yield Call("POST", body, path, idempotent=False, timeout=timeout)
        return json_codec.decode_predict_response(content, spec, output_filter)

    def _examples_call(
        self, verb: str, examples: Sequence[Mapping[str, Any]], model: str, version: int | None, label: str | None,
        signature: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Call:
        body = json_codec.encode_examples_request(_examples(examples), signature=signature, context=context)
        return Call("POST", body, model_path(model, version, label) + verb, idempotent=False, timeout=timeout)

    def _classify_plan(
        self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None, label: str | None,
        signature: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Plan[ClassifyResult]:
        call = self._examples_call(":classify", examples, model, version, label, signature, context, timeout)
        return json_codec.decode_classify_response((yield call))

    def _regress_plan(
        self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None, label: str | None,
        signature: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Plan[np.ndarray]:
        call = self._examples_call(":regress", examples, model, version, label, signature, context, timeout)
        return json_codec.decode_regress_response((yield call))

    def _metadata_call(self, model: str, version: int | None, label: str | None, timeout: Any) -> Call:
        return Call("GET", None, model_path(model, version, label) + "/metadata", idempotent=True, timeout=timeout)

    def _metadata_result(self, response: Any, model: str) -> ModelMetadata:
        return json_codec.decode_metadata(response, model)

    def _status_plan(
        self, model: str, version: int | None, label: str | None, timeout: Any
    ) -> Plan[list[ModelVersionStatus]]:
        content = yield Call("GET", None, model_path(model, version, label), idempotent=True, timeout=timeout)
        return json_codec.decode_status(content)

    if not TYPE_CHECKING:  # hidden from mypy, which then reports these calls on a REST client statically

        def __getattr__(self, name: str) -> Any:
            """``multi_inference`` / ``reload_config`` exist in TF Serving's gRPC API only: asking a REST client
            for them raises UnsupportedOperationError (also an AttributeError, so ``hasattr`` stays False)."""
            if name in GRPC_ONLY:
                raise UnsupportedOperationError(
                    f"{name}: TF Serving offers it over gRPC only, not REST; use GrpcClient/AsyncGrpcClient",
                    code="UNIMPLEMENTED",
                )
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class RestClient(SyncApi, _RestBase):
    """Synchronous TF Serving client over the REST API. numpy in, ``dict[str, np.ndarray]`` out.

    ``row_format=True`` sends ``instances`` instead of columnar ``inputs``. ``transport``: an httpx transport to
    use instead of the network (e.g. ``clients.testing.FakeServer.rest_transport()`` or ``httpx.MockTransport``).
    """

    def _attach(self, transport: Any) -> None:
        self._http: Http1Pool | HttpxPool = (
            Http1Pool(self.endpoint, **self._pool_options()) if transport is None
            else HttpxPool(self.endpoint, self.headers, transport)
        )

    # ------------------------------------------------------------------------------------------------ I/O
    def _attempt(self, call: Call, remaining: Timeout) -> bytes:
        try:
            status, content = self._http.request(call.method, call.path, call.request, remaining)
        except httpx.HTTPError as exc:
            raise _map_transport_error(exc, f"{call.method} {call.path}") from None
        if status != 200:
            raise from_http(status, content)
        return content

    # ------------------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _examples(examples: Any) -> Sequence[Mapping[str, Any]]:
    if isinstance(examples, Mapping) or not isinstance(examples, Sequence):
        raise ValidationError(f"examples: expected a list of feature dicts, got {type(examples).__name__}")
    if not examples:
        raise ValidationError("examples: expected at least one example, got an empty list")
    for index, example in enumerate(examples):
        if not isinstance(example, Mapping):
            raise ValidationError(f"examples[{index}]: expected a dict of features, got {type(example).__name__}")
    return examples


class AsyncRestClient(AsyncApi, _RestBase):
    """The same API as RestClient over asyncio: every method is a coroutine."""

    def _attach(self, transport: Any) -> None:
        self._http: AsyncHttp1Pool | AsyncHttpxPool = (
            AsyncHttp1Pool(self.endpoint, **self._pool_options()) if transport is None
            else AsyncHttpxPool(self.endpoint, self.headers, transport)
        )

    # ------------------------------------------------------------------------------------------------ I/O
    async def _attempt(self, call: Call, remaining: Timeout) -> bytes:
        try:
            status, content = await self._http.request(call.method, call.path, call.request, remaining)
        except httpx.HTTPError as exc:
            raise _map_transport_error(exc, f"{call.method} {call.path}") from None
        if status != 200:
            raise from_http(status, content)
        return content

    # ------------------------------------------------------------------------------------------------ lifecycle
    async def close(self) -> None:
        """Close the connection pool (idempotent)."""
        await self._http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
