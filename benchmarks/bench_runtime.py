"""``tfs serve`` end to end, side by side in interleaved rounds (part of ``make bench``):

1. overhead: half_plus_two on ``tfs serve`` vs a bare grpcio server and a bare HTTP server answering a fixed reply
   (``toolkit.bench.trivial``), p50 at concurrency 1 and throughput at 8, plus the model alone in-process;
2. planet (the Keras example), REST vs gRPC p50 at 1 and 4 images;
3. batching on vs off on planet at concurrency 32 (throughput) and 1 (latency): two servers, the same model, rounds
   interleaved with the order flipped each round, every measurement warmed up at its own concurrency; beside it
   the in-process bound (the model alone, per image, batch 1 vs batch 32);
4. ``tfs bench``'s own ceiling vs a bare ``grpc.aio`` loop against the bare grpcio server.

All load comes from ``tfs bench``'s engine (the project's async clients), so every side is measured the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from common import Row, print_rows, ratio_row, timed  # noqa: E402

# TF Serving's batching guide, "CPU-only: one approach": num_batch_threads = the number of cores, batch_timeout_micros
# 0 (a batch closes as soon as a batch thread is free, so a lone request never waits; under load the requests that
# arrive while a batch runs form the next one). A timeout of 2000 us (the earlier setting) added ~2-3 ms to every
# request at concurrency 1 (1.95x) and formed no larger batches at 32 on 2 cores.
BATCHING = f"""\
max_batch_size {{ value: 32 }}
batch_timeout_micros {{ value: 0 }}
max_enqueued_batches {{ value: 1000 }}
num_batch_threads {{ value: {os.cpu_count() or 1} }}
"""
MONITORING = 'prometheus_config { enable: true path: "/metrics" }\n'


@dataclasses.dataclass
class Settings:
    rounds: int = 3
    warmup_s: float = 0.7
    window_s: float = 0.7


def measure(endpoint: str, protocol: str, model: str, inputs: dict, concurrency: int, s: Settings) -> dict:
    """One warmed-up measurement at ``concurrency`` (three windows merged): throughput and p50/p99."""
    from toolkit.bench.load import LocalFleet
    from toolkit.bench.options import BenchOptions, Level
    from toolkit.bench.runner import measure_level
    from toolkit.bench.transport import Target

    options = BenchOptions(warmup_s=s.warmup_s, window_s=s.window_s, window_requests=5, max_windows=3,
                           stability=1e9, max_seconds=120, timeout_s=60, ceiling=False)
    target = Target(protocol, endpoint, model, inputs, timeout_s=60)

    async def run() -> dict:
        fleet = LocalFleet(target)
        try:
            result = await measure_level(fleet, protocol, Level("concurrency", concurrency), options,
                                         time.perf_counter() + 120)
        finally:
            await fleet.close()
        m = result.merged
        if m is None or m.ok == 0 or m.ok != m.requests:
            raise RuntimeError(f"{protocol} {endpoint} {model}: failed requests {m.errors if m else '?'} "
                               f"{result.errors_example} windows={[(w.requests, round(w.seconds, 2)) for w in result.windows]}")
        return {"rps": m.throughput, "p50": m.latency_ms["p50"], "p99": m.latency_ms["p99"],
                "encode_ms": m.split_ms.get("encode", 0.0)}

    return asyncio.run(run())


def paired(a: Callable[[], dict], b: Callable[[], dict], rounds: int) -> tuple[list[dict], list[dict]]:
    """``rounds`` of (a, b), the order flipped every round."""
    out_a, out_b = [], []
    for r in range(rounds):
        if r % 2:
            out_b.append(b())
            out_a.append(a())
        else:
            out_a.append(a())
            out_b.append(b())
    return out_a, out_b


def _key(results: list[dict], key: str) -> list[float]:
    return [r[key] for r in results]


def build_models(root: Path) -> None:
    from tests.support import models
    from toolkit.examples import planet
    from toolkit.export import export_model

    models.build_repo(root, {"half": {1: models.build_half_plus_two_tf2}})
    export_model(planet.build_planet_model(), "planet", root, version=1, sample_inputs=planet.sample_images(2))


def in_process_seconds(version_dir: Path, inputs: dict, number: int) -> float:
    """Median seconds of one Session run of the SavedModel's serving_default in this process (no server): a TF1
    session and a callable over the signature's feeds and fetches, the kind of call ``tfs serve`` makes."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        signature = meta.signature_def["serving_default"]
        names = sorted(inputs)
        call = session.make_callable([signature.outputs[k].name for k in sorted(signature.outputs)],
                                     [signature.inputs[k].name for k in names])
        values = [inputs[k] for k in names]
        call(*values)
        times = []
        for _ in range(number):
            start = time.perf_counter()
            call(*values)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


