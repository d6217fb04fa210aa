"""``tfs status --json``: the table's rows as one JSON document on stdout (endpoints, models with their versions,
states, labels and errors), the same exit status as the table (1 when a model's status cannot be read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.types import ModelVersionStatus
from toolkit.cli import main
from toolkit.launch import launcher
from toolkit.launch.launcher import ModelStatus
from toolkit.launch.state import Endpoints


@pytest.fixture()
def rows(monkeypatch: pytest.MonkeyPatch) -> list[ModelStatus]:
    """What the launcher read from the server: two versions (one failed to load), labels, an unresolved label."""
    rows = [ModelStatus("half", [ModelVersionStatus(2, "AVAILABLE"),
                                 ModelVersionStatus(1, "END", "NOT_FOUND", "no SavedModel in /models/half/1")],
                        {"stable": 2, "canary": 2, "old": "error: unknown label"})]
    endpoints = Endpoints("127.0.0.1:8500", "http://127.0.0.1:8501", "embedded", pid=42, deploy_dir="/d")
    monkeypatch.setattr(launcher, "status", lambda deploy_dir, rest_url: (endpoints, rows))
    return rows


def test_status_json_holds_every_row_of_the_table(rows: list[ModelStatus], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--deploy-dir", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)  # nothing but the JSON on stdout
    assert document["endpoints"]["grpc"] == "127.0.0.1:8500" and document["endpoints"]["runtime"] == "embedded"
    assert document["endpoints"]["pid"] == 42
    (model,) = document["models"]
    assert model["name"] == "half" and model["error"] is None
    assert model["labels"] == {"stable": 2, "canary": 2, "old": "error: unknown label"}
    assert model["versions"] == [
        {"version": 2, "state": "AVAILABLE", "error_code": "OK", "error_message": "", "labels": ["canary", "stable"]},
        {"version": 1, "state": "END", "error_code": "NOT_FOUND", "error_message": "no SavedModel in /models/half/1",
         "labels": []},
    ]


def test_the_table_shows_the_same_rows(rows: list[ModelStatus], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--deploy-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "runtime embedded" in out and "canary, stable" in out and "NOT_FOUND: no SavedModel" in out
    assert "error: unknown label" in out


def test_status_json_of_an_unreachable_server_exits_1_with_the_error(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.live_server import free_port

    (tmp_path / "deployment.toml").write_text('[[models]]\nname = "m"\n')
    assert main(["status", "--deploy-dir", str(tmp_path), "--rest", f"http://127.0.0.1:{free_port()}", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["endpoints"] is None
    (model,) = document["models"]
    assert model["name"] == "m" and "ConnectError" in model["error"] and model["versions"] == []


def test_up_json_prints_the_same_document_and_keeps_stdout_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.deployment import DeploymentSpec, ModelEntry

    endpoints = Endpoints("127.0.0.1:8500", "http://127.0.0.1:8501", "embedded")

    def fake_up(options: launcher.UpOptions, *, pull_progress, wait_progress, on_runtime) -> launcher.UpResult:
        on_runtime("embedded")
        return launcher.UpResult(endpoints, {"m": [ModelVersionStatus(3, "AVAILABLE")]},
                                 DeploymentSpec(models=(ModelEntry("m", "/models/m"),)))

    monkeypatch.setattr(launcher, "up", fake_up)
    assert main(["up", "--deploy-dir", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"endpoints": {"grpc": "127.0.0.1:8500", "rest": "http://127.0.0.1:8501",
                                             "runtime": "embedded", "container": None, "pid": None,
                                             "deploy_dir": "", "extra": {}},
                               "models": [{"name": "m", "error": None, "labels": {}, "versions": [
                                   {"version": 3, "state": "AVAILABLE", "error_code": "OK", "error_message": "",
                                    "labels": []}]}]}
    assert "runtime: embedded" in err  # the display goes to stderr
