"""SIGTERM drains in-flight requests: IN_FLIGHT requests (half gRPC, half REST) are held in the batch queue (a 3 s
batch timeout) until the server has them all, then SIGTERM: every one is answered correctly, the process exits 0,
and the ports are closed afterwards."""

from __future__ import annotations

import re
import signal
import socket
import threading
from pathlib import Path

import grpc
import httpx
from tensorflow_serving.apis import predict_pb2

from tests.support.live_server import start_tfs_serve, wait_for

IN_FLIGHT = 6


def test_sigterm_drains_in_flight_requests_on_both_protocols(rel_repo: Path, tmp_path: Path) -> None:
    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 3000000 }\n")
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    server = start_tfs_serve(
        [f"--model_base_path={rel_repo / 'half'}", "--model_name=half", "--enable_batching",
         f"--batching_parameters_file={batching}", f"--monitoring_config_file={monitoring}"],
        ready_models={"half": [2]},
    )
    results: dict[int, object] = {}

    def via_grpc(i: int) -> None:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half"
        request.inputs["x"].dtype = 1
        request.inputs["x"].tensor_shape.dim.add().size = 1
        request.inputs["x"].float_val.append(float(i))
        try:
            results[i] = server.prediction_stub().Predict(request, timeout=60).outputs["y"].float_val[0]
        except grpc.RpcError as exc:
            results[i] = f"{exc.code().name}: {exc.details()}"

    def via_rest(i: int) -> None:
        try:
            reply = httpx.post(f"{server.rest_url}/v1/models/half:predict", json={"instances": [float(i)]}, timeout=60)
            results[i] = reply.json()["predictions"][0] if reply.status_code == 200 else f"{reply.status_code} {reply.text}"
        except httpx.HTTPError as exc:
            results[i] = repr(exc)

    threads = [threading.Thread(target=via_grpc if i % 2 else via_rest, args=(i,)) for i in range(IN_FLIGHT)]
    try:
        for thread in threads:
            thread.start()
        metrics = server.rest_url + "/monitoring/prometheus/metrics"
        queued = re.compile(rf"input_batch_size_count(\{{[^}}]*\}})? {IN_FLIGHT}$", re.M)  # labels as TF's version has them
        wait_for(lambda: queued.search(httpx.get(metrics, timeout=5).text) is not None,
                 timeout=30, what=f"{IN_FLIGHT} requests queued in the server")
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        code = server.process.wait(timeout=60)
    finally:
        server.stop()
    assert results == {i: 0.5 * i + 3.0 for i in range(IN_FLIGHT)}, results
    assert code == 0
    for port in (server.grpc_port, server.rest_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after the drain"
