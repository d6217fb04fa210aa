"""Test double (tests only): an in-memory ``ServingCore`` driving the REST/gRPC front end without SavedModels.

It answers with official ``tensorflow_serving.apis`` messages and TF Serving's error codes and messages for
model/version/label/signature resolution, and records every request it receives (``calls``), so front-end tests
can check exactly what the protocol layer built. Servables are plain Python functions over numpy arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)
from tensorflow_serving.apis.get_model_status_pb2 import ModelVersionStatus

from toolkit.server.errors import Code, ServingError

PredictFn = Callable[[dict[str, np.ndarray]], Mapping[str, "np.ndarray | tensor_pb2.TensorProto"]]
ExamplesFn = Callable[[Any], Any]


def signature(
    inputs: Mapping[str, int],
    outputs: Mapping[str, int],
    method_name: str = "tensorflow/serving/predict",
    shapes: Mapping[str, list[int]] | None = None,
) -> meta_graph_pb2.SignatureDef:
    """A SignatureDef with the given alias -> dtype maps (shape ``[-1]`` unless given in ``shapes``)."""
    sig = meta_graph_pb2.SignatureDef(method_name=method_name)
    for target, specs in ((sig.inputs, inputs), (sig.outputs, outputs)):
        for alias, dtype in specs.items():
            info = target[alias]
            info.name = f"{alias}:0"
            info.dtype = dtype
            for size in (shapes or {}).get(alias, [-1]):
                info.tensor_shape.dim.add(size=size)
    return sig


@dataclass
class FakeServable:
    """One model version: its signatures and the functions that answer predict / classify / regress."""

    signatures: dict[str, meta_graph_pb2.SignatureDef]
    predict_fn: PredictFn | None = None
    classify_fn: ExamplesFn | None = None
    regress_fn: ExamplesFn | None = None
    state: int = ModelVersionStatus.AVAILABLE
    error: tuple[int, str] | None = None


@dataclass
class FakeCore:
    """``ServingCore`` over ``models[name][version] = FakeServable`` with ``labels[name][label] = version``."""

    models: dict[str, dict[int, FakeServable]] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    metrics: str = "# TYPE :tensorflow:serving:request_count counter\n"
    calls: list[tuple[str, Any, float | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------------------------------ resolution

    def _resolve(self, spec: model_pb2.ModelSpec) -> tuple[int, FakeServable]:
        if not spec.name:
            raise ServingError(Code.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        versions = self.models.get(spec.name, {})
        choice = spec.WhichOneof("version_choice")
        if choice == "version":
            number = spec.version.value
            servable = versions.get(number)
            if servable is None or servable.state != ModelVersionStatus.AVAILABLE:
                raise ServingError(Code.NOT_FOUND, f"Servable not found for request: Specific({spec.name}, {number})")
            return number, servable
        if choice == "version_label":
            label = spec.version_label
            number = self.labels.get(spec.name, {}).get(label)
            if number is None:
                raise ServingError(Code.INVALID_ARGUMENT, f"Unrecognized servable version label: {label}")
            return self._resolve(model_pb2.ModelSpec(name=spec.name, version={"value": number}))
        available = [v for v, s in versions.items() if s.state == ModelVersionStatus.AVAILABLE]
        if not available:
            raise ServingError(Code.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        number = max(available)
        return number, versions[number]

    def _record(self, kind: str, request: Any, timeout: float | None) -> None:
        with self._lock:
            copy = type(request)()
            copy.CopyFrom(request)
            self.calls.append((kind, copy, timeout))

    def signature_defs(self, model_spec: model_pb2.ModelSpec) -> tuple[int, dict[str, meta_graph_pb2.SignatureDef]]:
        version, servable = self._resolve(model_spec)
        return version, dict(servable.signatures)

    # ------------------------------------------------------------------------------------------ inference

    def predict(
        self, request: predict_pb2.PredictRequest, *, entrypoint: str, timeout: float | None = None
    ) -> predict_pb2.PredictResponse:
        self._record("predict", request, timeout)
        version, servable = self._resolve(request.model_spec)
        signame = request.model_spec.signature_name or "serving_default"
        if signame not in servable.signatures:
            raise ServingError(Code.FAILED_PRECONDITION, f'Serving signature key "{signame}" not found.')
        if servable.predict_fn is None:
            raise ServingError(Code.UNIMPLEMENTED, "this fake servable has no predict function")
        arrays = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signame
        for name, value in servable.predict_fn(arrays).items():
            if isinstance(value, tensor_pb2.TensorProto):
                response.outputs[name].CopyFrom(value)
            else:
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def _examples(self, kind: str, request: Any, timeout: float | None) -> tuple[int, FakeServable, str]:
        self._record(kind, request, timeout)
        version, servable = self._resolve(request.model_spec)
        signame = request.model_spec.signature_name or "serving_default"
        if signame not in servable.signatures:
            raise ServingError(Code.INVALID_ARGUMENT, f"No signature was found with the name: {signame}")
        return version, servable, signame

    def classify(
        self, request: classification_pb2.ClassificationRequest, *, entrypoint: str, timeout: float | None = None
    ) -> classification_pb2.ClassificationResponse:
        response = classification_pb2.ClassificationResponse()
        return self._answer_examples("classify", request, timeout, response)

    def regress(
        self, request: regression_pb2.RegressionRequest, *, entrypoint: str, timeout: float | None = None
    ) -> regression_pb2.RegressionResponse:
        response = regression_pb2.RegressionResponse()
        return self._answer_examples("regress", request, timeout, response)

    def _answer_examples(self, kind: str, request: Any, timeout: float | None, response: Any) -> Any:
        """Classify or regress (``kind``) the request's examples with the servable's function into ``response``."""
        version, servable, signame = self._examples(kind, request, timeout)
        run = servable.classify_fn if kind == "classify" else servable.regress_fn
        if run is None:
            method = "classification" if kind == "classify" else "regression"
            raise ServingError(Code.INVALID_ARGUMENT, f"Expected {method} signature method_name")
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signame
        response.result.CopyFrom(run(request.input))
        return response

    def multi_inference(
        self, request: inference_pb2.MultiInferenceRequest, *, entrypoint: str, timeout: float | None = None
    ) -> inference_pb2.MultiInferenceResponse:
        raise ServingError(Code.UNIMPLEMENTED, "MultiInference is not part of the fake core")

    # ------------------------------------------------------------------------------------------ model info

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, *, entrypoint: str
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        self._record("metadata", request, None)
        if not request.metadata_field:
            raise ServingError(Code.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one metadata_field")
        version, servable = self._resolve(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        sigmap = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in servable.signatures.items():
            sigmap.signature_def[name].CopyFrom(sig)
        response.metadata["signature_def"].Pack(sigmap)
        return response

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest, *, entrypoint: str
    ) -> get_model_status_pb2.GetModelStatusResponse:
        self._record("status", request, None)
        name = request.model_spec.name
        versions = self.models.get(name)
        if not versions:
            raise ServingError(Code.NOT_FOUND, f"Could not find any versions of model {name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        if request.model_spec.HasField("version"):
            number = request.model_spec.version.value
            if number not in versions:
                raise ServingError(Code.NOT_FOUND, f"Could not find version {number} of model {name}")
            chosen = [number]
        else:
            chosen = sorted(versions, reverse=True)
        for number in chosen:
            servable = versions[number]
            entry = response.model_version_status.add(version=number, state=servable.state)
            if servable.error:
                entry.status.error_code, entry.status.error_message = servable.error
            else:
                entry.status.error_code = 0
        return response

    def reload_config(self, request: Any) -> Any:
        raise ServingError(Code.UNIMPLEMENTED, "reload_config is not part of the fake core")

    def metrics_text(self) -> str:
        return self.metrics


FLOAT, DOUBLE, STRING, INT64, INT32 = (
    types_pb2.DT_FLOAT,
    types_pb2.DT_DOUBLE,
    types_pb2.DT_STRING,
    types_pb2.DT_INT64,
    types_pb2.DT_INT32,
)


@dataclass
class RawResponse:
    """An HTTP answer as bytes: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """Parse the body; NaN/Infinity tokens (TF Serving writes them bare) are accepted."""
        import json

        return json.loads(self.body)


def raw_request(
    port: int,
    method: str,
    target: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> RawResponse:
    """Send one request with the request-target exactly as given (no normalisation or quoting), over a new socket."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        payload = body.encode("utf-8") if isinstance(body, str) else body
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if payload is not None:
            conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders(payload)
        response = conn.getresponse()
        data = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()
