"""The REST API of a live ``tfs serve`` process over raw HTTP on 127.0.0.1 (reference/rest_api.md).

Uses the session's shared server (half_plus_two TF2 v1+v2 with labels, half_plus_two_tf1, multi_dtype) and one
extra server with a planet-style image model (input ``input_image`` 128x128x3) and CORS enabled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.fake_core import RawResponse, raw_request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METRICS_PATH = "/monitoring/prometheus/metrics"


def _call(server: Any, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None) -> RawResponse:
    payload = body if body is None or isinstance(body, (str, bytes)) else json.dumps(body)
    return raw_request(server.rest_port, method, target, payload, headers)


def _ok(server: Any, method: str, target: str, body: Any = None) -> Any:
    response = _call(server, method, target, body)
    assert response.status == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _error(server: Any, method: str, target: str, body: Any = None) -> tuple[int, str]:
    response = _call(server, method, target, body)
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["error"], response.text
    return response.status, payload["error"]


# ------------------------------------------------------------------------------------------------ predict


def test_predict_row_on_latest_version(tfs_server: Any) -> None:
    doc = _ok(tfs_server, "POST", "/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]})
    assert doc == {"predictions": [3.5, 4.0, 5.5]}  # version 2: y = 0.5x + 3


def test_predict_columnar_by_version_and_label(tfs_server: Any) -> None:
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two/versions/1:predict", {"inputs": [1.0, 2.0]}) == {
        "outputs": [2.5, 3.0]
    }
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two/labels/stable:predict", {"inputs": {"x": [1.0]}}) == {
        "outputs": [2.5]
    }
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two/labels/canary:predict", {"instances": [1.0]}) == {
        "predictions": [3.5]
    }


def test_predict_named_signature(tfs_server: Any) -> None:
    body = {"signature_name": "half_plus_three", "instances": [{"x": 2.0}]}
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two/versions/1:predict", body) == {"predictions": [4.0]}


def test_predict_tf1_model(tfs_server: Any) -> None:
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1:predict", {"instances": [1.0, 2.0]}) == {
        "predictions": [2.5, 3.0]
    }


def test_predict_multiple_dtypes_row_and_columnar(tfs_server: Any) -> None:
    row = {"instances": [
        {"text": "ab", "count": 9007199254740993, "flag": True, "value": [1.5, 2.0]},
        {"text": {"b64": "Y2Q="}, "count": -1, "flag": False, "value": [0.1, 0.2]},
    ]}
    doc = _ok(tfs_server, "POST", "/v1/models/multi_dtype:predict", row)
    first, second = doc["predictions"]
    assert first["text_upper"] == "AB" and second["text_upper"] == "CD"
    assert first["count_plus_one"] == 9007199254740994 and second["count_plus_one"] == 0
    assert first["flag_not"] is False and second["flag_not"] is True
    assert first["value_sum"] == 3.5
    assert first["value_double"] == [3.0, 4.0]
    assert second["count_int32"] == -1
    columnar = {"inputs": {"text": ["x"], "count": [1], "flag": [True], "value": [[0.5, 0.25]]}}
    outputs = _ok(tfs_server, "POST", "/v1/models/multi_dtype:predict", columnar)["outputs"]
    assert outputs["text_upper"] == ["X"] and outputs["value_sum"] == [0.75] and outputs["count_plus_one"] == [2]


def test_float_text_and_double_outputs_are_exact(tfs_server: Any) -> None:
    response = _call(tfs_server, "POST", "/v1/models/multi_dtype:predict",
                     {"inputs": {"text": ["x"], "count": [1], "flag": [True], "value": [[0.1, 1234567.0]]}})
    assert response.status == 200
    text = response.text.replace(" ", "").replace("\n", "")
    assert '"value_sum":[1234567.12]' in text  # float32 sum printed with %.9g after the %g round-trip check
    assert '"value_double":[[0.20000000298023224,2469134.0]]' in text  # float64, %.17g, ".0" appended


# ------------------------------------------------------------------------------------------------ classify / regress


def test_regress_and_classify_on_tf1_model(tfs_server: Any) -> None:
    regress = {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress", regress) == {"results": [42.0]}
    classify = {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}, {"x": 2.0}]}
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1:classify", classify) == {
        "results": [[["", 12.0]], [["", 3.0]]]
    }
    standard = {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1/versions/1:regress", standard) == {
        "results": [2.5, 3.0]
    }


def test_regress_with_context(tfs_server: Any) -> None:
    body = {"signature_name": "regress_x_to_y", "context": {"x": 4.0}, "examples": [{}, {}]}
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress", body) == {"results": [4.0, 4.0]}


def test_classify_errors(tfs_server: Any) -> None:
    assert _error(tfs_server, "POST", "/v1/models/half_plus_two_tf1:classify",
                  {"signature_name": "nope", "examples": [{"x": 1.0}]}) == (
        400, "No signature was found with the name: nope")
    assert _error(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress",
                  {"signature_name": "regress_x_to_y", "examples": [{"x": [10, 10.0]}]}) == (
        400, "Unexpected element type in feature: x expecting type: int64")


def test_model_runtime_errors_keep_the_runtime_message(tfs_server: Any) -> None:
    """A TF op error (here ParseExample on an int64 feature the model reads as float) reaches the client with the
    runtime's own message, as TF Serving returns it, not an empty or Python-traceback text."""
    status, message = _error(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress",
                             {"signature_name": "regress_x_to_y", "examples": [{"x": 10}]})
    assert status == 400
    assert "Key: x, Index: 0.  Data types don't match. Data type: int64 but expected type: float" in message
    assert "Graph execution error" not in message and "Detected at node" not in message
    status, message = _error(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress",
                             {"signature_name": "regress_x_to_y", "examples": [{"y": 1.0}]})
    assert (status, "Feature: x (data type: float) is required but could not be found." in message) == (400, True)


