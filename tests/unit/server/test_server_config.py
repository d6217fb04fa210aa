"""models.config parsing and validation, version discovery (SimpleAtoi names), policies, monitoring and
batching files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.server import config as cfg
from toolkit.server.errors import Code, ServingError


def _parse(text: str) -> cfg.ModelServerConfig:
    return cfg.parse_model_server_config(text)


def test_parse_docs_style_config() -> None:
    config = _parse(
        """model_config_list: {
             config: { name: 'a', base_path: "/m/a", model_platform: "tensorflow",
                       model_version_policy: { specific: { versions: 1; versions: 2 } } },
             config { name: "b" base_path: "/m/b" model_platform: "tensorflow"
                      version_labels { key: "stable" value: 2 } }
           }"""
    )
    a, b = config.model_config_list.config
    assert list(a.model_version_policy.specific.versions) == [1, 2]
    assert dict(b.version_labels) == {"stable": 2}


def test_parse_error_message() -> None:
    with pytest.raises(cfg.ConfigFileError, match="Error parsing text-format tensorflow.serving.ModelServerConfig"):
        _parse("model_config_list { config { name: 'x' ")


def test_single_model_config() -> None:
    config = cfg.single_model_config("m", "/models/m")
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("m", "/models/m", "tensorflow")


def _err(fn, *args) -> ServingError:  # type: ignore[no-untyped-def]
    with pytest.raises(ServingError) as info:
        fn(*args)
    return info.value


def test_validation_order_and_messages() -> None:
    good = _parse('model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" } }')
    cfg.validate_model_config_list(good, None)
    dup = _parse('model_config_list { config { name: "a" base_path: "rel" } config { name: "a" base_path: "/a" } }')
    err = _err(cfg.validate_model_config_list, dup, None)
    assert (err.code, err.message) == (Code.INVALID_ARGUMENT, "Illegal to list model a multiple times in config list")
    rel = _parse('model_config_list { config { name: "a" base_path: "rel" model_platform: "tensorflow" } }')
    assert _err(cfg.validate_model_config_list, rel, None).message == (
        "Expected model a to have an absolute path or URI; got base_path()=rel"
    )
    uri = _parse('model_config_list { config { name: "a" base_path: "gs://b/a" model_platform: "tensorflow" } }')
    cfg.validate_model_config_list(uri, None)
    empty = cfg.ModelServerConfig()
    assert _err(cfg.validate_model_config_list, empty, None).code == Code.INVALID_ARGUMENT
    both = _parse('model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" model_type: TENSORFLOW } }')
    assert _err(cfg.validate_platforms, both).message.startswith("Illegal setting both ModelServerConfig::model_type")
    legacy = _parse('model_config_list { config { name: "a" base_path: "/a" model_type: TENSORFLOW } }')
    cfg.validate_platforms(legacy)


@pytest.mark.parametrize(
    ("name", "version"),
    [("1", 1), ("00000123", 123), ("20170111173521", 20170111173521), ("-5", -5), ("1.0", None), ("v1", None),
     ("2.denied", None), ("1e3", None), ("0x10", None), ("variables", None), ("saved_model.pb", None)],
)
def test_version_names(name: str, version: int | None) -> None:
    assert cfg.parse_version(name) == version


def test_discover_versions_and_duplicates(tmp_path: Path) -> None:
    for child in ("1", "002", "2", "v3", "tmp_4"):
        (tmp_path / child).mkdir()
    (tmp_path / "7").write_text("a file with a numeric name counts too")
    found = cfg.discover_versions("m", str(tmp_path))
    assert sorted(found) == [1, 2, 7]
    assert found[2] == os.path.join(str(tmp_path), "2")  # string order: "2" sorts after "002" and wins


def test_discover_missing_base_path(tmp_path: Path) -> None:
    err = _err(cfg.discover_versions, "m", str(tmp_path / "nope"))
    assert err.code == Code.INVALID_ARGUMENT
    assert err.message.startswith(f"Could not find base path {tmp_path / 'nope'} for servable m")


def test_policies() -> None:
    found = {1: "/1", 3: "/3", 7: "/7"}
    latest = _parse('model_config_list { config { name: "m" } }').model_config_list.config[0]
    assert list(cfg.aspired_versions(latest, found)) == [7]
    two = _parse('model_config_list { config { name: "m" model_version_policy { latest { num_versions: 2 } } } }')
    assert sorted(cfg.aspired_versions(two.model_config_list.config[0], found)) == [3, 7]
    zero = _parse('model_config_list { config { name: "m" model_version_policy { latest { num_versions: 0 } } } }')
    assert list(cfg.aspired_versions(zero.model_config_list.config[0], found)) == [7]
    every = _parse('model_config_list { config { name: "m" model_version_policy { all {} } } }')
    assert sorted(cfg.aspired_versions(every.model_config_list.config[0], found)) == [1, 3, 7]
    specific = _parse('model_config_list { config { name: "m" model_version_policy { specific { versions: 3 versions: 4 } } } }')
    assert list(cfg.aspired_versions(specific.model_config_list.config[0], found)) == [3]


def test_monitoring_config(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.config"
    path.write_text("prometheus_config { enable: true }")
    assert cfg.read_monitoring_config(str(path)) == "/monitoring/prometheus/metrics"
    path.write_text('prometheus_config { enable: true, path: "/metrics" }')
    assert cfg.read_monitoring_config(str(path)) == "/metrics"
    path.write_text("prometheus_config { enable: false }")
    assert cfg.read_monitoring_config(str(path)) is None
    path.write_text("prometheus_config { bogus: 1 }")
    with pytest.raises(cfg.ConfigFileError, match="MonitoringConfig"):
        cfg.read_monitoring_config(str(path))


def test_batching_parameters_validation() -> None:
    params = cfg.parse_batching_parameters(
        "max_batch_size { value: 32 } batch_timeout_micros { value: 100 } allowed_batch_sizes: 8 allowed_batch_sizes: 32"
    )
    assert params.max_batch_size.value == 32
    with pytest.raises(cfg.ConfigFileError) as info:
        cfg.parse_batching_parameters("max_batch_size { value: 32 } allowed_batch_sizes: 8 allowed_batch_sizes: 16")
    assert "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 16; expected 32" in str(info.value)
    with pytest.raises(cfg.ConfigFileError, match="monotonically increasing"):
        cfg.parse_batching_parameters("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 4 allowed_batch_sizes: 8")
    with pytest.raises(cfg.ConfigFileError, match="BatchingParameters"):
        cfg.parse_batching_parameters("max_batch_size: 8")  # wrappers need { value: N }
