"""The test servers' ports (tests/support/live_server.py): each pytest-xdist worker takes them from its own block
below the kernel's ephemeral range, so neither bind(0), an outgoing connection nor the other worker gets one
between the pick and the server's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support import live_server


@pytest.mark.parametrize(("worker", "low"), [("gw0", 10000), ("gw1", 12000), ("gw3", 16000), ("master", 10000)])
def test_each_worker_has_its_own_block(monkeypatch: pytest.MonkeyPatch, worker: str, low: int) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setattr(live_server, "_ephemeral_low", lambda: 32768)
    assert live_server.worker_port_block() == range(low, low + live_server.PORT_BLOCK)


def test_a_block_reaching_the_ephemeral_range_falls_back_to_the_kernels_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw11")  # 32000-33999 would overlap 32768-
    monkeypatch.setattr(live_server, "_ephemeral_low", lambda: 32768)
    assert live_server.worker_port_block() is None
    low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert low <= live_server.free_port() <= high  # bind(0): the kernel's ephemeral range, not a worker block


def test_ports_are_distinct_in_the_block_and_skip_one_that_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setattr(live_server, "_ephemeral_low", lambda: 32768)
    block = live_server.worker_port_block()
    assert block is not None
    first = live_server.free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first + 1 if first + 1 in block else block[0]))
        taken.listen()
        ports = [live_server.free_port() for _ in range(5)]
        assert taken.getsockname()[1] not in ports
    assert first in block and all(port in block for port in ports)
    assert len(set([first, *ports])) == 6
    for port in ports:  # each is bindable right after the pick
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
