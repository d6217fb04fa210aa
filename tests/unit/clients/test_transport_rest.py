"""RestClient / AsyncRestClient against a real HTTP server on 127.0.0.1 written here (http.server): URLs, request
bodies, NaN tokens, error bodies, retries only for idempotent GETs, timeouts, headers, TCP_NODELAY, HTTPS + mTLS.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from clients import (
    TLS,
    AsyncRestClient,
    DeadlineExceededError,
    InvalidInputError,
    ModelNotFoundError,
    RestClient,
    Retry,
    UnavailableError,
    ValidationError,
)

FAST_RETRY = Retry(attempts=3, initial_backoff=0.01, max_backoff=0.02)

METADATA = {
    "model_spec": {"name": "half", "signature_name": "", "version": "7"},
    "metadata": {"signature_def": {"signature_def": {"serving_default": {
        "inputs": {"x": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}, "name": "x:0"}},
        "outputs": {"y": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}, "name": "y:0"}},
        "method_name": "tensorflow/serving/predict", "defaults": {},
    }}}},
}


class Backend:
    """Records requests; ``fail[(method, path)] = [status, ...]`` answers the next calls with those statuses."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail: dict[tuple[str, str], list[int]] = {}
        self.release = threading.Event()
        self.ports: set[int] = set()  # the client ports requests came from: one per connection

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.calls[(method, path)] += 1
        self.requests.append((method, path, headers, body))
        pending = self.fail.get((method, path))
        if pending:
            return pending.pop(0), b'{\n    "error": "scripted failure"\n}'
        if path == "/v1/models/slow:predict":
            self.release.wait(10)
        if path.endswith("/metadata"):
            return 200, json.dumps(METADATA).encode()
        if path == "/v1/models/half" or path == "/v1/models/half/versions/7":
            return 200, b'{"model_version_status": [{"version": "7", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}'
        if path.startswith("/v1/models/missing"):
            return 404, b'{ "error": "Servable not found for request: Latest(missing)" }'
        if path == "/v1/models/half/labels/nope:predict":
            return 400, b'{ "error": "Unrecognized servable version label: nope" }'
        if path == "/v1/models/old:predict":
            return 400, b"{ \"error\": \"Failed to process element: 0 of \\'instances\\' list.\" }"
        if path.endswith(":predict"):
            document = json.loads(body)  # the stdlib accepts the NaN token the client must send
            x = np.asarray(document["inputs"]["x"] if isinstance(document["inputs"], dict) else document["inputs"])
            text = json.dumps({"outputs": (x * 2).tolist()}, allow_nan=True)
            return 200, text.replace("-Infinity", "-Infinity").encode()
        if path.endswith(":regress"):
            document = json.loads(body)
            return 200, json.dumps({"results": [e["x"][0] * 0.5 + 2 for e in document["examples"]]}).encode()
        return 404, b"<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD></HTML>"


