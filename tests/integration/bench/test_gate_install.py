"""The release tools from a light install: `pip install 'tfs-toolkit[gate]'` (click, rich, matplotlib; no
TensorFlow) into a fresh venv, then `tfs smoke`, `tfs bench` and `tfs status` against the live session server.
They read saved_model.pb and the kept test data with the project's own protos.

Cost: building the venv (~30-90 s, pip's wheel cache helps) plus a few seconds per command: marked slow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.light_venv import build_light_venv, clean_env
from toolkit.export.testdata import TestData, save_test_data

NO_TF = ("import importlib.util, sys; assert importlib.util.find_spec('tensorflow') is None; "
         "assert importlib.util.find_spec('tensorflow_serving') is None; print('no tensorflow')")

DEPLOYMENT_TOML = """\
[server]
host = "127.0.0.1"
grpc_port = {grpc}
rest_port = {rest}

[[models]]
name = "half_plus_two"
base_path = "/models/half_plus_two"
version_policy = "all"
labels = {{ stable = 1, canary = 2 }}
"""


@pytest.fixture(scope="module")
def gate_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_light_venv(tmp_path_factory.mktemp("gate"), ("gate",))


def _tfs(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python.parent / "tfs"), *args], capture_output=True, text=True, env=clean_env(),
                          cwd=str(cwd), timeout=300)


@pytest.mark.slow
def test_gate_extra_runs_smoke_bench_and_status_without_tensorflow(gate_python: Path, tfs_server, tfs_repo: Path,
                                                                   tmp_path: Path) -> None:
    check = subprocess.run([str(gate_python), "-c", NO_TF], capture_output=True, text=True, env=clean_env(),
                           cwd=str(tmp_path), timeout=60)
    assert check.returncode == 0 and "no tensorflow" in check.stdout, check.stderr

    # A deployment folder as `tfs up` leaves it: the exported versions (with kept test data for v1), the
    # server config, the spec and the recorded endpoints.
    deploy = tmp_path / "deploy"
    models = deploy / "models"
    shutil.copytree(tfs_repo / "half_plus_two", models / "half_plus_two")
    x = np.float32([1.0, 2.0, 5.0])
    save_test_data(models / "half_plus_two" / "1", TestData({"x": x}, {"y": 0.5 * x + 2}))
    (deploy / "models.config").write_text(
        'model_config_list { config { name: "half_plus_two" base_path: "/models/half_plus_two" '
        'model_platform: "tensorflow" model_version_policy { all {} } '
        'version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 } } }\n')
    (deploy / "deployment.toml").write_text(DEPLOYMENT_TOML.format(grpc=tfs_server.grpc_port,
                                                                   rest=tfs_server.rest_port))
    (deploy / ".tfs").mkdir()
    (deploy / ".tfs" / "endpoints.json").write_text(json.dumps(
        {"grpc": tfs_server.grpc_target, "rest": tfs_server.rest_url, "runtime": "embedded"}))

    smoke = _tfs(gate_python, "smoke", "--model", "half_plus_two", "--json", str(tmp_path / "smoke.json"),
                 cwd=tmp_path)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    results = json.loads((tmp_path / "smoke.json").read_text())["results"]
    passed = {(r["check"], r.get("version"), r.get("protocol")) for r in results if r["status"] == "pass"}
    assert ("signatures", 1, "grpc") in passed and ("outputs", 1, "rest") in passed  # read from saved_model.pb

    bench = _tfs(gate_python, "bench", "--model", "half_plus_two", "--version", "1", "--concurrency", "2",
                 "--warmup", "0.2", "--window", "0.3", "--window-requests", "10", "--max-windows", "3",
                 "--stability", "100000", "--no-ceiling", "--json", str(tmp_path / "bench.json"),
                 "--plot", str(tmp_path / "bench.png"), cwd=tmp_path)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert "test data kept in" in report["inputs_source"]
    assert [lv["protocol"] for lv in report["levels"]] == ["grpc", "rest"]
    assert all(lv["requests"] == lv["ok"] > 0 for lv in report["levels"])
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"

    status = _tfs(gate_python, "status", cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "half_plus_two" in status.stdout and "AVAILABLE" in status.stdout
