"""Probe (not a test): REST latency of a planet-style model and the server's peak RSS per large request.

Starts ``tfs serve`` on 127.0.0.1 with a 128x128x3 image model, then prints
- p50/p90 of REST predict with 1 and 4 images (row format, keep-alive connection), and gRPC beside it;
- the growth of the server's peak RSS (VmHWM, reset before each probe) for single large requests.
Run: PYTHONPATH=$PWD python benchmarks/probe_rest.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def build_planet(export_dir: Path) -> None:
    import tensorflow as tf

    class Planet(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable([0.5, 1.0, 2.0], dtype=tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, 128, 128, 3], tf.float32, name="input_image")])
        def serve(self, input_image: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"weather": tf.reduce_mean(input_image, axis=[1, 2]) * self.scale,
                    "ground": tf.reduce_max(input_image, axis=[1, 2, 3])}

    module = Planet()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def post(conn: http.client.HTTPConnection, target: str, body: bytes, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:
    conn.request("POST", target, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def latency(conn: http.client.HTTPConnection, body: bytes, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        status, payload = post(conn, "/v1/models/planet:predict", body)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, payload[:300]
    return times


def grpc_latency(server, images: np.ndarray, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    stub = server.prediction_stub()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "planet"
    request.inputs["input_image"].CopyFrom(tf.make_tensor_proto(images.astype(np.float32)))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        stub.Predict(request, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only", help="run only the memory probe whose name starts with this (e.g. gzip)")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    from tests.support.live_server import start_tfs_serve

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "planet"
        base.mkdir()
        build_planet(base / "1")
        server = start_tfs_serve(["--model_name=planet", f"--model_base_path={base}"], ready_models={"planet": [1]})
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=300)
            rng = np.random.default_rng(0)
            for count in () if args.skip_latency else (1, 4):
                images = rng.random((count, 128, 128, 3)).round(4)
                body = json.dumps({"instances": [{"input_image": im.tolist()} for im in images]}).encode()
                latency(conn, body, 2)
                rest = latency(conn, body, args.rounds)
                grpc = grpc_latency(server, images, args.rounds)
                print(f"planet {count} image(s), body {len(body) / 1e6:.1f} MB: REST p50 {statistics.median(rest):.1f} ms "
                      f"(min {min(rest):.1f}, max {max(rest):.1f}); gRPC p50 {statistics.median(grpc):.1f} ms; "
                      f"ratio {statistics.median(rest) / statistics.median(grpc):.1f}x")
            if not args.skip_memory:
                pid = server.pid
                columnar = b'{"inputs": [[[' + b",".join([b"[0.123,0.456,0.789]"] * 128) + b"]" + (
                    b",[" + b",".join([b"[0.123,0.456,0.789]"] * 128) + b"]") * 127 + b"]]}"
                reps = max(1, (30 << 20) // len(columnar))
                inner = columnar[len(b'{"inputs": ['):-2]
                big = b'{"inputs": [' + b",".join([inner] * reps) + b"]}"
                probes = {
                    f"columnar {len(big) / (1 << 20):.0f} MiB floats": (big, {}),
                    "gzip 90 MiB of JSON": (gzip.compress(b'{"x": "' + b"a" * (90 << 20) + b'", "inputs": [[[[1.0,2.0,3.0]]]]}',
                                                          compresslevel=9), {"Content-Encoding": "gzip"}),
                    "deep 500k ignored key": (b'{"deep": ' + b"[" * 500000 + b"]" * 500000 +
                                              b', "inputs": [[[[1.0,2.0,3.0]]]]}', {}),
                }
                for name, (body, headers) in probes.items():
                    if args.only and not name.startswith(args.only):
                        continue
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=300)
                    reset_peak(pid)
                    before = _status_kb(pid, "VmRSS")
                    start = time.perf_counter()
                    status, payload = post(conn, "/v1/models/planet:predict", body, headers)
                    elapsed = time.perf_counter() - start
                    peak = _status_kb(pid, "VmHWM")
                    print(f"{name}: body {len(body) / (1 << 20):.1f} MiB on the wire, status {status}, "
                          f"{elapsed:.2f} s, peak RSS +{(peak - before) / 1024:.0f} MiB; {payload[:80]!r}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
