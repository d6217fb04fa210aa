"""Benchmark the clients against the usual ways, side by side, in one run (python benchmarks/bench_clients.py).

1. gRPC tensor encode/decode: clients.codec vs tf.make_tensor_proto / tf.make_ndarray
   (decode through tensor_content and through the typed float_val field TF Serving answers with by default).
2. REST JSON encode/decode: clients.json_codec vs the tutorial way, json.dumps(x.tolist()) / np.array(json.loads()).
3. Import time and peak RSS, each in a fresh subprocess: `from clients import GrpcClient, RestClient` vs
   `from tensorflow_serving.apis import predict_pb2`.

Targets (issue 4): REST encode >= 10x faster; gRPC encode no slower than tf.make_tensor_proto; import >= 10x
faster with >= 5x less RSS. Needs the toolkit extra (TensorFlow) for the baselines. Exit status 1 if a target
is missed. Timings are best-of-N; on a busy machine the import ratio moves with the load on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

SHAPE = (8, 224, 224, 3)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs, in seconds (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


IMPORT_PROBE = """
import resource, sys, time
start = time.perf_counter()
exec(sys.argv[1])
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def clients_only_python(root: Path) -> Path:
    """A venv with the project and only its base dependencies (what an application has), built once and reused
    while pyproject.toml is unchanged."""
    import hashlib
    import tomllib

    venv = root / ".venv-clients"
    python = venv / "bin" / "python"
    stamp = venv / ".stamp"
    pyproject = (root / "pyproject.toml").read_bytes()
    digest = hashlib.sha256(pyproject + b"".join(p.read_bytes() for p in sorted((root / "clients").rglob("*.py"))))
    if python.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return python
    deps = tomllib.loads(pyproject.decode())["project"]["dependencies"]
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *deps], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(root)], check=True)
    stamp.write_text(digest.hexdigest())
    return python


def import_cost(statement: str, runs: int, python: str = sys.executable) -> tuple[float, float]:
    """(best import seconds, median peak RSS in MB) of ``statement`` in fresh interpreters (best-of damps noise
    from other processes; both sides are measured the same way)."""
    seconds, rss = [], []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for _ in range(runs):
        result = subprocess.run(
            [python, "-c", IMPORT_PROBE, statement], capture_output=True, text=True, check=True, env=env
        )
        elapsed, max_rss_kb = result.stdout.split()[-2:]
        seconds.append(float(elapsed))
        rss.append(int(max_rss_kb) / 1024)
    return min(seconds), statistics.median(rss)


