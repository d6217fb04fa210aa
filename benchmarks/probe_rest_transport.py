"""Probe (not a test): the REST transport alone, this tree vs a git revision, side by side in one process.

A 4 MB body is POSTed to a path no handler claims (read whole, answered 404, nothing parsed), alternating between
the two servers. Run: PYTHONPATH=$PWD python benchmarks/probe_rest_transport.py [--rounds 60] [--baseline HEAD~1]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_revision(rev: str, tmp: str):  # type: ignore[no-untyped-def]
    """toolkit/server/rest.py of ``rev`` as a module (its imports resolve to this tree)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:toolkit/server/rest.py"], check=True,
                            capture_output=True).stdout
    path = Path(tmp) / "rest_baseline.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("rest_baseline", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["rest_baseline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--baseline", default="HEAD~1")
    args = parser.parse_args()
    from toolkit.server.rest_testing import FakeCore

    from toolkit.server import rest

    core = FakeCore(models={})
    with tempfile.TemporaryDirectory() as tmp:
        baseline = load_revision(args.baseline, tmp)
        servers = {args.baseline: baseline.start_rest_server(core, "127.0.0.1", 0),
                   "this tree": rest.start_rest_server(core, "127.0.0.1", 0)}
    conns = {k: http.client.HTTPConnection("127.0.0.1", s.port, timeout=60) for k, s in servers.items()}
    body = b"[" + b"0.123456789, " * 320000 + b"1]"
    times: dict[str, list[float]] = {k: [] for k in servers}
    for _ in range(args.rounds):
        for label, conn in conns.items():
            start = time.perf_counter()
            conn.request("POST", "/v2/nothing", body=body)
            response = conn.getresponse()
            response.read()
            times[label].append((time.perf_counter() - start) * 1000)
            assert response.status == 404
    print(f"{len(body) / 1e6:.1f} MB body, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    for label, values in times.items():
        print(f"{label:>12}: min {min(values):.2f} ms, p50 {statistics.median(values):.2f} ms, "
              f"p90 {statistics.quantiles(values, n=10)[-1]:.2f} ms")
    for server in servers.values():
        server.shutdown()


if __name__ == "__main__":
    main()
