"""An in-process test double of TF Serving, for unit-testing code that uses the clients without a server.

    server = FakeServer()
    server.add_signature("half", lambda x: {"y": x["x"] * 0.5 + 2},
                         inputs={"x": (np.float32, (None, 1))}, outputs={"y": (np.float32, (None, 1))})
    client = server.grpc_client()          # or rest_client(), async_grpc_client(), async_rest_client()
    client.predict({"x": np.ones((2, 1), np.float32)}, "half")   # {"y": array([[2.5], [2.5]])}
    server.calls[-1].inputs                # what the code under test sent

It answers through the real client code paths: gRPC calls go through a fake channel that serializes the wire
messages, REST calls through an ``httpx.MockTransport`` that parses and writes TF Serving's JSON. Errors use TF
Serving's codes, HTTP statuses and messages (unknown model -> NOT_FOUND/404, unknown label -> 400, ...).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np

from clients import _wire, json_codec
from clients._proto import example_pb2, serving_pb2, tensor_pb2
from clients.codec import decode_tensor, dtype_name_for, encode_tensor
from clients.errors import CODE_NUMBERS, http_status
from clients.types import DEFAULT_SIGNATURE, SignatureSpec, TensorSpec

__all__ = ["FakeServer", "FakeCall"]

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

SpecLike = TensorSpec | tuple[Any, Sequence[int | None] | None]


class _Status(Exception):
    """A TF-Serving-style failure inside the fake: status code name and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FakeCall:
    """One request the fake received: method (``predict``, ``classify``, ...), protocol and arguments."""

    method: str
    protocol: str
    model: str
    version: int | None = None
    label: str | None = None
    signature: str = ""
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    examples: list[dict[str, list]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Signature:
    spec: SignatureSpec
    fn: Callable[..., Any]


@dataclass
class _Version:
    signatures: dict[str, _Signature] = field(default_factory=dict)
    state: str = "AVAILABLE"
    error_code: str = "OK"
    error_message: str = ""


def _spec(alias: str, value: SpecLike) -> TensorSpec:
    if isinstance(value, TensorSpec):
        return value
    dtype, shape = value
    if isinstance(dtype, str) and dtype.startswith("DT_"):
        dtype_name = dtype
    elif dtype in (bytes, str, object):
        dtype_name = "DT_STRING"
    else:
        dtype_name = dtype_name_for(np.dtype(dtype))
    return TensorSpec(alias, dtype_name, None if shape is None else tuple(shape), f"{alias}:0")


class FakeServer:
    """In-process TF Serving double: register signatures with Python callables, then talk to it with any client."""

    def __init__(self) -> None:
        self._models: dict[str, dict[int, _Version]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._failures: list[tuple[str | None, str, str, int]] = []
        self._lock = threading.Lock()
        self.calls: list[FakeCall] = []

    # ------------------------------------------------------------------------------------------- configuration
    def add_signature(
        self,
        model: str,
        fn: Callable[[dict[str, np.ndarray]], Mapping[str, Any]],
        *,
        inputs: Mapping[str, SpecLike],
        outputs: Mapping[str, SpecLike] | None = None,
        version: int = 1,
        name: str = DEFAULT_SIGNATURE,
    ) -> FakeServer:
        """Add a predict signature: ``fn(dict of input arrays) -> dict of output arrays``.

        Specs are ``TensorSpec`` or ``(dtype, shape)`` with None for unknown dims, e.g. ``(np.float32, (None, 3))``.
        """
        spec = SignatureSpec(
            name, PREDICT,
            {a: _spec(a, s) for a, s in inputs.items()},
            {a: _spec(a, s) for a, s in (outputs or {}).items()},
        )
        self._version(model, version).signatures[name] = _Signature(spec, fn)
        return self

    def add_classifier(
        self,
        model: str,
        fn: Callable[[list[dict[str, list]]], Sequence[Sequence[tuple[str, float]]]],
        *,
        version: int = 1,
        name: str = DEFAULT_SIGNATURE,
    ) -> FakeServer:
        """Add a classify signature: ``fn(examples as dicts of value lists) -> per-example (label, score) lists``."""
        spec = SignatureSpec(
            name, CLASSIFY,
            {"inputs": TensorSpec("inputs", "DT_STRING", None, "tf_example:0")},
            {"classes": TensorSpec("classes", "DT_STRING", (None, None)),
             "scores": TensorSpec("scores", "DT_FLOAT", (None, None))},
        )
        self._version(model, version).signatures[name] = _Signature(spec, fn)
        return self

    def add_regressor(
        self,
        model: str,
        fn: Callable[[list[dict[str, list]]], Sequence[float]],
        *,
        version: int = 1,
        name: str = DEFAULT_SIGNATURE,
    ) -> FakeServer:
        """Add a regress signature: ``fn(examples as dicts of value lists) -> one float per example``."""
        spec = SignatureSpec(
            name, REGRESS,
            {"inputs": TensorSpec("inputs", "DT_STRING", None, "tf_example:0")},
            {"outputs": TensorSpec("outputs", "DT_FLOAT", (None, 1))},
        )
        self._version(model, version).signatures[name] = _Signature(spec, fn)
        return self

    def set_labels(self, model: str, labels: Mapping[str, int]) -> FakeServer:
        """Point version labels (``{"stable": 1, "canary": 2}``) at versions of ``model``."""
        self._labels[model] = dict(labels)
        return self

    def set_state(
        self, model: str, version: int, state: str, *, error_code: str = "OK", error_message: str = ""
    ) -> FakeServer:
        """Set a version's state (LOADING, AVAILABLE, END, ...); only AVAILABLE versions answer requests."""
        entry = self._version(model, version)
        entry.state, entry.error_code, entry.error_message = state, error_code, error_message
        return self

    def fail(self, code: str, message: str, *, method: str | None = None, times: int = 1) -> FakeServer:
        """Make the next ``times`` calls (of ``method`` such as ``"predict"``, or any) fail with this status."""
        if code not in CODE_NUMBERS:
            raise ValueError(f"code: expected a status name like 'UNAVAILABLE', got {code!r}")
        self._failures.append((method, code, message, times))
        return self

    def _version(self, model: str, version: int) -> _Version:
        return self._models.setdefault(model, {}).setdefault(int(version), _Version())

    # ------------------------------------------------------------------------------------------- clients
    def grpc_channel(self) -> _FakeChannel:
        """A stand-in for ``grpc.Channel`` to pass as ``GrpcClient(..., channel=...)``."""
        return _FakeChannel(self, asynchronous=False)

    def async_grpc_channel(self) -> _FakeChannel:
        """A stand-in for ``grpc.aio.Channel`` to pass as ``AsyncGrpcClient(..., channel=...)``."""
        return _FakeChannel(self, asynchronous=True)

    def rest_transport(self) -> httpx.MockTransport:
        """An httpx transport (sync and async) to pass as ``RestClient(..., transport=...)``."""
        return httpx.MockTransport(self._handle_http)

    def grpc_client(self, **options: Any):
        from clients.grpc_client import GrpcClient

        return GrpcClient("fake:8500", channel=self.grpc_channel(), **options)

    def async_grpc_client(self, **options: Any):
        from clients.grpc_client import AsyncGrpcClient

        return AsyncGrpcClient("fake:8500", channel=self.async_grpc_channel(), **options)

    def rest_client(self, **options: Any):
        from clients.rest_client import RestClient

        return RestClient("http://fake:8501", transport=self.rest_transport(), **options)

    def async_rest_client(self, **options: Any):
        from clients.rest_client import AsyncRestClient

        return AsyncRestClient("http://fake:8501", transport=self.rest_transport(), **options)

    # ------------------------------------------------------------------------------------------- core
    def _record(self, call: FakeCall) -> None:
        with self._lock:
            self.calls.append(call)
            for index, (method, code, message, times) in enumerate(self._failures):
                if method is None or method == call.method:
                    if times <= 1:
                        del self._failures[index]
                    else:
                        self._failures[index] = (method, code, message, times - 1)
                    raise _Status(code, message)

    def _resolve(self, model: str, version: int | None, label: str | None) -> _Version:
        if not model:
            raise _Status("INVALID_ARGUMENT", "ModelSpec has no name specified.")
        versions = self._models.get(model, {})
        if label is not None:
            if label not in self._labels.get(model, {}):
                raise _Status("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = self._labels[model][label]
        if version is not None:
            entry = versions.get(int(version))
            if entry is None or entry.state != "AVAILABLE":
                raise _Status("NOT_FOUND", f"Servable not found for request: Specific({model}, {version})")
            return entry
        available = [v for v, e in versions.items() if e.state == "AVAILABLE"]
        if not available:
            raise _Status("NOT_FOUND", f"Servable not found for request: Latest({model})")
        return versions[max(available)]

    def _version_number(self, model: str, version: int | None, label: str | None) -> int:
        if label is not None:
            return self._labels[model][label]
        if version is not None:
            return int(version)
        return max(v for v, e in self._models[model].items() if e.state == "AVAILABLE")

    def _predict(self, call: FakeCall, output_filter: Sequence[str] = ()) -> tuple[int, dict[str, np.ndarray]]:
        entry = self._resolve(call.model, call.version, call.label)
        signature = self._signature(entry, call.signature, PREDICT, call.protocol)
        wanted, sent = set(signature.spec.inputs), set(call.inputs)
        if len(sent) != len(wanted):
            raise _Status(
                "INVALID_ARGUMENT",
                f"input size does not match signature: {len(sent)}!={len(wanted)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
                f"Missing but required: {{{','.join(sorted(wanted - sent))}}}.",
            )
        missing = sorted(wanted - sent)  # as many inputs as wanted, but other names
        if missing:
            alias = missing[0]
            raise _Status(
                "INVALID_ARGUMENT",
                f"Signature input alias: {alias}(feed name: {signature.spec.inputs[alias].tensor_name}) not found "
                f"in request and no default value provided. Inputs expected to be in the request "
                f"{{{','.join(sorted(sent))}}}, or default input alias set: ",
            )
        for name, array in call.inputs.items():
            expected = signature.spec.inputs[name].dtype
            if expected is not None and array.dtype != expected and not (expected.kind == "O" and array.dtype.kind == "O"):
                raise _Status("INVALID_ARGUMENT", f"Expects arg {name} to be {expected} but {array.dtype} is provided")
        outputs = {k: np.asarray(v) for k, v in dict(signature.fn(dict(call.inputs))).items()}
        for name in output_filter:
            if name not in outputs:
                raise _Status(
                    "INVALID_ARGUMENT",
                    f"output tensor alias not found in signature: {name} Outputs expected to be in the set "
                    f"{{{','.join(sorted(outputs))}}}.",
                )
        if output_filter:
            outputs = {k: outputs[k] for k in output_filter}
        return self._version_number(call.model, call.version, call.label), outputs

    def _signature(self, entry: _Version, name: str, method: str, protocol: str) -> _Signature:
        key = name or DEFAULT_SIGNATURE
        found = entry.signatures.get(key)
        if found is None or found.spec.method_name != method:
            if method != PREDICT:
                raise _Status("INVALID_ARGUMENT", f"No signature was found with the name: {key}")
            if protocol == "REST":
                raise _Status("INVALID_ARGUMENT", f'Serving signature name: "{key}" not found in signature def')
            raise _Status("FAILED_PRECONDITION", f'Serving signature key "{key}" not found.')
        return found

    def _examples(self, call: FakeCall, method: str) -> tuple[int, Any]:
        entry = self._resolve(call.model, call.version, call.label)
        signature = self._signature(entry, call.signature, method, call.protocol)
        if not call.examples:
            raise _Status("INVALID_ARGUMENT", "Input is empty.")
        return self._version_number(call.model, call.version, call.label), signature.fn(call.examples)

    def _status(self, model: str, version: int | None) -> list[tuple[int, _Version]]:
        versions = self._models.get(model)
        if not versions:
            raise _Status("NOT_FOUND", f"Could not find any versions of model {model}")
        if version is not None:
            if int(version) not in versions:
                raise _Status("NOT_FOUND", f"Could not find version {version} of model {model}")
            return [(int(version), versions[int(version)])]
        return sorted(versions.items(), reverse=True)

    # ------------------------------------------------------------------------------------------- gRPC side
    def _handle_grpc(self, path: str, payload: bytes, metadata: Any) -> bytes:
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
        if method == "Predict":
            call.inputs = {k: decode_tensor(v) for k, v in request.inputs.items()}
            self._record(call)
            served, outputs = self._predict(call, list(request.output_filter))
            response = serving_pb2.PredictResponse()
            for name, value in outputs.items():
                encode_tensor(value, name, response.outputs[name])
            self._echo_spec(response.model_spec, call, served)
        elif method in ("Classify", "Regress"):
            call.examples = _examples_from_input(request.input)
            self._record(call)
            kind = CLASSIFY if method == "Classify" else REGRESS
            served, result = self._examples(call, kind)
            response = serving_pb2.ClassificationResponse() if method == "Classify" else serving_pb2.RegressionResponse()
            _fill_result(response.result, kind, result)
            self._echo_spec(response.model_spec, call, served)
        elif method == "MultiInference":
            call.examples = _examples_from_input(request.input)
            self._record(call)
            response = serving_pb2.MultiInferenceResponse()
            for task in request.tasks:
                call.signature = task.model_spec.signature_name
                kind = task.method_name
                if kind not in (CLASSIFY, REGRESS):
                    raise _Status("UNIMPLEMENTED", f"Unsupported signature method_name: {kind}")
                served, result = self._examples(call, kind)
                item = response.results.add()
                self._echo_spec(item.model_spec, call, served)
                _fill_result(item.classification_result if kind == CLASSIFY else item.regression_result, kind, result)
        elif method == "GetModelMetadata":
            self._record(call)
            entry = self._resolve(call.model, call.version, call.label)
            response = serving_pb2.GetModelMetadataResponse()
            response.model_spec.name = call.model
            response.model_spec.version.value = self._version_number(call.model, call.version, call.label)
            defs = serving_pb2.SignatureDefMap()
            for name, sig in entry.signatures.items():
                _fill_signature_def(defs.signature_def[name], sig.spec)
            packed = response.metadata["signature_def"]
            packed.type_url = _wire.SIGNATURE_DEF_MAP_TYPE_URLS[0]
            packed.value = defs.SerializeToString(deterministic=True)
        elif method == "GetModelStatus":
            self._record(call)
            response = serving_pb2.GetModelStatusResponse()
            for number, entry in self._status(call.model, call.version):
                item = response.model_version_status.add()
                item.version = number
                item.state = serving_pb2.ModelVersionStatus.State.Value(entry.state)
                item.status.error_code = serving_pb2.ErrorCode.Value(entry.error_code)
                item.status.error_message = entry.error_message
        else:
            self._record(call)
            raise _Status("UNIMPLEMENTED", "FakeServer does not implement HandleReloadConfigRequest")
        return response.SerializeToString()

    @staticmethod
    def _echo_spec(spec: serving_pb2.ModelSpec, call: FakeCall, served: int) -> None:
        spec.name = call.model
        spec.version.value = served
        spec.signature_name = call.signature or DEFAULT_SIGNATURE

    # ------------------------------------------------------------------------------------------- REST side
    _POST = re.compile(r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
    _GET = re.compile(r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?")

    def _handle_http(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii")
        try:
            body = self._route(request, path)
            return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        except _Status as status:
            payload = json.dumps({"error": status.message}, indent=4).encode("utf-8")
            return httpx.Response(http_status(status.code), content=payload, headers={"Content-Type": "application/json"})

    def _route(self, request: httpx.Request, path: str) -> bytes:
        headers = dict(request.headers)
        if request.method == "POST":
            match = self._POST.fullmatch(path)
            if not match:
                raise _Status("INVALID_ARGUMENT", f"Malformed request: POST {path}")
            model, version, label, verb = match.groups()
            try:
                document = json_codec.loads(request.content)
            except Exception:
                raise _Status("INVALID_ARGUMENT", "JSON Parse error: Invalid value. at offset: 0") from None
            if not isinstance(document, dict):
                raise _Status("INVALID_ARGUMENT", f"JSON Value: {request.content[:256]!r} Is not object")
            call = FakeCall(verb, "REST", unquote(model), int(version) if version else None,
                            unquote(label) if label else None, document.get("signature_name", ""), headers=headers)
            if verb == "predict":
                return self._rest_predict(call, document)
            if "examples" not in document:
                raise _Status("INVALID_ARGUMENT", "JSON Value: {...} When method is classify, key 'examples' is expected and was not found")
            call.examples = [_json_features(e) for e in document["examples"]]
            if document.get("context"):
                context = _json_features(document["context"])
                call.examples = [{**context, **e} for e in call.examples]
            self._record(call)
            _, result = self._examples(call, CLASSIFY if verb == "classify" else REGRESS)
            if verb == "classify":
                return json.dumps({"results": [[[l, float(s)] for l, s in ex] for ex in result]}).encode()
            return json.dumps({"results": [float(v) for v in result]}, allow_nan=True).encode()
        if request.method == "GET":
            match = self._GET.fullmatch(path)
            if not match:
                raise _Status("INVALID_ARGUMENT", f"Malformed request: GET {path}")
            model, version, label, metadata = match.groups()
            if not model:
                raise _Status("INVALID_ARGUMENT", "Missing model name in request.")
            call = FakeCall("metadata" if metadata else "status", "REST", unquote(model),
                            int(version) if version else None, unquote(label) if label else None, headers=headers)
            self._record(call)
            if metadata:
                entry = self._resolve(call.model, call.version, call.label)
                return json.dumps({
                    "model_spec": {"name": call.model, "signature_name": "",
                                   "version": str(self._version_number(call.model, call.version, call.label))},
                    "metadata": {"signature_def": {"signature_def": {
                        name: _signature_json(sig.spec) for name, sig in entry.signatures.items()}}},
                }).encode()
            return json.dumps({"model_version_status": [
                {"version": str(n), "state": e.state,
                 "status": {"error_code": e.error_code, "error_message": e.error_message}}
                for n, e in self._status(call.model, call.version)
            ]}).encode()
        raise _Status("INVALID_ARGUMENT", f"Malformed request: {request.method} {path}")

    def _rest_predict(self, call: FakeCall, document: dict) -> bytes:
        if ("inputs" in document) == ("instances" in document):
            raise _Status("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")
        entry = self._resolve(call.model, call.version, call.label)
        spec = self._signature(entry, call.signature, PREDICT, "REST").spec
        row = "instances" in document
        value = document["instances" if row else "inputs"]
        names = list(spec.inputs)
        if row:
            if not isinstance(value, list) or not value:
                raise _Status("INVALID_ARGUMENT", "Expecting 'instances' to be an list/array")
            if isinstance(value[0], dict) and not _is_b64(value[0]):
                columns = {n: [item.get(n) for item in value] for n in value[0]}
            else:
                columns = {names[0]: value}
        elif isinstance(value, dict) and not _is_b64(value):
            columns = {n: v for n, v in value.items() if n in spec.inputs}
            missing = [n for n in names if n not in value]
            if missing:
                raise _Status("INVALID_ARGUMENT", f"Missing named input: {missing[0]} in 'inputs' object.")
        else:
            if len(names) != 1:
                raise _Status("INVALID_ARGUMENT", "inputs is a plain value/list, but expecting an object as multiple "
                              "input tensors required as per tensorinfo_map")
            columns = {names[0]: value}
        call.inputs = {n: _json_tensor(v, spec.inputs.get(n)) for n, v in columns.items()}
        self._record(call)
        _, outputs = self._predict(call)
        if row:
            if len(outputs) == 1:
                (name, array), = outputs.items()
                payload: Any = [_json_out(name, a) for a in array]
            else:
                batch = len(next(iter(outputs.values())))
                payload = [{n: _json_out(n, a[i]) for n, a in outputs.items()} for i in range(batch)]
            return json.dumps({"predictions": payload}, allow_nan=True).encode()
        if len(outputs) == 1:
            (name, array), = outputs.items()
            payload = _json_out(name, array)
        else:
            payload = {n: _json_out(n, a) for n, a in outputs.items()}
        return json.dumps({"outputs": payload}, allow_nan=True).encode()


# ------------------------------------------------------------------------------------------------- fake channel
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
        self, path: str, request_serializer: Callable | None = None, response_deserializer: Callable | None = None, **_: Any
    ):
        server = self._server
        serialize = request_serializer or (lambda request: request)
        deserialize = response_deserializer or (lambda payload: payload)

        def invoke(request: Any, timeout: float | None = None, metadata: Any = None, **__: Any) -> Any:
            if self.closed:
                raise _rpc_error(_Status("CANCELLED", "Channel closed"))
            try:
                return deserialize(server._handle_grpc(path, serialize(request), metadata))
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
def _examples_from_input(request_input: serving_pb2.Input) -> list[dict[str, list]]:
    kind = request_input.WhichOneof("kind")
    if kind is None:
        return []
    holder = getattr(request_input, kind)
    context = _features(holder.context) if kind == "example_list_with_context" else {}
    return [{**context, **_features(example)} for example in holder.examples]


def _features(example: example_pb2.Example) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = list(getattr(feature, kind).value) if kind else []
    return out


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _json_features(document: Any) -> dict[str, list]:
    if not isinstance(document, dict):
        raise _Status("INVALID_ARGUMENT", f"Example must be JSON object but got JSON {type(document).__name__}")
    out = {}
    for name, value in document.items():
        values = value if isinstance(value, list) else [value]
        converted = []
        for item in values:
            if _is_b64(item):
                converted.append(base64.b64decode(item["b64"]))
            elif isinstance(item, str):
                converted.append(item.encode("utf-8"))
            elif isinstance(item, float):
                converted.append(float(np.float32(item)))
            else:
                converted.append(int(item))
        out[name] = converted
    return out


def _json_tensor(value: Any, spec: TensorSpec | None) -> np.ndarray:
    dtype = spec.dtype if spec is not None else None
    if dtype is not None and dtype.kind == "O":
        def leaf(item: Any) -> Any:
            if isinstance(item, list):
                return [leaf(x) for x in item]
            return base64.b64decode(item["b64"]) if _is_b64(item) else str(item).encode("utf-8")

        converted = leaf(value)
        out = np.empty(np.shape(np.array(converted, dtype=object)), dtype=object)
        out[...] = np.array(converted, dtype=object)
        return out
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise _Status("INVALID_ARGUMENT", f"JSON Value: {str(value)[:256]} is not of expected type: {dtype}: {exc}") from None


def _json_out(name: str, array: Any) -> Any:
    array = np.asarray(array)
    if array.dtype.kind in "OSU":
        def leaf(item: Any) -> Any:
            if isinstance(item, list):
                return [leaf(x) for x in item]
            raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(raw).decode("ascii")}
            return raw.decode("utf-8", errors="replace")

        return leaf(array.tolist())
    if array.dtype.kind == "c" or array.dtype.name in ("float16", "bfloat16"):
        raise _Status("INVALID_ARGUMENT", f"Failed to write JSON value for tensor type: {array.dtype.name}")
    return array.tolist()


def _fill_result(target: Any, kind: str, result: Any) -> None:
    if kind == CLASSIFY:
        for example in result:
            item = target.classifications.add()
            for label, score in example:
                entry = item.classes.add()
                entry.label, entry.score = label, float(score)
    else:
        for value in result:
            target.regressions.add().value = float(value)


def _fill_signature_def(target: serving_pb2.SignatureDef, spec: SignatureSpec) -> None:
    target.method_name = spec.method_name
    for group, specs in ((target.inputs, spec.inputs), (target.outputs, spec.outputs)):
        for alias, tensor in specs.items():
            info = group[alias]
            info.name = tensor.tensor_name or f"{alias}:0"
            info.dtype = tensor_pb2.DataType.Value(tensor.dtype_name)
            if tensor.shape is None:
                info.tensor_shape.unknown_rank = True
            else:
                for size in tensor.shape:
                    info.tensor_shape.dim.add().size = -1 if size is None else size


def _signature_json(spec: SignatureSpec) -> dict:
    def info(tensor: TensorSpec) -> dict:
        dims = [] if tensor.shape is None else [{"size": str(-1 if d is None else d), "name": ""} for d in tensor.shape]
        return {"dtype": tensor.dtype_name, "tensor_shape": {"dim": dims, "unknown_rank": tensor.shape is None},
                "name": tensor.tensor_name or f"{tensor.name}:0"}

    return {
        "inputs": {a: info(t) for a, t in spec.inputs.items()},
        "outputs": {a: info(t) for a, t in spec.outputs.items()},
        "method_name": spec.method_name,
        "defaults": {},
    }
