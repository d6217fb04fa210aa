"""The REST transport over raw sockets: strict HTTP/1.1 framing, body limits, timeouts and bounded concurrency.

Each test talks bytes to ``start_rest_server`` on 127.0.0.1 (a ``FakeCore`` behind it) and checks the status line,
that the error body is ``{"error": ...}`` JSON and whether the server closed the connection. Regressions for issue
10 items 2 (framing, chunked bypass of the body limit) and 6 (a thread per connection).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import resource
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.fake_core import FLOAT, FakeCore, FakeServable, signature
from toolkit.server import rest
from toolkit.server.rest import TransportLimits, start_rest_server

PREDICT = b"POST /v1/models/half:predict HTTP/1.1\r\nHost: x\r\n"
BODY = b'{"instances": [1.0, 2.0]}'  # 25 bytes


def _core() -> FakeCore:
    servable = FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})},
                            predict_fn=lambda a: {"y": a["x"] * 0.5 + 2})
    return FakeCore(models={"half": {1: servable}})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    handle = start_rest_server(_core(), "127.0.0.1", 0)
    yield handle.port
    handle.shutdown()


def _exchange(port: int, data: bytes, *, timeout: float = 20) -> tuple[bytes, bool]:
    """Send ``data`` (write side left open) and read until the server closes or goes quiet: (reply, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        sock.settimeout(3)
        closed = False
        while True:
            try:
                part = sock.recv(65536)
            except TimeoutError:
                break
            if not part:
                closed = True
                break
            chunks.append(part)
    return b"".join(chunks), closed


def _status_and_error(reply: bytes) -> tuple[int, str]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower()
    payload = json.loads(body)
    assert list(payload) == ["error"]
    return status, payload["error"]


@pytest.mark.parametrize("value", [b"+25", b"2_5", b"\x0c25", b"-25", b"25, 26", b"0x19", b"25abc", b"\xd9\xa2\xd9\xa5"])
def test_content_length_that_is_not_digits_is_400_json_and_closes(port: int, value: bytes) -> None:
    reply, closed = _exchange(port, PREDICT + b"Content-Length: " + value + b"\r\n\r\n" + BODY)
    status, message = _status_and_error(reply)
    assert status == 400 and closed
    assert "Content-Length" in message or "header line" in message


def test_optional_whitespace_around_content_length_is_legal(port: int) -> None:
    reply, _closed = _exchange(port, PREDICT + b"Content-Length:   25 \r\n\r\n" + BODY)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


def test_conflicting_content_lengths_are_refused(port: int) -> None:
    reply, closed = _exchange(port, PREDICT + b"Content-Length: 25\r\nContent-Length: 26\r\n\r\n" + BODY)
    assert _status_and_error(reply)[0] == 400 and closed


def test_content_length_with_transfer_encoding_is_refused(port: int) -> None:
    head = PREDICT + b"Content-Length: 25\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply, closed = _exchange(port, head + b"19\r\n" + BODY + b"\r\n0\r\n\r\n")
    status, message = _status_and_error(reply)
    assert (status, closed) == (400, True)
    assert "both Content-Length and Transfer-Encoding" in message


@pytest.mark.parametrize("size", [b"-1", b"-2", b"0x19", b"+19", b" 19", b"1 9", b"fffffffffffffffffffffff"])
def test_bad_chunk_sizes_are_400_json_at_once(port: int, size: bytes) -> None:
    """Issue 10 item 2: '-1' read the connection to its end into memory, '-2' dropped it without an answer."""
    head = PREDICT + b"Transfer-Encoding: chunked\r\n\r\n"
    start = time.monotonic()
    reply, closed = _exchange(port, head + size + b"\r\n" + BODY + b"\r\n")
    status, message = _status_and_error(reply)
    assert (status, closed) == (400, True)
    assert "chunk" in message
    assert time.monotonic() - start < 3  # answered without waiting for the client to close (bounded by _exchange)


def test_valid_chunked_body_with_extension_is_served(port: int) -> None:
    head = PREDICT + b"Transfer-Encoding: chunked\r\n\r\n"
    reply, _closed = _exchange(port, head + b"5;name=v\r\n" + BODY[:5] + b"\r\n14\r\n" + BODY[5:] + b"\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"[2.5, 3.0\n    ]\n}")


def test_chunked_body_beyond_the_limit_is_413_before_it_is_all_read(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rest, "MAX_REQUEST_BODY_BYTES", 4096)
    chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
    reply, closed = _exchange(port, PREDICT + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3)
    status, message = _status_and_error(reply)
    assert (status, closed) == (413, True)
    assert "exceeds the limit of 4096 bytes" in message


def test_unsupported_transfer_encoding_is_501_json(port: int) -> None:
    reply, closed = _exchange(port, PREDICT + b"Transfer-Encoding: gzip\r\n\r\n" + BODY)
    status, message = _status_and_error(reply)
    assert (status, closed) == (501, True)
    assert "Transfer-Encoding" in message


def test_oversized_head_is_431_json(port: int) -> None:
    reply, closed = _exchange(port, PREDICT + b"X-Big: " + b"a" * (3 * rest.MAX_HEADER_BYTES) + b"\r\n\r\n")
    status, message = _status_and_error(reply)
    assert (status, closed) == (431, True)
    assert str(rest.MAX_HEADER_BYTES) in message


def test_expect_100_continue_pipelining_and_http10(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(PREDICT + b"Content-Length: 25\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 ")
        sock.sendall(BODY)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    two = (PREDICT + b"Content-Length: 25\r\n\r\n" + BODY) * 2
    reply, _closed = _exchange(port, two)
    assert reply.count(b"HTTP/1.1 200 OK") == 2
    reply, closed = _exchange(port, b"GET /v1/models/half HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK") and closed


def test_http11_without_host_is_400_json(port: int) -> None:
    reply, closed = _exchange(port, b"GET /v1/models/half HTTP/1.1\r\n\r\n")
    status, message = _status_and_error(reply)
    assert (status, closed) == (400, True)
    assert "Host" in message


def test_raw_target_reaches_routing_undecoded(port: int) -> None:
    reply, _closed = _exchange(port, b"GET /v1/models/h%61lf HTTP/1.1\r\nHost: x\r\n\r\n")
    # Matched on the raw target, then the name is percent-decoded: "h%61lf" is the model "half".
    assert reply.startswith(b"HTTP/1.1 200 OK")


# ------------------------------------------------------------------------------------------------ timeouts, limits


def test_idle_header_and_body_timeouts_close_stalled_connections() -> None:
    limits = TransportLimits(idle_timeout=0.5, header_timeout=0.5, body_timeout=0.5)
    with start_rest_server(_core(), "127.0.0.1", 0, limits=limits) as handle:
        for data in (b"", PREDICT, PREDICT + b"Content-Length: 25\r\n\r\n{"):
            with socket.create_connection(("127.0.0.1", handle.port), timeout=20) as sock:
                sock.sendall(data)
                start = time.monotonic()
                assert sock.recv(4096) == b""  # closed by the server, without an answer
                assert time.monotonic() - start < 15


def test_idle_connections_cost_no_threads_and_the_cap_evicts_the_longest_idle() -> None:
    """Issue 10 item 6: 1,500 idle connections gave 1,521 server threads."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = 1500
    if soft < 2 * count + 200 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2 * count + 200, hard))
    count = min(count, (resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200) // 2)
    cap = count - 100
    limits = TransportLimits(max_connections=cap)
    threads_before = threading.active_count()
    sockets: list[socket.socket] = []
    with start_rest_server(_core(), "127.0.0.1", 0, num_threads=4, limits=limits) as handle:
        try:
            for _ in range(count):
                sockets.append(socket.create_connection(("127.0.0.1", handle.port), timeout=20))
            # Every connection was accepted (the oldest idle ones gave way to the new ones beyond the cap) ...
            deadline = time.monotonic() + 30
            while handle.open_connections != cap and time.monotonic() < deadline:
                time.sleep(0.05)
            assert handle.open_connections == cap
            # ... and the server still has one I/O thread plus its worker pool, not a thread per connection.
            assert threading.active_count() - threads_before <= 1 + 4
            last = sockets[-1]
            last.sendall(b"GET /v1/models/half HTTP/1.1\r\nHost: x\r\n\r\n")
            assert last.recv(4096).startswith(b"HTTP/1.1 200 OK")
            sockets[0].settimeout(10)
            assert sockets[0].recv(10) == b""  # the longest-idle connection was closed
        finally:
            for sock in sockets:
                sock.close()


def test_bounded_worker_pool_serves_more_concurrent_requests_than_threads() -> None:
    release = threading.Event()
    running: list[int] = []
    lock = threading.Lock()

    def slow(arrays: dict) -> dict:  # type: ignore[type-arg]
        with lock:
            running.append(1)
        release.wait(30)
        return {"y": arrays["x"]}

    core = FakeCore(models={"slow": {1: FakeServable({"serving_default": signature({"x": FLOAT}, {"y": FLOAT})},
                                                     predict_fn=slow)}})
    with start_rest_server(core, "127.0.0.1", 0, num_threads=2) as handle:
        results: list[bytes] = []

        def client() -> None:
            reply, _ = _exchange(handle.port, b"POST /v1/models/slow:predict HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 17\r\nConnection: close\r\n\r\n{\"instances\":[1]}", timeout=60)
            results.append(reply)

        clients = [threading.Thread(target=client) for _ in range(5)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 20
        while len(running) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # give a third request the chance to start if the pool were unbounded (it must not)
        assert len(running) == 2
        release.set()
        for thread in clients:
            thread.join(60)
        assert len(results) == 5 and all(r.startswith(b"HTTP/1.1 200 OK") for r in results)


def test_content_length_bodies_read_past_h11_keep_framing_and_keep_alive(port: int) -> None:
    """Content-Length bodies are read straight from the stream: a large body sent in pieces, the request pipelined
    right behind it, an empty body, keep-alive and HTTP/1.0's close all behave as through the state machine."""
    values = ", ".join(["1.5"] * 300_000)
    big = b'{"instances": [' + values.encode() + b"]}"  # ~1.5 MB
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(PREDICT + b"Content-Length: %d\r\n\r\n" % len(big) + big[:1000])
        time.sleep(0.05)  # the rest arrives later and in pieces
        for at in range(1000, len(big), 400_000):
            sock.sendall(big[at : at + 400_000])
        sock.sendall(PREDICT + b"Content-Length: 0\r\n\r\n" + PREDICT + b"Content-Length: 25\r\n\r\n" + BODY)
        reply = b""
        sock.settimeout(10)
        while reply.count(b"HTTP/1.1 ") < 3 or not reply.endswith(b"}"):  # the third answer's body, whole
            part = sock.recv(1 << 20)
            assert part, reply[-300:]
            reply += part
    first, _, rest_ = reply.partition(b"HTTP/1.1 400 ")
    assert first.startswith(b"HTTP/1.1 200 OK") and b'"predictions": [2.75, 2.75' in first
    assert b"The document is empty" in rest_ and rest_.count(b"HTTP/1.1 200 OK") == 1 and b"[2.5, 3.0" in rest_
    reply, closed = _exchange(port, b"POST /v1/models/half:predict HTTP/1.0\r\nContent-Length: 25\r\n\r\n" + BODY)
    assert reply.startswith(b"HTTP/1.1 200 OK") and closed
    reply, closed = _exchange(port, PREDICT + b"Connection: close\r\nContent-Length: 25\r\n\r\n" + BODY + PREDICT)
    assert reply.count(b"HTTP/1.1 200 OK") == 1 and closed


class _RecordingWriter:
    """A StreamWriter stand-in that records each write (what one ``transport.write`` would send)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    async def drain(self) -> None:
        return None


def _replies_written(body_size: int) -> list[bytes]:
    import asyncio

    import h11

    from toolkit.server.rest_api import Reply

    writer = _RecordingWriter()
    conn = rest._Connection(None, writer)  # type: ignore[arg-type]
    conn.http.receive_data(b"GET /v1/models/half HTTP/1.1\r\nHost: x\r\n\r\n")
    assert type(conn.http.next_event()) is h11.Request
    assert type(conn.http.next_event()) is h11.EndOfMessage
    server = rest._Server(None, 1, TransportLimits())  # type: ignore[arg-type]
    try:
        reply = Reply(200, b"x" * body_size, [("Content-Type", "application/json")])
        asyncio.run(server._write_reply(conn, reply, head_only=False, early=False))
    finally:
        server.pool.shutdown()
    assert conn.http.our_state is h11.DONE
    return writer.writes


def test_a_small_reply_leaves_in_one_write_head_and_body_together() -> None:
    # Two writes (head, then body) cost a client like httpx ~1 ms per request at concurrency 1 here.
    writes = _replies_written(43)
    assert len(writes) == 1
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 43" in head.lower()
    assert body == b"x" * 43


def test_a_large_reply_body_is_written_after_its_head_not_copied_into_one_buffer() -> None:
    size = rest._COALESCE_BYTES + 1
    writes = _replies_written(size)
    assert len(writes) == 2
    assert writes[0].endswith(b"\r\n\r\n") and len(writes[1]) == size


def test_the_event_loop_is_uvloops_where_installed() -> None:
    """uvloop is a dependency of the toolkit on Linux: the REST front end runs on it, and answers."""
    import uvloop

    with start_rest_server(_core(), "127.0.0.1", 0) as handle:
        assert isinstance(handle._server.loop, uvloop.Loop)
        reply, _closed = _exchange(handle.port, b"GET /v1/models/half HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and b"AVAILABLE" in reply
