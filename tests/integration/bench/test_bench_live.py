"""`tfs bench` against a live `tfs serve` (the session server of tests/integration/conftest.py) over real
127.0.0.1 sockets: the report's structure, that its counts add up, that errors are counted by type, the exit
codes, JSON/CSV/PNG outputs, rate mode over several processes and the generator's ceiling.

Every run is small and bounded: short windows, few windows, and --max-seconds as a hard cap (~40 s in total).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.live_server import REPO_ROOT, server_env
from toolkit.export.testdata import TestData, save_test_data

# Tiny windows; a huge tolerance makes three windows "stable" unless a test asks otherwise.
QUICK = ["--warmup", "0.2", "--window", "0.3", "--window-requests", "10", "--max-windows", "3",
         "--stability", "100000", "--max-seconds", "60", "--no-ceiling"]


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", "bench", *args], capture_output=True, text=True,
                          env=server_env(), cwd=str(REPO_ROOT), timeout=timeout)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host repository holding only half_plus_two v1's kept test data (what bench reads from a version)."""
    root = tmp_path_factory.mktemp("bench_repo")
    x = np.float32([1.0, 2.0, 5.0, 7.0])
    save_test_data(root / "half_plus_two" / "1", TestData({"x": x}, {"y": 0.5 * x + 2}))
    return root


def _targets(server: object) -> list[str]:
    return ["--grpc", server.grpc_target, "--rest", server.rest_url]  # type: ignore[attr-defined]


def test_sweep_report_structure_counts_json_csv_and_plot(tfs_server, kept: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = bench("--model", "half_plus_two", "--version", "1", *_targets(tfs_server), "--repository", str(kept),
                   "--concurrency", "1,3", *QUICK, "--json", str(out), "--csv", str(tmp_path / "r.csv"),
                   "--plot", str(tmp_path / "r.png"))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["inputs"] == {"x": {"dtype": "float32", "shape": [4]}}
    assert "test data kept in" in report["inputs_source"]
    assert report["machine"]["cpus"] >= 1 and report["exit_code"] == 0
    levels = report["levels"]
    assert [(lv["protocol"], lv["level"]) for lv in levels] == [("grpc", 1), ("grpc", 3), ("rest", 1), ("rest", 3)]
    for level in levels:
        assert level["status"] == "stable" and level["errors"] == {}
        assert level["requests"] == level["ok"] > 0
        assert sum(w["requests"] for w in level["windows"][-3:]) == level["requests"]
        lat = level["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
        split = level["client_split_ms"]
        assert set(split) == {"encode", "wait", "decode"} and all(v > 0 for v in split.values())
        assert sum(split.values()) <= lat["mean"] * 1.001 + 1e-3  # the parts sit inside the request's time
        assert level["throughput_rps"] > 0 and level["warmup_requests"] > 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["protocol"], r["level"], r["status"]) for r in rows] == [
        ("grpc", "1", "stable"), ("grpc", "3", "stable"), ("rest", "1", "stable"), ("rest", "3", "stable")]
    assert int(rows[0]["requests"]) == levels[0]["requests"]
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "p99 ms" in result.stdout and "tfs bench: OK" in result.stdout


def test_wrong_input_name_is_counted_and_exits_1(tfs_server, tmp_path: Path) -> None:
    data = tmp_path / "wrong.npz"
    np.savez(data, wrong=np.float32([1.0]))
    out = tmp_path / "w.json"
    result = bench("--model", "half_plus_two", *_targets(tfs_server), "--data", str(data), "--concurrency", "2",
                   *QUICK, "--json", str(out), "--csv", str(tmp_path / "w.csv"))
    assert result.returncode == 1, result.stdout + result.stderr
    levels = json.loads(out.read_text())["levels"]
    for level in levels:
        assert level["ok"] == 0 and level["errors"] == {"INVALID_ARGUMENT": level["requests"]} and level["requests"]
        assert level["error_rate"] == 1.0 and "x" in level["error_examples"]["INVALID_ARGUMENT"]
    rows = list(csv.DictReader((tmp_path / "w.csv").open()))  # the CSV names the error types too
    assert [r["errors_by_type"] for r in rows] == [f"INVALID_ARGUMENT={lv['requests']}" for lv in levels]
    assert "error rate 100.00% above --max-error-rate" in result.stdout


def test_unknown_model_is_counted_and_a_tolerated_error_rate_exits_0(tfs_server, kept: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    args = ["--model", "no_such_model", "--grpc", tfs_server.grpc_target, "--data", str(kept / "half_plus_two" / "1"),
            "--concurrency", "1", *QUICK, "--json", str(out)]
    failed = bench(*args)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    level = json.loads(out.read_text())["levels"][0]
    assert level["errors"] == {"NOT_FOUND": level["requests"]} and level["requests"] > 0
    tolerated = bench(*args, "--max-error-rate", "1")
    assert tolerated.returncode == 0, tolerated.stdout + tolerated.stderr


def test_unstable_level_exits_2(tfs_server, kept: Path) -> None:
    result = bench("--model", "half_plus_two", "--label", "stable", "--grpc", tfs_server.grpc_target,
                   "--repository", str(kept), "--concurrency", "2", *QUICK, "--stability", "0.0001", "--batch", "2")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not stable within" in result.stdout and "UNSTABLE" in result.stdout
    assert "(--batch 2 ignored: kept test data is sent as it is)" in result.stdout  # said, not silently dropped


def test_poisson_rate_over_two_processes_with_synthesized_inputs_and_ceiling(tfs_server, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = bench("--model", "half_plus_two", "--version", "2", "--grpc", tfs_server.grpc_target,
                   "--inputs", "signature", "--batch", "3", "--rate", "40", "--arrival", "poisson",
                   "--processes", "2", *QUICK[:-1], "--ceiling", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["inputs"] == {"x": {"dtype": "float32", "shape": [3]}}
    assert "synthesized from signature 'serving_default'" in report["inputs_source"]
    level = report["levels"][0]
    assert (level["mode"], level["level"], level["arrival"]) == ("rate", 40.0, "poisson")
    assert level["requests"] == level["ok"] > 0
    assert report["options"]["processes"] == 2
    assert report["ceiling_rps"]["grpc"] > 0
    assert "load generator ceiling (grpc" in result.stdout
