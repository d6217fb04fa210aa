"""REST vs gRPC of ``tfs serve``, and ``tfs serve`` vs a bare HTTP server, side by side in one run with spread.

    python benchmarks/bench_rest.py [--rounds 8] [--per-round 4] [--baseline REV] [--json FILE]

Exports the planet example (128x128x3 float32 in, two heads out) and half_plus_two into a temporary repository,
starts ``tfs serve`` from this tree (and, with ``--baseline REV``, a second one from that git revision, extracted
with ``git archive``) plus a bare HTTP/1.1 server answering a fixed reply (the floor), then interleaves rounds:
every round sends ``--per-round`` requests of every case to every server, one keep-alive connection each,
concurrency 1. Bodies are encoded once beforehand (the project's REST client encoding, row format; gRPC requests
serialized once, tensor_content as the clients send), so only the wire, the server and the response read are
timed. Prints p50 with the spread of the per-round p50s (min-max), the REST/gRPC ratios with their per-round
spread, and the targets of issue 12: planet 4 images REST p50 <= 3x gRPC, 1 image <= 2x, half_plus_two REST
p50 <= 1.5x the bare HTTP server. Nothing is asserted; numbers depend on the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

GRPC_PREDICT = "/tensorflow.serving.PredictionService/Predict"
BARE_REPLY = b'{"predictions": [2.5]}'


# ------------------------------------------------------------------------------------------------ the floor


class _BareHandler(BaseHTTPRequestHandler):
    """Reads the body and answers a fixed JSON reply: the least any Python HTTP/1.1 server does."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BARE_REPLY)))
        self.end_headers()
        self.wfile.write(BARE_REPLY)

    def log_message(self, *args: object) -> None:
        pass


def serve_bare(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _BareHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("READY", flush=True)
    server.serve_forever()


# ------------------------------------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A subprocess with a REST port (and a gRPC port for ``tfs serve``)."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], cwd: Path, rest: int, grpc: int = 0):
        self.label, self.rest_port, self.grpc_port = label, rest, grpc
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{label}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, env=env, cwd=str(cwd), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, path: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.rest_port, timeout=2)
                conn.request("GET", path)
                response = conn.getresponse()
                text = response.read()
                conn.close()
                if response.status == 200 and b"AVAILABLE" in text or path == "/" and response.status:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.label} not ready: {Path(self.log.name).read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.unlink(self.log.name)


def tfs_serve(label: str, source: Path, config: Path) -> Server:
    rest, grpc = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(source), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "toolkit.server", f"--port={grpc}", f"--rest_api_port={rest}",
               f"--model_config_file={config}"]
    return Server(label, command, env, source, rest, grpc)