def _server(backend: Backend, context: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            backend.ports.add(self.client_address[1])
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = backend.handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def backend():
    backend = Backend()
    server = _server(backend)
    backend.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield backend
    backend.release.set()
    server.shutdown()
    server.server_close()


def test_predict_columnar_with_nan_tokens_and_typed_outputs(backend) -> None:
    with RestClient(backend.url) as client:
        result = client.predict({"x": np.float32([1.0, np.nan, np.inf, -np.inf])}, "half")
    assert list(result) == ["y"] and result["y"].dtype == np.float32
    assert result["y"][0] == 2 and np.isnan(result["y"][1]) and result["y"][2] == np.inf and result["y"][3] == -np.inf
    method, path, headers, body = backend.requests[-1]
    assert (method, path) == ("POST", "/v1/models/half:predict")
    assert b"null" not in body and b"NaN" in body
    assert headers["content-type"] == "application/json"
    # The signature was fetched once, for output dtypes and naming.
    assert backend.calls[("GET", "/v1/models/half/metadata")] == 1


def test_urls_for_versions_labels_and_quoted_names(backend) -> None:
    with RestClient(backend.url) as client:
        assert client.status("half", version=7)[0].version == 7
        with pytest.raises(InvalidInputError, match="Unrecognized servable version label: nope") as label:
            client.predict({"x": [1.0]}, "half", label="nope")
        with pytest.raises(ModelNotFoundError):
            client.status("a/b c")
    assert label.value.http_status == 400
    paths = [p for _, p, _, _ in backend.requests]
    assert "/v1/models/half/versions/7" in paths
    assert "/v1/models/half/labels/nope/metadata" in paths
    assert "/v1/models/a%2Fb%20c" in paths


def test_errors_keep_status_and_message(backend) -> None:
    with RestClient(backend.url) as client:
        with pytest.raises(ModelNotFoundError) as exc:
            client.predict({"x": [1.0]}, "missing")
        with pytest.raises(InvalidInputError, match="of 'instances' list") as old:
            client.predict({"x": [1.0]}, "old")
        with pytest.raises(ModelNotFoundError, match="404 Not Found"):
            client.status("unrouted", version=1)
    assert exc.value.message == "Servable not found for request: Latest(missing)"
    assert exc.value.http_status == 404 and exc.value.code == "NOT_FOUND"
    assert old.value.http_status == 400


def test_get_calls_are_retried_on_503(backend) -> None:
    backend.fail[("GET", "/v1/models/half")] = [503, 503]
    with RestClient(backend.url, retry=FAST_RETRY) as client:
        assert client.status("half")[0].available
    assert backend.calls[("GET", "/v1/models/half")] == 3


def test_predict_is_not_retried_unless_enabled(backend) -> None:
    backend.fail[("POST", "/v1/models/half:predict")] = [503]
    with RestClient(backend.url, retry=FAST_RETRY) as client:
        with pytest.raises(UnavailableError) as exc:
            client.predict({"x": [1.0]}, "half")
    assert exc.value.http_status == 503
    assert backend.calls[("POST", "/v1/models/half:predict")] == 1
    backend.fail[("POST", "/v1/models/half:predict")] = [503]
    with RestClient(backend.url, retry=Retry(attempts=2, initial_backoff=0.01, inference=True)) as client:
        assert client.predict({"x": [1.0]}, "half")["y"].tolist() == [2.0]
    assert backend.calls[("POST", "/v1/models/half:predict")] == 3


def test_non_503_errors_are_not_retried(backend) -> None:
    backend.fail[("GET", "/v1/models/half")] = [500]
    with RestClient(backend.url, retry=FAST_RETRY) as client:
        with pytest.raises(Exception, match="scripted failure"):
            client.status("half")
    assert backend.calls[("GET", "/v1/models/half")] == 1


def test_timeouts(backend) -> None:
    with RestClient(backend.url, timeout=0.3) as client:
        client.metadata("slow")  # fills the cache so the predict below goes straight to :predict
        with pytest.raises(DeadlineExceededError) as exc:
            client.predict({"x": [1.0]}, "slow")
        with pytest.raises(DeadlineExceededError):
            client.predict({"x": [1.0]}, "slow", timeout=0.2)
    assert exc.value.code == "DEADLINE_EXCEEDED"


def test_headers_are_sent(backend) -> None:
    with RestClient(backend.url, headers={"Authorization": "Bearer t0k"}) as client:
        client.status("half")
    assert backend.requests[-1][2]["authorization"] == "Bearer t0k"


def test_connection_is_reused_and_has_tcp_nodelay(backend) -> None:
    with RestClient(backend.url) as client:
        client.status("half")
        client.status("half")
        pool = client._http
        assert len(pool.connections) == 1
        sock = pool.connections[0].sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert len(backend.ports) == 1  # both requests came over one connection


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with RestClient(f"127.0.0.1:{port}", retry=Retry(attempts=2, initial_backoff=0.01)) as client:
        assert client.base_url == f"http://127.0.0.1:{port}"
        with pytest.raises(UnavailableError, match="ConnectError"):
            client.status("half")


def test_base_url_rules(certs) -> None:
    with pytest.raises(ValidationError, match="plaintext http:// but tls="):
        RestClient("http://127.0.0.1:1", tls=TLS(ca_cert=certs.ca))
    with pytest.raises(ValidationError, match="http:// or https://"):
        RestClient("ftp://x")
    client = RestClient("127.0.0.1:1", tls=TLS(ca_cert=certs.ca))
    assert client.base_url.startswith("https://")
    client.close()


def test_https_with_custom_ca_and_client_certificate(certs) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    context.load_verify_locations(certs.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    backend = Backend()
    server = _server(backend, context)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        tls = TLS(ca_cert=certs.ca, client_cert=certs.client_cert.read_bytes(), client_key=certs.client_key)
        with RestClient(url, tls=tls) as client:
            assert client.status("half")[0].version == 7

        async def over_asyncio() -> int:
            async with AsyncRestClient(url, tls=tls) as client:
                return (await client.status("half"))[0].version

        import asyncio

        assert asyncio.run(over_asyncio()) == 7
        with RestClient(url, timeout=5) as untrusted:  # system CAs do not know our test CA
            with pytest.raises(UnavailableError, match="CERTIFICATE_VERIFY_FAILED|ConnectError"):
                untrusted.status("half")
    finally:
        server.shutdown()
        server.server_close()


async def test_async_rest_client(backend) -> None:
    backend.fail[("GET", "/v1/models/half")] = [503]
    async with AsyncRestClient(backend.url, retry=FAST_RETRY, headers={"x-k": "v"}) as client:
        result = await client.predict(np.float32([1, 2]), "half")
        np.testing.assert_array_equal(result["y"], [2, 4])
        assert (await client.status("half"))[0].available
        assert backend.calls[("GET", "/v1/models/half")] == 2
        np.testing.assert_array_equal(await client.regress([{"x": 4.0}], "half"), [4.0])
        with pytest.raises(ModelNotFoundError):
            await client.predict({"x": [1.0]}, "missing")
        await client.metadata("slow")
        with pytest.raises(DeadlineExceededError):
            await client.predict({"x": [1.0]}, "slow", timeout=0.2)
    assert backend.requests[-1][2]["x-k"] == "v"


def test_mock_transport_is_accepted() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b'{"outputs": {"a": [1]}}'))
    client = RestClient("http://x", transport=transport)
    # Metadata fails on this transport (same canned body, no 'metadata'), so outputs keep JSON dtypes.
    assert client.predict({"x": [1]}, "m")["a"].tolist() == [1]


