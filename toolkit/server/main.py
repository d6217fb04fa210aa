"""Start-up, serving and shutdown of ``tfs serve``, in tensorflow_model_server's order (server.cc BuildAndStart):
validate options, read configs, load every initial model and wait until AVAILABLE, then open gRPC, then REST,
then poll the config file. SIGTERM/SIGINT stop accepting, drain in-flight requests and exit 0.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.server import config as cfg
from toolkit.server import flags as flagmod
from toolkit.server import gc_freeze, limits
from toolkit.server.errors import ServingError

if TYPE_CHECKING:  # the parts are imported when the server is built (TensorFlow, grpc)
    import grpc

    from toolkit.server.core import ServingCoreImpl
    from toolkit.server.manager import ModelManager
    from toolkit.server.rest import RestServerHandle

log = logging.getLogger("toolkit.server")

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_USAGE = 2


class StartupError(Exception):
    """The server cannot start; the message follows "Failed to start server. Error: "."""


class _JsonFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)  # a plain function, not a method of the formatter

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)


_logging_configured = False  # configure_logging runs once per process


def configure_logging() -> None:
    """Structured logs on stderr: ``TFS_LOG_FORMAT=json`` gives JSON lines; ``TFS_LOG_LEVEL`` sets the level."""
    global _logging_configured
    root = logging.getLogger()
    if _logging_configured:
        return
    _logging_configured = True
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("TFS_LOG_FORMAT", "").lower() == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("TFS_LOG_LEVEL", "INFO").upper())
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _installed_version(*distributions: str) -> str | None:
    """The version of the first installed distribution of ``distributions`` (package metadata, no import)."""
    from importlib.metadata import PackageNotFoundError, version

    for name in distributions:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def version_text() -> str:
    """``--version``'s two lines, from package metadata: printing them does not import TensorFlow."""
    tf_version = _installed_version("tensorflow", "tensorflow-cpu", "tf-nightly", "tensorflow-intel")
    if tf_version is None:
        from toolkit.server.servable import tf_module

        tf_version = tf_module().__version__
    tfs_version = _installed_version("tensorflow-serving-api") or tf_version
    return f"TensorFlow ModelServer: {tfs_version}-tfs-toolkit\nTensorFlow Library: {tf_version}"


@dataclass
class _Parts:
    manager: ModelManager
    core: ServingCoreImpl
    grpc_server: grpc.Server | None = None
    rest: RestServerHandle | None = None
    config_poller: threading.Thread | None = None


def validate_options(o: flagmod.ServerOptions) -> None:
    """server.cc's checks of the options before anything is built (StartupError); they need no TensorFlow, so a
    misconfigured server fails at once."""
    if not o.model_config_file and not o.model_base_path:
        raise StartupError("Both server_options.model_base_path and server_options.model_config_file are empty!")
    if o.batching_parameters_file and not o.enable_batching and not o.platform_config_file:
        raise StartupError(
            "server_options.batching_parameters_file is set without setting server_options.enable_batching to "
            "true."
        )
    if o.port == 0 and not o.grpc_socket_path:
        raise StartupError(
            "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set."
        )
    if o.use_alts_credentials and o.ssl_config_file:
        raise StartupError("Both use_alts_credentials and ssl_config_file are set; only one may be used.")
    try:
        limits.RequestLimits.from_options(o)
    except ValueError as exc:
        raise StartupError(str(exc)) from exc
    if (
        not o.platform_config_file  # server.cc checks the flags only when it builds the config from them
        and o.tensorflow_session_parallelism > 0
        and o.tensorflow_intra_op_parallelism > 0
        and o.tensorflow_inter_op_parallelism > 0
    ):
        raise StartupError(
            "Either set tensorflow_session_parallelism or (tensorflow_intra_op_parallelism, "
            "tensorflow_inter_op_parallelism), not both."
        )


