"""Generate TF Serving's own config files from the deployment spec: ``models.config`` (a text-format
``ModelServerConfig``), ``monitoring.config`` and ``batching.config``, plus the server flags that use them.

Files are written with protobuf ``text_format`` from the real message classes (never by templating), refused when
TF Serving would refuse them, re-read after writing to prove they round-trip, and replaced atomically so a
polling server never reads half a file.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from toolkit._extras import MissingExtraError, require
from toolkit.atomic_file import atomic_file
from toolkit.deployment import (
    CONTAINER_CONFIG_ROOT,
    CONTAINER_MODELS_ROOT,
    DeploymentSpec,
    ModelEntry,
    SpecError,
    load_spec,
)
from toolkit.errors import ToolkitError
from toolkit.protos import serving_config_pb2
from toolkit.repository import host_model_dir, list_versions
from toolkit.versions import VersionPolicy

MODELS_CONFIG = "models.config"
MONITORING_CONFIG = "monitoring.config"
BATCHING_CONFIG = "batching.config"
SPEC_FILE = "deployment.toml"
LOCAL_DIR = ".tfs"
LOCAL_MODELS_CONFIG = "models.local.config"


class ConfigError(ToolkitError, ValueError):
    """The deployment cannot be turned into a config TF Serving would accept; says which model and why."""


@dataclass(frozen=True)
class GeneratedConfig:
    """Paths of the files ``generate_config`` wrote (None where a file is not part of this deployment)."""

    models_config: Path
    monitoring_config: Path | None
    batching_config: Path | None


def _model_server_config_pb2():
    return require("tensorflow_serving.config.model_server_config_pb2", purpose="writing models.config")


def _check_base_path(model: ModelEntry) -> None:
    path = model.base_path
    if "://" in path:
        return
    if not posixpath.isabs(path):
        raise ConfigError(
            f"model {model.name!r}: base_path must be an absolute path or URI as seen by the server "
            f"(e.g. {CONTAINER_MODELS_ROOT}/{model.name}), got {path!r}"
        )
    if ".." in path.split("/"):
        raise ConfigError(f"model {model.name!r}: base_path must not contain '..', got {path!r}")


def _check_labels(model: ModelEntry, on_disk: list[int] | None) -> None:
    """TF Serving refuses a label on a version it will not load (at start-up that stops the server)."""
    if not model.labels:
        return
    if model.policy == "specific":
        loadable = set(model.versions)
    elif on_disk is not None:
        loadable = set(VersionPolicy.of_spec(model).served(on_disk))
    else:
        return  # repository not visible here: the server checks at load time
    for label, version in sorted(model.labels.items()):
        if version not in loadable:
            raise ConfigError(
                f"model {model.name!r}: label {label!r} points at version {version}, which the version policy "
                f"will not load; expected one of {sorted(loadable)}, got {version}. TF Serving refuses such a "
                "label ('Request to assign label to version ... not currently available for inference')"
            )


def build_model_server_config(spec: DeploymentSpec, models_dir: Path | None = None):
    """Build a validated ``ModelServerConfig``; with ``models_dir`` labels are checked against folders on disk."""
    pb2 = _model_server_config_pb2()
    config = pb2.ModelServerConfig()
    seen: set[str] = set()
    for model in spec.models:
        if model.name in seen:
            raise ConfigError(f"model {model.name!r} is listed twice; TF Serving requires unique model names")
        seen.add(model.name)
        _check_base_path(model)
        host_dir = host_model_dir(model.base_path, models_dir) if models_dir is not None else None
        on_disk = list_versions(host_dir) if host_dir is not None and host_dir.is_dir() else None
        _check_labels(model, on_disk)
        entry = config.model_config_list.config.add()
        entry.name = model.name
        entry.base_path = model.base_path
        entry.model_platform = "tensorflow"
        VersionPolicy.of_spec(model).fill_config(entry)
        for label, version in sorted(model.labels.items()):
            entry.version_labels[label] = version
    if not spec.models:
        raise ConfigError("the deployment spec lists no models; add a [[models]] table")
    return config


def build_monitoring_config(spec: DeploymentSpec) -> serving_config_pb2.MonitoringConfig:
    """Prometheus on the REST port at the spec's path."""
    config = serving_config_pb2.MonitoringConfig()
    config.prometheus_config.enable = spec.monitoring.enabled
    config.prometheus_config.path = spec.monitoring.path
    if not spec.monitoring.path.startswith("/"):
        raise ConfigError(f"monitoring.path: expected an absolute URL path, got {spec.monitoring.path!r}")
    return config


