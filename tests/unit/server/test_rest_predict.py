"""REST predict: JSON -> PredictRequest (rest_api.md 5.1-5.5) and PredictResponse -> JSON (5.6-5.8), over HTTP."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from tests.support.fake_core import FLOAT, INT64, STRING, FakeCore, FakeServable, RawResponse, raw_request, signature
from toolkit.server.rest import start_rest_server

DT = types_pb2
ECHO_DTYPES = {
    "float": DT.DT_FLOAT,
    "double": DT.DT_DOUBLE,
    "int32": DT.DT_INT32,
    "int16": DT.DT_INT16,
    "int8": DT.DT_INT8,
    "uint8": DT.DT_UINT8,
    "int64": DT.DT_INT64,
    "uint32": DT.DT_UINT32,
    "uint64": DT.DT_UINT64,
    "bool": DT.DT_BOOL,
    "string": DT.DT_STRING,
    "half": DT.DT_HALF,
    "bfloat16": DT.DT_BFLOAT16,
    "complex64": DT.DT_COMPLEX64,
}
# What the test sets as the raw outputs of the "custom" model (TensorProtos or arrays).
CUSTOM: dict[str, Any] = {}


def _echo(dtype: int) -> FakeServable:
    return FakeServable({"serving_default": signature({"x": dtype}, {"y": dtype})}, predict_fn=lambda a: {"y": a["x"]})


def _core() -> FakeCore:
    models: dict[str, dict[int, FakeServable]] = {f"echo_{n}": {1: _echo(d)} for n, d in ECHO_DTYPES.items()}
    models["half"] = {
        1: FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})}, predict_fn=lambda a: {"y": a["x"] * 0.5 + 2})
    }
    models["two"] = {
        1: FakeServable(
            {"serving_default": signature({"a": FLOAT, "b": INT64}, {"a_out": FLOAT, "b_out": INT64})},
            predict_fn=lambda a: {"a_out": a["a"], "b_out": a["b"]},
        )
    }
    models["strings"] = {
        1: FakeServable(
            {"serving_default": signature({"s": STRING}, {"text": STRING, "image_bytes": STRING})},
            predict_fn=lambda a: {"text": a["s"], "image_bytes": a["s"]},
        )
    }
    models["custom"] = {
        1: FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})}, predict_fn=lambda a: dict(CUSTOM))
    }
    models["noinputs"] = {1: FakeServable({"serving_default": signature({}, {"y": FLOAT})}, predict_fn=lambda a: {})}
    models["PlanetModel"] = {
        1: FakeServable(
            {"serving_default": signature({"input_image": FLOAT}, {"weather": FLOAT, "ground": FLOAT},
                                          shapes={"input_image": [-1, 128, 128, 3]})},
            predict_fn=lambda a: {
                "weather": a["input_image"].mean(axis=(1, 2)),
                "ground": a["input_image"].reshape(a["input_image"].shape[0], -1)[:, :5],
            },
        )
    }
    return FakeCore(models=models)


@pytest.fixture(scope="module")
def core() -> FakeCore:
    return _core()


@pytest.fixture(scope="module")
def port(core: FakeCore) -> Iterator[int]:
    handle = start_rest_server(core, "127.0.0.1", 0)
    yield handle.port
    handle.shutdown()


def post(port: int, model: str, body: Any) -> RawResponse:
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return raw_request(port, "POST", f"/v1/models/{model}:predict", payload)


def error(port: int, model: str, body: Any) -> tuple[int, str]:
    response = post(port, model, body)
    assert response.status != 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.status, response.json()["error"]


def last_inputs(core: FakeCore) -> dict[str, np.ndarray]:
    kind, request, _timeout = core.calls[-1]
    assert kind == "predict"
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def last_protos(core: FakeCore) -> dict[str, tensor_pb2.TensorProto]:
    return dict(core.calls[-1][1].inputs)


# ------------------------------------------------------------------------------------------------ row format


def test_row_scalars_get_batch_dimension_and_predictions(port: int, core: FakeCore) -> None:
    response = post(port, "half", {"instances": [1.0, 2, 5.0]})
    assert response.status == 200
    assert response.json() == {"predictions": [2.5, 3.0, 4.5]}
    x = last_inputs(core)["x"]
    assert x.dtype == np.float32 and x.shape == (3,) and x.tolist() == [1.0, 2.0, 5.0]
    request = core.calls[-1][1]
    assert request.model_spec.name == "half" and request.model_spec.signature_name == ""


def test_row_lists_stack_and_named_single_input(port: int, core: FakeCore) -> None:
    assert post(port, "half", {"instances": [[1, 2], [3, 4]]}).json() == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    assert last_inputs(core)["x"].shape == (2, 2)
    response = post(port, "half", {"instances": [{"x": [1, 2]}, {"x": [3, 4]}]})
    assert response.json() == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}


def test_row_multiple_inputs_and_outputs_are_objects(port: int, core: FakeCore) -> None:
    body = {"instances": [{"a": [1.5], "b": 9007199254740993}, {"a": [2.5], "b": -3}]}
    response = post(port, "two", body)
    assert response.status == 200
    assert response.json() == {"predictions": [{"a_out": [1.5], "b_out": 9007199254740993}, {"a_out": [2.5], "b_out": -3}]}
    assert "9007199254740993" in response.text  # int64 keeps all its digits
    inputs = last_inputs(core)
    assert inputs["a"].shape == (2, 1) and inputs["b"].dtype == np.int64 and inputs["b"][0] == 9007199254740993


def test_signature_name_is_passed_and_unknown_one_is_400(port: int, core: FakeCore) -> None:
    assert post(port, "half", {"signature_name": "serving_default", "instances": [1]}).status == 200
    assert core.calls[-1][1].model_spec.signature_name == "serving_default"
    assert error(port, "half", {"signature_name": "foo", "instances": [1]}) == (
        400,
        'Serving signature name: "foo" not found in signature def',
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [1], "inputs": [1]}, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"),
        ({"signature_name": "serving_default"}, "Missing 'inputs' or 'instances' key"),
        ({"instances": 5}, "Expecting 'instances' to be an list/array"),
        ({"instances": []}, "No values in 'instances' array"),
        ({"instances": [[1, 2], [1]]}, "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1"),
        ({"instances": [[1, 2], [[1, 2]]]}, "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting shape [2] but got: [1,2]"),
        ({"instances": [[1], {"x": [1]}]}, "Expecting value/list but got object at item 1 of input list"),
        ({"instances": [{"x": 1}, [1]]}, "Expecting object but got list at item 1 of input list"),
        ({"instances": [{"y": 1}]}, "Failed to process element: 0 key: y of 'instances' list. Error: INVALID_ARGUMENT: JSON object: does not have named input: y"),
        ({"instances": [[1, "a"]]}, 'Failed to process element: 0 of \'instances\' list. Error: INVALID_ARGUMENT: JSON Value: "a" Type: String is not of expected type: float'),
        ({"instances": [None]}, "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: null Type: Null is not of expected type: float"),
    ],
)
def test_row_format_errors(port: int, body: Any, message: str) -> None:
    status, got = error(port, "half", body)
    assert status == 400
    assert message in got


def test_row_shape_mismatch_with_equal_size(port: int) -> None:
    status, message = error(port, "half", {"instances": [[1, 2], [[1], [2]]]})
    assert status == 400
    assert message.endswith("Error: INVALID_ARGUMENT: Expecting shape [2] but got: [2,1]")


def test_row_multiple_inputs_errors(port: int) -> None:
    assert error(port, "two", {"instances": [[1], [2]]}) == (
        400,
        "instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map",
    )
    status, message = error(port, "two", {"instances": [{"a": [1.0]}]})
    assert status == 400
    assert message.startswith("Failed to process element: 0 of 'instances' list. JSON object: {")
    assert message.endswith("keys must be equal to: a,b")


# ------------------------------------------------------------------------------------------------ columnar format


def test_columnar_unnamed_named_and_scalar(port: int, core: FakeCore) -> None:
    assert post(port, "half", {"inputs": [[1, 2]]}).json() == {"outputs": [[2.5, 3.0]]}
    assert last_inputs(core)["x"].shape == (1, 2)
    assert post(port, "half", {"inputs": {"x": [[1, 2]], "ignored": "extra keys are fine"}}).json() == {
        "outputs": [[2.5, 3.0]]
    }
    response = post(port, "half", {"inputs": 5})
    assert response.json() == {"outputs": 4.5}
    assert last_inputs(core)["x"].shape == ()


def test_columnar_empty_list_is_shape_zero(port: int, core: FakeCore) -> None:
    response = post(port, "half", {"inputs": []})
    assert response.status == 200 and response.json() == {"outputs": []}
    assert last_inputs(core)["x"].shape == (0,)


def test_columnar_multiple_outputs_is_an_object_without_batch_constraint(port: int) -> None:
    response = post(port, "two", {"inputs": {"a": [[1.0, 2.0]], "b": [1, 2, 3]}})
    assert response.json() == {"outputs": {"a_out": [[1.0, 2.0]], "b_out": [1, 2, 3]}}


@pytest.mark.parametrize(
    ("model", "body", "status", "message"),
    [
        ("two", {"inputs": [1, 2]}, 400, "inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map"),
        ("two", {"inputs": {"a": [1.0]}}, 400, "Missing named input: b in 'inputs' object."),
        ("half", {"inputs": [[1, 2], [1]]}, 400, "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
        ("half", {"inputs": [[1, 2], [[1], 2]]}, 400, "Encountered list at unexpected level: 2 expected < 2"),
        ("half", {"inputs": [[1, 2], 3]}, 400, "JSON Value: 3 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
        ("half", {"inputs": [[1], [True]]}, 400, "JSON Value: true Type: True is not of expected type: float"),
        ("half", {"inputs": [{"b64": "aGk="}]}, 400, "Type: Object is not of expected type: float"),
        ("noinputs", {"inputs": [1]}, 400, "Failed to get input map for signature: DEFAULT"),
    ],
)
def test_columnar_errors(port: int, model: str, body: Any, status: int, message: str) -> None:
    got_status, got = error(port, model, body)
    assert got_status == status
    assert message in got


# ------------------------------------------------------------------------------------------------ parse order and JSON


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "JSON Parse error: The document is empty"),
        ("[1,", "JSON Parse error: Invalid value. at offset: 3"),
        ("[1, 2]", "JSON Value: [\n    1,\n    2\n] Is not object"),
        ('{"signature_name": 5, "instances": [1]}', "'signature_name' key must be a string value."),
    ],
)
def test_body_is_checked_before_the_model_is_looked_up(port: int, body: str, message: str) -> None:
    status, got = error(port, "no_such_model", body)
    assert status == 400
    assert message in got


def test_unknown_model_with_valid_body_is_404(port: int) -> None:
    assert error(port, "no_such_model", {"instances": [1]}) == (404, "Servable not found for request: Latest(no_such_model)")
    status, message = error(port, "half/versions/7", {"instances": [1]})
    assert (status, message) == (404, "Servable not found for request: Specific(half, 7)")
    status, message = error(port, "half/labels/prod", {"instances": [1]})
    assert (status, message) == (400, "Unrecognized servable version label: prod")


def test_nan_infinity_tokens_in_and_out_and_trailing_garbage(port: int, core: FakeCore) -> None:
    response = post(port, "echo_float", '{"instances": [NaN, Infinity, -Infinity, 1]} and then garbage')
    assert response.status == 200
    assert response.text.replace(" ", "").replace("\n", "") == '{"predictions":[NaN,Infinity,-Infinity,1.0]}'
    x = last_inputs(core)["x"]
    assert np.isnan(x[0]) and x[1] == np.inf and x[2] == -np.inf


def test_deeply_nested_unused_key_is_served(port: int, core: FakeCore) -> None:
    """rapidjson's iterative parser has no nesting limit: an ignored key 500,000 levels deep is no error."""
    body = '{"unused": ' + "[" * 500000 + "]" * 500000 + ', "instances": [1]}'
    response = post(port, "half", body)
    assert response.status == 200, response.text
    assert last_inputs(core)["x"].tolist() == [1.0]


