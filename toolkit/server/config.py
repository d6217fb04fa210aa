"""Config files of the model server: ModelServerConfig (models.config), its validation rules, version discovery on
the file system (absl::SimpleAtoi names), version policies, MonitoringConfig, BatchingParameters and SSLConfig.

Messages and codes follow TF Serving's server_core.cc and file_system_storage_path_source.cc.
"""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import TypeAlias

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from toolkit.protos import serving_config_pb2
from toolkit.server.errors import Code, ServingError
from toolkit.versions import VersionPolicy, parse_version

log = logging.getLogger(__name__)

ModelServerConfig: TypeAlias = model_server_config_pb2.ModelServerConfig  # a generated message class (Any to mypy: no stubs)
ModelConfig: TypeAlias = model_server_config_pb2.ModelConfig  # a generated message class (Any to mypy: no stubs)

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
SUPPORTED_PLATFORMS = ("tensorflow",)


class ConfigFileError(Exception):
    """A config file could not be read or parsed (a start-up error)."""


def _read_text(path: str, kind: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigFileError(f"Could not read {kind} file {path}: {exc.strerror or exc}") from exc


def parse_model_server_config(text: str) -> ModelServerConfig:
    """Parse text-format ModelServerConfig (raises ConfigFileError with TF Serving's wording)."""
    config = ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.serving.ModelServerConfig: {exc}") from exc
    return config


def read_model_server_config(path: str) -> ModelServerConfig:
    return parse_model_server_config(_read_text(path, "model config"))


def single_model_config(name: str, base_path: str) -> ModelServerConfig:
    """The config TF Serving builds from --model_name/--model_base_path (server.cc BuildSingleModelConfig)."""
    config = ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    # TF Serving requires an absolute path; a relative one is resolved here so `tfs serve` is pleasant to use.
    model.base_path = base_path if _is_uri(base_path) else os.path.abspath(base_path)
    model.model_platform = "tensorflow"
    return config


def _is_uri(path: str) -> bool:
    return "://" in path


def platform_of(model: ModelConfig) -> str:
    if model.model_platform:
        return model.model_platform
    if model.model_type == model_server_config_pb2.TENSORFLOW:
        return "tensorflow"
    return "other" if model.model_type == model_server_config_pb2.OTHER else ""


def validate_model_config_list(new: ModelServerConfig, old: ModelServerConfig | None) -> None:
    """Checks of ServerCore::ReloadConfig before labels: transition, unique names, absolute paths, platform
    changes. Raises ServingError. (Label rules are checked by the manager, platform validity after labels.)"""
    if new.WhichOneof("config") != "model_config_list":
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is "
            "currently supported",
        )
    if old is not None and old.WhichOneof("config") not in (None, "model_config_list"):
        raise ServingError(
            Code.FAILED_PRECONDITION,
            "Cannot transition to requested config. It is only legal to transition from one ModelConfigList "
            "to another.",
        )
    seen: set[str] = set()
    for model in new.model_config_list.config:
        if model.name in seen:
            raise ServingError(
                Code.INVALID_ARGUMENT, f"Illegal to list model {model.name} multiple times in config list"
            )
        seen.add(model.name)
    for model in new.model_config_list.config:
        if not (os.path.isabs(model.base_path) or _is_uri(model.base_path)):
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Expected model {model.name} to have an absolute path or URI; got base_path()={model.base_path}",
            )
    if old is not None:
        old_platforms = {m.name: platform_of(m) for m in old.model_config_list.config}
        for model in new.model_config_list.config:
            before = old_platforms.get(model.name)
            if before is None:
                continue
            if before != checked_platform(model):
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Illegal to change a model's platform. For model {model.name} platform was {before} and new "
                    f"platform requested is {platform_of(model)}",
                )


def checked_platform(model: ModelConfig) -> str:
    """ServerCore::GetPlatform: the model's platform, or INVALID_ARGUMENT if neither or both fields are set."""
    if model.model_platform and model.model_type != model_server_config_pb2.MODEL_TYPE_UNSPECIFIED:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Illegal setting both ModelServerConfig::model_type (deprecated) and "
            f"ModelServerConfig::model_platform, model name is {model.name}",
        )
    platform = platform_of(model)
    if not platform:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            f"ModelServerConfig::model_platform, model name is {model.name}",
        )
    return platform


def validate_platforms(config: ModelServerConfig) -> None:
    """ServerCore's platform check (after labels): set, not both, and known."""
    for model in config.model_config_list.config:
        platform = checked_platform(model)
        if platform not in SUPPORTED_PLATFORMS:
            raise ServingError(
                Code.INVALID_ARGUMENT, f"Model {model.name} requests unsupported platform {platform}"
            )