async def bare_loop_rps(target: str, request: bytes, concurrency: int, seconds: float) -> float:
    """A bare grpc.aio loop: ``concurrency`` tasks sending pre-encoded Predict bytes, nothing decoded."""
    import grpc

    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        for _ in range(20):
            await call(request)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await call(request)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def runtime_rows(s: Settings) -> list[Row]:
    from tests.support.live_server import start_tfs_serve
    from toolkit.bench.ceiling import trivial_servers

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("building half_plus_two and planet ...", flush=True)
        build_models(root)
        # This process imported TensorFlow (to build the models), which a client process does not: freeze what that
        # left, so the load generator's collector does not rescan TensorFlow's objects (tfs serve does the same).
        gc.collect()
        gc.freeze()
        config = root / "models.config"
        config.write_text("model_config_list {\n" + "".join(
            f'  config {{ name: "{n}" base_path: "{root / n}" model_platform: "tensorflow" }}\n'
            for n in ("half", "planet")) + "}\n")
        (root / "batching.config").write_text(BATCHING)
        (root / "monitoring.config").write_text(MONITORING)
        print("starting tfs serve (plain and with batching) and the bare servers ...", flush=True)
        plain = start_tfs_serve([f"--model_config_file={config}", "--grpc_max_threads=64"],
                                ready_models={"half": [1], "planet": [1]})
        batched = start_tfs_serve([f"--model_base_path={root / 'planet'}", "--model_name=planet",
                                   "--enable_batching", f"--batching_parameters_file={root / 'batching.config'}",
                                   "--grpc_max_threads=64",
                                   f"--monitoring_config_file={root / 'monitoring.config'}"], ready_models={"planet": [1]})
        try:
            with trivial_servers() as bare:
                rows += _overhead(plain, bare, root, s)
                rows += _planet_protocols(plain, s)
                rows += _batching(plain, batched, root, s)
                rows += _ceiling(bare, s)
        finally:
            plain.stop()
            batched.stop()
    return rows


