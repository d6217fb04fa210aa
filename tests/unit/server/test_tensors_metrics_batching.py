"""TensorProto codec (Tensor::FromProto / AsProtoField semantics), Prometheus rendering, and the batch scheduler
with a fake servable (merge, padding, splitting, queue limits)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from toolkit.server import tensors
from toolkit.server.batching import BatchingConfig, BatchScheduler
from toolkit.server.errors import Code, ServingError
from toolkit.server.metrics import Counter, Histogram, ServerMetrics


# ------------------------------------------------------------------------------------------ tensors
@pytest.mark.parametrize(
    "array",
    [np.array([1.5, -2.0], np.float32), np.array([[1, 2], [3, 4]], np.int64), np.array([True, False]),
     np.array([b"a", b"\xff"], dtype=object), np.array([1, 2], np.int32), np.array([0.5], np.float64),
     np.array([1.0, 2.0], np.float16), np.array([1 + 2j], np.complex64), np.array([7], np.uint8),
     np.array([1.5, -2.0], dtype=tf.bfloat16.as_numpy_dtype)],
)
@pytest.mark.parametrize("content", [False, True])
def test_round_trip_matches_tensorflow(array: np.ndarray, content: bool) -> None:
    proto = tensors.from_numpy(array, tensor_content=content)
    np.testing.assert_array_equal(tf.make_ndarray(proto), array)  # TF decodes what we encode
    np.testing.assert_array_equal(tensors.to_numpy(proto), array)
    np.testing.assert_array_equal(tensors.to_numpy(tf.make_tensor_proto(array)), array)  # we decode what TF encodes


def test_typed_fields_by_default() -> None:
    proto = tensors.from_numpy(np.array([1.0, 2.0], np.float32))
    assert list(proto.float_val) == [1.0, 2.0] and proto.tensor_content == b""
    assert list(tensors.from_numpy(np.array([3], np.int8)).int_val) == [3]


def test_short_typed_list_repeats_last_value_and_empty_is_zero() -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64)
    proto.tensor_shape.dim.add().size = 4
    proto.int64_val.extend([1, 2])
    assert tensors.to_numpy(proto).tolist() == [1, 2, 2, 2]
    del proto.int64_val[:]
    assert tensors.to_numpy(proto).tolist() == [0, 0, 0, 0]


def test_lenient_protos_are_read_as_tensor_fromproto_does() -> None:
    """Checked against TF's C++ Tensor::FromProto (tf.raw_ops.ParseTensor): extra values are ignored, unknown_rank
    is not looked at, an odd float count of a complex tensor counts whole pairs only."""
    import tensorflow as tf

    extra = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1, 2, 3])
    extra.tensor_shape.dim.add().size = 2
    unknown = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, int_val=[7, 8])
    unknown.tensor_shape.unknown_rank = True
    odd = tensor_pb2.TensorProto(dtype=types_pb2.DT_COMPLEX64, scomplex_val=[1, 2, 3])
    odd.tensor_shape.dim.add().size = 2
    strings = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[b"a", b"b"])
    strings.tensor_shape.dim.add().size = 1
    for proto in (extra, unknown, odd, strings):
        expected = tf.raw_ops.ParseTensor(serialized=proto.SerializeToString(), out_type=proto.dtype).numpy()
        np.testing.assert_array_equal(tensors.to_numpy(proto), expected)


@pytest.mark.parametrize("mutate", ["bad_content", "bad_dtype", "negative_dim"])  # more values: test_tensor_limits
def test_invalid_protos(mutate: str) -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    proto.tensor_shape.dim.add().size = 2
    if mutate == "bad_content":
        proto.tensor_content = b"\x00" * 7
    elif mutate == "bad_dtype":
        proto.dtype = types_pb2.DT_RESOURCE
    else:
        proto.tensor_shape.dim[0].size = -1
    with pytest.raises(tensors.TensorParseError):
        tensors.to_numpy(proto)


# ------------------------------------------------------------------------------------------ metrics
def test_prometheus_rendering() -> None:
    counter = Counter("/tensorflow/serving/request_count", "help", ["model_name", "status"])
    counter.inc("m", "OK")
    counter.inc("m", "OK")
    counter.inc('we"ird', "NOT_FOUND")
    lines = counter.render()
    assert ':tensorflow:serving:request_count{model_name="m",status="OK"} 2' in lines
    assert ':tensorflow:serving:request_count{model_name="we\\"ird",status="NOT_FOUND"} 1' in lines
    hist = Histogram("/x/latency", "h", ["API"], [10, 100])
    hist.observe("predict", value=5)
    hist.observe("predict", value=50)
    hist.observe("predict", value=500)
    assert hist.render() == [
        ':x:latency_bucket{API="predict",le="10"} 1',
        ':x:latency_bucket{API="predict",le="100"} 2',
        ':x:latency_bucket{API="predict",le="+Inf"} 3',
        ':x:latency_sum{API="predict"} 555',
        ':x:latency_count{API="predict"} 3',
    ]
    text = ServerMetrics().render()
    assert text == "\n"  # nothing observed yet: no samples


# ------------------------------------------------------------------------------------------ batching
class FakeServable:
    name = "fake"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def run(self, feeds, fetches, timeout):  # type: ignore[no-untyped-def]
        (x,) = feeds.values()
        with self.lock:
            self.batches.append(x.shape[0])
        return [x * 2, x.sum(axis=tuple(range(1, x.ndim))) if x.ndim > 1 else x]


class BlockingServable(FakeServable):
    """Each run signals ``started`` and then waits for ``gate``: holds a batch slot as long as a test needs."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.started = threading.Event(), threading.Event()

    def run(self, feeds, fetches, timeout):  # type: ignore[no-untyped-def]
        self.started.set()
        self.gate.wait(30)
        return super().run(feeds, fetches, timeout)


