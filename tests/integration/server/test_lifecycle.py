"""Process-level behaviour of ``tfs serve``: flags and exit codes, start-up failures, taken ports, SIGTERM with an
in-flight request, deadlines, the UNIX socket, the health service and TLS."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.integration.server.grpc_helpers import outputs, predict_request, rpc_error
from tests.support import models
from tests.support.live_server import (
    REPO_ROOT,
    server_command,
    server_env,
    start_tfs_serve,
    wait_for,
)

X = np.array([2.0], dtype=np.float32)


def run_server(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the server to completion (for commands that must exit by themselves)."""
    return subprocess.run(
        [*server_command(), *args], capture_output=True, text=True, timeout=timeout, env=server_env(), cwd=REPO_ROOT
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lifecycle_repo")
    models.publish_version(root, "hp", 1, models.build_half_plus_two_tf2)
    models.publish_version(root, "slow", 1, models.build_slow_tf2)
    broken = root / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"garbage")
    return root


# ------------------------------------------------------------------------------------------ flags and exit codes
def test_version_flag() -> None:
    result = run_server(["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("TensorFlow ModelServer: ")
    assert "TensorFlow Library: " in result.stdout


def test_tfs_serve_console_script_passes_flags_through() -> None:
    tfs = Path(REPO_ROOT) / ".venv" / "bin" / "tfs"
    if not tfs.exists():
        tfs = Path(server_command()[0]).parent / "tfs"
    result = subprocess.run([str(tfs), "serve", "--version"], capture_output=True, text=True, timeout=120,
                            env=server_env())
    assert result.returncode == 0, result.stderr
    assert "TensorFlow ModelServer: " in result.stdout
    result = subprocess.run([str(tfs), "serve", "--help"], capture_output=True, text=True, timeout=120,
                            env=server_env())
    assert "--model_config_file" in result.stdout and "--enable_batching" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus_flag=1"], "unknown argument: --bogus_flag=1"),
        (["--port", "8500"], "Flag --port needs a value: write --port=VALUE"),
        (["--port=abc"], "Invalid value for int32 flag --port: 'abc'"),
        (["--enable_batching=maybe"], "Invalid value for bool flag --enable_batching"),
        (["--model_base_path=/x", "--use_alts_credentials=true"], "--use_alts_credentials is not supported"),
    ],
)
def test_bad_flags_exit_2(args: list[str], message: str) -> None:
    result = run_server(args)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Both server_options.model_base_path and server_options.model_config_file are empty!"),
        (["--model_base_path=/x", "--batching_parameters_file=/b"],
         "server_options.batching_parameters_file is set without setting server_options.enable_batching to true."),
        (["--model_base_path=/x", "--port=0"],
         "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set."),
        (["--model_config_file=/does/not/exist.config"], "Could not read model config file /does/not/exist.config"),
        (["--model_base_path=/x", "--platform_config_file=/does/not/exist"],
         "Could not read platform config file /does/not/exist"),
    ],
)
def test_invalid_options_fail_to_start(args: list[str], message: str) -> None:
    result = run_server(args)
    assert result.returncode == 1
    assert f"Failed to start server. Error: {message}" in result.stderr


