"""gRPC clients for TF Serving: ``GrpcClient`` (sync) and ``AsyncGrpcClient`` (grpc.aio), one API.

One channel per client (connection reuse), message limits raised to TF Serving's 2 GiB, keepalive, a bounded
reconnect backoff (``Reconnect``), TLS, extra metadata, retries with backoff for idempotent calls that wait for the
channel to reconnect. Method paths are TF Serving's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np

from clients import _wire
from clients._api import AsyncGrpcApi, SyncGrpcApi
from clients._base import (
    Call,
    ClientCore,
    Plan,
    Timeout,
)
from clients.errors import (
    DeadlineExceededError,
    ResponseDecodeError,
    TfsError,
    UnavailableError,
    ValidationError,
    from_status,
)
from clients.examples import build_input
from clients.options import (
    DEFAULT_TIMEOUT,
    MAX_MESSAGE_LENGTH,
    TLS,
    Keepalive,
    Reconnect,
    Retry,
)
from clients.types import (
    ClassifyResult,
    ModelMetadata,
    ModelVersionStatus,
    SignatureSpec,
)
from clients.validation import (
    coerce_plain_values,
    has_plain_values,
    name_inputs,
    validate_inputs,
)

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python 3.11+; the clients support 3.10

__all__ = ["AsyncGrpcClient", "GrpcClient", "map_rpc_error"]

_IDEMPOTENT = {"GetModelMetadata": True, "GetModelStatus": True}
# gRPC name-resolver schemes passed through as given (TF Serving also listens on --grpc_socket_path).
_GRPC_SCHEMES = {"unix", "unix-abstract", "dns", "ipv4", "ipv6", "vsock"}


def map_rpc_error(error: grpc.RpcError) -> TfsError:
    """Turn a grpc.RpcError into the matching clients.errors class, keeping code name, number and message."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else None
    if code is None:
        return UnavailableError(str(error), code="UNAVAILABLE")
    return from_status(int(code.value[0]), details or code.value[1])


def _split_target(target: str, tls: TLS | None) -> tuple[str, TLS | None]:
    if target.startswith("grpcs://"):
        return target[len("grpcs://") :], tls or TLS()
    if target.startswith("grpc://"):
        if tls is not None:
            raise ValidationError(f"target {target!r}: grpc:// is plaintext but tls= was given; use grpcs://")
        return target[len("grpc://") :], None
    scheme = target.split(":", 1)[0].lower() if "://" in target else ""
    if scheme and scheme not in _GRPC_SCHEMES:
        raise ValidationError(
            f"target: expected 'host:port', 'grpc://host:port', 'grpcs://host:port' or a gRPC name such as "
            f"'unix:///path/to.sock', got {target!r}"
        )
    return target, tls


def _channel_options(
    keepalive: Keepalive, reconnect: Reconnect, tls: TLS | None, extra: Sequence[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_LENGTH),
        ("grpc.max_receive_message_length", MAX_MESSAGE_LENGTH),
        *keepalive.grpc_options(),
        *reconnect.grpc_options(),
    ]
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    overridden = {key for key, _ in extra}
    return [option for option in options if option[0] not in overridden] + list(extra)


def _credentials(tls: TLS) -> grpc.ChannelCredentials:
    ca, cert, key = tls.pem()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


