"""``--platform_config_file``: the TensorFlow platform's SessionBundleConfig read from a text-format PlatformConfigMap,
as server.cc does instead of building it from the flags (then the session, batching, warmup, tag and TF Lite flags
are ignored, as in TF Serving, and the proto3 defaults apply: warmup off, one TF Lite interpreter).

The file may configure only the ``tensorflow`` platform with a SavedModelBundleSourceAdapterConfig; fields that
tfs serve does not implement are refused with their name, fields without effect here are logged and ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypeAlias

from google.protobuf import text_format
from tensorflow_serving.config import platform_config_pb2

from toolkit.protos import session_bundle_config_pb2
from toolkit.server import config as cfg
from toolkit.server.servable import SessionOptions
from toolkit.server.tflite_servable import TfLiteOptions

log = logging.getLogger(__name__)

SessionBundleConfig: TypeAlias = session_bundle_config_pb2.SessionBundleConfig  # a generated message class (Any to mypy: no stubs)
ADAPTER_CONFIG = session_bundle_config_pb2.SavedModelBundleSourceAdapterConfig
TENSORFLOW_PLATFORM = "tensorflow"

# SessionBundleConfig fields with no effect in the embedded runtime (accepted, logged).
_IGNORED_FIELDS = {
    "experimental_transient_ram_bytes_during_load": "there is no resource estimation",
    "enable_session_metadata": "sessions carry no metadata",
    "remove_unused_fields_from_bundle_metagraph": "only signatures are kept anyway",
    "resource_estimation_uses_validation_result": "there is no resource estimation",
    "wrap_session_with_no_threading_params": "requests carry no thread pool options",
    "mixed_precision": "models run at their saved precision",
}
# Fields tfs serve does not implement (refused when set).
_REFUSED_FIELDS = {
    "session_target": "sessions are always in-process",
    "session_run_load_threadpool_index": "there are no named thread pools",
    "enable_saved_model_config": "saved_model_config.pb is not read",
}
_REFUSED_WARMUP_FIELDS = {
    "num_model_warmup_threads": "warmup runs on one thread",
    "enable_all_batch_sizes_warmup": "warmup replays the records as they are",
}


# Flags server.cc reads only when it builds the platform config itself.
FLAGS_REPLACED_BY_FILE = (
    "enable_batching", "batching_parameters_file", "enable_per_model_batching_parameters",
    "tensorflow_session_parallelism", "tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism",
    "tensorflow_session_config_file", "per_process_gpu_memory_fraction", "saved_model_tags", "enable_model_warmup",
    "num_request_iterations_for_warmup", "remove_unused_fields_from_bundle_metagraph", "prefer_tflite_model",
    "num_tflite_pools", "num_tflite_interpreters_per_pool", "mixed_precision",
)


def flags_replaced_by_file(given: list[str]) -> list[str]:
    """The given flags that --platform_config_file makes TF Serving ignore (for a warning)."""
    return [name for name in dict.fromkeys(given) if name in FLAGS_REPLACED_BY_FILE]


class PlatformConfigError(cfg.ConfigFileError):
    """A platform config file tfs serve cannot use (a start-up error)."""


def parse_platform_config(text: str, source: str = "") -> SessionBundleConfig:
    """The tensorflow platform's SessionBundleConfig from a text-format PlatformConfigMap."""
    platforms = platform_config_pb2.PlatformConfigMap()
    try:
        text_format.Parse(text, platforms)
    except text_format.ParseError as exc:
        raise PlatformConfigError(
            f"Error parsing text-format tensorflow.serving.PlatformConfigMap {source}: {exc}".replace("  ", " ")
        ) from exc
    others = sorted(set(platforms.platform_configs) - {TENSORFLOW_PLATFORM})
    if others:
        raise PlatformConfigError(
            f"platform_config_file configures platform(s) {', '.join(others)}: tfs serve implements only the "
            f"'{TENSORFLOW_PLATFORM}' platform"
        )
    if TENSORFLOW_PLATFORM not in platforms.platform_configs:
        raise PlatformConfigError(
            f"platform_config_file has no entry for platform {TENSORFLOW_PLATFORM} (the only platform tfs serve "
            "implements)"
        )
    packed = platforms.platform_configs[TENSORFLOW_PLATFORM].source_adapter_config
    adapter = ADAPTER_CONFIG()
    if not packed.Is(ADAPTER_CONFIG.DESCRIPTOR):
        type_name = packed.type_url.rsplit("/", 1)[-1] or "(none)"
        raise PlatformConfigError(
            f"Couldn't find factory for config proto message type {type_name}: the tensorflow platform's "
            f"source_adapter_config must be a {ADAPTER_CONFIG.DESCRIPTOR.full_name}"
        )
    if not packed.Unpack(adapter):
        raise PlatformConfigError(f"Malformed content of Any: {packed}")
    bundle = adapter.legacy_config
    _check_fields(bundle)
    if bundle.HasField("batching_parameters"):
        try:
            cfg.validate_batching_parameters(bundle.batching_parameters)
        except cfg.ConfigFileError as exc:
            raise PlatformConfigError(f"platform_config_file batching_parameters: {exc}") from exc
    return bundle