def _scheduler(**kw: object) -> tuple[BatchScheduler, FakeServable]:
    servable = FakeServable()
    config = BatchingConfig(**{"num_batch_threads": 1, **kw})  # type: ignore[arg-type]
    return BatchScheduler(servable, ["y", "s"], config, ServerMetrics()), servable  # type: ignore[arg-type]


def _submit_all(scheduler: BatchScheduler, inputs: list[np.ndarray]) -> list[object]:
    results: list[object] = [None] * len(inputs)

    def run(i: int) -> None:
        try:
            results[i] = scheduler.submit({"x": inputs[i]}, None)
        except ServingError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_full_batch_is_run_once_with_padding_to_allowed_size() -> None:
    scheduler, servable = _scheduler(max_batch_size=4, batch_timeout_micros=30_000_000, allowed_batch_sizes=(4,))
    inputs = [np.full((1, 2), i, np.float32) for i in range(2)] + [np.full((2, 2), 9, np.float32)]
    results = _submit_all(scheduler, inputs)
    assert servable.batches == [4]
    for x, (y, s) in zip(inputs, results):  # type: ignore[misc]
        np.testing.assert_array_equal(y, x * 2)
        np.testing.assert_array_equal(s, x.sum(axis=1))
    scheduler.stop()


def test_timeout_zero_runs_partial_batches_and_pads_up() -> None:
    scheduler, servable = _scheduler(max_batch_size=8, allowed_batch_sizes=(2, 8))
    (y, _), = [scheduler.submit({"x": np.ones((1, 3), np.float32)}, None)]
    assert servable.batches == [2]  # one row padded up to the allowed size 2
    assert y.shape == (1, 3)
    scheduler.stop()


def test_variable_length_inputs_are_padded_when_enabled() -> None:
    scheduler, servable = _scheduler(max_batch_size=2, batch_timeout_micros=30_000_000, pad_variable_length_inputs=True)
    results = _submit_all(scheduler, [np.ones((1, 2), np.float32), np.ones((1, 3), np.float32)])
    assert servable.batches == [2]
    shapes = sorted(r[0].shape for r in results)  # type: ignore[index]
    assert shapes == [(1, 3), (1, 3)]
    scheduler.stop()


