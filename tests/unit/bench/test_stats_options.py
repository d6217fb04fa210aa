"""tfs bench's pure parts: window summaries, the stability rule, option parsing and bad-option exit status 3."""

from __future__ import annotations

import pytest

from toolkit.bench.options import BadOption, BenchOptions, Level, parse_levels, parse_protocols
from toolkit.bench.stats import Sample, WindowStats, is_stable, spread, summarize
from toolkit.cli import main


def _samples(latencies_ms: list[float], errors: list[str | None] | None = None) -> list[Sample]:
    errors = errors or [None] * len(latencies_ms)
    return [Sample(i, i + ms / 1e3, 0.0001, ms / 1e3 - 0.0002, 0.0001, err)
            for i, (ms, err) in enumerate(zip(latencies_ms, errors))]


def test_summarize_counts_add_up_and_percentiles_are_ordered() -> None:
    samples = _samples([1.0, 2.0, 3.0, 4.0, 100.0], [None, None, "NOT_FOUND", None, None])
    stats = summarize(samples, 0.0, 10.0)
    assert stats.requests == 5 and stats.ok == 4 and stats.errors == {"NOT_FOUND": 1}
    lat = stats.latency_ms
    assert lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"] == pytest.approx(100.0)
    assert stats.throughput == pytest.approx(0.4)
    assert stats.split_ms["encode"] == pytest.approx(0.1)


def _window(rps: float, p50: float, p99: float) -> WindowStats:
    return WindowStats(0.0, 1.0, int(rps), int(rps), {}, {"p50": p50, "p99": p99})


def test_stable_needs_three_windows_within_tolerance_on_throughput_p50_and_p99() -> None:
    steady = [_window(100, 1.0, 2.0), _window(105, 1.05, 2.1), _window(102, 1.02, 2.05)]
    assert is_stable(steady, 0.10)
    assert not is_stable(steady[:2], 0.10)
    assert not is_stable([*steady[:2], _window(102, 1.02, 3.0)], 0.10)  # p99 moved 50%
    assert not is_stable([*steady[:2], _window(150, 1.02, 2.0)], 0.10)  # throughput moved
    assert spread([1.0, 1.1]) == pytest.approx(0.1)


def test_levels_and_protocols_parse_or_name_the_option() -> None:
    assert parse_levels("1,4,16", None, "constant") == tuple(Level("concurrency", n) for n in (1, 4, 16))
    assert parse_levels(None, "50,100", "poisson")[1] == Level("rate", 100.0, "poisson")
    for args, option in [(("0", None, "constant"), "--concurrency"), (("x", None, "constant"), "--concurrency"),
                         ((None, "-5", "constant"), "--rate"), (("1", "5", "constant"), "--rate"),
                         ((None, "5", "gamma"), "--arrival")]:
        with pytest.raises(BadOption, match=f"^{option}: expected .*, got "):
            parse_levels(*args)
    assert parse_protocols(None, {"grpc": "h:1", "rest": None}) == ("grpc",)
    with pytest.raises(BadOption, match="--protocol: expected an endpoint for rest"):
        parse_protocols("rest", {"grpc": "h:1", "rest": None})
    with pytest.raises(BadOption, match="--max-windows: expected an integer >= 3, got 2"):
        BenchOptions(max_windows=2)
    assert Level("concurrency", 5).split(2) == [Level("concurrency", 3), Level("concurrency", 2)]
    # A rate shared by processes: each starts a fraction of its gap after the previous one (even interleaving).
    assert [(lv.value, lv.phase) for lv in Level("rate", 40.0).split(4)] == [(10.0, 0.0), (10.0, 0.25),
                                                                             (10.0, 0.5), (10.0, 0.75)]


@pytest.mark.parametrize("args, option", [
    (["--concurrency", "1,0"], "--concurrency"),
    (["--rate", "10", "--concurrency", "2"], "--rate"),
    (["--window", "0"], "--window"),
    (["--window", "abc"], "--window"),
    (["--stability", "-1"], "--stability"),
    (["--max-error-rate", "2"], "--max-error-rate"),
    (["--processes", "0"], "--processes"),
    (["--version", "1", "--label", "stable"], "--label"),
    (["--protocol", "rest"], "--protocol"),
    (["--protocol", "grpc,udp"], "--protocol"),
    (["--inputs", "magic"], "--inputs"),
    (["--data", "/nonexistent/x.npz"], "--data"),
    (["--data", ".", "--batch", "4"], "--batch"),  # --data is sent as it is: --batch cannot apply
    (["--no-such-option"], "--no-such-option"),
    (["--json", "/nonexistent/r.json"], "--json"),  # found before the run, not after it
    (["--csv", "/nonexistent/r.csv"], "--csv"),
    (["--plot", "/"], "--plot"),
])
def test_bad_option_is_one_line_and_exit_3(args: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    # 127.0.0.1:9 (discard) is never contacted: options are checked before any request.
    code = main(["bench", "--model", "half", "--grpc", "127.0.0.1:9", *args])
    err = capsys.readouterr().err.strip()
    assert code == 3, err
    assert len(err.splitlines()) == 1 and option in err, err


def test_the_ceiling_takes_at_most_a_quarter_of_the_run_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """--max-seconds bounds the whole run: the ceiling measured first gets a share of it, and the levels get what
    is left from the run's start (run_bench's ``started``)."""
    import contextlib

    import numpy as np

    from toolkit.bench import ceiling, runner
    from toolkit.bench.transport import Target

    seen: dict[str, float] = {}

    async def fake_levels(targets, options, *, progress=None, deadline=None):  # type: ignore[no-untyped-def]
        seen.setdefault("ceiling_budget", options.max_seconds)
        if deadline is not None:
            seen["deadline"] = deadline
        return []

    monkeypatch.setattr(ceiling, "run_levels", fake_levels)
    monkeypatch.setattr(ceiling, "trivial_servers",
                        contextlib.contextmanager(lambda: iter([{"grpc": "127.0.0.1:9", "rest": "http://x"}])))
    targets = {"grpc": Target("grpc", "127.0.0.1:9", "m", {"x": np.zeros(1)})}
    assert ceiling.measure_ceiling(targets, BenchOptions(max_seconds=8.0)) == {}
    assert seen["ceiling_budget"] == 2.0
    monkeypatch.setattr(runner, "run_levels", fake_levels)
    runner.run_bench(targets, BenchOptions(max_seconds=8.0), started=100.0)
    assert seen["deadline"] == 108.0


def test_the_table_title_names_version_0_too() -> None:
    from toolkit.bench.report import BenchReport

    def title(version: int | None, label: str | None) -> str:
        return BenchReport(model="m", version=version, label=label, signature=None, endpoints={}, inputs={},
                           options=BenchOptions(), levels=[]).table().title

    assert (title(0, None), title(3, None), title(None, "stable"), title(None, None)) == (
        "tfs bench m v0", "tfs bench m v3", "tfs bench m @stable", "tfs bench m")
