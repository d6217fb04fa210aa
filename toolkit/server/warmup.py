"""Model warmup: replay ``assets.extra/tf_serving_warmup_requests`` (TFRecord of PredictionLog) against a version
while it loads, before it becomes AVAILABLE (saved_model_warmup_util.cc). Any error fails the load."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from tensorflow_serving.apis import prediction_log_pb2

from toolkit.server import inference
from toolkit.server.errors import Code, ServingError
from toolkit.server.metrics import ServerMetrics
from toolkit.server.servable import Servable, tf_module

log = logging.getLogger(__name__)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_RECORDS = 1000

# PredictionLog oneof field numbers, for the "Unsupported log_type" message.
_LOG_TYPE_NUMBERS = {"classify_log": 2, "regress_log": 3, "multi_inference_log": 4, "session_run_log": 5,
                     "predict_log": 6, "predict_streamed_log": 7}


def warmup_path(version_dir: str) -> str:
    return os.path.join(version_dir, WARMUP_FILE)


def run_warmup(
    servable: Servable,
    options: inference.InferenceOptions,
    iterations: int,
    runner: inference.Runner = inference.direct_runner,
    on_record: Callable[[], None] | None = None,
    metrics: ServerMetrics | None = None,
) -> int:
    """Replay every record ``iterations`` times (>=1). Returns the number of records read; raises ServingError.

    As RunSavedModelWarmupUntracked: a record is replayed before the record limit is checked, and
    model_warmup_latency / model_warmup_records_read (labels model_path, Status::ToString()) are recorded when
    the file was read to its end or the reader failed, not when a record failed to parse or to run."""
    path = warmup_path(servable.path)
    if not os.path.exists(path):
        log.info("No warmup data file found at %s", path)
        return 0
    tf = tf_module()
    iterations = max(iterations, 1)
    count = 0
    start = time.perf_counter()
    reader_error: ServingError | None = None
    try:
        for raw in tf.compat.v1.io.tf_record_iterator(path):
            record = prediction_log_pb2.PredictionLog()
            try:
                record.ParseFromString(raw)
            except Exception as exc:
                text = raw.decode("utf-8", "replace")
                raise ServingError(
                    Code.INVALID_ARGUMENT, f"Failed to parse warmup record: {text} from {path}"
                ) from exc
            for _ in range(iterations):
                _replay(servable, record, options, runner)
                if on_record is not None:
                    on_record()
            count += 1
            if count > MAX_RECORDS:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}",
                )
    except tf.errors.OpError as exc:  # the record reader's own error (a damaged TFRecord file)
        reader_error = ServingError(exc.error_code, exc.message)
    if metrics is not None:
        status = "OK" if reader_error is None else reader_error.to_status_string()
        metrics.model_warmup_latency.observe(servable.path, status, value=(time.perf_counter() - start) * 1e6)
        metrics.model_warmup_records_read.inc(servable.path, status, amount=count)
    if reader_error is not None:
        if reader_error.code == Code.DATA_LOSS:
            raise ServingError(
                Code.DATA_LOSS, f"{reader_error.message}. Please verify your warmup data is in TFRecord format."
            )
        raise reader_error
    log.info("Finished reading warmup data for model at %s. Number of warmup records read: %d.", path, count)
    return count


def _replay(
    servable: Servable,
    record: prediction_log_pb2.PredictionLog,
    options: inference.InferenceOptions,
    runner: inference.Runner,
) -> None:
    kind = record.WhichOneof("log_type")
    if kind == "predict_log":
        inference.run_predict(servable, record.predict_log.request, options, runner=runner)
    elif kind == "classify_log":
        inference.run_classify(servable, record.classify_log.request, options, runner=runner)
    elif kind == "regress_log":
        inference.run_regress(servable, record.regress_log.request, options, runner=runner)
    elif kind == "multi_inference_log":
        inference.run_multi_inference(servable, record.multi_inference_log.request, options, runner=runner)
    elif kind in ("session_run_log", "predict_streamed_log"):
        number = _LOG_TYPE_NUMBERS[kind]
        raise ServingError(Code.UNIMPLEMENTED, f"Unsupported log_type for warmup: {number}")
    # RunWarmupRequest: a record without a log type is skipped (its switch's default case)


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1e6
