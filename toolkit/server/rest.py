"""HTTP/1.1 transport of the REST API of ``tfs serve``: sockets, bodies, keep-alive, shutdown.

Built on the standard library's ``http.server.ThreadingHTTPServer`` because TF Serving's routing runs its regexes
on the RAW request-target (path + query, still percent-encoded) and ``BaseHTTPRequestHandler.path`` is exactly
that, untouched; ASGI/WSGI servers decode and split it first. One thread serves each connection (keep-alive
connections keep theirs); the model work itself runs in TensorFlow, which releases the GIL. TCP_NODELAY is set on
every accepted socket. Routing and JSON live in ``rest_api``; this module only moves bytes.
"""

from __future__ import annotations

import errno
import logging
import socket
import socketserver
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from toolkit.server.core_api import ServingCore
from toolkit.server.rest_api import Reply, RestApi
from toolkit.server.rest_json import error_body

logger = logging.getLogger(__name__)

# Largest request body accepted (bytes on the wire). TF Serving has no explicit limit; we refuse with 413 rather
# than exhaust memory.
MAX_REQUEST_BODY_BYTES = 1 << 30
# Largest gunzipped body (TF Serving's ZLib::kMaxUncompressedBytes, 100 MiB).
MAX_UNCOMPRESSED_BYTES = 100 << 20
# An idle keep-alive connection (or a stalled read/write) is closed after this many seconds.
CONNECTION_TIMEOUT_S = 300.0
_CHUNK = 1 << 20


class RestPortInUseError(OSError):
    """The REST port is already taken by another process."""


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Server(ThreadingHTTPServer):
    """Thread-per-connection HTTP server that tracks in-flight requests and open connections for draining."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: RestApi, family: int) -> None:
        self.address_family = family
        self.api = api
        self.draining = False
        self.inflight = 0
        self.connections: set[socket.socket] = set()
        self.lock = threading.Condition()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN of the host (a DNS lookup); we only need the bound address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = CONNECTION_TIMEOUT_S
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - e.g. a socket already reset by the peer
            pass
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - %s", self.address_string(), format % args)

    # Every method evhttp lets through reaches the same dispatcher; others get http.server's 501.
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        server = self.server
        with server.lock:
            server.inflight += 1
        try:
            if server.draining:
                self._send(Reply(503, error_body("Server is shutting down"), [("Content-Type", "application/json")],
                                 close=True))
                return
            try:
                body, note = self._read_body()
            except _BodyError as exc:
                self._send(Reply(exc.status, error_body(exc.message), [("Content-Type", "application/json")],
                                 close=True))
                return
            try:
                reply = server.api.handle(self.command, self.path, self.headers, body, note)
            except Exception as exc:  # never let a bug kill the connection thread silently
                logger.exception("REST %s %s: unhandled error", self.command, self.path)
                reply = Reply(500, error_body(f"Internal error: {exc!r}"), [("Content-Type", "application/json")])
            del body
            if server.draining:
                reply.close = True
            self._send(reply)
        except (ConnectionError, TimeoutError, OSError) as exc:
            logger.debug("REST connection %s dropped: %s", self.address_string(), exc)
            self.close_connection = True
        finally:
            with server.lock:
                server.inflight -= 1
                server.lock.notify_all()

    def _read_body(self) -> tuple[bytes, str]:
        """The request body (de-chunked, gunzipped when Content-Encoding says gzip) and a note on gzip failure."""
        transfer = (self.headers.get("Transfer-Encoding") or "").lower()
        length_header = self.headers.get("Content-Length")
        if "chunked" in transfer:
            body = self._read_chunked()
        elif length_header is not None:
            try:
                length = int(length_header.strip())
                if length < 0:
                    raise ValueError
            except ValueError:
                raise _BodyError(400, f"Invalid Content-Length header: {length_header!r}") from None
            if length > MAX_REQUEST_BODY_BYTES:
                raise _BodyError(
                    413, f"Request body of {length} bytes exceeds the limit of {MAX_REQUEST_BODY_BYTES} bytes"
                )
            body = self._read_exact(length)
        else:
            body = b""
        if body and "gzip" in (self.headers.get("Content-Encoding") or "").lower():
            return _gunzip(body)
        return body, ""

    def _read_exact(self, length: int) -> bytes:
        if length <= _CHUNK:
            data = self.rfile.read(length)
        else:
            parts, remaining = [], length
            while remaining:
                part = self.rfile.read(min(remaining, _CHUNK))
                if not part:
                    break
                parts.append(part)
                remaining -= len(part)
            data = b"".join(parts)
        if len(data) != length:
            self.close_connection = True
            raise ConnectionError(f"client sent {len(data)} of {length} body bytes")
        return data

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("connection closed inside a chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_REQUEST_BODY_BYTES:
                raise _BodyError(413, f"Request body exceeds the limit of {MAX_REQUEST_BODY_BYTES} bytes")
            parts.append(self._read_exact(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def _send(self, reply: Reply) -> None:
        self.send_response_only(reply.status, _REASONS.get(reply.status))
        self.send_header("Date", self.date_time_string())
        for key, value in reply.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.close or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)
        self.wfile.flush()


_REASONS = {499: "Client Closed Request"}


def _gunzip(body: bytes) -> tuple[bytes, str]:
    """Decompress a gzip body, capped at ``MAX_UNCOMPRESSED_BYTES``; on failure the body is empty (TF Serving)."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, MAX_UNCOMPRESSED_BYTES + 1)
        if len(data) > MAX_UNCOMPRESSED_BYTES:
            return b"", f" (the gzip request body inflates beyond {MAX_UNCOMPRESSED_BYTES} bytes)"
        if not inflater.eof:
            return b"", " (the gzip request body is truncated)"
        return data, ""
    except zlib.error as exc:
        return b"", f" (the request body is not valid gzip: {exc})"


