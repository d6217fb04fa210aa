"""clients.dtypes against TensorFlow's own enum and names: one vocabulary, every DataType value."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import types_pb2  # noqa: E402

from clients import dtypes  # noqa: E402
from clients.types import TensorSpec  # noqa: E402

TF_VALUES = list(types_pb2.DataType.values())


def test_enum_names_are_tensorflows_for_every_value_including_reference_types() -> None:
    assert len(TF_VALUES) > 60  # the 33 reference twins are covered too
    for value in TF_VALUES:
        assert dtypes.enum_name(value) == types_pb2.DataType.Name(value)
        assert dtypes.enum_value(types_pb2.DataType.Name(value)) == value
    assert dtypes.enum_name(999) == "DataType(999)" and dtypes.enum_value("DT_NOPE") is None


def test_numpy_names_are_tensorflows_dtype_names_for_value_types() -> None:
    for value in TF_VALUES:
        if value in (types_pb2.DT_INVALID,) or value > dtypes.REF_OFFSET:
            continue
        assert dtypes.numpy_name(value) == tf.dtypes.as_dtype(value).name, types_pb2.DataType.Name(value)
    assert dtypes.numpy_name(types_pb2.DT_FLOAT_REF) == "float_ref"


def test_type_strings_are_datatypestrings() -> None:
    # TF's DataTypeString (types.cc), the spelling of Session::Run's and json_tensor.cc's errors.
    expected = {types_pb2.DT_FLOAT: "float", types_pb2.DT_DOUBLE: "double", types_pb2.DT_INT64: "int64",
                types_pb2.DT_STRING: "string", types_pb2.DT_BOOL: "bool", types_pb2.DT_HALF: "half",
                types_pb2.DT_BFLOAT16: "bfloat16", types_pb2.DT_COMPLEX64: "complex64",
                types_pb2.DT_RESOURCE: "resource", types_pb2.DT_VARIANT: "variant", types_pb2.DT_QINT8: "qint8",
                types_pb2.DT_FLOAT_REF: "float_ref", types_pb2.DT_INVALID: "INVALID"}
    assert {v: dtypes.type_string(v) for v in expected} == expected


@pytest.mark.parametrize("spelling", ["float32", "float", "DT_FLOAT", "dt_float", "f4", "<f4", np.float32,
                                      np.dtype(np.float32), tf.float32, types_pb2.DT_FLOAT])
def test_every_spelling_reads_as_the_enum_name(spelling: object) -> None:
    assert dtypes.canonical_name(spelling) == "DT_FLOAT"
    assert TensorSpec("x", spelling).dtype_name == "DT_FLOAT"  # type: ignore[arg-type]


def test_strings_and_unknown_spellings() -> None:
    for spelling in ("string", "str", "bytes", "object", tf.string, np.dtype(object), "DT_STRING"):
        assert dtypes.canonical_name(spelling) == "DT_STRING"
    assert dtypes.canonical_name("no_such_dtype") == "no_such_dtype"  # kept as given, for the message
    spec = TensorSpec("x", "no_such_dtype")
    assert (spec.numpy_name, spec.dtype) == ("no_such_dtype", None)


def test_numpy_dtypes_round_trip() -> None:
    for name, value in dtypes.NUMPY_TO_DATATYPE.items():
        found = dtypes.numpy_dtype_for(value)
        assert found is not None and found.name == name
        assert dtypes.datatype_for(found) == value
    assert dtypes.datatype_for(np.dtype("datetime64[s]")) is None
    assert dtypes.numpy_dtype_for("DT_VARIANT") is None


@pytest.mark.parametrize("code", ["B", "b", "H", "h", "I", "i", "L", "Q", "F", "D", "e", "?", "U4", "<U4", "S10", "O"])
def test_numpy_type_codes_keep_their_case(code: str) -> None:
    """numpy's one-letter codes are case-sensitive ("B" is uint8, "b" int8): each reads as numpy reads it."""
    found = np.dtype(code)
    want = "DT_STRING" if found.kind in "OSU" else dtypes.DataType.Name(dtypes.NUMPY_TO_DATATYPE[found.name])
    assert dtypes.canonical_name(code) == want
