"""What ``tfs bench`` measures and how hard: the load levels, window bounds, stability tolerance, budgets.

``BadOption`` is raised for an option that cannot work; its message names the option, what was expected and what
was given (the CLI prints it as one line and exits 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from toolkit.errors import ToolkitError

PROTOCOLS = ("grpc", "rest")
ARRIVALS = ("constant", "poisson")
EXIT_BAD_OPTION = 3
"""The exit status of ``tfs bench`` for an option value that cannot work (0, 1 and 2 are the report's)."""


class BadOption(ToolkitError, ValueError):
    """An option value that cannot work: the message names the option, the expected and the got value (exit 3)."""

    exit_code = EXIT_BAD_OPTION

    def __init__(self, option: str, expected: str, got: object) -> None:
        super().__init__(f"{option}: expected {expected}, got {got!r}")
        self.option = option


@dataclass(frozen=True)
class Level:
    """One load level: ``concurrency`` requests always in flight, or ``rate`` requests started per second
    (``constant`` gaps or ``poisson`` arrivals)."""

    mode: Literal["concurrency", "rate"]
    value: float
    arrival: str = "constant"
    phase: float = 0.0  # rate mode: the first arrival comes this fraction of a gap after the start

    @property
    def label(self) -> str:
        if self.mode == "concurrency":
            return f"c={int(self.value)}"
        return f"{self.value:g}/s" + (" poisson" if self.arrival == "poisson" else "")

    def split(self, parts: int) -> list[Level]:
        """The same load shared by ``parts`` processes (concurrency as evenly as integers allow)."""
        if self.mode == "concurrency":
            total = int(self.value)
            shares = [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
            return [Level("concurrency", s, self.arrival) for s in shares if s > 0]
        # Each process starts a fraction of its gap later than the one before, so constant arrivals from several
        # processes interleave evenly instead of coming in bursts of ``parts``.
        return [Level("rate", self.value / parts, self.arrival, phase=i / parts) for i in range(parts)]


@dataclass(frozen=True)
class BenchOptions:
    """Defaults follow perf_analyzer where it has one (stability 10%, at most 10 windows, three compared)."""

    levels: tuple[Level, ...] = (Level("concurrency", 1), Level("concurrency", 4), Level("concurrency", 16))
    protocols: tuple[str, ...] = PROTOCOLS
    warmup_s: float = 1.0
    window_s: float = 2.0
    window_requests: int = 100
    stability: float = 0.10
    max_windows: int = 10
    max_seconds: float = 300.0
    timeout_s: float = 10.0
    max_error_rate: float = 0.0
    processes: int = 1
    max_in_flight: int = 1024  # rate mode: requests beyond this many in flight are dropped (and counted)
    ceiling: bool = True
    seed: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive("--warmup", self.warmup_s, allow_zero=True)
        check_positive("--window", self.window_s)
        check_int("--window-requests", self.window_requests, 1)
        check_positive("--stability", self.stability)
        check_int("--max-windows", self.max_windows, 3)
        check_positive("--max-seconds", self.max_seconds)
        check_positive("--timeout", self.timeout_s)
        if not 0 <= self.max_error_rate <= 1:
            raise BadOption("--max-error-rate", "a fraction in 0..1", self.max_error_rate)
        check_int("--processes", self.processes, 1)
        if not self.levels:
            raise BadOption("--concurrency/--rate", "at least one level", "")
        for protocol in self.protocols:
            if protocol not in PROTOCOLS:
                raise BadOption("--protocol", f"a comma-separated list of {', '.join(PROTOCOLS)}", protocol)


def check_positive(option: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value != value or value == float("inf"):
        raise BadOption(option, "a number >= 0" if allow_zero else "a number > 0", value)


def check_int(option: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadOption(option, f"an integer >= {minimum}", value)


def parse_levels(concurrency: str | None, rate: str | None, arrival: str) -> tuple[Level, ...]:
    """``--concurrency 1,4,16`` or ``--rate 50,100`` (not both) into levels."""
    if concurrency and rate:
        raise BadOption("--rate", "either --concurrency or --rate, not both", rate)
    if arrival not in ARRIVALS:
        raise BadOption("--arrival", " or ".join(ARRIVALS), arrival)
    if rate:
        values = _split(rate)
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            numbers = []
        if not numbers or any(not (0 < n < float("inf")) for n in numbers):
            raise BadOption("--rate", "comma-separated requests per second > 0 (e.g. 50,100)", rate)
        return tuple(Level("rate", n, arrival) for n in numbers)
    text = concurrency or "1,4,16"
    values = _split(text)
    if not values or not all(v.isdigit() and int(v) >= 1 for v in values):
        raise BadOption("--concurrency", "comma-separated integers >= 1 (e.g. 1,4,16,64)", text)
    return tuple(Level("concurrency", int(v), arrival) for v in values)


def parse_protocols(text: str | None, available: dict[str, str | None]) -> tuple[str, ...]:
    """``--protocol grpc,rest`` checked against the endpoints known; default: every protocol with an endpoint."""
    if not text:
        chosen = tuple(p for p in PROTOCOLS if available.get(p))
        if not chosen:
            raise BadOption("--grpc/--rest", "at least one server endpoint", "none")
        return chosen
    chosen = tuple(dict.fromkeys(_split(text)))
    for protocol in chosen:
        if protocol not in PROTOCOLS:
            raise BadOption("--protocol", f"a comma-separated list of {', '.join(PROTOCOLS)}", text)
        if not available.get(protocol):
            flag = "--grpc HOST:PORT" if protocol == "grpc" else "--rest URL"
            raise BadOption("--protocol", f"an endpoint for {protocol} ({flag})", "none")
    return chosen


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
