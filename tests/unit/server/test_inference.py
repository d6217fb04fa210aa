"""Request checks of inference.py against hand-built SignatureDefs and a fake servable (no model, no session):
method-name checks, classification/regression output validation, tensor_content output, defaults."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import classification_pb2, predict_pb2, regression_pb2

from toolkit.server import inference, tensors
from toolkit.server.errors import Code, ServingError

FLOAT, STRING = 1, 7


def _info(name: str, dtype: int, dims: list[int] | None) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=name, dtype=dtype)
    if dims is None:
        info.tensor_shape.unknown_rank = True
    else:
        for d in dims:
            info.tensor_shape.dim.add().size = d
    return info


def _sig(inputs: dict, outputs: dict, method: str = inference.PREDICT_METHOD) -> meta_graph_pb2.SignatureDef:
    sig = meta_graph_pb2.SignatureDef(method_name=method)
    for key, info in inputs.items():
        sig.inputs[key].CopyFrom(info)
    for key, info in outputs.items():
        sig.outputs[key].CopyFrom(info)
    return sig


class FakeServable:
    version = 4

    def __init__(self, signatures: dict, result: list[np.ndarray]) -> None:
        self.signatures = signatures
        self.result = result
        self.feeds: dict = {}

    def run(self, feeds, fetches, timeout):  # type: ignore[no-untyped-def]
        self.feeds = feeds
        return self.result


def _err(fn, *args, **kw) -> ServingError:  # type: ignore[no-untyped-def]
    with pytest.raises(ServingError) as info:
        fn(*args, **kw)
    return info.value


def _predict_request(**inputs: np.ndarray) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tensors.from_numpy(value))
    return request


def test_method_name_check_only_when_enabled() -> None:
    sig = _sig({"x": _info("x:0", FLOAT, [-1])}, {"y": _info("y:0", FLOAT, [-1])}, method="custom/method")
    servable = FakeServable({"serving_default": sig}, [np.array([1.0], np.float32)])
    request = _predict_request(x=np.array([1.0], np.float32))
    inference.run_predict(servable, request, inference.InferenceOptions())  # type: ignore[arg-type]
    err = _err(inference.run_predict, servable, request, inference.InferenceOptions(method_name_check=True))
    assert err.code == Code.INTERNAL
    assert err.message == (
        "Expected prediction signature method_name to be one of {tensorflow/serving/predict, "
        "tensorflow/serving/classify, tensorflow/serving/regress}. Was: custom/method"
    )


def test_tensor_content_output_option() -> None:
    sig = _sig({"x": _info("x:0", FLOAT, None)}, {"y": _info("y:0", FLOAT, [-1])})
    servable = FakeServable({"serving_default": sig}, [np.array([1.5, 2.5], np.float32)])
    request = _predict_request(x=np.ones((2, 3), np.float32))  # unknown rank in the signature: any shape
    response = inference.run_predict(servable, request, inference.InferenceOptions(tensor_content=True))  # type: ignore[arg-type]
    y = response.outputs["y"]
    assert y.tensor_content == np.array([1.5, 2.5], np.float32).tobytes() and not y.float_val
    assert (response.model_spec.name, response.model_spec.version.value) == ("m", 4)


def test_signature_defaults_fill_missing_inputs() -> None:
    sig = _sig({"x": _info("x:0", FLOAT, [-1]), "k": _info("k:0", FLOAT, [])}, {"y": _info("y:0", FLOAT, [-1])})
    sig.defaults["k"].CopyFrom(tensors.from_numpy(np.array(3.0, np.float32)))
    servable = FakeServable({"serving_default": sig}, [np.array([1.0], np.float32)])
    inference.run_predict(servable, _predict_request(x=np.array([1.0], np.float32)), inference.InferenceOptions())  # type: ignore[arg-type]
    assert servable.feeds["k:0"] == np.float32(3.0)


def _classify(servable: FakeServable, signature: str = "c") -> classification_pb2.ClassificationResponse:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = signature
    request.input.example_list.examples.add()
    request.input.example_list.examples.add()
    return inference.run_classify(servable, request, inference.InferenceOptions())  # type: ignore[arg-type]


def test_classification_with_classes_and_scores() -> None:
    sig = _sig({"inputs": _info("in:0", STRING, [-1])},
               {"classes": _info("c:0", STRING, [-1, 2]), "scores": _info("s:0", FLOAT, [-1, 2])},
               method=inference.CLASSIFY_METHOD)
    servable = FakeServable({"c": sig}, [np.array([[b"a", b"b"], [b"c", b"d"]], dtype=object),
                                         np.array([[0.1, 0.9], [0.7, 0.3]], np.float32)])
    response = _classify(servable)
    got = [[(c.label, round(c.score, 3)) for c in item.classes] for item in response.result.classifications]
    assert got == [[("a", 0.1), ("b", 0.9)], [("c", 0.7), ("d", 0.3)]]
    assert response.model_spec.signature_name == "c"


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([np.array([0.1, 0.2], np.float32)], "Expected Tensor shape: [batch_size num_classes] but got [2]"),
        ([np.array([[1], [2]], np.int32)], "Expected scores Tensor of DT_FLOAT. Got: DT_INT32"),
        ([np.array([[0.5]], np.float32)], "Expected scores output batch size of 2. Got: 1"),
    ],
)
def test_classification_output_validation(result: list[np.ndarray], message: str) -> None:
    sig = _sig({"inputs": _info("in:0", STRING, [-1])}, {"scores": _info("s:0", FLOAT, [-1, 1])})
    err = _err(_classify, FakeServable({"c": sig}, result))
    assert (err.code, err.message) == (Code.INVALID_ARGUMENT, message)


def test_regression_output_validation_and_method_check() -> None:
    sig = _sig({"inputs": _info("in:0", STRING, [-1])}, {"outputs": _info("o:0", FLOAT, [-1])},
               method=inference.REGRESS_METHOD)
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "m"
    request.input.example_list.examples.add()
    bad = FakeServable({"serving_default": sig}, [np.ones((1, 2), np.float32)])
    err = _err(inference.run_regress, bad, request, inference.InferenceOptions())
    assert err.message == "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got [1,2]"
    good = FakeServable({"serving_default": sig}, [np.array([[7.0]], np.float32)])
    assert inference.run_regress(good, request, inference.InferenceOptions()).result.regressions[0].value == 7.0  # type: ignore[arg-type]
    err = _err(inference.run_classify, good,
               classification_pb2.ClassificationRequest(input=request.input),
               inference.InferenceOptions(method_name_check=True))
    assert err.message == "Expected classification signature method_name to be tensorflow/serving/classify. Was: tensorflow/serving/regress"


def test_session_op_errors_keep_the_runtime_message() -> None:
    """The Python session wraps runtime errors in "Graph execution error: Detected at node ..."; the served message
    is the runtime's own (as TF Serving's), with the same code."""
    import tensorflow as tf

    from toolkit.server.servable import op_error_to_serving

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = v1.io.parse_example(serialized, {"x": v1.io.FixedLenFeature([1], tf.float32)})["x"]
    example = tf.train.Example()
    example.features.feature["x"].int64_list.value.append(10)
    with v1.Session(graph=graph) as session, pytest.raises(tf.errors.OpError) as caught:
        session.run(parsed, {serialized: [example.SerializeToString()]})
    error = op_error_to_serving(caught.value)
    assert error.code == Code.INVALID_ARGUMENT
    assert "Data types don't match. Data type: int64 but expected type: float" in error.message
    assert not error.message.startswith("Graph execution error") and "Detected at node" not in error.message
