"""models.config / monitoring.config / batching.config generation: round trip and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from toolkit.deployment import SpecError, parse_spec
from toolkit.protos import serving_config_pb2
from toolkit.serving_config import (
    ConfigError,
    build_model_server_config,
    generate_config,
    localize_config,
    read_model_server_config,
    server_flags,
)


def _deploy(tmp_path: Path, toml: str, versions: dict[str, list[int]]) -> Path:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name, numbers in versions.items():
        for v in numbers:
            (deploy / "models" / name / str(v)).mkdir(parents=True)
    (deploy / "deployment.toml").write_text(toml)
    return deploy


SPEC = """
[batching]
enabled = true
max_batch_size = 8
allowed_batch_sizes = [2, 8]

[[models]]
name = "a"
version_policy = "specific"
versions = [1, 2]
labels = { stable = 1, canary = 2 }

[[models]]
name = "b"
version_policy = "all"

[[models]]
name = "c"
num_versions = 2
labels = { stable = 3 }
"""


def test_generated_files_round_trip_through_the_real_messages(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, SPEC, {"a": [1, 2], "b": [1], "c": [1, 2, 3]})
    generated = generate_config(deploy)
    config = read_model_server_config(generated.models_config)
    assert config == build_model_server_config(parse_spec_from(deploy), deploy / "models")
    entries = {c.name: c for c in config.model_config_list.config}
    assert list(entries["a"].model_version_policy.specific.versions) == [1, 2]
    assert dict(entries["a"].version_labels) == {"stable": 1, "canary": 2}
    assert entries["b"].model_version_policy.HasField("all")
    assert entries["c"].model_version_policy.latest.num_versions == 2
    assert all(c.model_platform == "tensorflow" and c.base_path == f"/models/{c.name}" for c in entries.values())
    # the official parser accepts the file verbatim
    official = text_format.Parse(generated.models_config.read_text(), model_server_config_pb2.ModelServerConfig())
    assert official == config
    monitoring = text_format.Parse(generated.monitoring_config.read_text(), serving_config_pb2.MonitoringConfig())
    assert monitoring.prometheus_config.enable and monitoring.prometheus_config.path == "/monitoring/prometheus/metrics"
    batching = text_format.Parse(generated.batching_config.read_text(), serving_config_pb2.BatchingParameters())
    assert batching.max_batch_size.value == 8 and list(batching.allowed_batch_sizes) == [2, 8]
    assert "max_batch_size {\n  value: 8\n}" in generated.batching_config.read_text()


def parse_spec_from(deploy: Path):  # type: ignore[no-untyped-def]
    from toolkit.deployment import load_spec

    return load_spec(deploy / "deployment.toml")


@pytest.mark.parametrize("toml,versions,needle", [
    ('[[models]]\nname = "a"\nlabels = { stable = 1 }\n', {"a": [1, 2]},
     "label 'stable' points at version 1, which the version policy will not load; expected one of [2], got 1"),
    ('[[models]]\nname = "a"\nversion_policy = "specific"\nversions = [2]\nlabels = { stable = 1 }\n', {"a": [1, 2]},
     "expected one of [2], got 1"),
    ('[[models]]\nname = "a"\nbase_path = "models/a"\n', {"a": [1]}, "base_path must be an absolute path"),
    ('[[models]]\nname = "a"\nbase_path = "/models/../etc"\n', {"a": [1]}, "must not contain '..'"),
    ('[[models]]\nname = "a"\n[[models]]\nname = "a"\n', {"a": [1]}, "model 'a' is listed twice"),
    ('[batching]\nenabled = true\nmax_batch_size = 8\nallowed_batch_sizes = [2, 4]\n[[models]]\nname = "a"\n',
     {"a": [1]}, "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; expected 8"),
    ("", {}, "lists no models"),
])
def test_refuses_what_tf_serving_refuses_and_writes_nothing(tmp_path: Path, toml: str, versions: dict,
                                                           needle: str) -> None:
    deploy = _deploy(tmp_path, toml, versions)
    (deploy / "models").mkdir(parents=True, exist_ok=True)
    with pytest.raises(ConfigError) as info:
        generate_config(deploy)
    assert needle in str(info.value)
    assert not (deploy / "models.config").exists()


def test_refusal_keeps_previous_good_config(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, '[[models]]\nname = "a"\n', {"a": [1]})
    good = generate_config(deploy).models_config.read_text()
    (deploy / "deployment.toml").write_text('[[models]]\nname = "a"\nbase_path = "relative"\n')
    with pytest.raises(ConfigError):
        generate_config(deploy)
    assert (deploy / "models.config").read_text() == good


def test_server_flags_and_local_config(tmp_path: Path) -> None:
    deploy = _deploy(tmp_path, SPEC, {"a": [1, 2], "b": [1], "c": [1, 2, 3]})
    spec = parse_spec_from(deploy)
    flags = server_flags(spec)
    assert "--model_config_file=/config/models.config" in flags
    assert "--monitoring_config_file=/config/monitoring.config" in flags
    assert "--allow_version_labels_for_unavailable_models=true" in flags  # the spec has labels
    assert "--allow_version_labels_for_unavailable_models=true" not in server_flags(parse_spec({"models": [{"name": "m"}]}))
    assert "--enable_batching=true" in flags and "--batching_parameters_file=/config/batching.config" in flags
    assert not any(f.startswith("--xla_cpu_compilation_enabled") for f in flags)  # off unless the spec asks
    xla = parse_spec({"server": {"xla_cpu_compilation_enabled": True}, "models": [{"name": "m"}]})
    assert "--xla_cpu_compilation_enabled=true" in server_flags(xla)
    with pytest.raises(SpecError, match="server.xla_cpu_compilation_enabled: expected true or false"):
        parse_spec({"server": {"xla_cpu_compilation_enabled": "yes"}})
    local = read_model_server_config(localize_config(deploy, spec))
    assert {c.base_path for c in local.model_config_list.config} == {
        str((deploy / "models" / n).resolve()) for n in ("a", "b", "c")}


def test_malformed_models_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "models.config"
    path.write_text("model_config_list { config { name: 'x' bogus: 1 } }")
    with pytest.raises(ConfigError, match="models.config: Error parsing text-format"):
        read_model_server_config(path)


def test_spec_object_can_be_passed_directly(tmp_path: Path) -> None:
    spec = parse_spec({"models": [{"name": "m"}]})
    generated = generate_config(tmp_path, spec)
    assert read_model_server_config(generated.models_config).model_config_list.config[0].name == "m"


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    """toolkit.atomic_file: the new content appears at once with the asked mode; an error mid-write leaves the old
    file and no temporary file behind."""
    from toolkit.atomic_file import atomic_file

    target = tmp_path / "models.config"
    target.write_text("old")
    with atomic_file(target) as handle:
        handle.write("new")
        assert target.read_text() == "old"  # not visible before the block ends
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o644
    with pytest.raises(RuntimeError), atomic_file(target, binary=True, permissions=0o600) as raw:
        raw.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["models.config"]