class _GrpcBase(ClientCore):
    """Configuration and request building shared by the sync and async gRPC clients."""

    def __init__(
        self,
        target: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        tls: TLS | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        keepalive: Keepalive | None = None,
        reconnect: Reconnect | None = None,
        validate: bool = False,
        options: Sequence[tuple[str, Any]] = (),
        channel: Any = None,
    ) -> None:
        target, tls = _split_target(target, tls)
        super().__init__(timeout=timeout, retry=retry, tls=tls, headers=headers, keepalive=keepalive, validate=validate)
        self.endpoint = target
        self.reconnect = reconnect if reconnect is not None else Reconnect()
        self._metadata = tuple((key.lower(), value) for key, value in self.headers) or None
        self._options = _channel_options(self.keepalive, self.reconnect, tls, options)
        self._attach(channel)

    def _attach(self, channel: Any) -> None:
        """Use ``channel``, or open this client's own when it is None (each I/O class knows how and when)."""
        raise NotImplementedError

    @property
    def target(self) -> str:
        """The gRPC target (``host:port`` or a gRPC name); the same as ``endpoint``."""
        return self.endpoint

    def _reconnect_window(self, error: TfsError, deadline: float | None) -> float:
        """Seconds to wait for the channel to connect before a retry: only after UNAVAILABLE, and at most half of
        the time left, so the retried attempt still has time to run."""
        if not isinstance(error, UnavailableError):
            return 0.0
        window = self.retry.reconnect_wait
        if deadline is not None:
            window = min(window, (deadline - time.monotonic()) / 2)
        return max(window, 0.0)

    def _stubs(self, channel: Any) -> dict[str, Any]:
        # Responses come back as bytes and are parsed in _parse, so a malformed answer becomes a
        # ResponseDecodeError naming the message, not grpc's generic INTERNAL "Exception deserializing response!".
        return {
            name: channel.unary_unary(path, request_serializer=_wire.serialize, response_deserializer=None)
            for name, (path, _req, _resp) in _wire.METHODS.items()
        }

    @staticmethod
    def _parse(method: str, payload: bytes) -> Any:
        response_type = _wire.METHODS[method][2]
        try:
            return response_type.FromString(payload)
        except Exception as exc:  # noqa: BLE001  (protobuf's DecodeError, whichever implementation)
            raise ResponseDecodeError(
                f"{method}: server answer is not a valid {response_type.DESCRIPTOR.name} ({len(payload)} bytes): {exc}"
            ) from None

    def _attempts_for(self, call: Call) -> int:
        if call.method == "HandleReloadConfigRequest":
            return 1
        return self.retry.attempts_for(_IDEMPOTENT.get(call.method, False))

    def _labels(self, call: Call) -> tuple[str, str]:
        return call.method, call.method

    def _open_channel(self, grpc_module: Any) -> Any:
        """A channel of ``grpc`` or ``grpc.aio`` to the endpoint, with the client's TLS and options."""
        if self.tls is not None:
            return grpc_module.secure_channel(self.endpoint, _credentials(self.tls), options=self._options)
        return grpc_module.insecure_channel(self.endpoint, options=self._options)

    def _needs_signature(self, inputs: Any) -> bool:
        """The signature is needed to validate, to name a bare array, and to give plain lists the right dtype."""
        return self.validate or not isinstance(inputs, Mapping) or has_plain_values(inputs)

    def _signature_required(self, inputs: Any) -> bool:
        return self.validate or not isinstance(inputs, Mapping)

    def _prepare_inputs(self, inputs: Any, signature: SignatureSpec | None) -> dict[str, Any]:
        named = name_inputs(inputs, signature)
        if self.validate and signature is not None:
            return validate_inputs(named, signature)
        return coerce_plain_values(named, signature)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    # ------------------------------------------------------------------------------------------------ call plans
    def _predict_plan(
        self, inputs: Any, model: str, version: int | None, label: str | None, signature: str | None,
        output_filter: Sequence[str] | None, timeout: Any,
    ) -> Plan[dict[str, np.ndarray]]:
        _wire.check_target(model, version, label)
        spec = None
        if self._needs_signature(inputs):
            spec = yield from self._signature_plan(model, version, label, signature, self._signature_required(inputs))
        named = self._prepare_inputs(inputs, spec)
        request = _wire.predict_request_bytes(named, model, version, label, signature, output_filter)
        return _wire.predict_result((yield Call("Predict", request, timeout=timeout)))

    def _classify_plan(
        self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None, label: str | None,
        signature: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Plan[ClassifyResult]:
        from clients._proto import serving_pb2

        request = serving_pb2.ClassificationRequest()
        _wire.fill_model_spec(request.model_spec, model, version, label, signature)
        request.input.CopyFrom(build_input(examples, context))
        return _wire.classification_result((yield Call("Classify", request, timeout=timeout)).result)

    def _regress_plan(
        self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None, label: str | None,
        signature: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Plan[np.ndarray]:
        from clients._proto import serving_pb2

        request = serving_pb2.RegressionRequest()
        _wire.fill_model_spec(request.model_spec, model, version, label, signature)
        request.input.CopyFrom(build_input(examples, context))
        return _wire.regression_result((yield Call("Regress", request, timeout=timeout)).result)

    def _multi_inference_plan(
        self, examples: Sequence[Mapping[str, Any]], model: str, tasks: Mapping[str, str], version: int | None,
        label: str | None, context: Mapping[str, Any] | None, timeout: Any,
    ) -> Plan[dict[str, ClassifyResult | np.ndarray]]:
        request = _wire.multi_inference_request(build_input(examples, context), model, tasks, version, label)
        return _wire.multi_inference_result((yield Call("MultiInference", request, timeout=timeout)), tasks)

    def _metadata_call(self, model: str, version: int | None, label: str | None, timeout: Any) -> Call:
        from clients._proto import serving_pb2

        request = serving_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        _wire.fill_model_spec(request.model_spec, model, version, label)
        return Call("GetModelMetadata", request, timeout=timeout)

    def _metadata_result(self, response: Any, model: str) -> ModelMetadata:
        return _wire.metadata_result(response, model)

    def _status_plan(
        self, model: str, version: int | None, label: str | None, timeout: Any
    ) -> Plan[list[ModelVersionStatus]]:
        from clients._proto import serving_pb2

        request = serving_pb2.GetModelStatusRequest()
        _wire.fill_model_spec(request.model_spec, model, version, label)
        return _wire.status_result((yield Call("GetModelStatus", request, timeout=timeout)))

    def _reload_config_plan(self, config: Any, metric_names: Sequence[str], timeout: Any) -> Plan[dict[str, int]]:
        request = _wire.reload_config_request(config, metric_names)
        return _wire.reload_config_result((yield Call("HandleReloadConfigRequest", request, timeout=timeout)))


class GrpcClient(SyncGrpcApi, _GrpcBase):
    """Synchronous TF Serving client over gRPC. numpy in, ``dict[str, np.ndarray]`` out; no TensorFlow needed.

    ``reconnect``: the channel's reconnect backoff (default ``Reconnect()``: 0.1 s growing to at most 1 s, so the
    client uses a restarted server within about a second). ``channel``: use this channel instead of opening one
    (e.g. ``clients.testing.FakeServer.grpc_channel()``).
    """

    def _attach(self, channel: Any) -> None:
        self._channel = channel if channel is not None else self._open_channel(grpc)
        self._stub = self._stubs(self._channel)

    # ------------------------------------------------------------------------------------------------ I/O
    def _attempt(self, call: Call, remaining: Timeout) -> Any:
        try:
            return self._parse(call.method, self._stub[call.method](call.request, timeout=remaining,
                                                                    metadata=self._metadata))
        except grpc.RpcError as exc:
            raise map_rpc_error(exc) from None

    def _await_channel(self, window: float) -> None:
        """Wait up to ``window`` s for the channel to be READY (a reconnect after a restart); the next attempt
        reports what it finds either way."""
        if window <= 0 or not isinstance(self._channel, grpc.Channel):
            return
        try:
            grpc.channel_ready_future(self._channel).result(timeout=window)
        except grpc.FutureTimeoutError:
            pass

    # ------------------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the channel (idempotent)."""
        close = getattr(self._channel, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncGrpcClient(AsyncGrpcApi, _GrpcBase):
    """The same API as GrpcClient on ``grpc.aio``: every method is a coroutine."""

    def _attach(self, channel: Any) -> None:
        self._channel = channel
        self._stub: dict[str, Any] | None = self._stubs(channel) if channel is not None else None

    def _ensure_stub(self) -> dict[str, Any]:
        # grpc.aio channels bind to the running event loop, so the channel is opened on first use.
        if self._stub is None:
            self._channel = self._open_channel(grpc.aio)
            self._stub = self._stubs(self._channel)
        return self._stub

    # ------------------------------------------------------------------------------------------------ I/O
    async def _attempt(self, call: Call, remaining: Timeout) -> Any:
        stub = self._ensure_stub()
        try:
            payload = await stub[call.method](call.request, timeout=remaining, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc) from None
        except asyncio.TimeoutError:  # the builtin TimeoutError only from Python 3.11
            raise DeadlineExceededError(f"{call.method}: deadline exceeded", code="DEADLINE_EXCEEDED") from None
        return self._parse(call.method, payload)

    async def _await_channel(self, window: float) -> None:
        """Wait up to ``window`` s for the channel to be READY, as the sync client does."""
        ready = getattr(self._channel, "channel_ready", None)
        if window <= 0 or ready is None:
            return
        try:
            await asyncio.wait_for(ready(), timeout=window)
        except asyncio.TimeoutError:  # the builtin TimeoutError only from Python 3.11
            pass

    # ------------------------------------------------------------------------------------------------ lifecycle
    async def close(self) -> None:
        """Close the channel (idempotent)."""
        if self._channel is not None:
            result = self._channel.close()
            if asyncio.iscoroutine(result):
                await result

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