def _overhead(plain, bare: dict, root: Path, s: Settings) -> list[Row]:  # type: ignore[no-untyped-def]
    print("overhead: half_plus_two vs the bare servers ...", flush=True)
    x = {"x": np.float32([1.0, 2.0, 5.0])}
    ours = {"grpc": plain.grpc_target, "rest": plain.rest_url}
    alone = in_process_seconds(root / "half" / "1", x, 300) * 1e3
    rows = [Row("runtime", "half in-process model call (no server), batch 3", alone, alone, "ms", 1.0, (1.0, 1.0),
                notes="TensorFlow's Session run alone (a callable, as tfs serve runs it): the part of every request "
                      "that a bare server, answering fixed bytes, never pays")]
    for protocol in ("grpc", "rest"):
        for concurrency in (1, 8):
            a, b = paired(lambda p=protocol, c=concurrency: measure(ours[p], p, "half", x, c, s),
                          lambda p=protocol, c=concurrency: measure(bare[p], p, "trivial", x, c, s), s.rounds)
            floor = "bare grpcio" if protocol == "grpc" else "bare HTTP"
            if concurrency == 1:
                rows.append(ratio_row("runtime", f"half {protocol} c=1 p50: tfs serve / {floor}", _key(a, "p50"),
                                      _key(b, "p50"), "ms", invert=True, target="<= 1.5x",
                                      goal=lambda r: r <= 1.5))
                rows.append(ratio_row("runtime", f"half {protocol} c=1: floor (bare p50 + model call) / {floor}",
                                      [p + alone for p in _key(b, "p50")], _key(b, "p50"), "ms", invert=True,
                                      notes="any server that runs the model is at least this much slower than the "
                                            "bare one; the rest of the gap is tfs serve's own (Python, thread hops)"))
            else:
                rows.append(ratio_row("runtime", f"half {protocol} c=8 req/s: tfs serve / {floor}", _key(a, "rps"),
                                      _key(b, "rps"), "req/s", invert=True, target=">= 0.9x",
                                      goal=lambda r: r >= 0.9))
    return rows


def _planet_protocols(plain, s: Settings) -> list[Row]:  # type: ignore[no-untyped-def]
    from clients import json_codec
    from toolkit.examples import planet
    from toolkit.server.rest_numeric import extract_blocks

    print("planet: REST vs gRPC ...", flush=True)
    rows = []
    for images, limit in ((1, 2.0), (4, 3.0)):
        inputs = {"input_image": planet.sample_images(images)}
        body = json_codec.encode_predict_request(inputs)
        rest, grpc_ = paired(lambda i=inputs: measure(plain.rest_url, "rest", "planet", i, 1, s),
                             lambda i=inputs: measure(plain.grpc_target, "grpc", "planet", i, 1, s), s.rounds)
        # Measured in the same windows: the REST client's encode time (tfs bench's split); the server's JSON
        # parse is timed alone in this process (the fast numeric path, as tfs serve runs it).
        parse = statistics.median(timed(lambda b=body: extract_blocks(b), 3) for _ in range(5))
        floor = [g["p50"] + r["encode_ms"] + parse * 1e3 for r, g in zip(rest, grpc_)]
        rows.append(ratio_row("planet", f"{images} image(s) p50: REST / gRPC", _key(rest, "p50"), _key(grpc_, "p50"),
                              "ms", invert=True, target=f"<= {limit:g}x", goal=lambda r, bound=limit: r <= bound))
        values = inputs["input_image"].size
        encode = statistics.median(_key(rest, "encode_ms"))
        rows.append(ratio_row(
            "planet", f"{images} image(s): REST floor (gRPC p50 + JSON encode + JSON parse) / gRPC", floor,
            _key(grpc_, "p50"), "ms", invert=True,
            notes=f"client encode {encode:.2f} ms ({encode / values * 1e6:.0f} ns per float32 value, orjson), "
                  f"server parse {parse * 1e3:.2f} ms ({len(body) / 1e6:.2f} MB of JSON, simdjson); REST cannot "
                  "beat gRPC by less than these two, so the REST/gRPC ratio cannot go below this floor"))
    return rows


def batch_histogram(rest_url: str) -> tuple[int, float]:
    """(batches run, rows in them) so far: the server's processed_batch_size histogram (count, sum)."""
    import httpx

    text = httpx.get(rest_url + "/metrics", timeout=10).text
    prefix = ":tensorflow:serving:batching_session:processed_batch_size"
    count = re.search(rf"^{prefix}_count (\S+)$", text, re.MULTILINE)
    total = re.search(rf"^{prefix}_sum (\S+)$", text, re.MULTILINE)
    return (int(count.group(1)) if count else 0, float(total.group(1)) if total else 0.0)


