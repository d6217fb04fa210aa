"""`tfs smoke` against a port where no server listens: a failed `reachable` check per protocol (exit 1), naming the
target and the connection error, bounded by --wait, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_smoke_with_no_server_fails_reachable_on_both_protocols(tmp_path: Path) -> None:
    (tmp_path / "models.config").write_text(
        'model_config_list { config { name: "half" base_path: "/models/half" model_platform: "tensorflow" } }\n')
    port = closed_port()
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "smoke", "--deploy-dir", str(tmp_path), "--grpc", f"127.0.0.1:{port}",
         "--rest", f"http://127.0.0.1:{port}", "--wait", "1", "--json", str(tmp_path / "report.json")],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"FAIL server, check reachable [grpc]: FAIL: expected an answer from 127.0.0.1:{port} within 1s" in proc.stdout
    assert f"FAIL server, check reachable [rest]: FAIL: expected an answer from http://127.0.0.1:{port}" in proc.stdout
    assert "smoke FAILED: 0 passed" in proc.stdout and (tmp_path / "report.json").is_file()
