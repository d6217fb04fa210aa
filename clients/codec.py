"""numpy <-> TensorProto, with no I/O. Encodes through ``tensor_content`` (a memcpy) for numeric dtypes and
``string_val`` for bytes/str; decodes ``tensor_content`` and every typed ``*_val`` field, as ``tf.make_ndarray``.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, cast

import numpy as np

from clients import dtypes
from clients._proto import tensor_pb2
from clients.dtypes import DT_STRING, numpy_dtype_for
from clients.errors import ResponseDecodeError, ValidationError

__all__ = ["encode_tensor", "encode_tensor_chunks", "decode_tensor", "numpy_dtype_for", "dtype_name_for", "varint", "DT"]

DT = tensor_pb2.DataType
_LITTLE_ENDIAN = sys.byteorder == "little"

# The numpy dtype each typed field is read as, where it is not the tensor's own: bit patterns, (real, imag) pairs.
_READ_AS: dict[int, Any] = {DT.DT_HALF: np.uint16, DT.DT_BFLOAT16: np.uint16, DT.DT_COMPLEX64: np.float32,
                            DT.DT_COMPLEX128: np.float64}
# Which typed field carries each numeric dtype (dtypes.TYPED_FIELD, TF's Tensor::AsProtoField), and how it is read.
_TYPED_FIELD: dict[int, tuple[str, Any]] = {
    dt: (field, _READ_AS.get(dt) or np.dtype(dtypes.numpy_name(dt)).type)
    for dt, field in dtypes.TYPED_FIELD.items() if dt != DT.DT_STRING
}


# The common numeric dtypes, decoded on a short path (small answers are dominated by per-call overhead):
# DataType -> (little-endian wire dtype of tensor_content, typed field, dtype the field is read as, result dtype).
_FAST_DECODE: dict[int, tuple[np.dtype, str, np.dtype, np.dtype]] = {
    dt: (np.dtype(dtypes.numpy_name(dt)).newbyteorder("<"), field,
         np.dtype(np.int64) if field == "int_val" else np.dtype(field_dtype), np.dtype(dtypes.numpy_name(dt)))
    for dt, (field, field_dtype) in _TYPED_FIELD.items()
    if dt not in (DT.DT_HALF, DT.DT_BFLOAT16, DT.DT_COMPLEX64, DT.DT_COMPLEX128)
}


def dtype_name_for(dtype: np.dtype) -> str:
    """TF DataType name (``"DT_FLOAT"``, ...) for a numpy dtype; ValidationError if TF has none."""
    return DT.Name(_datatype_for(np.dtype(dtype), "value"))


def _datatype_for(dtype: np.dtype, what: str) -> int:
    found = dtypes.datatype_for(dtype)
    if found is None:
        raise ValidationError(
            f"{what}: dtype {dtype} has no TensorFlow equivalent; expected one of "
            f"{sorted(dtypes.NUMPY_TO_DATATYPE)} or bytes/str"
        )
    return found


def _to_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value)
    raise ValidationError(f"{what}: string tensor element must be bytes or str, got {type(value).__name__}")


def as_array(value: Any, what: str = "value") -> np.ndarray:
    """``np.asarray`` that turns nested lists of bytes/str into an object array instead of a fixed-width one."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bytes, str)):
        return np.array(value, dtype=object)
    leaf = value
    while isinstance(leaf, (list, tuple)) and leaf:
        leaf = leaf[0]
    try:
        # Nested lists of bytes/str go straight to object arrays: fixed-width 'S' would drop trailing NULs.
        array = np.array(value, dtype=object) if isinstance(leaf, (bytes, str)) else np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{what}: cannot convert to a numpy array: {exc}") from None
    if array.dtype.kind in "SU":
        array = array.astype(object)
    elif array.dtype.kind == "O" and array.size and not isinstance(array.flat[0], (bytes, str, np.bytes_)):
        raise ValidationError(f"{what}: ragged or mixed nested lists are not a tensor (got object array)")
    return array


def encode_tensor(value: Any, what: str = "value", tensor: tensor_pb2.TensorProto | None = None) -> tensor_pb2.TensorProto:
    """Encode an array-like as a TensorProto: ``tensor_content`` for numeric dtypes, ``string_val`` for bytes/str.

    ``what`` names the input in error messages. ``tensor`` lets callers fill a map entry in place (no copy).
    """
    array = as_array(value, what)
    dt = _datatype_for(array.dtype, what)
    proto = tensor_pb2.TensorProto() if tensor is None else tensor
    proto.dtype = cast(tensor_pb2.DataType, dt)  # the enum's values are plain ints on the wire
    dims = proto.tensor_shape.dim
    for size in array.shape:
        dims.add().size = size
    if dt == DT_STRING:
        proto.string_val.extend(_to_bytes(item, what) for item in array.ravel())
    else:
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    return proto


