"""JSON values <-> TensorProto for the REST predict API, with TF Serving's rules and messages (json_tensor.cc).

Requests: ``instances`` (row) and ``inputs`` (columnar) become ``PredictRequest.inputs`` (reference/rest_api.md
5.1-5.5). Responses: ``PredictResponse.outputs`` become ``predictions`` / ``outputs`` text (5.6-5.8).
Each conversion has a fast numpy path for well-formed data and an exact element-by-element path that reproduces
TF Serving's first error in document order; the fast path only ever accepts what the exact path accepts.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2

from clients.dtypes import TYPED_FIELD, type_string
from toolkit.server.errors import Code, ServingError
from toolkit.server.rest_json import (
    debug_json,
    format_floats,
    invalid,
    json_type_name,
    nest,
    nest_rows,
    string_token,
    to_bytes,
)
from toolkit.server.rest_numeric import NumericBlock
from toolkit.server.rest_values_text import values_text

DT = types_pb2
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_UINT32_MAX, _UINT64_MAX = (1 << 32) - 1, (1 << 64) - 1
# The most dimensions a tensor can have here (numpy's NPY_MAXDIMS).
MAX_RANK = 64

# dtype -> little-endian numpy dtype. Strings are handled apart (lists of bytes).
_NUMPY: dict[int, np.dtype[Any]] = {
    DT.DT_FLOAT: np.dtype("<f4"),
    DT.DT_DOUBLE: np.dtype("<f8"),
    DT.DT_INT32: np.dtype("<i4"),
    DT.DT_INT16: np.dtype("<i2"),
    DT.DT_INT8: np.dtype("i1"),
    DT.DT_UINT8: np.dtype("u1"),
    DT.DT_INT64: np.dtype("<i8"),
    DT.DT_UINT32: np.dtype("<u4"),
    DT.DT_UINT64: np.dtype("<u8"),
    DT.DT_BOOL: np.dtype("?"),
}
_FLOATS = (DT.DT_FLOAT, DT.DT_DOUBLE)
_SMALL_INTS = (DT.DT_INT32, DT.DT_INT16, DT.DT_INT8, DT.DT_UINT8)
# Output dtypes TF Serving can write (AddSingleValueAndAdvance); anything else is a 400.
_WRITABLE = set(_NUMPY) | {DT.DT_STRING}


def _type_error(value: Any, dtype: int) -> ServingError:
    return invalid(
        f"JSON Value: {debug_json(value)} Type: {json_type_name(value)} is not of expected type: {type_string(dtype)}"
    )


def is_b64_object(value: Any) -> bool:
    """Exactly one member, named ``b64``, holding a string (``IsValBase64Object``)."""
    return type(value) is dict and len(value) == 1 and type(value.get("b64")) is str


_B64_WS = re.compile(r"[ \t\n\r\f\v]")


def b64_decode(text: str) -> bytes:
    """absl ``Base64Unescape``: standard alphabet, whitespace skipped, padding absent or exact (``.`` pads too)."""
    data = _B64_WS.sub("", text)
    stripped = data.rstrip("=.")
    pads = len(data) - len(stripped)
    if "=" in stripped or "." in stripped or len(stripped) % 4 == 1:
        raise invalid("Unable to base64 decode")
    if pads and (len(stripped) + pads) % 4 != 0:
        raise invalid("Unable to base64 decode")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Unable to base64 decode") from None


def decode_b64_object(value: Any) -> bytes:
    if not is_b64_object(value):
        raise invalid(f"JSON Value: {debug_json(value)} not formatted correctly for base64 data")
    return b64_decode(value["b64"])


# --------------------------------------------------------------------------------------------------------------
# JSON -> array (one tensor)
# --------------------------------------------------------------------------------------------------------------


class Dense:
    """A converted tensor: ``shape`` plus numpy ``array`` (numeric/bool) or ``strings`` (DT_STRING)."""

    __slots__ = ("dtype", "shape", "array", "strings")

    def __init__(self, dtype: int, shape: list[int], array: np.ndarray | None, strings: list[bytes] | None):
        self.dtype = dtype
        self.shape = shape
        self.array = array
        self.strings = strings

    @property
    def size(self) -> int:
        return len(self.strings) if self.strings is not None else (0 if self.array is None else int(self.array.size))


def dense_shape(value: Any) -> list[int]:
    """``GetDenseTensorShape``: the length of the first element at every nesting level."""
    shape: list[int] = []
    while type(value) is list:
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _scalar(value: Any, dtype: int) -> Any:
    """``AddValueToTensor`` for one non-list, non-object JSON value."""
    kind = type(value)
    if dtype in _FLOATS:
        if kind is float or kind is int:
            return value
    elif dtype in _SMALL_INTS:
        if kind is int and _INT32_MIN <= value <= _INT32_MAX:
            return value
    elif dtype == DT.DT_INT64:
        if kind is int and _INT64_MIN <= value <= _INT64_MAX:
            return value
    elif dtype == DT.DT_UINT32:
        if kind is int and 0 <= value <= _UINT32_MAX:
            return value
    elif dtype == DT.DT_UINT64:
        if kind is int and 0 <= value <= _UINT64_MAX:
            return value
    elif dtype == DT.DT_BOOL:
        if kind is bool:
            return value
    elif dtype == DT.DT_STRING:
        if kind is str:
            return to_bytes(value)
    else:
        raise ServingError(
            Code.UNIMPLEMENTED, f"Conversion of JSON Value: {debug_json(value)} to type: {type_string(dtype)}"
        )
    raise _type_error(value, dtype)


def _fill(root: Any, shape: list[int], dtype: int, out: list[Any]) -> None:
    """``FillTensorProto``: walk the DOM in document order, checking levels and sizes against ``shape``.

    Iterative (an explicit stack of list iterators), so a value nested any number of levels deep gets its error,
    never a RecursionError."""
    rank = len(shape)
    stack = [iter((root,))]
    while stack:
        level = len(stack) - 1
        for value in stack[-1]:
            if type(value) is not list:
                if level != rank:
                    raise invalid(
                        f"JSON Value: {debug_json(value)} found at incorrect level: {level + 1} in the JSON DOM. "
                        f"Expected at level: {rank}"
                    )
                if type(value) is dict:
                    if dtype != DT.DT_STRING:
                        raise _type_error(value, dtype)
                    out.append(decode_b64_object(value))
                else:
                    out.append(_scalar(value, dtype))
                continue
            if level >= rank:
                raise invalid(f"Encountered list at unexpected level: {level} expected < {rank}")
            if len(value) != shape[level]:
                raise invalid(
                    f"Encountered list at unexpected size: {len(value)} at level: {level} expected size: "
                    f"{shape[level]}"
                )
            stack.append(iter(value))
            break
        else:
            stack.pop()


def check_rank(shape: Sequence[int]) -> None:
    """Tensors here are numpy arrays, which have at most 64 dimensions (TF itself allows 254): a 400 beyond."""
    if len(shape) > MAX_RANK:
        raise invalid(
            f"Tensor with {len(shape)} dimensions (shape {_shape_text(shape[:8])[:-1]},...]) exceeds the limit of "
            f"{MAX_RANK} dimensions of this server"
        )


def _finish(values: list[Any], shape: list[int], dtype: int) -> Dense:
    """Turn validated Python values into a ``Dense`` of ``shape``."""
    check_rank(shape)
    if dtype == DT.DT_STRING:
        return Dense(dtype, shape, None, values)
    np_dtype = _NUMPY.get(dtype)
    if np_dtype is None:  # unsupported dtype: only reachable with zero values
        return Dense(dtype, shape, None, None)
    if dtype in _FLOATS:
        with np.errstate(over="ignore"):
            array = np.array(values, dtype=np.float64).astype(np_dtype)
    elif dtype == DT.DT_UINT64:
        array = np.array(values, dtype=np.uint64)
    elif dtype == DT.DT_BOOL:
        array = np.array(values, dtype=np.bool_)
    else:  # int8/16/uint8 are range-unchecked in TF Serving and cast with wrap-around, as TF's FromProto does
        array = np.array(values, dtype=np.int64).astype(np_dtype)
    return Dense(dtype, shape, array.reshape(shape), None)


def _fast(value: list[Any], dtype: int) -> Dense | None:
    """Vectorised conversion of a regular, well-typed nested list; None when anything needs the exact path."""
    shape = dense_shape(value)
    if len(shape) > MAX_RANK:
        return None
    items: list[Any] = [value]
    for dim in shape:
        if set(map(type, items)) != {list} or set(map(len, items)) != {dim}:
            return None
        items = list(chain.from_iterable(items))
    if not items:
        return _finish([], shape, dtype)
    kinds = set(map(type, items))
    try:
        if dtype in _FLOATS:
            if not kinds <= {float, int}:
                return None
            with np.errstate(over="ignore"):
                array = np.array(items, dtype=np.float64).astype(_NUMPY[dtype])
        elif dtype == DT.DT_BOOL:
            if kinds != {bool}:
                return None
            array = np.array(items, dtype=np.bool_)
        elif dtype == DT.DT_STRING:
            if kinds != {str}:
                return None
            return Dense(dtype, shape, None, [to_bytes(s) for s in items])
        elif dtype in _NUMPY:
            if kinds != {int}:
                return None
            if dtype == DT.DT_UINT64:
                array = np.array(items, dtype=np.uint64)
            else:
                wide = np.array(items, dtype=np.int64)
                low, high = int(wide.min()), int(wide.max())
                if dtype in _SMALL_INTS:
                    if low < _INT32_MIN or high > _INT32_MAX:
                        return None
                elif dtype == DT.DT_UINT32 and (low < 0 or high > _UINT32_MAX):
                    return None
                array = wide.astype(_NUMPY[dtype])
        else:
            return None
    except (OverflowError, ValueError, TypeError):
        return None
    return Dense(dtype, shape, array.reshape(shape), None)


class NeedsExactPath(Exception):
    """A ``NumericBlock`` cannot be converted as is (wrong dtype, out of range): parse the body the exact way."""


def block_to_dense(block: NumericBlock, dtype: int) -> Dense:
    """The tensor of a numeric block, with the rules of ``_fast``; ``NeedsExactPath`` for anything else."""
    values = block.values
    np_dtype = _NUMPY.get(dtype)
    if np_dtype is None or dtype == DT.DT_BOOL:
        raise NeedsExactPath
    if dtype in _FLOATS:
        with np.errstate(over="ignore"):
            array = values.astype(np.float64, copy=False).astype(np_dtype, copy=False)
    else:
        if not block.integers:
            raise NeedsExactPath
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if dtype in _SMALL_INTS and (low < _INT32_MIN or high > _INT32_MAX):
            raise NeedsExactPath
        if dtype == DT.DT_UINT32 and (low < 0 or high > _UINT32_MAX):
            raise NeedsExactPath
        if dtype == DT.DT_UINT64 and low < 0:
            raise NeedsExactPath
        array = values.astype(np_dtype, copy=False)
    return Dense(dtype, list(block.shape), array.reshape(block.shape), None)


def json_to_dense(value: Any, dtype: int) -> Dense:
    """Convert one JSON value (scalar, b64 object or nested list) to a tensor of ``dtype`` (columnar rules)."""
    if type(value) is NumericBlock:
        return block_to_dense(value, dtype)
    if type(value) is list:
        fast = _fast(value, dtype)
        if fast is not None:
            return fast
    shape = dense_shape(value)
    values: list[Any] = []
    _fill(value, shape, dtype, values)
    return _finish(values, shape, dtype)


def dense_to_proto(dense: Dense, into: tensor_pb2.TensorProto | None = None) -> tensor_pb2.TensorProto:
    """Fill (or create) a TensorProto: ``tensor_content`` for numbers and bools, ``string_val`` for strings."""
    proto = tensor_pb2.TensorProto() if into is None else into
    proto.dtype = dense.dtype
    for size in dense.shape:
        proto.tensor_shape.dim.add(size=size)
    if dense.strings is not None:
        proto.string_val.extend(dense.strings)
    elif dense.array is not None and dense.array.size:
        proto.tensor_content = np.ascontiguousarray(dense.array).tobytes()
    return proto


# --------------------------------------------------------------------------------------------------------------
# Predict request: instances / inputs
# --------------------------------------------------------------------------------------------------------------


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


class _Stacker:
    """``AddInstanceItem`` bookkeeping for one named input across the instances: size and shape must agree."""

    def __init__(self, dtype: int) -> None:
        self.dtype = dtype
        self.items: list[Dense] = []

    def add(self, value: Any) -> None:
        dense = json_to_dense(value, self.dtype)
        if self.items:
            first = self.items[0]
            if first.size != dense.size:
                raise invalid(f"Expecting tensor size: {first.size} but got: {dense.size}")
            if first.shape != dense.shape:
                raise invalid(f"Expecting shape {_shape_text(first.shape)} but got: {_shape_text(dense.shape)}")
        self.items.append(dense)

    def stacked(self) -> Dense:
        count = len(self.items)
        elem_shape = self.items[0].shape
        shape = [count, *elem_shape]
        check_rank(shape)
        if self.dtype == DT.DT_STRING:
            return Dense(self.dtype, shape, None, list(chain.from_iterable(d.strings or [] for d in self.items)))
        arrays = [d.array for d in self.items]
        if any(a is None for a in arrays):
            return Dense(self.dtype, shape, None, None)
        return Dense(self.dtype, shape, np.stack(arrays).reshape(shape), None)  # type: ignore[arg-type]


def _is_element_object(value: Any) -> bool:
    return type(value) is dict and not is_b64_object(value)


def _wrap(index: int, exc: ServingError, key: str | None = None) -> ServingError:
    where = f"{index} key: {key}" if key is not None else f"{index}"
    return invalid(f"Failed to process element: {where} of 'instances' list. Error: {exc.to_status_string()}")


def _rows_fast(instances: list[Any], inputs: Mapping[str, int], named: bool) -> dict[str, Dense] | None:
    """Whole-batch conversion when every instance is regular: equal to stacking the elements one by one."""
    if named:
        keys = set(inputs)
        if not all(type(e) is dict and e.keys() == keys for e in instances):
            return None
        columns = {name: [e[name] for e in instances] for name in inputs}
    else:
        if any(type(e) is dict for e in instances):
            return None
        columns = {next(iter(inputs)): instances}
    result: dict[str, Dense] = {}
    for name, column in columns.items():
        dense = _fast(column, inputs[name])
        if dense is None:
            return None
        result[name] = dense
    return result


def tensors_from_instances(instances: list[Any] | NumericBlock, inputs: Mapping[str, int]) -> dict[str, Dense]:
    """Row format (``FillTensorMapFromInstancesList``): stack each instance along a new batch dimension."""
    if isinstance(instances, NumericBlock):  # plain numbers: stacking the rows gives the block itself
        if len(inputs) > 1:
            raise NeedsExactPath
        name, dtype = next(iter(inputs.items()))
        return {name: block_to_dense(instances, dtype)}
    if type(instances[0]) is not dict and len(inputs) > 1:
        raise invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
            "tensorinfo_map"
        )
    named = _is_element_object(instances[0])
    fast = _rows_fast(instances, inputs, named)
    if fast is not None:
        return fast
    input_names = set(inputs)
    stackers: dict[str, _Stacker] = {}
    for index, element in enumerate(instances):
        if named:
            if not _is_element_object(element):
                raise invalid(f"Expecting object but got list at item {index} of input list")
            for key, value in element.items():
                try:
                    if key not in inputs:
                        raise invalid(f"JSON object: does not have named input: {key}")
                    stackers.setdefault(key, _Stacker(inputs[key])).add(value)
                except ServingError as exc:
                    raise _wrap(index, exc, key) from None
            if set(element) != input_names:
                raise invalid(
                    f"Failed to process element: {index} of 'instances' list. JSON object: {debug_json(element)} "
                    f"keys must be equal to: {','.join(sorted(input_names))}"
                )
        else:
            if _is_element_object(element):
                raise invalid(f"Expecting value/list but got object at item {index} of input list")
            name = next(iter(inputs))
            try:
                stackers.setdefault(name, _Stacker(inputs[name])).add(element)
            except ServingError as exc:
                raise _wrap(index, exc) from None
    return {name: stacker.stacked() for name, stacker in stackers.items()}


def tensors_from_inputs(value: Any, inputs: Mapping[str, int]) -> dict[str, Dense]:
    """Columnar format (``FillTensorMapFromInputsMap``): no batch dimension is added; extra keys are ignored."""
    if type(value) is not dict or is_b64_object(value):
        if len(inputs) > 1:
            raise invalid(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
                "tensorinfo_map"
            )
        name, dtype = next(iter(inputs.items()))
        return {name: json_to_dense(value, dtype)}
    result: dict[str, Dense] = {}
    for name, dtype in inputs.items():
        if name not in value:
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        result[name] = json_to_dense(value[name], dtype)
    return result


# --------------------------------------------------------------------------------------------------------------
# Predict response: TensorProto -> JSON text
# --------------------------------------------------------------------------------------------------------------

def _pad(values: list[Any] | np.ndarray, count: int, zero: Any) -> Any:
    """TF proto semantics: fewer typed values than elements repeats the last one (none: the zero value)."""
    have = len(values)
    if have >= count:
        return values[:count]
    if have == 0:
        return [zero] * count
    return list(values) + [values[-1]] * (count - have)


# Values formatted per piece: the text pieces of a large output replace millions of token strings at once.
_OUTPUT_PIECE_VALUES = 1 << 16
# From this many values a float32 or integer piece is written by numpy into one buffer (below it, the ~0.25 ms of
# numpy calls cost more than a string per value). Float64 keeps a string per value (TF's %.17g needs more digits
# than float64 arithmetic can decide), and bools (a Python list of "true"/"false" is as fast).
_VECTOR_TEXT = set(_NUMPY) - {DT.DT_DOUBLE, DT.DT_BOOL}
_VECTOR_TEXT_MIN_VALUES = 1024


def _output_values(name: str, proto: tensor_pb2.TensorProto) -> tuple[list[int], int, Any]:
    """Shape, element count and the flat values (numpy array, or list of bytes for strings) of one output tensor,
    with TF Serving's refusals (``AddSingleValueAndAdvance``)."""
    shape = [int(d.size) for d in proto.tensor_shape.dim]
    count = 1
    for d in shape:
        count *= max(d, 0)
    dtype = proto.dtype
    if count == 0:
        return shape, 0, []
    if dtype not in _WRITABLE:
        raise invalid(f"Failed to write JSON value for tensor type: {type_string(dtype)}")
    if dtype == DT.DT_STRING:
        return shape, count, _pad(list(proto.string_val), count, b"")
    np_dtype = _NUMPY[dtype]
    if proto.tensor_content:
        array = np.frombuffer(proto.tensor_content, dtype=np_dtype)
        if array.size < count:
            raise invalid(f"Output tensor {name} has {array.size} values in tensor_content for shape {shape}")
        return shape, count, array[:count]
    field = getattr(proto, TYPED_FIELD[dtype])
    raw = np.array(field, dtype=np.int64 if TYPED_FIELD[dtype] == "int_val" else np_dtype)
    if raw.size < count:
        raw = np.array(_pad(raw.tolist(), count, 0), dtype=raw.dtype)
    return shape, count, raw[:count].astype(np_dtype)


