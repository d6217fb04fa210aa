"""Frozen vs not: size on disk, load time and first-request latency of the planet model as the embedded runtime
serves it (python benchmarks/bench_freeze.py [--repeats 5]).

Exports the planet example, freezes it with ``tfs freeze``'s code path into version 2, then loads each version in
``--repeats`` fresh processes. Prints median [min..max] per metric and the frozen/not ratio. Timings depend on the
machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from servable_timing import disk_bytes, measure, ratio, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per version")
    args = parser.parse_args()

    from toolkit.examples.planet import build_planet_model, sample_images
    from toolkit.export import export_model
    from toolkit.export.freeze import freeze_and_export

    with tempfile.TemporaryDirectory(prefix="bench-freeze-") as tmp:
        plain = export_model(build_planet_model(), "planet", tmp, sample_inputs=sample_images())
        frozen = freeze_and_export(plain.path, "planet", tmp)
        rows = {}
        for label, result in (("variables", plain), ("frozen", frozen)):
            rows[label] = measure(result.path, args.repeats, steady=5)
            rows[label]["bytes"] = [float(disk_bytes(result.path))]
        print(f"planet model, {args.repeats} fresh processes per version; median [min..max]")
        print(f"{'metric':<26}{'variables':>28}{'frozen':>28}{'frozen/variables':>18}")
        print(f"{'size on disk (KiB)':<26}{rows['variables']['bytes'][0] / 1024:>28.1f}"
              f"{rows['frozen']['bytes'][0] / 1024:>28.1f}{ratio(rows['frozen']['bytes'], rows['variables']['bytes']):>18}")
        for key, label in (("load_s", "load (ms)"), ("first_s", "first request (ms)"), ("steady_s", "later requests (ms)")):
            print(f"{label:<26}{spread(rows['variables'][key]):>28}{spread(rows['frozen'][key]):>28}"
                  f"{ratio(rows['frozen'][key], rows['variables'][key]):>18}")


if __name__ == "__main__":
    main()