def _closing_server(replies: int) -> tuple[socket.socket, list[int]]:
    """A raw server that answers each connection's first request as keep-alive, then closes it (as a server
    dropping idle connections does); returns the listener and the list of connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        for _ in range(replies):
            conn, address = listener.accept()
            accepted.append(address[1])
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                while len(body) < length:
                    body += conn.recv(65536)
                payload = b'{"outputs": [1.0]}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(payload)).encode() + b"\r\n\r\n" + payload)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)  # until the client closes too

    threading.Thread(target=serve, daemon=True).start()
    return listener, accepted


def test_a_keep_alive_connection_the_server_closed_is_not_reused_for_a_predict() -> None:
    import time

    from clients._base import Call
    from clients.options import NO_RETRY

    listener, accepted = _closing_server(2)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    predict = Call("POST", b'{"inputs": [1.0]}', "/v1/models/m:predict", idempotent=False, timeout=10)
    try:
        with RestClient(url, retry=NO_RETRY) as client:
            for _ in range(2):  # not retried: the second must go over a fresh connection, not the closed one
                assert client._send(predict) == b'{"outputs": [1.0]}'
                time.sleep(0.05)  # the server's FIN reaches the idle connection
    finally:
        listener.close()
    assert len(accepted) == 2


async def test_async_pool_keeps_at_most_max_connections_and_skips_closed_ones(backend) -> None:
    import asyncio

    from clients._http1 import AsyncHttp1Pool

    pool = AsyncHttp1Pool(backend.url, verify=True, headers=[], max_connections=2, idle_seconds=30)
    try:
        answers = await asyncio.gather(*(pool.request("GET", "/v1/models/half", None, 10) for _ in range(6)))
        assert [status for status, _ in answers] == [200] * 6
        assert len(backend.ports) <= 2 and len(pool.connections) <= 2
    finally:
        await pool.close()
    listener, accepted = _closing_server(2)
    pool = AsyncHttp1Pool(f"http://127.0.0.1:{listener.getsockname()[1]}", verify=True, headers=[],
                          max_connections=1, idle_seconds=30)
    try:
        for _ in range(2):
            status, body = await pool.request("POST", "/v1/models/m:predict", b"{}", 10)
            assert (status, body) == (200, b'{"outputs": [1.0]}')
            await asyncio.sleep(0.05)  # the server's FIN reaches the idle connection
    finally:
        await pool.close()
        listener.close()
    assert len(accepted) == 2


def test_one_sync_client_shared_by_threads_keeps_its_connection_bound(backend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with RestClient(backend.url, max_connections=3) as client:
        client.metadata("half")
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: client.predict({"x": [float(i)]}, "half")["y"][0], range(64)))
        assert len(client._http.connections) <= 3
    assert results == [2.0 * i for i in range(64)]
    assert len(backend.ports) <= 3  # never more than max_connections open, so never more connections made


def _early_answer_server() -> socket.socket:
    """A raw server that reads only a request's head, answers 413 at once and closes without reading the body
    (as a proxy with a body limit does): the client's write of the rest fails."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                payload = b'{ "error": "request body too large" }'
                conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close"
                             b"\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
                conn.shutdown(socket.SHUT_WR)

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_an_answer_sent_before_the_body_was_read_is_reported_not_the_broken_write() -> None:
    import asyncio

    from clients import TfsError
    from clients._base import Call
    from clients.options import NO_RETRY

    listener = _early_answer_server()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    big = Call("POST", b"[" + b"1.0," * (8 << 20) + b"1.0]", "/v1/models/m:predict", idempotent=False, timeout=20)
    try:
        with RestClient(url, retry=NO_RETRY) as client, pytest.raises(TfsError) as sync_error:
            client._send(big)

        async def over_asyncio() -> None:
            async with AsyncRestClient(url, retry=NO_RETRY) as client:
                await client._send(big)

        with pytest.raises(TfsError) as async_error:
            asyncio.run(over_asyncio())
    finally:
        listener.close()
    for error in (sync_error.value, async_error.value):
        assert error.http_status == 413 and "request body too large" in str(error)