def test_too_big_task_and_splitting() -> None:
    scheduler, _ = _scheduler(max_batch_size=2)
    with pytest.raises(ServingError) as info:
        scheduler.submit({"x": np.ones((3, 1), np.float32)}, None)
    assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, "Task size 3 is larger than maximum input batch size 2")
    scheduler.stop()
    # shared_batch_scheduler.h: max_batch_size (input_batch_size_limit) binds with large-batch splitting too
    splitter, servable = _scheduler(max_batch_size=2, enable_large_batch_splitting=True, max_execution_batch_size=2)
    with pytest.raises(ServingError) as info:
        splitter.submit({"x": np.ones((5, 1), np.float32)}, None)
    assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, "Task size 5 is larger than maximum input batch size 2")
    splitter.stop()
    splitter, servable = _scheduler(max_batch_size=8, enable_large_batch_splitting=True, max_execution_batch_size=2)
    y, s = splitter.submit({"x": np.arange(5, dtype=np.float32).reshape(5, 1)}, None)
    assert y.ravel().tolist() == [0, 2, 4, 6, 8]
    assert servable.batches == [2, 2, 1]
    splitter.stop()


def test_split_parts_fill_the_open_batch_first_and_capacity_counts_batches() -> None:
    """SplitInputTask: the first part fills what the open batch has left, then parts of the execution limit; the
    queue's capacity counts the batches the queued tasks form (the open one included), as the scheduler does."""
    from toolkit.server.batching import _Task

    splitter, _ = _scheduler(max_batch_size=8, enable_large_batch_splitting=True, max_execution_batch_size=3,
                             max_enqueued_batches=2)
    x = np.arange(7, dtype=np.float32).reshape(7, 1)
    parts = splitter._cut({"x": x}, 7, 1, None)  # the open batch holds 1 row: 2 fit, then 3, then 2
    assert [p.size for p in parts] == [2, 3, 2] and len({id(p.wake) for p in parts}) == 1
    assert np.concatenate([p.feeds["x"] for p in parts]).ravel().tolist() == list(range(7))
    assert [p.size for p in splitter._cut({"x": x[:2]}, 2, 1, None)] == [2]  # fits: not split
    splitter._queue.extend([_Task({}, 2, None), _Task({}, 2, None)])  # packed 2 | 2: two batches, open one holds 2
    assert splitter._enqueued_batches() == (2, 2)
    with pytest.raises(ServingError) as info:  # room: 0 new batches x 3 + 1 left in the open one
        splitter._check_capacity(2, 2, 2)
    assert info.value.code == Code.UNAVAILABLE and info.value.message == (
        "The batch scheduling queue to which this task was submitted is full; task size is 2 but scheduling "
        "capacity is only 1 (num_enqueued_batches=2, max_enqueued_batches=2, open_batch_size=2, "
        "max_execution_batch_size=3)")
    splitter._check_capacity(1, 2, 2)  # fits the open batch
    splitter._queue.clear()
    splitter.stop()
    # Without splitting, a task that does not fit the open batch needs a new one: 3 | 3 queued (limit 5) are two
    # batches, so with max_enqueued_batches 2 another 3 is refused though 4 rows of room are left in them.
    plain, _ = _scheduler(max_batch_size=5, max_enqueued_batches=2)
    plain._queue.extend([_Task({}, 3, None), _Task({}, 3, None)])
    assert plain._enqueued_batches() == (2, 3)
    with pytest.raises(ServingError) as info:
        plain._check_capacity(3, 2, 3)
    assert info.value.message.endswith("is full; currently 2 batches enqueued and max_enqueued_batches is 2")
    plain._check_capacity(2, 2, 3)
    plain._queue.clear()
    plain.stop()