def extract_revision(rev: str, into: Path) -> Path:
    """The tree of git revision ``rev`` of this repository, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True,
                             capture_output=True).stdout
    target = into / "baseline"
    target.mkdir()
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


# ------------------------------------------------------------------------------------------------ models


def build_repository(root: Path) -> Path:
    from tests.support.models import build_half_plus_two_tf2, models_config_text
    from toolkit.examples.planet import build_planet_model
    from toolkit.export.sources import write_keras

    target = root / "planet" / "1"
    target.parent.mkdir(parents=True)
    write_keras(build_planet_model(), target, None, None)  # the SavedModel `tfs export --example planet` writes
    build_half_plus_two_tf2(root / "half_plus_two" / "1")
    config = root / "models.config"
    config.write_text(models_config_text({"planet": root / "planet", "half_plus_two": root / "half_plus_two"}))
    return config


# ------------------------------------------------------------------------------------------------ clients


class RestTarget:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, path: str, body: bytes) -> bytes:
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
        return data


class GrpcTarget:
    def __init__(self, port: int) -> None:
        import grpc

        options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        self.predict = self.channel.unary_unary(GRPC_PREDICT)  # bytes in, bytes out: no client-side codec

    def call(self, request: bytes) -> bytes:
        return self.predict(request, timeout=120)


def grpc_request(model: str, name: str, array: np.ndarray) -> bytes:
    from tensorflow_serving.apis import predict_pb2

    from toolkit.server.tensors import from_numpy

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    # tensor_content, as GrpcClient and tf.make_tensor_proto send a numpy array (typed float_val fields cost the
    # server a conversion per value and made gRPC look slower here than through the clients)
    request.inputs[name].CopyFrom(from_numpy(array, tensor_content=True))
    return request.SerializeToString()


def rest_body(name: str, array: np.ndarray) -> bytes:
    from clients.json_codec import encode_predict_request

    return encode_predict_request({name: array}, row_format=True)


# ------------------------------------------------------------------------------------------------ measuring


def timed(call: Callable[[], Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(make_call: Callable[[], Callable[[], Any]], pid: int, concurrency: int, requests: int
               ) -> tuple[float, float]:
    """(requests/s, server CPU cores busy) with ``concurrency`` clients sending ``requests`` requests each."""
    import threading

    calls = [make_call() for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)

    def client(call: Callable[[], Any]) -> None:
        barrier.wait()
        for _ in range(requests):
            call()

    threads = [threading.Thread(target=client, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    cpu, start = cpu_seconds(pid), time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return concurrency * requests / wall, (cpu_seconds(pid) - cpu) / wall


def summary(per_round: list[list[float]]) -> dict[str, float]:
    flat = [x for r in per_round for x in r]
    medians = [statistics.median(r) for r in per_round]
    return {"p50": statistics.median(flat), "p90": float(np.percentile(flat, 90)), "min_round_p50": min(medians),
            "max_round_p50": max(medians), "n": len(flat)}


def ratio_spread(a: list[list[float]], b: list[list[float]]) -> tuple[float, float, float]:
    """p50(a)/p50(b) overall, and the min/max of the per-round ratios."""
    ratios = [statistics.median(x) / statistics.median(y) for x, y in zip(a, b, strict=True)]
    overall = statistics.median([v for r in a for v in r]) / statistics.median([v for r in b for v in r])
    return overall, min(ratios), max(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--per-round", type=int, default=4)
    parser.add_argument("--baseline", help="git revision to run side by side (e.g. main, HEAD~3)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--concurrency", type=int, default=4, help="clients of the throughput phase (0: none)")
    parser.add_argument("--bare-http", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_http is not None:
        serve_bare(args.bare_http)
        return 0
    load_start = os.getloadavg()
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        config = build_repository(Path(tmp))
        try:
            sources = {"this tree": ROOT}
            if args.baseline:
                sources[f"baseline {args.baseline}"] = extract_revision(args.baseline, Path(tmp))
            serves = {label: tfs_serve(label, src, config) for label, src in sources.items()}
            servers.extend(serves.values())
            bare_port = free_port()
            bare = Server("bare-http", [sys.executable, __file__, "--bare-http", str(bare_port)], dict(os.environ),
                          ROOT, bare_port)
            servers.append(bare)
            for server in serves.values():
                server.wait_ready("/v1/models/planet")
                server.wait_ready("/v1/models/half_plus_two")
            bare.wait_ready("/")
            results = run(args, serves, bare)
        finally:
            for server in servers:
                server.stop()
    load_end = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end")
    results["load_average"] = [load_start[0], load_end[0]]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def run(args: argparse.Namespace, serves: dict[str, Server], bare: Server) -> dict[str, Any]:
    from toolkit.examples.planet import sample_images

    cases: dict[str, tuple[str, bytes, bytes]] = {}
    for count in (1, 4):
        images = sample_images(count)
        cases[f"planet x{count}"] = ("/v1/models/planet:predict", rest_body("input_image", images),
                                     grpc_request("planet", "input_image", images))
    # What many users send: json.dumps of .tolist() (float32 pixels as 17-digit doubles, a body twice as big).
    images = sample_images(4)
    tolist = json.dumps({"instances": [{"input_image": image.tolist()} for image in images]}).encode()
    cases["planet x4 tolist"] = ("/v1/models/planet:predict", tolist, grpc_request("planet", "input_image", images))
    half = np.array([1.0, 2.0, 5.0], dtype=np.float32)
    half_body = json.dumps({"instances": half.tolist()}).encode()
    cases["half_plus_two"] = ("/v1/models/half_plus_two:predict", half_body, grpc_request("half_plus_two", "x", half))
    rest = {label: RestTarget(s.rest_port) for label, s in serves.items()}
    grpc = {label: GrpcTarget(s.grpc_port) for label, s in serves.items()}
    floor = RestTarget(bare.rest_port)
    # samples[case][(server label, protocol)] = per-round latency lists
    samples: dict[str, dict[str, list[list[float]]]] = {case: {} for case in cases}
    for case, (path, body, request) in cases.items():  # warm-up: two of each
        for label in serves:
            timed(lambda: rest[label].call(path, body), 2)
            timed(lambda: grpc[label].call(request), 2)
    timed(lambda: floor.call("/v1/models/half_plus_two:predict", half_body), 2)
    for _ in range(args.rounds):
        for case, (path, body, request) in cases.items():
            for label in serves:
                samples[case].setdefault(f"{label} REST", []).append(
                    timed(lambda: rest[label].call(path, body), args.per_round))
                samples[case].setdefault(f"{label} gRPC", []).append(
                    timed(lambda: grpc[label].call(request), args.per_round))
            if case == "half_plus_two":
                samples[case].setdefault("bare HTTP", []).append(
                    timed(lambda: floor.call(path, body), args.per_round))
    report: dict[str, Any] = {"cases": {}, "ratios": {}}
    print(f"{'case':<18}{'server / protocol':<34}{'body':>9}{'p50 ms':>10}{'p90 ms':>10}  round p50 min-max")
    for case, by_target in samples.items():
        size = len(cases[case][1])
        for target, rounds in by_target.items():
            s = summary(rounds)
            report["cases"].setdefault(case, {})[target] = s
            print(f"{case:<18}{target:<34}{size / 1e6:>7.2f}MB{s['p50']:>10.2f}{s['p90']:>10.2f}  "
                  f"{s['min_round_p50']:.2f}-{s['max_round_p50']:.2f}")
    print()
    targets = {"planet x4": 3.0, "planet x1": 2.0, "planet x4 tolist": 3.0}
    for label in serves:
        for case, limit in targets.items():
            overall, low, high = ratio_spread(samples[case][f"{label} REST"], samples[case][f"{label} gRPC"])
            verdict = "met" if overall <= limit else "NOT met"
            report["ratios"][f"{label}: {case} REST/gRPC"] = [overall, low, high, limit]
            print(f"{label}: {case} REST/gRPC p50 {overall:.2f}x (rounds {low:.2f}-{high:.2f}); target <= "
                  f"{limit:g}x: {verdict}")
        overall, low, high = ratio_spread(samples["half_plus_two"][f"{label} REST"], samples["half_plus_two"]["bare HTTP"])
        verdict = "met" if overall <= 1.5 else "NOT met"
        report["ratios"][f"{label}: half_plus_two REST/bare HTTP"] = [overall, low, high, 1.5]
        print(f"{label}: half_plus_two REST / bare HTTP p50 {overall:.2f}x (rounds {low:.2f}-{high:.2f}); target "
              f"<= 1.5x: {verdict}")
    if args.concurrency:
        path, body, request = cases["planet x4"]
        print(f"\nplanet x4, {args.concurrency} concurrent clients x {args.per_round * 2} requests "
              "(server CPU = cores busy on average):")
        for label, server in serves.items():
            for protocol, make in (("REST", lambda: (lambda t=RestTarget(server.rest_port): t.call(path, body))),
                                   ("gRPC", lambda: (lambda t=GrpcTarget(server.grpc_port): t.call(request)))):
                rate, cores = throughput(make, server.process.pid, args.concurrency, args.per_round * 2)
                report.setdefault("throughput", {})[f"{label} {protocol}"] = {"rps": rate, "server_cores": cores}
                print(f"  {label} {protocol}: {rate:.1f} req/s, server CPU {cores:.2f} cores")
    if len(serves) == 2:
        new, old = list(serves)
        for case in cases:
            overall, low, high = ratio_spread(samples[case][f"{old} REST"], samples[case][f"{new} REST"])
            report["ratios"][f"{case} REST speed-up"] = [overall, low, high]
            print(f"{case}: REST {old} / {new} p50 {overall:.2f}x (rounds {low:.2f}-{high:.2f})")
    return report


if __name__ == "__main__":
    sys.exit(main())
