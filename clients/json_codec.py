"""numpy <-> TF Serving REST JSON, with no I/O.

Requests: columnar ``inputs`` by default (any batch layout), row ``instances`` on request; ``{"b64": ...}`` for
bytes; numeric arrays go straight through ``orjson`` with its numpy support. Responses: ``outputs`` /
``predictions`` / ``results``, status and metadata JSON; TF Serving's bare ``NaN``/``Infinity`` tokens (not valid
JSON, so orjson rejects them) are parsed by the stdlib fallback, which leaves strings untouched.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from clients.codec import as_array
from clients.errors import ResponseDecodeError, ValidationError
from clients.types import ClassifyResult, ModelMetadata, ModelVersionStatus, SignatureSpec, TensorSpec

__all__ = [
    "loads",
    "encode_predict_request",
    "encode_examples_request",
    "decode_predict_response",
    "decode_classify_response",
    "decode_regress_response",
    "decode_status",
    "decode_metadata",
]

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def loads(body: bytes | str) -> Any:
    """Parse JSON; accepts TF Serving's bare ``NaN``, ``Infinity`` and ``-Infinity`` tokens."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as first:
        # Python's json accepts exactly these three tokens outside strings, so text inside strings is never touched.
        # TF Serving writes DT_STRING outputs as raw bytes without UTF-8 validation: surrogateescape keeps such
        # bytes, and string leaves are turned back into the original bytes (see _leaf_to_bytes).
        text = body.decode("utf-8", errors="surrogateescape") if isinstance(body, bytes) else body
        try:
            return json.loads(text)
        except ValueError:
            raise ResponseDecodeError(f"response is not valid JSON: {first}") from None


# ----------------------------------------------------------------------------------------------------- requests
def _b64(value: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(value).decode("ascii")}


def _string_leaves(array: np.ndarray) -> Any:
    def convert(item: Any) -> Any:
        if isinstance(item, list):
            return [convert(x) for x in item]
        if isinstance(item, (bytes, np.bytes_)):
            return _b64(bytes(item))
        if isinstance(item, str):
            return item
        raise ValidationError(f"string tensor element must be bytes or str, got {type(item).__name__}")

    return convert(array.tolist())


# numpy's own bool, integer and float dtypes (any byte order): never ml_dtypes' bfloat16/float8, so the dtype's name,
# which numpy builds anew on every read (3 us), is not needed for them.
_NUMPY_NUMBERS = frozenset(np.dtype(code).newbyteorder(order) for code in "?bhilqpBHILQPefdg" for order in ("<", ">"))


def _widened(array: np.ndarray) -> np.ndarray:
    """bfloat16 and float8 (ml_dtypes) values as float32, the numbers JSON can carry; other arrays unchanged."""
    if array.dtype in _NUMPY_NUMBERS:
        return array
    name = array.dtype.name
    return array.astype(np.float32) if name == "bfloat16" or name.startswith("float8") else array


class _NonFinite(Exception):
    """A float tensor holds NaN/Infinity, which orjson would write as null."""


def _json_value(value: Any, what: str) -> Any:
    """Something orjson can write for one tensor: the ndarray itself where possible."""
    array = as_array(value, what)
    kind = array.dtype.kind
    if kind == "O":
        return _string_leaves(array)
    if kind == "c":
        raise ValidationError(f"{what}: complex tensors cannot be sent as JSON; use the gRPC client")
    array = _widened(array)
    if array.dtype.kind == "f" and not np.isfinite(array).all():  # the widened dtype: bfloat16's own kind is "V"
        raise _NonFinite
    if array.ndim == 0:
        return array.item()
    if not array.flags.c_contiguous or array.dtype.byteorder == ">":
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
    return array


