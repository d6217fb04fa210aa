"""Contract: ``clients.testing.FakeServer`` answers like the real server. The same requests go to a FakeServer
set up like the session's ``tfs serve`` (half_plus_two v1 = 0.5x+2, v2 = 0.5x+3, labels stable=1/canary=2) and to
the live server, over gRPC and REST; answers, error classes, codes, HTTP statuses and messages must match.

Cost: about 30 small requests against the already running session server (no extra process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from clients import GrpcClient, RestClient, TensorSpec, TfsError
from clients.testing import FakeServer

X = np.array([1.0, 2.0, 5.0], dtype=np.float32)


def _fake() -> FakeServer:
    server = FakeServer()
    for version, b in ((1, 2.0), (2, 3.0)):
        for signature, fn in (("serving_default", lambda t, b=b: {"y": 0.5 * t["x"] + b}),
                              ("half_plus_three", lambda t: {"y": 0.5 * t["x"] + 3.0})):
            # TF2 names the feed "<signature>_<alias>:0"; the server's messages quote it
            x = TensorSpec("x", "DT_FLOAT", (None,), f"{signature}_x:0")
            server.add_signature("half_plus_two", fn, inputs={"x": x}, outputs={"y": (np.float32, (None,))},
                                 version=version, name=signature)
    return server.set_labels("half_plus_two", {"stable": 1, "canary": 2})


REQUESTS: dict[str, Callable[[Any], Any]] = {
    "latest": lambda c: c.predict({"x": X}, "half_plus_two"),
    "version 1": lambda c: c.predict({"x": X}, "half_plus_two", version=1),
    "label canary": lambda c: c.predict({"x": X}, "half_plus_two", label="canary"),
    "second signature": lambda c: c.predict({"x": X}, "half_plus_two", version=1, signature="half_plus_three"),
    "status": lambda c: sorted((s.version, s.state, s.error_code) for s in c.status("half_plus_two")),
    "metadata": lambda c: {k: (v.inputs["x"].dtype, v.inputs["x"].shape)
                           for k, v in c.metadata("half_plus_two", version=1).signatures.items()
                           if k in ("serving_default", "half_plus_three")},
    "unknown model": lambda c: c.predict({"x": X}, "no_such_model"),
    "unknown version": lambda c: c.predict({"x": X}, "half_plus_two", version=9),
    "unknown label": lambda c: c.predict({"x": X}, "half_plus_two", label="nope"),
    "unknown signature": lambda c: c.predict({"x": X}, "half_plus_two", version=1, signature="nope"),
    "status of unknown model": lambda c: c.status("no_such_model"),
    "status of unknown version": lambda c: c.status("half_plus_two", version=9),
    "unknown input name": lambda c: c.predict({"z": X}, "half_plus_two", version=1),
    "extra input": lambda c: c.predict({"x": X, "z": X}, "half_plus_two", version=1),
}


def _answer(client: Any, request: Callable[[Any], Any]) -> Any:
    """The answer, or the error as (class, code, HTTP status, message)."""
    client.clear_cache()
    try:
        result = request(client)
    except TfsError as exc:
        return (type(exc).__name__, exc.code, exc.http_status, exc.message)
    if isinstance(result, dict) and all(isinstance(v, np.ndarray) for v in result.values()):
        return {k: (v.dtype.str, v.tolist()) for k, v in result.items()}
    return result


@pytest.fixture(scope="module")
def fake() -> FakeServer:
    return _fake()


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
@pytest.mark.parametrize("case", list(REQUESTS))
def test_fake_server_answers_like_tfs_serve(tfs_server, fake: FakeServer, protocol: str, case: str) -> None:
    if protocol == "grpc":
        live: Any = GrpcClient(tfs_server.grpc_target)
        double: Any = GrpcClient("fake", channel=fake.grpc_channel())
    else:
        live = RestClient(tfs_server.rest_url)
        double = RestClient("http://fake", transport=fake.rest_transport())
    try:
        assert _answer(double, REQUESTS[case]) == _answer(live, REQUESTS[case])
    finally:
        live.close()
        double.close()