def row(name: str, ours: float, theirs: float, unit: str, target: str) -> tuple[str, str, str, str, str]:
    ratio = theirs / ours if ours else float("inf")
    scale = 1000 if unit == "ms" else 1
    return (name, f"{ours * scale:10.2f} {unit}", f"{theirs * scale:10.2f} {unit}", f"{ratio:8.1f}x", target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument("--import-runs", type=int, default=5, help="fresh interpreters per import measurement")
    parser.add_argument(
        "--clients-python",
        default=None,
        help="interpreter for the clients' import measurement (default: a venv with only the base dependencies, "
        "as applications install the clients, built once in .venv-clients; in the dev venv httpx also imports "
        "rich and click, which the toolkit extra brings)",
    )
    args = parser.parse_args()
    if args.clients_python is None:
        args.clients_python = str(clients_only_python(Path(__file__).resolve().parents[1]))

    rows: list[tuple[str, str, str, str, str]] = []
    checks: list[tuple[str, bool]] = []

    # ---------------------------------------------------------------------------------------- imports first,
    # before this process has TensorFlow loaded (the probes run in their own interpreters anyway).
    ours_import, ours_rss = import_cost(
        "from clients import GrpcClient, RestClient", args.import_runs, args.clients_python
    )
    tf_import, tf_rss = import_cost("from tensorflow_serving.apis import predict_pb2", args.import_runs)

    import tensorflow as tf

    from clients import codec, json_codec
    from clients._proto import tensor_pb2
    from clients.types import SignatureSpec, TensorSpec

    rng = np.random.default_rng(0)
    batch = rng.random(SHAPE, dtype=np.float32)

    # ---------------------------------------------------------------------------------------- gRPC tensors
    # What a request costs: array -> serialized PredictRequest, the way each side builds it.
    from tensorflow_serving.apis import predict_pb2

    from clients import _wire

    def tf_request() -> bytes:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "m"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(batch))
        return request.SerializeToString()

    ours_wire = best_of(lambda: _wire.predict_request_bytes({"x": batch}, "m", None, None, None, None), args.repeat)
    tf_wire = best_of(tf_request, args.repeat)
    rows.append(row("gRPC encode request (8,224,224,3)", ours_wire, tf_wire, "ms", "no slower (>= 1.0x)"))
    checks.append(("gRPC request encode no slower than tf.make_tensor_proto + SerializeToString", ours_wire <= tf_wire))
    # The TensorProto object alone: both sides do the same two copies (tobytes, then the field assignment).
    ours_enc = best_of(lambda: codec.encode_tensor(batch), args.repeat)
    tf_enc = best_of(lambda: tf.make_tensor_proto(batch), args.repeat)
    rows.append(row("  TensorProto object only", ours_enc, tf_enc, "ms", "(parity: same copies)"))

    content = codec.encode_tensor(batch)
    tf_content = tf.make_tensor_proto(batch)
    ours_dec = best_of(lambda: codec.decode_tensor(content), args.repeat)
    tf_dec = best_of(lambda: tf.make_ndarray(tf_content), args.repeat)
    rows.append(row("gRPC decode tensor_content", ours_dec, tf_dec, "ms", "-"))

    small = rng.random((64, 1000), dtype=np.float32)  # a typical logits answer, in TF Serving's typed field
    typed = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
    for size in small.shape:
        typed.tensor_shape.dim.add().size = size
    typed.float_val.extend(small.reshape(-1).tolist())
    tf_typed = type(tf_content).FromString(typed.SerializeToString())
    ours_typed = best_of(lambda: codec.decode_tensor(typed), args.repeat)
    tf_typed_t = best_of(lambda: tf.make_ndarray(tf_typed), args.repeat)
    rows.append(row("gRPC decode float_val (64,1000)", ours_typed, tf_typed_t, "ms", "-"))

    # ---------------------------------------------------------------------------------------- REST JSON
    ours_json = best_of(lambda: json_codec.encode_predict_request({"x": batch}), args.repeat)
    tutorial_json = best_of(lambda: json.dumps({"instances": batch.tolist()}), max(1, args.repeat // 2))
    rows.append(row("REST encode (8,224,224,3) f32", ours_json, tutorial_json, "ms", ">= 10x"))
    checks.append(("REST encode >= 10x faster than json.dumps(x.tolist())", tutorial_json / ours_json >= 10))

    response = json.dumps({"predictions": batch.tolist()}).encode()
    # The REST client knows the output dtype from the (cached) signature, as it does in use.
    signature = SignatureSpec("serving_default", "", {}, {"y": TensorSpec("y", "DT_FLOAT", (None, 224, 224, 3))})
    ours_parse = best_of(lambda: json_codec.decode_predict_response(response, signature), max(1, args.repeat // 2))
    tutorial_parse = best_of(lambda: np.array(json.loads(response)["predictions"]), max(1, args.repeat // 2))
    rows.append(row("REST decode (8,224,224,3)", ours_parse, tutorial_parse, "ms", "-"))

    # ---------------------------------------------------------------------------------------- imports
    rows.append(row("import time", ours_import, tf_import, "s", ">= 10x"))
    rows.append((
        "peak RSS after import",
        f"{ours_rss:10.1f} MB",
        f"{tf_rss:10.1f} MB",
        f"{tf_rss / ours_rss:8.1f}x",
        ">= 5x",
    ))
    checks.append(("import >= 10x faster than tensorflow_serving.apis", tf_import / ours_import >= 10))
    checks.append(("import RSS >= 5x smaller", tf_rss / ours_rss >= 5))

    header = ("measurement", "clients", "baseline", "speedup", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print("baseline: tf.make_tensor_proto / tf.make_ndarray, json.dumps(x.tolist()) / np.array(json.loads()),")
    print("          `from tensorflow_serving.apis import predict_pb2`")
    print(f"clients import measured with {args.clients_python}")
    for line in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))
    print()
    for name, ok in checks:
        print(f"[{'PASS' if ok else 'MISS'}] {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
