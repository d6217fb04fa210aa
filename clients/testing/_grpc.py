"""The fake's gRPC side: a duck-typed channel whose calls are answered by ``handle_grpc`` with TF Serving's
messages and status codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clients import _wire
from clients._proto import serving_pb2
from clients.codec import decode_tensor, encode_tensor
from clients.errors import CODE_NUMBERS
from clients.testing._convert import (
    _examples_from_input,
    _fill_result,
    _fill_signature_def,
)
from clients.testing._model import (
    CLASSIFY,
    REGRESS,
    FakeCall,
    _Status,
)
from clients.types import DEFAULT_SIGNATURE

if TYPE_CHECKING:
    from clients.testing import FakeServer


# The response messages, one by method.
_Response = (serving_pb2.PredictResponse | serving_pb2.ClassificationResponse | serving_pb2.RegressionResponse
             | serving_pb2.MultiInferenceResponse | serving_pb2.GetModelMetadataResponse
             | serving_pb2.GetModelStatusResponse)


def handle_grpc(server: FakeServer, path: str, payload: bytes, metadata: Any) -> bytes:
    headers = {k: v for k, v in (metadata or ())}
    method = path.rsplit("/", 1)[-1]
    if path not in {p for p, _, _ in _wire.METHODS.values()}:
        raise _Status("UNIMPLEMENTED", f"Method not found: {path}")
    _, request_type, _ = _wire.METHODS[method]
    request = request_type.FromString(payload)
    spec = request.tasks[0].model_spec if method == "MultiInference" and request.tasks else getattr(request, "model_spec", None)
    version = spec.version.value if spec is not None and spec.HasField("version") else None
    label = spec.version_label if spec is not None and spec.WhichOneof("version_choice") == "version_label" else None
    call = FakeCall(
        method={"Predict": "predict", "Classify": "classify", "Regress": "regress", "MultiInference": "multi_inference",
                "GetModelMetadata": "metadata", "GetModelStatus": "status",
                "HandleReloadConfigRequest": "reload_config"}[method],
        protocol="GRPC", model=spec.name if spec is not None else "", version=version, label=label,
        signature=spec.signature_name if spec is not None else "", headers=headers,
    )
    response: _Response
    if method == "Predict":
        call.inputs = {k: decode_tensor(v) for k, v in request.inputs.items()}
        server._record(call)
        served, outputs = server._predict(call, list(request.output_filter))
        response = serving_pb2.PredictResponse()
        for name, value in outputs.items():
            encode_tensor(value, name, response.outputs[name])
        _echo_spec(response.model_spec, call, served)
    elif method in ("Classify", "Regress"):
        call.examples = _examples_from_input(request.input)
        server._record(call)
        kind = CLASSIFY if method == "Classify" else REGRESS
        served, result = server._examples(call, kind)
        response = serving_pb2.ClassificationResponse() if method == "Classify" else serving_pb2.RegressionResponse()
        _fill_result(response.result, kind, result)
        _echo_spec(response.model_spec, call, served)
    elif method == "MultiInference":
        call.examples = _examples_from_input(request.input)
        server._record(call)
        response = serving_pb2.MultiInferenceResponse()
        for task in request.tasks:
            call.signature = task.model_spec.signature_name
            kind = task.method_name
            if kind not in (CLASSIFY, REGRESS):
                raise _Status("UNIMPLEMENTED", f"Unsupported signature method_name: {kind}")
            served, result = server._examples(call, kind)
            item = response.results.add()
            _echo_spec(item.model_spec, call, served)
            _fill_result(item.classification_result if kind == CLASSIFY else item.regression_result, kind, result)
    elif method == "GetModelMetadata":
        server._record(call)
        entry = server._resolve(call.model, call.version, call.label)
        response = serving_pb2.GetModelMetadataResponse()
        response.model_spec.name = call.model
        response.model_spec.version.value = server._version_number(call.model, call.version, call.label)
        defs = serving_pb2.SignatureDefMap()
        for name, sig in entry.signatures.items():
            _fill_signature_def(defs.signature_def[name], sig.spec)
        packed = response.metadata["signature_def"]
        packed.type_url = _wire.SIGNATURE_DEF_MAP_TYPE_URLS[0]
        packed.value = defs.SerializeToString(deterministic=True)
    elif method == "GetModelStatus":
        server._record(call)
        response = serving_pb2.GetModelStatusResponse()
        for number, entry in server._status(call.model, call.version):
            response.model_version_status.add(  # enum fields by name, as the message constructors take them
                version=number, state=entry.state,
                status={"error_code": entry.error_code, "error_message": entry.error_message},
            )
    else:
        server._record(call)
        raise _Status("UNIMPLEMENTED", "FakeServer does not implement HandleReloadConfigRequest")
    return response.SerializeToString()

def _echo_spec(spec: serving_pb2.ModelSpec, call: FakeCall, served: int) -> None:
    spec.name = call.model
    spec.version.value = served
    spec.signature_name = call.signature or DEFAULT_SIGNATURE


class _FakeRpcError(Exception):
    """Raised by the fake channel; a ``grpc.RpcError`` with ``code()`` and ``details()`` (set up lazily)."""


def _rpc_error(status: _Status) -> Exception:
    import grpc

    code = next(c for c in grpc.StatusCode if c.value[0] == CODE_NUMBERS[status.code])

    class FakeRpcError(grpc.RpcError, _FakeRpcError):
        def code(self) -> grpc.StatusCode:
            return code

        def details(self) -> str:
            return status.message

    return FakeRpcError(status.message)


class _FakeChannel:
    """Duck-types ``grpc.Channel`` / ``grpc.aio.Channel``: ``unary_unary(path, ...)`` and ``close()``."""

    def __init__(self, server: FakeServer, *, asynchronous: bool) -> None:
        self._server = server
        self._asynchronous = asynchronous
        self.closed = False

    def unary_unary(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        **_: Any,
    ) -> Callable[..., Any]:
        server = self._server
        serialize = request_serializer or (lambda request: request)
        deserialize = response_deserializer or (lambda payload: payload)

        def invoke(request: Any, timeout: float | None = None, metadata: Any = None, **__: Any) -> Any:
            if self.closed:
                raise _rpc_error(_Status("CANCELLED", "Channel closed"))
            try:
                return deserialize(handle_grpc(server, path, serialize(request), metadata))
            except _Status as status:
                raise _rpc_error(status) from None

        if not self._asynchronous:
            return invoke

        async def invoke_async(request: Any, timeout: float | None = None, metadata: Any = None, **kw: Any) -> Any:
            return invoke(request, timeout, metadata, **kw)

        return invoke_async

    def close(self, *_: Any) -> Any:
        self.closed = True
        if self._asynchronous:
            async def done() -> None:
                return None

            return done()
        return None


# ------------------------------------------------------------------------------------------------- helpers
