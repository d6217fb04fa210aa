"""XLA vs not on the planet model, as the embedded runtime serves it with --xla_cpu_compilation_enabled=true
(python benchmarks/bench_xla.py [--repeats 3] [--requests 20]).

Exports the planet example twice (plain, and with ``tfs export --jit-compile``), then in ``--repeats`` fresh
processes per version loads it, times the first request (where XLA compiles) and the median of ``--requests``
later ones on the kept test data (4 images). Prints median [min..max] and the jit/plain ratio. Timings depend on
the machine; nothing is asserted.
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

from servable_timing import measure, ratio, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per version")
    parser.add_argument("--requests", type=int, default=20, help="requests after the first, per process")
    args = parser.parse_args()

    from toolkit.examples.planet import build_planet_model, sample_images
    from toolkit.export import export_model

    with tempfile.TemporaryDirectory(prefix="bench-xla-") as tmp:
        plain = export_model(build_planet_model(), "planet", tmp, sample_inputs=sample_images())
        jit = export_model(build_planet_model(), "planet", tmp, sample_inputs=sample_images(), jit_compile=True)
        rows = {label: measure(result.path, args.repeats, xla=True, steady=args.requests)
                for label, result in (("plain", plain), ("jit", jit))}
    print(f"planet model, --xla_cpu_compilation_enabled=true, {args.repeats} fresh processes per version, "
          f"{args.requests} requests after the first; median [min..max]")
    print(f"{'metric':<26}{'plain':>28}{'jit_compile':>28}{'jit/plain':>12}")
    for key, label in (("load_s", "load (ms)"), ("first_s", "first request (ms)"), ("steady_s", "later requests (ms)")):
        print(f"{label:<26}{spread(rows['plain'][key]):>28}{spread(rows['jit'][key]):>28}"
              f"{ratio(rows['jit'][key], rows['plain'][key]):>12}")


if __name__ == "__main__":
    main()
