"""What ``tfs bench`` found: one ``LevelResult`` per protocol and load level, the generator's ceiling, the
machine; printed as a table, written as JSON or CSV, and turned into the exit code.

Exit codes: 0 every level stable with an error rate within ``--max-error-rate``; 1 a level's error rate above it;
2 a level not stable (or not measured within the time budget); 3 a bad option (raised before any report exists).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.bench.options import BenchOptions, Level
from toolkit.bench.stats import WindowStats

EXIT_OK, EXIT_ERRORS, EXIT_UNSTABLE = 0, 1, 2  # EXIT_BAD_OPTION (3): toolkit.bench.options
LATENCY_KEYS = ("p50", "p90", "p95", "p99", "max", "mean")
CSV_COLUMNS = ("protocol", "mode", "level", "arrival", "status", "requests", "ok", "errors", "errors_by_type",
               "error_rate", "throughput_rps",
               *(f"latency_{k}_ms" for k in LATENCY_KEYS), "encode_ms", "wait_ms", "decode_ms", "windows",
               "warmup_requests", "seconds", "ceiling_fraction")


@dataclass
class LevelResult:
    """One protocol at one load level. ``merged`` sums the last three windows (what the level reports);
    ``status`` is ``stable``, ``unstable`` (max windows reached), ``budget`` (time ran out) or ``skipped``."""

    protocol: str
    level: Level
    status: str
    windows: list[WindowStats] = field(default_factory=list)
    merged: WindowStats | None = None
    warmup_requests: int = 0
    seconds: float = 0.0
    errors_example: dict[str, str] = field(default_factory=dict)

    @classmethod
    def skipped(cls, protocol: str, level: Level) -> LevelResult:
        return cls(protocol, level, "skipped")

    @property
    def requests(self) -> int:
        return self.merged.requests if self.merged else 0

    @property
    def errors(self) -> dict[str, int]:
        return dict(self.merged.errors) if self.merged else {}

    @property
    def error_rate(self) -> float:
        return (self.requests - self.merged.ok) / self.requests if self.merged and self.requests else 0.0

    @property
    def throughput(self) -> float:
        return self.merged.throughput if self.merged else 0.0

    def to_json(self) -> dict[str, Any]:
        m = self.merged
        return {
            "protocol": self.protocol, "mode": self.level.mode, "level": self.level.value,
            "arrival": self.level.arrival, "label": self.level.label, "status": self.status,
            "requests": self.requests, "ok": m.ok if m else 0, "errors": self.errors,
            "error_examples": {k: v for k, v in self.errors_example.items() if k in self.errors},
            "error_rate": self.error_rate, "throughput_rps": self.throughput,
            "latency_ms": dict(m.latency_ms) if m else {}, "client_split_ms": dict(m.split_ms) if m else {},
            "warmup_requests": self.warmup_requests, "seconds": self.seconds,
            "windows": [{"seconds": w.seconds, "requests": w.requests, "ok": w.ok, "throughput_rps": w.throughput,
                         "p50_ms": w.latency_ms.get("p50"), "p99_ms": w.latency_ms.get("p99"),
                         "errors": w.errors} for w in self.windows],
        }


@dataclass
class BenchReport:
    model: str
    version: int | None
    label: str | None
    signature: str | None
    endpoints: dict[str, str]
    inputs: dict[str, dict[str, Any]]
    options: BenchOptions
    levels: list[LevelResult]
    ceiling: dict[str, float] = field(default_factory=dict)  # protocol -> generator's max req/s (trivial model)
    machine: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    inputs_source: str = ""

    # ------------------------------------------------------------------------------------------- verdict
    @property
    def exit_code(self) -> int:
        if any(r.error_rate > self.options.max_error_rate for r in self.levels):
            return EXIT_ERRORS
        if any(r.status != "stable" for r in self.levels):
            return EXIT_UNSTABLE
        return EXIT_OK

    def ceiling_fraction(self, result: LevelResult) -> float | None:
        """The level's throughput as a fraction of the load generator's own ceiling on that protocol."""
        ceiling = self.ceiling.get(result.protocol)
        return result.throughput / ceiling if ceiling else None

    def problems(self) -> list[str]:
        lines = []
        for r in self.levels:
            if r.error_rate > self.options.max_error_rate:
                kinds = ", ".join(f"{k} x{v}" for k, v in r.errors.items())
                lines.append(f"{r.protocol} {r.level.label}: error rate {r.error_rate:.2%} above "
                             f"--max-error-rate {self.options.max_error_rate:.2%} ({kinds})")
                for kind, message in r.errors_example.items():
                    if kind in r.errors:
                        lines.append(f"  {kind}: {message}")
            if r.status != "stable":
                why = {"unstable": f"not stable within {self.options.stability:.0%} after {len(r.windows)} windows",
                       "budget": f"time budget (--max-seconds {self.options.max_seconds:g}) ran out before "
                                 "it was stable",
                       "skipped": "not measured: the time budget ran out"}[r.status]
                lines.append(f"{r.protocol} {r.level.label}: {why}")
            fraction = self.ceiling_fraction(r)
            if fraction is not None and fraction >= 0.8:
                lines.append(f"{r.protocol} {r.level.label}: {fraction:.0%} of the load generator's ceiling; "
                             "add --processes to be sure the server, not the client, is the limit")
        return lines

    def summary_line(self) -> str:
        verdict = {EXIT_OK: "OK", EXIT_ERRORS: "ERRORS", EXIT_UNSTABLE: "UNSTABLE"}[self.exit_code]
        total = sum(r.requests for r in self.levels)
        return f"tfs bench: {verdict}: {len(self.levels)} level(s), {total} measured requests in {self.seconds:.1f}s"

    # ------------------------------------------------------------------------------------------- outputs
    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "model": self.model, "version": self.version, "label": self.label, "signature": self.signature,
            "endpoints": self.endpoints, "inputs": self.inputs, "inputs_source": self.inputs_source,
            "options": {"warmup_s": o.warmup_s, "window_s": o.window_s, "window_requests": o.window_requests,
                        "stability": o.stability, "max_windows": o.max_windows, "max_seconds": o.max_seconds,
                        "timeout_s": o.timeout_s, "max_error_rate": o.max_error_rate, "processes": o.processes},
            "machine": self.machine, "ceiling_rps": self.ceiling, "seconds": self.seconds,
            "exit_code": self.exit_code, "levels": [r.to_json() for r in self.levels],
        }

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return path

    def csv_rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.levels:
            m = r.merged
            fraction = self.ceiling_fraction(r)
            row = {"protocol": r.protocol, "mode": r.level.mode, "level": r.level.value,
                   "arrival": r.level.arrival if r.level.mode == "rate" else "", "status": r.status,
                   "requests": r.requests, "ok": m.ok if m else 0, "errors": r.requests - (m.ok if m else 0),
                   "errors_by_type": ";".join(f"{k}={v}" for k, v in r.errors.items()),
                   "error_rate": round(r.error_rate, 6), "throughput_rps": round(r.throughput, 3),
                   "windows": len(r.windows), "warmup_requests": r.warmup_requests,
                   "seconds": round(r.seconds, 3), "ceiling_fraction": "" if fraction is None else round(fraction, 4)}
            for key in LATENCY_KEYS:
                value = m.latency_ms.get(key) if m else None
                row[f"latency_{key}_ms"] = "" if value is None else round(value, 4)
            for part in ("encode", "wait", "decode"):
                value = m.split_ms.get(part) if m else None
                row[f"{part}_ms"] = "" if value is None else round(value, 4)
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.csv_rows())
        return out.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_csv(), encoding="utf-8")
        return path

    def table(self) -> Any:
        """A rich Table: one row per protocol and level."""
        from rich.table import Table

        target = self.model + (f" v{self.version}" if self.version is not None
                               else f" @{self.label}" if self.label else "")
        table = Table(title=f"tfs bench {target}" + (f" [{self.signature}]" if self.signature else ""))
        for name in ("protocol", "level", "req/s", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms",
                     "encode/wait/decode ms", "errors", "windows", "status"):
            table.add_column(name, justify="left" if name in ("protocol", "level", "errors", "status") else "right")
        for r in self.levels:
            m = r.merged
            lat = [f"{m.latency_ms[k]:.2f}" if m and m.latency_ms else "-" for k in ("p50", "p90", "p95", "p99", "max")]
            split = "/".join(f"{m.split_ms[p]:.2f}" for p in ("encode", "wait", "decode")) if m and m.split_ms else "-"
            errors = ", ".join(f"{k} {v}" for k, v in r.errors.items()) or "0"
            table.add_row(r.protocol, r.level.label, f"{r.throughput:.1f}", *lat, split, errors,
                          str(len(r.windows)), r.status)
        return table

    def ceiling_lines(self) -> list[str]:
        return [f"load generator ceiling ({p}, trivial model, {self.options.processes} process(es)): {v:.0f} req/s"
                for p, v in self.ceiling.items()]