# ------------------------------------------------------------------------------------------------ status / metadata


def test_model_status_json(tfs_server: Any) -> None:
    assert _ok(tfs_server, "GET", "/v1/models/half_plus_two") == {
        "model_version_status": [
            {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in ("2", "1")
        ]
    }
    one = _ok(tfs_server, "GET", "/v1/models/half_plus_two/versions/1")["model_version_status"]
    assert [s["version"] for s in one] == ["1"]
    by_label = _ok(tfs_server, "GET", "/v1/models/half_plus_two/labels/whatever")["model_version_status"]
    assert [s["version"] for s in by_label] == ["2", "1"]


def test_model_metadata_json(tfs_server: Any) -> None:
    doc = _ok(tfs_server, "GET", "/v1/models/half_plus_two/metadata")
    assert doc["model_spec"] == {"name": "half_plus_two", "signature_name": "", "version": "2"}
    sigs = doc["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "half_plus_three"} <= set(sigs)
    x = sigs["serving_default"]["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert x["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert sigs["serving_default"]["method_name"] == "tensorflow/serving/predict"
    labelled = _ok(tfs_server, "GET", "/v1/models/half_plus_two/labels/stable/metadata")
    assert labelled["model_spec"] == {"name": "half_plus_two", "signature_name": "", "version": "1"}
    tf1 = _ok(tfs_server, "GET", "/v1/models/half_plus_two_tf1/versions/1/metadata")
    classify = tf1["metadata"]["signature_def"]["signature_def"]["classify_x_to_y"]
    assert classify["method_name"] == "tensorflow/serving/classify"
    assert classify["inputs"]["inputs"]["dtype"] == "DT_STRING"


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "message"),
    [
        ("POST", "/v1/models/nope:predict", {"instances": [1.0]}, 404, "Servable not found for request: Latest(nope)"),
        ("POST", "/v1/models/half_plus_two/versions/99:predict", {"instances": [1.0]}, 404,
         "Servable not found for request: Specific(half_plus_two, 99)"),
        ("POST", "/v1/models/half_plus_two/labels/nope:predict", {"instances": [1.0]}, 400,
         "Unrecognized servable version label: nope"),
        ("POST", "/v1/models/half_plus_two:predict", {"signature_name": "nope", "instances": [1.0]}, 400,
         'Serving signature name: "nope" not found in signature def'),
        ("POST", "/v1/models/half_plus_two:predict", {"instances": ["a"]}, 400,
         "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: \"a\" Type: String "
         "is not of expected type: float"),
        ("POST", "/v1/models/half_plus_two:predict", '{"instances": [1.0', 400,
         "JSON Parse error: Missing a comma or ']' after an array element. at offset: 18"),
        ("POST", "/v1/models/nope:predict", "", 400, "JSON Parse error: The document is empty"),
        ("POST", "/v1/models/multi_dtype:predict", {"inputs": {"text": ["a"], "count": [1], "flag": [True]}}, 400,
         "Missing named input: value in 'inputs' object."),
        ("GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
        ("GET", "/v1/models/half_plus_two/versions/99", None, 404, "Could not find version 99 of model half_plus_two"),
        ("GET", "/v1/models", None, 400, "Missing model name in request."),
        ("GET", "/v1/models/half_plus_two/metadata/x", None, 400,
         "Malformed request: GET /v1/models/half_plus_two/metadata/x"),
        ("POST", "/v1/models/half_plus_two:PREDICT", {}, 400, "Malformed request: POST /v1/models/half_plus_two:PREDICT"),
    ],
)
def test_error_codes_and_messages(tfs_server: Any, method: str, target: str, body: Any, status: int, message: str) -> None:
    assert _error(tfs_server, method, target, body) == (status, message)


def test_missing_key_in_row_format(tfs_server: Any) -> None:
    status, message = _error(tfs_server, "POST", "/v1/models/multi_dtype:predict",
                             {"instances": [{"text": "a", "count": 1, "flag": True}]})
    assert status == 400
    assert message.endswith("keys must be equal to: count,flag,text,value")


def test_shapes_are_decided_by_the_graph(tfs_server: Any) -> None:
    # No shape check of our own (TF Serving has none): x is [-1] in the signature, but y = 0.5x + 3 computes with
    # any shape, so [1,2] is served ...
    assert _ok(tfs_server, "POST", "/v1/models/half_plus_two:predict", {"inputs": [[1.0, 2.0]]}) == {
        "outputs": [[3.5, 4.0]]
    }
    # ... and a shape the graph's ops cannot use gets the op's error as a client error (400), never a 500.
    status, message = _error(tfs_server, "POST", "/v1/models/multi_dtype:predict",
                             {"inputs": {"text": ["a"], "count": [1], "flag": [True], "value": [1.0, 2.0]}})
    assert status == 400
    assert message.startswith("Invalid reduction dimension (1 for input with 1 dimension(s)")


def test_unknown_path_is_html_404(tfs_server: Any) -> None:
    response = _call(tfs_server, "GET", "/healthz")
    assert response.status == 404 and b"<TITLE>404 Not Found</TITLE>" in response.body


def test_prometheus_metrics_on_the_rest_port(tfs_server: Any) -> None:
    _ok(tfs_server, "POST", "/v1/models/half_plus_two:predict", {"instances": [1.0]})
    response = _call(tfs_server, "GET", METRICS_PATH)
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain"
    assert ":tensorflow:serving:request_count" in response.text
    bad = _call(tfs_server, "GET", METRICS_PATH + "?x=1")
    assert bad.status == 400 and bad.text == f"Unexpected path: {METRICS_PATH}?x=1. Should be {METRICS_PATH}"


def _metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_rest_request_metrics(tfs_server: Any) -> None:
    """http_server.cc: every REST request reaching a model is counted by status; its latency is recorded only
    when it succeeds, with the URL's method as API label (empty for status GETs). Classify / regress record no
    example counts (only MultiInference does, in the newest source)."""
    total = ':tensorflow:serving:request_example_count_total{model="half_plus_two_tf1"}'
    latency = ':tensorflow:serving:request_latency_count{model_name="half_plus_two_tf1",API="regress",entrypoint="REST"}'
    errors = ':tensorflow:serving:request_count{model_name="half_plus_two_tf1",status="INVALID_ARGUMENT"}'
    status_latency = ':tensorflow:serving:request_latency_count{model_name="half_plus_two_tf1",API="",entrypoint="REST"}'
    before = _call(tfs_server, "GET", METRICS_PATH).text
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]}
    _ok(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress", body)
    _error(tfs_server, "POST", "/v1/models/half_plus_two_tf1:regress", {"signature_name": "nope", "examples": [{}]})
    _ok(tfs_server, "GET", "/v1/models/half_plus_two_tf1")
    after = _call(tfs_server, "GET", METRICS_PATH).text
    assert _metric_value(after, latency) - _metric_value(before, latency) == 1  # the failed request: no latency
    assert _metric_value(after, errors) - _metric_value(before, errors) == 1  # ... but counted
    assert _metric_value(after, status_latency) - _metric_value(before, status_latency) == 1
    assert _metric_value(after, total) == _metric_value(before, total)
    _error(tfs_server, "POST", "/v1/models/not_served_here:predict", {"instances": [1.0]})
    text = _call(tfs_server, "GET", METRICS_PATH).text
    assert ':tensorflow:serving:request_count{model_name="not_served_here",status="NOT_FOUND"} 1' in text


def test_huge_declared_body_is_refused_not_crashing(tfs_server: Any) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", tfs_server.rest_port), timeout=30) as sock:
        sock.sendall(b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413")
    assert _ok(tfs_server, "GET", "/v1/models/half_plus_two")["model_version_status"]


# ------------------------------------------------------------------------------------------------ planet model


def _build_planet(export_dir: Path) -> None:
    import tensorflow as tf

    class Planet(tf.Module):
        """A tiny stand-in for the tutorial's planet model: input ``input_image``, two named outputs."""

        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable([0.5, 1.0, 2.0], dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, 128, 128, 3], tf.float32, name="input_image")])
        def serve(self, input_image: tf.Tensor) -> dict[str, tf.Tensor]:
            channel_mean = tf.reduce_mean(input_image, axis=[1, 2])
            return {"weather": channel_mean * self.scale, "ground": tf.reduce_max(input_image, axis=[1, 2, 3])}

    module = Planet()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})


