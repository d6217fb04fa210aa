"""The measurement loop: per protocol and level, warm up, then measure windows until stable or out of budget.

A window ends once it has lasted ``window_s`` AND holds ``window_requests`` completed requests (so slow models
still get enough samples), or when the total budget runs out. A level is stable when its last three windows agree
(``stats.is_stable``); the level's figures are those three windows together.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from toolkit.bench.load import make_fleet
from toolkit.bench.options import BenchOptions, Level
from toolkit.bench.report import BenchReport, LevelResult
from toolkit.bench.stats import Sample, WindowStats, is_stable, summarize
from toolkit.bench.transport import Target

POLL_S = 0.05
Progress = Callable[[str], None]


async def measure_level(fleet: Any, protocol: str, level: Level, options: BenchOptions, deadline: float,
                        progress: Progress | None = None) -> LevelResult:
    """Run one level on ``fleet`` and return its result (``status``: stable, unstable or budget)."""
    started = time.perf_counter()
    await fleet.start(level)
    warm_until = time.perf_counter() + options.warmup_s
    warmup_requests = 0
    while time.perf_counter() < min(warm_until, deadline):
        await asyncio.sleep(POLL_S)
        warmup_requests += len(fleet.drain())
    warmup_requests += len(fleet.drain())

    windows: list[WindowStats] = []
    kept: list[list[Sample]] = []
    carry: list[Sample] = []
    status = "unstable"
    while True:
        w_start = time.perf_counter()
        samples = [s for s in carry if s.end >= w_start]
        carry = []
        while True:
            await asyncio.sleep(POLL_S)
            now = time.perf_counter()
            for sample in fleet.drain():
                (samples if sample.end < now else carry).append(sample)
            if (now - w_start >= options.window_s and len(samples) >= options.window_requests) or now >= deadline:
                break
        window = summarize(samples, w_start, now)
        windows.append(window)
        kept = [*kept[-2:], samples]
        if progress is not None:
            progress(_progress_line(protocol, level, windows))
        if is_stable(windows, options.stability):
            status = "stable"
            break
        if time.perf_counter() >= deadline:
            status = "budget"
            break
        if len(windows) >= options.max_windows:
            break
    await fleet.stop()
    recent = windows[-3:]
    merged = summarize([s for group in kept for s in group], recent[0].start, recent[-1].end)
    return LevelResult(protocol=protocol, level=level, status=status, windows=windows, merged=merged,
                       warmup_requests=warmup_requests, seconds=time.perf_counter() - started,
                       errors_example=dict(getattr(fleet, "first_errors", {})))


def _progress_line(protocol: str, level: Level, windows: list[WindowStats]) -> str:
    w = windows[-1]
    lat = f"p50 {w.latency_ms['p50']:.2f} ms  p99 {w.latency_ms['p99']:.2f} ms" if w.ok else "no successes"
    errors = f"  errors {w.requests - w.ok}" if w.requests != w.ok else ""
    return f"{protocol} {level.label}: window {len(windows)}  {w.throughput:.1f} req/s  {lat}{errors}"


async def run_levels(targets: Mapping[str, Target], options: BenchOptions, *, progress: Progress | None = None,
                     deadline: float | None = None) -> list[LevelResult]:
    """Every level of ``options`` for every protocol in ``targets``, within the total budget."""
    deadline = deadline if deadline is not None else time.perf_counter() + options.max_seconds
    results: list[LevelResult] = []
    for protocol in options.protocols:
        fleet = make_fleet(targets[protocol], options.processes, max_in_flight=options.max_in_flight,
                           seed=options.seed)
        try:
            for level in options.levels:
                if time.perf_counter() >= deadline:
                    results.append(LevelResult.skipped(protocol, level))
                    continue
                results.append(await measure_level(fleet, protocol, level, options, deadline, progress))
        finally:
            await fleet.close()
    return results


def machine() -> dict[str, Any]:
    """Where the numbers were taken (the report states it)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(), "python": platform.python_version(),
            "load_average_1m": round(load[0], 2)}


def run_bench(targets: Mapping[str, Target], options: BenchOptions, *, progress: Progress | None = None,
              ceiling: Mapping[str, float] | None = None, started: float | None = None) -> BenchReport:
    """Measure, and wrap the results in a report (exit code, tables, JSON/CSV). ``started`` (perf_counter) is when
    the run began, if earlier (the ceiling measured first): ``max_seconds`` bounds the whole run from then."""
    started = started if started is not None else time.perf_counter()
    results = asyncio.run(run_levels(targets, options, progress=progress, deadline=started + options.max_seconds))
    first = next(iter(targets.values()))
    return BenchReport(
        model=first.model, version=first.version, label=first.label, signature=first.signature,
        endpoints={p: t.endpoint for p, t in targets.items()},
        inputs={k: {"dtype": str(np.asarray(v).dtype), "shape": list(np.asarray(v).shape)}
                for k, v in first.inputs.items()},
        options=options, levels=results, ceiling=dict(ceiling or {}), machine=machine(),
        seconds=time.perf_counter() - started)
