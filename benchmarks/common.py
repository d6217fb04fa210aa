"""Shared pieces of the benchmarks: a result row (ours vs baseline, ratio with its spread, target and verdict),
timing helpers, interleaved rounds, and the printed table / JSON file."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass
class Row:
    """One comparison. ``ratio`` is the per-round median of ``better / worse`` as the target phrases it;
    ``spread`` is (min, max) of that ratio over the rounds, so one noisy round cannot hide."""

    section: str
    name: str
    ours: float
    baseline: float
    unit: str
    ratio: float
    spread: tuple[float, float]
    target: str = ""
    passed: bool | None = None  # None: no target, informational
    rounds: int = 1
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def ratio_row(section: str, name: str, ours: list[float], baseline: list[float], unit: str, *, target: str = "",
              goal: Callable[[float], bool] | None = None, invert: bool = False, notes: str = "") -> Row:
    """``ours`` and ``baseline`` measured in the same interleaved rounds; ratio = baseline/ours (a speed-up) or,
    with ``invert``, ours/baseline (a slow-down or a share)."""
    per_round = [(o / b if invert else b / o) if (b if invert else o) else float("inf")
                 for o, b in zip(ours, baseline)]
    ratio = statistics.median(per_round)
    return Row(section, name, statistics.median(ours), statistics.median(baseline), unit, ratio,
               (min(per_round), max(per_round)), target, None if goal is None else bool(goal(ratio)),
               len(per_round), notes)


def timed(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``fn`` over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def interleaved(pairs: list[tuple[Callable[[], object], Callable[[], object]]], *, rounds: int, number: int,
                ) -> list[tuple[list[float], list[float]]]:
    """For each (ours, baseline) pair, ``rounds`` alternating timings (ABAB..., order flipped every round)."""
    out = []
    for ours, base in pairs:
        ours(), base()  # warm-up
        a, b = [], []
        for r in range(rounds):
            if r % 2:
                b.append(timed(base, number))
                a.append(timed(ours, number))
            else:
                a.append(timed(ours, number))
                b.append(timed(base, number))
        out.append((a, b))
    return out


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "us":
        return f"{value * 1e6:.1f} us"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.3g} {unit}"


def print_rows(rows: list[Row]) -> None:
    header = ("section", "measurement", "ours", "baseline", "ratio [min-max]", "target", "verdict")
    lines = [header]
    for r in rows:
        verdict = "-" if r.passed is None else ("PASS" if r.passed else "FAIL")
        lines.append((r.section, r.name, fmt(r.ours, r.unit), fmt(r.baseline, r.unit),
                      f"{r.ratio:.2f}x [{r.spread[0]:.2f}-{r.spread[1]:.2f}] n={r.rounds}", r.target or "-", verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.notes:
            print(f"  note ({r.section}: {r.name}): {r.notes}")


def write_json(rows: list[Row], path: Path, meta: dict) -> Path:
    path.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2), encoding="utf-8")
    return path
