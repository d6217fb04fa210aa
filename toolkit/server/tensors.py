"""TensorProto <-> numpy for the runtime, with TF's semantics: requests may use ``tensor_content`` or typed
``*_val`` fields (a short typed list repeats its last value, as Tensor::FromProto); responses use typed fields
(Tensor::AsProtoField, TF Serving's default) or ``tensor_content`` (--enable_serialization_as_tensor_content).
"""

from __future__ import annotations

import math

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

DT = types_pb2

MAX_TENSOR_BYTES = 2**31 - 1  # a decoded request tensor may not exceed what one gRPC message (INT32_MAX) can hold

# dtype enum -> (numpy dtype, typed field name)
_DTYPES: dict[int, tuple[np.dtype, str]] = {
    DT.DT_FLOAT: (np.dtype(np.float32), "float_val"),
    DT.DT_DOUBLE: (np.dtype(np.float64), "double_val"),
    DT.DT_INT32: (np.dtype(np.int32), "int_val"),
    DT.DT_INT16: (np.dtype(np.int16), "int_val"),
    DT.DT_INT8: (np.dtype(np.int8), "int_val"),
    DT.DT_UINT8: (np.dtype(np.uint8), "int_val"),
    DT.DT_UINT16: (np.dtype(np.uint16), "int_val"),
    DT.DT_INT64: (np.dtype(np.int64), "int64_val"),
    DT.DT_UINT32: (np.dtype(np.uint32), "uint32_val"),
    DT.DT_UINT64: (np.dtype(np.uint64), "uint64_val"),
    DT.DT_BOOL: (np.dtype(np.bool_), "bool_val"),
    DT.DT_HALF: (np.dtype(np.float16), "half_val"),
    DT.DT_COMPLEX64: (np.dtype(np.complex64), "scomplex_val"),
    DT.DT_COMPLEX128: (np.dtype(np.complex128), "dcomplex_val"),
    DT.DT_STRING: (np.dtype(object), "string_val"),
}
try:  # bfloat16 comes with TensorFlow's ml_dtypes; it travels as raw 16-bit patterns in half_val
    import ml_dtypes

    _DTYPES[DT.DT_BFLOAT16] = (np.dtype(ml_dtypes.bfloat16), "half_val")
except ImportError:  # pragma: no cover - TensorFlow always brings ml_dtypes
    pass

_NP_TO_DT: dict[np.dtype, int] = {
    np.dtype(np.float32): DT.DT_FLOAT,
    np.dtype(np.float64): DT.DT_DOUBLE,
    np.dtype(np.int32): DT.DT_INT32,
    np.dtype(np.int16): DT.DT_INT16,
    np.dtype(np.int8): DT.DT_INT8,
    np.dtype(np.uint8): DT.DT_UINT8,
    np.dtype(np.uint16): DT.DT_UINT16,
    np.dtype(np.int64): DT.DT_INT64,
    np.dtype(np.uint32): DT.DT_UINT32,
    np.dtype(np.uint64): DT.DT_UINT64,
    np.dtype(np.bool_): DT.DT_BOOL,
    np.dtype(np.float16): DT.DT_HALF,
    np.dtype(np.complex64): DT.DT_COMPLEX64,
    np.dtype(np.complex128): DT.DT_COMPLEX128,
    np.dtype(object): DT.DT_STRING,
}
if DT.DT_BFLOAT16 in _DTYPES:
    _NP_TO_DT[_DTYPES[DT.DT_BFLOAT16][0]] = DT.DT_BFLOAT16


class TensorParseError(ValueError):
    """The TensorProto cannot be turned into a tensor (caller adds ``tensor parsing error: <alias>``)."""


def dtype_name(dtype: int) -> str:
    """``DT_FLOAT`` style name of a dtype enum value."""
    try:
        return DT.DataType.Name(dtype)
    except ValueError:
        return f"DT_<{dtype}>"


def short_dtype_name(dtype: int) -> str:
    """TF's DataTypeString: ``float``, ``int64``, ``string`` ..."""
    name = dtype_name(dtype)
    return {"DT_FLOAT": "float", "DT_DOUBLE": "double", "DT_BOOL": "bool"}.get(name, name[3:].lower())


def numpy_dtype(dtype: int) -> np.dtype:
    return _DTYPES[dtype][0]


def supported(dtype: int) -> bool:
    return dtype in _DTYPES


