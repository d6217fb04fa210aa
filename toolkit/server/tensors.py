"""TensorProto <-> numpy for the runtime, with TF's semantics: requests may use ``tensor_content`` or typed
``*_val`` fields (a short typed list repeats its last value, as Tensor::FromProto); responses use typed fields
(Tensor::AsProtoField, TF Serving's default) or ``tensor_content`` (--enable_serialization_as_tensor_content).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from clients import dtypes

DT = types_pb2

MAX_TENSOR_BYTES = 2**31 - 1  # a decoded request tensor may not exceed what one gRPC message (INT32_MAX) can hold

# dtype enum -> (numpy dtype, typed field name), and back (numpy dtype -> dtype enum), from clients.dtypes' tables
# (bfloat16 needs ml_dtypes, which TensorFlow brings).
_DTYPES: dict[int, tuple[np.dtype, str]] = {
    dt: (numpy, field) for dt, field in dtypes.TYPED_FIELD.items() if (numpy := dtypes.numpy_dtype_for(dt)) is not None
}
_NP_TO_DT: dict[np.dtype, int] = {numpy: dt for dt, (numpy, _) in _DTYPES.items()}


class TensorParseError(ValueError):
    """The TensorProto cannot be turned into a tensor (caller adds ``tensor parsing error: <alias>``)."""


# What one decoded string element costs beyond its bytes: the array slot and the Python bytes object's header.
# TF's tstring is 24 bytes; counting more keeps the limits honest for this runtime.
STRING_ELEMENT_BYTES = 48
MAX_DIMS = 254  # TensorShape::MaxDimensions()
INT64_MAX = 2**63 - 1


def numpy_dtype(dtype: int) -> np.dtype:
    return _DTYPES[dtype][0]


def supported(dtype: int) -> bool:
    return dtype in _DTYPES


def shape_of(proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    """TensorShape(proto) with TensorShape::IsValid's rules: at most 254 dims, none negative, and an element count
    that fits in int64 (``unknown_rank`` is ignored, as Tensor::FromProto does)."""
    dims = tuple(d.size for d in proto.tensor_shape.dim)
    if len(dims) > MAX_DIMS:
        raise TensorParseError(f"tensor shape has {len(dims)} dimensions, more than the {MAX_DIMS} TensorFlow allows")
    if any(d < 0 for d in dims):
        raise TensorParseError(f"negative dimension in tensor shape {list(dims)}")
    if math.prod(dims) > INT64_MAX:
        raise TensorParseError(f"tensor shape {shape_string(dims)} has more elements than int64 can count")
    return dims


@dataclass(frozen=True)
class TensorClaim:
    """What decoding a TensorProto would allocate, computed from its header alone (nothing is allocated).

    ``given`` is how many values the proto carries (typed ``*_val`` fields or ``tensor_content``); TF repeats the
    last one (or zero) to fill the shape, and ``fill_bytes`` is what that repetition would add."""

    dtype: int
    shape: tuple[int, ...]
    count: int
    given: int
    nbytes: int
    fill_bytes: int


def _typed_values(proto: tensor_pb2.TensorProto) -> int:
    """ProtoHelper<T>::NumElements: values in the dtype's typed field (complex: pairs)."""
    field = _DTYPES[proto.dtype][1]
    n = len(getattr(proto, field))
    return n // 2 if proto.dtype in (DT.DT_COMPLEX64, DT.DT_COMPLEX128) else n


def claim(proto: tensor_pb2.TensorProto) -> TensorClaim:
    """Size of the tensor ``to_numpy`` would build, before building it (raises TensorParseError for a proto TF
    refuses by its header: unsupported dtype, invalid shape)."""
    if proto.dtype not in _DTYPES:
        raise TensorParseError(f"unsupported dtype {dtypes.enum_name(proto.dtype)}")
    shape = shape_of(proto)
    count = math.prod(shape)
    if proto.dtype == DT.DT_STRING:
        if proto.tensor_content:
            given, payload = count, len(proto.tensor_content)
        else:
            given = min(len(proto.string_val), count)
            payload = sum(len(s) for s in itertools.islice(proto.string_val, given)) if given else 0
        element = STRING_ELEMENT_BYTES
        nbytes = count * element + payload
    else:
        element = _DTYPES[proto.dtype][0].itemsize
        given = count if proto.tensor_content else min(_typed_values(proto), count)
        nbytes = count * element
    return TensorClaim(proto.dtype, shape, count, given, nbytes, (count - given) * element)


