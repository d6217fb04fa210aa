"""TF Lite models under ``tfs serve --prefer_tflite_model=true``: Predict over gRPC and REST, signature naming as
TF Serving's TfLiteSession (generated ``serving_default`` and embedded SignatureDefs), metadata, status, the
SavedModel fallback and the preference when a version holds both.

One live server for the module (--num_tflite_pools=2 --num_tflite_interpreters_per_pool=2, so requests go through
TfLiteSession's batch scheduler) plus one with --platform_config_file (direct path); about 20 s in all. Models are
converted with TF's own converter in the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2

from tests.integration.server.grpc_helpers import predict_request
from tests.support import models, tflite_models
from tests.support.live_server import start_tfs_serve

MODELS = ("hpt_lite", "hpt_lite_sig", "two_inputs", "both", "saved_only")


def _saved_model_with_tflite(export_dir: Path) -> Path:
    """A SavedModel (y = 0.5x + 2) whose folder also holds a model.tflite of y = 0.5x + 3."""
    models.build_half_plus_two_tf2(export_dir)
    (export_dir / "model.tflite").write_bytes(tflite_models.convert_half_plus_two_tf1(b=3.0))
    return export_dir


@pytest.fixture(scope="module")
def lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("tflite_repo")
    models.publish_version(root, "hpt_lite", 1, tflite_models.build_half_plus_two_tflite)
    sig_version = models.publish_version(root, "hpt_lite_sig", 1, tflite_models.build_half_plus_two_tflite_with_sigdef)
    models.write_warmup_records(sig_version, [models.predict_warmup_record({"x": np.ones((2, 1), np.float32)})])
    models.publish_version(root, "two_inputs", 1, tflite_models.build_two_inputs_tflite)
    models.publish_version(root, "both", 1, _saved_model_with_tflite)
    models.publish_version(root, "saved_only", 1, models.build_half_plus_two_tf2)
    config = root / "models.config"
    config.write_text(models.models_config_text({name: root / name for name in MODELS}))
    server = start_tfs_serve(
        [f"--model_config_file={config}", "--prefer_tflite_model=true", "--num_tflite_pools=2",
         "--num_tflite_interpreters_per_pool=2"],
        ready_models={name: [1] for name in MODELS},
    )
    yield server
    server.stop()


def _grpc_predict(server: Any, name: str, inputs: dict[str, object], **kw: object) -> dict[str, np.ndarray]:
    response = server.prediction_stub().Predict(predict_request(name, inputs, **kw), timeout=30)
    return {key: tf.make_ndarray(value) for key, value in response.outputs.items()}


def _rest(server: Any, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, f"{server.rest_url}{path}", json=body, timeout=30)


# ------------------------------------------------------------------------------------------------ predict
def test_grpc_predict_generated_signature(lite_server: Any) -> None:
    outputs = _grpc_predict(lite_server, "hpt_lite", {"x": np.array([[1.0]], np.float32)})
    assert list(outputs) == ["y"]
    np.testing.assert_allclose(outputs["y"], [[2.5]])


def test_rest_predict_generated_signature(lite_server: Any) -> None:
    response = _rest(lite_server, "POST", "/v1/models/hpt_lite:predict", {"instances": [[1.0]]})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [[2.5]]}


def test_embedded_signature_serves_batches_over_both_protocols(lite_server: Any) -> None:
    x = np.array([[1.0], [2.0], [5.0]], np.float32)
    np.testing.assert_allclose(_grpc_predict(lite_server, "hpt_lite_sig", {"x": x})["y"], [[2.5], [3.0], [4.5]])
    response = _rest(lite_server, "POST", "/v1/models/hpt_lite_sig:predict",
                     {"signature_name": "predict_alias", "instances": [[1.0], [2.0], [5.0]]})
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [[2.5], [3.0], [4.5]]}


def test_generated_signature_keys_strip_the_output_index(lite_server: Any) -> None:
    # Outputs PartitionedCall:0 and PartitionedCall:1 share the key "PartitionedCall": the later name wins.
    outputs = _grpc_predict(
        lite_server,
        "two_inputs",
        {"serving_default_x": np.array([[1.0, 2.0]], np.float32), "serving_default_k": np.array([7], np.int32)},
    )
    assert list(outputs) == ["PartitionedCall"]
    assert outputs["PartitionedCall"].dtype == np.float32
    np.testing.assert_allclose(outputs["PartitionedCall"], [3.0])


def test_a_version_with_both_files_serves_the_tflite_model(lite_server: Any) -> None:
    lite = _grpc_predict(lite_server, "both", {"x": np.array([[1.0]], np.float32)})
    np.testing.assert_allclose(lite["y"], [[3.5]])  # model.tflite: 0.5x + 3 (the SavedModel would give 2.5)
    saved = _rest(lite_server, "POST", "/v1/models/saved_only:predict", {"instances": [1.0, 2.0]})
    assert saved.json() == {"predictions": [2.5, 3.0]}  # no model.tflite: the SavedModel serves


def test_wrong_dtype_and_unknown_signature_are_client_errors(lite_server: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _grpc_predict(lite_server, "hpt_lite_sig", {"x": np.array([[1]], np.int32)})
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    response = _rest(
        lite_server, "POST", "/v1/models/hpt_lite:predict", {"signature_name": "nope", "instances": [[1.0]]}
    )
    assert response.status_code == 400
    assert '"nope" not found' in response.json()["error"]  # the REST layer's own lookup text


# ------------------------------------------------------------------------------------------------ metadata
def test_grpc_metadata_of_generated_and_embedded_signatures(lite_server: Any) -> None:
    def signatures(name: str) -> dict[str, Any]:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = name
        response = lite_server.prediction_stub().GetModelMetadata(request, timeout=30)
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(sig_map)
        assert response.model_spec.version.value == 1
        return dict(sig_map.signature_def)

    generated = signatures("hpt_lite")
    assert list(generated) == ["serving_default"]
    sig = generated["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    assert (sig.inputs["x"].name, sig.inputs["x"].dtype) == ("x", tf.float32.as_datatype_enum)
    assert [d.size for d in sig.inputs["x"].tensor_shape.dim] == [1, 1]  # the tensor's dims, not its signature
    assert sig.outputs["y"].name == "y"
    embedded = signatures("hpt_lite_sig")
    assert sorted(embedded) == ["predict_alias", "serving_default"]
    assert embedded["serving_default"].inputs["x"].name == "x"  # "x:0" fixed to the model's legacy name
    assert [d.size for d in embedded["predict_alias"].inputs["inputs"].tensor_shape.dim] == [-1, 1]
    two = signatures("two_inputs")["serving_default"]
    assert sorted(two.inputs) == ["serving_default_k", "serving_default_x"]
    assert two.inputs["serving_default_k"].name == "serving_default_k:0"
    assert list(two.outputs) == ["PartitionedCall"]


def test_warmup_records_replay_against_the_tflite_model(lite_server: Any) -> None:
    log = lite_server.log_text()
    assert "hpt_lite_sig/1/assets.extra/tf_serving_warmup_requests. Number of warmup records read: 1." in log


def test_rest_metadata_and_status(lite_server: Any) -> None:
    doc = _rest(lite_server, "GET", "/v1/models/two_inputs/metadata").json()
    sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["serving_default_x"]["dtype"] == "DT_FLOAT"
    assert sig["inputs"]["serving_default_k"]["dtype"] == "DT_INT32"
    assert sig["outputs"]["PartitionedCall"]["name"] == "PartitionedCall:1"
    status = _rest(lite_server, "GET", "/v1/models/hpt_lite").json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    assert status["model_version_status"][0]["version"] == "1"


# ------------------------------------------------------------------------------------------------ platform config
PLATFORM_CONFIG = """\
platform_configs {
  key: "tensorflow"
  value {
    source_adapter_config {
      [type.googleapis.com/tensorflow.serving.SavedModelBundleSourceAdapterConfig] {
        legacy_config { prefer_tflite_model: true num_tflite_pools: 1 }
      }
    }
  }
}
"""


def test_platform_config_file_turns_on_tflite_and_replaces_the_flags(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    models.publish_version(root, "both", 1, _saved_model_with_tflite)
    (tmp_path / "platform.config").write_text(PLATFORM_CONFIG)
    server = start_tfs_serve(
        [f"--model_base_path={root / 'both'}", "--model_name=both",
         f"--platform_config_file={tmp_path / 'platform.config'}", "--prefer_tflite_model=false"],
        ready_models={"both": [1]},
    )
    try:
        lite = _grpc_predict(server, "both", {"x": np.array([[3.0]], np.float32)}, signature="serving_default")
        np.testing.assert_allclose(lite["y"], [[4.5]])
        response = _rest(server, "POST", "/v1/models/both:predict", {"instances": [[1.0]]})
        assert response.json() == {"predictions": [[3.5]]}  # the TF Lite model, despite --prefer_tflite_model=false
        assert "--prefer_tflite_model is ignored: --platform_config_file replaces it" in server.log_text()
    finally:
        server.stop()
