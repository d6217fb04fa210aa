"""REST classify and regress: JSON -> tf.Example requests and ``{"results": ...}`` answers (rest_api.md 6)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import classification_pb2, input_pb2, regression_pb2

from tests.support.fake_core import FLOAT, STRING, FakeCore, FakeServable, RawResponse, raw_request, signature
from toolkit.server.rest import start_rest_server


def _examples(request_input: input_pb2.Input) -> list[example_pb2.Example]:
    """The examples with the context merged in, as the servable sees them."""
    if request_input.HasField("example_list_with_context"):
        merged = []
        for example in request_input.example_list_with_context.examples:
            full = example_pb2.Example()
            full.CopyFrom(request_input.example_list_with_context.context)
            full.MergeFrom(example)
            merged.append(full)
        return merged
    return list(request_input.example_list.examples)


def _x(example: example_pb2.Example) -> float:
    return example.features.feature["x"].float_list.value[0]


def _regress(request_input: input_pb2.Input) -> regression_pb2.RegressionResult:
    result = regression_pb2.RegressionResult()
    for example in _examples(request_input):
        result.regressions.add(value=0.5 * _x(example) + 2)
    return result


def _classify(request_input: input_pb2.Input) -> classification_pb2.ClassificationResult:
    result = classification_pb2.ClassificationResult()
    for example in _examples(request_input):
        classes = result.classifications.add()
        if "labels" in example.features.feature:
            for label in example.features.feature["labels"].bytes_list.value:
                classes.classes.add(label=label.decode(), score=0.25)
        else:
            classes.classes.add(label="", score=0.5 * _x(example) + 2)
    return result


def _core() -> FakeCore:
    classify_sig = signature({"inputs": STRING}, {"scores": FLOAT}, method_name="tensorflow/serving/classify")
    regress_sig = signature({"inputs": STRING}, {"outputs": FLOAT}, method_name="tensorflow/serving/regress")
    servable = FakeServable(
        {
            "serving_default": signature({"x": FLOAT}, {"y": FLOAT}),
            "classify_x_to_y": classify_sig,
            "regress_x_to_y": regress_sig,
        },
        classify_fn=_classify,
        regress_fn=_regress,
    )
    empty = FakeServable(
        {"serving_default": regress_sig},
        classify_fn=lambda _: classification_pb2.ClassificationResult(),
        regress_fn=lambda _: regression_pb2.RegressionResult(),
    )
    return FakeCore(models={"half": {1: servable}, "empty": {1: empty}})


@pytest.fixture(scope="module")
def core() -> FakeCore:
    return _core()


@pytest.fixture(scope="module")
def port(core: FakeCore) -> Iterator[int]:
    handle = start_rest_server(core, "127.0.0.1", 0, timeout_ms=2500)
    yield handle.port
    handle.shutdown()


def call(port: int, verb: str, body: Any, model: str = "half") -> RawResponse:
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return raw_request(port, "POST", f"/v1/models/{model}:{verb}", payload)


def error(port: int, verb: str, body: Any, model: str = "half") -> tuple[int, str]:
    response = call(port, verb, body, model)
    assert response.status != 200, response.text
    return response.status, response.json()["error"]


def last_request(core: FakeCore) -> Any:
    return core.calls[-1][1]


def test_regress_half_plus_two(port: int, core: FakeCore) -> None:
    response = call(port, "regress", {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]})
    assert response.status == 200, response.text
    assert response.json() == {"results": [42.0]}
    assert "42.0" in response.text
    request = last_request(core)
    assert request.model_spec.name == "half" and request.model_spec.signature_name == "regress_x_to_y"
    assert list(request.input.example_list.examples[0].features.feature["x"].float_list.value) == [80.0]
    assert core.calls[-1][2] == 2.5


def test_classify_half_plus_two(port: int) -> None:
    response = call(port, "classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}, {"x": 1.0}]})
    assert response.status == 200, response.text
    assert response.json() == {"results": [[["", 12.0]], [["", 2.5]]]}


def test_classify_with_labels_and_context(port: int, core: FakeCore) -> None:
    body = {
        "signature_name": "classify_x_to_y",
        "context": {"labels": ["car", "bike"]},
        "examples": [{"x": 1.0}],
    }
    response = call(port, "classify", body)
    assert response.json() == {"results": [[["car", 0.25], ["bike", 0.25]]]}
    request_input = last_request(core).input
    assert request_input.HasField("example_list_with_context")
    assert list(request_input.example_list_with_context.context.features.feature["labels"].bytes_list.value) == [
        b"car",
        b"bike",
    ]


def test_version_and_label_reach_the_request(port: int, core: FakeCore) -> None:
    response = raw_request(port, "POST", "/v1/models/half/versions/1:regress",
                           json.dumps({"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}))
    assert response.json() == {"results": [3.0]}
    assert last_request(core).model_spec.version.value == 1


def _features(core: FakeCore) -> dict[str, Any]:
    example = last_request(core).input.example_list.examples[0]
    out: dict[str, Any] = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[name] = (kind, list(getattr(feature, kind).value)) if kind else (None, [])
    return out


def test_feature_kinds(port: int, core: FakeCore) -> None:
    body = {
        "signature_name": "regress_x_to_y",
        "examples": [
            {
                "x": 1.5,
                "name": "bär",
                "raw": {"b64": "aGVsbG8="},
                "count": [1, True, False],
                "big": 9223372036854775807,
                "many": [0.5, NAN_MARK],
                "empty": [],
                "exp": 1e3,
            }
        ],
    }
    text = json.dumps(body).replace(f'"{NAN_MARK}"', "NaN")
    assert call(port, "regress", text).status == 200
    features = _features(core)
    assert features["x"] == ("float_list", [1.5])
    assert features["name"] == ("bytes_list", ["bär".encode()])
    assert features["raw"] == ("bytes_list", [b"hello"])
    assert features["count"] == ("int64_list", [1, 1, 0])
    assert features["big"] == ("int64_list", [9223372036854775807])
    assert features["many"][0] == "float_list" and features["many"][1][0] == 0.5 and math.isnan(features["many"][1][1])
    assert features["empty"] == (None, [])
    assert features["exp"] == ("float_list", [1000.0])


NAN_MARK = "__nan__"


@pytest.mark.parametrize(
    ("example", "message"),
    [
        ({"x": [10, 10.0]}, "Unexpected element type in feature: x expecting type: int64"),
        ({"x": [1.0, 2]}, "Unexpected element type in feature: x expecting type: float"),
        ({"x": ["a", 1]}, "Unexpected element type in feature: x expecting type: bytes"),
        ({"x": [1.0, True]}, "Unexpected element type in feature: x expecting type: float"),
        ({"x": None}, "Feature: x has element with unexpected JSON type: Null"),
        ({"x": [[1]]}, "Feature: x has element with unexpected JSON type: Array"),
        ({"x": {"a": 1}}, "Feature: x has element with unexpected JSON type: Object"),
        ({"x": 9223372036854775808}, "Feature: x has uint64_t element. Only int64_t is supported."),
        ({"x": {"b64": "-_"}}, "Unable to base64 decode"),
    ],
)
def test_feature_errors(port: int, example: dict[str, Any], message: str) -> None:
    assert error(port, "regress", {"signature_name": "regress_x_to_y", "examples": [example]}) == (400, message)


@pytest.mark.parametrize("verb", ["classify", "regress"])
def test_request_shape_errors(port: int, verb: str) -> None:
    status, message = error(port, verb, {"signature_name": "x"})
    assert status == 400
    assert message.startswith('JSON Value: {\n    "signature_name": "x"\n}')
    assert message.endswith("When method is classify, key 'examples' is expected and was not found")
    assert error(port, verb, {"examples": {}})[1].endswith("Expecting 'examples' value to be an list/array")
    assert error(port, verb, {"examples": []})[1].endswith("'examples' value is an empty array")
    assert error(port, verb, {"examples": [[1]]}) == (400, "Example must be JSON object but got JSON Array")
    assert error(port, verb, {"context": 5, "examples": [{}]}) == (400, "Example must be JSON object but got JSON Number")
    assert error(port, verb, {"signature_name": 1, "examples": [{}]})[1].endswith(
        "not formatted correctly. 'signature_name' key must be a string value."
    )


def test_body_is_parsed_before_the_model_lookup(port: int) -> None:
    assert error(port, "classify", "", model="nope") == (400, "JSON Parse error: The document is empty")
    assert error(port, "classify", {"examples": []}, model="nope")[0] == 400
    assert error(port, "classify", {"examples": [{"x": 1.0}]}, model="nope") == (
        404,
        "Servable not found for request: Latest(nope)",
    )


def test_unknown_signature(port: int) -> None:
    assert error(port, "regress", {"signature_name": "foo", "examples": [{"x": 1.0}]}) == (
        400,
        "No signature was found with the name: foo",
    )


def test_empty_results_are_400(port: int) -> None:
    assert error(port, "regress", {"examples": [{"x": 1.0}]}, model="empty") == (
        400,
        "Cannot convert empty RegressionResults to JSON",
    )
    assert error(port, "classify", {"examples": [{"x": 1.0}]}, model="empty") == (
        400,
        "Cannot convert empty ClassificationResults to JSON",
    )


def test_non_finite_regression_values_are_bare_tokens(port: int) -> None:
    body = '{"signature_name": "regress_x_to_y", "examples": [{"x": NaN}, {"x": Infinity}, {"x": -Infinity}]}'
    response = call(port, "regress", body)
    assert response.status == 200
    assert response.text.replace(" ", "").replace("\n", "") == '{"results":[NaN,Infinity,-Infinity]}'