class ModelServer:
    """The embedded server: build with options, ``start()`` (blocks until ready), ``wait()``, ``stop()``."""

    def __init__(self, options: flagmod.ServerOptions) -> None:
        self.options = options
        self._stop = threading.Event()
        self.parts: _Parts | None = None
        self.monitoring_path: str | None = None
        self._prepared: tuple[cfg.ModelServerConfig, Any] | None = None  # (initial config, SSL config) once read

    # ------------------------------------------------------------------------------------------ start-up

    def _initial_config(self) -> cfg.ModelServerConfig:
        o = self.options
        if not o.model_config_file:
            return cfg.single_model_config(o.model_name, o.model_base_path)
        config = cfg.read_model_server_config(o.model_config_file)
        kind = config.WhichOneof("config")
        if kind is None:  # an empty file: start with no models, as ServerCore does
            config.model_config_list.SetInParent()
        elif kind != "model_config_list":
            raise StartupError(
                f"{o.model_config_file} uses {kind}, which tfs serve does not support: only model_config_list"
            )
        return config

    def _build(self) -> _Parts:
        from toolkit.server import batching, inference, platform_config, warmup
        from toolkit.server.core import ServingCoreImpl
        from toolkit.server.limits import RequestLimits
        from toolkit.server.manager import ManagerOptions, ModelManager
        from toolkit.server.metrics import ServerMetrics
        from toolkit.server.servable import Servable, SessionOptions
        from toolkit.server.tflite_servable import TfLiteOptions, create_servable

        o = self.options
        metrics = ServerMetrics()
        inference_options = inference.InferenceOptions(
            tensor_content=o.enable_serialization_as_tensor_content,
            method_name_check=o.enable_signature_method_name_check,
        )
        if o.platform_config_file:  # replaces the TensorFlow platform config the flags would build
            bundle = platform_config.read_platform_config(o.platform_config_file)
            for name in platform_config.flags_replaced_by_file(o.given):
                log.warning("--%s is ignored: --platform_config_file replaces it (as in TF Serving)", name)
            has_batching = bundle.HasField("batching_parameters")
            params = bundle.batching_parameters if has_batching else None
            enable_batching, per_model_batching = has_batching, bundle.enable_per_model_batching_params
            settings = platform_config.load_settings(bundle)
        else:
            enable_batching, per_model_batching = o.enable_batching, o.enable_per_model_batching_parameters
            params = (
                cfg.read_batching_parameters(o.batching_parameters_file)
                if o.enable_batching and o.batching_parameters_file
                else None
            )
            session_options = SessionOptions(
                tags=tuple(o.saved_model_tag_set) or ("serve",),
                intra_op=o.tensorflow_intra_op_parallelism or o.tensorflow_session_parallelism,
                inter_op=o.tensorflow_inter_op_parallelism or o.tensorflow_session_parallelism,
                session_config_file=o.tensorflow_session_config_file,
            )
            settings = platform_config.LoadSettings(
                session=session_options,
                tflite=TfLiteOptions(
                    prefer_tflite_model=o.prefer_tflite_model,
                    num_tflite_pools=o.num_tflite_pools,
                    num_tflite_interpreters_per_pool=o.num_tflite_interpreters_per_pool,
                ),
                warmup=o.enable_model_warmup,
                warmup_iterations=o.num_request_iterations_for_warmup,
            )
        settings.session.config_proto()  # parse errors are start-up errors
        runner: inference.Runner = inference.direct_runner
        batching_runner: batching.BatchingRunner | None = None
        if enable_batching:
            default = batching.BatchingConfig.from_proto(params) if params else batching.BatchingConfig()
            batching_runner = batching.BatchingRunner(default, metrics, per_model_batching)
            runner = batching_runner
            log.info("Batching enabled: %s", default)
        if o.rest_api_timeout_in_ms > 0:  # the deadline every REST call gets, so its callable can be cached
            settings = dataclasses.replace(
                settings,
                session=dataclasses.replace(settings.session, fixed_timeouts_ms=(o.rest_api_timeout_in_ms,)),
            )

        def load(name: str, version: int, path: str) -> Servable:
            try:
                servable = create_servable(name, version, path, settings.session, settings.tflite)
            except BaseException:
                metrics.saved_model_load_attempt_count.inc(path, "fail")
                raise
            metrics.saved_model_load_attempt_count.inc(path, "success")
            try:
                if batching_runner is not None:
                    batching_runner.prepare(servable)
                if settings.warmup:
                    warmup.run_warmup(
                        servable,
                        inference_options,
                        settings.warmup_iterations,
                        runner=runner,
                        on_record=lambda: metrics.warmup_request_count.inc(name, version),
                        metrics=metrics,
                    )
            except BaseException:
                servable.close()
                raise
            return servable

        manager = ModelManager(
            ManagerOptions(
                file_system_poll_wait_seconds=o.file_system_poll_wait_seconds,
                max_num_load_retries=o.max_num_load_retries,
                load_retry_interval_micros=o.load_retry_interval_micros,
                allow_version_labels_for_unavailable_models=o.allow_version_labels_for_unavailable_models,
            ),
            load,
            metrics,
        )
        core = ServingCoreImpl(manager, metrics, inference_options, runner=runner, limits=RequestLimits.from_options(o))
        return _Parts(manager=manager, core=core)

    def prepare(self) -> None:
        """Check the options and read the model, monitoring and SSL config files: StartupError, before TensorFlow is
        imported, so a misconfigured server fails at once. ``start()`` calls it if it was not called."""
        if self._prepared is not None:
            return
        o = self.options
        try:
            validate_options(o)
            config = self._initial_config()
            if o.monitoring_config_file:
                self.monitoring_path = cfg.read_monitoring_config(o.monitoring_config_file)
            ssl = cfg.read_ssl_config(o.ssl_config_file) if o.ssl_config_file else None
        except cfg.ConfigFileError as exc:
            raise StartupError(str(exc)) from exc
        self._prepared = (config, ssl)

    def start(self) -> None:
        """Everything up to "ready": raises StartupError (message for "Failed to start server. Error: ")."""
        o = self.options
        self.prepare()
        assert self._prepared is not None
        config, ssl = self._prepared
        try:
            self.parts = parts = self._build()
        except cfg.ConfigFileError as exc:
            raise StartupError(str(exc)) from exc
        manager = parts.manager
        try:
            manager.apply_config(config)
        except ServingError as exc:
            raise StartupError(exc.to_status_string()) from exc
        names = manager.model_names()
        log.info("Loading %d model(s): %s", len(names), ", ".join(names))
        manager.start_polling()
        try:
            manager.wait_until_available(names)
        except ServingError as exc:
            if self._stop.is_set():
                return  # SIGTERM while loading: a clean stop, not a failure
            raise StartupError(exc.to_status_string()) from exc
        if self._stop.is_set():
            return
        from toolkit.server.errors import PortInUseError
        from toolkit.server.grpc_service import GrpcSettings, start_grpc_server

        try:
            parts.grpc_server = start_grpc_server(
                parts.core,
                GrpcSettings(
                    host=o.host,
                    port=o.port,
                    socket_path=o.grpc_socket_path,
                    channel_arguments=o.grpc_channel_arguments,
                    max_threads=o.grpc_max_threads,
                    ssl=ssl,
                    health=o.enable_grpc_healthcheck_service,
                ),
            )
        except (PortInUseError, ValueError) as exc:
            raise StartupError(f"{exc} (--port={o.port})") from exc
        if o.rest_api_port != 0 and o.rest_api_port != o.port:
            from toolkit.server.rest import start_rest_server

            try:
                parts.rest = start_rest_server(
                    parts.core,
                    o.host,
                    o.rest_api_port,
                    timeout_ms=o.rest_api_timeout_in_ms,
                    enable_cors=o.rest_api_enable_cors_support,
                    monitoring_path=self.monitoring_path,
                    num_threads=o.rest_api_num_threads,
                )
            except OSError as exc:
                raise StartupError(f"{exc} (--rest_api_port={o.rest_api_port})") from exc
            log.info("Exporting HTTP/REST API at:localhost:%d ...", o.rest_api_port)
        elif o.rest_api_port != 0:
            log.error("--rest_api_port cannot be the same as --port. Please use a different port for HTTP/REST API. "
                      "Skipped exporting HTTP/REST API.")
        if self.monitoring_path and not parts.rest:
            log.warning("--monitoring_config_file is set but there is no REST port: metrics are not exported")
        if o.model_config_file and o.model_config_file_poll_wait_seconds > 0:
            parts.config_poller = threading.Thread(target=self._poll_config, name="config-poller", daemon=True)
            parts.config_poller.start()
        # The front ends' modules and objects came after the models' last settle(): freeze them too, so that full
        # collections while serving scan only what requests create (about 5,000 objects, 4 ms per collection).
        gc_freeze.settle()
        log.info("Server ready: %d model(s) AVAILABLE", len(names))

    def _poll_config(self) -> None:
        """PollFilesystemAndReloadConfig: re-read --model_config_file every N seconds and reload it."""
        o = self.options
        assert self.parts is not None
        while not self._stop.wait(o.model_config_file_poll_wait_seconds):
            try:
                config = cfg.read_model_server_config(o.model_config_file)
            except cfg.ConfigFileError as exc:
                log.error("Failed to read ModelServerConfig file: %s", exc)
                continue
            try:
                self.parts.manager.reload_config(config)
            except ServingError as exc:
                log.error("PollFilesystemAndReloadConfig failed to ReloadConfig: %s", exc.to_status_string())
            except Exception:
                log.exception("PollFilesystemAndReloadConfig failed")

    # ------------------------------------------------------------------------------------------ running
    def request_stop(self) -> None:
        self._stop.set()
        if self.parts is not None:
            self.parts.manager.request_stop()  # wake start-up waits

    def wait(self) -> None:
        while not self._stop.wait(1.0):
            pass

    def stop(self) -> None:
        """Stop accepting, drain in-flight requests, unload models."""
        parts = self.parts
        if parts is None:
            return
        log.info("Shutting down: draining in-flight requests")
        if parts.rest is not None:
            parts.rest.shutdown()
        if parts.grpc_server is not None:
            parts.grpc_server.stop(grace=30).wait()
        parts.manager.shutdown()
        log.info("Server stopped")


