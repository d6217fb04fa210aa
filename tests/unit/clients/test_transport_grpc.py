"""GrpcClient / AsyncGrpcClient against a real gRPC server on 127.0.0.1 written here with the official
tensorflow_serving messages: method paths, typed-field answers, retries (idempotent calls only), deadlines,
metadata headers, message size, TLS and mutual TLS.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from concurrent import futures

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    predict_pb2,
    regression_pb2,
)

from clients import (
    TLS,
    AsyncGrpcClient,
    DeadlineExceededError,
    FailedPreconditionError,
    GrpcClient,
    ModelNotFoundError,
    ResponseDecodeError,
    Retry,
    UnavailableError,
)
from clients._wire import SIGNATURE_DEF_MAP_TYPE_URLS

FAST_RETRY = Retry(attempts=3, initial_backoff=0.01, max_backoff=0.02)
MAX = 2**31 - 1


class Backend:
    """Scripted TF-Serving-like handlers. ``fail[method] = [codes...]`` makes the next calls abort with them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail: dict[str, list[grpc.StatusCode]] = {}
        self.metadata_seen: list[dict[str, str]] = []
        self.release = threading.Event()

    def _enter(self, method: str, context: grpc.ServicerContext) -> None:
        self.calls[method] += 1
        self.metadata_seen.append(dict(context.invocation_metadata()))
        pending = self.fail.get(method)
        if pending:
            code = pending.pop(0)
            context.abort(code, f"scripted {code.name}")

    def predict(self, request: predict_pb2.PredictRequest, context) -> predict_pb2.PredictResponse:
        self._enter("Predict", context)
        if request.model_spec.name == "missing":
            context.abort(grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(missing)")
        if request.model_spec.signature_name == "nope":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.')
        if request.model_spec.name == "slow":
            self.release.wait(10)
        x = tf.make_ndarray(request.inputs["x"])
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 7
        # Typed fields, as TF Serving answers by default (Tensor::AsProtoField).
        y = response.outputs["y"]
        y.dtype = types_pb2.DT_FLOAT
        for size in x.shape:
            y.tensor_shape.dim.add().size = size
        y.float_val.extend((x.astype(np.float32) * 2).reshape(-1).tolist())
        response.outputs["n"].CopyFrom(tf.make_tensor_proto(np.int64(x.size)))
        return response

    def regress(self, request, context) -> regression_pb2.RegressionResponse:
        self._enter("Regress", context)
        response = regression_pb2.RegressionResponse()
        for example in request.input.example_list.examples:
            response.result.regressions.add().value = example.features.feature["x"].float_list.value[0] * 0.5 + 2
        return response

    def metadata(self, request, context) -> get_model_metadata_pb2.GetModelMetadataResponse:
        self._enter("GetModelMetadata", context)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 7
        defs = get_model_metadata_pb2.SignatureDefMap()
        sig = defs.signature_def["serving_default"]
        sig.method_name = "tensorflow/serving/predict"
        for group, alias in ((sig.inputs, "x"), (sig.outputs, "y")):
            group[alias].name = f"{alias}:0"
            group[alias].dtype = types_pb2.DT_FLOAT
            group[alias].tensor_shape.dim.add().size = -1
        response.metadata["signature_def"].Pack(defs)
        return response

    def status(self, request, context) -> get_model_status_pb2.GetModelStatusResponse:
        self._enter("GetModelStatus", context)
        response = get_model_status_pb2.GetModelStatusResponse()
        entry = response.model_version_status.add()
        entry.version, entry.state = 7, 30
        return response

    def reload(self, request, context) -> model_management_pb2.ReloadConfigResponse:
        self._enter("HandleReloadConfigRequest", context)
        response = model_management_pb2.ReloadConfigResponse()
        if request.config.model_config_list.config[0].name == "bad":
            response.status.error_code = 3
            response.status.error_message = "Illegal to list model bad multiple times in config list"
        return response

    def garbage(self, request: bytes, context) -> bytes:
        self._enter("Garbage", context)
        return b"\xff\xff\xff"  # not a valid protobuf message

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(fn, req, resp):
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString, response_serializer=resp.SerializeToString
            )

        garbage = grpc.unary_unary_rpc_method_handler(self.garbage)  # raw bytes in and out
        return [
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": unary(self.predict, predict_pb2.PredictRequest, predict_pb2.PredictResponse),
                    "Regress": unary(self.regress, regression_pb2.RegressionRequest, regression_pb2.RegressionResponse),
                    "Classify": garbage,
                    "GetModelMetadata": unary(
                        self.metadata,
                        get_model_metadata_pb2.GetModelMetadataRequest,
                        get_model_metadata_pb2.GetModelMetadataResponse,
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.ModelService",
                {
                    "GetModelStatus": unary(
                        self.status,
                        get_model_status_pb2.GetModelStatusRequest,
                        get_model_status_pb2.GetModelStatusResponse,
                    ),
                    "HandleReloadConfigRequest": unary(
                        self.reload, model_management_pb2.ReloadConfigRequest, model_management_pb2.ReloadConfigResponse
                    ),
                },
            ),
        ]