def _dumps(document: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(document, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise ValidationError(f"cannot encode request as JSON: {exc}") from None


def _python_json(value: Any) -> Any:
    array = as_array(value)
    if array.dtype.kind in "OSU":
        return _string_leaves(array.astype(object))
    return _widened(array).tolist()


def encode_predict_request(
    inputs: Mapping[str, Any] | Any,
    *,
    signature: str | None = None,
    row_format: bool = False,
) -> bytes:
    """JSON body for ``:predict``. A mapping gives named inputs; anything else is the single unnamed input."""
    named = isinstance(inputs, Mapping)
    document: dict[str, Any] = {}
    if signature:
        document["signature_name"] = signature
    try:
        if row_format:
            document["instances"] = _instances(inputs, named)
        elif named:
            document["inputs"] = {name: _json_value(value, f"input {name!r}") for name, value in inputs.items()}
        else:
            document["inputs"] = _json_value(inputs, "input")
        return _dumps(document)
    except _NonFinite:
        # NaN/Infinity must be bare tokens (orjson would write null): the stdlib writes exactly TF's tokens.
        if row_format:
            arrays = {n: _python_json(v) for n, v in inputs.items()} if named else _python_json(inputs)
            if named:
                batch = len(next(iter(arrays.values())))
                document["instances"] = [{n: arrays[n][i] for n in arrays} for i in range(batch)]
            else:
                document["instances"] = arrays
        elif named:
            document["inputs"] = {name: _python_json(value) for name, value in inputs.items()}
        else:
            document["inputs"] = _python_json(inputs)
        return json.dumps(document, allow_nan=True, separators=(",", ":")).encode("utf-8")


def _instances(inputs: Any, named: bool) -> Any:
    if not named:
        array = as_array(inputs, "input")
        if array.ndim == 0:
            raise ValidationError("input: row format (instances) needs a batch dimension, got a scalar")
        return _json_value(array, "input")
    arrays = {name: as_array(value, f"input {name!r}") for name, value in inputs.items()}
    batch_sizes = {name: (a.shape[0] if a.ndim else None) for name, a in arrays.items()}
    sizes = set(batch_sizes.values())
    if None in sizes or len(sizes) != 1:
        raise ValidationError(
            f"row format (instances) needs every input to share dim 0; got batch sizes {batch_sizes}"
        )
    batch = int(sizes.pop() or 0)  # one size, not None: checked above
    values = {name: _json_value(a, f"input {name!r}") for name, a in arrays.items()}
    return [{name: values[name][i] for name in values} for i in range(batch)]


def _feature_json(name: str, value: Any) -> Any:
    from clients.examples import feature_values

    kind, values = feature_values(name, value)
    if kind == "bytes":
        return [_b64(v) for v in values]
    if kind == "float":
        # A decimal point is what makes TF Serving pick float_list; floats always get one from json.
        return [float(v) for v in values]
    return [int(v) for v in values]


def encode_examples_request(
    examples: Sequence[Mapping[str, Any]],
    *,
    signature: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> bytes:
    """JSON body for ``:classify`` / ``:regress`` from feature dicts (tf.Example features)."""
    document: dict[str, Any] = {}
    if signature:
        document["signature_name"] = signature
    if context:
        document["context"] = {name: _feature_json(name, value) for name, value in context.items()}
    document["examples"] = [
        {name: _feature_json(name, value) for name, value in example.items()} for example in examples
    ]
    # Stdlib json: float features need their decimal point and NaN/Infinity as bare tokens.
    return json.dumps(document, allow_nan=True, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------------------------------- responses
def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _leaf_to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape")
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError as exc:
            raise ResponseDecodeError(f"bad base64 in response: {exc}") from None
    raise ResponseDecodeError(f"expected a string or {{'b64': ...}} value, got {type(value).__name__}")


def _first_leaf(value: Any) -> Any:
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _to_array(value: Any, spec: TensorSpec | None, what: str) -> np.ndarray:
    dtype = spec.dtype if spec is not None else None
    leaf = _first_leaf(value)
    if (dtype is not None and dtype.kind == "O") or isinstance(leaf, str) or _is_b64(leaf):

        def convert(item: Any) -> Any:
            return [convert(x) for x in item] if isinstance(item, list) else _leaf_to_bytes(item)

        converted = convert(value)
        try:
            shape = np.shape(np.array(converted, dtype=object)) if isinstance(converted, list) else ()
            out = np.empty(shape, dtype=object)
            if shape:
                _assign(out, converted)
            else:
                out[()] = converted
        except ValueError as exc:
            raise ResponseDecodeError(f"{what}: ragged string tensor in response: {exc}") from None
        return out
    try:
        if dtype is not None:
            return np.asarray(value, dtype=dtype)
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ResponseDecodeError(f"{what}: cannot convert response value to an array: {exc}") from None
    if array.dtype.kind == "O":
        raise ResponseDecodeError(f"{what}: response value is not a rectangular numeric tensor")
    return array


def _assign(out: np.ndarray, nested: list[Any]) -> None:
    flat = out.reshape(-1)

    def walk(item: Any, index: list[int]) -> None:
        if isinstance(item, list):
            for x in item:
                walk(x, index)
        else:
            flat[index[0]] = item
            index[0] += 1

    walk(nested, [0])


def decode_predict_response(
    body: bytes, signature: SignatureSpec | None = None, output_filter: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """``{"outputs": ...}`` or ``{"predictions": ...}`` -> dict of arrays.

    A single unnamed output is named after the signature's only output when the signature is known, otherwise
    after the response key (``"outputs"`` or ``"predictions"``). ``output_filter`` keeps only those outputs
    (REST has no server-side filter).
    """
    document = loads(body)
    if not isinstance(document, dict):
        raise ResponseDecodeError(f"predict response must be a JSON object, got {type(document).__name__}")
    specs = dict(signature.outputs) if signature is not None else {}
    if "outputs" in document:
        key, value = "outputs", document["outputs"]
        if isinstance(value, dict) and not _is_b64(value):
            result = {name: _to_array(v, specs.get(name), f"output {name!r}") for name, v in value.items()}
        else:
            name = _single_name(specs, key)
            result = {name: _to_array(value, specs.get(name), f"output {name!r}")}
    elif "predictions" in document:
        key, value = "predictions", document["predictions"]
        if not isinstance(value, list):
            raise ResponseDecodeError(f"'predictions' must be a list, got {type(value).__name__}")
        if value and isinstance(value[0], dict) and not _is_b64(value[0]):
            names = list(value[0])
            try:
                columns = {name: [row[name] for row in value] for name in names}
            except (KeyError, TypeError):
                raise ResponseDecodeError("'predictions' rows do not all have the same outputs") from None
            result = {name: _to_array(col, specs.get(name), f"output {name!r}") for name, col in columns.items()}
        else:
            name = _single_name(specs, key)
            spec = specs.get(name)
            array = _to_array(value, spec, f"output {name!r}")
            if not value and spec is not None and spec.shape:
                array = array.reshape((0,) + tuple(d or 0 for d in spec.shape[1:]))
            result = {name: array}
    elif "error" in document:
        raise ResponseDecodeError(f"server returned an error with a success status: {document['error']}")
    else:
        raise ResponseDecodeError(f"predict response has neither 'outputs' nor 'predictions': keys {sorted(document)}")
    if output_filter:
        missing = [name for name in output_filter if name not in result]
        if missing:
            raise ResponseDecodeError(f"outputs {missing} requested by output_filter are not in the response")
        result = {name: result[name] for name in output_filter}
    return result


def _single_name(specs: Mapping[str, TensorSpec], fallback: str) -> str:
    return next(iter(specs)) if len(specs) == 1 else fallback


def _results(body: bytes) -> list[Any]:
    document = loads(body)
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise ResponseDecodeError("classify/regress response must be an object with a 'results' list")
    return results


def _f32(value: Any) -> float:
    # Scores are float32 on the server; rounding the decimal text back to float32 gives gRPC's exact value.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResponseDecodeError(f"expected a number in 'results', got {value!r}")
    return float(np.float32(value))


def decode_classify_response(body: bytes) -> ClassifyResult:
    """``{"results": [[[label, score], ...], ...]}`` -> per-example lists of (label, score)."""
    out: ClassifyResult = []
    for example in _results(body):
        pairs = []
        if not isinstance(example, list):
            raise ResponseDecodeError(f"classify result per example must be a list, got {example!r}")
        for pair in example:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ResponseDecodeError(f"classify result entry must be [label, score], got {pair!r}")
            pairs.append((pair[0], _f32(pair[1])))
        out.append(pairs)
    return out


def decode_regress_response(body: bytes) -> np.ndarray:
    """``{"results": [v, ...]}`` -> float32 array, one value per example."""
    return np.array([_f32(v) for v in _results(body)], dtype=np.float32)


def decode_status(body: bytes) -> list[ModelVersionStatus]:
    """GetModelStatus JSON (``version`` is a string, snake_case names) -> list of ModelVersionStatus."""
    document = loads(body)
    try:
        entries = document.get("model_version_status", [])
        return [
            ModelVersionStatus(
                version=int(entry.get("version", 0)),
                state=str(entry.get("state", "UNKNOWN")),
                error_code=str(entry.get("status", {}).get("error_code", "OK")),
                error_message=str(entry.get("status", {}).get("error_message", "")),
            )
            for entry in entries
        ]
    except (AttributeError, TypeError, ValueError) as exc:
        raise ResponseDecodeError(f"malformed model status JSON: {exc}") from None


def _tensor_spec(alias: str, info: Mapping[str, Any]) -> TensorSpec:
    shape_json = info.get("tensor_shape", {})
    if shape_json.get("unknown_rank"):
        shape = None
    else:
        shape = tuple(None if int(d.get("size", 0)) < 0 else int(d.get("size", 0)) for d in shape_json.get("dim", []))
    return TensorSpec(name=alias, dtype_name=str(info.get("dtype", "DT_INVALID")), shape=shape, tensor_name=str(info.get("name", "")))


def decode_metadata(body: bytes, model: str) -> ModelMetadata:
    """Metadata JSON (nested ``metadata.signature_def.signature_def``) -> ModelMetadata."""
    document = loads(body)
    try:
        spec = document.get("model_spec", {})
        version = spec.get("version")
        defs = document["metadata"]["signature_def"]["signature_def"]
        signatures = {
            name: SignatureSpec(
                name=name,
                method_name=str(sig.get("method_name", "")),
                inputs={a: _tensor_spec(a, i) for a, i in sig.get("inputs", {}).items()},
                outputs={a: _tensor_spec(a, i) for a, i in sig.get("outputs", {}).items()},
                defaults=tuple(sig.get("defaults", {}) or ()),
            )
            for name, sig in defs.items()
        }
        return ModelMetadata(
            model=str(spec.get("name") or model),
            version=int(version) if version not in (None, "") else None,
            signatures=signatures,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ResponseDecodeError(f"malformed model metadata JSON: missing or bad {exc}") from None
