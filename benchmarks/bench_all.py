"""``make bench``: every benchmark of the project in one run, printed side by side with spread, every target of
issue 12 with its measured value and PASS/FAIL, and written to JSON (``benchmarks/results.json`` by default).

Nothing here is asserted by the test suite: speed is measured here, on the machine at hand, and the machine is
printed with the numbers. Exit status 0 even when a target is missed (the table says so); 1 if a benchmark broke.
About 5-8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row, print_rows, write_json  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each end-to-end comparison")
    args = parser.parse_args()

    import bench_clients
    import bench_runtime

    from toolkit.bench.runner import machine

    started = time.perf_counter()
    # Import costs first, in fresh interpreters, before this process loads TensorFlow.
    sections = [("imports", lambda: bench_clients.import_rows(5)),
                ("codec", lambda: bench_clients.codec_rows(7)),
                ("runtime", lambda: bench_runtime.runtime_rows(bench_runtime.Settings(rounds=args.rounds)))]
    rows: list[Row] = []
    broken = []
    for name, run in sections:
        print(f"== {name} ...", flush=True)
        try:
            rows += run()
        except Exception:  # noqa: BLE001 - report the others, then fail
            broken.append(name)
            traceback.print_exc()
    info = machine()
    print()
    print(f"machine: {info['cpus']} CPUs, {info['cpu']}, {info['platform']}, Python {info['python']}, "
          f"load average {info['load_average_1m']} (other work on the machine moves every number)")
    print("ratio: median over interleaved rounds of ours vs baseline as the target states it, [min-max] of rounds")
    print_rows(rows)
    targets = [r for r in rows if r.passed is not None]
    print(f"\n{sum(r.passed for r in targets)} of {len(targets)} targets met; "
          f"{time.perf_counter() - started:.0f} s; JSON: {write_json(rows, args.json, info)}")
    if broken:
        print(f"broken sections: {', '.join(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
