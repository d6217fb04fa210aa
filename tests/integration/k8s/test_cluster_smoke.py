"""``tfs k8s smoke`` end to end without a cluster: a fake ``kubectl`` on PATH records every call and, for
``port-forward``, really relays the forwarded 127.0.0.1 ports to a live ``tfs serve`` standing in for the pod, so
the ``tfs smoke`` checks (availability, labels, signatures, persisted outputs over gRPC and REST) run for real
through the forward. The forwarder is gone afterwards, also when a check fails.

Cost: two tiny SavedModels and one ``tfs serve`` for the module (about 15 s), then about 2 s per test.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.support.fake_kubectl import read_calls, write_fake_kubectl
from tests.support.live_server import LiveServer, free_port, start_tfs_serve
from toolkit.cli import main

DEPLOYMENT_TOML = """\
[server]
gpu = false
file_system_poll_wait_seconds = 1
allow_version_labels_for_unavailable_models = true

[[models]]
name = "half"
version_policy = "all"
labels = { stable = 1, canary = 2 }

[kubernetes]
namespace = "ml"
"""
X = np.array([1.0, 2.0, 5.0], np.float32)
B = {1: 2.0, 2: 3.0}


@dataclass
class Cluster:
    deploy: Path
    server: LiveServer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A deploy folder (models with persisted test data, config, `tfs k8s` manifests) and the server "in the pod"."""
    from tests.integration.smoke.deployment import embedded_server_flags
    from tests.support import models
    from toolkit.export.testdata import TestData, save_test_data
    from toolkit.serving_config import generate_config

    deploy = tmp_path_factory.mktemp("k8s-smoke") / "deploy"
    for version, b in B.items():
        folder = models.publish_version(deploy / "models", "half", version, models.build_half_plus_two_tf2, b=b)
        save_test_data(folder, TestData({"x": X}, {"y": 0.5 * X + b}, "serving_default", 1e-5, 1e-6))
    (deploy / "deployment.toml").write_text(DEPLOYMENT_TOML)
    generate_config(deploy)
    assert main(["k8s", "--deploy-dir", str(deploy)]) == 0
    server = start_tfs_serve(embedded_server_flags(deploy), ready_models={"half": [1, 2]}, timeout=120)
    try:
        yield Cluster(deploy, server)
    finally:
        server.stop()


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster) -> Path:
    bin_dir = tmp_path / "bin"
    write_fake_kubectl(bin_dir)
    log = tmp_path / "kubectl-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECTL_CONTEXT", "kind-test")
    monkeypatch.delenv("FAKE_KUBECTL_FAIL", raising=False)
    grpc, rest = cluster.server.grpc_target, f"127.0.0.1:{cluster.server.rest_port}"
    # the Service's ports (plain) and KServe's container ports, all "in the pod"
    monkeypatch.setenv("FAKE_KUBECTL_FORWARD", json.dumps({"8500": grpc, "8501": rest, "9000": grpc, "8080": rest}))
    return log


def smoke(capsys: pytest.CaptureFixture[str], cluster: Cluster, tmp_path: Path,
          *args: str) -> tuple[int, str, dict[str, object]]:
    report = tmp_path / "report.json"
    code = main(["k8s", "smoke", "--deploy-dir", str(cluster.deploy), "--json", str(report), "--wait", "20", *args])
    out, err = capsys.readouterr()
    data = json.loads(report.read_text()) if report.exists() else {}
    return code, out + err, data


def rows(data: dict[str, object]) -> dict[tuple[object, object, object], str]:
    return {(r["model"], r["version"], r["name"]): r["status"] for r in data["results"]}  # type: ignore[index,union-attr]


def forwarded(calls: list[dict[str, object]]) -> tuple[list[str], list[int], int]:
    """The port-forward call: its argv, the local ports it was given, and its pid."""
    call = next(c for c in calls if c["argv"][0] == "port-forward")  # type: ignore[index]
    argv = list(call["argv"])  # type: ignore[call-overload]
    ports = [int(mapping.split(":")[0]) for mapping in argv if ":" in mapping]
    return argv, ports, int(call["pid"])  # type: ignore[call-overload]