@pytest.fixture(scope="module")
def planet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.support.live_server import start_tfs_serve

    base = tmp_path_factory.mktemp("planet") / "PlanetModel"
    base.mkdir()
    _build_planet(base / "1")
    server = start_tfs_serve(
        [
            "--model_name=PlanetModel",
            f"--model_base_path={base}",
            "--rest_api_enable_cors_support=true",
            "--rest_api_timeout_in_ms=60000",
        ],
        ready_models={"PlanetModel": [1]},
    )
    yield server
    server.stop()


def test_keras_tutorial_request_verbatim(planet_server: Any) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((128, 128, 3)).round(4)
    body = json.dumps({"instances": [{"input_image": image.tolist()}]})
    response = raw_request(planet_server.rest_port, "POST", "/v1/models/PlanetModel:predict", body)
    assert response.status == 200, response.text
    (prediction,) = response.json()["predictions"]
    expected = image.astype(np.float32).mean(axis=(0, 1)) * np.array([0.5, 1.0, 2.0], np.float32)
    np.testing.assert_allclose(prediction["weather"], expected, rtol=1e-5)
    assert prediction["ground"] == pytest.approx(float(image.astype(np.float32).max()))


def test_tutorial_request_image_size_is_decided_by_the_graph(planet_server: Any) -> None:
    # TF Serving checks no shapes: this model reduces over the image axes, so a 2x2 image is served too ...
    image = np.full((2, 2, 3), 0.25)
    body = json.dumps({"instances": [{"input_image": image.tolist()}]})
    response = raw_request(planet_server.rest_port, "POST", "/v1/models/PlanetModel:predict", body)
    assert response.status == 200, response.text
    (prediction,) = response.json()["predictions"]
    np.testing.assert_allclose(prediction["weather"], [0.125, 0.25, 0.5])
    # ... while an image without the axes the ops reduce over gets the op's error, as a 400.
    body = json.dumps({"instances": [{"input_image": [0.5, 0.5, 0.5]}]})
    response = raw_request(planet_server.rest_port, "POST", "/v1/models/PlanetModel:predict", body)
    assert response.status == 400
    assert response.json()["error"].startswith("Invalid reduction dimension")