def test_a_small_request_is_one_write_and_a_large_body_is_not_copied_behind_its_head() -> None:
    import h11

    from clients._http1 import _COALESCE_BYTES, Origin, _request_pieces

    origin = Origin.from_url("http://127.0.0.1:8501", True)
    small = _request_pieces(h11.Connection(h11.CLIENT), origin, [("x-k", "v")], "POST", "/v1/models/m:predict", b"{}")
    assert len(small) == 1 and small[0].endswith(b"\r\n\r\n{}") and b"host: 127.0.0.1:8501" in small[0].lower()
    body = b"1" * (_COALESCE_BYTES + 1)
    large = _request_pieces(h11.Connection(h11.CLIENT), origin, [], "POST", "/v1/models/m:predict", body)
    assert len(large) == 2 and large[0].endswith(b"\r\n\r\n") and large[1] == body
    typed = _request_pieces(h11.Connection(h11.CLIENT), Origin.from_url("http://u:p@h:1", True),
                            [("content-type", "application/json; charset=utf-8")], "POST", "/", b"{}")[0].lower()
    assert typed.count(b"content-type:") == 1 and b"host: h:1\r\n" in typed


def test_a_deadline_that_passes_mid_request_is_a_timeout_not_a_connection_error(backend) -> None:
    from clients._http1 import Http1Pool

    pool = Http1Pool(backend.url, verify=True, headers=[], max_connections=1, idle_seconds=30)
    try:
        with pytest.raises(httpx.TimeoutException):  # the slow path answers only when released
            pool.request("POST", "/v1/models/slow:predict", b'{"inputs": [1.0]}', 1e-9)
    finally:
        pool.close()