def run(argv: list[str]) -> int:
    """The whole ``tfs serve`` / ``python -m toolkit.server`` program; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ INFO chatter off unless the user wants it
    try:
        options = flagmod.parse_args(argv)
    except flagmod.FlagError as exc:
        sys.stderr.write(f"tfs serve: {exc}\n")
        return exc.exit_code
    if options.help:
        sys.stdout.write(flagmod.usage() + "\n")
        return EXIT_OK
    if options.version:
        sys.stdout.write(version_text() + "\n")
        return EXIT_OK
    configure_logging()
    try:
        flagmod.check_support(options)
    except flagmod.FlagError as exc:
        sys.stderr.write(f"tfs serve: {exc}\n")
        return exc.exit_code
    server = ModelServer(options)
    try:
        server.prepare()  # before TensorFlow is imported (configure_xla)
    except StartupError as exc:
        sys.stderr.write(f"Failed to start server. Error: {exc}\n")
        return EXIT_START_FAILED
    from toolkit._quiet_tf import quiet_when_imported
    from toolkit.server.xla import configure_xla

    quiet_when_imported()  # as `tfs serve` does: TensorFlow's native start-up lines and matplotlib left out
    configure_xla(options.xla_cpu_compilation_enabled, options.xla_gpu_compilation_enabled)  # as TF Serving's main()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("Received %s", signal.Signals(signum).name)
        server.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server.start()
        except StartupError as exc:
            sys.stderr.write(f"Failed to start server. Error: {exc}\n")
            server.request_stop()
            server.stop()
            return EXIT_START_FAILED
        server.wait()
        server.stop()
        return EXIT_OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
