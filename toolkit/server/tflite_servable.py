"""A version folder served from its ``model.tflite`` by the TF Lite interpreter that ships inside TensorFlow, as TF
Serving's TfLiteSession (--prefer_tflite_model; saved_model_bundle_factory.cc, tflite_session.cc).

The servable offers what the manager, inference, batching and warmup use of a SavedModel ``Servable``: ``name``,
``version``, ``path``, ``signatures``, ``acquire``/``release``/``close`` and ``run(feeds, fetches, timeout)`` over
tensor names. Requests borrow one interpreter of a bounded pool (``--num_tflite_pools`` interpreters; a request
waits for a free one); each input whose shape differs from the interpreter's is resized to the request's shape
before the call, as TfLiteSession does.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clients import dtypes
from toolkit.server import tensors
from toolkit.server.errors import Code, ServingError
from toolkit.server.servable import Servable, SessionOptions, tf_module

if TYPE_CHECKING:
    from toolkit.server.batching import BatchingConfig, BatchKey, BatchScheduler
from toolkit.server.tflite_signatures import (
    TensorDetail,
    build_signatures,
    fix_tensor_name,
    tensor_details,
)

log = logging.getLogger(__name__)

TFLITE_MODEL_FILENAME = "model.tflite"  # kTfLiteModelFilename


@dataclass(frozen=True)
class TfLiteOptions:
    """The TF Lite fields of SessionBundleConfig (from the flags or a platform config file)."""

    prefer_tflite_model: bool = False
    num_tflite_pools: int = 1  # interpreters in the pool (TF Serving's flag help calls them so)
    num_tflite_interpreters_per_pool: int = 1

    @property
    def pool_size(self) -> int:
        """TfLiteSession::Create: ``max(1, num_pools)`` interpreters."""
        return max(1, self.num_tflite_pools)


def tflite_model_found(version_dir: str) -> bool:
    """TfLiteModelFound: ``<version_dir>/model.tflite`` exists."""
    return os.path.exists(os.path.join(version_dir, TFLITE_MODEL_FILENAME))


def create_servable(
    name: str, version: int, path: str, session_options: SessionOptions, tflite: TfLiteOptions
) -> Servable:
    """SavedModelBundleFactory: the TF Lite model when preferred and present, else the SavedModel."""
    if tflite.prefer_tflite_model and tflite_model_found(path):
        return TfLiteServable(name, version, path, tflite)
    return Servable(name, version, path, session_options)


def _new_interpreter(model_bytes: bytes):
    """One interpreter on one thread (CreateTfLiteInterpreterWrapper uses num_threads = 1)."""
    tf = tf_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice, on every construction
        return tf.lite.Interpreter(model_content=model_bytes, num_threads=1)


class _Interpreter:
    """A pooled interpreter, its current input shapes and whether its tensors are allocated for them."""

    def __init__(self, model_bytes: bytes) -> None:
        self.interpreter = _new_interpreter(model_bytes)
        self.interpreter.allocate_tensors()
        self.allocated = True
        self.shapes = {d["index"]: tuple(int(n) for n in d["shape"]) for d in self.interpreter.get_input_details()}


class InterpreterPool:
    """A fixed set of interpreters: ``get`` waits (up to ``timeout`` seconds) for a free one, ``put`` returns it."""

    def __init__(self, factory, size: int) -> None:
        self.size = size
        self._free: queue.LifoQueue[object] = queue.LifoQueue()
        for _ in range(size):
            self._free.put(factory())

    def get(self, timeout: float | None = None):
        try:
            return self._free.get(timeout=timeout if timeout is None else max(timeout, 0.0))
        except queue.Empty:
            raise ServingError(
                Code.DEADLINE_EXCEEDED,
                f"Timed out after {timeout:.3f}s waiting for a free TF Lite interpreter (all {self.size} busy)",
            ) from None

    def put(self, item: object) -> None:
        self._free.put(item)

    def free_count(self) -> int:
        return self._free.qsize()


class TfLiteSession:
    """TfLiteSession: the model bytes, its tensor maps, its signature defs and a pool of interpreters."""

    def __init__(self, model_bytes: bytes, options: TfLiteOptions) -> None:
        try:
            probe = _new_interpreter(model_bytes)
        except (ValueError, RuntimeError) as exc:
            raise ServingError(Code.INTERNAL, f"Cannot build Interpreter from buffer. ({exc})") from exc
        self.inputs = tensor_details(probe.get_input_details(), "Input")
        self.outputs = tensor_details(probe.get_output_details(), "Output")
        self.signatures = build_signatures(model_bytes, self.inputs, self.outputs)
        del probe

        def make() -> _Interpreter:
            try:
                return _Interpreter(model_bytes)
            except (ValueError, RuntimeError) as exc:
                raise ServingError(Code.INTERNAL, f"Failed to allocate tensors ({exc})") from exc

        self.pool = InterpreterPool(make, options.pool_size)
        self.batching = _scheduler_config(options, _model_batch_size(model_bytes))
        self._schedulers: dict[BatchKey, BatchScheduler] = {}
        self._schedulers_lock = threading.Lock()

    def close(self) -> None:
        """Stop the batch schedulers and drop the interpreters (once no request holds the servable)."""
        for scheduler in list(self._schedulers.values()):
            scheduler.stop()
        while self.pool.free_count():
            self.pool.get(0)

    def run(self, feeds: dict[str, np.ndarray], fetches: list[str], timeout: float | None = None) -> list[np.ndarray]:
        """TfLiteSession::Run: straight to an interpreter, or (num_tflite_interpreters_per_pool > 1) through the
        session's batch scheduler, which merges concurrent calls and splits large ones."""
        if self.batching is None or not feeds or any(value.ndim == 0 for value in feeds.values()):
            return self.run_direct(feeds, fetches, timeout)
        key = (tuple(sorted(feeds)), tuple(fetches))
        with self._schedulers_lock:
            scheduler = self._schedulers.get(key)
            if scheduler is None:
                from toolkit.server.batching import BatchScheduler
                from toolkit.server.metrics import ServerMetrics

                # TfLiteSession's scheduler reports no batching metrics: give it a private, never exported set.
                target = _DirectTarget(self)
                scheduler = BatchScheduler(target, list(fetches), self.batching, ServerMetrics())
                self._schedulers[key] = scheduler
        return scheduler.submit(feeds, timeout)

    # ------------------------------------------------------------------------------------------ Run
    def run_direct(
        self, feeds: dict[str, np.ndarray], fetches: list[str], timeout: float | None = None
    ) -> list[np.ndarray]:
        """RunInternal over tensor names: map the names, borrow an interpreter, resize, invoke, copy out."""
        by_index: dict[int, tuple[TensorDetail, np.ndarray]] = {}
        for name, value in feeds.items():
            try:
                detail = self.inputs[fix_tensor_name(self.inputs, name)]
            except ServingError as exc:
                raise ServingError(exc.code, f"{exc.message}\n\tMissing input TFLite tensor: {name}") from exc
            by_index[detail.index] = (detail, value)
        outputs: list[TensorDetail] = []
        for name in fetches:
            try:
                outputs.append(self.outputs[fix_tensor_name(self.outputs, name)])
            except ServingError as exc:
                raise ServingError(Code.INTERNAL, f"Missing output TFLite tensor: {name}: {exc.message}") from exc
        inputs = [by_index[i] for i in sorted(by_index)]
        for detail, value in inputs:
            _check_dtype(detail, value)
        started = time.monotonic()
        pooled = self.pool.get(timeout)
        try:
            remaining = None if timeout is None else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline exceeded before a TF Lite interpreter was free")
            return _invoke(pooled, inputs, outputs)
        finally:
            self.pool.put(pooled)


