"""File-system polling on a live server: a new version folder renamed into place is loaded, the old one is unloaded
per the ``latest`` policy without failing in-flight requests, and a broken version is reported in status (END +
error) while the server keeps serving."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.integration.server.grpc_helpers import (
    outputs,
    predict_request,
    rpc_error,
    status_request,
)
from tests.support import models
from tests.support.live_server import start_tfs_serve, wait_for

X = np.array([2.0], dtype=np.float32)


@pytest.fixture(scope="module")
def hot_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hot_repo")
    models.publish_version(root, "hp", 1, models.build_half_plus_two_tf2)
    # Built now, published by the tests: a complete version 2 (b=3) and a broken version (garbage saved_model.pb).
    models.build_half_plus_two_tf2(root / "staged_v2", b=3.0)
    broken = root / "staged_broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"this is not a protobuf")
    return root


@pytest.fixture(scope="module")
def hot_server(hot_repo: Path):  # type: ignore[no-untyped-def]
    server = start_tfs_serve(
        [
            "--model_name=hp",
            f"--model_base_path={hot_repo / 'hp'}",
            "--file_system_poll_wait_seconds=1",
            "--max_num_load_retries=1",
            "--load_retry_interval_micros=1000",
        ],
        rest=False,
        ready_models={"hp": [1]},
    )
    yield server
    server.stop()


def _states(server) -> dict[int, tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    response = server.model_stub().GetModelStatus(status_request("hp"), timeout=10)
    return {s.version: (s.state, s.status.error_code, s.status.error_message) for s in response.model_version_status}


def test_new_version_is_loaded_and_old_unloaded_without_failing_requests(hot_server, hot_repo: Path) -> None:  # type: ignore[no-untyped-def]
    stub = hot_server.prediction_stub()
    assert outputs(stub.Predict(predict_request("hp", {"x": X}), timeout=10))["y"].tolist() == [3.0]

    # Keep a bounded stream of Latest requests running across the switch: none may fail.
    failures: list[BaseException] = []
    seen_versions: set[int] = set()
    stop = threading.Event()

    def hammer() -> None:
        for _ in range(2000):
            if stop.is_set():
                return
            try:
                response = stub.Predict(predict_request("hp", {"x": X}), timeout=10)
                seen_versions.add(response.model_spec.version.value)
            except grpc.RpcError as exc:  # pragma: no cover - the assertion below reports it
                failures.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        models.copy_version(hot_repo / "staged_v2", hot_repo / "hp", 2)  # copy + atomic rename
        wait_for(lambda: _states(hot_server).get(1, (0,))[0] == 50 and _states(hot_server).get(2, (0,))[0] == 30,
                 timeout=60, what="v2 AVAILABLE and v1 END")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert failures == []
    assert 2 in seen_versions

    states = _states(hot_server)
    assert list(states) == [2, 1]  # descending; the unloaded version stays listed
    assert states[1] == (50, 0, "")  # END with OK status
    latest = stub.Predict(predict_request("hp", {"x": X}), timeout=10)
    assert latest.model_spec.version.value == 2
    assert outputs(latest)["y"].tolist() == [4.0]
    err = rpc_error(stub.Predict, predict_request("hp", {"x": X}, version=1))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Specific(hp, 1)")


def test_broken_version_reported_and_server_keeps_serving(hot_server, hot_repo: Path) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: _states(hot_server).get(2, (0,))[0] == 30, timeout=60, what="v2 AVAILABLE")
    models.copy_version(hot_repo / "staged_broken", hot_repo / "hp", 3)
    wait_for(lambda: _states(hot_server).get(3, (0,))[0] == 50, timeout=60, what="v3 END")
    state, code, message = _states(hot_server)[3]
    assert code != 0 and message  # the load error is reported
    assert "saved_model.pb" in message or "SavedModel" in message
    # v2 is kept (availability preserving: the newest aspired version failed) and still answers
    response = hot_server.prediction_stub().Predict(predict_request("hp", {"x": X}), timeout=10)
    assert response.model_spec.version.value == 2
    assert "failed" in hot_server.log_text()
    # removing the broken folder is fine too
    shutil.rmtree(hot_repo / "hp" / "3")


def test_non_numeric_folders_are_ignored(hot_server, hot_repo: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(hot_repo / "staged_v2", hot_repo / "hp" / "v90")
    shutil.copytree(hot_repo / "staged_v2", hot_repo / "hp" / "90.tmp")
    shutil.copytree(hot_repo / "staged_v2", hot_repo / "hp" / "1e3")
    # A numeric folder published afterwards proves a poll has seen the non-numeric ones.
    models.copy_version(hot_repo / "staged_v2", hot_repo / "hp", 10)
    wait_for(lambda: _states(hot_server).get(10, (0,))[0] == 30, timeout=60, what="v10 AVAILABLE")
    versions = set(_states(hot_server))
    assert 90 not in versions and 1000 not in versions
    assert 10 in versions


@pytest.fixture(scope="module")
def policy_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("policy_repo")
    for version in (1, 2, 3):
        models.publish_version(root, "m", version, partial(models.build_half_plus_two_tf2, b=float(version)))
    return root


def test_version_policies_latest_n_and_specific(policy_repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text(
        models.models_config_text(
            {"latest2": policy_repo / "m", "specific": policy_repo / "m"},
            extra={
                "latest2": "model_version_policy { latest { num_versions: 2 } }",
                "specific": "model_version_policy { specific { versions: 1 versions: 3 } }",
            },
        )
    )
    with start_tfs_serve(
        [f"--model_config_file={config}", "--file_system_poll_wait_seconds=1"],
        rest=False,
        ready_models={"latest2": [2, 3], "specific": [1, 3]},
    ) as server:
        states = {
            name: [s.version for s in server.model_stub().GetModelStatus(status_request(name), timeout=10).model_version_status]
            for name in ("latest2", "specific")
        }
        assert states == {"latest2": [3, 2], "specific": [3, 1]}
        stub = server.prediction_stub()
        assert outputs(stub.Predict(predict_request("specific", {"x": X}, version=1), timeout=10))["y"].tolist() == [2.0]
        err = rpc_error(stub.Predict, predict_request("specific", {"x": X}, version=2))
        assert err.code() == grpc.StatusCode.NOT_FOUND
