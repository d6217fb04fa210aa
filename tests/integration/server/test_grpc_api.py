"""Every gRPC method of a live ``tfs serve`` over the official TF Serving stubs: results, response model_spec,
typed output fields, and TF Serving's error codes and messages."""

from __future__ import annotations

import re

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, inference_pb2, predict_pb2

from tests.integration.server.grpc_helpers import (
    classify_request,
    example,
    metadata_request,
    outputs,
    predict_request,
    regress_request,
    rpc_error,
    status_request,
)

X = np.array([1.0, 2.0, 5.0], dtype=np.float32)


@pytest.fixture(scope="module")
def stub(tfs_server):  # type: ignore[no-untyped-def]
    return tfs_server.prediction_stub()


@pytest.fixture(scope="module")
def model_stub(tfs_server):  # type: ignore[no-untyped-def]
    return tfs_server.model_stub()


# ------------------------------------------------------------------------------------------ predict
def test_predict_tf1_typed_fields_and_model_spec(stub) -> None:  # type: ignore[no-untyped-def]
    response = stub.Predict(predict_request("half_plus_two_tf1", {"x": X}), timeout=30)
    y = response.outputs["y"]
    assert list(y.float_val) == [2.5, 3.0, 4.5]  # typed field, as TF Serving's AsProtoField
    assert y.tensor_content == b""
    assert [d.size for d in y.tensor_shape.dim] == [3]
    assert response.model_spec.name == "half_plus_two_tf1"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_predict_latest_version_label_and_specific(stub) -> None:  # type: ignore[no-untyped-def]
    latest = stub.Predict(predict_request("half_plus_two", {"x": X}), timeout=30)
    assert latest.model_spec.version.value == 2
    np.testing.assert_allclose(outputs(latest)["y"], 0.5 * X + 3)
    v1 = stub.Predict(predict_request("half_plus_two", {"x": X}, version=1), timeout=30)
    np.testing.assert_allclose(outputs(v1)["y"], 0.5 * X + 2)
    stable = stub.Predict(predict_request("half_plus_two", {"x": X}, label="stable"), timeout=30)
    assert stable.model_spec.version.value == 1
    assert not stable.model_spec.version_label  # never echoed
    canary = stub.Predict(predict_request("half_plus_two", {"x": X}, label="canary"), timeout=30)
    assert canary.model_spec.version.value == 2


def test_predict_second_signature(stub) -> None:  # type: ignore[no-untyped-def]
    response = stub.Predict(
        predict_request("half_plus_two", {"x": X}, version=1, signature="half_plus_three"), timeout=30
    )
    np.testing.assert_allclose(outputs(response)["y"], 0.5 * X + 3)
    assert response.model_spec.signature_name == "half_plus_three"


def test_predict_multi_dtype_round_trip(stub) -> None:  # type: ignore[no-untyped-def]
    request = predict_request(
        "multi_dtype",
        {
            "text": np.array([b"ab", "héllo".encode()]),
            "count": np.array([1, 2**40], dtype=np.int64),
            "flag": np.array([True, False]),
            "value": np.array([[1.5, 2.0], [3.0, -4.0]], dtype=np.float32),
        },
    )
    response = stub.Predict(request, timeout=30)
    out = response.outputs
    assert list(out["text_upper"].string_val) == [b"AB", "HéLLO".encode()]
    assert list(out["count_plus_one"].int64_val) == [2, 2**40 + 1]
    assert list(out["flag_not"].bool_val) == [False, True]
    assert list(out["value_sum"].float_val) == [3.5, -1.0]
    assert list(out["value_double"].double_val) == [3.0, 4.0, 6.0, -8.0]
    assert out["value_double"].dtype == tf.float64.as_datatype_enum
    assert list(out["count_int32"].int_val) == [1, 0]  # int64 2**40 cast to int32 wraps to 0


