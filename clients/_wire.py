"""gRPC request builders and response parsers over our own wire messages (no I/O), and the method paths.

The paths are TF Serving's own (``/tensorflow.serving.<Service>/<Method>``): our messages only differ in their
proto package name, which never travels on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clients._proto import serving_pb2
from clients.codec import decode_tensor, encode_tensor, encode_tensor_chunks, shape_of_spec, varint
from clients.dtypes import enum_name
from clients.errors import ResponseDecodeError, ValidationError, from_status
from clients.types import ClassifyResult, ModelMetadata, ModelVersionStatus, SignatureSpec, TensorSpec

PREDICTION_SERVICE = "/tensorflow.serving.PredictionService/"
MODEL_SERVICE = "/tensorflow.serving.ModelService/"

# method name -> (path, request type, response type)
METHODS: dict[str, tuple[str, Any, Any]] = {
    "Predict": (PREDICTION_SERVICE + "Predict", serving_pb2.PredictRequest, serving_pb2.PredictResponse),
    "Classify": (
        PREDICTION_SERVICE + "Classify",
        serving_pb2.ClassificationRequest,
        serving_pb2.ClassificationResponse,
    ),
    "Regress": (PREDICTION_SERVICE + "Regress", serving_pb2.RegressionRequest, serving_pb2.RegressionResponse),
    "MultiInference": (
        PREDICTION_SERVICE + "MultiInference",
        serving_pb2.MultiInferenceRequest,
        serving_pb2.MultiInferenceResponse,
    ),
    "GetModelMetadata": (
        PREDICTION_SERVICE + "GetModelMetadata",
        serving_pb2.GetModelMetadataRequest,
        serving_pb2.GetModelMetadataResponse,
    ),
    "GetModelStatus": (
        MODEL_SERVICE + "GetModelStatus",
        serving_pb2.GetModelStatusRequest,
        serving_pb2.GetModelStatusResponse,
    ),
    "HandleReloadConfigRequest": (
        MODEL_SERVICE + "HandleReloadConfigRequest",
        serving_pb2.ReloadConfigRequest,
        serving_pb2.ReloadConfigResponse,
    ),
}

SIGNATURE_DEF_MAP_TYPE_URLS = (
    "type.googleapis.com/tensorflow.serving.SignatureDefMap",
    "type.googleapis.com/tfs_toolkit.wire.SignatureDefMap",
)
METHOD_NAMES = {"classify": "tensorflow/serving/classify", "regress": "tensorflow/serving/regress"}


def fill_model_spec(
    spec: serving_pb2.ModelSpec,
    model: str,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
) -> serving_pb2.ModelSpec:
    """Fill a ModelSpec: ``version`` (Int64Value, so 0 is expressible) or ``label``, never both."""
    check_target(model, version, label)
    spec.name = model
    if version is not None:
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = label
    if signature:
        spec.signature_name = signature
    return spec


def check_target(model: str, version: int | None, label: str | None) -> None:
    """ValidationError for an empty model name, a non-integer version, or version and label together."""
    if not isinstance(model, str) or not model:
        raise ValidationError(f"model: expected a non-empty model name, got {model!r}")
    if version is not None and label is not None:
        raise ValidationError(f"pass either version or label, not both (got version={version}, label={label!r})")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (int, np.integer))):
        raise ValidationError(f"version: expected an integer, got {version!r}")
    if label is not None and (not isinstance(label, str) or not label):
        raise ValidationError(f"label: expected a non-empty string, got {label!r}")


def predict_request(
    inputs: Mapping[str, Any],
    model: str,
    version: int | None,
    label: str | None,
    signature: str | None,
    output_filter: Sequence[str] | None,
) -> serving_pb2.PredictRequest:
    request = serving_pb2.PredictRequest()
    fill_model_spec(request.model_spec, model, version, label, signature)
    for name, value in inputs.items():
        encode_tensor(value, f"input {name!r}", request.inputs[name])
    if output_filter:
        request.output_filter.extend(output_filter)
    return request


def predict_request_bytes(
    inputs: Mapping[str, Any],
    model: str,
    version: int | None,
    label: str | None,
    signature: str | None,
    output_filter: Sequence[str] | None,
) -> bytes:
    """The serialized PredictRequest, built so that tensor data is copied once (see codec.encode_tensor_chunks).

    Parses to the same message as ``predict_request(...)``; fields are written in field-number order as protobuf
    does (model_spec = 1, inputs = 2 as map entries {key = 1, value = 2}, output_filter = 3).
    """
    spec = fill_model_spec(serving_pb2.ModelSpec(), model, version, label, signature).SerializeToString()
    chunks: list[bytes | memoryview] = [b"\x0a", varint(len(spec)), spec]
    for name, value in inputs.items():
        if not isinstance(name, str):
            raise ValidationError(f"inputs: names must be strings, got {name!r}")
        key = name.encode("utf-8")
        tensor, tensor_len = encode_tensor_chunks(value, f"input {name!r}")
        entry_head = b"\x0a" + varint(len(key)) + key + b"\x12" + varint(tensor_len)
        chunks += [b"\x12", varint(len(entry_head) + tensor_len), entry_head, *tensor]
    for alias in output_filter or ():
        encoded = alias.encode("utf-8")
        chunks += [b"\x1a", varint(len(encoded)), encoded]
    return b"".join(chunks)


def serialize(request: Any) -> bytes:
    """Request serializer for the stubs: pre-serialized bytes pass through, messages are serialized."""
    return request if isinstance(request, bytes) else request.SerializeToString()


def predict_result(response: serving_pb2.PredictResponse) -> dict[str, np.ndarray]:
    result = {}
    for name, tensor in response.outputs.items():
        try:
            result[name] = decode_tensor(tensor)
        except ResponseDecodeError as exc:
            raise ResponseDecodeError(f"output {name!r}: {exc.message}") from None
    return result


def classification_result(result: serving_pb2.ClassificationResult) -> ClassifyResult:
    return [[(c.label, float(c.score)) for c in item.classes] for item in result.classifications]


def regression_result(result: serving_pb2.RegressionResult) -> np.ndarray:
    return np.array([r.value for r in result.regressions], dtype=np.float32)


def multi_inference_request(
    input_: serving_pb2.Input,
    model: str,
    tasks: Mapping[str, str],
    version: int | None,
    label: str | None,
) -> serving_pb2.MultiInferenceRequest:
    """One InferenceTask per ``signature -> "classify" | "regress"`` entry, all on the same model."""
    if not tasks:
        raise ValidationError("tasks: expected at least one {signature: 'classify' | 'regress'} entry, got none")
    request = serving_pb2.MultiInferenceRequest()
    for signature, method in tasks.items():
        try:
            method_name = METHOD_NAMES[method]
        except KeyError:
            raise ValidationError(
                f"tasks[{signature!r}]: expected 'classify' or 'regress', got {method!r}"
            ) from None
        task = request.tasks.add()
        fill_model_spec(task.model_spec, model, version, label, signature)
        task.method_name = method_name
    request.input.CopyFrom(input_)
    return request


def multi_inference_result(
    response: serving_pb2.MultiInferenceResponse, tasks: Mapping[str, str]
) -> dict[str, ClassifyResult | np.ndarray]:
    out: dict[str, ClassifyResult | np.ndarray] = {}
    names = list(tasks)
    for index, result in enumerate(response.results):
        name = result.model_spec.signature_name or (names[index] if index < len(names) else str(index))
        kind = result.WhichOneof("result")
        if kind == "classification_result":
            out[name] = classification_result(result.classification_result)
        elif kind == "regression_result":
            out[name] = regression_result(result.regression_result)
        else:
            raise ResponseDecodeError(f"multi_inference result {index} has neither classification nor regression")
    return out


def _tensor_spec(alias: str, info: serving_pb2.TensorInfo) -> TensorSpec:
    return TensorSpec(
        name=alias,
        dtype_name=enum_name(info.dtype),
        shape=shape_of_spec(info.tensor_shape) if info.HasField("tensor_shape") else None,
        tensor_name=info.name,
    )


def signature_specs(defs: Mapping[str, serving_pb2.SignatureDef]) -> dict[str, SignatureSpec]:
    return {
        name: SignatureSpec(
            name=name,
            method_name=sig.method_name,
            inputs={alias: _tensor_spec(alias, info) for alias, info in sig.inputs.items()},
            outputs={alias: _tensor_spec(alias, info) for alias, info in sig.outputs.items()},
            defaults=tuple(sig.defaults),
        )
        for name, sig in defs.items()
    }


def metadata_result(response: serving_pb2.GetModelMetadataResponse, model: str) -> ModelMetadata:
    """Decode the ``signature_def`` Any (type_url tensorflow.serving.SignatureDefMap) into ModelMetadata."""
    if "signature_def" not in response.metadata:
        raise ResponseDecodeError(f"metadata response has no 'signature_def' entry (keys: {list(response.metadata)})")
    packed = response.metadata["signature_def"]
    if packed.type_url not in SIGNATURE_DEF_MAP_TYPE_URLS:
        raise ResponseDecodeError(
            f"metadata 'signature_def' has type_url {packed.type_url!r}, expected {SIGNATURE_DEF_MAP_TYPE_URLS[0]!r}"
        )
    defs = serving_pb2.SignatureDefMap()
    try:
        defs.ParseFromString(packed.value)
    except Exception as exc:  # protobuf's DecodeError
        raise ResponseDecodeError(f"cannot parse SignatureDefMap in metadata: {exc}") from None
    spec = response.model_spec
    return ModelMetadata(
        model=spec.name or model,
        version=spec.version.value if spec.HasField("version") else None,
        signatures=signature_specs(defs.signature_def),
    )


def status_result(response: serving_pb2.GetModelStatusResponse) -> list[ModelVersionStatus]:
    return [
        ModelVersionStatus(
            version=int(entry.version),
            state=serving_pb2.ModelVersionStatus.State.Name(entry.state)
            if entry.state in serving_pb2.ModelVersionStatus.State.values()
            else str(entry.state),
            error_code=serving_pb2.ErrorCode.Name(entry.status.error_code)
            if entry.status.error_code in serving_pb2.ErrorCode.values()
            else str(entry.status.error_code),
            error_message=entry.status.error_message,
        )
        for entry in response.model_version_status
    ]


def reload_config_request(config: Any, metric_names: Sequence[str] = ()) -> serving_pb2.ReloadConfigRequest:
    """Accept a ModelServerConfig message (ours, or any with the same wire format) or its text format."""
    from google.protobuf import message, text_format

    request = serving_pb2.ReloadConfigRequest()
    if isinstance(config, str):
        try:
            text_format.Parse(config, request.config)
        except text_format.ParseError as exc:
            raise ValidationError(f"config: not a valid ModelServerConfig text proto: {exc}") from None
    elif isinstance(config, message.Message):
        request.config.ParseFromString(config.SerializeToString())
    else:
        raise ValidationError(f"config: expected ModelServerConfig text or message, got {type(config).__name__}")
    request.metric_names.extend(metric_names)
    return request


def reload_config_result(response: serving_pb2.ReloadConfigResponse) -> dict[str, int]:
    """Raise if the reload status is not OK; else the requested metric increases by name."""
    code = response.status.error_code
    if code != serving_pb2.ErrorCode.OK:
        raise from_status(int(code), response.status.error_message)
    return {metric.name: int(metric.int64_value_increase) for metric in response.metric}
