"""clients.testing.FakeServer: the in-process test double answers all four clients like TF Serving would."""

from __future__ import annotations

import numpy as np
import pytest

from clients import (
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    Retry,
    UnavailableError,
)
from clients.testing import FakeServer

CLIENTS = ["grpc_client", "rest_client"]


@pytest.fixture
def server() -> FakeServer:
    server = FakeServer()
    for version, offset in ((1, 2.0), (2, 3.0)):
        server.add_signature(
            "half",
            lambda x, b=offset: {"y": x["x"] * 0.5 + b},
            inputs={"x": (np.float32, (None,))},
            outputs={"y": (np.float32, (None,))},
            version=version,
        )
    server.add_signature(
        "multi",
        lambda x: {"upper": np.array([s.upper() for s in x["text"]], dtype=object), "n": x["n"] + 1},
        inputs={"text": (bytes, (None,)), "n": (np.int64, (None,))},
        outputs={"upper": (bytes, (None,)), "n": (np.int64, (None,))},
    )
    server.add_classifier("half", lambda ex: [[("pos", 0.75), ("neg", 0.25)] for _ in ex], name="cls")
    server.add_regressor("half", lambda ex: [e["x"][0] * 0.5 + 2 for e in ex], name="reg")
    server.set_labels("half", {"stable": 1, "canary": 2})
    return server


@pytest.mark.parametrize("make", CLIENTS)
def test_versions_labels_and_latest(server, make) -> None:
    client = getattr(server, make)()
    x = np.float32([2.0])
    assert client.predict({"x": x}, "half")["y"].tolist() == [4.0]  # latest = 2
    assert client.predict({"x": x}, "half", version=1)["y"].tolist() == [3.0]
    assert client.predict(x, "half", label="stable")["y"].tolist() == [3.0]
    assert client.predict(x, "half", label="canary")["y"].tolist() == [4.0]
    last = server.calls[-1]
    assert (last.method, last.model, last.label) == ("predict", "half", "canary")
    np.testing.assert_array_equal(last.inputs["x"], x)


@pytest.mark.parametrize("make", CLIENTS + ["row"])
def test_strings_and_ints(server, make) -> None:
    client = server.rest_client(row_format=True) if make == "row" else getattr(server, make)()
    out = client.predict({"text": [b"ab", "c\u00e9"], "n": np.int64([1, 2])}, "multi")
    assert out["upper"].tolist() == [b"AB", "C\u00e9".encode()]
    assert out["n"].dtype == np.int64 and out["n"].tolist() == [2, 3]


@pytest.mark.parametrize("make", CLIENTS)
def test_classify_regress_metadata_status(server, make) -> None:
    client = getattr(server, make)()
    assert client.classify([{"x": 1.0}, {"x": 2.0}], "half", signature="cls", version=1) == [
        [("pos", 0.75), ("neg", 0.25)]
    ] * 2
    np.testing.assert_array_equal(client.regress([{"x": 4.0}], "half", signature="reg", version=1), [4.0])
    metadata = client.metadata("half", version=1)
    assert metadata.version == 1 and set(metadata.signatures) == {"serving_default", "cls", "reg"}
    assert metadata.signature("cls").method_name == "tensorflow/serving/classify"
    assert [(s.version, s.state) for s in client.status("half")] == [(2, "AVAILABLE"), (1, "AVAILABLE")]


@pytest.mark.parametrize("make", CLIENTS)
def test_errors_like_tf_serving(server, make) -> None:
    client = getattr(server, make)()
    with pytest.raises(ModelNotFoundError, match=r"Servable not found for request: Latest\(nope\)"):
        client.predict({"x": [1.0]}, "nope")
    with pytest.raises(ModelNotFoundError, match=r"Specific\(half, 9\)"):
        client.predict({"x": [1.0]}, "half", version=9)
    with pytest.raises(InvalidInputError, match="Unrecognized servable version label: beta"):
        client.predict({"x": [1.0]}, "half", label="beta")
    with pytest.raises(InvalidInputError, match="not found") as exc:
        client.predict({"x": np.float32([1.0])}, "half", signature="zzz")
    if make == "grpc_client":
        assert isinstance(exc.value, FailedPreconditionError)
    with pytest.raises(ModelNotFoundError, match="Could not find any versions of model nope"):
        client.status("nope")


@pytest.mark.parametrize("make", CLIENTS)
def test_injected_failures_and_retries(server, make) -> None:
    client = getattr(server, make)(retry=Retry(attempts=3, initial_backoff=0.001))
    server.fail("UNAVAILABLE", "warming up", method="status", times=2)
    assert client.status("half")[0].available
    assert [c.method for c in server.calls].count("status") == 3
    server.fail("UNAVAILABLE", "overloaded", method="predict")
    with pytest.raises(UnavailableError, match="overloaded"):
        client.predict({"x": [1.0]}, "half")


@pytest.mark.parametrize("make", CLIENTS)
def test_wait_until_available(server, make) -> None:
    client = getattr(server, make)()
    server.set_state("half", 3, "LOADING")
    with pytest.raises(DeadlineExceededError, match=r"versions \[3\] not AVAILABLE within 0.2s"):
        client.wait_until_available("half", [3], timeout=0.2, poll_interval=0.01)
    server.set_state("half", 3, "END", error_code="INVALID_ARGUMENT", error_message="bad SavedModel")
    with pytest.raises(ModelLoadError, match="version 3 failed to load: bad SavedModel"):
        client.wait_until_available("half", [3], timeout=5, poll_interval=0.01)
    assert {s.version for s in client.wait_until_available("half", [1, 2], timeout=5)} == {1, 2, 3}


def test_multi_inference_and_headers(server) -> None:
    client = server.grpc_client(headers={"authorization": "Bearer x"})
    result = client.multi_inference([{"x": 2.0}], "half", tasks={"cls": "classify", "reg": "regress"}, version=1)
    assert result["cls"] == [[("pos", 0.75), ("neg", 0.25)]]
    np.testing.assert_array_equal(result["reg"], [3.0])
    assert server.calls[-1].headers["authorization"] == "Bearer x"
    assert server.calls[-1].examples == [{"x": [2.0]}]


async def test_async_clients_against_the_fake(server) -> None:
    for client in (server.async_grpc_client(), server.async_rest_client()):
        async with client:
            assert (await client.predict({"x": [2.0]}, "half", version=1))["y"].tolist() == [3.0]
            assert (await client.classify([{"x": 1.0}], "half", signature="cls", version=1))[0][0] == ("pos", 0.75)
            assert len(await client.wait_until_available("half", timeout=5)) == 2
            with pytest.raises(ModelNotFoundError):
                await client.metadata("nope")


def test_user_code_can_be_unit_tested_with_the_fake() -> None:
    """The intended use: code under test takes a client; the test hands it a fake-backed one."""

    def score(client, texts: list[str]) -> list[int]:
        out = client.predict({"text": texts, "n": np.zeros(len(texts), np.int64)}, "multi")
        return out["n"].tolist()

    fake = FakeServer().add_signature(
        "multi", lambda x: {"n": x["n"] + 5},
        inputs={"text": (bytes, (None,)), "n": (np.int64, (None,))}, outputs={"n": (np.int64, (None,))},
    )
    assert score(fake.grpc_client(), ["a", "b"]) == [5, 5]
    assert score(fake.rest_client(), ["a"]) == [5]
    assert fake.calls[-1].inputs["text"].tolist() == [b"a"]
