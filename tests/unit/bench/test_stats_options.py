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
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_option_is_one_line_and_exit_3(args: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    # 127.0.0.1:9 (discard) is never contacted: options are checked before any request.
    code = main(["bench", "--model", "half", "--grpc", "127.0.0.1:9", *args])
    err = capsys.readouterr().err.strip()
    assert code == 3, err
    assert len(err.splitlines()) == 1 and option in err, err