def shape_of(proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    """The dims as Tensor::FromProto reads them (``unknown_rank`` is not looked at; a negative size is invalid)."""
    dims = tuple(d.size for d in proto.tensor_shape.dim)
    if any(d < 0 for d in dims):
        raise TensorParseError(f"negative dimension in tensor shape {list(dims)}")
    return dims


def to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a request TensorProto (raises TensorParseError)."""
    if proto.dtype not in _DTYPES:
        raise TensorParseError(f"unsupported dtype {dtype_name(proto.dtype)}")
    np_dtype, field = _DTYPES[proto.dtype]
    shape = shape_of(proto)
    count = math.prod(shape)
    itemsize = np_dtype.itemsize if proto.dtype != DT.DT_STRING else 1
    if count * itemsize > MAX_TENSOR_BYTES:
        raise TensorParseError(
            f"tensor of shape {shape_string(shape)} ({count} elements) is larger than the 2 GiB a request may carry"
        )
    if proto.dtype == DT.DT_STRING:
        values = list(proto.string_val)
        return _fill(np.array(values, dtype=object) if values else np.array([], dtype=object), count, shape, b"")
    if proto.tensor_content:
        content = proto.tensor_content
        if len(content) != count * np_dtype.itemsize:
            raise TensorParseError(
                f"tensor_content has {len(content)} bytes, expected {count * np_dtype.itemsize} for shape "
                f"{list(shape)} of {dtype_name(proto.dtype)}"
            )
        return np.frombuffer(content, dtype=np_dtype.newbyteorder("<")).astype(np_dtype).reshape(shape)
    raw = getattr(proto, field)
    if proto.dtype in (DT.DT_HALF, DT.DT_BFLOAT16):
        values = np.array(list(raw), dtype=np.int64).astype(np.uint16).view(np_dtype)
    elif proto.dtype in (DT.DT_COMPLEX64, DT.DT_COMPLEX128):
        flat = np.array(list(raw), dtype=np.float64)
        flat = flat[: flat.size - flat.size % 2]  # FromProto counts whole (real, imag) pairs only
        values = (flat[0::2] + 1j * flat[1::2]).astype(np_dtype)
    elif field == "int_val":
        # int8/16/uint8/16 travel in int32 fields; out-of-range values wrap, as the C++ cast in FromProto does
        values = np.array(list(raw), dtype=np.int64).astype(np_dtype)
    else:
        values = np.array(list(raw), dtype=np_dtype)
    return _fill(values, count, shape, 0)


def _fill(values: np.ndarray, count: int, shape: tuple[int, ...], zero: object) -> np.ndarray:
    """Tensor::FromProto semantics: fewer values than elements repeat the last one (or zero if none); values
    beyond the element count are ignored."""
    n = values.shape[0]
    if n > count:
        values = values[:count]
    elif n < count:
        fill = values[-1] if n else zero
        values = np.concatenate([values, np.full(count - n, fill, dtype=values.dtype)])
    return values.reshape(shape)


def _shape_proto(shape: tuple[int, ...]) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])


def dtype_of_array(array: np.ndarray) -> int:
    if array.dtype.kind in ("S", "U", "O"):
        return DT.DT_STRING
    try:
        return _NP_TO_DT[array.dtype]
    except KeyError:
        raise TensorParseError(f"unsupported numpy dtype {array.dtype}") from None


def from_numpy(array: np.ndarray, *, dtype: int | None = None, tensor_content: bool = False) -> tensor_pb2.TensorProto:
    """Encode an output tensor: typed fields (AsProtoField) or packed bytes (AsProtoTensorContent)."""
    array = np.asarray(array)
    dt = dtype if dtype is not None else dtype_of_array(array)
    proto = tensor_pb2.TensorProto(dtype=dt, tensor_shape=_shape_proto(array.shape))
    if dt == DT.DT_STRING:
        flat = array.reshape(-1)
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
        return proto
    np_dtype, field = _DTYPES[dt]
    flat = np.ascontiguousarray(array.astype(np_dtype, copy=False)).reshape(-1)
    if tensor_content:
        proto.tensor_content = flat.astype(np_dtype.newbyteorder("<"), copy=False).tobytes()
        return proto
    if dt in (DT.DT_HALF, DT.DT_BFLOAT16):
        proto.half_val.extend(flat.view(np.uint16).astype(np.int32).tolist())
    elif dt in (DT.DT_COMPLEX64, DT.DT_COMPLEX128):
        pairs = np.empty(flat.size * 2, dtype=np.float64)
        pairs[0::2] = flat.real
        pairs[1::2] = flat.imag
        getattr(proto, field).extend(pairs.tolist())
    else:
        getattr(proto, field).extend(flat.tolist())
    return proto


def shape_string(shape: tuple[int, ...] | list[int]) -> str:
    """TF's TensorShape::DebugString style: ``[2,3]``."""
    return "[" + ",".join(str(d) for d in shape) + "]"
