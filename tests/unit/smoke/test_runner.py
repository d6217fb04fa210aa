"""SmokeRunner end to end over clients.testing.FakeServer (real client code paths, no network): what passes,
what fails and what each failure says."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from clients.testing import FakeServer
from clients.types import TensorSpec
from toolkit.export.testdata import TestData, load_test_data, save_test_data
from toolkit.savedmodel import Signature
from toolkit.smoke.plan import ModelPlan
from toolkit.smoke.report import Status
from toolkit.smoke.runner import SmokeOptions, SmokeRunner

X = np.array([1.0, 2.0, 5.0], np.float32)


def half_fn(b: float):
    return lambda inputs: {"y": (0.5 * inputs["x"] + b).astype(np.float32)}


def add_half(server: FakeServer, version: int, b: float) -> None:
    server.add_signature("half", half_fn(b), inputs={"x": (np.float32, (None,))},
                         outputs={"y": (np.float32, (None,))}, version=version)


EXPORTED = {"serving_default": Signature("serving_default", "tensorflow/serving/predict",
                                         {"x": TensorSpec("x", "float32", (None,))},
                                         {"y": TensorSpec("y", "float32", (None,))})}


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """Host repository: half/1 (b=2) and half/2 (b=3) with persisted test data."""
    for version, b in ((1, 2.0), (2, 3.0)):
        folder = tmp_path / "half" / str(version)
        folder.mkdir(parents=True)
        save_test_data(folder, TestData({"x": X}, {"y": 0.5 * X + b}, "serving_default", 1e-5, 1e-6))
    return tmp_path


@pytest.fixture()
def server() -> FakeServer:
    server = FakeServer()
    add_half(server, 1, 2.0)
    add_half(server, 2, 3.0)
    server.set_labels("half", {"stable": 1, "canary": 2})
    return server


def run(server_grpc: FakeServer, plans, *, server_rest: FakeServer | None = None, **options):
    clients = {"grpc": server_grpc.grpc_client(), "rest": (server_rest or server_grpc).rest_client()}
    opts = SmokeOptions(**{"wait_s": 2.0, "poll_interval_s": 0.01, **options})
    runner = SmokeRunner(clients, opts, read_exported=lambda path: EXPORTED, read_test_data=load_test_data)
    return runner.run(plans)


def plan(repo: Path, versions=(1, 2), labels=None) -> ModelPlan:
    return ModelPlan("half", tuple(versions), labels if labels is not None else {"stable": 1, "canary": 2},
                     repo / "half", "all")


def failures(report) -> list[str]:
    return [f.describe() for f in report.failures]


def test_a_good_deployment_passes_every_check(server, repo):
    report = run(server, [plan(repo)])
    assert failures(report) == []
    assert report.exit_code == 0
    names = {(r.version, r.name) for r in report.results}
    for version in (1, 2):
        for check in ("available", "signatures [grpc]", "signatures [rest]", "outputs [grpc]", "outputs [rest]",
                      "protocols agree"):
            assert (version, check) in names
    assert (1, "label stable [grpc]") in names and (2, "label canary [rest]") in names
    predicted = {(c.protocol, c.version) for c in server.calls if c.method == "predict"}
    assert predicted == {("GRPC", 1), ("GRPC", 2), ("REST", 1), ("REST", 2)}


def test_tampered_expected_outputs_fail_with_the_worst_element(server, repo):
    folder = repo / "half" / "2"
    data = load_test_data(folder)
    data.expected["y"] = data.expected["y"] + np.array([0, 0.75, 0], np.float32)
    save_test_data(folder, data)
    report = run(server, [plan(repo)])
    assert report.exit_code == 1
    lines = failures(report)
    assert len(lines) == 2  # gRPC and REST both disagree with the tampered file; they agree with each other
    assert lines[0].startswith("model 'half' version 2, check outputs [grpc]: FAIL: expected 4.75, got 4")
    assert "largest difference 0.75 at index (1,)" in lines[0]


def test_a_version_the_policy_should_serve_but_the_server_lacks_fails(server, repo):
    report = run(server, [plan(repo, versions=(1, 2, 3))], wait_s=0.3)
    assert failures(report) == [
        "model 'half' version 3, check available: FAIL: expected state AVAILABLE, got version not listed by the "
        "server (the server lists versions {2: AVAILABLE, 1: AVAILABLE})"
    ]


def test_a_version_that_failed_to_load_fails_fast_with_the_load_error(server, repo):
    server.set_state("half", 2, "END", error_code="INVALID_ARGUMENT", error_message="bad SavedModel")
    report = run(server, [plan(repo, labels={})], wait_s=30)
    assert report.exit_code == 1
    assert failures(report) == ["model 'half' version 2, check available: FAIL: expected state AVAILABLE, got load "
                                "failed: INVALID_ARGUMENT: bad SavedModel"]
    assert report.results[0].seconds < 30  # did not wait for the deadline


def test_a_label_on_another_version_than_the_config_says_fails(server, repo):
    server.set_labels("half", {"stable": 2, "canary": 2})
    report = run(server, [plan(repo)])
    assert failures(report) == [
        "model 'half' version 1, check label stable [grpc]: FAIL: expected label 'stable' -> version 1, got label "
        "'stable' -> version 2",
        "model 'half' version 1, check label stable [rest]: FAIL: expected label 'stable' -> version 1, got label "
        "'stable' -> version 2",
    ]


def test_an_unknown_label_reports_the_servers_error(server, repo):
    report = run(server, [plan(repo, labels={"beta": 1})])
    (line, _) = failures(report)
    assert "label beta [grpc]" in line and "Unrecognized servable version label: beta" in line


def test_served_signature_drift_fails(server, repo):
    server.add_signature("half", half_fn(2.0), inputs={"x": (np.float32, (None, 1))},
                         outputs={"y": (np.float32, (None,))}, version=1)
    report = run(server, [plan(repo, labels={})])
    assert any(line.startswith("model 'half' version 1, check signatures [grpc]: FAIL: expected signature "
                               "'serving_default' input 'x' float32[?], got float32[?, 1]") for line in failures(report))


def test_protocols_that_disagree_fail(server, repo):
    rest_side = FakeServer()
    add_half(rest_side, 1, 2.0)
    rest_side.add_signature("half", lambda i: {"y": (0.5 * i["x"] + 3.0 + np.array([0, 0, 1e-3]))
                                               .astype(np.float32)}, inputs={"x": (np.float32, (None,))},
                            outputs={"y": (np.float32, (None,))}, version=2)
    rest_side.set_labels("half", {"stable": 1, "canary": 2})
    report = run(server, [plan(repo)], server_rest=rest_side)
    names = {f.name for f in report.failures}
    assert names == {"outputs [rest]", "protocols agree"}
    agree = next(f for f in report.failures if f.name == "protocols agree")
    assert agree.version == 2 and "REST disagrees with gRPC" in agree.message and "index (2,)" in agree.message


def test_a_model_without_test_data_is_weak_not_failed(server, tmp_path):
    (tmp_path / "half" / "1").mkdir(parents=True)
    report = run(server, [ModelPlan("half", (1,), {}, tmp_path / "half")])
    assert report.exit_code == 0
    weak = [r for r in report.results if r.status is Status.WEAK]
    assert {r.name for r in weak} == {"outputs [grpc]", "outputs [rest]"}
    assert "synthetic inputs" in weak[0].message
    sent = [c.inputs["x"] for c in server.calls if c.method == "predict"]
    assert sent and all(a.dtype == np.float32 and a.shape == (1,) for a in sent)


def test_a_model_not_visible_on_this_host_checks_what_the_server_reports(server):
    report = run(server, [ModelPlan("half", None, {}, None)])
    assert report.exit_code == 0
    available = next(r for r in report.results if r.check == "available")
    assert available.status is Status.WEAK and "[1, 2]" in available.message
    assert {r.status for r in report.results if r.check == "signatures"} == {Status.SKIP}


def test_an_unknown_model_fails_with_the_servers_message(server, repo):
    report = run(server, [ModelPlan("nope", (1,), {}, repo / "nope")], wait_s=0.2)
    (line,) = failures(report)
    assert line.startswith("model 'nope', check available: FAIL: expected the model known to the server, got "
                           "ModelNotFoundError")


def test_unreachable_server_fails_reachability_and_stops(repo):
    server = FakeServer().fail("UNAVAILABLE", "connection refused", times=10_000)
    report = run(server, [plan(repo)], wait_s=0.2)
    assert [r.name for r in report.results] == ["reachable [grpc]", "reachable [rest]"]
    assert all("connection refused" in r.actual for r in report.results)
    assert report.exit_code == 1


def test_latency_budget_uses_the_bounded_request_count(server, repo):
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.001  # noqa: E731 - every clock read advances 1 ms: each request "takes" 1 ms
    clients = {"grpc": server.grpc_client()}
    runner = SmokeRunner(clients, SmokeOptions(wait_s=1, p99_ms=0.5, latency_requests=7), clock=clock,
                         read_exported=lambda path: EXPORTED, read_test_data=load_test_data)
    report = runner.run([plan(repo, versions=(1,), labels={})])
    latency = [r for r in report.results if r.check == "latency p99"]
    assert [r.name for r in latency] == ["latency p99 [grpc]"]
    assert (latency[0].expected, latency[0].actual) == ("p99 <= 0.5 ms", "p99 1.0 ms")
    assert "over 7 requests" in latency[0].message
    assert sum(1 for c in server.calls if c.method == "predict") == 1 + 7
    skipped = [r for r in report.results if r.status is Status.SKIP]
    assert skipped and "no usable rest target" in skipped[0].message
