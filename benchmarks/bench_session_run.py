"""Per-call cost of running a signature in the embedded runtime, side by side
(python benchmarks/bench_session_run.py [--calls 2000] [--rounds 9]).

Loads a TF1 half_plus_two (x [-1,1]) into a Servable and times one call of each way to run it on x of shape [3,1]:
Python's ``Session.run(feed_dict)`` (what the runtime used before; it adds a shape check TF Serving lacks),
``Servable.run`` without a deadline and with the fixed REST deadline (both through a cached C++ callable), with a
varying gRPC deadline (TF_SessionRun with per-call RunOptions), and the raw C++ callable and TF_SessionRun calls
underneath. Prints median and spread of CPU time per call (CPU time, so other load on the machine matters less)
and each ratio to Session.run. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    from tensorflow.core.protobuf import config_pb2

    from tests.support import models
    from toolkit.server.servable import Servable, SessionOptions, _c_session_run

    with tempfile.TemporaryDirectory() as tmp:
        servable = Servable("hp", 1, str(models.build_half_plus_two_tf1(Path(tmp) / "hp")),
                            SessionOptions(fixed_timeouts_ms=(30000,)))
        x = np.array([[1.0], [2.0], [5.0]], np.float32)
        feeds, fetches = {"x:0": x}, ["y:0"]
        callable_ = servable.session._make_callable_from_options(config_pb2.CallableOptions(feed=["x:0"],
                                                                                            fetch=["y:0"]))
        session_run = _c_session_run()[0]
        x_out, y_out = servable._graph_tensor("x:0", "feed")[0], servable._graph_tensor("y:0", "fetch")[0]
        deadlines = iter(range(10**9))
        ways = {
            "Python Session.run (before)": lambda: servable.session.run(fetches, feed_dict=feeds),
            "Servable.run, no deadline": lambda: servable.run(feeds, fetches),
            "Servable.run, REST deadline": lambda: servable.run(feeds, fetches, 30.0),
            "Servable.run, gRPC deadline": lambda: servable.run(feeds, fetches, 20.0 + next(deadlines) % 997 / 1000),
            "raw C++ callable": lambda: callable_(x),
            "raw TF_SessionRun": lambda: session_run(servable.session._session, None, {x_out: x}, [y_out], [], None),
        }
        results: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):  # interleaved rounds, so drifting machine load hits every way alike
            for name, call in ways.items():
                for _ in range(100):
                    call()
                start = time.process_time()
                for _ in range(args.calls):
                    call()
                results[name].append((time.process_time() - start) / args.calls * 1e6)
        servable.close()
    base = statistics.median(results["Python Session.run (before)"])
    print(f"{'way':30s} {'median us':>10s} {'min':>7s} {'max':>7s} {'vs Session.run':>15s}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:30s} {median:10.1f} {min(values):7.1f} {max(values):7.1f} {median / base:14.2f}x")


if __name__ == "__main__":
    main()