class _DirectTarget:
    """What a batching.BatchScheduler needs of its servable: a name and an unbatched run."""

    def __init__(self, session: TfLiteSession) -> None:
        self.name = "tflite"
        self.run = session.run_direct


INITIAL_BATCH_SIZE = 500  # internal::kInitialBatchSize


def _model_batch_size(model_bytes: bytes) -> int:
    """GetModelBatchSize: dim 0 of the only input of the first subgraph (-1 with several inputs)."""
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        subgraph = schema.Model.GetRootAsModel(model_bytes, 0).Subgraphs(0)
        if subgraph.InputsLength() != 1:
            return -1
        shape = subgraph.Tensors(subgraph.Inputs(0)).ShapeAsNumpy()
        return -1 if isinstance(shape, int) or len(shape) == 0 else int(shape[0])
    except Exception:  # noqa: BLE001 - the interpreter already accepted the model; be lenient here
        return -1


def _scheduler_config(options: TfLiteOptions, model_batch_size: int):
    """TfLiteSession::Create's BasicBatchScheduler options, used when num_tflite_interpreters_per_pool > 1."""
    per_pool = options.num_tflite_interpreters_per_pool
    if per_pool <= 1:
        return None
    from toolkit.server.batching import BatchingConfig

    default_allowed = (INITIAL_BATCH_SIZE + per_pool - 1) // per_pool
    return BatchingConfig(
        max_batch_size=INITIAL_BATCH_SIZE,
        batch_timeout_micros=0,
        max_enqueued_batches=options.pool_size * 100,
        num_batch_threads=options.pool_size,
        enable_large_batch_splitting=True,
        max_execution_batch_size=model_batch_size if model_batch_size > 1 else default_allowed,
    )


