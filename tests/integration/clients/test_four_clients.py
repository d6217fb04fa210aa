"""One scenario through all four clients (sync/async x gRPC/REST) against a live ``tfs serve``; the results must
be identical: predict (latest, pinned version, labels, second signature, bare array, many dtypes, output_filter),
classify, regress, metadata, status, readiness wait, and TF Serving's errors.

Uses the session-wide ``tfs_server`` (tests/integration/conftest.py): half_plus_two v1 (0.5x+2) and v2 (0.5x+3)
with labels stable=1/canary=2, half_plus_two_tf1 (classify/regress signatures) and multi_dtype.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from clients import (
    AsyncGrpcClient,
    AsyncRestClient,
    GrpcClient,
    InvalidInputError,
    ModelNotFoundError,
    RestClient,
    ValidationError,
)

X = np.array([1.0, 2.0, 5.0], dtype=np.float32)
KINDS = ["grpc", "rest", "async_grpc", "async_rest", "rest_row"]


async def _(value: Any) -> Any:
    """Await coroutines (async clients), pass plain values through (sync clients): one scenario for all."""
    return await value if inspect.isawaitable(value) else value


async def _raises(call: Any) -> BaseException:
    try:
        await _(call())
    except Exception as exc:  # noqa: BLE001 - the scenario records which error each client raised
        return exc
    raise AssertionError("expected an error")


async def scenario(client: Any) -> dict[str, Any]:
    """Every operation of the common API; returns what the client answered."""
    r: dict[str, Any] = {}
    r["latest"] = await _(client.predict({"x": X}, "half_plus_two"))
    r["v1"] = await _(client.predict({"x": X}, "half_plus_two", version=1))
    r["stable"] = await _(client.predict({"x": X}, "half_plus_two", label="stable"))
    r["canary"] = await _(client.predict({"x": X}, "half_plus_two", label="canary"))
    r["bare"] = await _(client.predict(X, "half_plus_two", version=2))
    r["list"] = await _(client.predict({"x": [1.0, 2.0]}, "half_plus_two", version=1))
    r["three"] = await _(client.predict({"x": X}, "half_plus_two", version=1, signature="half_plus_three"))
    r["tf1"] = await _(client.predict({"x": X}, "half_plus_two_tf1"))
    multi = {
        "text": [b"abc", "d\u00e9f".encode()],
        "count": np.int64([1, 2**40]),
        "flag": np.array([True, False]),
        "value": np.float32([[1.5, 2.0], [np.nan, -1.0]]),
    }
    r["multi"] = await _(client.predict(multi, "multi_dtype"))
    r["filtered"] = await _(client.predict(multi, "multi_dtype", output_filter=["value_sum", "count_plus_one"]))
    r["classify"] = await _(client.classify([{"x": 20.0}, {"x": 2.0}], "half_plus_two_tf1", signature="classify_x_to_y"))
    r["regress"] = await _(client.regress([{"x": 80.0}, {"x": 1.0}], "half_plus_two_tf1", signature="regress_x_to_y"))
    r["regress_ctx"] = await _(
        client.regress([{}], "half_plus_two_tf1", signature="tensorflow/serving/regress", context={"x": 4.0})
    )
    r["metadata"] = await _(client.metadata("half_plus_two", version=1))
    r["metadata_label"] = await _(client.metadata("half_plus_two", label="canary"))
    r["status"] = await _(client.status("half_plus_two"))
    r["status_v1"] = await _(client.status("half_plus_two", version=1))
    r["ready"] = await _(client.wait_until_available("half_plus_two", [1, 2], timeout=30))
    r["err_model"] = await _raises(lambda: client.predict({"x": X}, "no_such_model"))
    r["err_version"] = await _raises(lambda: client.predict({"x": X}, "half_plus_two", version=9))
    r["err_label"] = await _raises(lambda: client.predict({"x": X}, "half_plus_two", label="beta"))
    r["err_signature"] = await _raises(lambda: client.predict({"x": X}, "half_plus_two", signature="nope"))
    r["err_status"] = await _raises(lambda: client.status("no_such_model"))
    r["err_input"] = await _raises(lambda: client.predict({"wrong": X}, "half_plus_two"))
    return r


def _client(kind: str, server: Any, **options: Any) -> Any:
    if kind == "grpc":
        return GrpcClient(server.grpc_target, **options)
    if kind == "async_grpc":
        return AsyncGrpcClient(server.grpc_target, **options)
    if kind == "rest":
        return RestClient(server.rest_url, **options)
    if kind == "rest_row":
        return RestClient(server.rest_url, row_format=True, **options)
    return AsyncRestClient(server.rest_url, **options)


async def _close(client: Any) -> None:
    await _(client.close())


@pytest.fixture(scope="module")
def results(tfs_server: Any) -> dict[str, dict[str, Any]]:
    import asyncio

    async def run_all() -> dict[str, dict[str, Any]]:
        out = {}
        for kind in KINDS:
            client = _client(kind, tfs_server)
            try:
                out[kind] = await scenario(client)
            finally:
                await _close(client)
        return out

    return asyncio.run(run_all())


def test_predict_values(results) -> None:
    r = results["grpc"]
    np.testing.assert_allclose(r["latest"]["y"], 0.5 * X + 3)
    np.testing.assert_allclose(r["v1"]["y"], 0.5 * X + 2)
    np.testing.assert_allclose(r["stable"]["y"], 0.5 * X + 2)
    np.testing.assert_allclose(r["canary"]["y"], 0.5 * X + 3)
    np.testing.assert_allclose(r["bare"]["y"], 0.5 * X + 3)
    np.testing.assert_allclose(r["list"]["y"], [2.5, 3.0])
    np.testing.assert_allclose(r["three"]["y"], 0.5 * X + 3)
    np.testing.assert_allclose(r["tf1"]["y"], 0.5 * X + 2)
    multi = r["multi"]
    assert multi["text_upper"].tolist() == [b"ABC", "D\u00e9F".encode()]  # tf.strings.upper is ASCII-only
    assert multi["count_plus_one"].dtype == np.int64 and multi["count_plus_one"].tolist() == [2, 2**40 + 1]
    assert multi["flag_not"].tolist() == [False, True]
    assert multi["value_sum"].dtype == np.float32 and multi["value_sum"][0] == 3.5 and np.isnan(multi["value_sum"][1])
    assert multi["value_double"].dtype == np.float64 and multi["count_int32"].dtype == np.int32
    assert set(r["filtered"]) == {"value_sum", "count_plus_one"}


def test_classify_regress_metadata_status_values(results) -> None:
    r = results["grpc"]
    assert r["classify"] == [[("", 12.0)], [("", 3.0)]]
    np.testing.assert_array_equal(r["regress"], np.float32([42.0, 2.5]))
    np.testing.assert_array_equal(r["regress_ctx"], np.float32([4.0]))
    metadata = r["metadata"]
    assert metadata.model == "half_plus_two" and metadata.version == 1
    assert {"serving_default", "half_plus_three"} <= set(metadata.signatures)
    x = metadata.signature().inputs["x"]
    assert (x.dtype_name, x.shape, x.dtype) == ("DT_FLOAT", (None,), np.float32)
    assert r["metadata_label"].version == 2
    assert [(s.version, s.state) for s in r["status"]] == [(2, "AVAILABLE"), (1, "AVAILABLE")]
    assert [s.version for s in r["status_v1"]] == [1]
    assert {s.version for s in r["ready"] if s.available} == {1, 2}


def test_errors(results) -> None:
    r = results["grpc"]
    assert isinstance(r["err_model"], ModelNotFoundError)
    assert r["err_model"].message == "Servable not found for request: Latest(no_such_model)"
    assert isinstance(r["err_version"], ModelNotFoundError)
    assert r["err_version"].message == "Servable not found for request: Specific(half_plus_two, 9)"
    assert isinstance(r["err_label"], InvalidInputError)
    assert r["err_label"].message == "Unrecognized servable version label: beta"
    assert isinstance(r["err_signature"], InvalidInputError)
    assert isinstance(r["err_status"], ModelNotFoundError)
    assert r["err_status"].message == "Could not find any versions of model no_such_model"
    assert isinstance(r["err_input"], InvalidInputError)


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: {type(b).__name__} is not an array"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, BaseException):
        # Same class family and message; FAILED_PRECONDITION exists only over gRPC (REST sends it as 400).
        assert isinstance(b, InvalidInputError if isinstance(a, InvalidInputError) else type(a)), f"{where}: {a!r} vs {b!r}"
        if where not in ("err_signature", "err_input"):  # TF Serving's REST and gRPC word these two differently
            assert a.message == b.message, f"{where}: {a.message!r} != {b.message!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "grpc"])
def test_every_client_gives_identical_results(results, kind) -> None:
    reference = results["grpc"]
    other = results[kind]
    assert set(other) == set(reference)
    for key in reference:
        _same(reference[key], other[key], key)


def test_status_codes_are_kept_per_protocol(results) -> None:
    assert results["grpc"]["err_model"].grpc_code == 5 and results["grpc"]["err_model"].http_status is None
    assert results["rest"]["err_model"].http_status == 404 and results["rest"]["err_model"].grpc_code is None
    assert results["rest"]["err_label"].http_status == 400


def test_grpc_only_operations(tfs_server) -> None:
    with GrpcClient(tfs_server.grpc_target) as client:
        result = client.multi_inference(
            [{"x": 20.0}], "half_plus_two_tf1", tasks={"classify_x_to_y": "classify", "regress_x_to_y": "regress"}
        )
    assert result["classify_x_to_y"] == [[("", 12.0)]]
    np.testing.assert_array_equal(result["regress_x_to_y"], [12.0])
    assert not hasattr(RestClient, "multi_inference") and not hasattr(AsyncRestClient, "reload_config")


@pytest.mark.parametrize("kind", ["grpc", "rest"])
def test_validation_against_the_live_signature(tfs_server, kind) -> None:
    client = _client(kind, tfs_server, validate=True)
    try:
        with pytest.raises(ValidationError, match=r"input 'x': expected dtype float32 \(DT_FLOAT\), got float64"):
            client.predict({"x": np.float64([1.0])}, "half_plus_two")
        with pytest.raises(ValidationError, match=r"input 'x': expected shape \(None,\), got \(1, 1\)"):
            client.predict({"x": np.float32([[1.0]])}, "half_plus_two")
        np.testing.assert_allclose(client.predict({"x": [2.0]}, "half_plus_two", version=1)["y"], [3.0])
    finally:
        client.close()
