"""Prometheus metrics of the runtime, named as TF Serving's monitoring names with ``/`` turned into ``:``
(``:tensorflow:serving:request_count`` ...), rendered as Prometheus text exposition without extra dependencies.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Sequence

Labels = tuple[tuple[str, str], ...]


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", ":", name)


def _label_name(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return "_" + name if name[:1].isdigit() else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = list(labels) + ([extra] if extra else [])
    if not items:
        return ""
    return "{" + ",".join(f'{_label_name(k)}="{_escape(v)}"' for k, v in items) + "}"


def _fmt_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def exponential_buckets(scale: float, growth: float, count: int) -> list[float]:
    """TF monitoring's Buckets::Exponential(scale, growth_factor, bucket_count) upper bounds."""
    return [scale * growth**i for i in range(count)]


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_: str, label_names: Sequence[str]) -> None:
        self.monitoring_name = name  # TF monitoring's own name, e.g. /tensorflow/serving/request_count
        self.name = _sanitize(name)
        self.help = help_
        self.label_names = tuple(label_names)
        self._lock = threading.Lock()

    def _key(self, values: Sequence[object]) -> Labels:
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {values}")
        return tuple(zip(self.label_names, (str(v) for v in values)))

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        """Prometheus exposition lines of this metric (none while it has no sample)."""
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, label_names: Sequence[str]) -> None:
        super().__init__(name, help_, label_names)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: object, amount: float = 1) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, *labels: object) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0)

    def total(self) -> float:
        with self._lock:
            return sum(self._values.values())

    def first_point(self) -> float:
        """The value of the first cell in label order (what TF's CollectMetrics lists first), 0 if none."""
        with self._lock:
            return self._values[min(self._values)] if self._values else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_fmt_labels(k)} {_fmt_value(v)}" for k, v in items]


class Gauge(Counter):
    kind = "gauge"

    def set(self, *labels: object, value: float) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_: str, label_names: Sequence[str], buckets: Sequence[float]) -> None:
        super().__init__(name, help_, label_names)
        self.bounds = list(buckets)
        self._data: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, *labels: object, value: float) -> None:
        key = self._key(labels)
        index = bisect.bisect_left(self.bounds, value)
        with self._lock:
            counts, totals = self._data.setdefault(key, ([0] * (len(self.bounds) + 1), [0.0, 0.0]))
            counts[index] += 1
            totals[0] += value
            totals[1] += 1

    def count(self, *labels: object) -> int:
        with self._lock:
            data = self._data.get(self._key(labels))
            return int(data[1][1]) if data else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, (list(c), list(t))) for k, (c, t) in self._data.items())
        lines = []
        for key, (counts, (total, n)) in items:
            cumulative = 0
            for bound, count in zip([*self.bounds, math.inf], counts):
                cumulative += count
                lines.append(f"{self.name}_bucket{_fmt_labels(key, ('le', _fmt_value(bound)))} {cumulative}")
            lines.append(f"{self.name}_sum{_fmt_labels(key)} {_fmt_value(total)}")
            lines.append(f"{self.name}_count{_fmt_labels(key)} {int(n)}")
        return lines


_LATENCY_BUCKETS = exponential_buckets(10, 1.8, 33)  # microseconds, as TF Serving's request_latency


