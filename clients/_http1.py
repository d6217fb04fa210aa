"""HTTP/1.1 for the REST clients: a keep-alive connection pool over blocking sockets (``Http1Pool``) and one over
asyncio streams (``AsyncHttp1Pool``), framed by h11, one write per request.

Why not httpx's own pool: ``httpx.AsyncClient`` costs about 1.5 ms of CPU per small request on the 2-core
benchmark machine (its async stack: anyio, pool bookkeeping, request and response models), ``httpx.Client``
about 0.7 ms; these pools cost ~0.1-0.5 ms for the same exchange. httpx stays the path for a ``transport=`` (mocks,
``FakeServer``): ``HttpxPool`` gives it the same ``request`` method. Failures are raised as httpx's exception types
(``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``, ...) so one mapping serves both paths.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import h11
import httpx

__all__ = ["AsyncHttp1Pool", "AsyncHttpxPool", "Http1Pool", "HttpxPool", "Origin"]

_READ_SIZE = 1 << 16
_COALESCE_BYTES = 256 << 10  # a request up to this size is written as one buffer
_USER_AGENT = ("User-Agent", "tfs-toolkit-clients")


@dataclass(frozen=True)
class Origin:
    """Where the pool connects: host, port, the Host header, and the TLS context for https (None: plaintext)."""

    host: str
    port: int
    host_header: str
    tls: ssl.SSLContext | None

    @classmethod
    def from_url(cls, base_url: str, verify: ssl.SSLContext | bool) -> Origin:
        parts = urlsplit(base_url)
        https = parts.scheme == "https"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if https else 80)
        tls = None
        if https:
            tls = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=True)
        return cls(host, port, parts.netloc.rpartition("@")[2], tls)  # no user:password@ in the Host header


def _request_pieces(conn: h11.Connection, origin: Origin, headers: Sequence[tuple[str, str]], method: str,
                    path: str, body: bytes | None) -> list[bytes]:
    """The request framed by ``conn``: one buffer (head and body together, one TCP segment for a small request),
    or the head and then the body itself when the body is large (not copied into one buffer)."""
    fields = [("Host", origin.host_header), _USER_AGENT, *headers]
    if body is not None:
        if not any(name.lower() == "content-type" for name, _ in headers):
            fields.append(("Content-Type", "application/json"))
        fields.append(("Content-Length", str(len(body))))
    pieces = [conn.send(h11.Request(method=method, target=path, headers=fields)) or b""]
    if body:
        pieces.append(conn.send(h11.Data(data=body)) or b"")
    pieces.append(conn.send(h11.EndOfMessage()) or b"")
    pieces = [piece for piece in pieces if piece]
    if sum(map(len, pieces)) <= _COALESCE_BYTES:
        return [b"".join(pieces)]
    return pieces


class _Response:
    """Collects one response from the bytes read: ``feed`` returns True once it is complete."""

    __slots__ = ("conn", "status", "chunks", "write_error")

    def __init__(self, conn: h11.Connection, write_error: OSError | None = None) -> None:
        self.conn = conn
        self.status = 0
        self.chunks: list[bytes] = []
        # The request could not be written whole: a server may still have answered (a 413 before reading a large
        # body, then closed), so the answer is read anyway; if there is none, the write error is what is raised.
        self.write_error = write_error

    def read_failed(self, exc: BaseException) -> httpx.HTTPError:
        """What a failed read raises: the write's error if the request never went out whole."""
        if self.write_error is not None:
            return httpx.WriteError(str(self.write_error))
        if isinstance(exc, httpx.HTTPError):
            return exc
        if isinstance(exc, TimeoutError):
            return httpx.ReadTimeout(str(exc) or "timed out")
        return httpx.ReadError(str(exc))

    def feed(self, data: bytes) -> bool:
        try:
            self.conn.receive_data(data)
            while True:
                event = self.conn.next_event()
                if event is h11.NEED_DATA:
                    return False
                if isinstance(event, h11.Response):
                    self.status = event.status_code
                elif isinstance(event, h11.Data):
                    self.chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return True
                elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    raise httpx.RemoteProtocolError("Server disconnected without sending a complete response.")
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(f"Invalid HTTP response: {exc}") from None

    def result(self) -> tuple[int, bytes]:
        return self.status, b"".join(self.chunks)

    def reusable(self) -> bool:
        """Both sides done with keep-alive: ready for the next request (else the connection is closed)."""
        conn = self.conn
        if self.write_error is None and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return True
        return False


