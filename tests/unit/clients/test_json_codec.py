"""REST JSON codec: columnar/row requests, b64, NaN/Infinity both ways, response, status and metadata JSON."""

from __future__ import annotations

import base64
import json

import ml_dtypes
import numpy as np
import orjson
import pytest

from clients import dtypes, json_codec
from clients.errors import ResponseDecodeError, ValidationError
from clients.types import SignatureSpec, TensorSpec


def test_loads_accepts_tf_serving_nan_and_infinity_tokens() -> None:
    body = b'{"outputs": [NaN, Infinity, -Infinity, 1.5]}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    values = json_codec.loads(body)["outputs"]
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf and values[3] == 1.5


def test_loads_leaves_strings_containing_the_tokens_alone() -> None:
    body = b'{"outputs": {"s": ["NaN", "x Infinity y", "-Infinity"], "f": [NaN]}}'
    document = json_codec.loads(body)
    assert document["outputs"]["s"] == ["NaN", "x Infinity y", "-Infinity"]
    assert np.isnan(document["outputs"]["f"][0])


def test_raw_non_utf8_string_outputs_keep_their_bytes() -> None:
    """TF Serving writes DT_STRING outputs as raw bytes, unvalidated (not always valid UTF-8 JSON)."""
    body = b'{"outputs": {"s": ["ok", "\xff\xfe raw", "caf\xc3\xa9"], "f": [NaN]}}'
    decoded = json_codec.decode_predict_response(body)
    assert decoded["s"].tolist() == [b"ok", b"\xff\xfe raw", "caf\u00e9".encode()]
    assert np.isnan(decoded["f"][0])


def test_loads_rejects_garbage_with_a_decode_error() -> None:
    with pytest.raises(ResponseDecodeError, match="not valid JSON"):
        json_codec.loads(b"<html>nope</html>")


def test_columnar_request_named_and_unnamed() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    named = orjson.loads(json_codec.encode_predict_request({"x": x, "k": np.int64([1, 2])}, signature="sig"))
    assert named == {"signature_name": "sig", "inputs": {"x": x.tolist(), "k": [1, 2]}}
    unnamed = orjson.loads(json_codec.encode_predict_request(x))
    assert unnamed == {"inputs": x.tolist()}
    scalar = orjson.loads(json_codec.encode_predict_request({"s": np.float32(2.5)}))
    assert scalar == {"inputs": {"s": 2.5}}
    zero_d = orjson.loads(json_codec.encode_predict_request({"s": np.array(3, np.int32)}))
    assert zero_d == {"inputs": {"s": 3}}


def test_float32_is_written_at_float_precision() -> None:
    body = json_codec.encode_predict_request({"x": np.float32([0.1, 1.0])})
    assert b"[0.1,1.0]" in body


def test_row_request() -> None:
    body = orjson.loads(
        json_codec.encode_predict_request({"a": np.float32([[1, 2], [3, 4]]), "b": [b"x", b"y"]}, row_format=True)
    )
    assert body == {
        "instances": [
            {"a": [1.0, 2.0], "b": {"b64": base64.b64encode(b"x").decode()}},
            {"a": [3.0, 4.0], "b": {"b64": base64.b64encode(b"y").decode()}},
        ]
    }
    assert orjson.loads(json_codec.encode_predict_request(np.int32([5, 6]), row_format=True)) == {"instances": [5, 6]}
    with pytest.raises(ValidationError, match="share dim 0.*'a': 2.*'b': 1"):
        json_codec.encode_predict_request({"a": np.zeros((2, 1)), "b": np.zeros((1, 1))}, row_format=True)
    with pytest.raises(ValidationError, match="scalar"):
        json_codec.encode_predict_request(np.float32(1), row_format=True)


def test_bytes_go_as_b64_and_str_as_text() -> None:
    body = orjson.loads(json_codec.encode_predict_request({"img": [[b"\x00\xff"]], "txt": ["caf\u00e9"]}))
    assert body["inputs"]["img"] == [[{"b64": "AP8="}]]
    assert body["inputs"]["txt"] == ["caf\u00e9"]


def test_non_finite_floats_are_bare_tokens_not_null() -> None:
    for row in (False, True):
        body = json_codec.encode_predict_request({"x": np.float32([[np.nan, np.inf, -np.inf, 1.0]])}, row_format=row)
        assert b"null" not in body
        assert b"NaN" in body and b"-Infinity" in body
        document = json_codec.loads(body)
        values = (document["instances"][0]["x"] if row else document["inputs"]["x"][0])
        assert np.isnan(values[0]) and values[1:] == [np.inf, -np.inf, 1.0]