def build_batching_config(spec: DeploymentSpec) -> serving_config_pb2.BatchingParameters:
    """``BatchingParameters`` with TF Serving's own validation of allowed_batch_sizes."""
    b = spec.batching
    allowed = list(b.allowed_batch_sizes)
    if allowed:
        if allowed != sorted(set(allowed)):
            raise ConfigError(f"batching.allowed_batch_sizes: expected strictly increasing sizes, got {allowed}")
        if allowed[-1] != b.max_batch_size:
            raise ConfigError(
                "batching.allowed_batch_sizes: Last entry in allowed_batch_sizes must match max_batch_size; "
                f"last entry was {allowed[-1]}; expected {b.max_batch_size}"
            )
    for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
        if getattr(b, name) < 1:
            raise ConfigError(f"batching.{name}: expected an integer >= 1, got {getattr(b, name)}")
    config = serving_config_pb2.BatchingParameters()
    config.max_batch_size.value = b.max_batch_size
    config.batch_timeout_micros.value = b.batch_timeout_micros
    config.max_enqueued_batches.value = b.max_enqueued_batches
    config.num_batch_threads.value = b.num_batch_threads
    config.allowed_batch_sizes.extend(allowed)
    config.pad_variable_length_inputs = b.pad_variable_length_inputs
    return config


def build_config_messages(spec: DeploymentSpec, models_dir: Path | None = None) -> dict[str, Any]:
    """File name -> validated message for every config file this deployment uses (``tfs config`` writes them,
    ``tfs k8s`` puts their text into a ConfigMap)."""
    messages: dict[str, Any] = {MODELS_CONFIG: build_model_server_config(spec, models_dir)}
    if spec.monitoring.enabled:
        messages[MONITORING_CONFIG] = build_monitoring_config(spec)
    if spec.batching.enabled:
        messages[BATCHING_CONFIG] = build_batching_config(spec)
    return messages


def write_text_proto(message, path: Path) -> None:
    """Write a message in text format atomically, then re-read it and insist it parses back identical."""
    text = text_format.MessageToString(message)
    reread = type(message)()
    text_format.Parse(text, reread)
    if reread != message:  # pragma: no cover - protobuf guarantees this; the check documents the contract
        raise ConfigError(f"{path}: the written text does not parse back to the same config")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        handle.write(text)


def read_model_server_config(path: str | Path):
    """Parse a text-format ``models.config``; a syntax error names the file, line and column.

    Without tensorflow-serving-api (the light ``gate`` install of ``tfs smoke``) it is read into the clients' wire
    copy of ``ModelServerConfig``: the same fields and names, so the same text parses the same way."""
    try:
        pb2 = _model_server_config_pb2()
    except MissingExtraError:
        from clients._proto import serving_pb2 as pb2
    config = pb2.ModelServerConfig()
    try:
        text_format.Parse(Path(path).read_text(encoding="utf-8"), config)
    except text_format.ParseError as exc:
        raise ConfigError(f"{path}: Error parsing text-format tensorflow.serving.ModelServerConfig: {exc}") from None
    return config


