"""gRPC front end: tensorflow.serving.PredictionService and ModelService over the shared core, with the official
``*_pb2_grpc`` registration, TF Serving's transport settings (INT32_MAX message sizes, channel arguments, TLS,
UNIX socket) and error mapping (absl code copied 1:1, messages cut at 1024 chars + "...TRUNCATED").
SessionService is not registered (UNIMPLEMENTED), as in tensorflow_model_server.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from toolkit.server.core import ServingCoreImpl
from toolkit.server.errors import PortInUseError, ServingError

log = logging.getLogger(__name__)

T = TypeVar("T")

INT32_MAX = 2**31 - 1
MAX_MESSAGE_CHARS = 1024
_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def grpc_message(message: str) -> str:
    """grpc_status_util.cc: messages longer than 1024 chars are cut and marked."""
    if len(message) > MAX_MESSAGE_CHARS:
        return message[:MAX_MESSAGE_CHARS] + "...TRUNCATED"
    return message


def deadline_seconds(context: grpc.ServicerContext) -> float | None:
    """The client's remaining deadline in seconds (None = no deadline), as DeadlineToTimeoutMillis."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 10 * 365 * 86400:
        return None
    return max(remaining, 0.001)


def _call(context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ServingError as exc:
        context.abort(_STATUS_BY_NUMBER.get(int(exc.code), grpc.StatusCode.UNKNOWN), grpc_message(exc.message))
    except Exception as exc:
        log.exception("Unexpected error in a gRPC handler")
        context.abort(grpc.StatusCode.INTERNAL, grpc_message(f"{type(exc).__name__}: {exc}"))
    raise AssertionError("unreachable")  # context.abort raises


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServingCoreImpl) -> None:
        self.core = core

    def Predict(self, request, context):
        return _call(context, lambda: self.core.predict(request, entrypoint="GRPC", timeout=deadline_seconds(context)))

    def Classify(self, request, context):
        return _call(
            context, lambda: self.core.classify(request, entrypoint="GRPC", timeout=deadline_seconds(context))
        )

    def Regress(self, request, context):
        return _call(context, lambda: self.core.regress(request, entrypoint="GRPC", timeout=deadline_seconds(context)))

    def MultiInference(self, request, context):
        return _call(
            context,
            lambda: self.core.multi_inference(request, entrypoint="GRPC", timeout=deadline_seconds(context)),
        )

    def GetModelMetadata(self, request, context):
        return _call(context, lambda: self.core.get_model_metadata(request, entrypoint="GRPC"))


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServingCoreImpl) -> None:
        self.core = core

    def GetModelStatus(self, request, context):
        return _call(context, lambda: self.core.get_model_status(request, entrypoint="GRPC"))

    def HandleReloadConfigRequest(self, request, context):
        return _call(context, lambda: self.core.reload_config(request, timeout=deadline_seconds(context)))


# --------------------------------------------------------------------------------------------- health
def _decode_service_name(data: bytes) -> str:
    """HealthCheckRequest{string service = 1} decoded by hand (no grpcio-health-checking dependency)."""
    i, name = 0, ""
    while i < len(data):
        tag = data[i]
        i += 1
        length, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if tag == 0x0A:
            name = data[i : i + length].decode("utf-8", "replace")
            i += length
        elif tag & 7 == 2:
            i += length
    return name


class _HealthHandler(grpc.GenericRpcHandler):
    """grpc.health.v1.Health/Check: SERVING for "", "ModelService" and "PredictionService" (set once)."""

    SERVING: ClassVar[dict[str, int]] = {"": 1, "ModelService": 1, "PredictionService": 1}

    def service(self, handler_call_details):
        if handler_call_details.method != "/grpc.health.v1.Health/Check":
            return None

        def check(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                name = _decode_service_name(request)
            except IndexError:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed HealthCheckRequest")
            status = self.SERVING.get(name)
            if status is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
            return bytes([0x08, status])

        return grpc.unary_unary_rpc_method_handler(
            check, request_deserializer=lambda b: b, response_serializer=lambda b: b
        )


# --------------------------------------------------------------------------------------------- server
def parse_channel_arguments(text: str) -> list[tuple[str, object]]:
    """--grpc_channel_arguments: comma-separated key=value; integer values as int, others as strings."""
    result: list[tuple[str, object]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            log.warning("Ignoring gRPC channel argument without '=': %s", item)
            continue
        try:
            result.append((key.strip(), int(value)))
        except ValueError:
            result.append((key.strip(), value.strip()))
    return result


@dataclass
class GrpcSettings:
    host: str
    port: int
    socket_path: str = ""
    channel_arguments: str = ""
    max_threads: int = 0
    ssl: dict[str, object] | None = None
    health: bool = False


def start_grpc_server(core: ServingCoreImpl, settings: GrpcSettings) -> grpc.Server:
    """Build, bind and start the gRPC server. Raises PortInUseError naming the address that failed."""
    if settings.port == 0 and not settings.socket_path:
        raise ValueError(
            "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set."
        )
    options: list[tuple[str, object]] = [
        ("grpc.max_send_message_length", INT32_MAX),
        ("grpc.max_receive_message_length", INT32_MAX),
        ("grpc.so_reuseport", 0),
    ]
    options.extend(parse_channel_arguments(settings.channel_arguments))
    workers = settings.max_threads or max(4 * (os.cpu_count() or 1), 16)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"), options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(core), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)
    if settings.health:
        server.add_generic_rpc_handlers((_HealthHandler(),))
    credentials = None
    if settings.ssl is not None:
        key, cert = str(settings.ssl["server_key"]).encode(), str(settings.ssl["server_cert"]).encode()
        ca = str(settings.ssl["custom_ca"]).encode() or None
        credentials = grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=bool(settings.ssl["client_verify"])
        )
    addresses = []
    if settings.port:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        addresses.append(f"{host}:{settings.port}")
    if settings.socket_path:
        addresses.append(f"unix:{settings.socket_path}")
    for address in addresses:
        try:
            bound = (
                server.add_secure_port(address, credentials)
                if credentials is not None
                else server.add_insecure_port(address)
            )
        except RuntimeError as exc:
            raise PortInUseError(
                f"Failed to bind gRPC to {address}: address already in use or not available ({exc})"
            ) from None
        if not bound:
            raise PortInUseError(f"Failed to bind gRPC to {address}: address already in use or not available")
    server.start()
    for address in addresses:
        log.info("Running gRPC ModelServer at %s ...", address)
    return server