def read_platform_config(path: str) -> SessionBundleConfig:
    text = cfg._read_text(path, "platform config")
    return parse_platform_config(text, path)


def _check_fields(bundle: SessionBundleConfig) -> None:
    for descriptor, _value in bundle.ListFields():
        name = descriptor.name
        if name in _REFUSED_FIELDS:
            raise PlatformConfigError(
                f"platform_config_file sets SessionBundleConfig.{name}, which tfs serve does not implement: "
                f"{_REFUSED_FIELDS[name]}"
            )
        if name in _IGNORED_FIELDS:
            log.warning("platform_config_file: SessionBundleConfig.%s is ignored: %s", name, _IGNORED_FIELDS[name])
    for descriptor, _ in bundle.model_warmup_options.ListFields():
        if descriptor.name in _REFUSED_WARMUP_FIELDS:
            raise PlatformConfigError(
                f"platform_config_file sets ModelWarmupOptions.{descriptor.name}, which tfs serve does not "
                f"implement: {_REFUSED_WARMUP_FIELDS[descriptor.name]}"
            )


@dataclass(frozen=True)
class _ConfiguredSessionOptions(SessionOptions):
    """SessionOptions whose ConfigProto comes from a SessionBundleConfig rather than from files and flags."""

    config: object = None

    def config_proto(self):
        from tensorflow.core.protobuf import config_pb2

        config = config_pb2.ConfigProto()
        config.CopyFrom(self.config)
        config.allow_soft_placement = True
        return config


@dataclass(frozen=True)
class LoadSettings:
    """What loading a version needs from a SessionBundleConfig."""

    session: SessionOptions
    tflite: TfLiteOptions
    warmup: bool
    warmup_iterations: int


def load_settings(bundle: SessionBundleConfig) -> LoadSettings:
    """SavedModelBundleFactory / source adapter settings (tags default to serve; deprecated TF Lite field)."""
    tags = tuple(t for t in bundle.saved_model_tags) or ("serve",)
    pools = bundle.num_tflite_pools
    if pools == 0 and bundle.num_tflite_interpreters > 0:
        pools = bundle.num_tflite_interpreters
    iterations = bundle.model_warmup_options.num_request_iterations
    return LoadSettings(
        session=_ConfiguredSessionOptions(tags=tags, config=bundle.session_config),
        tflite=TfLiteOptions(
            prefer_tflite_model=bundle.prefer_tflite_model,
            num_tflite_pools=pools,
            num_tflite_interpreters_per_pool=bundle.num_tflite_interpreters_per_pool,
        ),
        warmup=bundle.enable_model_warmup,
        warmup_iterations=iterations.value if bundle.model_warmup_options.HasField("num_request_iterations") else 0,
    )
