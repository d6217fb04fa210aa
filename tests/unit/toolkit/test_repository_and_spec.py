"""Version folder naming (absl::SimpleAtoi rules) and the deployment spec's validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.deployment import SpecError, load_spec, parse_spec
from toolkit.repository import list_versions, model_dir, next_version, parse_version


@pytest.mark.parametrize("name,expected", [("1", 1), ("00000123", 123), ("20170111173521", 20170111173521),
                                           ("-5", -5), ("1.0", None), ("v1", None), ("1e3", None), ("0x10", None),
                                           (".staging-3-pid1-abc", None), ("variables", None),
                                           ("99999999999999999999", None)])
def test_parse_version_follows_simple_atoi(name: str, expected: int | None) -> None:
    assert parse_version(name) == expected


def test_list_and_next_version(tmp_path: Path) -> None:
    assert next_version(tmp_path / "missing") == 1
    for name in ("1", "3", "v7", ".staging-9-pid1-x", "002"):
        (tmp_path / name).mkdir()
    assert list_versions(tmp_path) == [1, 2, 3]
    assert next_version(tmp_path) == 4


@pytest.mark.parametrize("bad", ["../evil", "a/b", "", ".hidden", "a b", "/abs"])
def test_model_dir_refuses_names_that_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="name"):
        model_dir(tmp_path, bad)


def test_spec_defaults_and_labels() -> None:
    spec = parse_spec({"models": [{"name": "m", "version_policy": "specific", "versions": [1, 2],
                                   "labels": {"stable": 1, "canary": 2}}]})
    model = spec.model("m")
    assert model.base_path == "/models/m"
    assert model.versions == (1, 2) and model.labels == {"stable": 1, "canary": 2}
    assert spec.server.host == "127.0.0.1"


@pytest.mark.parametrize("raw,needle", [
    ({"models": [{"name": "../x"}]}, "models[0].name: expected a name"),
    ({"models": [{"name": "m", "version_policy": "newest"}]}, "expected one of 'latest', 'all', 'specific', got 'newest'"),
    ({"models": [{"name": "m", "version_policy": "specific"}]}, "expected at least one version"),
    ({"models": [{"name": "m", "num_versions": 0}]}, "num_versions: expected an integer >= 1, got 0"),
    ({"models": [{"name": "m", "labels": {"bad-label": 1}}]}, "expected a label matching"),
    ({"models": [{"name": "m", "colour": "red"}]}, "unknown key(s) ['colour']"),
    ({"server": {"grpc_port": 8500, "rest_port": 8500}, "models": []}, "different from grpc_port"),
    ({"server": {"grpc_port": "x"}, "models": []}, "server.grpc_port: expected an integer, got 'x'"),
])
def test_spec_errors_name_field_expected_and_got(raw: dict, needle: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(raw)
    assert needle in str(info.value)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deployment.toml"
    path.write_text("[[models]\nname = 'x'\n")
    with pytest.raises(SpecError, match="deployment.toml: invalid TOML"):
        load_spec(path)


def test_repository_deployment_toml_is_valid() -> None:
    spec = load_spec(Path(__file__).resolve().parents[3] / "deploy" / "deployment.toml")
    assert [m.name for m in spec.models] == ["planet"]
