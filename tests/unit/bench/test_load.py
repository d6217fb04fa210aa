"""The load generator keeps every sample: requests that complete while the runner drains are not lost (slow
requests would otherwise vanish from the percentiles), in closed-loop and in rate mode."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from toolkit.bench.load import LocalFleet
from toolkit.bench.options import Level
from toolkit.bench.stats import Sample
from toolkit.bench.transport import Target


class CountingRequester:
    """A stand-in transport: each send takes a few ms and is counted."""

    def __init__(self, target: Target, connections: int) -> None:
        self.sent = 0
        self.first_errors: dict[str, str] = {}

    async def open(self) -> None:
        pass

    async def send(self) -> Sample:
        self.sent += 1
        start = time.perf_counter()
        await asyncio.sleep(0.003 * (1 + self.sent % 5))
        return Sample(start, time.perf_counter(), 0.0, 0.0, 0.0, None if self.sent % 7 else "UNAVAILABLE")

    async def close(self) -> None:
        pass


def _run(level: Level) -> tuple[int, list[Sample]]:
    async def go() -> tuple[int, list[Sample]]:
        made: list[CountingRequester] = []

        def factory(target: Target, connections: int) -> CountingRequester:
            made.append(CountingRequester(target, connections))
            return made[-1]

        fleet = LocalFleet(Target("grpc", "x", "m", {"x": np.zeros(1)}), make_requester=factory)
        await fleet.start(level)
        collected: list[Sample] = []
        deadline = time.perf_counter() + 0.4
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.001)  # drain far more often than requests complete
            collected += fleet.drain()
        fleet._running = False  # stop starting requests, then collect the ones still in flight
        await asyncio.gather(*fleet._tasks)
        collected += fleet.drain()
        return made[0].sent, collected

    return asyncio.run(go())


def test_closed_loop_loses_no_sample_across_drains() -> None:
    sent, samples = _run(Level("concurrency", 4))
    assert sent > 20 and len(samples) == sent
    assert sum(s.error == "UNAVAILABLE" for s in samples) == sent // 7


def test_rate_mode_loses_no_sample_across_drains() -> None:
    sent, samples = _run(Level("rate", 200.0, "poisson"))
    assert sent > 10 and len(samples) == sent