def assert_gone(pid: int, ports: list[int]) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"127.0.0.1:{port} still forwarded"


def test_plain_apply_rollout_forward_and_smoke_pass(cluster: Cluster, kubectl_log: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, text, data = smoke(capsys, cluster, tmp_path, "--rollout-timeout", "90")
    assert code == 0, text
    assert "smoke PASSED" in text and "kubectl context: kind-test" in text
    calls = read_calls(kubectl_log)
    plain = cluster.deploy / "k8s" / "plain"
    assert [c["argv"] for c in calls[:3]] == [
        ["config", "current-context"],
        ["apply", "--validate=strict", *[arg for name in ("configmap", "pvc", "deployment", "service")
                                         for arg in ("-f", str(plain / f"{name}.yaml"))]],
        ["rollout", "status", "deployment/tfs-serving", "-n", "ml", "--timeout=90s"],
    ]
    argv, ports, pid = forwarded(calls)
    assert argv[:6] == ["port-forward", "--address", "127.0.0.1", "-n", "ml", "service/tfs-serving"]
    assert argv[6:] == [f"{ports[0]}:8500", f"{ports[1]}:8501"]
    # the checks ran through the forwarded ports, not the server's own
    assert data["targets"]["grpc"] == f"127.0.0.1:{ports[0]}"  # type: ignore[index]
    assert data["targets"]["rest"] == f"http://127.0.0.1:{ports[1]}"  # type: ignore[index]
    assert cluster.server.grpc_port not in ports and cluster.server.rest_port not in ports
    status = rows(data)
    for protocol in ("grpc", "rest"):
        assert status[("", None, f"reachable [{protocol}]")] == "pass"
        assert status[("half", 1, f"label stable [{protocol}]")] == "pass"
        assert status[("half", 2, f"label canary [{protocol}]")] == "pass"
        for version in B:
            assert status[("half", version, f"outputs [{protocol}]")] == "pass"  # persisted test data matched
            assert status[("half", version, f"signatures [{protocol}]")] == "pass"
    assert status[("half", 2, "protocols agree")] == "pass"
    assert_gone(pid, ports)


def test_kserve_waits_for_ready_and_forwards_the_predictor_pod(cluster: Cluster, kubectl_log: Path,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, text, data = smoke(capsys, cluster, tmp_path, "--kserve", "--rollout-timeout", "60")
    assert code == 0, text
    calls = read_calls(kubectl_log)
    assert calls[2]["argv"] == ["wait", "--for=condition=Ready", "inferenceservice/half", "-n", "ml",
                                "--timeout=60s"]
    assert calls[3]["argv"][:5] == ["get", "pods", "-n", "ml", "-l"]  # type: ignore[index]
    assert calls[3]["argv"][5] == "serving.kserve.io/inferenceservice=half,component=predictor"  # type: ignore[index]
    argv, ports, pid = forwarded(calls)
    assert argv[5:] == ["pod/half-predictor-00001", f"{ports[0]}:9000", f"{ports[1]}:8080"]
    assert rows(data)[("half", 1, "outputs [grpc]")] == "pass"
    assert_gone(pid, ports)


def test_a_failing_check_exits_1_and_still_stops_the_forward(cluster: Cluster, kubectl_log: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The pod's REST port refuses (nothing listens upstream): the REST checks fail, gRPC ones still run."""
    forward = json.loads(os.environ["FAKE_KUBECTL_FORWARD"])
    forward["8501"] = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("FAKE_KUBECTL_FORWARD", json.dumps(forward))
    code, text, data = smoke(capsys, cluster, tmp_path, "--wait", "2")
    assert code == 1, text
    assert "smoke FAILED" in text and "FAIL server, check reachable [rest]" in text
    status = rows(data)
    assert status[("", None, "reachable [rest]")] == "fail"
    assert status[("half", 1, "outputs [grpc]")] == "pass"
    _, ports, pid = forwarded(read_calls(kubectl_log))
    assert_gone(pid, ports)
