"""`tfs smoke` as users run it (a subprocess of the real CLI) against the live deployment: it passes on the good
deployment and fails, non-zero and naming model/version/check/expected/actual, when the expected outputs are
tampered with, when a version the policy should serve is missing, and when a label points elsewhere.

The failure modes are real drift between what the host says (repository, models.config) and what the server
serves; each test builds the drifted host side in a temp folder, so the shared server stays untouched.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from toolkit.launch.state import Endpoints, write_endpoints


def output(result) -> str:  # type: ignore[no-untyped-def]
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr[-3000:]}"


def fail_lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line[len("FAIL "):] for line in result.stdout.splitlines() if line.startswith("FAIL ")]


def copy_model(smoke_deployment, name: str, dest: Path) -> Path:  # type: ignore[no-untyped-def]
    """A copy of one model's folder under ``dest/models`` (the host side of a drift scenario)."""
    target = dest / "models" / name
    shutil.copytree(smoke_deployment.repository / name, target,
                    ignore=shutil.ignore_patterns(".*"))  # no staging leftovers
    return dest / "models"


def test_smoke_passes_on_the_good_deployment(smoke_deployment, tmp_path):
    """Targets from the endpoints.json `tfs up` records; JUnit and JSON reports written."""
    state = tmp_path / "state"
    write_endpoints(state, Endpoints(grpc=smoke_deployment.grpc_target, rest=smoke_deployment.rest_url,
                                     runtime="embedded"))
    junit, report = tmp_path / "reports" / "smoke.xml", tmp_path / "reports" / "smoke.json"
    result = smoke_deployment.smoke(
        "--deploy-dir", str(state), "--config", str(smoke_deployment.models_config),
        "--repository", str(smoke_deployment.repository), "--junit", str(junit), "--json", str(report),
        "--p99-ms", "600000", "--latency-requests", "3", "--wait", "60")
    assert result.returncode == 0, output(result)
    assert "smoke PASSED" in result.stdout

    data = json.loads(report.read_text())
    assert data["passed"] is True and data["summary"]["fail"] == 0
    assert data["targets"]["grpc"] == smoke_deployment.grpc_target
    rows = {(r["model"], r["version"], r["name"]): r for r in data["results"]}
    for protocol in ("grpc", "rest"):
        assert rows[("", None, f"reachable [{protocol}]")]["status"] == "pass"
        assert rows[("planet", 1, f"outputs [{protocol}]")]["status"] == "pass"
        assert rows[("planet", 1, f"signatures [{protocol}]")]["status"] == "pass"
        assert rows[("planet", 1, f"latency p99 [{protocol}]")]["message"].endswith("over 3 requests")
        assert rows[("half", 1, f"label stable [{protocol}]")]["status"] == "pass"
        assert rows[("half", 2, f"label canary [{protocol}]")]["status"] == "pass"
        # no persisted test data: checked on synthetic inputs, reported as weaker, not failed
        assert rows[("plain", 1, f"outputs [{protocol}]")]["status"] == "weak"
    for version in (1, 2):
        assert rows[("half", version, "available")]["status"] == "pass"
        assert rows[("half", version, "protocols agree")]["status"] == "pass"
    assert "WEAK model 'plain' version 1, check outputs [grpc]" in result.stdout

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests")) == len(data["results"]) and suite.get("failures") == "0"
    assert suite.find("testcase[@name='v1 outputs [rest]'][@classname='tfs.smoke.planet']") is not None


def test_smoke_fails_when_expected_outputs_are_tampered_with(smoke_deployment, tmp_path):
    repo = copy_model(smoke_deployment, "half", tmp_path)
    expected = repo / "half" / "1" / "assets.extra" / "tfs_test_data" / "expected.npz"
    with np.load(expected) as npz:
        arrays = {k: npz[k].copy() for k in npz.files}
    arrays["y"][2] += 0.5  # 4.5 -> 5.0 (y is [3,1]: the TF1 model's x is [-1,1])
    np.savez(expected, **arrays)
    junit = tmp_path / "smoke.xml"
    result = smoke_deployment.smoke_here("--repository", str(repo), "--model", "half", "--junit", str(junit))
    assert result.returncode == 1, output(result)
    lines = fail_lines(result)
    assert len(lines) == 2, output(result)
    for protocol, line in zip(("grpc", "rest"), lines):
        assert line.startswith(f"model 'half' version 1, check outputs [{protocol}]: FAIL: expected 5, got 4.5 "
                               "(output 'y': 1 of 3 elements differ"), line
        assert "largest difference 0.5 at index (2, 0)" in line
    assert "smoke FAILED" in result.stdout
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 2 and "largest difference 0.5" in failures[0].get("message")


def test_smoke_fails_when_a_version_the_policy_should_serve_is_missing(smoke_deployment, tmp_path):
    """The host repository has version 3 of ``half`` (policy ``all``), the server does not serve it."""
    repo = copy_model(smoke_deployment, "half", tmp_path)
    shutil.copytree(repo / "half" / "2", repo / "half" / "3")
    result = smoke_deployment.smoke_here("--repository", str(repo), "--model", "half", "--wait", "3")
    assert result.returncode == 1, output(result)
    assert fail_lines(result) == [
        "model 'half' version 3, check available: FAIL: expected state AVAILABLE, got version not listed by the "
        "server (the server lists versions {2: AVAILABLE, 1: AVAILABLE})"
    ], output(result)


def test_smoke_fails_when_a_label_points_elsewhere(smoke_deployment, tmp_path):
    """models.config says stable=2 (a release promoted canary) while the server still resolves stable to 1."""
    config = smoke_deployment.models_config.read_text(encoding="utf-8")
    drifted = config.replace('key: "stable"\n      value: 1', 'key: "stable"\n      value: 2')
    assert drifted != config, config
    path = tmp_path / "models.config"
    path.write_text(drifted, encoding="utf-8")
    report = tmp_path / "smoke.json"
    result = smoke_deployment.smoke_here("--config", str(path), "--model", "half", "--json", str(report))
    assert result.returncode == 1, output(result)
    assert fail_lines(result) == [
        f"model 'half' version 2, check label stable [{protocol}]: FAIL: expected label 'stable' -> version 2, "
        "got label 'stable' -> version 1"
        for protocol in ("grpc", "rest")
    ], output(result)
    data = json.loads(report.read_text())
    assert data["passed"] is False and data["summary"]["fail"] == 2


def test_smoke_usage_error_exits_2(smoke_deployment, tmp_path):
    result = smoke_deployment.smoke("--deploy-dir", str(tmp_path))
    assert result.returncode == 2, output(result)
    assert "no server to check" in result.stderr
