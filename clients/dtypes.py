"""The one dtype vocabulary: TF's ``DataType`` enum <-> numpy dtypes <-> the text spellings TF Serving and the
toolkit print. TensorFlow-free (the clients' own proto subset numbers the enum exactly as TensorFlow does), so the
clients, the runtime, export, inspect and smoke all import it from here.

Spellings of ``DT_FLOAT``:
  ``enum_name``    ``DT_FLOAT``  DataType_Name: SignatureDefs, GetModelMetadata, TF's "of DT_FLOAT" texts
  ``type_string``  ``float``     DataTypeString: Session::Run and REST (json_tensor.cc) error texts
  ``numpy_name``   ``float32``   numpy's name: the toolkit's own reports (``tfs inspect``, export specs, smoke)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from clients._proto import tensor_pb2

__all__ = [
    "DataType",
    "DT_STRING",
    "NUMPY_TO_DATATYPE",
    "ML_DTYPES",
    "TYPED_FIELD",
    "enum_name",
    "enum_value",
    "type_string",
    "numpy_name",
    "canonical_name",
    "numpy_dtype_for",
    "datatype_for",
]

DataType = tensor_pb2.DataType
REF_OFFSET = 100  # TensorFlow's DT_FLOAT_REF = 101, ...: the reference twin of each dtype (not in the clients' proto)
_ENUM_VALUES = frozenset(DataType.values())
_ENUM_NAMES = frozenset(DataType.keys())
DT_STRING = DataType.DT_STRING  # the enum wrapper's attribute lookup costs a microsecond: hot paths read this

# numpy dtype name -> DataType, for every dtype numpy (or ml_dtypes) knows.
NUMPY_TO_DATATYPE: Mapping[str, int] = {
    "float16": DataType.DT_HALF,
    "float32": DataType.DT_FLOAT,
    "float64": DataType.DT_DOUBLE,
    "int8": DataType.DT_INT8,
    "int16": DataType.DT_INT16,
    "int32": DataType.DT_INT32,
    "int64": DataType.DT_INT64,
    "uint8": DataType.DT_UINT8,
    "uint16": DataType.DT_UINT16,
    "uint32": DataType.DT_UINT32,
    "uint64": DataType.DT_UINT64,
    "bool": DataType.DT_BOOL,
    "complex64": DataType.DT_COMPLEX64,
    "complex128": DataType.DT_COMPLEX128,
    # ml_dtypes (registered with numpy when installed; TF uses the same package).
    "bfloat16": DataType.DT_BFLOAT16,
    "float8_e5m2": DataType.DT_FLOAT8_E5M2,
    "float8_e4m3fn": DataType.DT_FLOAT8_E4M3FN,
    "float8_e4m3fnuz": DataType.DT_FLOAT8_E4M3FNUZ,
    "float8_e4m3b11fnuz": DataType.DT_FLOAT8_E4M3B11FNUZ,
    "float8_e5m2fnuz": DataType.DT_FLOAT8_E5M2FNUZ,
}
_DATATYPE_TO_NUMPY_NAME: Mapping[int, str] = {dt: name for name, dt in NUMPY_TO_DATATYPE.items()}
ML_DTYPES = frozenset({"bfloat16", "float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
                       "float8_e5m2fnuz"})
# The same table keyed by the native-order dtypes numpy itself knows: a dict lookup where ``dtype.name`` builds a
# string on every call (3 us, a sixth of encoding a small tensor). Other byte orders and ml_dtypes take the name.
_DATATYPE_BY_DTYPE: Mapping[np.dtype[Any], int] = {
    np.dtype(name): dt for name, dt in NUMPY_TO_DATATYPE.items() if name not in ML_DTYPES
}
# The typed TensorProto field each dtype's values travel in (Tensor::AsProtoField): half and bfloat16 as raw
# 16-bit patterns in half_val, complex as (real, imag) pairs.
TYPED_FIELD: Mapping[int, str] = {
    DataType.DT_FLOAT: "float_val",
    DataType.DT_DOUBLE: "double_val",
    DataType.DT_INT32: "int_val",
    DataType.DT_INT16: "int_val",
    DataType.DT_INT8: "int_val",
    DataType.DT_UINT8: "int_val",
    DataType.DT_UINT16: "int_val",
    DataType.DT_INT64: "int64_val",
    DataType.DT_UINT32: "uint32_val",
    DataType.DT_UINT64: "uint64_val",
    DataType.DT_BOOL: "bool_val",
    DataType.DT_HALF: "half_val",
    DataType.DT_BFLOAT16: "half_val",
    DataType.DT_COMPLEX64: "scomplex_val",
    DataType.DT_COMPLEX128: "dcomplex_val",
    DataType.DT_STRING: "string_val",
}
# DataType name -> numpy's name, for the dtypes numpy knows (the others read as the enum's lower-case tail).
_NUMPY_NAME: Mapping[str, str] = {"DT_STRING": "string", **{DataType.Name(dt): name for name, dt in NUMPY_TO_DATATYPE.items()}}
# Spellings people write for a dtype that are neither numpy's nor the enum's.
_ALIASES: Mapping[str, str] = {"float": "DT_FLOAT", "double": "DT_DOUBLE", "half": "DT_HALF", "string": "DT_STRING",
                               "str": "DT_STRING", "bytes": "DT_STRING", "object": "DT_STRING"}


def enum_name(dtype: int) -> str:
    """DataType_Name: ``DT_FLOAT``, ``DT_FLOAT_REF``. TF Serving names dtypes so in SignatureDefs and
    GetModelMetadata (REST and gRPC) and in texts such as ``Expected output Tensor of DT_FLOAT``.
    A number TF does not know reads ``DataType(<n>)``."""
    value = int(dtype)
    if value in _ENUM_VALUES:
        return DataType.Name(value)
    if value > REF_OFFSET and value - REF_OFFSET in _ENUM_VALUES:
        return DataType.Name(value - REF_OFFSET) + "_REF"
    return f"DataType({value})"


def enum_value(name: str) -> int | None:
    """The DataType number of an enum name (``DT_FLOAT`` -> 1, ``DT_FLOAT_REF`` -> 101); None if TF has none."""
    if name in _ENUM_NAMES:
        return DataType.Value(name)
    base = name.removesuffix("_REF")
    if base != name and base in _ENUM_NAMES and base != "DT_INVALID":
        return DataType.Value(base) + REF_OFFSET
    return None


def type_string(dtype: int) -> str:
    """TF's DataTypeString: ``float``, ``int64``, ``string``, ``float_ref``. TF Serving prints it in Session::Run's
    ``Expects arg[0] to be float but int64 is provided`` and in the REST JSON errors of json_tensor.cc
    (``... is not of expected type: float``)."""
    value = int(dtype)
    if value == DataType.DT_INVALID:
        return "INVALID"
    name = enum_name(value)
    if not name.startswith("DT_"):
        return f"unknown dtype enum ({value})"
    return name[3:].lower()


def numpy_name(dtype: int | str) -> str:
    """numpy's spelling ``float32`` (``string`` for DT_STRING, ``float_ref`` for a reference type), from a DataType
    number or any spelling ``canonical_name`` reads. Not a TF Serving text: the toolkit's own reports use it
    (``tfs inspect``, export spec checks, smoke verdicts). A name that is no dtype comes back as given."""
    name = canonical_name(dtype)
    if name in _NUMPY_NAME:
        return _NUMPY_NAME[name]
    return name[3:].lower() if name.startswith("DT_") else name


def canonical_name(dtype: Any) -> str:
    """The enum name (``DT_FLOAT``) of any spelling: a DataType number, ``DT_FLOAT``, ``float``, ``float32``,
    ``"f4"``, ``np.float32``, ``tf.float32``; bytes/str/object are ``DT_STRING``. Text that names no dtype is
    returned unchanged, so that a message can quote it."""
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        return enum_name(int(dtype))
    if isinstance(dtype, str):
        text = dtype
    else:
        text = getattr(dtype, "name", None) or ""
        if not isinstance(text, str) or not text:
            try:
                text = np.dtype(dtype).name
            except TypeError:
                return str(dtype)
    if text.startswith("DT_") and enum_value(text) is not None:
        return text
    lower = text.lower().removeprefix("dt_")
    if lower in _ALIASES:
        return _ALIASES[lower]
    upper = "DT_" + lower.upper()
    if enum_value(upper) is not None and upper != "DT_INVALID":
        return upper
    for candidate in (text, lower):  # numpy's type codes are case-sensitive ("B" uint8, "b" int8, "U4" unicode)
        try:
            found = np.dtype(candidate)
            break
        except TypeError:
            continue
    else:
        return text
    if found.kind in "OSU":
        return "DT_STRING"
    number = NUMPY_TO_DATATYPE.get(found.name)
    return text if number is None else DataType.Name(number)


def _ml_dtype(name: str) -> np.dtype[Any] | None:
    try:
        import ml_dtypes
    except ImportError:
        return None
    found: np.dtype[Any] = np.dtype(getattr(ml_dtypes, name))
    return found


def numpy_dtype_for(dtype: int | str) -> np.dtype[Any] | None:
    """numpy dtype for a TF DataType (number or name like ``"DT_FLOAT"``); object for DT_STRING; None when numpy
    has none (``DT_VARIANT``, a name TF does not know).

    bfloat16/float8 need ``ml_dtypes``; without it bfloat16 maps to float32 (lossless) and float8 to None.
    """
    number = enum_value(dtype) if isinstance(dtype, str) else int(dtype)
    if number == DataType.DT_STRING:
        return np.dtype(object)
    name = None if number is None else _DATATYPE_TO_NUMPY_NAME.get(number)
    if name is None:
        return None
    if name in ML_DTYPES:
        found = _ml_dtype(name)
        if found is None and name == "bfloat16":
            return np.dtype(np.float32)
        return found
    return np.dtype(name)


def datatype_for(dtype: np.dtype[Any]) -> int | None:
    """The DataType of a numpy dtype (bytes/str/object: DT_STRING); None when TF has none (``datetime64``)."""
    found = _DATATYPE_BY_DTYPE.get(dtype)
    if found is not None:
        return found
    if dtype.kind in "OSU":
        return DT_STRING
    return NUMPY_TO_DATATYPE.get(dtype.name)

