"""The load generator's own ceiling: the same requests, the same processes and concurrency, against the
trivial servers (``toolkit.bench.trivial``) in a subprocess, so the report can say how close a level came to what
the client side can produce at all."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from toolkit.bench.options import BenchOptions, Level
from toolkit.bench.runner import run_levels
from toolkit.bench.transport import Target


@contextmanager
def trivial_servers() -> Iterator[dict[str, str]]:
    """Start ``python -m toolkit.bench.trivial`` on free 127.0.0.1 ports; yields {"grpc": target, "rest": url}."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.bench.trivial"], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("READY"):
            raise RuntimeError(f"the trivial server did not start (exit {proc.poll()}): {line!r}")
        ports = dict(part.split("=") for part in line.split()[1:])
        yield {"grpc": f"127.0.0.1:{ports['grpc']}", "rest": f"http://127.0.0.1:{ports['rest']}"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def ceiling_level(options: BenchOptions) -> Level:
    """The most load the run asks for: its highest concurrency (rate mode: 64 in flight)."""
    concurrencies = [int(level.value) for level in options.levels if level.mode == "concurrency"]
    return Level("concurrency", max(concurrencies) if concurrencies else 64)


def measure_ceiling(targets: Mapping[str, Target], options: BenchOptions, *, seconds: float = 20.0) -> dict[str, float]:
    """Requests/s the generator reaches per protocol against the trivial servers (short windows, at most
    ``seconds`` and a quarter of the run's ``max_seconds``, which bounds the whole run, this included)."""
    short = dataclasses.replace(options, levels=(ceiling_level(options),), warmup_s=0.5,
                                window_s=min(options.window_s, 1.0), max_windows=5,
                                max_seconds=min(seconds, options.max_seconds / 4),
                                ceiling=False)
    with trivial_servers() as endpoints:
        trivial = {p: dataclasses.replace(t, endpoint=endpoints[p], model="trivial", version=None, label=None)
                   for p, t in targets.items()}
        results = asyncio.run(run_levels(trivial, short))
    return {r.protocol: r.throughput for r in results if r.status != "skipped"}  # out of time: not measured
