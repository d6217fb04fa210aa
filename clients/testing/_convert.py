"""Examples and tensors between the fake's Python values and the wire (tf.Example protos, TF Serving's JSON)."""

from __future__ import annotations

import base64
from typing import Any, cast

import numpy as np

from clients._proto import example_pb2, serving_pb2, tensor_pb2
from clients.testing._model import (
    CLASSIFY,
    _Status,
)
from clients.types import SignatureSpec, TensorSpec


def _examples_from_input(request_input: serving_pb2.Input) -> list[dict[str, list[Any]]]:
    kind = request_input.WhichOneof("kind")
    if kind is None:
        return []
    holder = getattr(request_input, kind)
    context = _features(holder.context) if kind == "example_list_with_context" else {}
    return [{**context, **_features(example)} for example in holder.examples]


def _features(example: example_pb2.Example) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = list(getattr(feature, kind).value) if kind else []
    return out


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _json_features(document: Any) -> dict[str, list[Any]]:
    if not isinstance(document, dict):
        raise _Status("INVALID_ARGUMENT", f"Example must be JSON object but got JSON {type(document).__name__}")
    out = {}
    for name, value in document.items():
        values = value if isinstance(value, list) else [value]
        converted: list[bytes | float | int] = []
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
            info.dtype = cast(tensor_pb2.DataType, tensor_pb2.DataType.Value(tensor.dtype_name))
            if tensor.shape is None:
                info.tensor_shape.unknown_rank = True
            else:
                for size in tensor.shape:
                    info.tensor_shape.dim.add().size = -1 if size is None else size


def _signature_json(spec: SignatureSpec) -> dict[str, Any]:
    def info(tensor: TensorSpec) -> dict[str, Any]:
        dims = [] if tensor.shape is None else [{"size": str(-1 if d is None else d), "name": ""} for d in tensor.shape]
        return {"dtype": tensor.dtype_name, "tensor_shape": {"dim": dims, "unknown_rank": tensor.shape is None},
                "name": tensor.tensor_name or f"{tensor.name}:0"}

    return {
        "inputs": {a: info(t) for a, t in spec.inputs.items()},
        "outputs": {a: info(t) for a, t in spec.outputs.items()},
        "method_name": spec.method_name,
        "defaults": {},
    }