def test_predict_accepts_tensor_content_and_short_typed_lists(stub) -> None:  # type: ignore[no-untyped-def]
    packed = predict_pb2.PredictRequest()
    packed.model_spec.name = "half_plus_two_tf1"
    packed.inputs["x"].dtype = tf.float32.as_datatype_enum
    packed.inputs["x"].tensor_shape.dim.add().size = 3
    packed.inputs["x"].tensor_content = X.tobytes()
    assert list(stub.Predict(packed, timeout=30).outputs["y"].float_val) == [2.5, 3.0, 4.5]
    short = predict_pb2.PredictRequest()
    short.model_spec.name = "half_plus_two_tf1"
    short.inputs["x"].dtype = tf.float32.as_datatype_enum
    short.inputs["x"].tensor_shape.dim.add().size = 3
    short.inputs["x"].float_val.append(4.0)  # one value for three elements: repeated, as Tensor::FromProto
    assert list(stub.Predict(short, timeout=30).outputs["y"].float_val) == [4.0, 4.0, 4.0]


def test_predict_output_filter(stub) -> None:  # type: ignore[no-untyped-def]
    request = predict_request(
        "multi_dtype",
        {"text": np.array([b"a"]), "count": np.array([1], np.int64), "flag": np.array([True]),
         "value": np.ones((1, 2), np.float32)},
    )
    request.output_filter.append("value_sum")
    response = stub.Predict(request, timeout=30)
    assert set(response.outputs) == {"value_sum"}
    request.output_filter.append("nope")
    err = rpc_error(stub.Predict, request)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details().startswith("output tensor alias not found in signature: nope Outputs expected to be in the set {")
    del request.output_filter[:]
    request.output_filter.extend(["value_sum", "value_sum"])
    err = rpc_error(stub.Predict, request)
    assert err.details() == "duplicate output tensor alias: value_sum"


def test_predict_large_message(stub) -> None:  # type: ignore[no-untyped-def]
    big = np.arange(2_000_000, dtype=np.float32)  # 8 MB request and response, above gRPC's 4 MB default
    response = stub.Predict(predict_request("half_plus_two_tf1", {"x": big}), timeout=60)
    y = tf.make_ndarray(response.outputs["y"])
    assert y.shape == (2_000_000,)
    assert y[-1] == pytest.approx(0.5 * big[-1] + 2)


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"name": "nope"}, grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"),
        ({"name": "half_plus_two", "version": 7}, grpc.StatusCode.NOT_FOUND,
         "Servable not found for request: Specific(half_plus_two, 7)"),
        ({"name": "half_plus_two", "label": "beta"}, grpc.StatusCode.INVALID_ARGUMENT,
         "Unrecognized servable version label: beta"),
        ({"name": ""}, grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified."),
        ({"name": "half_plus_two", "signature": "nope"}, grpc.StatusCode.FAILED_PRECONDITION,
         'Serving signature key "nope" not found.'),
    ],
)
def test_predict_lookup_errors(stub, kwargs, code, message) -> None:  # type: ignore[no-untyped-def]
    name = kwargs.pop("name")
    err = rpc_error(stub.Predict, predict_request(name, {"x": X}, **kwargs))
    assert err.code() == code
    assert err.details() == message