# ----------------------------------------------------------------------------------------------- versions
def discover_versions(model_name: str, base_path: str) -> dict[int, str]:
    """{version: path} of the numeric children of ``base_path`` (duplicates: last in string order wins).

    Raises ServingError INVALID_ARGUMENT when base_path does not exist (TF Serving's wording)."""
    if _is_uri(base_path):
        scheme = base_path.split("://", 1)[0]
        raise ServingError(Code.UNIMPLEMENTED, f"File system scheme '{scheme}' not implemented (file: '{base_path}')")
    try:
        children = sorted(os.listdir(base_path))
    except FileNotFoundError:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Could not find base path {base_path} for servable {model_name} with error NOT_FOUND: "
            f"{base_path} not found",
        ) from None
    except OSError as exc:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Could not find base path {base_path} for servable {model_name} with error {exc.strerror}",
        ) from None
    found: dict[int, str] = {}
    for child in children:
        version = parse_version(child)
        if version is None:
            continue
        if version in found:
            log.warning(
                "Duplicate version directories detected. Version %d will be loaded from %s, ignoring %s",
                version, os.path.join(base_path, child), found[version],
            )
        found[version] = os.path.join(base_path, child)
    return found


def aspired_versions(model: ModelConfig, found: dict[int, str]) -> dict[int, str]:
    """Apply the model's version policy (latest N / all / specific) to discovered versions."""
    policy = VersionPolicy.of_config(model)
    if policy.kind == "specific":
        if not policy.versions:
            log.warning("Version policy of model %s lists no specific versions; serving none", model.name)
        for version in policy.versions:
            if version not in found:
                log.warning("Version %d of servable %s not found under base path %s", version, model.name,
                            model.base_path)
    return {v: found[v] for v in policy.select(found)}


# ----------------------------------------------------------------------------------------------- other files
def read_monitoring_config(path: str) -> str | None:
    """The Prometheus path from a MonitoringConfig file, or None when Prometheus is not enabled."""
    config = serving_config_pb2.MonitoringConfig()
    try:
        text_format.Parse(_read_text(path, "monitoring config"), config)
    except text_format.ParseError as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.serving.MonitoringConfig: {exc}") from exc
    if not config.prometheus_config.enable:
        return None
    return config.prometheus_config.path or DEFAULT_PROMETHEUS_PATH


def parse_batching_parameters(text: str, source: str = "") -> serving_config_pb2.BatchingParameters:
    """Parse and validate text-format BatchingParameters (allowed_batch_sizes rules as TF Serving)."""
    params = serving_config_pb2.BatchingParameters()
    try:
        text_format.Parse(text, params)
    except text_format.ParseError as exc:
        raise ConfigFileError(
            f"Error parsing text-format tensorflow.serving.BatchingParameters {source}: {exc}".replace("  ", " ")
        ) from exc
    validate_batching_parameters(params)
    return params


def validate_batching_parameters(params: serving_config_pb2.BatchingParameters) -> None:
    sizes = list(params.allowed_batch_sizes)
    max_batch = params.max_batch_size.value if params.HasField("max_batch_size") else 1000
    if max_batch <= 0:
        raise ConfigFileError(f"max_batch_size must be positive; got {max_batch}")
    if params.HasField("num_batch_threads") and params.num_batch_threads.value <= 0:
        raise ConfigFileError(f"num_batch_threads must be positive; got {params.num_batch_threads.value}")
    if sizes:
        for prev, cur in itertools.pairwise(sizes):
            if cur <= prev:
                raise ConfigFileError("allowed_batch_sizes entries must be monotonically increasing")
        limit = max_batch
        if params.enable_large_batch_splitting.value and params.HasField("max_execution_batch_size"):
            limit = params.max_execution_batch_size.value
        if sizes[-1] != limit:
            raise ConfigFileError(
                "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
                f"{sizes[-1]}; expected {limit}"
            )


def read_batching_parameters(path: str) -> serving_config_pb2.BatchingParameters:
    return parse_batching_parameters(_read_text(path, "batching parameters"), path)


def read_ssl_config(path: str) -> dict[str, object]:
    """SSLConfig {server_key, server_cert, custom_ca, client_verify} as a dict (tiny text-format reader)."""
    from toolkit.server import ssl_config_pb2

    config = ssl_config_pb2.SSLConfig()
    try:
        text_format.Parse(_read_text(path, "SSL config"), config)
    except text_format.ParseError as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.serving.SSLConfig: {exc}") from exc
    return {
        "server_key": config.server_key,
        "server_cert": config.server_cert,
        "custom_ca": config.custom_ca,
        "client_verify": config.client_verify,
    }


def read_session_config(path: str):
    """Text-format tensorflow.ConfigProto for the sessions."""
    from tensorflow.core.protobuf import config_pb2

    config = config_pb2.ConfigProto()
    try:
        text_format.Parse(_read_text(path, "session config"), config)
    except text_format.ParseError as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.ConfigProto: {exc}") from exc
    return config