class RestServerHandle:
    """A running REST server: ``port`` is the bound port; ``shutdown()`` drains in-flight requests and closes."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self._stopped = False
        self.host = server.server_name
        self.port: int = server.server_port

    def shutdown(self, drain_timeout: float = 30.0) -> None:
        """Stop accepting, wait (up to ``drain_timeout`` s) for in-flight requests, then close every connection."""
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        server.draining = True
        server.shutdown()
        server.server_close()
        deadline = time.monotonic() + drain_timeout
        with server.lock:
            while server.inflight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning("REST shutdown: %d request(s) still running after %.1fs", server.inflight,
                                   drain_timeout)
                    break
                server.lock.wait(remaining)
            connections = list(server.connections)
        for conn in connections:  # idle keep-alive connections are blocked reading: wake them up
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        logger.info("REST API on %s:%d stopped", self.host, self.port)

    def __enter__(self) -> RestServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_rest_server(
    core: ServingCore,
    host: str,
    port: int,
    *,
    timeout_ms: int = 30000,
    enable_cors: bool = False,
    monitoring_path: str | None = None,
) -> RestServerHandle:
    """Bind ``host:port`` (0 = any free port) and serve TF Serving's REST API over ``core`` in background threads.

    ``timeout_ms`` is ``--rest_api_timeout_in_ms`` (passed to the core as the request deadline), ``enable_cors`` is
    ``--rest_api_enable_cors_support``, ``monitoring_path`` the Prometheus path (None = no metrics endpoint).
    Raises ``RestPortInUseError`` (an OSError) when the port is taken.
    """
    api = RestApi(core, timeout_ms=timeout_ms, enable_cors=enable_cors, monitoring_path=monitoring_path)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        server = _Server((host, port), api, family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise RestPortInUseError(
                errno.EADDRINUSE, f"REST API port {port} on {host} is already in use (--rest_api_port)"
            ) from exc
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"rest-api-{server.server_port}", daemon=True)
    thread.start()
    logger.info("REST API listening on %s:%d", server.server_name, server.server_port)
    return RestServerHandle(server, thread)
