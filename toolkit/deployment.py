"""The declarative deployment spec (``deploy/deployment.toml``): which models to serve, how, and on which ports.

One place describes the deployment; ``tfs config`` turns it into TF Serving's own config files, and the launchers
(compose, Docker SDK, embedded runtime) derive their flags from it, so they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from toolkit.errors import ToolkitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONTAINER_MODELS_ROOT = "/models"
"""Where ``deploy/models`` is mounted inside the container; base paths are written as seen from there."""

CONTAINER_CONFIG_ROOT = "/config"
"""Where ``deploy/`` (models.config, monitoring.config, batching.config) is mounted inside the container."""

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""Model names become folder names and URL segments: no separators, no leading dot, nothing to escape."""

LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
"""TF Serving's documented label alphabet (the REST URL form needs no escaping for these)."""

PolicyKind = Literal["latest", "all", "specific"]


class SpecError(ToolkitError, ValueError):
    """The deployment spec is invalid; the message names the field, what was expected and what was found."""


@dataclass(frozen=True)
class ModelEntry:
    """One `[[models]]` entry of the deployment spec: name, base path as the server sees it, version policy and
    labels (TF Serving's `ModelConfig` is written from it; the proto `ModelSpec` of requests is another thing)."""

    name: str
    base_path: str
    policy: PolicyKind = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerSpec:
    """Server-level settings shared by every launcher."""

    host: str = "127.0.0.1"
    grpc_port: int = 8500
    rest_port: int = 8501
    model_config_file_poll_wait_seconds: int = 60
    file_system_poll_wait_seconds: int = 1
    allow_version_labels_for_unavailable_models: bool = False
    enable_model_warmup: bool = True
    enable_grpc_healthcheck_service: bool = False
    xla_cpu_compilation_enabled: bool = False  # TF Serving's flag: models saved with jit_compile=True need it
    image: str = "tensorflow/serving:2.20.0-gpu"
    cpu_image: str = "tensorflow/serving:2.20.0"
    gpu: bool = True
    gpu_count: int | str = "all"


@dataclass(frozen=True)
class MonitoringSpec:
    """Prometheus exposition on the REST port."""

    enabled: bool = True
    path: str = "/monitoring/prometheus/metrics"


@dataclass(frozen=True)
class BatchingSpec:
    """Server-side batching (``--enable_batching`` + ``--batching_parameters_file``); off unless asked for."""

    enabled: bool = False
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    max_enqueued_batches: int = 100
    num_batch_threads: int = 2
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False


@dataclass(frozen=True)
class DeploymentSpec:
    """The whole deployment: server settings, monitoring, batching and the models."""

    models: tuple[ModelEntry, ...]
    server: ServerSpec = field(default_factory=ServerSpec)
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)
    batching: BatchingSpec = field(default_factory=BatchingSpec)
    kubernetes: dict[str, Any] = field(default_factory=dict)
    """The raw ``[kubernetes]`` table; only ``tfs k8s`` reads it (``toolkit.k8s.spec`` validates it)."""

    def model(self, name: str) -> ModelEntry:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


def _expect(value: Any, kind: type | tuple[type, ...], where: str, expected: str) -> Any:
    if isinstance(value, bool) and kind in (int, (int,)):
        raise SpecError(f"{where}: expected {expected}, got {value!r}")
    if not isinstance(value, kind):
        raise SpecError(f"{where}: expected {expected}, got {value!r}")
    return value


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")


