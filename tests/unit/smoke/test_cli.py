"""The `tfs smoke` command line: exit status 2 on usage/config errors, 0 when all pass, 1 on a failed check,
and the JUnit/JSON files it writes (server traffic through the clients against clients.testing.FakeServer)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from clients.testing import FakeServer
from clients.types import TensorSpec
from toolkit.cli import main
from toolkit.export.testdata import TestData, save_test_data
from toolkit.savedmodel import Signature
from toolkit.smoke import connect as smoke_connect
from toolkit.smoke import runner as smoke_runner

CONFIG = """model_config_list { config { name: "half" base_path: "/models/half" model_platform: "tensorflow"
  version_labels { key: "stable" value: 1 } } }
"""


@pytest.fixture()
def deploy(tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy"
    folder = deploy / "models" / "half" / "1"
    folder.mkdir(parents=True)
    x = np.array([1.0, 4.0], np.float32)
    save_test_data(folder, TestData({"x": x}, {"y": 0.5 * x + 2}, "serving_default", 1e-5, 1e-6))
    (deploy / "models.config").write_text(CONFIG)
    return deploy


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer()
    server.add_signature("half", lambda i: {"y": 0.5 * i["x"] + 2}, inputs={"x": (np.float32, (None,))},
                         outputs={"y": (np.float32, (None,))})
    server.set_labels("half", {"stable": 1})
    monkeypatch.setattr(smoke_connect, "open_clients",
                        lambda grpc, rest, timeout: {"grpc": server.grpc_client(), "rest": server.rest_client()})
    signature = Signature("serving_default", "tensorflow/serving/predict", {"x": TensorSpec("x", "float32", (None,))},
                          {"y": TensorSpec("y", "float32", (None,))})
    monkeypatch.setattr(smoke_runner, "_read_signatures", lambda path: {"serving_default": signature})
    return server


def test_passing_run_exits_0_and_writes_reports(deploy, fake, tmp_path, capsys):
    junit, report = tmp_path / "r.xml", tmp_path / "r.json"
    code = main(["smoke", "--grpc", "fake:1", "--rest", "http://fake:2", "--deploy-dir", str(deploy),
                 "--junit", str(junit), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "smoke PASSED" in out and "label stable [rest]" in out
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "0"
    assert json.loads(report.read_text())["passed"] is True


def test_failing_check_exits_1_and_names_it(deploy, fake, capsys):
    fake.set_labels("half", {"stable": 2})
    fake.add_signature("half", lambda i: {"y": i["x"]}, inputs={"x": (np.float32, (None,))},
                       outputs={"y": (np.float32, (None,))}, version=2)
    code = main(["smoke", "--grpc", "fake:1", "--deploy-dir", str(deploy)])
    out = capsys.readouterr().out
    assert code == 1
    assert ("FAIL model 'half' version 1, check label stable [grpc]: FAIL: expected label 'stable' -> version 1, "
            "got label 'stable' -> version 2") in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deploy-dir", "{tmp}"], "no server to check"),
        (["--grpc", "h:1", "--deploy-dir", "{tmp}"], "no models to check"),
        (["--grpc", "h:1", "--config", "{tmp}/missing.config"], "no such file"),
        (["--grpc", "h:1", "--deploy-dir", "{deploy}", "--model", "other"], "--model other: not in"),
        (["--grpc", "http://h:1", "--deploy-dir", "{deploy}"], "target: expected 'host:port'"),
        (["--grpc", "h:1", "--deploy-dir", "{deploy}", "--latency-requests", "0"], "--latency-requests"),
    ],
)
def test_usage_and_config_errors_exit_2(args, message, deploy, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path / "empty", deploy=deploy) for a in args]
    code = main(["smoke", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
