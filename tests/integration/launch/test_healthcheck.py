"""The compose/SDK healthcheck is real bash talking HTTP over /dev/tcp: run it against a small HTTP server on
127.0.0.1 that answers GET /v1/models/<name> like TF Serving, and check its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from toolkit.launch.healthcheck import HEALTHCHECK_SCRIPT


class StatusServer:
    """Answers /v1/models/<name> with the states in ``self.states`` (missing model -> 404, as TF Serving)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                outer.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                if name in outer.states:
                    body = {
                        "model_version_status": [
                            {"version": "1", "state": outer.states[name], "status": {"error_code": "OK", "error_message": ""}}
                        ]
                    }
                    code = 200
                else:
                    body, code = {"error": f"Servable not found for request: Latest({name})"}, 404
                data = json.dumps(body, indent=1).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[StatusServer]:
    s = StatusServer()
    yield s
    s.close()


def run_probe(tmp_path: Path, args: list[str], env: dict[str, str] | None = None) -> int:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"\0".join(a.encode() for a in ["/bin/bash", "/usr/bin/tf_serving_entrypoint.sh", *args]) + b"\0")
    full_env = {"PATH": os.environ["PATH"], "TFS_HEALTHCHECK_CMDLINE": str(cmdline), **(env or {})}
    return subprocess.run(["bash", "-c", HEALTHCHECK_SCRIPT], env=full_env, timeout=30).returncode


def write_config(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "models.config"
    path.write_text(
        "model_config_list {\n"
        + "".join(
            f'  config {{\n    name: "{n}"\n    base_path: "/models/{n}"\n    model_platform: "tensorflow"\n'
            f'    version_labels {{\n      key: "stable"\n      value: 1\n    }}\n  }}\n'
            for n in names
        )
        + "}\n"
    )
    return path


def test_healthy_only_when_every_configured_model_is_available(server: StatusServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, ["alpha", "beta-2"])
    args = ["--port=8500", "--rest_api_port=8501", "--model_name=model", f"--model_config_file={config}",
            f"--rest_api_port={server.port}"]  # the last --rest_api_port wins, as in TF Serving's parser
    server.states = {"alpha": "AVAILABLE", "beta-2": "LOADING"}
    assert run_probe(tmp_path, args) == 1
    server.states["beta-2"] = "AVAILABLE"
    server.requests.clear()
    assert run_probe(tmp_path, args) == 0
    assert server.requests == ["/v1/models/alpha", "/v1/models/beta-2"]
    del server.states["alpha"]  # 404 for one model
    assert run_probe(tmp_path, args) == 1


def test_single_model_mode_probes_model_name(server: StatusServer, tmp_path: Path) -> None:
    server.states = {"half": "AVAILABLE"}
    assert run_probe(tmp_path, [f"--rest_api_port={server.port}", "--model_name=half"]) == 0
    assert run_probe(tmp_path, [f"--rest_api_port={server.port}"], env={"MODEL_NAME": "half"}) == 0
    assert run_probe(tmp_path, [f"--rest_api_port={server.port}"], env={"MODEL_NAME": "other"}) == 1


def test_unhealthy_when_nothing_listens(server: StatusServer, tmp_path: Path) -> None:
    port = server.port
    server.close()
    server.close = lambda: None  # type: ignore[method-assign]
    config = write_config(tmp_path, ["alpha"])
    assert run_probe(tmp_path, [f"--rest_api_port={port}", f"--model_config_file={config}"]) == 1