def test_bad_config_files_fail_to_start(tmp_path: Path, repo: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'x' ")
    result = run_server([f"--model_config_file={config}"])
    assert result.returncode == 1
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in result.stderr

    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 6\n")
    result = run_server([f"--model_base_path={repo / 'hp'}", "--enable_batching",
                         f"--batching_parameters_file={batching}"])
    assert result.returncode == 1
    assert "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 6; expected 8" in result.stderr


def test_broken_model_fails_start_up(repo: Path) -> None:
    result = run_server([f"--model_base_path={repo / 'broken'}", "--model_name=broken", "--max_num_load_retries=0",
                         "--port=0", "--grpc_socket_path=/tmp/unused-tfs.sock"])
    assert result.returncode == 1
    assert "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: " in result.stderr
    assert "{name: broken version: 1} due to error: " in result.stderr


def test_label_on_unloaded_version_fails_start_up_without_allow_flag(repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text(models.models_config_text({"hp": repo / "hp"}, {"hp": 'version_labels { key: "stable" value: 1 }'}))
    result = run_server([f"--model_config_file={config}"])
    assert result.returncode == 1
    assert ("Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to version 1 of model hp, "
            "which is not currently available for inference") in result.stderr


def test_ignored_flags_are_logged(repo: Path, tmp_path: Path) -> None:
    session_config = tmp_path / "session.config"
    session_config.write_text("intra_op_parallelism_threads: 1\ninter_op_parallelism_threads: 1\n")
    with start_tfs_serve(
        [f"--model_base_path={repo / 'hp'}", "--model_name=hp", "--flush_filesystem_caches=false", f"--tensorflow_session_config_file={session_config}",
         "--tensorflow_intra_op_parallelism=1", "--grpc_channel_arguments=grpc.max_connection_age_ms=60000",
         "--enable_serialization_as_tensor_content"],
        rest=False, ready_models={"hp": [1]},
    ) as server:
        log = server.log_text()
        assert "--flush_filesystem_caches=False is accepted but ignored" in log
        response = server.prediction_stub().Predict(predict_request("hp", {"x": X}), timeout=10)
        y = response.outputs["y"]
        assert y.tensor_content == np.array([3.0], np.float32).tobytes() and not y.float_val


def test_empty_config_file_starts_with_no_models(tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text("")
    with start_tfs_serve([f"--model_config_file={config}"], rest=False) as server:
        err = rpc_error(server.prediction_stub().Predict, predict_request("hp", {"x": X}))
        assert err.details() == "Servable not found for request: Latest(hp)"


# ------------------------------------------------------------------------------------------ ports
@pytest.mark.parametrize("which", ["grpc", "rest"])
def test_taken_port_is_a_clear_error(repo: Path, which: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = socket.socket()
        other.bind(("127.0.0.1", 0))
        free = other.getsockname()[1]
        other.close()
        ports = [f"--port={port}", f"--rest_api_port={free}"] if which == "grpc" else [
            f"--port={free}", f"--rest_api_port={port}"]
        result = run_server([f"--model_base_path={repo / 'hp'}", *ports])
    assert result.returncode == 1
    assert "Failed to start server. Error: " in result.stderr
    assert str(port) in result.stderr.split("Failed to start server. Error: ", 1)[1]


# ------------------------------------------------------------------------------------------ shutdown, deadlines
def test_sigterm_drains_in_flight_request_and_exits_0(repo: Path, tmp_path: Path) -> None:
    batching = tmp_path / "batching.config"
    # A long batch timeout keeps the request observably in flight (queued) until after SIGTERM.
    batching.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 3000000 }\n")
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    server = start_tfs_serve(
        [f"--model_base_path={repo / 'hp'}", "--model_name=hp", "--enable_batching",
         f"--batching_parameters_file={batching}", f"--monitoring_config_file={monitoring}"],
        ready_models={"hp": [1]},
    )
    import httpx

    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["response"] = server.prediction_stub().Predict(predict_request("hp", {"x": X}), timeout=60)
        except grpc.RpcError as exc:
            result["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    metrics_url = server.rest_url + "/monitoring/prometheus/metrics"
    wait_for(lambda: 'batching_session:input_batch_size_count 1' in httpx.get(metrics_url, timeout=5).text,
             timeout=30, what="request queued in the batch scheduler")
    server.process.send_signal(15)
    thread.join(timeout=60)
    code = server.process.wait(timeout=60)
    assert "error" not in result, result.get("error")
    assert outputs(result["response"])["y"].tolist() == [3.0]  # type: ignore[arg-type]
    assert code == 0
    assert "Server stopped" in server.log_text()


def test_deadline_becomes_session_timeout(repo: Path) -> None:
    with start_tfs_serve([f"--model_base_path={repo / 'slow'}", "--model_name=slow"], rest=False,
                         ready_models={"slow": [1]}) as server:
        stub = server.prediction_stub()
        ok = stub.Predict(predict_request("slow", {"n": np.array([10], np.int64)}), timeout=30)
        assert outputs(ok)["count"].tolist() == [10]
        err = rpc_error(stub.Predict, predict_request("slow", {"n": np.array([10**9], np.int64)}), timeout=1)
        assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # the session run was cancelled server-side: the server still answers promptly afterwards
        again = stub.Predict(predict_request("slow", {"n": np.array([5], np.int64)}), timeout=30)
        assert outputs(again)["count"].tolist() == [5]


# ------------------------------------------------------------------------------------------ transports
def test_unix_socket_only_and_health_service(repo: Path, tmp_path: Path) -> None:
    sock = tmp_path / "tfs.sock"
    server = start_tfs_serve(
        [f"--model_base_path={repo / 'hp'}", "--model_name=hp", "--port=0", f"--grpc_socket_path={sock}",
         "--enable_grpc_healthcheck_service"],
        rest=False, grpc=False, wait_ready=False,
    )
    try:
        wait_for(lambda: sock.exists() or server.process.poll() is not None, timeout=120, what="socket")
        assert server.process.poll() is None, server.log_text()
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            assert outputs(stub.Predict(predict_request("hp", {"x": X}), timeout=10))["y"].tolist() == [3.0]
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            # HealthCheckRequest{service: "PredictionService"} -> HealthCheckResponse{status: SERVING (1)}
            assert check(b"\x0a\x11PredictionService", timeout=10) == b"\x08\x01"
            assert check(b"", timeout=10) == b"\x08\x01"
            with pytest.raises(grpc.RpcError) as info:
                name = b"tensorflow.serving.ModelService"
                check(b"\x0a" + bytes([len(name)]) + name, timeout=10)
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        assert server.stop() == 0


def test_tls_from_ssl_config_file(repo: Path, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, timeout=60,
    )
    if made.returncode != 0:
        pytest.fail(f"openssl could not make a test certificate: {made.stderr!r}")
    ssl_config = tmp_path / "ssl.config"
    def quoted(path: Path) -> str:
        return '"' + path.read_text().replace("\n", "\\n") + '"'

    ssl_config.write_text(f"server_key: {quoted(key)}\nserver_cert: {quoted(cert)}\n")
    with start_tfs_serve(
        [f"--model_base_path={repo / 'hp'}", "--model_name=hp", f"--ssl_config_file={ssl_config}"],
        rest=False, wait_ready=False,
    ) as server:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(server.grpc_target, credentials) as channel:
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            def predict():  # type: ignore[no-untyped-def]
                assert server.process.poll() is None, server.log_text()
                return stub.Predict(predict_request("hp", {"x": X}), timeout=5)

            response = wait_for(predict, timeout=120, what="TLS predict")
            assert outputs(response)["y"].tolist() == [3.0]
        with grpc.insecure_channel(server.grpc_target) as plain:
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            with pytest.raises(grpc.RpcError):
                prediction_service_pb2_grpc.PredictionServiceStub(plain).Predict(
                    predict_request("hp", {"x": X}), timeout=5
                )