def test_deeply_nested_wrong_value_gets_the_error_for_what_is_wrong(port: int) -> None:
    body = '{"instances": [' + "[" * 100000 + '"a"' + "]" * 100000 + "]}"
    status, message = error(port, "half", body)
    assert status == 400
    assert message == ("Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: \"a\" "
                       "Type: String is not of expected type: float")
    status, message = error(port, "half", '{"inputs": [' + "[" * 3000 + "1" + "]" * 3000 + ", 2]}")
    assert (status, message) == (400, "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 3001")


def test_deep_but_regular_tensor_nesting_is_accepted(port: int, core: FakeCore) -> None:
    value: Any = 1.0
    for _ in range(64):
        value = [value]
    assert post(port, "half", {"inputs": value}).status == 200
    assert last_inputs(core)["x"].shape == (1,) * 64


@pytest.mark.parametrize("key", ["inputs", "instances"])
def test_more_dimensions_than_numpy_holds_is_a_400_naming_the_limit(port: int, key: str) -> None:
    """Issue 10 item 4: a columnar input nested 65 levels got 500 'maximum supported dimension ... is 64'."""
    value: Any = 1.0
    for _ in range(65):
        value = [value]
    status, message = error(port, "half", {key: value if key == "inputs" else [value[0]]})
    assert status == 400
    assert "65 dimensions" in message and "limit of 64 dimensions" in message