_ONE_BYTE_VARINTS = tuple(bytes([value]) for value in range(0x80))


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    if 0 <= value < 0x80:
        return _ONE_BYTE_VARINTS[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_TENSOR_CONTENT_TAG = b"\x22"  # field 4 (tensor_content), wire type 2


@functools.lru_cache(maxsize=1024)
def _tensor_header(dt: int, shape: tuple[int, ...]) -> bytes:
    """A TensorProto's dtype and tensor_shape fields, serialized; remembered, as callers repeat their shapes."""
    header = tensor_pb2.TensorProto(dtype=cast(tensor_pb2.DataType, dt))
    dims = header.tensor_shape.dim
    for size in shape:
        dims.add().size = size
    return header.SerializeToString()


def encode_tensor_chunks(value: Any, what: str = "value") -> tuple[list[bytes | memoryview], int]:
    """A serialized TensorProto as chunks to ``b"".join`` (plus its total length), without copying the data.

    Numeric tensors end with a memoryview of the array, so joining the whole request copies the data once, where
    TensorProto.tensor_content + SerializeToString copy it three times. The bytes equal SerializeToString's.
    """
    array = as_array(value, what)
    dt = _datatype_for(array.dtype, what)
    if dt == DT_STRING:
        data = encode_tensor(array, what).SerializeToString()
        return [data], len(data)
    header = _tensor_header(dt, array.shape)
    if array.size == 0:
        return [header], len(header)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    array = np.ascontiguousarray(array)
    content = (array if array.ndim else array.reshape(1)).data.cast("B")
    prefix = _TENSOR_CONTENT_TAG + varint(array.nbytes)
    return [header, prefix, content], len(header) + len(prefix) + array.nbytes


def _shape_of(proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise ResponseDecodeError("tensor has unknown rank; a concrete shape is needed to decode it")
    shape = tuple(dim.size for dim in proto.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise ResponseDecodeError(f"tensor shape {list(shape)} has negative dimensions")
    return shape


def _fill(values: np.ndarray, count: int, dtype_name: str) -> np.ndarray:
    """TF's rule for typed fields: fewer values than elements repeats the last one; none means all zero."""
    if len(values) == count:
        return values
    if len(values) > count:
        raise ResponseDecodeError(f"{dtype_name} tensor has {len(values)} values for {count} elements")
    if len(values) == 0:
        return np.zeros(count, dtype=values.dtype)
    out = np.empty(count, dtype=values.dtype)
    out[: len(values)] = values
    out[len(values) :] = values[-1]
    return out


def decode_tensor(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto (from ``tensor_content`` or the typed ``*_val`` fields) into a writable ndarray.

    DT_STRING gives an object array of ``bytes``. Raises ResponseDecodeError on inconsistent or unsupported data.
    """
    fast = _FAST_DECODE.get(proto.dtype) if _LITTLE_ENDIAN else None
    if fast is not None and not proto.tensor_shape.unknown_rank:
        shape = tuple([dim.size for dim in proto.tensor_shape.dim])
        count = math.prod(shape)
        wire, field, field_dtype, target = fast
        content = proto.tensor_content
        if min(shape, default=0) >= 0:
            if content and len(content) == count * wire.itemsize:
                decoded: np.ndarray = np.frombuffer(content, dtype=wire).reshape(shape).copy()
                return decoded
            values = getattr(proto, field)
            if not content and len(values) == count:
                return np.array(values, dtype=field_dtype).astype(target, copy=False).reshape(shape)
    return _decode_general(proto)


def _decode_general(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Every dtype and TF's fill rules (fewer typed values than elements); the error messages."""
    shape = _shape_of(proto)
    count = int(np.prod(shape, dtype=np.int64))
    dt = proto.dtype
    dtype_name = dtypes.enum_name(dt)
    if dt == DT_STRING:
        strings = np.empty(len(proto.string_val), dtype=object)
        strings[:] = list(proto.string_val)
        if len(strings) != count:
            strings = _fill(strings, count, dtype_name) if len(strings) else np.full(count, b"", dtype=object)
        return strings.reshape(shape)
    target = numpy_dtype_for(dt)
    if target is None:
        raise ResponseDecodeError(f"cannot decode {dtype_name} tensors (no numpy equivalent)")
    bf16_fallback = dt == DT.DT_BFLOAT16 and target == np.float32  # ml_dtypes missing
    if proto.tensor_content:
        raw_dtype = np.dtype(np.uint16) if bf16_fallback else target
        content = proto.tensor_content
        if len(content) != count * raw_dtype.itemsize:
            raise ResponseDecodeError(
                f"{dtype_name} tensor of shape {list(shape)} needs {count * raw_dtype.itemsize} bytes of "
                f"tensor_content, got {len(content)}"
            )
        array = np.frombuffer(content, dtype=raw_dtype.newbyteorder("<"))
        array = array.copy() if _LITTLE_ENDIAN else array.astype(raw_dtype)  # writable, native byte order
        if bf16_fallback:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array.reshape(shape)
    if dt in (
        DT.DT_FLOAT8_E5M2,
        DT.DT_FLOAT8_E4M3FN,
        DT.DT_FLOAT8_E4M3FNUZ,
        DT.DT_FLOAT8_E4M3B11FNUZ,
        DT.DT_FLOAT8_E5M2FNUZ,
    ):
        raw = np.frombuffer(proto.float8_val, dtype=np.uint8)
        return _fill(raw.copy(), count, dtype_name).view(target).reshape(shape)
    try:
        field, field_dtype = _TYPED_FIELD[dt]
    except KeyError:
        raise ResponseDecodeError(f"cannot decode {dtype_name} tensors") from None
    values = np.array(getattr(proto, field), dtype=np.int64 if field in ("int_val", "half_val") else field_dtype)
    if field in ("scomplex_val", "dcomplex_val"):
        if len(values) % 2:
            raise ResponseDecodeError(f"{dtype_name} tensor has an odd number ({len(values)}) of {field} values")
        values = values.view(target)
    elif field == "half_val":
        values = values.astype(np.uint16)
        if dt == DT.DT_HALF:
            values = values.view(np.float16)
        elif bf16_fallback:
            values = (values.astype(np.uint32) << 16).view(np.float32)
        else:
            values = values.view(target)
    else:
        values = values.astype(field_dtype, copy=False)
    return _fill(values, count, dtype_name).reshape(shape)


def shape_of_spec(proto_shape: Any) -> tuple[int | None, ...] | None:
    """TensorShapeProto (signature) -> tuple with None for unknown dims, or None for unknown rank."""
    if proto_shape.unknown_rank:
        return None
    return tuple(None if dim.size < 0 else int(dim.size) for dim in proto_shape.dim)
