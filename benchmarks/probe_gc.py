"""Probe (not a test): what gc_freeze.settle() does to request parsing time and to memory over loads/unloads.

Prints orjson.loads of a 4 MB body with TensorFlow and one loaded model in the process, before and after
settle(); then the RSS after every 10 of N load+unload cycles of a SavedModel (with settle() after each, as the
model manager does), so a leak of frozen garbage would show as growth.
Run: PYTHONPATH=$PWD python benchmarks/probe_gc.py [--cycles 60]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def parse_ms(body: bytes, rounds: int = 7) -> float:
    import orjson

    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        orjson.loads(body)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=60)
    args = parser.parse_args()
    import numpy as np

    from tests.support.models import build_half_plus_two_tf2
    from toolkit.server import gc_freeze
    from toolkit.server.servable import Servable, SessionOptions

    with tempfile.TemporaryDirectory() as tmp:
        path = str(build_half_plus_two_tf2(Path(tmp) / "1"))
        options = SessionOptions(tags=("serve",))
        kept = Servable("half", 1, path, options)
        body = json.dumps({"instances": [{"input_image": np.random.rand(128, 128, 3).round(4).tolist()}] * 4}).encode()
        print(f"tracked objects: {len(gc.get_objects())}; body {len(body) / 1e6:.1f} MB")
        print(f"orjson.loads, not frozen: {parse_ms(body):.1f} ms")
        gc_freeze.settle()
        print(f"orjson.loads, after settle(): {parse_ms(body):.1f} ms (frozen: {gc.get_freeze_count()})")
        start = rss_mib()
        print(f"RSS before the cycles: {start:.0f} MiB")
        for cycle in range(1, args.cycles + 1):
            servable = Servable("half", 2, path, options)
            servable.close()
            del servable
            gc_freeze.settle()
            if cycle % 10 == 0:
                print(f"after {cycle} load+unload cycles: RSS {rss_mib():.0f} MiB (+{rss_mib() - start:.0f}), "
                      f"frozen {gc.get_freeze_count()}")
        kept.close()


if __name__ == "__main__":
    main()