def test_an_interrupted_caller_hands_its_lead_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller interrupted by a BaseException (Ctrl-C in warmup on the main thread) just as its task was promoted
    to lead leaves the queue, and the next caller is served instead of waiting forever for a leader."""
    from tests.support.live_server import wait_for

    servable = BlockingServable()
    gate, started = servable.gate, servable.started
    scheduler = BatchScheduler(servable, ["y", "s"], BatchingConfig(max_batch_size=1, num_batch_threads=1),  # type: ignore[arg-type]
                               ServerMetrics())
    first = threading.Thread(target=lambda: scheduler.submit({"x": np.ones((1, 1), np.float32)}, None), daemon=True)
    first.start()
    assert started.wait(10)
    real_wait = scheduler._wait

    def interrupted(tasks):  # type: ignore[no-untyped-def]
        gate.set()  # the running batch ends and promotes this caller's task ...
        wait_for(lambda: tasks[0].lead, timeout=10, what="promotion")
        raise KeyboardInterrupt  # ... which is interrupted before it leads

    monkeypatch.setattr(scheduler, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scheduler.submit({"x": np.full((1, 1), 2.0, np.float32)}, None)
    monkeypatch.setattr(scheduler, "_wait", real_wait)
    result: list[object] = []
    third = threading.Thread(target=lambda: result.append(scheduler.submit({"x": np.full((1, 1), 3.0, np.float32)},
                                                                         None)), daemon=True)
    third.start()
    third.join(10)
    assert result and result[0][0].item() == 6.0  # type: ignore[index]
    assert servable.batches == [1, 1]  # the interrupted task was not run
    first.join(10)
    scheduler.stop()


def test_queue_full_is_unavailable() -> None:
    servable = BlockingServable()
    gate, started = servable.gate, servable.started
    scheduler = BatchScheduler(servable, ["y", "s"], BatchingConfig(max_batch_size=1, max_enqueued_batches=1,  # type: ignore[arg-type]
                                                                    num_batch_threads=1), ServerMetrics())
    first = threading.Thread(target=lambda: scheduler.submit({"x": np.ones((1, 1), np.float32)}, None))
    first.start()
    from tests.support.live_server import wait_for

    assert started.wait(10)  # the first task is running (blocked) on the only batch thread
    second = threading.Thread(target=lambda: scheduler.submit({"x": np.ones((1, 1), np.float32)}, None))
    second.start()
    wait_for(lambda: len(scheduler._queue) == 1, timeout=10, what="second task queued")
    with pytest.raises(ServingError) as info:
        scheduler.submit({"x": np.ones((1, 1), np.float32)}, None)
    assert (info.value.code, info.value.message) == (
        Code.UNAVAILABLE,
        "The batch scheduling queue to which this task was submitted is full; currently 1 batches enqueued and "
        "max_enqueued_batches is 1",
    )
    gate.set()
    first.join(10)
    second.join(10)
    scheduler.stop()


def test_per_model_batching_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from toolkit.server.batching import BatchingRunner

    class Versioned:
        path = str(tmp_path)

    runner = BatchingRunner(BatchingConfig(max_batch_size=8), ServerMetrics(), per_model=True)
    assert runner.config_for(Versioned()).max_batch_size == 8  # type: ignore[arg-type]  # no file: global
    (tmp_path / "batching_params.pbtxt").write_text("max_batch_size { value: 3 } allowed_batch_sizes: 3")
    assert runner.config_for(Versioned()).max_batch_size == 3  # type: ignore[arg-type]
    (tmp_path / "batching_params.pbtxt").write_text("max_batch_size { value: 3 } allowed_batch_sizes: 2")
    with pytest.raises(ServingError) as info:
        runner.config_for(Versioned())  # type: ignore[arg-type]
    assert "Last entry in allowed_batch_sizes must match max_batch_size" in info.value.message


def test_huge_shape_with_few_values_is_rejected_not_allocated() -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for size in (100_000, 100_000):
        proto.tensor_shape.dim.add().size = size
    proto.float_val.append(1.0)  # would repeat to 10^10 floats (40 GB)
    with pytest.raises(tensors.TensorParseError, match="larger than the 2 GiB"):
        tensors.to_numpy(proto)


def test_small_int_types_wrap_like_the_cpp_cast() -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_UINT8)
    proto.tensor_shape.dim.add().size = 2
    proto.int_val.extend([300, -1])
    assert tensors.to_numpy(proto).tolist() == [44, 255]


def test_batching_run_needs_dimensioned_inputs_of_one_batch_size() -> None:
    """batching_util.h ComputeTensorBatchSize: TF Serving batches every Run, scalars are refused, not bypassed."""
    from toolkit.server.batching import BatchingRunner

    runner = BatchingRunner(BatchingConfig(num_batch_threads=1), ServerMetrics())
    servable = FakeServable()
    servable.batchers = {}  # type: ignore[attr-defined]
    cases = [
        ({"x": np.float32(1.0) * np.ones(())}, "Batching Run() input tensors must have at least one dimension"),
        ({"x": np.ones(2), "z": np.ones(3)}, "Batching Run() input tensors must have equal 0th-dimension size"),
        ({}, "Batching Run() must have at least one input tensor"),
    ]
    for feeds, message in cases:
        with pytest.raises(ServingError) as info:
            runner(servable, "serving_default", None, feeds, ["y"], None)  # type: ignore[arg-type]
        assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, message)
    assert servable.batches == []


def test_batching_queue_per_tensor_signature_keeps_each_callers_fetch_order() -> None:
    from toolkit.server.batching import BatchingRunner

    runner = BatchingRunner(BatchingConfig(num_batch_threads=1), ServerMetrics())
    servable = FakeServable()
    servable.batchers = {}  # type: ignore[attr-defined]

    def run(feeds, fetches, timeout):  # type: ignore[no-untyped-def]
        (x,) = feeds.values()
        return [x * 2 if name == "double" else x + 1 for name in fetches]

    servable.run = run  # type: ignore[method-assign]
    x = np.full((1, 1), 3.0, np.float32)
    a = runner(servable, "sig_a", None, {"x": x}, ["plus_one", "double"], None)  # type: ignore[arg-type]
    b = runner(servable, "sig_b", None, {"x": x}, ["double", "plus_one"], None)  # type: ignore[arg-type]
    assert [v.item() for v in a] == [4.0, 6.0] and [v.item() for v in b] == [6.0, 4.0]
    assert list(servable.batchers) == [(("x",), ("double", "plus_one"))]  # type: ignore[attr-defined]
    for scheduler in servable.batchers.values():  # type: ignore[attr-defined]
        scheduler.stop()


def test_batch_runs_until_the_latest_task_deadline_and_expired_tasks_are_not_run() -> None:
    import time as _time

    from toolkit.server.batching import _Task

    now = _time.monotonic()
    early, late = _Task({}, 1, 1.0, enqueued=now - 0.5), _Task({}, 1, 10.0, enqueued=now)
    assert 9.0 < BatchScheduler._batch_timeout([early, late]) <= 10.0  # type: ignore[operator]
    assert BatchScheduler._batch_timeout([early, _Task({}, 1, None)]) is None  # a task without deadline: none
    with pytest.raises(ServingError) as info:
        BatchScheduler._batch_timeout([_Task({}, 1, 0.1, enqueued=now - 1), _Task({}, 1, 0.2, enqueued=now - 1)])
    assert (info.value.code, info.value.message) == (
        Code.RESOURCE_EXHAUSTED, "Run() timeout exceeded while waiting in batching queue"
    )


def test_reload_config_metric_values_follow_get_metrics() -> None:
    """model_service_impl.cc GetMetrics: a counter by its TF monitoring name, valued by its first point (label
    order); the Prometheus spelling is not a monitoring name."""
    from toolkit.server.core import ServingCoreImpl
    from toolkit.server.inference import InferenceOptions

    metrics = ServerMetrics()
    core = ServingCoreImpl(None, metrics, InferenceOptions())  # type: ignore[arg-type]
    metrics.request_count.inc("b", "OK", amount=5)
    metrics.request_count.inc("a", "NOT_FOUND", amount=2)
    assert core._metric_value("/tensorflow/serving/request_count") == 2  # ("a", "NOT_FOUND") comes first
    assert core._metric_value(":tensorflow:serving:request_count") == 0
    assert core._metric_value("/tensorflow/serving/nope") == 0


def test_batches_run_on_the_submitting_threads_never_more_at_once_than_the_batch_threads() -> None:
    """No task crosses to a batch thread: the caller heading the queue runs the batch (a Python thread hop cost more
    than batching saved). Under load every answer is still the caller's own slice, batches stay within
    max_batch_size, and at most num_batch_threads batches run at once."""
    callers: set[int] = set()
    runners: set[int] = set()
    lock = threading.Lock()
    running = peak = 0

    class Counting(FakeServable):
        def run(self, feeds, fetches, timeout):  # type: ignore[no-untyped-def]
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
                runners.add(threading.get_ident())
            try:
                import time as _time

                _time.sleep(0.002)
                return super().run(feeds, fetches, timeout)
            finally:
                with lock:
                    running -= 1

    servable = Counting()
    threads_before = threading.active_count()
    scheduler = BatchScheduler(servable, ["y", "s"], BatchingConfig(max_batch_size=5, num_batch_threads=2,  # type: ignore[arg-type]
                                                                    max_enqueued_batches=1000), ServerMetrics())
    assert threading.active_count() == threads_before  # the scheduler starts no threads of its own
    results: dict[int, list[object]] = {}

    def call(i: int) -> None:
        with lock:
            callers.add(threading.get_ident())
        x = np.full((1 + i % 3, 2), i, np.float32)
        for _ in range(10):
            y, s = scheduler.submit({"x": x}, None)
            results.setdefault(i, []).append(bool((y == x * 2).all() and (s == x.sum(axis=1)).all()))

    workers = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(12)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert not any(t.is_alive() for t in workers), "a caller never got its answer"
    assert all(all(ok) and len(ok) == 10 for ok in results.values()) and len(results) == 12
    assert runners <= callers
    assert peak == 2  # both slots were used, never more
    assert max(servable.batches) <= 5 and sum(servable.batches) == sum(10 * (1 + i % 3) for i in range(12))
    assert len(servable.batches) < 120  # some tasks rode in another caller's batch
    scheduler.stop()


def test_a_failed_batch_fails_every_task_in_it_and_the_queue_goes_on() -> None:
    calls = 0

    class FailingOnce(FakeServable):
        def run(self, feeds, fetches, timeout):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("boom")
            return super().run(feeds, fetches, timeout)

    servable = FailingOnce()
    scheduler = BatchScheduler(servable, ["y", "s"], BatchingConfig(max_batch_size=2, num_batch_threads=1,  # type: ignore[arg-type]
                                                                    batch_timeout_micros=30_000_000), ServerMetrics())
    results = _submit_all(scheduler, [np.ones((1, 1), np.float32)] * 2)
    assert [(r.code, r.message) for r in results] == [(Code.INTERNAL, "RuntimeError: boom")] * 2  # type: ignore[union-attr]
    (y, _), = [scheduler.submit({"x": np.ones((2, 1), np.float32)}, None)]
    assert y.ravel().tolist() == [2.0, 2.0]
    scheduler.stop()
    with pytest.raises(ServingError) as info:
        scheduler.submit({"x": np.ones((1, 1), np.float32)}, None)
    assert (info.value.code, info.value.message) == (Code.UNAVAILABLE, "Batch scheduler is shutting down")