def to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a request TensorProto with Tensor::FromProto's rules (raises TensorParseError).

    ``tensor_content`` wins over typed fields and must hold exactly the shape's bytes; typed fields may hold more
    values than the shape (the rest is ignored) or fewer (the last one is repeated; none = zeros); an empty shape
    takes no values at all. Memory: one array of the tensor's size, no per-element Python objects for numbers."""
    found = claim(proto)
    if found.nbytes > MAX_TENSOR_BYTES:
        raise TensorParseError(
            f"tensor of shape {shape_string(found.shape)} ({found.count} elements) is larger than the 2 GiB a "
            "request may carry"
        )
    np_dtype, field = _DTYPES[proto.dtype]
    shape, count = found.shape, found.count
    if count == 0:
        return np.empty(shape, dtype=np_dtype)
    if proto.dtype == DT.DT_STRING:
        if proto.tensor_content:
            return _decode_string_list(proto.tensor_content, count).reshape(shape)
        values = np.fromiter(itertools.islice(proto.string_val, count), dtype=object, count=found.given)
        return _fill(values, count, b"").reshape(shape)
    if proto.tensor_content:
        content = proto.tensor_content
        if len(content) != count * np_dtype.itemsize:
            # Helper<T>::Decode's text (tensor.cc)
            raise TensorParseError(f"Input size was {len(content)} and expected {count * np_dtype.itemsize}")
        return np.frombuffer(content, dtype=np_dtype.newbyteorder("<")).astype(np_dtype).reshape(shape)
    raw = getattr(proto, field)
    n = found.given
    if proto.dtype in (DT.DT_HALF, DT.DT_BFLOAT16):  # 16-bit patterns in int32 fields
        values = np.fromiter(itertools.islice(raw, n), dtype=np.int32, count=n).astype(np.uint16).view(np_dtype)
    elif proto.dtype in (DT.DT_COMPLEX64, DT.DT_COMPLEX128):  # (real, imag) pairs; an odd last float is ignored
        flat = np.fromiter(itertools.islice(raw, 2 * n), dtype=np.float64, count=2 * n)
        values = (flat[0::2] + 1j * flat[1::2]).astype(np_dtype)
    elif field == "int_val":
        # int8/16/uint8/16 travel in int32 fields; out-of-range values wrap, as the C++ cast in FromProto does
        values = np.fromiter(itertools.islice(raw, n), dtype=np.int32, count=n).astype(np_dtype)
    else:
        values = np.fromiter(itertools.islice(raw, n), dtype=np_dtype, count=n)
    return _fill(values, count, 0).reshape(shape)


def _fill(values: np.ndarray, count: int, zero: object) -> np.ndarray:
    """FromProtoField: fewer values than elements repeat the last one (or zero if none), in one allocation."""
    n = values.shape[0]
    if n == count:
        return values
    out = np.empty(count, dtype=values.dtype)
    out[:n] = values
    out[n:] = values[-1] if n else zero
    return out


def _decode_string_list(content: bytes, count: int) -> np.ndarray:
    """port::DecodeStringList: ``count`` varint32 lengths, then the strings back to back (trailing bytes ignored)."""
    view = memoryview(content)
    pos, lengths = 0, []
    for _ in range(count):
        length, shift = 0, 0
        while True:
            if pos >= len(view) or shift > 28:
                raise TensorParseError(f"tensor_content holds fewer than {count} string lengths")
            byte = view[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        lengths.append(length)
    if sum(lengths) > len(view) - pos:
        raise TensorParseError(f"tensor_content holds {len(view) - pos} string bytes, fewer than the {sum(lengths)} "
                               "its lengths announce")
    out = np.empty(count, dtype=object)
    for i, length in enumerate(lengths):
        out[i] = bytes(view[pos:pos + length])
        pos += length
    return out


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
        _extend(proto.half_val, flat.view(np.uint16).astype(np.int32))
    elif dt in (DT.DT_COMPLEX64, DT.DT_COMPLEX128):
        pairs = np.empty(flat.size * 2, dtype=np.float64)
        pairs[0::2] = flat.real
        pairs[1::2] = flat.imag
        _extend(getattr(proto, field), pairs)
    else:
        _extend(getattr(proto, field), flat)
    return proto


_EXTEND_CHUNK = 65536


def _extend(field: Any, flat: np.ndarray) -> None:
    """Append an array to a repeated field through bounded Python lists (``tolist`` of a whole 64 MiB output would
    build 16M Python floats, 512 MB, for a moment)."""
    for start in range(0, flat.size, _EXTEND_CHUNK):
        field.extend(flat[start:start + _EXTEND_CHUNK].tolist())


def shape_string(shape: tuple[int, ...] | list[int]) -> str:
    """TF's TensorShape::DebugString style: ``[2,3]``."""
    return "[" + ",".join(str(d) for d in shape) + "]"
