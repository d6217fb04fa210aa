"""Throughput of ``tfs serve`` under concurrency, server-side batching on vs off, side by side
(python benchmarks/bench_batching.py [--clients 16] [--requests 50]).

Builds a small dense model (four 1024x1024 matmuls per row, so per-call overhead matters and batching can amortise
it), starts two real servers on 127.0.0.1 (one with --enable_batching), and drives each with N concurrent gRPC
clients sending a bounded number of single-row Predict calls. Prints requests/s and p50/p99 latency for both and
the on/off throughput ratio. Timings depend on the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

BATCHING = """\
max_batch_size {{ value: {max_batch} }}
batch_timeout_micros {{ value: {timeout_us} }}
max_enqueued_batches {{ value: 1000 }}
num_batch_threads {{ value: {threads} }}
"""


def build_model(export_dir: Path) -> None:
    import tensorflow as tf

    class Dense(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            rng = np.random.default_rng(0)
            self.weights = [tf.Variable(rng.standard_normal((1024, 1024)).astype(np.float32) / 32) for _ in range(4)]

        @tf.function(input_signature=[tf.TensorSpec([None, 1024], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            for w in self.weights:
                x = tf.nn.relu(tf.matmul(x, w))
            return {"y": tf.reduce_sum(x, axis=1)}

    module = Dense()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})


def drive(target: str, clients: int, requests: int) -> tuple[float, list[float]]:
    """Run ``clients`` threads x ``requests`` Predict calls; return (seconds, latencies)."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from toolkit.server.tensors import from_numpy

    channel = grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "dense"
    request.inputs["x"].CopyFrom(from_numpy(np.ones((1, 1024), np.float32), tensor_content=True))
    for _ in range(10):  # warm the connection and the session
        stub.Predict(request, timeout=30)
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client() -> None:
        mine = []
        for _ in range(requests):
            start = time.perf_counter()
            try:
                stub.Predict(request, timeout=60)
            except grpc.RpcError as exc:
                errors.append(exc)
                return
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    channel.close()
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, first: {errors[0]}")
    return elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--timeout-us", type=int, default=2000)
    args = parser.parse_args()

    from tests.support.live_server import start_tfs_serve

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_model(root / "dense" / "1")
        (root / "batching.config").write_text(
            BATCHING.format(max_batch=args.max_batch, timeout_us=args.timeout_us, threads=os.cpu_count() or 1)
        )
        common = [f"--model_base_path={root / 'dense'}", "--model_name=dense", f"--grpc_max_threads={args.clients + 8}"]
        rows = []
        for label, extra in (("batching off", []),
                             ("batching on", ["--enable_batching", f"--batching_parameters_file={root / 'batching.config'}"])):
            server = start_tfs_serve([*common, *extra], rest=False, ready_models={"dense": [1]})
            try:
                elapsed, latencies = drive(server.grpc_target, args.clients, args.requests)
            finally:
                server.stop()
            total = args.clients * args.requests
            lat = sorted(latencies)
            rows.append((label, total / elapsed, statistics.median(lat) * 1e3, lat[int(0.99 * (len(lat) - 1))] * 1e3))

    print(f"tfs serve, {args.clients} concurrent gRPC clients x {args.requests} single-row Predict calls "
          f"(max_batch_size={args.max_batch}, batch_timeout_micros={args.timeout_us})")
    print(f"{'':14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for label, rps, p50, p99 in rows:
        print(f"{label:14}{rps:>10.1f}{p50:>10.2f}{p99:>10.2f}")
    print(f"throughput ratio on/off: {rows[1][1] / rows[0][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
