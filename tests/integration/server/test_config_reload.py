"""Config changes on a live server: HandleReloadConfigRequest (full replacement, blocking until new models are
AVAILABLE, validation messages, labels validated before loading, --allow_version_labels_for_unavailable_models)
and --model_config_file polling."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.integration.server.grpc_helpers import (
    outputs,
    predict_request,
    rpc_error,
    status_request,
)
from tests.support import models
from tests.support.live_server import start_tfs_serve, wait_for

X = [2.0]


@pytest.fixture(scope="module")
def reload_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reload_repo")
    for version in (1, 2):
        models.publish_version(root, "a", version, partial(models.build_half_plus_two_tf2, b=float(version)))
    models.publish_version(root, "b", 1, models.build_half_plus_two_tf1)
    (root / "empty").mkdir()
    return root


def _config(root: Path, entries: dict[str, str], extra: dict[str, str] | None = None) -> model_server_config_pb2.ModelServerConfig:
    text = models.models_config_text({name: root / base for name, base in entries.items()}, extra)
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def _reload(server, config, timeout: float = 60, metric_names: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    request = model_management_pb2.ReloadConfigRequest(config=config, metric_names=list(metric_names))
    return server.model_stub().HandleReloadConfigRequest(request, timeout=timeout)


def _reload_error(server, config, timeout: float = 60) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    request = model_management_pb2.ReloadConfigRequest(config=config)
    return rpc_error(server.model_stub().HandleReloadConfigRequest, request, timeout=timeout)


@pytest.fixture(scope="module")
def reload_server(reload_repo: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    config = tmp_path_factory.mktemp("reload_cfg") / "models.config"
    config.write_text(models.models_config_text({"a": reload_repo / "a"}))
    server = start_tfs_serve(
        [f"--model_config_file={config}", "--file_system_poll_wait_seconds=1"], rest=False, ready_models={"a": [2]}
    )
    yield server
    server.stop()


def test_reload_adds_and_removes_models(reload_server, reload_repo: Path) -> None:  # type: ignore[no-untyped-def]
    stub = reload_server.prediction_stub()
    err = rpc_error(stub.Predict, predict_request("b", {"x": X}))
    assert err.details() == "Servable not found for request: Latest(b)"

    # GetMetrics finds a counter by its TF monitoring name and values it by its first point (in label order); a
    # name it does not know (here the Prometheus spelling) is still answered, with increase 0.
    names = ("/tfs_toolkit/serving/model_unload_count", "/tfs_toolkit/serving/model_unload_count",
             ":tfs_toolkit:serving:model_load_count")
    response = _reload(reload_server, _config(reload_repo, {"a": "a", "b": "b"}), metric_names=names)
    assert response.status.error_code == 0
    assert [(m.name, m.int64_value_increase) for m in response.metric] == [
        ("/tfs_toolkit/serving/model_unload_count", 0), (":tfs_toolkit:serving:model_load_count", 0)
    ]
    # The RPC returned only once b was AVAILABLE: no polling needed here.
    assert outputs(stub.Predict(predict_request("b", {"x": X}), timeout=10))["y"].tolist() == [3.0]

    _reload(reload_server, _config(reload_repo, {"a": "a"}))
    err = rpc_error(stub.Predict, predict_request("b", {"x": X}))
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(b)")
    statuses = reload_server.model_stub().GetModelStatus(status_request("b"), timeout=10).model_version_status
    assert [(s.version, s.state) for s in statuses] == [(1, 50)]  # END, still reported


def test_reload_changes_version_policy(reload_server, reload_repo: Path) -> None:  # type: ignore[no-untyped-def]
    _reload(reload_server, _config(reload_repo, {"a": "a"}, {"a": "model_version_policy { all {} }"}))
    reload_server.wait_available("a", [1, 2], timeout=30)
    stub = reload_server.prediction_stub()
    assert outputs(stub.Predict(predict_request("a", {"x": X}, version=1), timeout=10))["y"].tolist() == [2.0]


def test_reload_validation_messages(reload_server, reload_repo: Path) -> None:  # type: ignore[no-untyped-def]
    duplicate = _config(reload_repo, {"a": "a"})
    duplicate.model_config_list.config.append(duplicate.model_config_list.config[0])
    err = _reload_error(reload_server, duplicate)
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Illegal to list model a multiple times in config list"
    )

    relative = _config(reload_repo, {"a": "a"})
    relative.model_config_list.config[0].base_path = "relative/a"
    err = _reload_error(reload_server, relative)
    assert err.details() == "Expected model a to have an absolute path or URI; got base_path()=relative/a"

    no_platform = _config(reload_repo, {"a": "a"})
    no_platform.model_config_list.config[0].model_platform = ""
    err = _reload_error(reload_server, no_platform)
    assert err.details() == (
        "Illegal setting neither ModelServerConfig::model_type (deprecated) nor ModelServerConfig::model_platform, "
        "model name is a"
    )

    new_model = _config(reload_repo, {"a": "a", "c": "b"})
    new_model.model_config_list.config[1].model_platform = "pytorch"
    err = _reload_error(reload_server, new_model)
    assert err.details() == "Model c requests unsupported platform pytorch"

    changed = _config(reload_repo, {"a": "a"})
    changed.model_config_list.config[0].model_platform = "tensorflow_lite"
    err = _reload_error(reload_server, changed)
    assert err.details().startswith("Illegal to change a model's platform.")
    # nothing changed: a still serves
    assert reload_server.prediction_stub().Predict(predict_request("a", {"x": X}), timeout=10).model_spec.version.value == 2


def test_labels_without_allow_flag(reload_server, reload_repo: Path) -> None:  # type: ignore[no-untyped-def]
    # b is not loaded, so a label on it is refused BEFORE loading starts
    config = _config(reload_repo, {"a": "a", "b": "b"}, {"b": 'version_labels { key: "stable" value: 1 }'})
    err = _reload_error(reload_server, config)
    assert (err.code(), err.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "Request to assign label to version 1 of model b, which is not currently available for inference",
    )
    stub = reload_server.prediction_stub()
    assert rpc_error(stub.Predict, predict_request("b", {"x": X})).code() == grpc.StatusCode.NOT_FOUND
    # labels on AVAILABLE versions are fine
    _reload(
        reload_server,
        _config(reload_repo, {"a": "a"}, {"a": 'model_version_policy { all {} } version_labels { key: "stable" value: 1 }'}),
    )
    assert stub.Predict(predict_request("a", {"x": X}, label="stable"), timeout=10).model_spec.version.value == 1


def test_reload_of_model_without_versions_blocks_until_deadline(reload_server, reload_repo: Path) -> None:  # type: ignore[no-untyped-def]
    err = _reload_error(reload_server, _config(reload_repo, {"a": "a", "e": "empty"}), timeout=3)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # restore a config without the empty model for any later test
    _reload(reload_server, _config(reload_repo, {"a": "a"}))
    assert "No versions of servable e found under base path" in reload_server.log_text()


def test_labels_with_allow_flag(reload_repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text(models.models_config_text({"a": reload_repo / "a"}, {"a": "model_version_policy { specific { versions: 1 } }"}))
    with start_tfs_serve(
        [f"--model_config_file={config}", "--allow_version_labels_for_unavailable_models",
         "--file_system_poll_wait_seconds=1"],
        rest=False,
        ready_models={"a": [1]},
    ) as server:
        # a NEW label may point at a version that only this reload loads
        both = 'model_version_policy { specific { versions: 1 versions: 2 } }'
        _reload(server, _config(reload_repo, {"a": "a"}, {"a": both + ' version_labels { key: "canary" value: 2 }'}))
        server.wait_available("a", [2], timeout=30)
        stub = server.prediction_stub()
        assert stub.Predict(predict_request("a", {"x": X}, label="canary"), timeout=10).model_spec.version.value == 2
        # moving the existing label "canary" to a not-yet-available version is still refused
        with_three = _config(reload_repo, {"a": "a"}, {"a": both + ' version_labels { key: "canary" value: 3 }'})
        err = _reload_error(server, with_three)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "assign label to version 3 of model a" in err.details()


def test_config_file_polling(reload_repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "models.config"
    config.write_text(models.models_config_text({"a": reload_repo / "a"}))
    with start_tfs_serve(
        [f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1",
         "--file_system_poll_wait_seconds=1"],
        rest=False,
        ready_models={"a": [2]},
    ) as server:
        def rewrite(text: str) -> None:
            tmp = tmp_path / "models.config.tmp"
            tmp.write_text(text)
            os.replace(tmp, config)

        rewrite(models.models_config_text({"a": reload_repo / "a", "b": reload_repo / "b"}))
        server.wait_available("b", [1], timeout=60)
        rewrite("model_config_list { this is not valid")
        wait_for(lambda: "Failed to read ModelServerConfig file" in server.log_text(), timeout=30,
                 what="parse error logged")
        # the old config stays in force
        assert server.prediction_stub().Predict(predict_request("b", {"x": X}), timeout=10).model_spec.name == "b"
        rewrite(models.models_config_text({"b": reload_repo / "b"}))
        wait_for(lambda: server.version_states("a") == {2: 50}, timeout=60, what="a unloaded")