def test_cors_flag_adds_headers_end_to_end(planet_server: Any) -> None:
    response = raw_request(planet_server.rest_port, "GET", "/v1/models/PlanetModel")
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST, GET"
    preflight = raw_request(planet_server.rest_port, "OPTIONS", "/v1/models/PlanetModel:predict",
                            headers={"Origin": "http://localhost:8080"})
    assert preflight.status == 200 and preflight.body == b""
    assert preflight.headers["access-control-allow-headers"] == "Content-Type"


# ------------------------------------------------------------------------------------------------ framing (issue 10)


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: +25\r\n\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"Transfer-Encoding: chunked\r\n\r\n0x19\r\n",
        b"Content-Length: 25\r\nTransfer-Encoding: chunked\r\n\r\n19\r\n",
    ],
)
def test_bad_framing_is_a_json_400_and_the_connection_closes(tfs_server: Any, head: bytes) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", tfs_server.rest_port), timeout=30) as sock:
        sock.sendall(b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: x\r\n" + head
                     + b'{"instances": [1.0, 2.0]}\r\n')
        reply = b""
        while part := sock.recv(65536):  # the server closes: recv returns b"" (bounded by the socket timeout)
            reply += part
    head_part, _, body = reply.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 400 ")
    assert list(json.loads(body)) == ["error"]
    assert _ok(tfs_server, "GET", "/v1/models/half_plus_two")["model_version_status"]