def _batching(plain, batched, root: Path, s: Settings) -> list[Row]:  # type: ignore[no-untyped-def]
    from toolkit.examples import planet

    print("batching: on vs off at concurrency 32 and 1 ...", flush=True)
    one = {"input_image": planet.sample_images(1)}
    batches_before, rows_before = batch_histogram(batched.rest_url)
    on, off = paired(lambda: measure(batched.grpc_target, "grpc", "planet", one, 32, s),
                     lambda: measure(plain.grpc_target, "grpc", "planet", one, 32, s), s.rounds)
    batches, rows_run = batch_histogram(batched.rest_url)
    mean_batch = (rows_run - rows_before) / max(batches - batches_before, 1)
    rows = [ratio_row("batching", "planet c=32 req/s: on / off", _key(on, "rps"), _key(off, "rps"), "req/s",
                      invert=True, target=">= 1.5x", goal=lambda r: r >= 1.5,
                      notes=f"batches formed at c=32 (warm-up included): {batches - batches_before}, "
                            f"{mean_batch:.1f} images per batch on average (processed_batch_size)")]
    on1, off1 = paired(lambda: measure(batched.grpc_target, "grpc", "planet", one, 1, s),
                       lambda: measure(plain.grpc_target, "grpc", "planet", one, 1, s), s.rounds)
    rows.append(ratio_row("batching", "planet c=1 p50: on / off", _key(on1, "p50"), _key(off1, "p50"), "ms",
                          invert=True, target="<= 1.2x", goal=lambda r: r <= 1.2))
    t1 = in_process_seconds(root / "planet" / "1", one, 100)
    t32 = in_process_seconds(root / "planet" / "1", {"input_image": planet.sample_images(32)}, 20) / 32
    rows.append(Row("batching", "planet in-process per image: batch 1 / batch 32 (the bound)", t1 * 1e3, t32 * 1e3,
                    "ms", t1 / t32, (t1 / t32, t1 / t32),
                    notes="what batching can gain at most; the end-to-end gain above is this minus per-request "
                          "overhead"))
    # End to end, a request costs 1/rps of the machine (client, gRPC, server Python and the model together);
    # batching can only take away the model's share (t1 - t32 per image): the rest is paid per request anyway.
    per_request = [1.0 / r["rps"] for r in off]
    bounds = [p / (p - (t1 - t32)) if p > t1 - t32 else float("inf") for p in per_request]
    rows.append(Row("batching", "planet c=32: the most batching can gain end to end here", statistics.median(bounds),
                    1.0, "x", statistics.median(bounds), (min(bounds), max(bounds)),
                    notes=f"per request {statistics.median(per_request) * 1e3:.2f} ms of the machine unbatched "
                          f"(1 / req/s at c=32), of which the model saves {(t1 - t32) * 1e3:.2f} ms per image in a "
                          "batch of 32: bound = cost / (cost - saving); 1.5x needs a whole request to cost at "
                          f"most 3x the saving, {(t1 - t32) * 3 * 1e3:.2f} ms"))
    return rows


def _ceiling(bare: dict, s: Settings) -> list[Row]:
    from clients import _wire

    print("tfs bench ceiling vs a bare grpc.aio loop ...", flush=True)
    x = {"x": np.float32([1.0, 2.0, 5.0])}
    request = _wire.predict_request_bytes(x, "trivial", None, None, None, None)
    seconds = s.warmup_s + 3 * s.window_s
    ours, loop = paired(lambda: measure(bare["grpc"], "grpc", "trivial", x, 16, s),
                        lambda: {"rps": asyncio.run(bare_loop_rps(bare["grpc"], request, 16, seconds))}, s.rounds)
    return [ratio_row("bench", "tfs bench ceiling / bare grpc.aio loop, c=16", _key(ours, "rps"), _key(loop, "rps"),
                      "req/s", invert=True, target=">= 0.8x", goal=lambda r: r >= 0.8,
                      notes="tfs bench encodes and decodes every request and times three parts; the bare loop "
                            "resends fixed bytes")]


def main() -> int:
    print_rows(runtime_rows(Settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
