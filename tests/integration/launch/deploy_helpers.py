"""Shared by the launcher tests (embedded and Docker): a deploy folder serving a real half_plus_two SavedModel on
free 127.0.0.1 ports, and one REST and one gRPC prediction against it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from tests.support.live_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


def make_deploy(
    root: Path, model_src: Path, *, name: str = "half", version: int = 1, label: bool = True
) -> tuple[Path, int, int]:
    """``root/deploy`` with ``models/<name>/<version>`` copied from ``model_src`` and a deployment.toml on free
    ports (with a ``stable`` label on the version when ``label``). Returns (deploy dir, gRPC port, REST port)."""
    deploy = root / "deploy"
    shutil.copytree(model_src, deploy / "models" / name / str(version))
    grpc_port = free_port()
    rest_port = free_port()
    while rest_port == grpc_port:
        rest_port = free_port()
    (deploy / "deployment.toml").write_text(
        f'[server]\nhost = "127.0.0.1"\ngrpc_port = {grpc_port}\nrest_port = {rest_port}\n'
        "model_config_file_poll_wait_seconds = 5\n"
        # TF Serving validates labels before the start-up load; without this a label fails the start (issue #1413).
        "allow_version_labels_for_unavailable_models = true\n\n"
        f'[[models]]\nname = "{name}"\nbase_path = "/models/{name}"\n'
        + (f"labels = {{ stable = {version} }}\n" if label else ""),
        encoding="utf-8",
    )
    return deploy, grpc_port, rest_port


def rest_predict(rest_url: str, model: str, values: list[float]) -> list[float]:
    """POST :predict in the row format; returns ``predictions``."""
    response = httpx.post(f"{rest_url}/v1/models/{model}:predict", json={"instances": values}, timeout=30)
    assert response.status_code == 200, response.text
    return [float(v) for v in response.json()["predictions"]]


def grpc_predict(target: str, model: str, values: list[float]) -> list[float]:
    """PredictionService/Predict with the official messages; returns output ``y``."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.asarray(values, dtype=np.float32)))
    with grpc.insecure_channel(target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    return [float(v) for v in tf.make_ndarray(response.outputs["y"]).ravel()]


def run_tfs(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``tfs`` command line in a subprocess (``python -m toolkit.cli``)."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO_ROOT),
        timeout=timeout,
    )
