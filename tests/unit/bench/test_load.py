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
        number = self.sent  # this request's number: self.sent moves on while it waits
        start = time.perf_counter()
        await asyncio.sleep(0.003 * (1 + number % 5))
        return Sample(start, time.perf_counter(), 0.0, 0.0, 0.0, None if number % 7 else "UNAVAILABLE")

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


class Recording(CountingRequester):
    """Records when each request started; answers at once."""

    starts: list[float] = []

    async def send(self) -> Sample:
        now = time.perf_counter()
        Recording.starts.append(now)
        return Sample(now, now, 0.0, 0.0, 0.0)


def _fleet(requester: type[CountingRequester], **kw: object) -> LocalFleet:
    return LocalFleet(Target("grpc", "x", "m", {"x": np.zeros(1)}), make_requester=requester, **kw)  # type: ignore[arg-type]


def test_a_slow_rate_stops_at_once_not_at_its_next_arrival() -> None:
    async def go() -> float:
        fleet = _fleet(Recording)
        await fleet.start(Level("rate", 0.05))  # one request every 20 s
        await asyncio.sleep(0.1)
        began = time.perf_counter()
        await fleet.stop()
        return time.perf_counter() - began

    assert asyncio.run(go()) < 10  # it waited for the next arrival (~20 s) before


def test_a_rate_beyond_the_generator_still_lets_the_loop_run_and_counts_overload() -> None:
    """An arrival schedule the generator cannot keep up with must not starve the event loop (the runner's clock
    and stop() run on it): the loop yields, and arrivals beyond max_in_flight are counted as overloaded."""
    from toolkit.bench.load import OVERLOADED

    result: dict[str, object] = {}

    async def go() -> None:
        fleet = _fleet(CountingRequester, max_in_flight=8)
        await fleet.start(Level("rate", 1e7))
        await asyncio.sleep(0.3)  # never returned before: the rate loop did not yield when behind schedule
        samples = fleet.drain()
        await fleet.stop()
        result["overloaded"] = sum(s.error == OVERLOADED for s in samples)
        result["done"] = True

    import threading

    worker = threading.Thread(target=lambda: asyncio.run(go()), daemon=True)
    worker.start()
    worker.join(30)
    assert result.get("done"), "the rate loop starved the event loop"
    assert result["overloaded"] > 0  # type: ignore[operator]


def test_phase_delays_the_first_arrival_by_that_fraction_of_a_gap() -> None:
    async def go() -> float:
        Recording.starts = []
        fleet = _fleet(Recording)
        began = time.perf_counter()
        await fleet.start(Level("rate", 2.0, phase=0.5))  # gap 0.5 s: first arrival after 0.25 s
        while not Recording.starts:
            await asyncio.sleep(0.01)
        await fleet.stop()
        return Recording.starts[0] - began

    assert asyncio.run(go()) >= 0.24