def test_invalid_utf8_string_bytes_reach_the_model(port: int, core: FakeCore) -> None:
    response = post(port, "strings", b'{"instances": ["a\xffb"]}')
    assert response.status == 200
    assert last_protos(core)["s"].string_val == [b"a\xffb"]
    assert json.loads(response.text)["predictions"][0]["image_bytes"] == {"b64": "Yf9i"}


# ------------------------------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        ("float", [1, 2.5, 1e39, 1435774380], [1.0, 2.5, np.inf, 1435774336.0]),
        ("double", [1, 0.1, 1e300], [1.0, 0.1, 1e300]),
        ("int32", [-2147483648, 2147483647], [-2147483648, 2147483647]),
        ("int16", [1, -2], [1, -2]),
        ("int8", [300], [44]),  # range is not checked for int8/int16/uint8: C cast wraps
        ("uint8", [255, 256], [255, 0]),
        ("int64", [9007199254740993, -9223372036854775808], [9007199254740993, -9223372036854775808]),
        ("uint32", [0, 4294967295], [0, 4294967295]),
        ("uint64", [18446744073709551615], [18446744073709551615]),
        ("bool", [True, False], [True, False]),
        ("string", ["foo", "bär"], [b"foo", "bär".encode()]),
    ],
)
def test_dtype_conversions(port: int, core: FakeCore, dtype: str, values: list[Any], expected: list[Any]) -> None:
    response = post(port, f"echo_{dtype}", {"inputs": values})
    assert response.status == 200, response.text
    got = last_inputs(core)["x"]
    assert got.shape == (len(values),)
    if dtype == "float":
        assert got.dtype == np.float32
        assert got.tolist() == [np.float32(v) for v in expected]
    else:
        assert got.tolist() == expected


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        ("int32", 1.0, "JSON Value: 1.0 Type: Number is not of expected type: int32"),
        ("int32", 2.5, "JSON Value: 2.5 Type: Number is not of expected type: int32"),
        ("int32", 2147483648, "JSON Value: 2147483648 Type: Number is not of expected type: int32"),
        ("int64", 9223372036854775808, "JSON Value: 9223372036854775808 Type: Number is not of expected type: int64"),
        ("int64", 1.0, "JSON Value: 1.0 Type: Number is not of expected type: int64"),
        ("uint32", -1, "JSON Value: -1 Type: Number is not of expected type: uint32"),
        ("uint64", -1, "JSON Value: -1 Type: Number is not of expected type: uint64"),
        ("bool", 1, "JSON Value: 1 Type: Number is not of expected type: bool"),
        ("bool", 0, "JSON Value: 0 Type: Number is not of expected type: bool"),
        ("string", 5, "JSON Value: 5 Type: Number is not of expected type: string"),
        ("float", "1.0", 'JSON Value: "1.0" Type: String is not of expected type: float'),
        ("float", None, "JSON Value: null Type: Null is not of expected type: float"),
        ("double", False, "JSON Value: false Type: False is not of expected type: double"),
    ],
)
def test_dtype_rejections(port: int, dtype: str, value: Any, message: str) -> None:
    assert error(port, f"echo_{dtype}", {"inputs": [value, value]}) == (400, message)


