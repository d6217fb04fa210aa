"""HTTP/1.1 transport of the REST API of ``tfs serve``: sockets, framing, bodies, keep-alive, limits, shutdown.

One asyncio event loop (in one thread) does all socket I/O; the HTTP/1.1 framing is parsed by ``h11``, a strict,
well-kept parser (Content-Length is digits only, chunk sizes are hex only, malformed heads are refused). Model work
(JSON parsing, TensorFlow) runs in a bounded worker pool of ``--rest_api_num_threads`` threads, as TF Serving's
``RequestExecutor``; TensorFlow releases the GIL. Idle connections cost no thread: open connections are capped
(the longest-idle keep-alive connection gives way to a new one) and idle, header, body and write timeouts close
stalled ones. TF Serving's routing runs its regexes on the RAW request-target (still percent-encoded): h11 hands it
over untouched. Routing and JSON live in ``rest_api``; this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import h11

from toolkit.server import _timeouts as timeouts
from toolkit.server import malloc_trim
from toolkit.server.errors import PortInUseError
from toolkit.server.frontend_contract import ServingCore
from toolkit.server.rest_api import Reply, RestApi
from toolkit.server.rest_json import error_body

logger = logging.getLogger(__name__)

# Largest request body accepted (bytes on the wire, chunked or not). TF Serving has no explicit limit; we refuse
# with 413 rather than exhaust memory.
MAX_REQUEST_BODY_BYTES = 1 << 30
# Largest gunzipped body (TF Serving's ZLib::kMaxUncompressedBytes, 100 MiB).
MAX_UNCOMPRESSED_BYTES = 100 << 20
# Largest request line + headers (h11 answers 431 beyond it).
MAX_HEADER_BYTES = 64 << 10
_READ_SIZE = 1 << 16
# One read of a Content-Length body takes at most this much: the most the stream buffers before it pauses the
# socket (2 x its limit). Measured: 1 MiB reads were slower (the buffer empties, reading pauses and resumes more).
_BODY_READ_SIZE = 2 * _READ_SIZE
# After an early answer (a refused request), unread client bytes are discarded for this long / this much.
_LINGER_S = 2.0
_LINGER_BYTES = 4 << 20
# A reply up to this size is joined with its head and written in one piece (one TCP segment, no Nagle wait on
# the client's side); a larger body is written after its head, uncopied.
_COALESCE_BYTES = 256 << 10
# The methods TF Serving's evhttp server lets through (evhttp_set_allowed_methods); others get libevent's 501.
ALLOWED_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"})
_JSON_HEADERS = [("Content-Type", "application/json")]


@dataclass(frozen=True)
class TransportLimits:
    """Connection limits and timeouts (seconds) of the REST transport."""

    # An idle keep-alive connection (no byte of a next request) is closed after this long.
    idle_timeout: float = 300.0
    # A request head (request line + headers) must arrive within this long of its first byte.
    header_timeout: float = 60.0
    # A request body read (or a response write) that makes no progress for this long closes the connection.
    body_timeout: float = 60.0
    # Open connections at most; a new one beyond it closes the longest-idle keep-alive connection first.
    max_connections: int = 4096


def default_num_threads() -> int:
    """TF Serving's default ``--rest_api_num_threads``: 4 x the schedulable CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cpus = os.cpu_count() or 1
    return 4 * max(cpus, 1)


class _Refusal(Exception):
    """A request refused by the transport itself: status, JSON error message, and the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Headers(dict[str, str]):
    """Request headers by lower-case name (the last value of a repeated header wins); ``get`` ignores case."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def libevent_error_page(status: int, reason: str) -> Reply:
    """libevent's ``evhttp_send_error`` answer: its ERR_FORMAT HTML page, text/html, connection closed."""
    page = f"<HTML><HEAD>\n<TITLE>{status} {reason}</TITLE>\n</HEAD><BODY>\n<H1>{reason}</H1>\n</BODY></HTML>\n"
    return Reply(status, page.encode("latin-1"), [("Content-Type", "text/html")], close=True)


_REASONS = {499: "Client Closed Request"}


def _reason(status: int) -> bytes:
    phrase = _REASONS.get(status)
    if phrase is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    return phrase.encode("ascii")
_date_cache: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]


