"""Warmup replay at load time: records of assets.extra/tf_serving_warmup_requests run (times
--num_request_iterations_for_warmup) before the version is AVAILABLE; bad warmup data fails the load."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    prediction_log_pb2,
    regression_pb2,
)

from tests.integration.server.grpc_helpers import example, status_request
from tests.support import models
from tests.support.live_server import start_tfs_serve, wait_for


def _classify_regress_records() -> list[bytes]:
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.append(example(x=1.0))
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x_to_y"
    regress.input.example_list.examples.append(example(x=1.0))
    multi = inference_pb2.MultiInferenceRequest()
    task = multi.tasks.add()
    task.model_spec.name = "t"  # MultiInference requires a model name in every task, warmup included
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    multi.input.example_list.examples.append(example(x=2.0))
    return [
        prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=classify)).SerializeToString(),
        prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=regress)).SerializeToString(),
        prediction_log_pb2.PredictionLog(
            multi_inference_log=prediction_log_pb2.MultiInferenceLog(request=multi)
        ).SerializeToString(),
    ]


@pytest.fixture(scope="module")
def warm_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warm_repo")
    v1 = models.publish_version(root, "w", 1, models.build_half_plus_two_tf2)
    # the last record's x is [1,2] where the signature says [-1]: TF Serving replays it (the ops compute with it),
    # so the load must succeed
    xs = [np.array([0.0], np.float32), np.array([1.0], np.float32), np.array([[2.0, 3.0]], np.float32)]
    models.write_warmup_records(v1, [models.predict_warmup_record({"x": x}) for x in xs])
    t1 = models.publish_version(root, "t", 1, models.build_half_plus_two_tf1)
    models.write_warmup_records(t1, _classify_regress_records())
    # staged (unpublished) versions with bad warmup data
    corrupt = models.build_half_plus_two_tf2(root / "staged_corrupt")
    (corrupt / "assets.extra").mkdir()
    (corrupt / "assets.extra" / "tf_serving_warmup_requests").write_bytes(os.urandom(64))
    too_many = models.build_half_plus_two_tf2(root / "staged_too_many")
    record = models.predict_warmup_record({"x": np.array([1.0], np.float32)})
    models.write_warmup_records(too_many, [record] * 1001)
    failing = models.build_half_plus_two_tf2(root / "staged_failing")
    models.write_warmup_records(failing, [models.predict_warmup_record({"nope": np.array([1.0], np.float32)})])
    (root / "monitoring.config").write_text("prometheus_config { enable: true }\n")
    (root / "models.config").write_text(models.models_config_text({"w": root / "w", "t": root / "t"}))
    return root


@pytest.fixture(scope="module")
def warm_server(warm_repo: Path):  # type: ignore[no-untyped-def]
    server = start_tfs_serve(
        [f"--model_config_file={warm_repo / 'models.config'}", f"--monitoring_config_file={warm_repo / 'monitoring.config'}",
         "--num_request_iterations_for_warmup=2", "--max_num_load_retries=0", "--file_system_poll_wait_seconds=1"],
        ready_models={"w": [1], "t": [1]},
    )
    yield server
    server.stop()


def _metric(server, pattern: str) -> float | None:  # type: ignore[no-untyped-def]
    text = httpx.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_warmup_records_are_replayed_at_load(warm_server, warm_repo: Path) -> None:  # type: ignore[no-untyped-def]
    # 3 records x 2 iterations for w; 3 records (classify, regress, multi-inference) x 2 for t
    assert _metric(warm_server, r'^:tfs_toolkit:serving:model_warmup_request_count\{model_name="w",version="1"\} (\S+)$') == 6
    assert _metric(warm_server, r'^:tfs_toolkit:serving:model_warmup_request_count\{model_name="t",version="1"\} (\S+)$') == 6
    assert _metric(warm_server, r'^:tensorflow:serving:model_warmup_latency_count\{model_path="[^"]*/w/1",status="OK"\} (\S+)$') == 1
    # saved_model_warmup_util.cc: records read (not replays) per model path and status
    assert _metric(warm_server, r'^:tensorflow:serving:model_warmup_records_read\{model_path="[^"]*/w/1",status="OK"\} (\S+)$') == 3
    log = warm_server.log_text()
    assert re.search(r"Finished reading warmup data for model at \S+/w/1/assets.extra/tf_serving_warmup_requests\. "
                     r"Number of warmup records read: 3\.", log)


def _wait_end(server, version: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    def ended():  # type: ignore[no-untyped-def]
        for s in server.model_stub().GetModelStatus(status_request("w"), timeout=10).model_version_status:
            if s.version == version and s.state == 50:
                return s.status.error_code, s.status.error_message
        return None

    return wait_for(ended, timeout=60, what=f"w version {version} END")


@pytest.mark.parametrize(
    ("staged", "version", "code", "message"),
    [
        ("staged_corrupt", 2, 15, "Please verify your warmup data is in TFRecord format."),
        ("staged_too_many", 3, 3, "Number of warmup records exceeds the maximum (1000) at "),
        ("staged_failing", 4, 3, "Signature input alias: x(feed name: serving_default_x:0) not found in request"),
    ],
)
def test_bad_warmup_fails_the_load(warm_server, warm_repo: Path, staged: str, version: int, code: int,  # type: ignore[no-untyped-def]
                                   message: str) -> None:
    models.copy_version(warm_repo / staged, warm_repo / "w", version)
    error_code, error_message = _wait_end(warm_server, version)
    assert error_code == code
    assert message in error_message
    # version 1 keeps serving
    states = {s.version: s.state for s in
              warm_server.model_stub().GetModelStatus(status_request("w"), timeout=10).model_version_status}
    assert states[1] == 30


def test_warmup_can_be_disabled(warm_repo: Path, tmp_path: Path) -> None:
    base = tmp_path / "w"
    models.copy_version(warm_repo / "staged_corrupt", base, 1)
    with start_tfs_serve(
        [f"--model_base_path={base}", "--model_name=w", "--enable_model_warmup=false"],
        rest=False, ready_models={"w": [1]},
    ) as server:
        assert server.version_states("w") == {1: 30}  # the corrupt warmup file was not read
