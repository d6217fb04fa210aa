"""Numbers from request samples: percentiles, one measurement window's summary, and the stability rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Sample:
    """One request as the client saw it: when it started and ended (perf_counter seconds, one clock for all
    processes on Linux), the client-side split encode / wait (send to last byte) / decode, and its error type
    (None when it succeeded)."""

    start: float
    end: float
    encode: float
    wait: float
    decode: float
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class WindowStats:
    """A summary of the requests that completed in one window ``[start, end)``."""

    start: float
    end: float
    requests: int
    ok: int
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p95, p99, max, mean (successes)
    split_ms: dict[str, float] = field(default_factory=dict)  # mean encode / wait / decode (successes)

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.ok / self.seconds

    @property
    def completion_rate(self) -> float:
        """All completed requests (ok or not) per second."""
        return self.requests / self.seconds


def summarize(samples: Sequence[Sample], start: float, end: float) -> WindowStats:
    """Summarize ``samples`` over the window ``[start, end)``."""
    errors = Counter(s.error for s in samples if s.error is not None)
    good = [s for s in samples if s.error is None]
    stats = WindowStats(start, end, len(samples), len(good), dict(sorted(errors.items())))
    if good:
        latencies = np.fromiter((s.latency for s in good), dtype=np.float64, count=len(good)) * 1e3
        values = np.percentile(latencies, PERCENTILES)
        stats.latency_ms = {f"p{p}": float(v) for p, v in zip(PERCENTILES, values)}
        stats.latency_ms["max"] = float(latencies.max())
        stats.latency_ms["mean"] = float(latencies.mean())
        for part in ("encode", "wait", "decode"):
            stats.split_ms[part] = float(np.mean([getattr(s, part) for s in good]) * 1e3)
    return stats


def spread(values: Sequence[float]) -> float:
    """max/min - 1 (0.1 = the largest is 10% above the smallest); inf when the smallest is 0."""
    low, high = min(values), max(values)
    if high == 0:
        return 0.0
    return float("inf") if low <= 0 else high / low - 1.0


def is_stable(windows: Sequence[WindowStats], tolerance: float, last: int = 3) -> bool:
    """perf_analyzer's rule: the last ``last`` windows' throughput and latency (here p50 and p99) each have
    max/min within ``1 + tolerance``. Windows without a success are judged on their completion rate alone."""
    if len(windows) < last:
        return False
    recent = windows[-last:]
    if all(w.ok for w in recent):
        metrics = [[w.throughput for w in recent], [w.latency_ms["p50"] for w in recent],
                   [w.latency_ms["p99"] for w in recent]]
    elif not any(w.ok for w in recent):
        metrics = [[w.completion_rate for w in recent]]
    else:
        return False
    return all(spread(m) <= tolerance for m in metrics)
