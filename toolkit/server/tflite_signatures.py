"""Signature defs of a ``model.tflite``, named exactly as TF Serving's TfLiteSession names them (tflite_session.cc).

- SignatureDefs embedded by TF Lite's ``signature_def_util`` (model metadata ``signature_defs_metadata``: a
  flexbuffer map of key -> serialized SignatureDef) are used as they are; each tensor name is checked against the
  interpreter's input/output tensors, falling back to the legacy name without the ``:0`` suffix.
- Without them (also when the converter only wrote its own flatbuffer SignatureDef table, which TfLiteSession does
  not read), one ``serving_default`` predict signature is built from the input and output tensors: the key is the
  tensor name up to its first ``:``, the TensorInfo carries the tensor's name, dtype and current dims.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from toolkit.server.errors import Code, ServingError

log = logging.getLogger(__name__)

SIGNATURE_DEFS_METADATA = "signature_defs_metadata"  # tflite::kSignatureDefsMetadataName
DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"

DT = types_pb2

# TfLiteTypeToTfType: the only TF Lite types TfLiteSession maps; any other input/output type fails the load.
_NP_TO_TF: dict[np.dtype, int] = {
    np.dtype(np.float32): DT.DT_FLOAT,
    np.dtype(np.int32): DT.DT_INT32,
    np.dtype(np.uint8): DT.DT_UINT8,
    np.dtype(np.int64): DT.DT_INT64,
    np.dtype(np.bytes_): DT.DT_STRING,
    np.dtype(np.bool_): DT.DT_BOOL,
    np.dtype(np.int16): DT.DT_INT16,
    np.dtype(np.complex64): DT.DT_COMPLEX64,
    np.dtype(np.int8): DT.DT_INT8,
}
# TfLiteType enum numbers of the unmapped types, for TF Serving's "Unknown TfLite type: N".
_TFLITE_TYPE_NUMBER: dict[np.dtype, int] = {
    np.dtype(np.float16): 10,
    np.dtype(np.float64): 11,
    np.dtype(np.complex128): 12,
    np.dtype(np.uint64): 13,
    np.dtype(np.uint32): 16,
    np.dtype(np.uint16): 17,
}


@dataclass(frozen=True)
class TensorDetail:
    """One input or output tensor of the interpreter: name, index, TF dtype enum and current dims."""

    name: str
    index: int
    dtype: int
    shape: tuple[int, ...]


def tf_dtype(numpy_type: Any) -> int:
    """TfLiteTypeToTfType over the numpy type the Python interpreter reports (INTERNAL for an unmapped type)."""
    dtype = np.dtype(numpy_type)
    if dtype in _NP_TO_TF:
        return _NP_TO_TF[dtype]
    raise ServingError(Code.INTERNAL, f"Unknown TfLite type: {_TFLITE_TYPE_NUMBER.get(dtype, dtype.name)}")


def tensor_details(details: list[dict[str, Any]], kind: str) -> dict[str, TensorDetail]:
    """GetTensorInfoMap: {tensor name: detail}; a name used by two tensors fails the load (ALREADY_EXISTS)."""
    result: dict[str, TensorDetail] = {}
    for item in details:
        name = str(item["name"])
        if name in result:
            raise ServingError(Code.ALREADY_EXISTS, f"{kind} tensor name: {name} has multiple indices")
        shape = tuple(int(d) for d in item["shape"])
        result[name] = TensorDetail(name, int(item["index"]), tf_dtype(item["dtype"]), shape)
    return result


def legacy_tensor_name(name: str) -> str:
    """TfToTfLiteLegacyTensorName: early converters dropped the ``:0`` suffix of TF tensor names."""
    return name.split(":", 1)[0]


def fix_tensor_name(known: dict[str, TensorDetail], name: str) -> str:
    """FixTfLiteTensorName: ``name`` if the tensor exists, else its legacy name, else INTERNAL."""
    if name in known:
        return name
    legacy = legacy_tensor_name(name)
    if legacy in known:
        return legacy
    raise ServingError(Code.INTERNAL, f"Unknown tensor '{name}'.")


def _buffer_bytes(model_bytes: bytes, model: Any, buffer_index: int) -> bytes:
    buffer = model.Buffers(buffer_index)
    if buffer is None:
        return b""
    offset, size = buffer.Offset(), buffer.Size()
    if offset > 1:  # large models keep buffer data after the flatbuffer
        return model_bytes[offset : offset + size]
    data = buffer.DataAsNumpy()
    return b"" if isinstance(data, int) else data.tobytes()


def embedded_signature_defs(model_bytes: bytes) -> dict[str, meta_graph_pb2.SignatureDef]:
    """tflite::GetSignatureDefMap: the SignatureDefs in the ``signature_defs_metadata`` entry ({} if none).

    Each value is read as a C string (cut at its first NUL byte), as the C++ reader does."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAsModel(model_bytes, 0)
        entries = [model.Metadata(i) for i in range(model.MetadataLength())]
    except Exception as exc:  # noqa: BLE001 - a broken flatbuffer surfaces later as a load error anyway
        log.debug("Could not read TF Lite metadata: %s", exc)
        return {}
    metadata = next((m for m in entries if m.Name() == SIGNATURE_DEFS_METADATA.encode()), None)
    if metadata is None:
        return {}
    try:
        serialized = flexbuffers.GetRoot(_buffer_bytes(model_bytes, model, metadata.Buffer())).AsMap
        keys, values = serialized.Keys, serialized.Values
        # flexbuffers' AsString() gives "" for a value that is not a string; the C++ reader then parses "".
        raw = {keys[i].AsKey: values[i].AsStringBytes if values[i].IsString else b"" for i in range(len(keys))}
    except Exception as exc:
        raise ServingError(Code.INTERNAL, f"Error reading signature def map: {exc}") from exc
    result: dict[str, meta_graph_pb2.SignatureDef] = {}
    for key, value in raw.items():
        signature = meta_graph_pb2.SignatureDef()
        try:
            signature.ParseFromString(bytes(value).split(b"\0", 1)[0])
        except Exception as exc:
            raise ServingError(Code.INTERNAL, "Cannot parse signature def found in flatbuffer.") from exc
        result[key] = signature
    return result