def test_predict_missing_model_spec(stub) -> None:  # type: ignore[no-untyped-def]
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(X))
    err = rpc_error(stub.Predict, request)
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def test_predict_input_errors(stub) -> None:  # type: ignore[no-untyped-def]
    # Session::Run's own dtype check (DirectSession's call frame): arg index = place among the sorted feed names.
    wrong_dtype = rpc_error(stub.Predict, predict_request("half_plus_two_tf1", {"x": np.array([b"a"])}))
    assert wrong_dtype.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wrong_dtype.details() == "Expects arg[0] to be float but string is provided"
    inputs = {"text": np.array([b"a"]), "count": np.array([1], np.int64), "flag": np.array([True]),
              "value": np.ones((1, 2), np.float32)}
    wrong_flag = rpc_error(stub.Predict, predict_request("multi_dtype", {**inputs, "flag": np.array([1.0], np.float32)}))
    assert wrong_flag.details() == "Expects arg[1] to be bool but float is provided"  # count, flag, text, value

    # No shape check of our own: a shape the ops can compute with is served (x is [-1,1] in the signature) ...
    served = stub.Predict(predict_request("half_plus_two_tf1", {"x": np.ones((2, 2), np.float32)}), timeout=30)
    assert outputs(served)["y"].tolist() == [[2.5, 2.5], [2.5, 2.5]]
    # ... and one they cannot gets the op's own error, as INVALID_ARGUMENT.
    wrong_shape = rpc_error(stub.Predict, predict_request("multi_dtype", {**inputs, "value": np.ones(2, np.float32)}))
    assert wrong_shape.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert wrong_shape.details().startswith("Invalid reduction dimension (1 for input with 1 dimension(s)")

    extra = rpc_error(stub.Predict, predict_request("half_plus_two_tf1", {"x": X, "z": X}))
    assert extra.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert extra.details() == (
        "input size does not match signature: 2!=1 len({x,z}) != len({x}). Sent extra: {z}. Missing but required: {}."
    )

    missing = rpc_error(stub.Predict, predict_request("multi_dtype", {"text": np.array([b"a"])}))
    assert missing.details() == (
        "input size does not match signature: 1!=4 len({text}) != len({count,flag,text,value}). Sent extra: {}. "
        "Missing but required: {count,flag,value}."
    )

    renamed = rpc_error(stub.Predict, predict_request("half_plus_two_tf1", {"z": X}))
    assert renamed.details().startswith(
        "Signature input alias: x(feed name: x:0) not found in request and no default value provided."
    )

    bad_proto = predict_pb2.PredictRequest()
    bad_proto.model_spec.name = "half_plus_two_tf1"
    bad_proto.inputs["x"].dtype = tf.float32.as_datatype_enum
    bad_proto.inputs["x"].tensor_shape.dim.add().size = 2
    bad_proto.inputs["x"].tensor_content = b"\x00" * 5  # not 2 floats
    err = rpc_error(stub.Predict, bad_proto)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "tensor parsing error: x"


# ------------------------------------------------------------------------------------------ classify / regress
def test_classify_and_regress_tf1(stub) -> None:  # type: ignore[no-untyped-def]
    response = stub.Classify(classify_request("half_plus_two_tf1", [20.0, 4.0], signature="classify_x_to_y"), timeout=30)
    scores = [[c.score for c in item.classes] for item in response.result.classifications]
    labels = [[c.label for c in item.classes] for item in response.result.classifications]
    assert scores == [[12.0], [4.0]] and labels == [[""], [""]]
    assert response.model_spec.signature_name == "classify_x_to_y"
    assert response.model_spec.version.value == 1

    regress = stub.Regress(regress_request("half_plus_two_tf1", [80.0], signature="regress_x_to_y"), timeout=30)
    assert [r.value for r in regress.result.regressions] == [42.0]

    standard = stub.Regress(
        regress_request("half_plus_two_tf1", [1.0, 2.0], signature="tensorflow/serving/regress"), timeout=30
    )
    assert [r.value for r in standard.result.regressions] == [2.5, 3.0]


def test_classify_example_list_with_context(stub) -> None:  # type: ignore[no-untyped-def]
    request = classify_request("half_plus_two_tf1", [], signature="tensorflow/serving/classify")
    request.input.example_list_with_context.context.CopyFrom(example(x=10.0))
    request.input.example_list_with_context.examples.add()  # empty example: x comes from the context
    request.input.example_list_with_context.examples.append(example(x=2.0))  # overrides the context
    response = stub.Classify(request, timeout=30)
    assert [item.classes[0].score for item in response.result.classifications] == [7.0, 3.0]


def test_classify_regress_errors(stub) -> None:  # type: ignore[no-untyped-def]
    err = rpc_error(stub.Classify, classify_request("half_plus_two_tf1", [1.0], signature="nope"))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "No signature was found with the name: nope")
    err = rpc_error(stub.Regress, regress_request("half_plus_two_tf1", [], signature="regress_x_to_y"))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
    err = rpc_error(stub.Classify, classify_request("half_plus_two_tf1", [1.0]))  # serving_default is a predict sig
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details().startswith("No classification inputs found in SignatureDef:")
    err = rpc_error(stub.Regress, regress_request("multi_dtype", [1.0]))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Expected one input Tensor.")
    err = rpc_error(stub.Classify, classify_request("nope", [1.0]))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)")


