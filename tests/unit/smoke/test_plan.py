"""What tfs smoke expects: versions from the config's policy over the host repository, labels, targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.launch.state import Endpoints, write_endpoints
from toolkit.smoke.plan import PlanError, host_model_dir, load_plans, resolve_targets

CONFIG = """
model_config_list {
  config { name: "half" base_path: "/models/half" model_platform: "tensorflow"
           model_version_policy { all {} }
           version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 3 } }
  config { name: "latest2" base_path: "/models/latest2" model_platform: "tensorflow"
           model_version_policy { latest { num_versions: 2 } } }
  config { name: "pinned" base_path: "/models/pinned" model_platform: "tensorflow"
           model_version_policy { specific { versions: 2 versions: 7 } } }
  config { name: "default" base_path: "/models/default" model_platform: "tensorflow" }
  config { name: "remote" base_path: "gs://bucket/remote" model_platform: "tensorflow" }
}
"""


@pytest.fixture()
def deploy(tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy"
    for name, versions in {"half": [1, 2, 3], "latest2": [1, 4, 9], "pinned": [1, 2, 3],
                           "default": [5, 6]}.items():
        for v in versions:
            (deploy / "models" / name / str(v)).mkdir(parents=True)
    (deploy / "models" / "half" / ".staging-4").mkdir()  # invisible to TF Serving, so to us too
    (deploy / "models.config").write_text(CONFIG)
    return deploy


def test_host_model_dir_maps_container_paths_to_the_repository(tmp_path):
    repo = tmp_path / "models"
    assert host_model_dir("/models/half", repo) == repo / "half"
    assert host_model_dir("gs://bucket/x", repo) is None
    assert host_model_dir(str(tmp_path), repo) == tmp_path  # the embedded runtime's localized absolute paths
    assert host_model_dir("/nonexistent/elsewhere", repo) is None


def test_policies_applied_to_the_folders_on_disk(deploy):
    plans = {p.name: p for p in load_plans(deploy / "models.config", (), deploy / "models", config_required=True)}
    assert plans["half"].versions == (1, 2, 3)
    assert plans["half"].labels == {"stable": 1, "canary": 3}
    assert plans["latest2"].versions == (4, 9)
    assert plans["pinned"].versions == (2,)  # 7 is not on disk, so TF Serving cannot load it either
    assert plans["default"].versions == (6,)  # no policy = latest 1
    assert plans["remote"].versions is None and plans["remote"].host_dir is None
    assert plans["half"].version_dir(2) == deploy / "models" / "half" / "2"
    assert plans["half"].version_dir(4) is None


def test_model_filter_and_errors(deploy):
    plans = load_plans(deploy / "models.config", ("pinned", "half", "pinned"), deploy / "models",
                       config_required=False)
    assert [p.name for p in plans] == ["pinned", "half"]
    with pytest.raises(PlanError, match=r"--model nope: not in .*models.config; expected one of"):
        load_plans(deploy / "models.config", ("nope",), deploy / "models", config_required=False)
    with pytest.raises(PlanError, match="--config .*missing.config: no such file"):
        load_plans(deploy / "missing.config", (), deploy / "models", config_required=True)
    with pytest.raises(PlanError, match="no models to check"):
        load_plans(deploy / "missing.config", (), deploy / "models", config_required=False)
    (deploy / "bad.config").write_text("model_config_list { config { nme: 1 } }")
    with pytest.raises(PlanError, match="bad.config"):
        load_plans(deploy / "bad.config", (), deploy / "models", config_required=True)


def test_without_a_config_models_get_the_default_policy(deploy):
    (plan,) = load_plans(deploy / "absent.config", ("latest2",), deploy / "models", config_required=False)
    assert plan.versions == (9,) and plan.labels == {}
    (unknown,) = load_plans(deploy / "absent.config", ("elsewhere",), deploy / "models", config_required=False)
    assert unknown.versions is None  # not on this host: the server's AVAILABLE versions are checked


def test_targets_from_options_or_endpoints_json(tmp_path):
    assert resolve_targets("h:1", None, tmp_path).grpc == "h:1"
    with pytest.raises(PlanError, match=r"no server to check: .*endpoints.json, not found"):
        resolve_targets(None, None, tmp_path)
    write_endpoints(tmp_path, Endpoints(grpc="127.0.0.1:8500", rest="http://127.0.0.1:8501", runtime="embedded"))
    targets = resolve_targets(None, None, tmp_path)
    assert (targets.grpc, targets.rest) == ("127.0.0.1:8500", "http://127.0.0.1:8501")
    assert targets.source.endswith("endpoints.json")