def generate_config(deploy_dir: str | Path = "deploy", spec: DeploymentSpec | None = None) -> GeneratedConfig:
    """Write ``models.config``, ``monitoring.config`` and (when enabled) ``batching.config`` into ``deploy_dir``.

    With no ``spec``, ``deploy_dir/deployment.toml`` is read. Everything is validated before anything is
    written, so a bad spec leaves the previous files untouched.
    """
    deploy = Path(deploy_dir)
    if spec is None:
        spec = load_spec(deploy / SPEC_FILE)
    messages = build_config_messages(spec, deploy / "models")
    models = messages[MODELS_CONFIG]
    monitoring = messages.get(MONITORING_CONFIG)
    batching = messages.get(BATCHING_CONFIG)
    models_path = deploy / MODELS_CONFIG
    write_text_proto(models, models_path)
    monitoring_path = batching_path = None
    if monitoring is not None:
        monitoring_path = deploy / MONITORING_CONFIG
        write_text_proto(monitoring, monitoring_path)
    if batching is not None:
        batching_path = deploy / BATCHING_CONFIG
        write_text_proto(batching, batching_path)
    elif (deploy / BATCHING_CONFIG).exists():
        (deploy / BATCHING_CONFIG).unlink()  # a stale file would contradict the spec
    return GeneratedConfig(models_path, monitoring_path, batching_path)


def server_flags(spec: DeploymentSpec, config_root: str = CONTAINER_CONFIG_ROOT) -> list[str]:
    """The tensorflow_model_server flags that load this deployment's config files: the ONE source for compose,
    the Docker launcher and the embedded runtime. Ports are not included (each launcher maps its own)."""
    root = config_root.rstrip("/")
    flags = [
        f"--model_config_file={root}/{MODELS_CONFIG}",
        f"--model_config_file_poll_wait_seconds={spec.server.model_config_file_poll_wait_seconds}",
        f"--file_system_poll_wait_seconds={spec.server.file_system_poll_wait_seconds}",
    ]
    if spec.monitoring.enabled:
        flags.append(f"--monitoring_config_file={root}/{MONITORING_CONFIG}")
    if spec.batching.enabled:
        flags += ["--enable_batching=true", f"--batching_parameters_file={root}/{BATCHING_CONFIG}"]
    # At start-up TF Serving assigns labels before the versions have loaded and refuses them (issue #1413)
    # unless this flag is set, so a deployment with labels gets it.
    if spec.server.allow_version_labels_for_unavailable_models or any(m.labels for m in spec.models):
        flags.append("--allow_version_labels_for_unavailable_models=true")
    if not spec.server.enable_model_warmup:
        flags.append("--enable_model_warmup=false")
    if spec.server.enable_grpc_healthcheck_service:
        flags.append("--enable_grpc_healthcheck_service=true")
    if spec.server.xla_cpu_compilation_enabled:
        flags.append("--xla_cpu_compilation_enabled=true")
    return flags


def localize_config(deploy_dir: str | Path = "deploy", spec: DeploymentSpec | None = None) -> Path:
    """Write ``deploy/.tfs/models.local.config``: models.config with ``/models/<name>`` base paths mapped to the
    host's ``deploy/models/<name>``, so the embedded runtime serves the same repository outside a container."""
    deploy = Path(deploy_dir).resolve()
    if spec is None:
        spec = load_spec(deploy / SPEC_FILE)
    config = build_model_server_config(spec, deploy / "models")
    prefix = CONTAINER_MODELS_ROOT.rstrip("/") + "/"
    for entry in config.model_config_list.config:
        if entry.base_path.startswith(prefix):
            entry.base_path = str(deploy / "models" / entry.base_path[len(prefix) :])
    path = deploy / LOCAL_DIR / LOCAL_MODELS_CONFIG
    write_text_proto(config, path)
    return path


__all__ = [
    "ConfigError",
    "GeneratedConfig",
    "SpecError",
    "build_batching_config",
    "build_config_messages",
    "build_model_server_config",
    "build_monitoring_config",
    "generate_config",
    "localize_config",
    "read_model_server_config",
    "server_flags",
    "write_text_proto",
]