def _gunzip(body: bytes | bytearray) -> tuple[bytes, str, int]:
    """Inflate a gzip body, streaming, stopping at ``MAX_UNCOMPRESSED_BYTES``; on failure the body is empty and
    a note says why (TF Serving passes an empty body on, whose parse error is "The document is empty"). The third
    item is how many bytes were inflated, refused or not: what the request made the server allocate."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(body, MAX_UNCOMPRESSED_BYTES + 1)
        if len(data) > MAX_UNCOMPRESSED_BYTES:
            return b"", f" (the gzip request body inflates beyond {MAX_UNCOMPRESSED_BYTES} bytes)", len(data)
        if not inflater.eof:
            return b"", " (the gzip request body is truncated)", len(data)
        return data, "", len(data)
    except zlib.error as exc:
        return b"", f" (the request body is not valid gzip: {exc})", 0


class _Connection:
    """One client connection: its h11 state machine, stream and whether it waits idle for a next request."""

    __slots__ = ("reader", "writer", "http", "idle", "last_active", "task", "head", "leftover")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.idle = True
        self.last_active = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.head = bytearray()  # the first bytes of the current request, to quote in framing errors
        self.leftover: bytes | None = None  # bytes after a body read past h11 (see _Server._read_body)

    def close(self) -> None:
        """Close after the buffered reply bytes are written (never drops an answer)."""
        transport = self.writer.transport
        if not transport.is_closing():
            transport.close()

    async def linger_close(self) -> None:
        """End an answered connection whose request was not read to its end: send FIN, discard what the client
        still sends for a moment (closing with unread bytes would reset the connection and lose the answer)."""
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
            async with timeouts.timeout(_LINGER_S):
                discarded = 0
                while discarded < _LINGER_BYTES:
                    data = await self.reader.read(_READ_SIZE)
                    if not data:
                        break
                    discarded += len(data)
        except (asyncio.TimeoutError, OSError):
            pass
        self.close()


class _Server:
    """The event loop side: accepts connections, frames requests, hands them to the worker pool, writes replies."""

    def __init__(self, api: RestApi, num_threads: int, limits: TransportLimits) -> None:
        self.api = api
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=max(num_threads, 1), thread_name_prefix="rest-worker")
        self.connections: set[_Connection] = set()
        self.draining = False
        self.inflight = 0
        self.idle_event: asyncio.Event | None = None
        self.listener: asyncio.base_events.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -------------------------------------------------------------------------------------------- accepting

    async def open(self, host: str, port: int, family: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.idle_event = asyncio.Event()
        self.idle_event.set()
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
            sock.setblocking(False)
            self.listener = await asyncio.start_server(self._accept, sock=sock, limit=_READ_SIZE)
        except BaseException:
            sock.close()
            raise

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a socket already reset by the peer
                pass
        if len(self.connections) >= self.limits.max_connections and not self._evict_idle():
            await self._write_reply(conn, Reply(503, error_body("Too many open connections"), list(_JSON_HEADERS),
                                                close=True), head_only=False, early=True)
            conn.close()
            return
        conn.task = asyncio.current_task()
        self.connections.add(conn)
        try:
            await self._serve(conn)
        except (ConnectionError, asyncio.TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            logger.debug("REST connection dropped: %s", exc)
        except asyncio.CancelledError:
            pass
        except Exception:  # a transport bug: log it, drop this connection, keep the server
            logger.exception("REST connection failed")
        finally:
            self.connections.discard(conn)
            conn.close()

    def _evict_idle(self) -> bool:
        """Close the longest-idle keep-alive connection to make room; False when every connection is busy."""
        idle = [c for c in self.connections if c.idle]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.last_active)
        self.connections.discard(oldest)
        oldest.close()
        if oldest.task is not None:
            oldest.task.cancel()
        return True

    # -------------------------------------------------------------------------------------------- reading

    async def _receive(self, conn: _Connection, deadline: float | None, timeout: float | None) -> None:
        """Read more bytes into h11 (b"" at EOF) by ``deadline`` (loop time) or within ``timeout`` seconds."""
        loop = self.loop
        assert loop is not None
        when = deadline if deadline is not None else loop.time() + (timeout or 0.0)
        async with timeouts.timeout_at(when):
            data = await conn.reader.read(_READ_SIZE)
        if len(conn.head) < MAX_HEADER_BYTES:
            conn.head += data[: MAX_HEADER_BYTES - len(conn.head)]
        conn.http.receive_data(data)

    async def _next_event(self, conn: _Connection, *, in_body: bool) -> Any:
        """The next h11 event; waiting for a head uses the idle then header timeouts, a body the body timeout."""
        limits = self.limits
        deadline: float | None = None
        while True:
            event = conn.http.next_event()
            if event is not h11.NEED_DATA:
                return event
            if in_body:
                await self._receive(conn, None, limits.body_timeout)
                continue
            if deadline is None and conn.http.trailing_data[0]:
                deadline = self.loop.time() + limits.header_timeout  # type: ignore[union-attr]
            if deadline is None:  # nothing of the next request yet: idle
                conn.idle = True
                await self._receive(conn, None, limits.idle_timeout)
                conn.idle = False
                conn.last_active = time.monotonic()
                deadline = self.loop.time() + limits.header_timeout  # type: ignore[union-attr]
            else:
                await self._receive(conn, deadline, None)

    async def _read_body(self, conn: _Connection, request: h11.Request) -> bytearray:
        """The whole body, refused with 413 as soon as it (declared or received) exceeds the limit.

        A Content-Length body is read straight from the stream into one growing buffer, past h11 (which would
        copy every chunk several times); the connection's h11 state machine is then replaced after the reply
        (``conn.leftover`` keeps the bytes that followed the body). Chunked bodies go through h11."""
        length = None
        for name, value in request.headers:
            if name == b"content-length":
                length = int(value)
        if length is not None and length > MAX_REQUEST_BODY_BYTES:
            raise _Refusal(413, f"Request body of {length} bytes exceeds the limit of {MAX_REQUEST_BODY_BYTES} bytes")
        if conn.http.they_are_waiting_for_100_continue:
            await self._send(conn, h11.InformationalResponse(status_code=100, headers=[]))
        if length is not None:
            buffered = conn.http.trailing_data[0]
            body = bytearray(buffered[:length])
            conn.leftover = buffered[length:]
            while len(body) < length:
                async with timeouts.timeout(self.limits.body_timeout):
                    data = await conn.reader.read(min(length - len(body), _BODY_READ_SIZE))
                if not data:
                    raise ConnectionError("connection closed inside a request body")
                body += data
            return body
        body = bytearray()
        while True:
            event = await self._next_event(conn, in_body=True)
            if type(event) is h11.Data:
                if len(body) + len(event.data) > MAX_REQUEST_BODY_BYTES:
                    raise _Refusal(413, f"Request body exceeds the limit of {MAX_REQUEST_BODY_BYTES} bytes")
                body += event.data
            elif type(event) is h11.EndOfMessage:
                return body
            elif event is h11.PAUSED or type(event) is h11.ConnectionClosed:
                raise ConnectionError("connection closed inside a request body")

    # -------------------------------------------------------------------------------------------- serving

    async def _serve(self, conn: _Connection) -> None:
        loop = self.loop
        assert loop is not None
        while True:
            try:
                event = await self._next_event(conn, in_body=False)
            except h11.RemoteProtocolError as exc:
                await self._write_reply(conn, self._protocol_error(exc, bytes(conn.head)), head_only=False, early=True)
                return
            except asyncio.TimeoutError:
                return  # idle or a head too slow: close without an answer, as libevent does
            if type(event) is h11.ConnectionClosed or event is h11.PAUSED:
                return
            if type(event) is not h11.Request:  # pragma: no cover - h11 yields a Request first
                return
            method = event.method.decode("ascii", "replace")
            head_only = method == "HEAD"
            if method not in ALLOWED_METHODS:
                await self._write_reply(conn, libevent_error_page(501, "Not Implemented"), head_only, early=True)
                return
            try:
                _check_framing(event)
                body = await self._read_body(conn, event)
            except _Refusal as exc:
                await self._write_reply(conn, Reply(exc.status, error_body(exc.message), list(_JSON_HEADERS),
                                                    close=True), head_only, early=True)
                return
            except h11.RemoteProtocolError as exc:
                await self._write_reply(conn, _json_refusal(exc, bytes(conn.head)), head_only, early=True)
                return
            except asyncio.TimeoutError:
                return
            self.inflight += 1
            self.idle_event.clear()  # type: ignore[union-attr]
            try:
                headers = _Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
                target = event.target.decode("latin-1")
                reply = await loop.run_in_executor(self.pool, self._handle, method, target, headers, body)
                del body
                if self.draining:
                    reply.close = True
                await self._write_reply(conn, reply, head_only, early=False)
            finally:
                self.inflight -= 1
                if self.inflight == 0:
                    self.idle_event.set()  # type: ignore[union-attr]
            if conn.http.our_state is not h11.DONE:
                return
            if conn.leftover is not None:  # the body was read past h11: a fresh state machine for the next request
                leftover, conn.leftover = conn.leftover, None
                conn.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
                if leftover:
                    conn.http.receive_data(leftover)
            elif conn.http.their_state is h11.DONE:
                conn.http.start_next_cycle()
            else:
                return
            conn.head = bytearray(conn.http.trailing_data[0][:MAX_HEADER_BYTES])
            conn.last_active = time.monotonic()

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytearray) -> Reply:
        """Worker side: gunzip, then route and answer; a bug becomes a JSON 500, never a dead connection."""
        if self.draining:
            return Reply(503, error_body("Server is shutting down"), list(_JSON_HEADERS), close=True)
        try:
            note, request_bytes = "", len(body)
            if body and "gzip" in (headers.get("Content-Encoding") or "").lower():
                body, note, inflated = _gunzip(body)  # type: ignore[assignment]
                request_bytes = max(request_bytes, inflated)
            reply = self.api.handle(method, target, headers, body, note)
            malloc_trim.after_request(request_bytes, len(reply.body))
            return reply
        except Exception as exc:
            logger.exception("REST %s %s: unhandled error", method, target)
            return Reply(500, error_body(f"Internal error: {exc!r}"), list(_JSON_HEADERS))

    @staticmethod
    def _protocol_error(exc: h11.RemoteProtocolError, head: bytes) -> Reply:
        """A request h11 cannot read: an unparsable request line gets libevent's 400 page (TF Serving's answer);
        a head that parses but frames its body wrongly (Content-Length, Transfer-Encoding, ...) a JSON 400."""
        text = str(exc)
        if text.startswith("illegal request line"):
            return libevent_error_page(400, "Bad Request")
        return _json_refusal(exc, head)

    # -------------------------------------------------------------------------------------------- writing

    async def _send(self, conn: _Connection, *events: Any) -> None:
        """Frame ``events`` with h11 and write them: a small reply leaves in one segment (head and body
        together), a large body is written after its head without being copied into one buffer."""
        chunks: list[bytes] = [data for event in events if (data := conn.http.send(event))]
        if len(chunks) > 1 and sum(map(len, chunks)) <= _COALESCE_BYTES:
            chunks = [b"".join(chunks)]
        for data in chunks:
            conn.writer.write(data)
        if chunks:
            async with timeouts.timeout(self.limits.body_timeout):
                await conn.writer.drain()

    async def _write_reply(self, conn: _Connection, reply: Reply, head_only: bool, *, early: bool) -> None:
        """Write ``reply``; ``early`` replies answer a request whose body was not read, so the connection closes."""
        headers: list[tuple[bytes, bytes]] = [(b"Date", _http_date()),
                                              *((k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers),
                                              (b"Content-Length", str(len(reply.body)).encode("ascii"))]
        if reply.close or early:
            headers.append((b"Connection", b"close"))
        try:
            reason = _reason(reply.status)
            response = h11.Response(status_code=reply.status, headers=headers, reason=reason)
            if reply.body and not head_only:
                await self._send(conn, response, h11.Data(data=reply.body), h11.EndOfMessage())
            else:
                await self._send(conn, response, h11.EndOfMessage())
            if early:
                await conn.linger_close()
        except h11.LocalProtocolError as exc:  # pragma: no cover - a reply h11 cannot frame is our bug
            logger.error("REST reply could not be framed: %s", exc)
            conn.close()
        except asyncio.TimeoutError:
            conn.close()

    # -------------------------------------------------------------------------------------------- shutdown

    async def drain(self, timeout: float) -> None:
        """Stop accepting, let in-flight requests finish (up to ``timeout`` s), then close every connection."""
        self.draining = True
        if self.listener is not None:
            self.listener.close()
        try:
            async with timeouts.timeout(timeout):
                await self.idle_event.wait()  # type: ignore[union-attr]
        except asyncio.TimeoutError:
            logger.warning("REST shutdown: %d request(s) still running after %.1fs", self.inflight, timeout)
        for conn in list(self.connections):
            conn.close()
            if conn.task is not None:
                conn.task.cancel()
        await asyncio.sleep(0)


def _check_framing(request: h11.Request) -> None:
    """RFC 9112 6.3: a request with both Transfer-Encoding and Content-Length is refused (smuggling risk)."""
    names = {name for name, _ in request.headers}
    if b"transfer-encoding" in names and b"content-length" in names:
        raise _Refusal(400, "Malformed HTTP request: both Content-Length and Transfer-Encoding are present")


_CHUNK_HEADER = re.compile(rb"illegal chunk header: bytearray\(b'(.*?)(?:\\r\\n)?'\)$", re.DOTALL)
_CONTENT_LENGTH_LINE = re.compile(rb"^content-length:[ \t]*(.*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def _json_refusal(exc: h11.RemoteProtocolError, head: bytes = b"") -> Reply:
    """A JSON 400 (or h11's 431/501 hint) naming what is wrong with the request's framing."""
    status = exc.error_status_hint if 400 <= exc.error_status_hint < 600 else 400
    text = str(exc)
    message = f"Malformed HTTP request: {text}"
    chunk = _CHUNK_HEADER.match(text.encode("latin-1", "replace"))
    if status == 431:
        message = f"Request header fields are larger than the limit of {MAX_HEADER_BYTES} bytes"
    elif text == "bad Content-Length":
        values = [v.decode("latin-1") for v in _CONTENT_LENGTH_LINE.findall(head.split(b"\r\n\r\n", 1)[0])]
        got = values[-1] if len(values) == 1 else values
        message = f"Invalid Content-Length header: expected decimal digits, got {got!r}"
    elif chunk is not None:
        message = (
            "Malformed chunked request body: a chunk size must be hexadecimal digits, got "
            f"{chunk.group(1).decode('latin-1')!r}"
        )
    return Reply(status, error_body(message), list(_JSON_HEADERS), close=True)


class RestServerHandle:
    """A running REST server: ``port`` is the bound port; ``shutdown()`` drains in-flight requests and closes."""

    def __init__(self, server: _Server, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self._stopped = False
        self.host = host
        self.port = port

    def connection_sockets(self) -> list[socket.socket]:
        """The accepted sockets currently open (for tests and diagnostics)."""
        server = self._server
        assert server.loop is not None

        def collect() -> list[socket.socket]:
            return [c.writer.get_extra_info("socket") for c in server.connections]

        return asyncio.run_coroutine_threadsafe(_call(collect), server.loop).result(10)

    @property
    def open_connections(self) -> int:
        return len(self._server.connections)

    def shutdown(self, drain_timeout: float = 30.0) -> None:
        """Stop accepting, wait (up to ``drain_timeout`` s) for in-flight requests, then close every connection."""
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        loop = server.loop
        assert loop is not None
        try:
            asyncio.run_coroutine_threadsafe(server.drain(drain_timeout), loop).result(drain_timeout + 10)
        except Exception:  # noqa: BLE001 - shutting down: log and go on closing
            logger.exception("REST shutdown: drain failed")
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)
        server.pool.shutdown(wait=False, cancel_futures=True)
        logger.info("REST API on %s:%d stopped", self.host, self.port)

    def __enter__(self) -> RestServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (libuv in C: about +10% REST throughput at concurrency 8 in A/B
    runs here, latency at 1 within noise), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _call(fn: Any) -> Any:
    return fn()


def start_rest_server(
    core: ServingCore,
    host: str,
    port: int,
    *,
    timeout_ms: int = 30000,
    enable_cors: bool = False,
    monitoring_path: str | None = None,
    num_threads: int = 0,
    limits: TransportLimits | None = None,
) -> RestServerHandle:
    """Bind ``host:port`` (0 = any free port) and serve TF Serving's REST API over ``core`` in the background.

    ``timeout_ms`` is ``--rest_api_timeout_in_ms`` (passed to the core as the request deadline), ``enable_cors`` is
    ``--rest_api_enable_cors_support``, ``monitoring_path`` the Prometheus path (None = no metrics endpoint),
    ``num_threads`` is ``--rest_api_num_threads`` (<= 0: 4 x CPUs). Raises ``PortInUseError`` (an OSError)
    when the port is taken.
    """
    api = RestApi(core, timeout_ms=timeout_ms, enable_cors=enable_cors, monitoring_path=monitoring_path)
    server = _Server(api, num_threads if num_threads > 0 else default_num_threads(), limits or TransportLimits())
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    loop = _new_event_loop()
    try:
        loop.run_until_complete(server.open(host, port, family))
    except OSError as exc:
        loop.close()
        server.pool.shutdown(wait=False)
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                errno.EADDRINUSE, f"REST API port {port} on {host} is already in use (--rest_api_port)"
            ) from exc
        raise
    assert server.listener is not None
    bound_host, bound_port = server.listener.sockets[0].getsockname()[:2]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    thread = threading.Thread(target=run, name=f"rest-api-{bound_port}", daemon=True)
    thread.start()
    logger.info("REST API listening on %s:%d", bound_host, bound_port)
    return RestServerHandle(server, thread, str(bound_host), int(bound_port))