@pytest.mark.parametrize("dtype", ["half", "bfloat16", "complex64"])
def test_unconvertible_input_dtypes_are_501_columnar_and_400_row(port: int, dtype: str) -> None:
    assert error(port, f"echo_{dtype}", {"inputs": [1.0]}) == (501, f"Conversion of JSON Value: 1.0 to type: {dtype}")
    assert error(port, f"echo_{dtype}", {"instances": [1.0]}) == (
        400,
        f"Failed to process element: 0 of 'instances' list. Error: UNIMPLEMENTED: Conversion of JSON Value: 1.0 to type: {dtype}",
    )


def test_mixed_ints_and_floats_for_a_float_input_are_fine(port: int, core: FakeCore) -> None:
    assert post(port, "echo_float", {"inputs": [[1, 2.0], [3.5, 4]]}).status == 200
    assert last_inputs(core)["x"].tolist() == [[1.0, 2.0], [3.5, 4.0]]


def test_numeric_inputs_travel_as_tensor_content(port: int, core: FakeCore) -> None:
    post(port, "echo_float", {"inputs": [[1, 2], [3, 4]]})
    proto = last_protos(core)["x"]
    assert proto.dtype == DT.DT_FLOAT and [d.size for d in proto.tensor_shape.dim] == [2, 2]
    assert np.frombuffer(proto.tensor_content, dtype="<f4").tolist() == [1, 2, 3, 4]


