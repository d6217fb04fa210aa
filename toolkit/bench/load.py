"""Load generation: keep ``concurrency`` requests in flight, or start requests at a fixed rate (constant gaps or
Poisson arrivals), on one asyncio loop; optionally in several processes that stream their samples back.

A ``Fleet`` is what the runner drives: ``start(level)``, ``drain()`` the samples completed so far, ``stop()``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from toolkit.bench.options import Level
from toolkit.bench.stats import Sample
from toolkit.bench.transport import Target, requester_for

OVERLOADED = "CLIENT_OVERLOADED"  # rate mode: a request not started because max_in_flight were in flight


class LocalFleet:
    """Load from this process's event loop."""

    def __init__(self, target: Target, *, max_in_flight: int = 1024, seed: int = 0,
                 make_requester: Callable[[Target, int], Any] = requester_for) -> None:
        self.target = target
        self._make_requester = make_requester
        self.max_in_flight = max_in_flight
        self.seed = seed
        self._samples: list[Sample] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._stopping = asyncio.Event()  # set by stop(): wakes a rate loop waiting for its next arrival
        self._requester: Any = None
        self._connections = 0
        self.first_errors: dict[str, str] = {}

    async def start(self, level: Level) -> None:
        connections = int(level.value) if level.mode == "concurrency" else self.max_in_flight
        if self._requester is None or connections > self._connections:
            if self._requester is not None:
                await self._requester.close()
            self._requester = self._make_requester(self.target, connections)
            self._connections = connections
            await self._requester.open()
        self._running = True
        self._stopping = asyncio.Event()
        if level.mode == "concurrency":
            self._tasks = [asyncio.create_task(self._closed_loop()) for _ in range(int(level.value))]
        else:
            self._tasks = [asyncio.create_task(self._open_loop(level))]

    async def _closed_loop(self) -> None:
        while self._running:
            sample = await self._requester.send()
            self._samples.append(sample)  # after the await: drain() may have swapped the list meanwhile

    async def _open_loop(self, level: Level) -> None:
        rng = random.Random(self.seed)
        in_flight: set[asyncio.Task[None]] = set()
        gap = 1.0 / level.value
        next_at = time.perf_counter() + level.phase * gap
        try:
            while self._running:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    try:  # a long gap must not hold up stop()
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
                else:  # behind schedule: still let the requests in flight and the runner's clock run
                    await asyncio.sleep(0)
                if not self._running:
                    break
                if len(in_flight) >= self.max_in_flight:
                    now = time.perf_counter()
                    self._samples.append(Sample(now, now, 0.0, 0.0, 0.0, OVERLOADED))
                else:
                    task = asyncio.create_task(self._one())
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                next_at += rng.expovariate(level.value) if level.arrival == "poisson" else gap
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _one(self) -> None:
        sample = await self._requester.send()
        self._samples.append(sample)

    def drain(self) -> list[Sample]:
        samples, self._samples = self._samples, []
        return samples

    async def stop(self) -> None:
        """Stop starting requests and let the ones in flight finish (each is bounded by the request timeout)."""
        self._running = False
        self._stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._samples = []
        if self._requester is not None:
            self.first_errors.update({k: v for k, v in self._requester.first_errors.items()
                                      if k not in self.first_errors})

    async def close(self) -> None:
        if self._requester is not None:
            await self._requester.close()
            self._requester = None


# ------------------------------------------------------------------------------------------ several processes
FLUSH_S = 0.05


def _worker_main(conn: Any, target: Target, max_in_flight: int, seed: int) -> None:
    """A worker process: run the levels it is told to, sending its samples back every FLUSH_S seconds."""
    asyncio.run(_worker(conn, target, max_in_flight, seed))


async def _worker(conn: Any, target: Target, max_in_flight: int, seed: int) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def reader() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = ("exit", None)
            loop.call_soon_threadsafe(commands.put_nowait, message)
            if message[0] == "exit":
                return

    threading.Thread(target=reader, daemon=True).start()
    fleet = LocalFleet(target, max_in_flight=max_in_flight, seed=seed)
    running = False
    try:
        while True:
            try:
                command, arg = await asyncio.wait_for(commands.get(), timeout=FLUSH_S)
            except asyncio.TimeoutError:
                if running:
                    conn.send(("samples", fleet.drain()))
                continue
            if command == "start":
                await fleet.start(arg)
                running = True
                conn.send(("started", None))
            elif command == "stop":
                running = False
                conn.send(("samples", fleet.drain()))
                await fleet.stop()
                conn.send(("stopped", fleet.first_errors))
            elif command == "exit":
                return
    finally:
        await fleet.close()


class ProcessFleet:
    """The load shared by ``processes`` worker processes (spawned, so no gRPC state crosses a fork)."""

    def __init__(self, target: Target, processes: int, *, max_in_flight: int = 1024, seed: int = 0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conns = []
        self._procs = []
        for i in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker_main, args=(child, target, max_in_flight, seed + i), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._active: list[Any] = []
        self._pending: set[Any] = set()  # workers whose answer to the last command has not arrived yet
        self._samples: list[Sample] = []
        self.first_errors: dict[str, str] = {}

    def _pump(self) -> None:
        for conn in self._conns:
            while conn.poll():
                kind, payload = conn.recv()
                if kind == "samples":
                    self._samples.extend(payload)
                elif kind == "stopped":
                    self._pending.discard(conn)
                    for k, v in payload.items():
                        self.first_errors.setdefault(k, v)
                elif kind == "started":
                    self._pending.discard(conn)

    async def _wait_all(self, conns: list[Any], timeout: float) -> None:
        self._pending = set(conns)
        deadline = time.perf_counter() + timeout
        while self._pending and time.perf_counter() < deadline:
            self._pump()
            await asyncio.sleep(0.01)
        if self._pending:
            raise RuntimeError(f"{len(self._pending)} load worker process(es) did not answer in {timeout:g}s")

    async def start(self, level: Level) -> None:
        shares = level.split(len(self._conns))
        self._active = self._conns[: len(shares)]
        for conn, share in zip(self._active, shares):
            conn.send(("start", share))
        await self._wait_all(self._active, 60.0)
        self._samples = []

    def drain(self) -> list[Sample]:
        self._pump()
        samples, self._samples = self._samples, []
        return samples

    async def stop(self) -> None:
        for conn in self._active:
            conn.send(("stop", None))
        await self._wait_all(self._active, 120.0)
        self._samples = []

    async def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("exit", None))
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()


def make_fleet(target: Target, processes: int, *, max_in_flight: int, seed: int) -> LocalFleet | ProcessFleet:
    if processes <= 1:
        return LocalFleet(target, max_in_flight=max_in_flight, seed=seed)
    return ProcessFleet(target, processes, max_in_flight=max_in_flight, seed=seed)