def test_multi_inference(stub) -> None:  # type: ignore[no-untyped-def]
    request = inference_pb2.MultiInferenceRequest()
    for sig, method in (("classify_x_to_y", "tensorflow/serving/classify"), ("regress_x_to_y", "tensorflow/serving/regress")):
        task = request.tasks.add()
        task.model_spec.name = "half_plus_two_tf1"
        task.model_spec.signature_name = sig
        task.method_name = method
    request.input.example_list.examples.extend([example(x=2.0), example(x=4.0)])
    response = stub.MultiInference(request, timeout=30)
    classification, regression = response.results
    assert [c.classes[0].score for c in classification.classification_result.classifications] == [3.0, 4.0]
    assert [r.value for r in regression.regression_result.regressions] == [3.0, 4.0]
    assert regression.model_spec.signature_name == "regress_x_to_y"
    assert regression.model_spec.version.value == 1

    duplicate = inference_pb2.MultiInferenceRequest()
    duplicate.CopyFrom(request)
    duplicate.tasks[1].model_spec.signature_name = "classify_x_to_y"
    err = rpc_error(stub.MultiInference, duplicate)
    assert err.details() == "Duplicate evaluation of signature: classify_x_to_y"

    mixed = inference_pb2.MultiInferenceRequest()
    mixed.CopyFrom(request)
    mixed.tasks[1].model_spec.name = "half_plus_two"
    err = rpc_error(stub.MultiInference, mixed)
    assert err.details() == "All ModelSpecs in a MultiInferenceRequest must access the same model name."

    unknown = inference_pb2.MultiInferenceRequest()
    unknown.CopyFrom(request)
    unknown.tasks[1].model_spec.signature_name = "nope"
    err = rpc_error(stub.MultiInference, unknown)
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Requested signature not found in model graph: nope"
    )

    unnamed = inference_pb2.MultiInferenceRequest()
    unnamed.CopyFrom(request)
    unnamed.tasks[1].model_spec.name = ""
    err = rpc_error(stub.MultiInference, unnamed)
    assert err.details() == "Found ModelSpec with an empty model name."

    no_tasks = inference_pb2.MultiInferenceRequest()
    no_tasks.input.CopyFrom(request.input)
    err = rpc_error(stub.MultiInference, no_tasks)  # the lookup of the (empty) first spec fails first
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")

    unsupported = inference_pb2.MultiInferenceRequest()
    unsupported.CopyFrom(request)
    unsupported.tasks[1].method_name = "tensorflow/serving/predict"
    err = rpc_error(stub.MultiInference, unsupported)
    assert (err.code(), err.details()) == (
        grpc.StatusCode.UNIMPLEMENTED, "Unsupported signature method_name: tensorflow/serving/predict"
    )


# ------------------------------------------------------------------------------------------ metadata / status
def test_metadata(stub) -> None:  # type: ignore[no-untyped-def]
    response = stub.GetModelMetadata(metadata_request("half_plus_two", version=1), timeout=30)
    assert response.model_spec.name == "half_plus_two"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == ""
    packed = response.metadata["signature_def"]
    assert packed.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    packed.Unpack(sig_map)
    assert set(sig_map.signature_def) == {"serving_default", "half_plus_three", "__saved_model_init_op"}
    serving = sig_map.signature_def["serving_default"]
    assert serving.method_name == "tensorflow/serving/predict"
    assert serving.inputs["x"].dtype == tf.float32.as_datatype_enum

    tf1 = stub.GetModelMetadata(metadata_request("half_plus_two_tf1"), timeout=30)
    tf1.metadata["signature_def"].Unpack(sig_map)
    assert {"classify_x_to_y", "regress_x_to_y", "tensorflow/serving/classify"} <= set(sig_map.signature_def)


def test_metadata_errors(stub) -> None:  # type: ignore[no-untyped-def]
    err = rpc_error(stub.GetModelMetadata, metadata_request("half_plus_two", fields=()))
    assert err.details() == "GetModelMetadataRequest must specify at least one metadata_field"
    err = rpc_error(stub.GetModelMetadata, metadata_request("half_plus_two", fields=("tags",)))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Metadata field tags is not supported")
    err = rpc_error(stub.GetModelMetadata, metadata_request("nope"))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)")