def test_non_finite_with_string_inputs_keeps_b64() -> None:
    for row in (False, True):
        body = json_codec.encode_predict_request({"t": [b"\x00", "x"], "f": np.float32([np.nan, 1])}, row_format=row)
        document = json_codec.loads(body)
        texts = [i["t"] for i in document["instances"]] if row else document["inputs"]["t"]
        assert texts == [{"b64": "AA=="}, "x"]


def test_complex_is_refused_for_json() -> None:
    with pytest.raises(ValidationError, match="input 'c': complex.*gRPC"):
        json_codec.encode_predict_request({"c": np.complex64([1j])})


SIG = SignatureSpec(
    "serving_default",
    "tensorflow/serving/predict",
    {"x": TensorSpec("x", "DT_FLOAT", (None, 2))},
    {"probs": TensorSpec("probs", "DT_FLOAT", (None, 2))},
)


def test_single_unnamed_output_is_named_from_the_signature_or_the_response_key() -> None:
    body = b'{"outputs": [[0.1, 0.9]]}'
    typed = json_codec.decode_predict_response(body, SIG)
    assert list(typed) == ["probs"] and typed["probs"].dtype == np.float32
    np.testing.assert_array_equal(typed["probs"], np.float32([[0.1, 0.9]]))
    untyped = json_codec.decode_predict_response(body)
    assert list(untyped) == ["outputs"] and untyped["outputs"].dtype == np.float64
    rows = json_codec.decode_predict_response(b'{"predictions": [[0.1, 0.9], [0.2, 0.8]]}')
    assert list(rows) == ["predictions"] and rows["predictions"].shape == (2, 2)


def test_multiple_outputs_columnar_and_row() -> None:
    columnar = json_codec.decode_predict_response(b'{"outputs": {"a": [1, 2], "b": [["x"], ["y"]]}}')
    assert columnar["a"].tolist() == [1, 2]
    assert columnar["b"].dtype == object and columnar["b"].tolist() == [[b"x"], [b"y"]]
    row = json_codec.decode_predict_response(b'{"predictions": [{"a": 1.5, "b": [1, 2]}, {"a": 2.5, "b": [3, 4]}]}')
    np.testing.assert_array_equal(row["a"], [1.5, 2.5])
    np.testing.assert_array_equal(row["b"], [[1, 2], [3, 4]])


def test_b64_outputs_and_scalar_outputs() -> None:
    b64 = json_codec.decode_predict_response(b'{"outputs": {"img_bytes": [{"b64": "AP8="}, {"b64": "YQ=="}]}}')
    assert b64["img_bytes"].tolist() == [b"\x00\xff", b"a"]
    single_b64 = json_codec.decode_predict_response(b'{"outputs": {"b64": "YQ=="}}')
    assert single_b64["outputs"].shape == () and single_b64["outputs"][()] == b"a"
    scalar = json_codec.decode_predict_response(b'{"outputs": 7.0}')
    assert scalar["outputs"].shape == ()
    with pytest.raises(ResponseDecodeError, match="bad base64"):
        json_codec.decode_predict_response(b'{"outputs": [{"b64": "!!"}]}')


def test_empty_predictions_keep_the_signature_shape() -> None:
    decoded = json_codec.decode_predict_response(b'{"predictions": []}', SIG)
    assert decoded["probs"].shape == (0, 2) and decoded["probs"].dtype == np.float32


def test_output_filter_is_applied_on_the_client() -> None:
    body = b'{"outputs": {"a": [1], "b": [2]}}'
    assert list(json_codec.decode_predict_response(body, output_filter=["b"])) == ["b"]
    with pytest.raises(ResponseDecodeError, match=r"\['c'\]"):
        json_codec.decode_predict_response(body, output_filter=["c"])


def test_malformed_predict_responses() -> None:
    strings = SignatureSpec("s", "", {}, {"t": TensorSpec("t", "DT_STRING", (None,))})
    for body, spec, message in (
        (b"[1, 2]", None, "must be a JSON object"),
        (b'{"foo": 1}', None, "neither 'outputs' nor 'predictions'"),
        (b'{"predictions": 3}', None, "must be a list"),
        (b'{"outputs": [[1, 2], [3]]}', None, "cannot convert|rectangular"),
        (b'{"outputs": [1, 2]}', strings, "expected a string"),
        (b'{"predictions": [{"a": 1}, {"b": 2}]}', None, "same outputs"),
    ):
        with pytest.raises(ResponseDecodeError, match=message):
            json_codec.decode_predict_response(body, spec)


def test_classify_and_regress_results() -> None:
    classify = json_codec.decode_classify_response(b'{"results": [[["cat", 0.7], ["", 12]], []]}')
    assert classify == [[("cat", float(np.float32(0.7))), ("", 12.0)], []]
    regress = json_codec.decode_regress_response(b'{"results": [3.5, NaN, 42]}')
    assert regress.dtype == np.float32 and regress[0] == 3.5 and np.isnan(regress[1]) and regress[2] == 42
    with pytest.raises(ResponseDecodeError, match=r"\[label, score\]"):
        json_codec.decode_classify_response(b'{"results": [[["cat"]]]}')
    with pytest.raises(ResponseDecodeError, match="'results' list"):
        json_codec.decode_regress_response(b'{"result": [1]}')