def _remaining(deadline: float | None) -> float | None:
    """Seconds left for a socket operation. Never 0: ``settimeout(0)`` would make the socket non-blocking, so a
    passed deadline would fail as a connection error (BlockingIOError) instead of as a timeout."""
    return None if deadline is None else max(deadline - time.monotonic(), 1e-6)


class _PooledConnection:
    """What both pools keep per connection: its h11 state machine and when it was last used."""

    __slots__ = ("http", "last_used")

    def __init__(self) -> None:
        self.http = h11.Connection(h11.CLIENT)
        self.last_used = time.monotonic()

    def fresh(self, idle_seconds: float) -> bool:
        """Not idle longer than ``idle_seconds`` (Keepalive.idle): older ones are closed, not reused."""
        return time.monotonic() - self.last_used <= idle_seconds


C = TypeVar("C", bound=_PooledConnection)


class _Pool(Generic[C]):
    """What both pools hold: the origin, the extra headers, the idle limit and the idle connections."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool, headers: Sequence[tuple[str, str]],
                 idle_seconds: float) -> None:
        self.origin = Origin.from_url(base_url, verify)
        self.headers = list(headers)
        self.idle_seconds = idle_seconds
        self.connections: list[C] = []  # idle, most recently used last
        self._closed = False


# ------------------------------------------------------------------------------------------------ blocking
class _Connection(_PooledConnection):
    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def alive(self, idle_seconds: float) -> bool:
        """Not idle too long, and no EOF (or stray byte) waiting: a server may close a keep-alive connection."""
        if not self.fresh(idle_seconds):
            return False
        try:
            poller = select.poll()  # not select(): no limit on the descriptor's number
            poller.register(self.sock, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False


class Http1Pool(_Pool[_Connection]):
    """Blocking HTTP/1.1 keep-alive pool for one origin; thread-safe, at most ``max_connections`` at once."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool, headers: Sequence[tuple[str, str]],
                 max_connections: int, idle_seconds: float) -> None:
        super().__init__(base_url, verify=verify, headers=headers, idle_seconds=idle_seconds)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_connections))

    def request(self, method: str, path: str, body: bytes | None, timeout: float | None) -> tuple[int, bytes]:
        """One exchange within ``timeout`` seconds (None: no limit): (status, body)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise httpx.PoolTimeout(f"no free connection within {timeout:.3g}s")
        try:
            conn = self._checkout() or self._connect(deadline)
            try:
                response = self._exchange(conn, method, path, body, deadline)
            except BaseException:
                conn.sock.close()
                raise
            if response.reusable() and not self._closed:
                conn.last_used = time.monotonic()
                with self._lock:
                    self.connections.append(conn)
            else:
                conn.sock.close()
            return response.result()
        finally:
            self._slots.release()

    def _checkout(self) -> _Connection | None:
        with self._lock:
            while self.connections:
                conn = self.connections.pop()
                if conn.alive(self.idle_seconds):
                    return conn
                conn.sock.close()
        return None

    def _connect(self, deadline: float | None) -> _Connection:
        origin = self.origin
        try:
            sock = socket.create_connection((origin.host, origin.port), timeout=_remaining(deadline))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.tls is not None:
                sock = origin.tls.wrap_socket(sock, server_hostname=origin.host)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        return _Connection(sock)

    def _exchange(self, conn: _Connection, method: str, path: str, body: bytes | None,
                  deadline: float | None) -> _Response:
        sock = conn.sock
        pieces = _request_pieces(conn.http, self.origin, self.headers, method, path, body)
        write_error = None
        try:
            for piece in pieces:
                sock.settimeout(_remaining(deadline))
                sock.sendall(piece)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out") from None
        except OSError as exc:
            write_error = exc
        response = _Response(conn.http, write_error)
        while True:
            try:
                sock.settimeout(_remaining(deadline))
                chunk = sock.recv(_READ_SIZE)
                done = response.feed(chunk)
            except (OSError, httpx.RemoteProtocolError) as exc:
                raise response.read_failed(exc) from None
            if done:
                return response

    def close(self) -> None:
        """Close the idle connections; requests still running close theirs when they end."""
        with self._lock:
            self._closed = True
            idle, self.connections = self.connections, []
        for conn in idle:
            conn.sock.close()


# ------------------------------------------------------------------------------------------------ asyncio
class _AsyncConnection(_PooledConnection):
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self.reader = reader
        self.writer = writer

    def alive(self, idle_seconds: float) -> bool:
        return self.fresh(idle_seconds) and not self.reader.at_eof() and not self.writer.is_closing()


class AsyncHttp1Pool(_Pool[_AsyncConnection]):
    """``Http1Pool`` over asyncio streams, for one event loop."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool, headers: Sequence[tuple[str, str]],
                 max_connections: int, idle_seconds: float) -> None:
        super().__init__(base_url, verify=verify, headers=headers, idle_seconds=idle_seconds)
        self._slots = asyncio.Semaphore(max(1, max_connections))

    async def request(self, method: str, path: str, body: bytes | None, timeout: float | None) -> tuple[int, bytes]:
        """One exchange within ``timeout`` seconds (None: no limit): (status, body)."""
        phase = ["pool"]
        try:
            return await asyncio.wait_for(self._request(method, path, body, phase), timeout)
        except asyncio.TimeoutError:
            kind = {"pool": httpx.PoolTimeout, "connect": httpx.ConnectTimeout}.get(phase[0], httpx.ReadTimeout)
            raise kind(f"timed out after {timeout:.3g}s") from None

    async def _request(self, method: str, path: str, body: bytes | None, phase: list[str]) -> tuple[int, bytes]:
        async with self._slots:
            phase[0] = "connect"
            conn = self._checkout() or await self._connect()
            phase[0] = "exchange"
            try:
                response = await self._exchange(conn, method, path, body)
            except BaseException:
                conn.writer.close()
                raise
            if response.reusable() and not self._closed:
                conn.last_used = time.monotonic()
                self.connections.append(conn)
            else:
                conn.writer.close()
            return response.result()

    def _checkout(self) -> _AsyncConnection | None:
        while self.connections:
            conn = self.connections.pop()
            if conn.alive(self.idle_seconds):
                return conn
            conn.writer.close()
        return None

    async def _connect(self) -> _AsyncConnection:
        origin = self.origin
        try:
            reader, writer = await asyncio.open_connection(
                origin.host, origin.port, ssl=origin.tls, server_hostname=origin.host if origin.tls else None,
                limit=_READ_SIZE,
            )
        except OSError as exc:  # ssl.SSLError included
            raise httpx.ConnectError(str(exc)) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _AsyncConnection(reader, writer)

    async def _exchange(self, conn: _AsyncConnection, method: str, path: str, body: bytes | None) -> _Response:
        pieces = _request_pieces(conn.http, self.origin, self.headers, method, path, body)
        write_error = None
        try:
            for piece in pieces:
                conn.writer.write(piece)
            await conn.writer.drain()
        except OSError as exc:
            write_error = exc
        response = _Response(conn.http, write_error)
        if write_error is not None:
            # The stream now raises the write's error on every read, even over bytes the server sent before it
            # reset the connection (an early 413): those bytes are in the reader's buffer (a CPython detail).
            try:
                if response.feed(bytes(getattr(conn.reader, "_buffer", b""))) or response.feed(b""):
                    return response
            except httpx.RemoteProtocolError as exc:
                raise response.read_failed(exc) from None
        while True:
            try:
                chunk = await conn.reader.read(_READ_SIZE)
                done = response.feed(chunk)
            except (OSError, httpx.RemoteProtocolError) as exc:
                raise response.read_failed(exc) from None
            if done:
                return response

    async def close(self) -> None:
        """Close the idle connections."""
        self._closed = True
        idle, self.connections = self.connections, []
        for conn in idle:
            conn.writer.close()


# ------------------------------------------------------------------------------------------------ httpx
class HttpxPool:
    """The same ``request`` over an ``httpx.Client`` with a given transport (a mock, ``FakeServer``)."""

    def __init__(self, base_url: str, headers: Sequence[tuple[str, str]], transport: Any) -> None:
        self.client = httpx.Client(base_url=base_url, headers=list(headers), transport=transport)

    def request(self, method: str, path: str, body: bytes | None, timeout: float | None) -> tuple[int, bytes]:
        response = self.client.request(method, path, content=body, timeout=httpx.Timeout(timeout),
                                       headers={"Content-Type": "application/json"} if body is not None else None)
        return response.status_code, response.read()

    def close(self) -> None:
        self.client.close()


class AsyncHttpxPool:
    """``HttpxPool`` over an ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, headers: Sequence[tuple[str, str]], transport: Any) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, headers=list(headers), transport=transport)

    async def request(self, method: str, path: str, body: bytes | None, timeout: float | None) -> tuple[int, bytes]:
        response = await self.client.request(method, path, content=body, timeout=httpx.Timeout(timeout),
                                             headers={"Content-Type": "application/json"} if body is not None else None)
        return response.status_code, await response.aread()

    async def close(self) -> None:
        await self.client.aclose()