# ------------------------------------------------------------------------------------------------ base64


def test_b64_values_are_decoded_by_the_server(port: int, core: FakeCore) -> None:
    response = post(port, "strings", {"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ"}]})
    assert response.status == 200, response.text
    assert last_protos(core)["s"].string_val == [b"hello", b"world"]
    # String outputs come back as JSON strings, or as {"b64": ...} when the output alias ends in "_bytes".
    assert response.json() == {
        "predictions": [
            {"text": "hello", "image_bytes": {"b64": "aGVsbG8="}},
            {"text": "world", "image_bytes": {"b64": "d29ybGQ="}},
        ]
    }


def test_b64_at_any_leaf_and_named_form(port: int, core: FakeCore) -> None:
    body = {"inputs": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}
    assert post(port, "strings", body).status == 200
    assert tf.make_ndarray(last_protos(core)["s"]).tolist() == [[b"hello"], [b"world"]]
    assert post(port, "strings", {"instances": [{"s": {"b64": "aGk="}}]}).status == 200
    assert last_protos(core)["s"].string_val == [b"hi"]


def test_b64_errors(port: int) -> None:
    status, message = error(port, "strings", {"instances": [{"b64": "-_-_"}]})
    assert status == 400
    assert message == "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Unable to base64 decode"
    status, message = error(port, "strings", {"inputs": [{"b64": "aGk=", "x": 1}]})
    assert status == 400 and message.endswith("not formatted correctly for base64 data")
    assert message.startswith('JSON Value: {\n    "b64": "aGk=",')


# ------------------------------------------------------------------------------------------------ outputs


def _set_custom(**outputs: Any) -> None:
    CUSTOM.clear()
    CUSTOM.update(outputs)


def test_float_output_text_follows_write_decimal(port: int) -> None:
    values = [0.0, -0.0, 1.0, 1234567.0, 9000000.0, 0.00003, 0.1, 1 / 3, 123456.7, 1e20]
    _set_custom(y=np.array(values, dtype=np.float32))
    response = post(port, "custom", {"inputs": [1]})
    tokens = re.findall(r"[-\w.+]+", response.text.split("[", 1)[1])
    assert tokens == ["0.0", "-0.0", "1.0", "1234567.0", "9e+06", "3e-05", "0.1", "0.333333343", "123456.703", "1e+20"]
    _set_custom(y=np.array([1 / 3, 0.1], dtype=np.float64))
    assert "[0.33333333333333331,0.1]" in post(port, "custom", {"inputs": [1]}).text.replace(" ", "")