def _start(backend: Backend, credentials: grpc.ServerCredentials | None = None) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", MAX), ("grpc.max_send_message_length", MAX)],
    )
    server.add_generic_rpc_handlers(backend.handlers())
    port = (
        server.add_secure_port("127.0.0.1:0", credentials)
        if credentials is not None
        else server.add_insecure_port("127.0.0.1:0")
    )
    server.start()
    return server, port


@pytest.fixture
def backend():
    backend = Backend()
    server, port = _start(backend)
    backend.target = f"127.0.0.1:{port}"
    yield backend
    backend.release.set()
    server.stop(grace=None)


def test_predict_decodes_typed_fields_and_uses_tf_serving_paths(backend) -> None:
    with GrpcClient(backend.target) as client:
        result = client.predict({"x": np.float32([[1, 2], [3, 4]])}, "half", version=3)
    assert set(result) == {"y", "n"}
    assert result["y"].dtype == np.float32 and result["y"].shape == (2, 2)
    np.testing.assert_array_equal(result["y"], [[2, 4], [6, 8]])
    assert result["n"].shape == () and result["n"] == 4
    assert backend.calls["Predict"] == 1


def test_bare_array_is_named_from_metadata_once(backend) -> None:
    with GrpcClient(backend.target) as client:
        for _ in range(3):
            np.testing.assert_array_equal(client.predict(np.float32([5]), "half")["y"], [10])
        metadata = client.metadata("half")
    assert backend.calls["GetModelMetadata"] == 2  # once for the cache, once explicitly
    assert metadata.version == 7 and metadata.signature().inputs["x"].shape == (None,)


def test_any_type_url_is_tensorflow_serving_signature_def_map(backend) -> None:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.metadata["signature_def"].Pack(get_model_metadata_pb2.SignatureDefMap())
    assert response.metadata["signature_def"].type_url == SIGNATURE_DEF_MAP_TYPE_URLS[0]


def test_malformed_answer_is_a_decode_error_naming_the_message(backend) -> None:
    with GrpcClient(backend.target) as client:
        with pytest.raises(ResponseDecodeError, match="Classify: server answer is not a valid ClassificationResponse"):
            client.classify([{"x": 1.0}], "half")
    assert backend.calls["Garbage"] == 1


def test_errors_keep_code_and_message(backend) -> None:
    with GrpcClient(backend.target) as client:
        with pytest.raises(ModelNotFoundError) as not_found:
            client.predict({"x": [1.0]}, "missing")
        with pytest.raises(FailedPreconditionError, match='signature key "nope"'):
            client.predict({"x": [1.0]}, "half", signature="nope")
    assert not_found.value.code == "NOT_FOUND" and not_found.value.grpc_code == 5
    assert not_found.value.message == "Servable not found for request: Latest(missing)"


def test_idempotent_calls_are_retried_on_unavailable(backend) -> None:
    backend.fail["GetModelStatus"] = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    with GrpcClient(backend.target, retry=FAST_RETRY) as client:
        statuses = client.status("half")
    assert [s.version for s in statuses] == [7] and statuses[0].available
    assert backend.calls["GetModelStatus"] == 3


def test_retries_give_up_after_the_configured_attempts(backend) -> None:
    backend.fail["GetModelMetadata"] = [grpc.StatusCode.UNAVAILABLE] * 5
    with GrpcClient(backend.target, retry=FAST_RETRY) as client:
        with pytest.raises(UnavailableError, match="scripted UNAVAILABLE"):
            client.metadata("half")
    assert backend.calls["GetModelMetadata"] == 3


def test_predict_is_not_retried_by_default(backend) -> None:
    backend.fail["Predict"] = [grpc.StatusCode.UNAVAILABLE]
    with GrpcClient(backend.target, retry=FAST_RETRY) as client:
        with pytest.raises(UnavailableError):
            client.predict({"x": [1.0]}, "half")
    assert backend.calls["Predict"] == 1


def test_predict_retries_when_enabled(backend) -> None:
    backend.fail["Predict"] = [grpc.StatusCode.UNAVAILABLE]
    retry = Retry(attempts=3, initial_backoff=0.01, inference=True)
    with GrpcClient(backend.target, retry=retry) as client:
        assert client.predict({"x": [1.0]}, "half")["y"].tolist() == [2.0]
    assert backend.calls["Predict"] == 2


def test_only_unavailable_is_retried(backend) -> None:
    backend.fail["GetModelStatus"] = [grpc.StatusCode.INTERNAL]
    with GrpcClient(backend.target, retry=FAST_RETRY) as client:
        with pytest.raises(Exception, match="scripted INTERNAL"):
            client.status("half")
    assert backend.calls["GetModelStatus"] == 1


