"""REST routing, status/metadata JSON, headers, CORS, Prometheus, bodies and the transport (rest_api.md 1-4, 7).

Every test talks real HTTP to ``start_rest_server`` on 127.0.0.1 over a ``FakeCore`` that answers with official
TF Serving messages, with request-targets sent byte for byte as written here.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gzip
import http.client
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from tensorflow_serving.apis.get_model_status_pb2 import ModelVersionStatus

from tests.support.fake_core import FLOAT, FakeCore, FakeServable, raw_request, signature
from toolkit.server import rest
from toolkit.server.errors import Code, PortInUseError, ServingError
from toolkit.server.rest import start_rest_server

ODD_NAME = "modelname!#$%&'()*+,/:;=?@[]"
ODD_NAME_URL = "modelname%21%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D"
METRICS_PATH = "/monitoring/prometheus/metrics"


def _half() -> FakeServable:
    return FakeServable(
        {
            "serving_default": signature({"x": FLOAT}, {"y": FLOAT}),
            "other": signature({"x": FLOAT}, {"y": FLOAT}),
        },
        predict_fn=lambda a: {"y": a["x"] * 0.5 + 2},
    )


def _failing() -> FakeServable:
    def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        code = int(arrays["x"].ravel()[0])
        if code < 0:
            raise RuntimeError("boom from the servable")
        raise ServingError(code, f"failure with code {Code(code).name}")

    return FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})}, predict_fn=predict)


def _core() -> FakeCore:
    return FakeCore(
        models={
            "half": {1: _half(), 2: _half(), 3: _half()},
            "broken": {
                1: FakeServable({}, state=ModelVersionStatus.END, error=(Code.NOT_FOUND, "no SavedModel in /x/1")),
                2: _half(),
            },
            ODD_NAME: {1: _half()},
            "a+b": {1: _half()},
            "fail": {1: _failing()},
        },
        labels={"half": {"stable": 2, "canary": 3}},
        metrics=":tensorflow:serving:request_count{model_name=\"half\",status=\"OK\"} 3\n",
    )


@pytest.fixture(scope="module")
def core() -> FakeCore:
    return _core()


@pytest.fixture(scope="module")
def port(core: FakeCore) -> Iterator[int]:
    handle = start_rest_server(core, "127.0.0.1", 0, timeout_ms=1500)
    yield handle.port
    handle.shutdown()


@pytest.fixture(scope="module")
def cors_port(core: FakeCore) -> Iterator[int]:
    handle = start_rest_server(core, "127.0.0.1", 0, enable_cors=True, monitoring_path=METRICS_PATH)
    yield handle.port
    handle.shutdown()


def _error(port: int, method: str, target: str, body: str | bytes | None = None) -> tuple[int, str]:
    response = raw_request(port, method, target, body)
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["error"]
    return response.status, payload["error"]


# ------------------------------------------------------------------------------------------------ status API


def test_status_lists_every_version_descending_with_snake_case_fields(port: int) -> None:
    response = raw_request(port, "GET", "/v1/models/half")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in (3, 2, 1)
        ]
    }


def test_status_reports_failed_version_with_its_error(port: int) -> None:
    statuses = raw_request(port, "GET", "/v1/models/broken").json()["model_version_status"]
    assert statuses == [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "1", "state": "END", "status": {"error_code": "NOT_FOUND", "error_message": "no SavedModel in /x/1"}},
    ]


def test_status_of_one_version_with_leading_zeros(port: int, core: FakeCore) -> None:
    response = raw_request(port, "GET", "/v1/models/half/versions/002")
    assert response.status == 200
    assert [s["version"] for s in response.json()["model_version_status"]] == ["2"]
    assert core.calls[-1][1].model_spec.version.value == 2


def test_status_ignores_labels_even_unknown_ones(port: int, core: FakeCore) -> None:
    response = raw_request(port, "GET", "/v1/models/half/labels/does_not_exist")
    assert response.status == 200
    assert [s["version"] for s in response.json()["model_version_status"]] == ["3", "2", "1"]
    spec = core.calls[-1][1].model_spec
    assert spec.WhichOneof("version_choice") is None


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/v1/models/nope", 404, "Could not find any versions of model nope"),
        ("/v1/models/half/versions/50", 404, "Could not find version 50 of model half"),
        ("/v1/models", 400, "Missing model name in request."),
        ("/v1/models/half?x=1", 404, "Could not find any versions of model half?x=1"),
        ("/v1/models/%zz%4", 404, "Could not find any versions of model %zz%4"),
        (
            "/v1/models/half/versions/18446744073709551615",
            400,
            "Failed to convert version: 18446744073709551615 to numeric.",
        ),
    ],
)
def test_status_errors(port: int, target: str, status: int, message: str) -> None:
    assert _error(port, "GET", target) == (status, message)


def test_regex_is_case_insensitive_but_metadata_word_is_not(port: int) -> None:
    assert raw_request(port, "GET", "/V1/MODELS/half").status == 200
    # "METADATA" matches the regex but only "metadata" selects the metadata handler: this is a status request.
    response = raw_request(port, "GET", "/v1/models/half/METADATA")
    assert response.status == 200 and "model_version_status" in response.json()


def test_names_are_percent_decoded_after_matching_and_plus_stays_plus(port: int) -> None:
    response = raw_request(port, "GET", f"/v1/models/{ODD_NAME_URL}")
    assert response.status == 200, response.text
    assert raw_request(port, "GET", "/v1/models/a+b").status == 200
    assert _error(port, "GET", "/v1/models/a%20b") == (404, "Could not find any versions of model a b")


def test_invalid_utf8_in_a_name_is_a_404_not_a_crash(port: int) -> None:
    status, message = _error(port, "GET", "/v1/models/%ff%fe")
    assert status == 404 and message.startswith("Could not find any versions of model ")


# ------------------------------------------------------------------------------------------------ metadata API


def test_metadata_is_the_hand_built_object_with_nested_signature_def(port: int) -> None:
    response = raw_request(port, "GET", "/v1/models/half/metadata")
    assert response.status == 200
    doc = response.json()
    assert doc["model_spec"] == {"name": "half", "signature_name": "", "version": "3"}
    sigs = doc["metadata"]["signature_def"]["signature_def"]
    assert set(sigs) == {"serving_default", "other"}
    assert sigs["serving_default"] == {
        "inputs": {
            "x": {
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
                "name": "x:0",
            }
        },
        "outputs": {
            "y": {
                "dtype": "DT_FLOAT",
                "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
                "name": "y:0",
            }
        },
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }


def test_metadata_by_version_and_by_label_never_echoes_the_label(port: int, core: FakeCore) -> None:
    assert raw_request(port, "GET", "/v1/models/half/versions/1/metadata").json()["model_spec"]["version"] == "1"
    spec = raw_request(port, "GET", "/v1/models/half/labels/st%61ble/metadata").json()["model_spec"]
    assert spec == {"name": "half", "signature_name": "", "version": "2"}
    request = core.calls[-1][1]
    assert request.model_spec.version_label == "stable"
    assert list(request.metadata_field) == ["signature_def"]


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/v1/models/nope/metadata", 404, "Servable not found for request: Latest(nope)"),
        ("/v1/models/half/versions/9/metadata", 404, "Servable not found for request: Specific(half, 9)"),
        ("/v1/models/half/labels/nope/metadata", 400, "Unrecognized servable version label: nope"),
    ],
)
def test_metadata_errors(port: int, target: str, status: int, message: str) -> None:
    assert _error(port, "GET", target) == (status, message)


# ------------------------------------------------------------------------------------------------ malformed URLs


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1/models"),
        ("POST", "/v1/models/foo/metadata"),
        ("GET", "/v1/models/foo:predict"),
        ("GET", "/v1/foo"),
        ("POST", "/v1/foo"),
        ("GET", "/v1/models/foo/"),
        ("POST", "/v1/models/foo/versions/HELLO:regress"),
        ("POST", "/v1/models/foo/versions/-1:predict"),
        ("POST", "/v1/models/foo/versions/1/labels/x:predict"),
        ("POST", "/v1/models/foo/version/50:predict"),
        ("GET", "/v1/models/foo/label/x"),
        ("POST", "/v1/models/m:PREDICT"),
        ("POST", "/v1/models/half:predict?x=1"),
        ("PUT", "/v1/models/half"),
        ("DELETE", "/v1/models/half"),
        ("PATCH", "/v1/models/half:predict"),
    ],
)
def test_malformed_requests(port: int, method: str, target: str) -> None:
    assert _error(port, method, target, "{}") == (400, f"Malformed request: {method} {target}")


def test_post_version_overflow(port: int) -> None:
    status, message = _error(port, "POST", "/v1/models/foo/versions/18446744073709551615:predict", "{}")
    assert (status, message) == (400, "Failed to convert version: 18446744073709551615 to numeric.")


def test_head_is_malformed_and_has_no_body(port: int) -> None:
    response = raw_request(port, "HEAD", "/v1/models/half")
    assert response.status == 400
    assert response.body == b""
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("target", ["/", "/v1", "/v2/models/half", "/healthz", "/V2/x", METRICS_PATH])
def test_paths_outside_v1_get_libevent_404_html(port: int, target: str) -> None:
    response = raw_request(port, "GET", target)
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert b"<TITLE>404 Not Found</TITLE>" in response.body


def test_error_body_bytes_are_pretty_printed(port: int) -> None:
    response = raw_request(port, "POST", "/v1/models/nope:predict", '{"instances": [1]}')
    assert response.status == 404
    assert response.body == b'{\n    "error": "Servable not found for request: Latest(nope)"\n}'


# ------------------------------------------------------------------------------------------------ CORS


def test_options_preflight_without_cors_flag(port: int) -> None:
    ok = raw_request(port, "OPTIONS", "/v1/models/half:predict", headers={"Origin": "https://app.example"})
    assert ok.status == 200 and ok.body == b""
    assert "content-type" not in ok.headers and "access-control-allow-origin" not in ok.headers
    missing = raw_request(port, "OPTIONS", "/v1/models/half:predict")
    assert missing.status == 400 and missing.body == b"" and "content-type" not in missing.headers
    not_http = raw_request(port, "OPTIONS", "/v1/models/half", headers={"Origin": "null"})
    assert not_http.status == 400


def test_cors_headers_on_every_v1_reply_with_the_flag(cors_port: int) -> None:
    for method, target, expected in [
        ("GET", "/v1/models/half", 200),
        ("GET", "/v1/models/nope", 404),
        ("OPTIONS", "/v1/models/half", 200),
    ]:
        headers = {"Origin": "http://localhost:3000"} if method == "OPTIONS" else None
        response = raw_request(cors_port, method, target, headers=headers)
        assert response.status == expected
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-allow-methods"] == "POST, GET"
        assert response.headers["access-control-allow-headers"] == "Content-Type"


def test_no_cors_headers_without_the_flag(port: int) -> None:
    assert "access-control-allow-origin" not in raw_request(port, "GET", "/v1/models/half").headers


# ------------------------------------------------------------------------------------------------ Prometheus


def test_prometheus_path_serves_core_metrics_as_text_for_any_method(cors_port: int, core: FakeCore) -> None:
    for method in ("GET", "POST"):
        response = raw_request(cors_port, method, METRICS_PATH, b"" if method == "POST" else None)
        assert response.status == 200
        assert response.headers["content-type"] == "text/plain"
        assert response.text == core.metrics


def test_prometheus_path_with_query_is_unexpected_path(cors_port: int) -> None:
    response = raw_request(cors_port, "GET", METRICS_PATH + "?name=x")
    assert response.status == 400
    assert response.headers["content-type"] == "text/plain"
    assert response.text == f"Unexpected path: {METRICS_PATH}?name=x. Should be {METRICS_PATH}"


# ------------------------------------------------------------------------------------------------ bodies


def test_gzip_request_body_is_inflated(port: int) -> None:
    body = gzip.compress(b'{"instances": [1.0, 2.0]}')
    response = raw_request(
        port, "POST", "/v1/models/half:predict", body, headers={"Content-Encoding": "gzip", "Content-Type": "x/y"}
    )
    assert response.status == 200, response.text
    assert response.json() == {"predictions": [2.5, 3.0]}


def test_corrupt_gzip_body_is_an_empty_document(port: int) -> None:
    status, message = _error_with_headers(port, b"\x1f\x8b not gzip", {"Content-Encoding": "gzip"})
    assert status == 400
    assert message.startswith("JSON Parse error: The document is empty")
    assert "gzip" in message


def test_gzip_bomb_is_refused_with_a_clear_message(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest, "MAX_UNCOMPRESSED_BYTES", 1000)
    body = gzip.compress(b'{"instances": [' + b"1.0," * 2000 + b"1.0]}")
    status, message = _error_with_headers(port, body, {"Content-Encoding": "gzip"})
    assert status == 400 and "inflates beyond 1000 bytes" in message


def _error_with_headers(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    response = raw_request(port, "POST", "/v1/models/half:predict", body, headers=headers)
    return response.status, response.json()["error"]


def _raw_exchange(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def test_body_larger_than_the_limit_is_413_without_reading_it(port: int) -> None:
    size = rest.MAX_REQUEST_BODY_BYTES + 1
    reply = _raw_exchange(
        port,
        f"POST /v1/models/half:predict HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode(),
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in head
    assert f"exceeds the limit of {rest.MAX_REQUEST_BODY_BYTES} bytes".encode() in body


def test_invalid_content_length_is_400(port: int) -> None:
    reply = _raw_exchange(port, b"POST /v1/models/half:predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"Invalid Content-Length header" in reply


def test_chunked_request_body(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/models/half:predict", body=iter([b'{"instances"', b": [4.0]}"]),
                     encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == b'{\n    "predictions": [4.0\n    ]\n}'
    finally:
        conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/v1/models/half")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        assert first.status == 200 and first.getheader("Connection") is None
        for value in (1.0, 2.0, 3.0):
            conn.request("POST", "/v1/models/half:predict", body=f'{{"instances": [{value}]}}')
            response = conn.getresponse()
            assert response.status == 200
            assert b"[%s" % str(value * 0.5 + 2).encode() in response.read()
        assert conn.sock is sock  # never reconnected
    finally:
        conn.close()


def test_server_sets_tcp_nodelay_on_accepted_sockets(core: FakeCore) -> None:
    handle = start_rest_server(core, "127.0.0.1", 0)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=30)
        conn.request("GET", "/v1/models/half")
        conn.getresponse().read()
        server_sockets = handle.connection_sockets()
        assert server_sockets
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in server_sockets)
        conn.close()
    finally:
        handle.shutdown()


# ------------------------------------------------------------------------------------------------ core errors


def test_timeout_is_passed_to_the_core_in_seconds(port: int, core: FakeCore) -> None:
    assert raw_request(port, "POST", "/v1/models/half:predict", '{"instances": [1.0]}').status == 200
    kind, _request, timeout = core.calls[-1]
    assert kind == "predict" and timeout == 1.5


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        (Code.DEADLINE_EXCEEDED, 504),
        (Code.UNAVAILABLE, 503),
        (Code.RESOURCE_EXHAUSTED, 429),
        (Code.UNIMPLEMENTED, 501),
        (Code.CANCELLED, 499),
        (Code.INTERNAL, 500),
        (Code.FAILED_PRECONDITION, 400),
        (Code.ALREADY_EXISTS, 409),
        (Code.PERMISSION_DENIED, 403),
        (Code.UNAUTHENTICATED, 401),
        (Code.OUT_OF_RANGE, 400),
    ],
)
def test_core_error_codes_map_to_http(port: int, code: Code, http_status: int) -> None:
    status, message = _error(port, "POST", "/v1/models/fail:predict", f'{{"instances": [{int(code)}]}}')
    assert (status, message) == (http_status, f"failure with code {code.name}")


def test_unexpected_servable_exception_is_500_and_server_keeps_serving(port: int) -> None:
    status, message = _error(port, "POST", "/v1/models/fail:predict", '{"instances": [-1]}')
    assert status == 500 and "boom from the servable" in message
    assert raw_request(port, "GET", "/v1/models/half").status == 200


# ------------------------------------------------------------------------------------------------ lifecycle


def test_port_in_use_raises_a_clear_oserror(port: int, core: FakeCore) -> None:
    with pytest.raises(PortInUseError) as info:
        start_rest_server(core, "127.0.0.1", port)
    assert isinstance(info.value, OSError)
    assert str(port) in str(info.value) and "already in use" in str(info.value)


def test_shutdown_drains_in_flight_requests_then_refuses_connections() -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        entered.set()
        assert release.wait(60)
        return {"y": arrays["x"] + 1}

    core = FakeCore(models={"slow": {1: FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})},
                                                     predict_fn=slow)}})
    handle = start_rest_server(core, "127.0.0.1", 0)
    results: dict[str, object] = {}

    def client() -> None:
        results["response"] = raw_request(handle.port, "POST", "/v1/models/slow:predict", '{"instances": [1.0]}')

    def stopper() -> None:
        handle.shutdown()
        results["stopped"] = True

    client_thread = threading.Thread(target=client)
    client_thread.start()
    assert entered.wait(30)
    stop_thread = threading.Thread(target=stopper)
    stop_thread.start()
    # The listening socket closes while the request is still running: new connections are refused.
    deadline = time.monotonic() + 30
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", handle.port), timeout=1).close()
            time.sleep(0.01)  # poll interval, bounded by the deadline above
        except OSError:
            refused = True
    assert refused
    assert "stopped" not in results  # still draining: the slow request holds it
    release.set()
    client_thread.join(30)
    stop_thread.join(30)
    response = results["response"]
    assert response.status == 200  # type: ignore[attr-defined]
    assert response.json() == {"predictions": [2.0]}  # type: ignore[attr-defined]
    assert results.get("stopped") is True