def check_model_name(name: Any, where: str = "model name") -> str:
    """Refuse names that could escape the repository or break a URL (``..``, ``/``, empty, spaces)."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name):
        raise SpecError(
            f"{where}: expected a name matching {MODEL_NAME_PATTERN.pattern} "
            f"(letters, digits, '_', '.', '-'; no path separators), got {name!r}"
        )
    return name


def _parse_model(raw: Any, index: int) -> ModelEntry:
    where = f"models[{index}]"
    _expect(raw, dict, where, "a table")
    _check_keys(raw, {"name", "base_path", "version_policy", "num_versions", "versions", "labels"}, where)
    name = check_model_name(raw.get("name"), f"{where}.name")
    where = f"models[{index}] ({name})"
    base_path = raw.get("base_path", f"{CONTAINER_MODELS_ROOT}/{name}")
    _expect(base_path, str, f"{where}.base_path", "a string")
    policy = raw.get("version_policy", "latest")
    if policy not in ("latest", "all", "specific"):
        raise SpecError(f"{where}.version_policy: expected one of 'latest', 'all', 'specific', got {policy!r}")
    num_versions = _expect(raw.get("num_versions", 1), int, f"{where}.num_versions", "an integer >= 1")
    if num_versions < 1:
        raise SpecError(f"{where}.num_versions: expected an integer >= 1, got {num_versions}")
    versions_raw = _expect(raw.get("versions", []), list, f"{where}.versions", "a list of integers")
    versions = tuple(_expect(v, int, f"{where}.versions", "a list of integers") for v in versions_raw)
    if policy == "specific" and not versions:
        raise SpecError(f"{where}.versions: expected at least one version for version_policy 'specific', got []")
    if policy != "specific" and versions:
        raise SpecError(f"{where}.versions: only used with version_policy 'specific', got policy {policy!r}")
    labels_raw = _expect(raw.get("labels", {}), dict, f"{where}.labels", "a table of label = version")
    labels = {}
    for label, version in labels_raw.items():
        if not LABEL_PATTERN.match(label):
            raise SpecError(f"{where}.labels: expected a label matching [A-Za-z0-9_]+, got {label!r}")
        labels[label] = _expect(version, int, f"{where}.labels.{label}", "an integer version")
    return ModelEntry(name, base_path, policy, num_versions, versions, labels)


def _dataclass_from(cls: type, raw: Any, where: str) -> Any:
    _expect(raw, dict, where, "a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(raw, set(fields), where)
    values = {}
    for key, value in raw.items():
        default = fields[key].default
        if isinstance(default, tuple):
            value = tuple(_expect(value, list, f"{where}.{key}", "a list"))
        elif isinstance(default, bool):
            _expect(value, bool, f"{where}.{key}", "true or false")
        elif isinstance(default, int) and not (key == "gpu_count" and value == "all"):
            _expect(value, int, f"{where}.{key}", "an integer")
        elif isinstance(default, str) and key != "gpu_count":
            _expect(value, str, f"{where}.{key}", "a string")
        values[key] = value
    return cls(**values)


def parse_spec(raw: dict[str, Any]) -> DeploymentSpec:
    """Build and validate a ``DeploymentSpec`` from parsed TOML."""
    _check_keys(raw, {"server", "monitoring", "batching", "models", "kubernetes"}, "deployment spec")
    models_raw = _expect(raw.get("models", []), list, "models", "an array of [[models]] tables")
    models = tuple(_parse_model(m, i) for i, m in enumerate(models_raw))
    server = _dataclass_from(ServerSpec, raw.get("server", {}), "server")
    for key in ("grpc_port", "rest_port"):
        port = getattr(server, key)
        if not 0 <= port <= 65535:
            raise SpecError(f"server.{key}: expected a port in 0..65535, got {port}")
    if server.grpc_port == server.rest_port and server.grpc_port != 0:
        raise SpecError(f"server.rest_port: expected a port different from grpc_port, got {server.rest_port} twice")
    return DeploymentSpec(
        models=models,
        server=server,
        monitoring=_dataclass_from(MonitoringSpec, raw.get("monitoring", {}), "monitoring"),
        batching=_dataclass_from(BatchingSpec, raw.get("batching", {}), "batching"),
        kubernetes=_expect(raw.get("kubernetes", {}), dict, "kubernetes", "a table"),
    )


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read ``deployment.toml``; a syntax error names the file and the position."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"deployment spec not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:  # a folder, no permission, not UTF-8 text
        raise SpecError(f"{path}: expected a UTF-8 TOML file, got {exc}") from None
    try:
        return parse_spec(raw)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
