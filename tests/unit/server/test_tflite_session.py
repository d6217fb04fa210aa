"""TfLiteSession without a server: the bounded interpreter pool, resizing to the request's shape, TF Serving's
signature naming (generated and embedded), and the errors for unknown tensors, wrong dtypes and shapes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.support import tflite_models
from toolkit.server import tflite_servable
from toolkit.server.errors import Code, ServingError
from toolkit.server.tflite_servable import InterpreterPool, TfLiteOptions, TfLiteSession

FLOAT = 1  # DT_FLOAT


@pytest.fixture(scope="module")
def half_plus_two() -> bytes:
    return tflite_models.convert_half_plus_two_tf1()


# ------------------------------------------------------------------------------------------------ pool
def test_pool_lends_at_most_its_size_and_times_out() -> None:
    pool = InterpreterPool(object, 2)
    first, second = pool.get(), pool.get()
    assert first is not second
    with pytest.raises(ServingError) as info:
        pool.get(timeout=0.05)
    assert info.value.code == Code.DEADLINE_EXCEEDED
    assert "all 2 busy" in info.value.message


def test_pool_waiter_gets_the_returned_interpreter() -> None:
    pool = InterpreterPool(object, 1)
    held = pool.get()
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(pool.get(timeout=30)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and got == []  # still waiting: nothing free
    pool.put(held)
    waiter.join(30)
    assert got == [held]


def test_concurrent_runs_never_use_more_interpreters_than_the_pool(
    half_plus_two: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = TfLiteSession(half_plus_two, TfLiteOptions(num_tflite_pools=2))
    assert session.pool.size == 2
    in_flight, peak, lock = [0], [0], threading.Lock()
    real_invoke = tflite_servable._invoke

    def counting_invoke(*args: object) -> object:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            time.sleep(0.05)  # hold the interpreter so the other callers must queue
            return real_invoke(*args)  # type: ignore[arg-type]
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(tflite_servable, "_invoke", counting_invoke)
    results: list[float] = []

    def call(i: int) -> None:
        (y,) = session.run({"x": np.array([[float(i)]], np.float32)}, ["y"])
        with lock:
            results.append(float(y[0, 0]))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [0.5 * i + 2 for i in range(6)]
    assert peak[0] == 2


def test_pool_size_is_at_least_one() -> None:
    assert TfLiteOptions(num_tflite_pools=0).pool_size == 1
    assert TfLiteOptions(num_tflite_pools=-3).pool_size == 1
    assert TfLiteOptions(num_tflite_pools=4).pool_size == 4


# ------------------------------------------------------------------------------------------------ run
def test_inputs_are_resized_to_the_request_shape(half_plus_two: bytes) -> None:
    session = TfLiteSession(half_plus_two, TfLiteOptions(num_tflite_pools=1))
    (y,) = session.run({"x": np.array([[1.0], [2.0], [5.0]], np.float32)}, ["y"])
    np.testing.assert_allclose(y, [[2.5], [3.0], [4.5]])
    (y,) = session.run({"x": np.array([[4.0]], np.float32)}, ["y"])  # and back down
    np.testing.assert_allclose(y, [[4.0]])
    (y,) = session.run({"x:0": np.zeros((0, 1), np.float32)}, ["y:0"])  # legacy names, empty batch
    assert y.shape == (0, 1)


def test_shape_the_model_cannot_run_is_invalid_argument_and_the_interpreter_recovers() -> None:
    session = TfLiteSession(tflite_models.convert_matmul_tf2(), TfLiteOptions(num_tflite_pools=1))
    with pytest.raises(ServingError) as info:
        session.run({"serving_default_x:0": np.ones((1, 3), np.float32)}, ["PartitionedCall:0"])
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message.startswith(("Failed to invoke TfLite interpreter", "Failed to allocate tensors"))
    (y,) = session.run({"serving_default_x:0": np.array([[1.0, 1.0]], np.float32)}, ["PartitionedCall:0"])
    np.testing.assert_allclose(y, [[3.0]])


def test_unknown_tensors_and_wrong_dtype(half_plus_two: bytes) -> None:
    session = TfLiteSession(half_plus_two, TfLiteOptions())
    with pytest.raises(ServingError) as info:
        session.run({"nope": np.ones((1, 1), np.float32)}, ["y"])
    assert (info.value.code, info.value.message) == (
        Code.INTERNAL, "Unknown tensor 'nope'.\n\tMissing input TFLite tensor: nope"
    )
    with pytest.raises(ServingError) as info:
        session.run({"x": np.ones((1, 1), np.float32)}, ["z:0"])
    assert (info.value.code, info.value.message) == (
        Code.INTERNAL, "Missing output TFLite tensor: z:0: Unknown tensor 'z:0'."
    )
    with pytest.raises(ServingError) as info:
        session.run({"x": np.ones((1, 1), np.int64)}, ["y"])
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == "TF Lite input tensor 'x' expects DT_FLOAT but DT_INT64 was given"


# ------------------------------------------------------------------------------------------------ signatures
def test_embedded_signature_referring_to_a_missing_tensor_fails_the_load(half_plus_two: bytes) -> None:
    bad = tflite_models.predict_signature({"x": ("x:0", FLOAT, [-1, 1])}, {"y": ("missing:0", FLOAT, [-1, 1])})
    with pytest.raises(ServingError) as info:
        TfLiteSession(tflite_models.with_signature_defs(half_plus_two, {"serving_default": bad}), TfLiteOptions())
    assert (info.value.code, info.value.message) == (
        Code.INTERNAL, "Unknown tensor 'missing:0'.\n\tSignature output y references an unknown tensor"
    )


def test_embedded_signatures_replace_the_generated_one(half_plus_two: bytes) -> None:
    sig = tflite_models.predict_signature({"in": ("x", FLOAT, [-1, 1])}, {"out": ("y:0", FLOAT, [-1, 1])})
    session = TfLiteSession(tflite_models.with_signature_defs(half_plus_two, {"mine": sig}), TfLiteOptions())
    assert list(session.signatures) == ["mine"]  # no serving_default is added
    assert (session.signatures["mine"].inputs["in"].name, session.signatures["mine"].outputs["out"].name) == ("x", "y")


def test_not_a_tflite_model_fails_the_load() -> None:
    with pytest.raises(ServingError) as info:
        TfLiteSession(b"definitely not a flatbuffer", TfLiteOptions())
    assert info.value.code == Code.INTERNAL
    assert info.value.message.startswith("Cannot build Interpreter from buffer.")


# ------------------------------------------------------------------------------------------------ per-pool batching
def test_scheduler_options_follow_tflite_session() -> None:
    assert tflite_servable._scheduler_config(TfLiteOptions(num_tflite_interpreters_per_pool=1), 1) is None
    config = tflite_servable._scheduler_config(
        TfLiteOptions(num_tflite_pools=3, num_tflite_interpreters_per_pool=2), 1
    )
    assert (config.max_batch_size, config.max_execution_batch_size) == (500, 250)  # ceil(500 / 2)
    assert (config.num_batch_threads, config.max_enqueued_batches) == (3, 300)
    assert config.enable_large_batch_splitting and config.batch_timeout_micros == 0
    fixed = tflite_servable._scheduler_config(TfLiteOptions(num_tflite_interpreters_per_pool=3), 8)
    assert fixed.max_execution_batch_size == 8  # a model with a fixed batch of 8 runs batches of 8


def _invoke_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real_invoke = tflite_servable._invoke

    def recording_invoke(pooled, inputs, outputs):  # type: ignore[no-untyped-def]
        sizes.append(int(inputs[0][1].shape[0]))
        return real_invoke(pooled, inputs, outputs)

    monkeypatch.setattr(tflite_servable, "_invoke", recording_invoke)
    return sizes


def test_large_requests_are_split_into_execution_batches(half_plus_two: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    session = TfLiteSession(half_plus_two, TfLiteOptions(num_tflite_pools=2, num_tflite_interpreters_per_pool=2))
    sizes = _invoke_sizes(monkeypatch)
    x = np.arange(450, dtype=np.float32).reshape(450, 1)
    try:
        (y,) = session.run({"x": x}, ["y"])
        # BasicBatchScheduler's max_batch_size (kInitialBatchSize 500) is the input limit, split or not.
        with pytest.raises(ServingError) as info:
            session.run({"x": np.zeros((600, 1), np.float32)}, ["y"])
    finally:
        session.close()
    np.testing.assert_allclose(y, 0.5 * x + 2)
    assert sizes == [250, 200]
    assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT,
                                                     "Task size 600 is larger than maximum input batch size 500")


def test_concurrent_requests_through_the_scheduler_get_their_own_rows(
    half_plus_two: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = TfLiteSession(half_plus_two, TfLiteOptions(num_tflite_pools=2, num_tflite_interpreters_per_pool=4))
    sizes = _invoke_sizes(monkeypatch)
    results: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        x = np.full((i + 1, 1), float(i), np.float32)
        results[i] = session.run({"x": x}, ["y"])[0]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        session.close()
    for i in range(6):
        np.testing.assert_allclose(results[i], np.full((i + 1, 1), 0.5 * i + 2))
    assert sum(sizes) == sum(i + 1 for i in range(6))  # every row ran exactly once, merged or not