def test_examples_request_keeps_feature_kinds() -> None:
    body = json_codec.encode_examples_request(
        [{"x": 80.0, "n": 3, "flag": True, "img": b"\x00", "name": "bob", "v": np.float32([1, 2])}],
        signature="regress_x_to_y",
        context={"shared": [1.0, float("nan")]},
    )
    text = body.decode()
    assert '"x":[80.0]' in text  # the decimal point makes TF Serving use float_list
    assert '"n":[3]' in text and '"flag":[1]' in text
    assert '"shared":[1.0,NaN]' in text
    document = json_codec.loads(body)
    assert document["signature_name"] == "regress_x_to_y"
    assert document["examples"][0]["img"] == [{"b64": "AA=="}] and document["examples"][0]["name"] == [{"b64": "Ym9i"}]
    assert document["examples"][0]["v"] == [1.0, 2.0]
    with pytest.raises(ValidationError, match="feature 'm': .*mix"):
        json_codec.encode_examples_request([{"m": [1, 2.5]}])


def test_status_json() -> None:
    body = json.dumps({"model_version_status": [
        {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "2", "state": "END", "status": {"error_code": "NOT_FOUND", "error_message": "gone"}},
    ]}).encode()
    statuses = json_codec.decode_status(body)
    assert [(s.version, s.state, s.available) for s in statuses] == [(3, "AVAILABLE", True), (2, "END", False)]
    assert statuses[1].failed and statuses[1].error_message == "gone"
    with pytest.raises(ResponseDecodeError, match="status"):
        json_codec.decode_status(b'{"model_version_status": [{"version": "x"}]}')


def test_metadata_json_with_nested_signature_def() -> None:
    body = json.dumps({
        "model_spec": {"name": "half", "signature_name": "", "version": "123"},
        "metadata": {"signature_def": {"signature_def": {
            "serving_default": {
                "inputs": {"x": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}], "unknown_rank": False}, "name": "x:0"}},
                "outputs": {"y": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}, "name": "y:0"}},
                "method_name": "tensorflow/serving/predict",
                "defaults": {},
            },
            "classify_x_to_y": {
                "inputs": {"inputs": {"dtype": "DT_STRING", "tensor_shape": {"dim": [], "unknown_rank": True}, "name": "tf_example:0"}},
                "outputs": {}, "method_name": "tensorflow/serving/classify", "defaults": {},
            },
        }}},
    }).encode()
    metadata = json_codec.decode_metadata(body, "half")
    assert metadata.model == "half" and metadata.version == 123
    sig = metadata.signature()
    assert sig.inputs["x"].shape == (None, 1) and sig.inputs["x"].dtype == np.float32
    assert sig.inputs["x"].tensor_name == "x:0"
    assert metadata.signature("classify_x_to_y").inputs["inputs"].shape is None
    with pytest.raises(KeyError, match="'nope' not found.*classify_x_to_y"):
        metadata.signature("nope")
    with pytest.raises(ResponseDecodeError, match="metadata"):
        json_codec.decode_metadata(b'{"metadata": {}}', "half")


@pytest.mark.parametrize("name", sorted(dtypes.ML_DTYPES))
def test_ml_dtypes_inputs_are_sent_as_their_float32_values(name: str) -> None:
    """bfloat16 and the float8 types (float8_e5m2 has numpy kind "f") travel as the float32 numbers they hold."""
    values = np.array([[1.5, -2.0], [0.25, 8.0]], dtype=getattr(ml_dtypes, name))
    body = json_codec.encode_predict_request({"x": values, "y": np.float32([1.5])})
    assert orjson.loads(body) == {"inputs": {"x": values.astype(np.float32).tolist(), "y": [1.5]}}


@pytest.mark.parametrize("name", sorted(dtypes.ML_DTYPES))
def test_ml_dtypes_nan_is_sent_as_the_nan_token_not_null(name: str) -> None:
    """A NaN in a bfloat16/float8 input is TF Serving's bare NaN token after the widening, as for float32."""
    values = np.array([np.nan, 1.5], dtype=getattr(ml_dtypes, name))
    for body in (json_codec.encode_predict_request({"x": values}),
                 json_codec.encode_predict_request({"x": values}, row_format=True)):
        assert b"null" not in body and b"NaN" in body, body
        document = json_codec.loads(body)
        sent = document["inputs"]["x"] if "inputs" in document else [row["x"] for row in document["instances"]]
        assert np.isnan(sent[0]) and sent[1] == 1.5
