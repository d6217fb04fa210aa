"""Cold-start timings of one version as the embedded runtime serves it, each in a fresh process: load time (the
SavedModel into a Session), first-request latency (the first Session.run on the kept test data, where lazy
initialisation and any XLA compilation happen) and the median of the following requests.

Used by bench_freeze.py and bench_xla.py: ``measure(version_dir, repeats)`` runs this file as a worker.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _worker(version_dir: str, xla: bool, steady: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    from toolkit.export.testdata import load_test_data
    from toolkit.savedmodel import read_signatures
    from toolkit.server.servable import Servable, SessionOptions
    from toolkit.server.xla import configure_xla

    configure_xla(cpu_enabled=xla, gpu_enabled=False)
    data = load_test_data(version_dir)
    assert data is not None, f"{version_dir} has no kept test data"
    signature = read_signatures(version_dir)[data.signature_name]
    import tensorflow  # noqa: F401  (imported before the clock starts: we time the load, not the import)

    start = time.perf_counter()
    servable = Servable("bench", 1, version_dir, SessionOptions())
    load_s = time.perf_counter() - start
    feeds = {signature.inputs[k].tensor_name: v for k, v in data.inputs.items()}
    fetches = [info.tensor_name for info in signature.outputs.values()]
    start = time.perf_counter()
    servable.run(feeds, fetches)
    first_s = time.perf_counter() - start
    later = []
    for _ in range(steady):
        start = time.perf_counter()
        servable.run(feeds, fetches)
        later.append(time.perf_counter() - start)
    servable.close()
    print(json.dumps({"load_s": load_s, "first_s": first_s, "steady_s": statistics.median(later) if later else None}))


def measure(version_dir: Path, repeats: int, *, xla: bool = False, steady: int = 0) -> dict[str, list[float]]:
    """{metric: [one value per fresh process]} for ``repeats`` processes."""
    results: dict[str, list[float]] = {"load_s": [], "first_s": [], "steady_s": []}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, __file__, str(version_dir), "1" if xla else "0", str(steady)],
                              capture_output=True, text=True, timeout=600, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"timing worker failed for {version_dir}:\n{proc.stderr[-2000:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        for key, value in row.items():
            if value is not None:
                results[key].append(value)
    return results


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def spread(values: list[float], scale: float = 1e3) -> str:
    """'median [min..max]' in milliseconds by default."""
    if not values:
        return "n/a"
    return f"{statistics.median(values) * scale:8.1f} [{min(values) * scale:.1f}..{max(values) * scale:.1f}]"


def ratio(a: list[float], b: list[float]) -> str:
    if not a or not b:
        return "n/a"
    return f"{statistics.median(a) / statistics.median(b):.2f}x"


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]))