def test_reload_config_is_never_retried_and_reports_status(backend) -> None:
    config = 'model_config_list { config { name: "m" base_path: "/m" model_platform: "tensorflow" } }'
    backend.fail["HandleReloadConfigRequest"] = [grpc.StatusCode.UNAVAILABLE]
    with GrpcClient(backend.target, retry=Retry(attempts=5, initial_backoff=0.01, inference=True)) as client:
        with pytest.raises(UnavailableError):
            client.reload_config(config)
        assert backend.calls["HandleReloadConfigRequest"] == 1
        assert client.reload_config(config) == {}
        with pytest.raises(Exception, match="multiple times") as bad:
            client.reload_config(config.replace('"m"', '"bad"'))
    assert bad.value.code == "INVALID_ARGUMENT"


def test_per_call_timeout_and_client_default(backend) -> None:
    with GrpcClient(backend.target, timeout=30) as client:
        with pytest.raises(DeadlineExceededError) as exc:
            client.predict({"x": [1.0]}, "slow", timeout=0.2)
    assert exc.value.code == "DEADLINE_EXCEEDED"
    with GrpcClient(backend.target, timeout=0.2) as client:
        with pytest.raises(DeadlineExceededError):
            client.predict({"x": [1.0]}, "slow")


def test_headers_are_sent_as_grpc_metadata(backend) -> None:
    with GrpcClient(backend.target, headers={"Authorization": "Bearer t0k", "x-team": "ml"}) as client:
        client.status("half")
    assert backend.metadata_seen[-1]["authorization"] == "Bearer t0k"
    assert backend.metadata_seen[-1]["x-team"] == "ml"


def test_messages_over_4_mib_go_through(backend) -> None:
    big = np.ones((2, 1024, 1024), dtype=np.float32)  # 8 MiB, over gRPC's 4 MiB default
    with GrpcClient(backend.target) as client:
        result = client.predict({"x": big}, "half")
    assert result["y"].shape == big.shape and float(result["y"][1, 2, 3]) == 2.0


def test_connection_refused_is_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with GrpcClient(f"127.0.0.1:{port}", timeout=5, retry=Retry(attempts=2, initial_backoff=0.01)) as client:
        with pytest.raises(UnavailableError):
            client.status("half")


def test_tls_with_custom_ca(certs) -> None:
    backend = Backend()
    credentials = grpc.ssl_server_credentials([(certs.server_key.read_bytes(), certs.server_cert.read_bytes())])
    server, port = _start(backend, credentials)
    try:
        with GrpcClient(f"127.0.0.1:{port}", tls=TLS(ca_cert=certs.ca, server_name="localhost")) as client:
            assert client.status("half")[0].version == 7
        with GrpcClient(f"127.0.0.1:{port}", timeout=3) as plaintext:
            with pytest.raises(UnavailableError):
                plaintext.status("half")
    finally:
        server.stop(grace=None)


def test_mutual_tls_client_certificate(certs) -> None:
    backend = Backend()
    credentials = grpc.ssl_server_credentials(
        [(certs.server_key.read_bytes(), certs.server_cert.read_bytes())],
        root_certificates=certs.ca.read_bytes(),
        require_client_auth=True,
    )
    server, port = _start(backend, credentials)
    try:
        tls = TLS(ca_cert=certs.ca.read_bytes(), client_cert=certs.client_cert, client_key=certs.client_key)
        with GrpcClient(f"grpcs://127.0.0.1:{port}", tls=tls) as client:
            assert client.status("half")[0].available
        with GrpcClient(f"127.0.0.1:{port}", tls=TLS(ca_cert=certs.ca), timeout=3) as anonymous:
            with pytest.raises(UnavailableError):
                anonymous.status("half")
    finally:
        server.stop(grace=None)


async def test_async_client_same_results_retries_and_deadline(backend) -> None:
    backend.fail["GetModelStatus"] = [grpc.StatusCode.UNAVAILABLE]
    async with AsyncGrpcClient(backend.target, retry=FAST_RETRY) as client:
        result = await client.predict(np.float32([[1, 2]]), "half")
        np.testing.assert_array_equal(result["y"], [[2, 4]])
        assert (await client.status("half"))[0].version == 7
        assert backend.calls["GetModelStatus"] == 2
        np.testing.assert_array_equal(await client.regress([{"x": 4.0}], "half"), [4.0])
        with pytest.raises(DeadlineExceededError):
            await client.predict({"x": [1.0]}, "slow", timeout=0.2)
        backend.fail["Predict"] = [grpc.StatusCode.UNAVAILABLE]
        with pytest.raises(UnavailableError):
            await client.predict({"x": [1.0]}, "half")
        with pytest.raises(ModelNotFoundError):
            await client.predict({"x": [1.0]}, "missing")


def test_unix_socket_target(tmp_path) -> None:
    """TF Serving can also listen on --grpc_socket_path; gRPC's unix: names pass straight through."""
    backend = Backend()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(backend.handlers())
    socket_path = tmp_path / "tfs.sock"
    server.add_insecure_port(f"unix://{socket_path}")
    server.start()
    try:
        with GrpcClient(f"unix://{socket_path}") as client:
            assert client.status("half")[0].version == 7
    finally:
        server.stop(grace=None)
