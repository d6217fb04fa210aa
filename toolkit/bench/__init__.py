"""``tfs bench``: a load tester for TF Serving (ours or the real one) over gRPC and REST, built on the project's
async clients.

Each load level (a concurrency, or a request rate) is warmed up, then measured in windows bounded by time and
request count, repeated until throughput, p50 and p99 of the last three windows agree within a tolerance
(perf_analyzer's rule: max/min within the stability percentage), under a bound on the total time.

    from toolkit.bench import BenchOptions, run_bench
"""

from __future__ import annotations

from toolkit.bench.options import BadOption, BenchOptions, Level
from toolkit.bench.report import BenchReport, LevelResult
from toolkit.bench.runner import run_bench

__all__ = ["BadOption", "BenchOptions", "BenchReport", "Level", "LevelResult", "run_bench"]
