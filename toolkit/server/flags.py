"""``tensorflow_model_server`` command-line flags: the same names, ``--name=value`` syntax and defaults.

Each flag is implemented, accepted and ignored with a logged warning (where ignoring it is harmless), or rejected
with a clear message when a non-default value is given. Unknown arguments are rejected (the real binary prints
"unknown argument" and carries on; we refuse to start, so a typo cannot go unnoticed). The last occurrence of a
flag wins, as in TF's parser (the Docker entrypoint relies on it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from toolkit.server import limits
from toolkit.versions import simple_atoi

log = logging.getLogger(__name__)

FlagType = Literal["int32", "int64", "bool", "string", "float"]
Support = Literal["implemented", "ignored", "rejected"]

INT32_MAX = 2**31 - 1
NUM_SCHEDULABLE_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Flag:
    name: str
    type: FlagType
    default: object
    support: Support
    help: str
    why: str = ""  # for ignored/rejected flags: the reason shown in the warning/error


def _f(name: str, type_: FlagType, default: object, support: Support, help_: str, why: str = "") -> Flag:
    return Flag(name, type_, default, support, help_, why)


_NO_EFFECT = "it has no effect in the embedded runtime"

FLAGS: tuple[Flag, ...] = (
    _f("port", "int32", 8500, "implemented", "TCP port for gRPC (0 = no TCP gRPC; then --grpc_socket_path is needed)."),
    _f("grpc_socket_path", "string", "", "implemented", "Also listen for gRPC on this UNIX socket."),
    _f("rest_api_port", "int32", 0, "implemented", "HTTP/REST port (0 = no REST server). Must differ from --port."),
    _f("rest_api_num_threads", "int32", 0, "implemented", "Threads for REST requests (0 = 4 x CPUs)."),
    _f("rest_api_timeout_in_ms", "int32", 30000, "implemented", "Per-request timeout for REST calls."),
    _f("rest_api_enable_cors_support", "bool", False, "implemented", "Add CORS headers to REST responses."),
    _f("enable_batching", "bool", False, "implemented", "Merge concurrent Predict calls into batches."),
    _f(
        "allow_version_labels_for_unavailable_models",
        "bool",
        False,
        "implemented",
        "Let a new version label point at a version that is not AVAILABLE yet.",
    ),
    _f("batching_parameters_file", "string", "", "implemented", "Text-format BatchingParameters file."),
    _f(
        "enable_per_model_batching_parameters",
        "bool",
        False,
        "implemented",
        "Read batching parameters from <version_dir>/batching_params.pbtxt.",
    ),
    _f("model_config_file", "string", "", "implemented", "Text-format ModelServerConfig file."),
    _f("model_config_file_poll_wait_seconds", "int32", 0, "implemented", "Seconds between re-reads of the config."),
    _f("model_name", "string", "default", "implemented", "Model name in single-model mode."),
    _f("model_base_path", "string", "", "implemented", "Model base directory (without the version folder)."),
    _f("num_load_threads", "int32", 0, "ignored", "Threads for loads.", "loads after start-up run serially"),
    _f("num_unload_threads", "int32", 0, "ignored", "Threads for unloads.", "unloads run serially"),
    _f("max_num_load_retries", "int32", 5, "implemented", "Retries after a failed load."),
    _f("load_retry_interval_micros", "int64", 60_000_000, "implemented", "Wait between load retries."),
    _f("file_system_poll_wait_seconds", "int32", 1, "implemented", "Seconds between scans for new versions."),
    _f("flush_filesystem_caches", "bool", True, "ignored", "Flush filesystem caches after loads.", _NO_EFFECT),
    _f("tensorflow_session_parallelism", "int64", 0, "implemented", "Intra- and inter-op threads (0 = auto)."),
    _f("tensorflow_session_config_file", "string", "", "implemented", "Text-format TF ConfigProto for sessions."),
    _f("tensorflow_intra_op_parallelism", "int64", 0, "implemented", "Intra-op threads (0 = auto)."),
    _f("tensorflow_inter_op_parallelism", "int64", 0, "implemented", "Inter-op threads (0 = auto)."),
    _f(
        "use_alts_credentials",
        "bool",
        False,
        "rejected",
        "Use Google ALTS credentials.",
        "ALTS only works on Google Cloud; use --ssl_config_file for TLS",
    ),
    _f("ssl_config_file", "string", "", "implemented", "Text-format SSLConfig for TLS on gRPC."),
    _f(
        "platform_config_file",
        "string",
        "",
        "implemented",
        "Text-format PlatformConfigMap for the tensorflow platform; replaces the session/batching/warmup flags.",
    ),
    _f("per_process_gpu_memory_fraction", "float", 0.0, "ignored", "GPU memory fraction.", "the runtime is CPU-only"),
    _f("saved_model_tags", "string", "serve", "implemented", "Comma-separated MetaGraph tags to load."),
    _f("grpc_channel_arguments", "string", "", "implemented", "Comma-separated key=value gRPC server args."),
    _f("grpc_max_threads", "int32", 0, "implemented", "Maximum gRPC server threads (0 = 4 x CPUs)."),
    _f("enable_model_warmup", "bool", True, "implemented", "Replay assets.extra/tf_serving_warmup_requests."),
    _f("num_request_iterations_for_warmup", "int32", 0, "implemented", "Replays per warmup record (0 = 1)."),
    _f("version", "bool", False, "implemented", "Print the version and exit."),
    _f("monitoring_config_file", "string", "", "implemented", "Text-format MonitoringConfig (Prometheus)."),
    _f(
        "remove_unused_fields_from_bundle_metagraph",
        "bool",
        True,
        "ignored",
        "Drop unused MetaGraphDef fields.",
        _NO_EFFECT,
    ),
    _f(
        "prefer_tflite_model",
        "bool",
        False,
        "implemented",
        "Serve <version_dir>/model.tflite (TF Lite interpreter) instead of saved_model.pb when it is present.",
    ),
    _f(
        "num_tflite_pools",
        "int32",
        NUM_SCHEDULABLE_CPUS,
        "implemented",
        "TF Lite interpreters per TF Lite model; a request waits for a free one (default: the CPU count).",
    ),
    _f(
        "num_tflite_interpreters_per_pool",
        "int32",
        1,
        "implemented",
        "Above 1: concurrent TF Lite requests are merged into batches over the interpreters.",
    ),
    _f(
        "enable_signature_method_name_check",
        "bool",
        False,
        "implemented",
        "Enforce SignatureDef.method_name for predict/classify/regress.",
    ),
    _f("xla_cpu_compilation_enabled", "bool", False, "implemented",
       "Enable XLA:CPU JIT; when both XLA flags are false, jit_compile=True functions fail at their first run."),
    _f("xla_gpu_compilation_enabled", "bool", False, "implemented",
       "Enable XLA:CPU and XLA:GPU JIT (the embedded runtime is CPU-only: XLA:CPU)."),
    _f("enable_profiler", "bool", True, "ignored", "Register the TF profiler service.", "no profiler service"),
    _f(
        "thread_pool_factory_config_file",
        "string",
        "",
        "ignored",
        "Custom inter/intra-op thread pools.",
        "sessions use their own thread pools",
    ),
    _f("mixed_precision", "string", "", "ignored", "Mixed-precision mode.", "models run at their saved precision"),
    _f("skip_initialize_tpu", "bool", False, "ignored", "Skip TPU initialisation.", "no TPU support"),
    _f(
        "enable_grpc_healthcheck_service",
        "bool",
        False,
        "implemented",
        "Serve grpc.health.v1.Health (ModelService and PredictionService SERVING).",
    ),
    _f(
        "enable_serialization_as_tensor_content",
        "bool",
        False,
        "implemented",
        "Return Predict outputs in tensor_content instead of typed *_val fields.",
    ),
)

# Flags of our own (not in tensorflow_model_server).
EXTRA_FLAGS: tuple[Flag, ...] = (
    _f(
        "host",
        "string",
        "127.0.0.1",
        "implemented",
        "Address the gRPC and REST ports bind to (tfs-toolkit only; the real binary binds 0.0.0.0).",
    ),
    _f(
        "max_request_tensor_bytes",
        "int64",
        limits.DEFAULT_MAX_REQUEST_TENSOR_BYTES,
        "implemented",
        "Largest decoded size of one request's input tensors, checked before allocating (tfs-toolkit only).",
    ),
    _f(
        "max_request_fill_bytes",
        "int64",
        limits.DEFAULT_MAX_REQUEST_FILL_BYTES,
        "implemented",
        "Largest size a request's short *_val lists may be filled to by repeating their last value "
        "(tfs-toolkit only).",
    ),
)

_BY_NAME = {f.name: f for f in (*FLAGS, *EXTRA_FLAGS)}


def known_flags() -> list[str]:
    """Names of every accepted flag (tensorflow_model_server's 48 plus our own EXTRA_FLAGS)."""
    return [f.name for f in (*FLAGS, *EXTRA_FLAGS)]


def tf_serving_flags() -> list[str]:
    """Names of tensorflow_model_server's own flags, in main.cc order."""
    return [f.name for f in FLAGS]


def flag_info(name: str) -> Flag:
    return _BY_NAME[name]


class FlagError(ValueError):
    """A command line that cannot be parsed; ``exit_code`` is what the CLI should exit with."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ServerOptions:
    """Parsed values of every flag (names as the flags). ``given`` lists the flags that appeared."""

    port: int = 8500
    grpc_socket_path: str = ""
    rest_api_port: int = 0
    rest_api_num_threads: int = 0
    rest_api_timeout_in_ms: int = 30000
    rest_api_enable_cors_support: bool = False
    enable_batching: bool = False
    allow_version_labels_for_unavailable_models: bool = False
    batching_parameters_file: str = ""
    enable_per_model_batching_parameters: bool = False
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    model_name: str = "default"
    model_base_path: str = ""
    num_load_threads: int = 0
    num_unload_threads: int = 0
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    file_system_poll_wait_seconds: int = 1
    flush_filesystem_caches: bool = True
    tensorflow_session_parallelism: int = 0
    tensorflow_session_config_file: str = ""
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    use_alts_credentials: bool = False
    ssl_config_file: str = ""
    platform_config_file: str = ""
    per_process_gpu_memory_fraction: float = 0.0
    saved_model_tags: str = "serve"
    grpc_channel_arguments: str = ""
    grpc_max_threads: int = 0
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    version: bool = False
    monitoring_config_file: str = ""
    remove_unused_fields_from_bundle_metagraph: bool = True
    prefer_tflite_model: bool = False
    num_tflite_pools: int = NUM_SCHEDULABLE_CPUS
    num_tflite_interpreters_per_pool: int = 1
    enable_signature_method_name_check: bool = False
    xla_cpu_compilation_enabled: bool = False
    xla_gpu_compilation_enabled: bool = False
    enable_profiler: bool = True
    thread_pool_factory_config_file: str = ""
    mixed_precision: str = ""
    skip_initialize_tpu: bool = False
    enable_grpc_healthcheck_service: bool = False
    enable_serialization_as_tensor_content: bool = False
    host: str = "127.0.0.1"
    max_request_tensor_bytes: int = limits.DEFAULT_MAX_REQUEST_TENSOR_BYTES
    max_request_fill_bytes: int = limits.DEFAULT_MAX_REQUEST_FILL_BYTES
    help: bool = False
    given: list[str] = field(default_factory=list)

    @property
    def saved_model_tag_set(self) -> list[str]:
        return [t for t in self.saved_model_tags.split(",") if t]


_BOOL_VALUES = {"true": True, "1": True, "false": False, "0": False}


def _convert(flag: Flag, raw: str) -> object:
    if flag.type == "bool":
        value = _BOOL_VALUES.get(raw.lower())
        if value is None:
            raise FlagError(f"Invalid value for bool flag --{flag.name}: {raw!r} (expected true, false, 1 or 0)")
        return value
    if flag.type in ("int32", "int64"):
        number = simple_atoi(raw, 32 if flag.type == "int32" else 64)
        if number is None:
            raise FlagError(f"Invalid value for {flag.type} flag --{flag.name}: {raw!r} (expected an integer)")
        return number
    if flag.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise FlagError(f"Invalid value for float flag --{flag.name}: {raw!r} (expected a number)") from None
    return raw


def parse_args(argv: list[str]) -> ServerOptions:
    """Parse tensorflow_model_server-style arguments. Raises FlagError for unknown or malformed arguments."""
    values: dict[str, Any] = {}  # each flag converted to its declared type by _convert
    given: list[str] = []
    unknown: list[str] = []
    for arg in argv:
        if arg in ("--help", "-h", "-help"):
            values["help"] = True
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:] if arg.startswith("-") else None
        if body is None or not body:
            unknown.append(arg)
            continue
        name, eq, raw = body.partition("=")
        flag = _BY_NAME.get(name)
        if flag is None:
            unknown.append(arg)
            continue
        if not eq:
            if flag.type != "bool":
                raise FlagError(
                    f"Flag --{name} needs a value: write --{name}=VALUE (tensorflow_model_server does not "
                    f"understand '--{name} VALUE')"
                )
            values[name] = True
        else:
            values[name] = _convert(flag, raw)
        given.append(name)
    if unknown:
        raise FlagError(
            "unknown argument" + ("s" if len(unknown) > 1 else "") + ": " + " ".join(unknown)
            + " (flags are written --name=value; run with --help for the list)"
        )
    options = ServerOptions(**values)
    options.given = given
    return options


def check_support(options: ServerOptions) -> list[str]:
    """Warn about ignored flags and raise FlagError for rejected ones set to non-default values.

    Returns the warning messages (also logged)."""
    warnings: list[str] = []
    for name in dict.fromkeys(options.given):
        flag = _BY_NAME[name]
        value = getattr(options, name)
        if flag.support == "rejected" and value != flag.default:
            raise FlagError(f"--{name} is not supported by tfs serve: {flag.why}.")
        if flag.support == "ignored":
            message = f"--{name}={value} is accepted but ignored: {flag.why}."
            log.warning(message)
            warnings.append(message)
    return warnings


def usage() -> str:
    """The --help text: every flag with its type, default and support level."""
    lines = ["usage: tfs serve [--flag=value ...]   (tensorflow_model_server-compatible flags)", "Flags:"]
    for flag in (*FLAGS, *EXTRA_FLAGS):
        default = flag.default
        if flag.type == "bool":
            default = str(default).lower()
        elif flag.type == "string":
            default = f'"{default}"'
        note = "" if flag.support == "implemented" else f"  [{flag.support}: {flag.why}]"
        lines.append(f"\t--{flag.name}={default}\t{flag.type}\t{flag.help}{note}")
    return "\n".join(lines)


def replace(options: ServerOptions, **changes: Any) -> ServerOptions:
    return dataclasses.replace(options, **changes)