def _check_dtype(detail: TensorDetail, value: np.ndarray) -> None:
    """TfLiteSession copies the request's bytes without looking at their type; refuse a mismatch instead."""
    got = tensors.dtype_of_array(value)
    if got != detail.dtype:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"TF Lite input tensor '{detail.name}' expects {dtypes.enum_name(detail.dtype)} but "
            f"{dtypes.enum_name(got)} was given",
        )


def _invoke(
    pooled: _Interpreter, inputs: list[tuple[TensorDetail, np.ndarray]], outputs: list[TensorDetail]
) -> list[np.ndarray]:
    """SetInputAndInvokeMiniBatch + CreateOutputTensors/SetMiniBatchOutput on one borrowed interpreter."""
    interpreter = pooled.interpreter
    resized = False
    for detail, value in inputs:
        if pooled.shapes.get(detail.index) != value.shape:
            try:
                interpreter.resize_tensor_input(detail.index, list(value.shape), strict=False)
            except (ValueError, RuntimeError) as exc:
                pooled.allocated = False
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Failed to resize input tensor: {detail.name} to {tensors.shape_string(value.shape)} ({exc})",
                ) from exc
            pooled.shapes[detail.index] = value.shape
            resized = True
    if resized or not pooled.allocated:
        pooled.allocated = False
        try:
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ServingError(Code.INVALID_ARGUMENT, f"Failed to allocate tensors ({_one_line(exc)})") from exc
        pooled.allocated = True
    try:
        for detail, value in inputs:
            interpreter.set_tensor(detail.index, value)
        interpreter.invoke()
    except (ValueError, RuntimeError) as exc:
        pooled.allocated = False  # re-allocate before the next call: a failed prepare leaves stale plans
        raise ServingError(Code.INVALID_ARGUMENT, f"Failed to invoke TfLite interpreter ({_one_line(exc)})") from exc
    return [_output(interpreter, detail) for detail in outputs]


def _output(interpreter, detail: TensorDetail) -> np.ndarray:
    value = interpreter.get_tensor(detail.index)  # a copy, so the interpreter can go back to the pool
    if value.dtype.kind == "S":  # TF Lite strings come back as fixed-width bytes; the runtime uses object arrays
        value = value.astype(object)
    return value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class TfLiteServable(Servable):
    """A loaded ``model.tflite`` version, with the SavedModel servable's reference counting and interface."""

    def __init__(self, name: str, version: int, path: str, options: TfLiteOptions) -> None:
        # Servable.__init__ loads a SavedModel; only its bookkeeping is shared (acquire/release/close).
        self.name = name
        self.version = version
        self.path = path
        model_path = Path(path) / TFLITE_MODEL_FILENAME
        try:
            model_bytes = model_path.read_bytes()
        except OSError as exc:
            raise ServingError(Code.NOT_FOUND, f"Could not read {model_path}: {exc.strerror or exc}") from exc
        log.info("Loading TF Lite model %s with %d interpreter(s)", model_path, options.pool_size)
        self.session = TfLiteSession(model_bytes, options)
        self.meta_graph = None
        self.signatures = dict(self.session.signatures)
        self._refs = 0
        self._cond = threading.Condition()
        self._closed = False
        self.batchers: dict[BatchKey, BatchScheduler] = {}
        self.batching_config: BatchingConfig | None = None

    def run(self, feeds: dict[str, np.ndarray], fetches: list[str], timeout: float | None = None) -> list[np.ndarray]:
        return self.session.run(feeds, fetches, timeout)