def _tensor_info(detail: TensorDetail) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=detail.name, dtype=detail.dtype)
    for size in detail.shape:
        info.tensor_shape.dim.add().size = size
    return info


def _by_name(details: dict[str, TensorDetail]) -> list[TensorDetail]:
    return [details[name] for name in sorted(details, key=lambda n: n.encode())]  # std::map order


def build_signatures(
    model_bytes: bytes, inputs: dict[str, TensorDetail], outputs: dict[str, TensorDetail]
) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The signature map of TfLiteSession::Create (embedded SignatureDefs, or the generated default one)."""
    try:
        embedded = embedded_signature_defs(model_bytes)
    except ServingError as exc:
        raise ServingError(
            Code.INVALID_ARGUMENT, f"Invalid SignatureDefs found in TfLite model: {exc.message}"
        ) from exc
    signatures: dict[str, meta_graph_pb2.SignatureDef] = {}
    if embedded:
        for key in sorted(embedded):
            signature = signatures[key] = embedded[key]
            for kind, aliases, known in (("input", signature.inputs, inputs), ("output", signature.outputs, outputs)):
                for alias in sorted(aliases):
                    info = aliases[alias]
                    try:
                        info.name = fix_tensor_name(known, info.name)
                    except ServingError as exc:
                        raise ServingError(
                            exc.code, f"{exc.message}\n\tSignature {kind} {alias} references an unknown tensor"
                        ) from exc
        return signatures
    log.warning("No signature def found in TFLite model. Generating one.")
    signature = signatures[DEFAULT_SIGNATURE] = meta_graph_pb2.SignatureDef()
    for detail in _by_name(inputs):  # a later tensor with the same legacy name replaces an earlier one
        signature.inputs[legacy_tensor_name(detail.name)].CopyFrom(_tensor_info(detail))
    for detail in _by_name(outputs):
        signature.outputs[legacy_tensor_name(detail.name)].CopyFrom(_tensor_info(detail))
    signature.method_name = PREDICT_METHOD
    return signatures
