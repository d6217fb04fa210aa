"""Byte-for-byte interoperability of our wire messages with the official tensorflow / tensorflow-serving-api ones.

Every message the clients use is built with our definitions, parsed by the official class, re-serialized, and
compared byte for byte (and the other way round). Tensors of every dtype are checked against tf.make_ndarray /
tf.make_tensor_proto, through both decode paths (tensor_content and typed *_val fields).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.example import example_pb2 as tf_example_pb2
from tensorflow.core.example import feature_pb2 as tf_feature_pb2
from tensorflow.core.framework import tensor_pb2 as tf_tensor_pb2
from tensorflow.core.framework import types_pb2 as tf_types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_management_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from clients import _wire
from clients._proto import example_pb2, serving_pb2, tensor_pb2
from clients.codec import decode_tensor, encode_tensor
from clients.examples import build_input

NUMERIC = [
    np.float16,
    ml_dtypes.bfloat16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
    np.complex64,
    np.complex128,
]


def _sample(dtype, shape=(2, 3)) -> np.ndarray:
    count = int(np.prod(shape))
    if dtype is np.bool_:
        return (np.arange(count) % 3 == 0).reshape(shape)
    values = np.arange(count) - (count // 2 if np.dtype(dtype).kind in "ifc" and np.dtype(dtype).kind != "u" else 0)
    array = values.astype(dtype) if np.dtype(dtype).kind != "c" else (values + 1j * values[::-1]).astype(dtype)
    if np.dtype(dtype).kind == "f" or np.dtype(dtype).name == "bfloat16":
        array = (values * 0.5).astype(dtype)
    return array.reshape(shape)


def _same_bytes(ours, official_type) -> None:
    """ours -> official -> bytes equal; official -> ours -> bytes equal."""
    wire = ours.SerializeToString(deterministic=True)
    official = official_type.FromString(wire)
    assert official.SerializeToString(deterministic=True) == wire
    back = type(ours).FromString(official.SerializeToString(deterministic=True))
    assert back.SerializeToString(deterministic=True) == wire
    assert back == ours


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
def test_tensor_content_is_read_by_tensorflow(dtype) -> None:
    array = _sample(dtype)
    proto = encode_tensor(array)
    official = tf_tensor_pb2.TensorProto.FromString(proto.SerializeToString())
    assert tf_types_pb2.DataType.Name(official.dtype) == tensor_pb2.DataType.Name(proto.dtype)
    decoded = tf.make_ndarray(official)
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    _same_bytes(proto, tf_tensor_pb2.TensorProto)


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
def test_tensorflow_protos_are_read_by_us(dtype) -> None:
    array = _sample(dtype)
    official = tf.make_tensor_proto(array)
    decoded = decode_tensor(tensor_pb2.TensorProto.FromString(official.SerializeToString()))
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("given", ["all", "fewer", "none"])
def test_typed_fields_decode_like_make_ndarray(dtype, given) -> None:
    """TF Serving answers in typed *_val fields; 'fewer' values than elements repeat the last one (TF rule)."""
    array = _sample(dtype, (2, 3))
    # The typed form exactly as TensorFlow writes it (Tensor::AsProtoField), via tf.make_tensor_proto on a scalar
    # list of the same dtype and then moving values around through the official class.
    full = tf.make_tensor_proto(array)
    typed = tf_tensor_pb2.TensorProto(dtype=full.dtype, tensor_shape=full.tensor_shape)
    flat = array.reshape(-1)
    take = {"all": flat.size, "fewer": 2, "none": 0}[given]
    name = np.dtype(dtype).name
    values = flat[:take]
    if name == "float16":
        typed.half_val.extend(int(v) for v in values.view(np.uint16))
    elif name == "bfloat16":
        typed.half_val.extend(int(v) for v in values.view(np.uint16))
    elif name == "float32":
        typed.float_val.extend(values.tolist())
    elif name == "float64":
        typed.double_val.extend(values.tolist())
    elif name in ("int8", "int16", "int32", "uint8", "uint16"):
        typed.int_val.extend(int(v) for v in values)
    elif name == "int64":
        typed.int64_val.extend(int(v) for v in values)
    elif name == "uint32":
        typed.uint32_val.extend(int(v) for v in values)
    elif name == "uint64":
        typed.uint64_val.extend(int(v) for v in values)
    elif name == "bool":
        typed.bool_val.extend(bool(v) for v in values)
    elif name == "complex64":
        typed.scomplex_val.extend(np.asarray(values).view(np.float32).tolist())
    elif name == "complex128":
        typed.dcomplex_val.extend(np.asarray(values).view(np.float64).tolist())
    expected = tf.make_ndarray(typed)
    ours = decode_tensor(tensor_pb2.TensorProto.FromString(typed.SerializeToString()))
    assert ours.dtype == expected.dtype
    assert ours.shape == expected.shape == (2, 3)
    np.testing.assert_array_equal(ours, expected)


def test_typed_fields_from_tensorflow_itself() -> None:
    """Protos TF writes with AsProtoField (what TF Serving sends by default) decode identically."""
    for value in (np.float32([[1.5, -2.0]]), np.int32([7, 8, 9]), np.float64(3.25), np.bool_([True, False])):
        official = tf.make_tensor_proto(value, shape=np.shape(value))
        tensor = tf.constant(value)
        typed = tensor.numpy()
        ours = decode_tensor(tensor_pb2.TensorProto.FromString(official.SerializeToString()))
        np.testing.assert_array_equal(ours, typed)
    # scalars/constant fills: make_tensor_proto(1.0, shape=[2,2]) writes a single float_val
    official = tf.make_tensor_proto(1.0, dtype=tf.float32, shape=[2, 2])
    assert len(official.float_val) == 1 and not official.tensor_content
    ours = decode_tensor(tensor_pb2.TensorProto.FromString(official.SerializeToString()))
    np.testing.assert_array_equal(ours, tf.make_ndarray(official))


@pytest.mark.parametrize(
    "value",
    [[b"a", b"\x00\xff binary", "unicode \u00e9".encode()], [["x", "y"], ["", "zz"]], "scalar", np.array([], dtype=object)],
    ids=["bytes", "str-2d", "scalar", "empty"],
)
def test_strings_interop(value) -> None:
    proto = encode_tensor(value)
    official = tf_tensor_pb2.TensorProto.FromString(proto.SerializeToString())
    expected = tf.make_ndarray(official)
    ours = decode_tensor(proto)
    assert ours.shape == expected.shape
    assert ours.tolist() == expected.tolist()
    mirrored = decode_tensor(tensor_pb2.TensorProto.FromString(tf.make_tensor_proto(expected).SerializeToString()))
    assert mirrored.tolist() == expected.tolist()
    _same_bytes(proto, tf_tensor_pb2.TensorProto)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,)])
def test_scalars_and_empty_tensors_interop(shape) -> None:
    array = np.full(shape, 1.5, dtype=np.float32)
    proto = encode_tensor(array)
    decoded = tf.make_ndarray(tf_tensor_pb2.TensorProto.FromString(proto.SerializeToString()))
    assert decoded.shape == shape
    np.testing.assert_array_equal(decoded, array)


def _model_spec(target, **kw):
    return _wire.fill_model_spec(target, "m", kw.get("version"), kw.get("label"), kw.get("signature"))


def test_predict_request_and_response() -> None:
    request = _wire.predict_request(
        {"x": np.float32([[1, 2]]), "s": [b"a"], "i": np.int64([5])}, "m", 0, None, "sig", ["y"]
    )
    _same_bytes(request, predict_pb2.PredictRequest)
    official = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert official.model_spec.version.value == 0 and official.model_spec.HasField("version")
    assert official.model_spec.signature_name == "sig" and list(official.output_filter) == ["y"]
    np.testing.assert_array_equal(tf.make_ndarray(official.inputs["x"]), [[1, 2]])
    labelled = _wire.predict_request({"x": [1.0]}, "m", None, "stable", None, None)
    assert predict_pb2.PredictRequest.FromString(labelled.SerializeToString()).model_spec.version_label == "stable"

    response = predict_pb2.PredictResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = 3
    response.outputs["y"].CopyFrom(tf.make_tensor_proto(np.float32([[2.5]])))
    ours = serving_pb2.PredictResponse.FromString(response.SerializeToString())
    _same_bytes(ours, predict_pb2.PredictResponse)
    np.testing.assert_array_equal(_wire.predict_result(ours)["y"], [[2.5]])


def test_examples_classify_regress_multi_inference() -> None:
    examples = [{"x": 1.5, "tags": [b"a", "b"], "n": [1, 2]}, {"x": [2.0, 3.0]}]
    request_input = build_input(examples, context={"shared": 7})
    classify = serving_pb2.ClassificationRequest(input=request_input)
    _model_spec(classify.model_spec, version=2, signature="cls")
    _same_bytes(classify, classification_pb2.ClassificationRequest)
    official = classification_pb2.ClassificationRequest.FromString(classify.SerializeToString())
    first = official.input.example_list_with_context.examples[0].features.feature
    assert list(first["tags"].bytes_list.value) == [b"a", b"b"]
    assert list(first["x"].float_list.value) == [1.5]
    assert list(first["n"].int64_list.value) == [1, 2]
    assert list(official.input.example_list_with_context.context.features.feature["shared"].int64_list.value) == [7]

    regress = serving_pb2.RegressionRequest(input=build_input(examples))
    _model_spec(regress.model_spec, label="canary")
    _same_bytes(regress, regression_pb2.RegressionRequest)
    example = tf_example_pb2.Example.FromString(
        regress.input.example_list.examples[1].SerializeToString()
    )
    assert list(example.features.feature["x"].float_list.value) == [2.0, 3.0]
    _same_bytes(regress.input.example_list.examples[0], tf_example_pb2.Example)
    _same_bytes(request_input, input_pb2.Input)

    cls_response = classification_pb2.ClassificationResponse()
    c = cls_response.result.classifications.add().classes.add()
    c.label, c.score = "cat", 0.75
    ours_cls = serving_pb2.ClassificationResponse.FromString(cls_response.SerializeToString())
    _same_bytes(ours_cls, classification_pb2.ClassificationResponse)
    assert _wire.classification_result(ours_cls.result) == [[("cat", 0.75)]]

    reg_response = regression_pb2.RegressionResponse()
    reg_response.result.regressions.add().value = 4.5
    ours_reg = serving_pb2.RegressionResponse.FromString(reg_response.SerializeToString())
    _same_bytes(ours_reg, regression_pb2.RegressionResponse)
    np.testing.assert_array_equal(_wire.regression_result(ours_reg.result), [4.5])

    multi = _wire.multi_inference_request(build_input(examples), "m", {"a": "classify", "b": "regress"}, 1, None)
    _same_bytes(multi, inference_pb2.MultiInferenceRequest)
    official_multi = inference_pb2.MultiInferenceRequest.FromString(multi.SerializeToString())
    assert [t.method_name for t in official_multi.tasks] == ["tensorflow/serving/classify", "tensorflow/serving/regress"]
    multi_response = inference_pb2.MultiInferenceResponse()
    item = multi_response.results.add()
    item.model_spec.signature_name = "b"
    item.regression_result.regressions.add().value = 1.0
    ours_multi = serving_pb2.MultiInferenceResponse.FromString(multi_response.SerializeToString())
    _same_bytes(ours_multi, inference_pb2.MultiInferenceResponse)
    assert list(_wire.multi_inference_result(ours_multi, {"b": "regress"})["b"]) == [1.0]


def test_metadata_with_official_signature_def_map_any() -> None:
    request = serving_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    _model_spec(request.model_spec, version=5)
    _same_bytes(request, get_model_metadata_pb2.GetModelMetadataRequest)

    sig = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    sig.inputs["x"].name = "x:0"
    sig.inputs["x"].dtype = tf_types_pb2.DT_FLOAT
    sig.inputs["x"].tensor_shape.dim.add().size = -1
    sig.inputs["x"].tensor_shape.dim.add().size = 3
    sig.outputs["y"].name = "y:0"
    sig.outputs["y"].dtype = tf_types_pb2.DT_STRING
    sig.outputs["y"].tensor_shape.unknown_rank = True
    sig.defaults["x"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 3), np.float32)))
    defs = get_model_metadata_pb2.SignatureDefMap()
    defs.signature_def["serving_default"].CopyFrom(sig)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = 5
    response.metadata["signature_def"].Pack(defs)
    assert response.metadata["signature_def"].type_url == _wire.SIGNATURE_DEF_MAP_TYPE_URLS[0]

    ours = serving_pb2.GetModelMetadataResponse.FromString(response.SerializeToString())
    _same_bytes(ours, get_model_metadata_pb2.GetModelMetadataResponse)
    our_defs = serving_pb2.SignatureDefMap.FromString(ours.metadata["signature_def"].value)
    _same_bytes(our_defs, get_model_metadata_pb2.SignatureDefMap)
    _same_bytes(our_defs.signature_def["serving_default"], meta_graph_pb2.SignatureDef)
    metadata = _wire.metadata_result(ours, "m")
    spec = metadata.signature()
    assert metadata.version == 5
    assert spec.inputs["x"].dtype_name == "DT_FLOAT" and spec.inputs["x"].shape == (None, 3)
    assert spec.outputs["y"].shape is None and spec.outputs["y"].dtype == np.dtype(object)
    assert spec.defaults == ("x",)


def test_status_and_reload_config() -> None:
    request = serving_pb2.GetModelStatusRequest()
    _model_spec(request.model_spec, version=1)
    _same_bytes(request, get_model_status_pb2.GetModelStatusRequest)
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state, code, message in ((2, 20, 0, ""), (1, 50, 3, "bad model")):
        entry = response.model_version_status.add()
        entry.version, entry.state = version, state
        entry.status.error_code, entry.status.error_message = code, message
    ours = serving_pb2.GetModelStatusResponse.FromString(response.SerializeToString())
    _same_bytes(ours, get_model_status_pb2.GetModelStatusResponse)
    statuses = _wire.status_result(ours)
    assert [(s.version, s.state, s.error_code) for s in statuses] == [(2, "LOADING", "OK"), (1, "END", "INVALID_ARGUMENT")]
    assert statuses[1].failed and statuses[1].error_message == "bad model"

    text = """
    model_config_list {
      config {
        name: "m" base_path: "/models/m" model_platform: "tensorflow"
        model_version_policy { specific { versions: 1 versions: 2 } }
        version_labels { key: "stable" value: 1 }
        logging_config { sampling_config { sampling_rate: 0.5 } }
      }
      config { name: "n" base_path: "/models/n" model_platform: "tensorflow" model_version_policy { latest { num_versions: 2 } } }
      config { name: "o" base_path: "/models/o" model_platform: "tensorflow" model_version_policy { all {} } }
    }"""
    reload_request = _wire.reload_config_request(text, ["metric/a"])
    _same_bytes(reload_request, model_management_pb2.ReloadConfigRequest)
    official_config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    assert official_config.SerializeToString(deterministic=True) == reload_request.config.SerializeToString(
        deterministic=True
    )
    from_message = _wire.reload_config_request(official_config)
    assert from_message.config == reload_request.config

    reload_response = model_management_pb2.ReloadConfigResponse()
    metric = reload_response.metric.add()
    metric.name, metric.int64_value_increase = "metric/a", 3
    ours_reload = serving_pb2.ReloadConfigResponse.FromString(reload_response.SerializeToString())
    _same_bytes(ours_reload, model_management_pb2.ReloadConfigResponse)
    assert _wire.reload_config_result(ours_reload) == {"metric/a": 3}


def test_model_spec_and_examples_messages() -> None:
    spec = _model_spec(serving_pb2.ModelSpec(), version=0, signature="s")
    _same_bytes(spec, model_pb2.ModelSpec)
    example = example_pb2.Example()
    example.features.feature["f"].float_list.value.extend([1.0, float("nan")])
    example.features.feature["b"].bytes_list.value.append(b"\x00")
    example.features.feature["i"].int64_list.value.append(-(2**63))
    _same_bytes(example, tf_example_pb2.Example)


def test_descriptors_match_official_field_numbers() -> None:
    """Every field we define exists in the official message with the same number, type and label."""
    pairs = [
        (tensor_pb2.TensorProto, tf_tensor_pb2.TensorProto),
        (serving_pb2.PredictRequest, predict_pb2.PredictRequest),
        (serving_pb2.PredictResponse, predict_pb2.PredictResponse),
        (serving_pb2.ModelSpec, model_pb2.ModelSpec),
        (serving_pb2.ClassificationResponse, classification_pb2.ClassificationResponse),
        (serving_pb2.GetModelMetadataResponse, get_model_metadata_pb2.GetModelMetadataResponse),
        (serving_pb2.SignatureDef, meta_graph_pb2.SignatureDef),
        (serving_pb2.TensorInfo, meta_graph_pb2.TensorInfo),
        (serving_pb2.ModelVersionStatus, get_model_status_pb2.ModelVersionStatus),
        (serving_pb2.ModelConfig, model_server_config_pb2.ModelConfig),
        (serving_pb2.ReloadConfigResponse, model_management_pb2.ReloadConfigResponse),
        (serving_pb2.MultiInferenceRequest, inference_pb2.MultiInferenceRequest),
        (example_pb2.Feature, tf_feature_pb2.Feature),
    ]
    for ours, official in pairs:
        theirs = {f.name: f for f in official.DESCRIPTOR.fields}
        for field in ours.DESCRIPTOR.fields:
            other = theirs[field.name]
            assert (field.number, field.type, field.is_repeated) == (other.number, other.type, other.is_repeated), (
                f"{ours.DESCRIPTOR.full_name}.{field.name}"
            )
    ours_dt = {v.name: v.number for v in tensor_pb2.DataType.DESCRIPTOR.values}
    theirs_dt = {v.name: v.number for v in tf_types_pb2.DataType.DESCRIPTOR.values if v.number < 100}
    assert ours_dt == theirs_dt


def test_our_protos_coexist_with_official_ones() -> None:
    """Both sets of definitions live in one process: different packages and file paths."""
    assert serving_pb2.PredictRequest.DESCRIPTOR.full_name == "tfs_toolkit.wire.PredictRequest"
    assert predict_pb2.PredictRequest.DESCRIPTOR.full_name == "tensorflow.serving.PredictRequest"
    assert tensor_pb2.DESCRIPTOR.name != tf_tensor_pb2.DESCRIPTOR.name


@pytest.mark.parametrize(
    "inputs",
    [
        {"x": np.float32([[1, 2], [3, 4]])},
        {"x": np.zeros((0, 3), np.float32)},
        {"s": [b"a", "b\u00e9"]},
        {"k": np.int64(5)},
        {"b": np.arange(6, dtype=">i4")[::2], "c": np.complex64([1j]), "h": np.float16([0.5])},
        {"name with spaces \u00e9": np.ones((2, 200, 3), np.float32)},  # multi-byte varints
    ],
    ids=["f32", "empty", "strings", "scalar", "mixed", "big"],
)
def test_single_copy_predict_request_bytes(inputs) -> None:
    """The hand-built wire bytes (one copy of the tensor data) equal protobuf's and parse with the official class."""
    wire = _wire.predict_request_bytes(inputs, "m", 3, None, "sig", ["y"])
    message = _wire.predict_request(inputs, "m", 3, None, "sig", ["y"])
    if len(inputs) == 1:
        assert wire == message.SerializeToString()
    assert serving_pb2.PredictRequest.FromString(wire) == message
    official = predict_pb2.PredictRequest.FromString(wire)
    assert official.model_spec.version.value == 3 and list(official.output_filter) == ["y"]
    for name, value in inputs.items():
        expected = np.asarray(value) if not isinstance(value, list) else np.array(value, dtype=object)
        got = tf.make_ndarray(official.inputs[name])
        if expected.dtype == object:
            assert got.tolist() == [v.encode() if isinstance(v, str) else v for v in value]
        else:
            np.testing.assert_array_equal(got, expected)