def _tokens(name: str, dtype: int, values: Any) -> list[str]:
    """JSON value tokens of a run of flat values of one output tensor."""
    if dtype == DT.DT_STRING:
        if name.endswith("_bytes"):
            return ['{"b64": "' + base64.b64encode(s).decode("ascii") + '"}' for s in values]
        return [string_token(s).decode("utf-8", "surrogateescape") for s in values]
    if dtype in _FLOATS:
        return format_floats(values)
    if dtype == DT.DT_BOOL:
        return ["true" if b else "false" for b in values.tolist()]
    return list(map(str, values.tolist()))


def output_tokens(name: str, proto: tensor_pb2.TensorProto) -> tuple[list[int], list[str]]:
    """Shape and flat JSON value tokens of one output tensor (``AddSingleValueAndAdvance`` per value)."""
    shape, count, values = _output_values(name, proto)
    return shape, (_tokens(name, proto.dtype, values) if count else [])


def output_rows(name: str, proto: tensor_pb2.TensorProto, joiner: str | None = None) -> tuple[list[int], list[str]]:
    """Shape and the JSON text of each slice along dimension 0 (rank 0: the value's token), written in pieces of
    whole slices of about ``_OUTPUT_PIECE_VALUES`` values. With ``joiner``, each piece's slices come joined by it
    (``joiner.join`` of the result is the same text), so a large output never holds a string per value."""
    shape, count, values = _output_values(name, proto)
    if not shape:
        return shape, _tokens(name, proto.dtype, values)
    batch, inner = shape[0], shape[1:]
    if batch == 0:
        return shape, []
    if count == 0:
        return shape, [nest([], inner)] * batch
    size = count // batch
    per_piece = max(1, _OUTPUT_PIECE_VALUES // size)
    rows: list[str] = []
    for first in range(0, batch, per_piece):
        chunk = values[first * size : (first + per_piece) * size]
        if proto.dtype in _VECTOR_TEXT and chunk.size >= _VECTOR_TEXT_MIN_VALUES:  # one buffer, no string per value
            text = values_text(chunk, inner, "\n" if joiner is None else joiner)
            if joiner is None:
                rows.extend(text.split("\n"))
            else:
                rows.append(text)
            continue
        tokens = _tokens(name, proto.dtype, chunk)
        piece = nest_rows(tokens, inner, len(tokens) // size) if inner else tokens
        if joiner is None:
            rows.extend(piece)
        else:
            rows.append(joiner.join(piece))
    return shape, rows


def predictions_json(outputs: Mapping[str, tensor_pb2.TensorProto]) -> str:
    """Row-format response body (``MakeRowFormatJsonFromTensors``)."""
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    batch = -1
    for name, proto in outputs.items():
        dims = proto.tensor_shape.dim
        if not dims:
            raise invalid(f"Tensor name: {name} has no shape information ")
        size = int(dims[0].size)
        if batch >= 0 and size != batch:
            raise invalid(f"Tensor name: {name} has inconsistent batch size: {size} expecting: {batch}")
        batch = size
    rows = {}
    for name, proto in outputs.items():
        rows[name] = output_rows(name, proto, ", " if len(outputs) == 1 else None)[1]
    if len(rows) == 1:
        items = next(iter(rows.values()))  # pieces of rows already joined by ", "
    else:
        keys = {name: string_token(name).decode("utf-8", "surrogateescape") for name in rows}
        items = [
            "{" + ", ".join(f"{keys[name]}: {rows[name][i]}" for name in rows) + "}" for i in range(max(batch, 0))
        ]
    if len(rows) == 1:
        return '{\n    "predictions": [' + ", ".join(items) + "\n    ]\n}"
    return '{\n    "predictions": [\n        ' + ",\n        ".join(items) + "\n    ]\n}"


def outputs_json(outputs: Mapping[str, tensor_pb2.TensorProto]) -> str:
    """Columnar-format response body (``MakeColumnarFormatJsonFromTensors``)."""
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    texts = {}
    for name, proto in outputs.items():
        shape, rows = output_rows(name, proto, ",")
        texts[name] = rows[0] if not shape else nest([], shape) if 0 in shape else "[" + ",".join(rows) + "]"
    if len(texts) == 1:
        body = next(iter(texts.values()))
    else:
        body = (
            "{\n        "
            + ",\n        ".join(f"{string_token(n).decode('utf-8', 'surrogateescape')}: {t}" for n, t in texts.items())
            + "\n    }"
        )
    return '{\n    "outputs": ' + body + "\n}"

