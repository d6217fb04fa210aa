"""numpy <-> TensorProto codec without TensorFlow: every dtype, scalars, empty tensors, strings, both decode paths."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from clients import codec, dtypes
from clients._proto import tensor_pb2
from clients.codec import decode_tensor, encode_tensor
from clients.errors import ResponseDecodeError, ValidationError

DT = tensor_pb2.DataType
DTYPES = {
    np.float16: DT.DT_HALF,
    ml_dtypes.bfloat16: DT.DT_BFLOAT16,
    np.float32: DT.DT_FLOAT,
    np.float64: DT.DT_DOUBLE,
    np.int8: DT.DT_INT8,
    np.int16: DT.DT_INT16,
    np.int32: DT.DT_INT32,
    np.int64: DT.DT_INT64,
    np.uint8: DT.DT_UINT8,
    np.uint16: DT.DT_UINT16,
    np.uint32: DT.DT_UINT32,
    np.uint64: DT.DT_UINT64,
    np.bool_: DT.DT_BOOL,
    np.complex64: DT.DT_COMPLEX64,
    np.complex128: DT.DT_COMPLEX128,
}


def _values(dtype) -> np.ndarray:
    if dtype is np.bool_:
        return np.array([[True, False, True], [False, False, True]])
    if np.dtype(dtype).kind == "c":
        return np.array([[1 + 2j, -3.5j, 0], [4, 5 - 1j, 6]], dtype=dtype)
    if np.dtype(dtype).kind == "u":
        return np.array([[0, 1, 2], [3, 200, np.iinfo(dtype).max]], dtype=dtype)
    if np.dtype(dtype).kind == "i":
        return np.array([[np.iinfo(dtype).min, -1, 0], [1, 100, np.iinfo(dtype).max]], dtype=dtype)
    return np.array([[-1.5, 0.0, 0.25], [1e3, -0.0, 3.0]], dtype=dtype)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda d: np.dtype(d).name)
def test_roundtrip_through_tensor_content(dtype) -> None:
    array = _values(dtype)
    proto = encode_tensor(array)
    assert proto.dtype == DTYPES[dtype]
    assert [d.size for d in proto.tensor_shape.dim] == [2, 3]
    assert len(proto.tensor_content) == array.nbytes
    decoded = decode_tensor(tensor_pb2.TensorProto.FromString(proto.SerializeToString()))
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    decoded[0, 0] = decoded[1, 1]  # writable, not a view on the message bytes


@pytest.mark.parametrize("shape", [(), (0,), (2, 0), (0, 3, 4), (1, 1, 1)])
def test_scalars_and_empty(shape) -> None:
    array = np.full(shape, 7, dtype=np.int32)
    decoded = decode_tensor(encode_tensor(array))
    assert decoded.shape == shape and decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, array)


def test_python_scalars_and_lists() -> None:
    assert decode_tensor(encode_tensor(3.5)).dtype == np.float64
    assert decode_tensor(encode_tensor([1, 2])).tolist() == [1, 2]
    assert decode_tensor(encode_tensor(True)).dtype == np.bool_


def test_big_endian_and_non_contiguous_inputs() -> None:
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    np.testing.assert_array_equal(decode_tensor(encode_tensor(big)), big.astype("<f4"))
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(decode_tensor(encode_tensor(strided)), strided)
    fortran = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    np.testing.assert_array_equal(decode_tensor(encode_tensor(fortran)), fortran)


def test_strings_bytes_and_unicode() -> None:
    value = [["plain", "caf\u00e9"], [b"\x00\xffbin\x00", b""]]
    proto = encode_tensor(value)
    assert proto.dtype == DT.DT_STRING
    assert list(proto.string_val) == [b"plain", "caf\u00e9".encode(), b"\x00\xffbin\x00", b""]
    decoded = decode_tensor(proto)
    assert decoded.dtype == object and decoded.shape == (2, 2)
    assert decoded[1, 0] == b"\x00\xffbin\x00"
    assert decode_tensor(encode_tensor(np.array(["a", "bc"]))).tolist() == [b"a", b"bc"]
    assert decode_tensor(encode_tensor(b"one")).shape == ()


def test_string_errors_name_the_input() -> None:
    with pytest.raises(ValidationError, match="input 'x'.*bytes or str, got int"):
        encode_tensor(np.array([b"a", 3], dtype=object), "input 'x'")


def test_unsupported_dtypes_are_rejected_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="datetime64.*no TensorFlow equivalent"):
        encode_tensor(np.array(["2020-01-01"], dtype="datetime64[D]"))
    with pytest.raises(ValidationError, match="inhomogeneous"):
        encode_tensor([[1, 2], [3]])


def _typed(dtype: int, shape, **fields) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    return proto


@pytest.mark.parametrize(
    ("dtype", "field", "values", "expected"),
    [
        (DT.DT_FLOAT, "float_val", [1.5, -2.0, 3.0, 4.0], np.float32([1.5, -2.0, 3.0, 4.0])),
        (DT.DT_DOUBLE, "double_val", [0.1, 0.2, 0.3, 0.4], np.float64([0.1, 0.2, 0.3, 0.4])),
        (DT.DT_INT32, "int_val", [-1, 2, -3, 4], np.int32([-1, 2, -3, 4])),
        (DT.DT_INT16, "int_val", [-300, 2, 3, 4], np.int16([-300, 2, 3, 4])),
        (DT.DT_INT8, "int_val", [-128, 127, 0, 1], np.int8([-128, 127, 0, 1])),
        (DT.DT_UINT8, "int_val", [255, 0, 1, 2], np.uint8([255, 0, 1, 2])),
        (DT.DT_UINT16, "int_val", [65535, 0, 1, 2], np.uint16([65535, 0, 1, 2])),
        (DT.DT_INT64, "int64_val", [-(2**63), 2**63 - 1, 0, 1], np.int64([-(2**63), 2**63 - 1, 0, 1])),
        (DT.DT_UINT32, "uint32_val", [2**32 - 1, 0, 1, 2], np.uint32([2**32 - 1, 0, 1, 2])),
        (DT.DT_UINT64, "uint64_val", [2**64 - 1, 0, 1, 2], np.uint64([2**64 - 1, 0, 1, 2])),
        (DT.DT_BOOL, "bool_val", [True, False, True, True], np.array([True, False, True, True])),
        (DT.DT_HALF, "half_val", np.float16([1.5, -2, 0, 65504]).view(np.uint16).tolist(), np.float16([1.5, -2, 0, 65504])),
        (
            DT.DT_BFLOAT16,
            "half_val",
            np.array([1.5, -2, 0, 256], dtype=ml_dtypes.bfloat16).view(np.uint16).tolist(),
            np.array([1.5, -2, 0, 256], dtype=ml_dtypes.bfloat16),
        ),
        (DT.DT_COMPLEX64, "scomplex_val", [1, 2, 3, 4, 5, 6, 7, 8], np.complex64([1 + 2j, 3 + 4j, 5 + 6j, 7 + 8j])),
        (DT.DT_COMPLEX128, "dcomplex_val", [1, -2, 3, 4, 5, 6, 7, 8], np.complex128([1 - 2j, 3 + 4j, 5 + 6j, 7 + 8j])),
        (DT.DT_STRING, "string_val", [b"a", b"b", b"c", b"d"], np.array([b"a", b"b", b"c", b"d"], dtype=object)),
    ],
)
def test_typed_fields_decode(dtype, field, values, expected) -> None:
    decoded = decode_tensor(_typed(dtype, (2, 2), **{field: values}))
    assert decoded.dtype == expected.dtype
    assert decoded.shape == (2, 2)
    np.testing.assert_array_equal(decoded, expected.reshape(2, 2))


def test_fewer_typed_values_repeat_the_last_and_none_means_zero() -> None:
    np.testing.assert_array_equal(decode_tensor(_typed(DT.DT_FLOAT, (2, 3), float_val=[1.0, 2.0])), [[1, 2, 2], [2, 2, 2]])
    np.testing.assert_array_equal(decode_tensor(_typed(DT.DT_INT64, (3,))), [0, 0, 0])
    np.testing.assert_array_equal(decode_tensor(_typed(DT.DT_COMPLEX64, (2,), scomplex_val=[1, 2])), [1 + 2j, 1 + 2j])
    assert decode_tensor(_typed(DT.DT_STRING, (3,), string_val=[b"x"])).tolist() == [b"x", b"x", b"x"]
    assert decode_tensor(_typed(DT.DT_STRING, (2,))).tolist() == [b"", b""]


def test_malformed_tensors_raise_decode_errors() -> None:
    with pytest.raises(ResponseDecodeError, match="3 values for 2 elements"):
        decode_tensor(_typed(DT.DT_FLOAT, (2,), float_val=[1, 2, 3]))
    with pytest.raises(ResponseDecodeError, match="needs 8 bytes of tensor_content, got 3"):
        decode_tensor(_typed(DT.DT_FLOAT, (2,), tensor_content=b"abc"))
    with pytest.raises(ResponseDecodeError, match="odd number"):
        decode_tensor(_typed(DT.DT_COMPLEX64, (1,), scomplex_val=[1, 2, 3]))
    with pytest.raises(ResponseDecodeError, match="unknown rank"):
        decode_tensor(tensor_pb2.TensorProto(dtype=DT.DT_FLOAT, tensor_shape={"unknown_rank": True}))
    with pytest.raises(ResponseDecodeError, match="DT_RESOURCE"):
        decode_tensor(_typed(DT.DT_RESOURCE, (1,)))
    with pytest.raises(ResponseDecodeError, match="negative"):
        decode_tensor(_typed(DT.DT_FLOAT, (-1,)))


def test_bfloat16_without_ml_dtypes_decodes_to_float32(monkeypatch) -> None:
    bits = np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16).view(np.uint16)
    monkeypatch.setattr(dtypes, "_ml_dtype", lambda name: None)
    for proto in (
        _typed(DT.DT_BFLOAT16, (2,), half_val=bits.tolist()),
        _typed(DT.DT_BFLOAT16, (2,), tensor_content=bits.tobytes()),
    ):
        decoded = decode_tensor(proto)
        assert decoded.dtype == np.float32
        np.testing.assert_array_equal(decoded, [1.5, -2.0])


def test_dtype_names() -> None:
    assert codec.numpy_dtype_for("DT_FLOAT") == np.float32
    assert codec.numpy_dtype_for(DT.DT_STRING) == np.dtype(object)
    assert codec.numpy_dtype_for("DT_VARIANT") is None
    assert codec.dtype_name_for(np.dtype(np.uint16)) == "DT_UINT16"


def test_datatype_for_every_numpy_dtype_in_every_byte_order_agrees_with_the_name_table() -> None:
    """The lookup by dtype object and the one by name (the table) give the same answer, byte order included."""
    for code in np.typecodes["All"]:
        for order in "<>=|":
            dtype = np.dtype(code).newbyteorder(order)
            expected = dtypes.DT_STRING if dtype.kind in "OSU" else dtypes.NUMPY_TO_DATATYPE.get(dtype.name)
            assert dtypes.datatype_for(dtype) == expected, dtype
    for name in dtypes.ML_DTYPES:
        dtype = np.dtype(getattr(ml_dtypes, name))
        assert dtypes.datatype_for(dtype) == dtypes.NUMPY_TO_DATATYPE[name]


def test_repeated_and_alternating_shapes_and_dtypes_encode_as_protobuf_does() -> None:
    """Tensor headers are remembered per (dtype, shape): every combination, in any order, stays exact."""
    arrays = [np.ones(shape, dtype) for shape in [(2, 3), (3, 2), (6,), (), (1, 0)] for dtype in ("<f4", "<i4")]
    for array in arrays + arrays[::-1] + arrays:
        chunks, length = codec.encode_tensor_chunks(array)
        data = b"".join(chunks)
        assert len(data) == length and data == encode_tensor(array).SerializeToString(), (array.dtype, array.shape)