class ServerMetrics:
    """Every metric the runtime exports."""

    def __init__(self) -> None:
        self.request_count = Counter(
            "/tensorflow/serving/request_count", "The total number of requests.", ["model_name", "status"]
        )
        self.request_latency = Histogram(
            "/tensorflow/serving/request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ["model_name", "API", "entrypoint"],
            _LATENCY_BUCKETS,
        )
        self.runtime_latency = Histogram(
            "/tensorflow/serving/runtime_latency",
            "Distribution of wall time (in microseconds) for Tensorflow runtime.",
            ["model_name", "API", "runtime"],
            _LATENCY_BUCKETS,
        )
        # util.cc RecordRequestExampleCount: tf.Examples per classify / regress / multi_inference request.
        self.request_example_counts = Histogram(
            "/tensorflow/serving/request_example_counts",
            "The number of tensorflow.Examples per request.",
            ["model"],
            exponential_buckets(1, 2, 15),
        )
        self.request_example_count_total = Counter(
            "/tensorflow/serving/request_example_count_total", "The total number of tensorflow.Examples.", ["model"]
        )
        self.request_count_by_version = Counter(
            "/tfs_toolkit/serving/request_count_by_version",
            "Requests per model version, API, entrypoint and status (tfs-toolkit addition).",
            ["model_name", "version", "API", "entrypoint", "status"],
        )
        # TF's SavedModel loader (tensorflow/cc/saved_model/loader.cc), which TF Serving's process exports too.
        self.saved_model_load_attempt_count = Counter(
            "/tensorflow/cc/saved_model/load_attempt_count",
            "The number of times a SavedModel was successfully loaded.",
            ["model_path", "status"],
        )
        # tfs-toolkit additions (TF Serving exports no such metrics): named under /tfs_toolkit/ so that a dashboard
        # built on them cannot be mistaken for one that works against TF Serving.
        self.load_attempt_count = Counter(
            "/tfs_toolkit/serving/load_attempt_count",
            "The number of times a model version load was attempted, by final status (tfs-toolkit addition).",
            ["model_name", "version", "status"],
        )
        self.model_load_count = Counter(
            "/tfs_toolkit/serving/model_load_count",
            "Model version loads that ended AVAILABLE (status OK) or END with an error (tfs-toolkit addition).",
            ["model_name", "status"],
        )
        self.model_unload_count = Counter(
            "/tfs_toolkit/serving/model_unload_count", "Model versions unloaded (tfs-toolkit addition).",
            ["model_name"]
        )
        self.loaded_versions = Gauge(
            "/tfs_toolkit/serving/loaded_versions", "Model versions currently AVAILABLE (tfs-toolkit addition).",
            ["model_name"]
        )
        # saved_model_warmup_util.cc
        self.model_warmup_latency = Histogram(
            "/tensorflow/serving/model_warmup_latency",
            "Distribution of wall time (in microseconds) for warming up the model.",
            ["model_path", "status"],
            exponential_buckets(10, 1.8, 33),
        )
        self.model_warmup_records_read = Counter(
            "/tensorflow/serving/model_warmup_records_read",
            "Total number of warmup records read during model warmup.",
            ["model_path", "status"],
        )
        self.warmup_request_count = Counter(
            "/tfs_toolkit/serving/model_warmup_request_count",
            "Warmup requests replayed while loading (tfs-toolkit addition).",
            ["model_name", "version"],
        )
        # batching_util.h / batching_session.cc: process-wide, no model label (TF's batching session has none).
        self.batch_size = Histogram(
            "/tensorflow/serving/batching_session/processed_batch_size",
            "Tracks the batch size distribution on processing.",
            [],
            exponential_buckets(1, 2, 14),
        )
        self.input_batch_size = Histogram(
            "/tensorflow/serving/batching_session/input_batch_size",
            "Tracks the batch size distribution on the inputs.",
            [],
            exponential_buckets(1, 2, 14),
        )
        self.padding_size = Histogram(
            "/tensorflow/serving/batching_session/padding_size",
            "Tracks the padding size distribution on batches.",
            ["execution_batch_size"],
            exponential_buckets(1, 2, 14),
        )
        self.wrapped_run_count = Counter(
            "/tensorflow/serving/batching_session/wrapped_run_count",
            "Total count of run calls on the wrapped session",
            [],
        )
        self.queuing_latency = Histogram(
            "/tensorflow/serving/batching_session/queuing_latency",
            "Distribution of wall time spent (in microseconds) in queuing",
            ["thread_pool_name"],  # "" for the model server's batching sessions
            exponential_buckets(100, 1.2, 52),
        )
        self._all: list[_Metric] = [
            self.request_count,
            self.request_latency,
            self.runtime_latency,
            self.request_example_counts,
            self.request_example_count_total,
            self.request_count_by_version,
            self.saved_model_load_attempt_count,
            self.load_attempt_count,
            self.model_load_count,
            self.model_unload_count,
            self.loaded_versions,
            self.model_warmup_latency,
            self.model_warmup_records_read,
            self.warmup_request_count,
            self.batch_size,
            self.input_batch_size,
            self.padding_size,
            self.wrapped_run_count,
            self.queuing_latency,
        ]

    def render(self) -> str:
        """Prometheus text exposition (version 0.0.4)."""
        lines: list[str] = []
        for metric in self._all:
            body = metric.render()
            if body:
                lines.extend(metric.header())
                lines.extend(body)
        return "\n".join(lines) + "\n"