def test_model_status(model_stub) -> None:  # type: ignore[no-untyped-def]
    response = model_stub.GetModelStatus(status_request("half_plus_two"), timeout=30)
    versions = [(s.version, s.state, s.status.error_code) for s in response.model_version_status]
    assert versions == [(2, 30, 0), (1, 30, 0)]  # descending, AVAILABLE, OK
    assert response.model_version_status[0].HasField("status")
    one = model_stub.GetModelStatus(status_request("half_plus_two", version=1), timeout=30)
    assert [s.version for s in one.model_version_status] == [1]
    # version_label is ignored by GetModelStatus, even an unknown one
    labelled = model_stub.GetModelStatus(status_request("half_plus_two", label="whatever"), timeout=30)
    assert len(labelled.model_version_status) == 2


def test_model_status_errors(model_stub) -> None:  # type: ignore[no-untyped-def]
    err = rpc_error(model_stub.GetModelStatus, status_request("nope"))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Could not find any versions of model nope")
    err = rpc_error(model_stub.GetModelStatus, status_request("half_plus_two", version=9))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Could not find version 9 of model half_plus_two")
    from tensorflow_serving.apis import get_model_status_pb2

    err = rpc_error(model_stub.GetModelStatus, get_model_status_pb2.GetModelStatusRequest())
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def test_session_service_is_not_registered(tfs_server) -> None:  # type: ignore[no-untyped-def]
    call = tfs_server.channel().unary_unary("/tensorflow.serving.SessionService/SessionRun")
    with pytest.raises(grpc.RpcError) as info:
        call(b"", timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_reload_rejects_non_list_config(model_stub) -> None:  # type: ignore[no-untyped-def]
    from tensorflow_serving.apis import model_management_pb2

    err = rpc_error(model_stub.HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == (
        "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported"
    )


def test_multi_inference_records_example_counts_only(tfs_server, stub) -> None:  # type: ignore[no-untyped-def]
    """multi_inference.cc records RecordRequestExampleCount; gRPC MultiInference records no request metrics, and
    Classify / Regress record no example counts (newest source)."""
    import httpx

    def scrape() -> str:
        return httpx.get(tfs_server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text

    def value(text: str, key: str) -> float:
        for line in text.splitlines():
            if line.startswith(key + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    total = ':tensorflow:serving:request_example_count_total{model="half_plus_two_tf1"}'
    before = scrape()
    request = inference_pb2.MultiInferenceRequest()
    task = request.tasks.add()
    task.model_spec.name = "half_plus_two_tf1"
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    request.input.example_list.examples.extend([example(x=1.0), example(x=2.0), example(x=3.0)])
    stub.MultiInference(request, timeout=30)
    stub.Regress(regress_request("half_plus_two_tf1", [1.0, 2.0], signature="regress_x_to_y"), timeout=30)
    after = scrape()
    assert value(after, total) - value(before, total) == 3
    assert 'API="MultiInference"' not in after and 'API="multi_inference"' not in after


def test_metrics_count_grpc_requests(tfs_server, stub) -> None:  # type: ignore[no-untyped-def]
    import httpx

    stub.Predict(predict_request("half_plus_two_tf1", {"x": X}), timeout=30)
    rpc_error(stub.Predict, predict_request("nope", {"x": X}))
    text = httpx.get(tfs_server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    assert ':tensorflow:serving:request_count{model_name="half_plus_two_tf1",status="OK"}' in text
    assert ':tensorflow:serving:request_count{model_name="nope",status="NOT_FOUND"}' in text
    # prediction_service_impl.cc: API label capitalised; latency recorded only for successful requests
    assert ('request_latency_bucket{model_name="half_plus_two_tf1",API="Predict",entrypoint="GRPC",le="+Inf"}'
            in text)
    assert 'request_latency_bucket{model_name="nope"' not in text
    assert 'runtime_latency_count{model_name="half_plus_two_tf1",API="Predict",runtime="TF1"}' in text
    assert ':tfs_toolkit:serving:model_load_count{model_name="half_plus_two",status="OK"} 2' in text
    assert ':tfs_toolkit:serving:loaded_versions{model_name="half_plus_two"} 2' in text
    # TF's SavedModel loader metric, which TF Serving's process exports: one successful load per version folder
    assert re.search(r'^:tensorflow:cc:saved_model:load_attempt_count\{model_path="[^"]*/half_plus_two/2",'
                     r'status="success"\} 1$', text, re.MULTILINE)
