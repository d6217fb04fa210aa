"""Clients vs the official way, side by side in interleaved rounds (part of ``make bench``; alone:
``python benchmarks/bench_clients.py``).

1. Tensor encode (numpy -> serialized PredictRequest) and decode (TensorProto -> numpy) at 1x10, 1x224x224x3 and
   8x224x224x3: ``clients`` vs ``tf.make_tensor_proto`` + ``SerializeToString`` / ``tf.make_ndarray``; the small
   answer also in the typed ``float_val`` field TF Serving fills by default.
2. Import time and peak RSS in fresh interpreters: ``from clients import GrpcClient, RestClient`` (in a venv with
   only the base dependencies, as applications install it) vs ``from tensorflow_serving.apis import predict_pb2``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import ROOT, Row, interleaved, print_rows, ratio_row  # noqa: E402

SHAPES = {"1x10": (1, 10), "1x224x224x3": (1, 224, 224, 3), "8x224x224x3": (8, 224, 224, 3)}
CALLS = {"1x10": 2000, "1x224x224x3": 40, "8x224x224x3": 5}


def codec_rows(rounds: int = 7) -> list[Row]:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    from clients import _wire, codec
    from clients._proto import tensor_pb2

    rows = []
    rng = np.random.default_rng(0)
    for label, shape in SHAPES.items():
        array = rng.random(shape, dtype=np.float32)

        def official_request(a: np.ndarray = array) -> bytes:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(a))
            return request.SerializeToString()

        ours_proto = codec.encode_tensor(array)
        tf_proto = tf.make_tensor_proto(array)
        pairs = [(lambda a=array: _wire.predict_request_bytes({"x": a}, "m", None, None, None, None), official_request),
                 (lambda p=ours_proto: codec.decode_tensor(p), lambda p=tf_proto: tf.make_ndarray(p))]
        if label == "1x10":
            typed = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT)
            for size in shape:
                typed.tensor_shape.dim.add().size = size
            typed.float_val.extend(array.reshape(-1).tolist())
            tf_typed = type(tf_proto).FromString(typed.SerializeToString())
            pairs.append((lambda p=typed: codec.decode_tensor(p), lambda p=tf_typed: tf.make_ndarray(p)))
        results = interleaved(pairs, rounds=rounds, number=CALLS[label])
        (enc_ours, enc_tf), (dec_ours, dec_tf) = results[0], results[1]
        rows.append(ratio_row("clients", f"encode request {label}", enc_ours, enc_tf, "us" if label == "1x10" else "s",
                              target="no slower (>= 1.0x)", goal=lambda r: r >= 1.0))
        small = label == "1x10"
        rows.append(ratio_row("clients", f"decode tensor_content {label}", dec_ours, dec_tf, "us" if small else "s",
                              target="no slower (>= 1.0x)" if small else "", goal=(lambda r: r >= 1.0) if small else None))
        if small:
            typed_ours, typed_tf = results[2]
            rows.append(ratio_row("clients", "decode float_val 1x10", typed_ours, typed_tf, "us",
                                  target="no slower (>= 1.0x)", goal=lambda r: r >= 1.0))
    return rows


# Peak RSS from VmHWM: ru_maxrss would carry over the high-water mark of the (TensorFlow-loaded) parent that
# forked the probe, while VmHWM belongs to the probe's own address space.
IMPORT_PROBE = """
import sys, time
start = time.perf_counter()
exec(sys.argv[1])
elapsed = time.perf_counter() - start
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(elapsed, hwm)
"""


def clients_only_python(root: Path = ROOT) -> Path:
    """A venv with the project and only its base dependencies (what an application has), built once in
    ``.venv-clients`` and reused while pyproject.toml and clients/ are unchanged."""
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


def _import_once(statement: str, python: str) -> tuple[float, float]:
    result = subprocess.run([python, "-c", IMPORT_PROBE, statement], capture_output=True, text=True, check=True,
                            env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}, cwd="/")
    seconds, rss_kb = result.stdout.split()[-2:]
    return float(seconds), int(rss_kb) / 1024


def import_rows(rounds: int = 5, clients_python: str | None = None) -> list[Row]:
    python = clients_python or str(clients_only_python())
    ours_t, ours_m, tf_t, tf_m = [], [], [], []
    for r in range(rounds):
        order = [("ours", "from clients import GrpcClient, RestClient", python),
                 ("tf", "from tensorflow_serving.apis import predict_pb2", sys.executable)]
        for who, statement, interpreter in (order if r % 2 == 0 else order[::-1]):
            seconds, rss = _import_once(statement, interpreter)
            (ours_t if who == "ours" else tf_t).append(seconds)
            (ours_m if who == "ours" else tf_m).append(rss)
    return [ratio_row("clients", "import time vs tensorflow_serving.apis", ours_t, tf_t, "s",
                      target=">= 10x faster", goal=lambda r: r >= 10),
            ratio_row("clients", "peak RSS after import", ours_m, tf_m, "MB", target=">= 10x less",
                      goal=lambda r: r >= 10)]


def main() -> int:
    rows = codec_rows() + import_rows()
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
