"""Write ``assets.extra/tf_serving_warmup_requests``: a TFRecord of ``PredictionLog`` records, each holding a
``PredictRequest`` built from the sample inputs, so TF Serving runs them while loading the version."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from toolkit._extras import require

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000  # TF Serving's kMaxNumRecords: the 1001st record fails the load


def _batch_size(inputs: Mapping[str, np.ndarray]) -> int:
    sizes = {v.shape[0] for v in inputs.values() if np.ndim(v) > 0}
    return sizes.pop() if len(sizes) == 1 else 0


def warmup_requests(model_name: str, signature_name: str, inputs: Mapping[str, np.ndarray],
                    max_records: int = MAX_WARMUP_RECORDS) -> list:
    """One request per sample row (batch dimension sliced), or one request with everything when the inputs
    share no batch dimension; never more than ``max_records``."""
    tf = require("tensorflow", purpose="writing warmup records")
    predict_pb2 = require("tensorflow_serving.apis.predict_pb2")
    batch = _batch_size(inputs)
    slices = [{k: v[i : i + 1] for k, v in inputs.items()} for i in range(batch)] if batch else [dict(inputs)]
    requests = []
    for sample in slices[: min(max_records, MAX_WARMUP_RECORDS)]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature_name
        for name, value in sample.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        requests.append(request)
    return requests


def write_warmup_file(version_dir: str | Path, model_name: str, signature_name: str,
                      inputs: Mapping[str, np.ndarray], max_records: int = MAX_WARMUP_RECORDS) -> int:
    """Write the warmup TFRecord into a version folder; returns the number of records."""
    tf = require("tensorflow", purpose="writing warmup records")
    prediction_log_pb2 = require("tensorflow_serving.apis.prediction_log_pb2")
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = warmup_requests(model_name, signature_name, inputs, max_records)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return len(requests)


def read_warmup_file(path: str | Path) -> list:
    """Parse a warmup file back into ``PredictionLog`` messages (for inspection and tests)."""
    tf = require("tensorflow", purpose="reading warmup records")
    prediction_log_pb2 = require("tensorflow_serving.apis.prediction_log_pb2")
    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs
