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

import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from clients.errors import CODE_NUMBERS
from clients.testing._grpc import _FakeChannel
from clients.testing._model import (
    CLASSIFY,
    PREDICT,
    REGRESS,
    FakeCall,
    SpecLike,
    _Signature,
    _spec,
    _Status,
    _Version,
)
from clients.testing._rest import handle_http
from clients.types import DEFAULT_SIGNATURE, SignatureSpec, TensorSpec

if TYPE_CHECKING:
    from clients.grpc_client import AsyncGrpcClient, GrpcClient
    from clients.rest_client import AsyncRestClient, RestClient

__all__ = ["FakeCall", "FakeServer"]


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
        fn: Callable[[list[dict[str, list[Any]]]], Sequence[Sequence[tuple[str, float]]]],
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
        fn: Callable[[list[dict[str, list[Any]]]], Sequence[float]],
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
        return httpx.MockTransport(partial(handle_http, self))

    def grpc_client(self, **options: Any) -> GrpcClient:
        from clients.grpc_client import GrpcClient

        return GrpcClient("fake:8500", channel=self.grpc_channel(), **options)

    def async_grpc_client(self, **options: Any) -> AsyncGrpcClient:
        from clients.grpc_client import AsyncGrpcClient

        return AsyncGrpcClient("fake:8500", channel=self.async_grpc_channel(), **options)

    def rest_client(self, **options: Any) -> RestClient:
        from clients.rest_client import RestClient

        return RestClient("http://fake:8501", transport=self.rest_transport(), **options)

    def async_rest_client(self, **options: Any) -> AsyncRestClient:
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