def test_typed_field_outputs_repeat_their_last_value(port: int) -> None:
    proto = tensor_pb2.TensorProto(dtype=DT.DT_FLOAT, float_val=[7.0])
    proto.tensor_shape.dim.add(size=3)
    _set_custom(y=proto)
    assert post(port, "custom", {"inputs": [1]}).json() == {"outputs": [7.0, 7.0, 7.0]}
    assert post(port, "custom", {"instances": [1]}).json() == {"predictions": [7.0, 7.0, 7.0]}


def test_int_bool_and_uint64_outputs(port: int) -> None:
    _set_custom(
        i=np.array([[1, -2]], dtype=np.int32),
        b=np.array([[True, False]]),
        u=np.array([[18446744073709551615, 0]], dtype=np.uint64),
    )
    response = post(port, "custom", {"instances": [1]})
    assert response.json() == {"predictions": [{"i": [1, -2], "b": [True, False], "u": [18446744073709551615, 0]}]}


def test_rank0_output_is_a_bare_scalar_columnar_and_an_error_in_rows(port: int) -> None:
    _set_custom(y=np.float32(7.0))
    assert post(port, "custom", {"inputs": [1]}).json() == {"outputs": 7.0}
    assert error(port, "custom", {"instances": [1]}) == (400, "Tensor name: y has no shape information ")


def test_inconsistent_batch_sizes_in_rows(port: int) -> None:
    _set_custom(a=np.zeros((2, 1), np.float32), b=np.zeros((1,), np.float32))
    status, message = error(port, "custom", {"instances": [1]})
    assert status == 400
    assert re.fullmatch(r"Tensor name: (a|b) has inconsistent batch size: (1|2) expecting: (2|1)", message)
    # Columnar has no batch constraint.
    assert post(port, "custom", {"inputs": [1]}).json() == {"outputs": {"a": [[0.0], [0.0]], "b": [0.0]}}


def test_zero_batch_rows_and_empty_output_map(port: int) -> None:
    _set_custom(y=np.zeros((0, 3), np.float32))
    assert post(port, "custom", {"instances": [1]}).json() == {"predictions": []}
    assert post(port, "custom", {"inputs": [1]}).json() == {"outputs": []}
    _set_custom()
    assert error(port, "custom", {"inputs": [1]}) == (400, "Cannot convert empty tensor map to JSON")


@pytest.mark.parametrize(
    ("array", "name"),
    [(np.zeros(2, np.complex64), "complex64"), (np.zeros(2, np.float16), "half"), (np.zeros(2, np.uint16), "uint16")],
)
def test_outputs_without_a_json_writer_are_400(port: int, array: np.ndarray, name: str) -> None:
    _set_custom(y=array)
    assert error(port, "custom", {"inputs": [1]}) == (400, f"Failed to write JSON value for tensor type: {name}")


# ------------------------------------------------------------------------------------------------ the tutorial


def test_keras_tutorial_planet_request_works_verbatim(port: int, core: FakeCore) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((128, 128, 3)).round(5)
    body = json.dumps({"instances": [{"input_image": image.tolist()}]})
    response = raw_request(port, "POST", "/v1/models/PlanetModel:predict", body)
    assert response.status == 200, response.text
    prediction = response.json()["predictions"]
    assert len(prediction) == 1 and set(prediction[0]) == {"weather", "ground"}
    np.testing.assert_allclose(prediction[0]["weather"], image.astype(np.float32).mean(axis=(0, 1)), rtol=1e-5)
    sent = last_inputs(core)["input_image"]
    assert sent.shape == (1, 128, 128, 3) and sent.dtype == np.float32
    np.testing.assert_array_equal(sent[0], image.astype(np.float32))


def test_large_columnar_float_tensor_round_trips_exactly(port: int, core: FakeCore) -> None:
    values = np.random.default_rng(1).standard_normal((64, 1000)).astype(np.float32)
    response = post(port, "echo_float", {"inputs": values.tolist()})
    assert response.status == 200
    back = np.array(response.json()["outputs"], dtype=np.float32)
    np.testing.assert_array_equal(back, values)
