"""``tfs up --runtime embedded`` end to end: the real CLI starts ``tfs serve`` as a managed background process on the
deploy folder, waits for the model, records the endpoints; predictions work over REST and gRPC; ``tfs status``,
``tfs logs`` and ``tfs down`` find it again. No Docker needed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.integration.launch.deploy_helpers import grpc_predict, make_deploy, rest_predict, run_tfs


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_embedded_up_status_logs_down(tmp_path: Path, half_plus_two_src: Path) -> None:
    deploy, grpc_port, rest_port = make_deploy(tmp_path, half_plus_two_src)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    up = run_tfs("up", "--deploy-dir", str(deploy), "--runtime", "embedded", "--timeout", "180", env=env)
    pid = None
    try:
        assert up.returncode == 0, f"tfs up failed:\n{up.stdout}\n{up.stderr}"
        assert "runtime: embedded" in up.stdout
        assert f"127.0.0.1:{grpc_port}" in up.stdout and "AVAILABLE" in up.stdout
        endpoints = json.loads((deploy / ".tfs" / "endpoints.json").read_text())
        assert endpoints["grpc"] == f"127.0.0.1:{grpc_port}"
        assert endpoints["rest"] == f"http://127.0.0.1:{rest_port}"
        assert endpoints["runtime"] == "embedded"
        pid = int((deploy / ".tfs" / "server.pid").read_text())
        assert endpoints["pid"] == pid and _alive(pid)
        # The process outlives `tfs up` and serves the model: y = 0.5 x + 2.
        assert rest_predict(endpoints["rest"], "half", [1.0, 2.0, 5.0]) == [2.5, 3.0, 4.5]
        assert grpc_predict(endpoints["grpc"], "half", [4.0]) == [4.0]
        # A second `up` refuses instead of starting a duplicate.
        again = run_tfs("up", "--deploy-dir", str(deploy), "--runtime", "embedded", env=env)
        assert again.returncode == 1 and "already running" in again.stderr
        status = run_tfs("status", "--deploy-dir", str(deploy), env=env)
        assert status.returncode == 0, status.stderr
        row = next(line for line in status.stdout.splitlines() if "half" in line)
        assert "AVAILABLE" in row and "stable" in row and " 1 " in row
        as_json = run_tfs("status", "--deploy-dir", str(deploy), "--json", env=env)
        assert as_json.returncode == 0, as_json.stderr
        document = json.loads(as_json.stdout)
        assert document["endpoints"]["rest"] == f"http://127.0.0.1:{rest_port}"
        assert document["models"] == [{"name": "half", "error": None, "labels": {"stable": 1}, "versions": [
            {"version": 1, "state": "AVAILABLE", "error_code": "OK", "error_message": "", "labels": ["stable"]}]}]
        logs = run_tfs("logs", "--deploy-dir", str(deploy), env=env)
        assert logs.returncode == 0 and "--- tfs up:" in logs.stdout and "toolkit.server" in logs.stdout
        follower = subprocess.Popen(
            [sys.executable, "-m", "toolkit.cli", "logs", "-f", "--deploy-dir", str(deploy)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )
    finally:
        down = run_tfs("down", "--deploy-dir", str(deploy), env=env)
    assert down.returncode == 0 and "stopped the embedded server" in down.stdout, down.stderr
    followed, _ = follower.communicate(timeout=60)  # `logs -f` ends by itself once the server is gone
    assert follower.returncode == 0 and followed.startswith("--- tfs up:")
    assert pid is not None and not _alive(pid)
    assert not (deploy / ".tfs" / "endpoints.json").exists()
    assert not (deploy / ".tfs" / "server.pid").exists()
    again = run_tfs("down", "--deploy-dir", str(deploy), env=env)
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_port_in_use_is_refused_with_a_clear_message(tmp_path: Path, half_plus_two_src: Path) -> None:
    deploy, grpc_port, _ = make_deploy(tmp_path, half_plus_two_src)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", grpc_port))
        holder.listen(1)
        up = run_tfs("up", "--deploy-dir", str(deploy), "--runtime", "embedded")
    assert up.returncode == 1
    assert f"port {grpc_port} on 127.0.0.1 is already in use" in up.stderr
    assert "grpc_port" in up.stderr  # says how to change it
    assert not (deploy / ".tfs" / "server.pid").exists()


def test_missing_version_folder_is_refused_before_launch(tmp_path: Path, half_plus_two_src: Path) -> None:
    deploy, _, _ = make_deploy(tmp_path, half_plus_two_src)
    toml = deploy / "deployment.toml"
    toml.write_text(toml.read_text().replace('name = "half"', 'name = "other"').replace("/models/half", "/models/other")
                    .replace("labels = { stable = 1 }\n", ""))
    up = run_tfs("up", "--deploy-dir", str(deploy), "--runtime", "embedded")
    assert up.returncode == 1
    assert "model 'other': no version to serve" in up.stderr
