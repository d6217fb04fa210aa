"""The request-handling core shared by the gRPC and REST front ends (implements ``core_api.ServingCore``):
model lookup through the manager, inference, metadata, status, config reload and request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from google.protobuf import any_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from toolkit.server import inference
from toolkit.server.limits import RequestLimits
from toolkit.server.core_api import Entrypoint
from toolkit.server.errors import Code, ServingError
from toolkit.server.manager import ModelManager
from toolkit.server.metrics import Counter, ServerMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")

SIGNATURE_DEF_FIELD = "signature_def"


class ServingCoreImpl:
    """TF Serving's PredictionService/ModelService logic over a ModelManager."""

    def __init__(
        self,
        manager: ModelManager,
        metrics: ServerMetrics,
        options: inference.InferenceOptions,
        runner: inference.Runner = inference.direct_runner,
        limits: RequestLimits = RequestLimits(),
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        self.options = options
        self.runner = runner
        self.limits = limits

    # ------------------------------------------------------------------------------------------ helpers
    @contextmanager
    def _observed(self, model: str, api: str, entrypoint: str) -> Iterator[dict[str, object]]:
        """Count the request and record its latency, whatever the outcome."""
        start = time.perf_counter()
        info: dict[str, object] = {"version": ""}
        status = "OK"
        try:
            yield info
        except ServingError as exc:
            status = exc.code.name
            raise
        except Exception as exc:
            status = Code.INTERNAL.name
            log.exception("Internal error in %s for model %s", api, model)
            raise ServingError(Code.INTERNAL, f"{type(exc).__name__}: {exc}") from exc
        finally:
            micros = (time.perf_counter() - start) * 1e6
            self.metrics.request_count.inc(model, status)
            self.metrics.request_latency.observe(model, api, entrypoint, value=micros)
            self.metrics.request_count_by_version.inc(model, info["version"], api, entrypoint, status)

    @staticmethod
    def _require_spec(request: object) -> model_pb2.ModelSpec:
        if not request.HasField("model_spec"):  # type: ignore[attr-defined]
            raise ServingError(Code.INVALID_ARGUMENT, "Missing ModelSpec")
        return request.model_spec  # type: ignore[attr-defined,no-any-return]

    def _infer(
        self,
        request: object,
        api: str,
        entrypoint: Entrypoint,
        run: Callable[..., T],
    ) -> T:
        spec: model_pb2.ModelSpec = request.model_spec
        with self._observed(spec.name, api, entrypoint) as info:
            self._require_spec(request)
            with self.manager.servable(spec) as servable:
                info["version"] = servable.version
                start = time.perf_counter()
                result = run(servable)
                self.metrics.runtime_latency.observe(
                    spec.name, api, "TF1", value=(time.perf_counter() - start) * 1e6
                )
                return result

    # ------------------------------------------------------------------------------------------ inference
    def predict(
        self, request: predict_pb2.PredictRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> predict_pb2.PredictResponse:
        def run(servable: object) -> predict_pb2.PredictResponse:
            self.limits.check_inputs(request.inputs)  # sized from the claims, before any tensor is decoded
            return inference.run_predict(servable, request, self.options, timeout, runner=self.runner)

        return self._infer(request, "predict", entrypoint, run)

    def _count_examples(self, model: str, request_input: Any) -> None:
        """RecordRequestExampleCount after a successful classify / regress / multi_inference (util.cc)."""
        kind = request_input.WhichOneof("kind")
        count = len(getattr(request_input, kind).examples) if kind else 0
        self.metrics.request_example_counts.observe(model, value=count)
        self.metrics.request_example_count_total.inc(model, amount=count)

    def classify(
        self,
        request: classification_pb2.ClassificationRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> classification_pb2.ClassificationResponse:
        response = self._infer(
            request, "classify", entrypoint, lambda s: inference.run_classify(s, request, self.options, timeout, runner=self.runner)
        )
        self._count_examples(request.model_spec.name, request.input)
        return response

    def regress(
        self, request: regression_pb2.RegressionRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> regression_pb2.RegressionResponse:
        response = self._infer(
            request, "regress", entrypoint, lambda s: inference.run_regress(s, request, self.options, timeout, runner=self.runner)
        )
        self._count_examples(request.model_spec.name, request.input)
        return response

    def multi_inference(
        self,
        request: inference_pb2.MultiInferenceRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> inference_pb2.MultiInferenceResponse:
        spec = inference.multi_inference_model_spec(request)
        name = spec.name
        with self._observed(name, "multi_inference", entrypoint) as info:
            with self.manager.servable(spec) as servable:  # the lookup first, then the task checks
                info["version"] = servable.version
                response = inference.run_multi_inference(servable, request, self.options, timeout, self.runner)
            self._count_examples(name, request.input)
            return response

    # ------------------------------------------------------------------------------------------ metadata
    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, *, entrypoint: Entrypoint
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        spec = self._require_spec(request)
        with self._observed(spec.name, "get_model_metadata", entrypoint) as info:
            if not request.metadata_field:
                raise ServingError(
                    Code.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one metadata_field"
                )
            for field in request.metadata_field:
                if field != SIGNATURE_DEF_FIELD:
                    raise ServingError(Code.INVALID_ARGUMENT, f"Metadata field {field} is not supported")
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            with self.manager.servable(spec) as servable:
                info["version"] = servable.version
                response.model_spec.name = spec.name
                response.model_spec.version.value = servable.version
                sig_map = get_model_metadata_pb2.SignatureDefMap()
                for key, signature in servable.signatures.items():
                    sig_map.signature_def[key].CopyFrom(signature)
            packed = any_pb2.Any()
            packed.Pack(sig_map)
            response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
            return response

    def signature_defs(self, model_spec: model_pb2.ModelSpec) -> tuple[int, dict[str, meta_graph_pb2.SignatureDef]]:
        with self.manager.servable(model_spec) as servable:
            return servable.version, dict(servable.signatures)

    # ------------------------------------------------------------------------------------------ model service
    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest, *, entrypoint: Entrypoint
    ) -> get_model_status_pb2.GetModelStatusResponse:
        spec = self._require_spec(request)
        version = spec.version.value if spec.HasField("version") else None  # labels are ignored, as TF Serving
        response = get_model_status_pb2.GetModelStatusResponse()
        for record in self.manager.version_status(spec.name, version):
            item = response.model_version_status.add()
            item.version = record.version
            item.state = int(record.state)
            item.status.SetInParent()  # always present (error_code OK), as TF Serving's ToStatusProto
            if record.error is not None:
                item.status.error_code = int(record.error.code)
                item.status.error_message = record.error.message
        return response

    def reload_config(
        self, request: model_management_pb2.ReloadConfigRequest, *, timeout: float | None = None
    ) -> model_management_pb2.ReloadConfigResponse:
        """Full replacement of the model list; blocks until new models are AVAILABLE (or ``timeout``)."""
        if request.config.WhichOneof("config") != "model_config_list":
            raise ServingError(
                Code.INVALID_ARGUMENT,
                "ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is "
                "currently supported",
            )
        counters = {name: self._counter(name) for name in request.metric_names}
        before = {name: c.total() for name, c in counters.items() if c is not None}
        log.info("Reloading model server config with %d model(s)", len(request.config.model_config_list.config))
        self.manager.reload_config(request.config, timeout=timeout)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.error_code = 0
        for name in request.metric_names:
            metric = response.metric.add()
            metric.name = name
            counter = counters.get(name)
            if counter is not None:
                metric.int64_value_increase = int(counter.total() - before[name])
        return response

    def _counter(self, name: str) -> Counter | None:
        wanted = name.replace("/", ":")
        for value in vars(self.metrics).values():
            if isinstance(value, Counter) and value.name == wanted:
                return value
        return None

    def metrics_text(self) -> str:
        return self.metrics.render()
