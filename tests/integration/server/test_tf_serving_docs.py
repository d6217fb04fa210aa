"""TF Serving's own documentation, verbatim, against a live ``tfs serve``: the Docker tutorial (g3doc/docker.md) and
the REST API guide (g3doc/api_rest.md), on our own models with the signatures of TF Serving's test data
(``tests/support/models.py``: the TF1 half_plus_two family built from tf.Example parsing, its half_plus_three
variant, and the TF2 family whose signatures each have their own input tensor). Then the same models over gRPC:
Predict, Classify, Regress and MultiInference give TF Serving's answers.

One server for the module (3 small models, about 10 s to start); every request is a single call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import inference_pb2

from tests.integration.server.grpc_helpers import (
    classify_request,
    example,
    outputs,
    predict_request,
    regress_request,
    rpc_error,
)
from tests.support.fake_core import raw_request

VERSION = 123  # the version folder of TF Serving's test data


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.support import models
    from tests.support.live_server import start_tfs_serve

    root = tmp_path_factory.mktemp("docs_repo")
    models.build_repo(
        root,
        {
            "half_plus_two": {VERSION: models.build_half_plus_two_tf1},
            "saved_model_half_plus_three": {VERSION: partial(models.build_half_plus_two_tf1, b=3.0)},
            "half_plus_two_tf2": {VERSION: models.build_half_plus_two_family_tf2},
        },
    )
    guide = models.build_rest_guide_models(root)
    names = ("half_plus_two", "saved_model_half_plus_three", "half_plus_two_tf2", *guide)
    config = root / "models.config"
    config.write_text(models.models_config_text({name: root / name for name in names}))
    server = start_tfs_serve(
        [f"--model_config_file={config}"],
        ready_models={name: [1 if name in guide else VERSION] for name in names},
    )
    yield server
    server.stop()


def _curl(server: Any, path: str, data: str | None = None) -> tuple[int, Any]:
    """What ``curl [-d DATA -X POST] http://localhost:8501/<path>`` sends: the body bytes as given, with curl's
    headers (``-d`` makes it a form content type, which TF Serving ignores)."""
    headers = {"User-Agent": "curl/8.5.0", "Accept": "*/*"}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = raw_request(server.rest_port, "POST" if data is not None else "GET", path, data, headers)
    return response.status, json.loads(response.body)


# ------------------------------------------------------------------------------------------ g3doc/docker.md
def test_docker_tutorial_predict(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/half_plus_two:predict", '{"instances": [1.0, 2.0, 5.0]}')
    assert (status, body) == (200, {"predictions": [2.5, 3.0, 4.5]})


# ------------------------------------------------------------------------------------------ g3doc/api_rest.md
def test_rest_guide_model_status(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/saved_model_half_plus_three")
    assert status == 200
    assert body == {"model_version_status": [
        {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]}


def test_rest_guide_predict(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/saved_model_half_plus_three:predict", '{"instances": [1.0,2.0,5.0]}')
    assert (status, body) == (200, {"predictions": [3.5, 4.0, 5.5]})


def test_rest_guide_columnar_predict(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/saved_model_half_plus_three:predict", '{"inputs": [1.0,2.0,5.0]}')
    assert (status, body) == (200, {"outputs": [3.5, 4.0, 5.5]})


def test_rest_guide_regress(docs_server: Any) -> None:
    data = '{"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}'
    status, body = _curl(docs_server, "/v1/models/saved_model_half_plus_three:regress", data)
    assert (status, body) == (200, {"results": [3.5, 4.0]})  # the guide's curl answer ("result" in its prose)


def test_rest_guide_unknown_model_is_404(docs_server: Any) -> None:
    response = raw_request(docs_server.rest_port, "POST", "/v1/models/half:predict", '{"instances": [1.0,5.0]}')
    assert response.status == 404
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == {"error": "Servable not found for request: Latest(half)"}


def test_rest_guide_row_format_examples(docs_server: Any) -> None:
    # the guide's blocks without their // comments (JSON has none)
    status, body = _curl(docs_server, "/v1/models/doc_strings:predict", '{"instances": [ "foo", "bar", "baz" ]}')
    assert (status, body) == (200, {"predictions": ["FOO", "BAR", "BAZ"]})
    status, body = _curl(docs_server, "/v1/models/doc_pairs:predict", '{"instances": [ [[1, 2]], [[3, 4]] ]}')
    assert (status, body) == (200, {"predictions": [[[2.0, 4.0]], [[6.0, 8.0]]]})


NAMED_ROWS = """{
 "instances": [
   {
     "tag": "foo",
     "signal": [1, 2, 3, 4, 5],
     "sensor": [[1, 2], [3, 4]]
   },
   {
     "tag": "bar",
     "signal": [3, 4, 1, 2, 5]],
     "sensor": [[4, 5], [6, 8]]
   }
 ]
}"""


def test_rest_guide_named_inputs_row_and_columnar(docs_server: Any) -> None:
    # The guide's row example has a stray "]" (invalid JSON): TF Serving's parser refuses it, so do we ...
    status, body = _curl(docs_server, "/v1/models/doc_named:predict", NAMED_ROWS)
    assert status == 400 and body["error"]
    # ... and serves it once the bracket is removed.
    status, body = _curl(docs_server, "/v1/models/doc_named:predict", NAMED_ROWS.replace("5]],", "5],"))
    assert (status, body) == (200, {"predictions": [
        {"tag_upper": "FOO", "signal_sum": 15, "sensor_sum": 10},
        {"tag_upper": "BAR", "signal_sum": 15, "sensor_sum": 23},
    ]})
    status, body = _curl(docs_server, "/v1/models/doc_named:predict", """{
 "inputs": {
   "tag": ["foo", "bar"],
   "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
   "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]
 }
}""")
    assert (status, body) == (200, {"outputs": {"tag_upper": ["FOO", "BAR"], "signal_sum": [15, 15],
                                                "sensor_sum": [10, 23]}})


def test_rest_guide_binary_classify_example(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/doc_named:classify", """{
  "signature_name": "classify_objects",
  "examples": [
    {
      "image": { "b64": "aW1hZ2UgYnl0ZXM=" },
      "caption": "seaside"
    },
    {
      "image": { "b64": "YXdlc29tZSBpbWFnZSBieXRlcw==" },
      "caption": "mountains"
    }
  ]
}""")
    # "image bytes" is 11 bytes, "awesome image bytes" 19: classes = caption, scores = the image's length
    assert (status, body) == (200, {"results": [[["seaside", 11.0]], [["mountains", 19.0]]]})


def test_rest_guide_json_conformance_example_is_refused(docs_server: Any) -> None:
    # The guide's own example spells NaN as "Nan", which the parser (NaN, Infinity, -Infinity only) refuses.
    status, body = _curl(docs_server, "/v1/models/doc_named:classify", """{
  "example": [
    {
      "sensor_readings": [ 1.0, -3.14, Nan, Infinity ]
    }
  ]
}""")
    assert status == 400 and body["error"]


def test_rest_guide_classify_and_regress_signatures(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/half_plus_two:classify",
                         '{"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}')
    assert (status, body) == (200, {"results": [[["", 12.0]]]})
    status, body = _curl(docs_server, "/v1/models/half_plus_two:regress",
                         '{"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}')
    assert (status, body) == (200, {"results": [42.0]})
    status, body = _curl(docs_server, "/v1/models/half_plus_two:regress",
                         '{"signature_name": "regress_x_to_y2", "context": {"x": 4.0}, "examples": [{}, {"x": 2.0}]}')
    assert (status, body) == (200, {"results": [5.0, 4.0]})  # y2 = 0.5x + 3, context merged into each example


def test_rest_guide_metadata(docs_server: Any) -> None:
    status, body = _curl(docs_server, "/v1/models/half_plus_two/versions/123/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "half_plus_two", "signature_name": "", "version": "123"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3"} <= set(
        signatures
    )
    x = signatures["serving_default"]["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT" and [d["size"] for d in x["tensor_shape"]["dim"]] == ["-1", "1"]


def test_rest_predict_on_the_tf2_family(docs_server: Any) -> None:
    # x is float [1] in the TF2 signature; TF's runtime still computes y for three values, as TF Serving does.
    status, body = _curl(docs_server, "/v1/models/half_plus_two_tf2:predict", '{"instances": [1.0, 2.0, 5.0]}')
    assert (status, body) == (200, {"predictions": [2.5, 3.0, 4.5]})


# ------------------------------------------------------------------------------------------ gRPC
@pytest.fixture(scope="module")
def stub(docs_server: Any) -> Any:
    return docs_server.prediction_stub()


@pytest.mark.parametrize("model", ["half_plus_two", "half_plus_two_tf2"])
def test_grpc_predict(stub: Any, model: str) -> None:
    response = stub.Predict(predict_request(model, {"x": np.array([1.0], np.float32)}), timeout=30)
    assert outputs(response)["y"].tolist() == [2.5]
    assert (response.model_spec.name, response.model_spec.version.value) == (model, VERSION)
    column = stub.Predict(predict_request(model, {"x": np.array([[1.0], [2.0]], np.float32)}), timeout=30)
    assert outputs(column)["y"].tolist() == [[2.5], [3.0]]


@pytest.mark.parametrize("model", ["half_plus_two", "half_plus_two_tf2"])
def test_grpc_classify_and_regress(stub: Any, model: str) -> None:
    classify = stub.Classify(classify_request(model, [20.0, 4.0], signature="classify_x_to_y"), timeout=30)
    assert [[(c.label, c.score) for c in item.classes] for item in classify.result.classifications] == [
        [("", 12.0)], [("", 4.0)]
    ]
    regress = stub.Regress(regress_request(model, [80.0, 2.0], signature="regress_x_to_y"), timeout=30)
    assert [r.value for r in regress.result.regressions] == [42.0, 3.0]
    regress2 = stub.Regress(regress_request(model, [2.0], signature="regress_x_to_y2"), timeout=30)
    assert [r.value for r in regress2.result.regressions] == [4.0]
    assert regress2.model_spec.signature_name == "regress_x_to_y2"
    # regress_x2_to_y3 takes float x2, not serialized examples: Session::Run's dtype check answers
    err = rpc_error(stub.Regress, regress_request(model, [2.0], signature="regress_x2_to_y3"))
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Expects arg[0] to be float but string is provided"
    )


@pytest.mark.parametrize("model", ["half_plus_two", "half_plus_two_tf2"])
def test_grpc_multi_inference_over_signatures(stub: Any, model: str) -> None:
    """multi_inference.cc: one Session::Run feeding the examples to every task's input tensor (in the TF2 model
    classify_x_to_y and regress_x_to_y each have their own)."""
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify_x_to_y", "tensorflow/serving/classify"),
                              ("regress_x_to_y", "tensorflow/serving/regress"),
                              ("regress_x_to_y2", "tensorflow/serving/regress")):
        task = request.tasks.add()
        task.model_spec.name = model
        task.model_spec.signature_name = signature
        task.method_name = method
    request.input.example_list.examples.extend([example(x=2.0), example(x=4.0)])
    response = stub.MultiInference(request, timeout=30)
    classification, regression, regression2 = response.results
    assert [c.classes[0].score for c in classification.classification_result.classifications] == [3.0, 4.0]
    assert [r.value for r in regression.regression_result.regressions] == [3.0, 4.0]
    assert [r.value for r in regression2.regression_result.regressions] == [4.0, 5.0]
    assert [r.model_spec.signature_name for r in response.results] == [
        "classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"
    ]
    assert {r.model_spec.version.value for r in response.results} == {VERSION}


def test_docs_models_have_tf_servings_signatures(docs_server: Any) -> None:
    """The test models carry the signature keys of TF Serving's half_plus_two test data."""
    tf1 = json.loads(raw_request(docs_server.rest_port, "GET", "/v1/models/half_plus_two/metadata").body)
    tf2 = json.loads(raw_request(docs_server.rest_port, "GET", "/v1/models/half_plus_two_tf2/metadata").body)
    common = {"serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3"}
    assert common <= set(tf1["metadata"]["signature_def"]["signature_def"])
    tf2_sigs = tf2["metadata"]["signature_def"]["signature_def"]
    assert common | {"classify_x2_to_y3"} <= set(tf2_sigs)
    # one input tensor per TF2 signature
    names = {tf2_sigs[k]["inputs"][next(iter(tf2_sigs[k]["inputs"]))]["name"] for k in common}
    assert len(names) == len(common)
