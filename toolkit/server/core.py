"""The request-handling core shared by the gRPC and REST front ends (implements ``frontend_contract.ServingCore``):
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
from toolkit.server.errors import Code, ServingError
from toolkit.server.frontend_contract import Entrypoint
from toolkit.server.limits import RequestLimits
from toolkit.server.manager import ModelManager
from toolkit.server.metrics import Counter, ServerMetrics
from toolkit.server.servable import Servable

log = logging.getLogger(__name__)

T = TypeVar("T")

SIGNATURE_DEF_FIELD = "signature_def"

# runtime_latency's API label (predict_util.cc, classifier.cc, regressor.cc; MultiInference records none).
RUNTIME_API = {"predict": "Predict", "classify": "Classify", "regress": "Regress"}


def request_metric_api(api: str, entrypoint: str) -> str | None:
    """The ``API`` label of request_latency, or None where TF Serving records no request metrics.

    gRPC (prediction_service_impl.cc): Predict, Classify and Regress only, capitalised. REST (http_server.cc):
    every request with the method of its URL (``predict``, ``classify``, ``regress``; empty for status and
    metadata GETs)."""
    if entrypoint == "GRPC":
        return {"predict": "Predict", "classify": "Classify", "regress": "Regress"}.get(api)
    return {"predict": "predict", "classify": "classify", "regress": "regress"}.get(api, "")


def _example_count(request_input: Any) -> int:
    """NumInputExamples of an Input."""
    kind = request_input.WhichOneof("kind")
    return len(getattr(request_input, kind).examples) if kind else 0


class ServingCoreImpl:
    """TF Serving's PredictionService/ModelService logic over a ModelManager."""

    def __init__(
        self,
        manager: ModelManager,
        metrics: ServerMetrics,
        options: inference.InferenceOptions,
        runner: inference.Runner = inference.direct_runner,
        limits: RequestLimits | None = None,
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        self.options = options
        self.runner = runner
        self.limits = limits if limits is not None else RequestLimits()

    # ------------------------------------------------------------------------------------------ helpers
    @contextmanager
    def _observed(self, model: str, api: str, entrypoint: str) -> Iterator[dict[str, object]]:
        """TF Serving's request metrics for this call, where it records any (``request_metric_api``): the request
        is counted whatever its outcome, its latency only when it succeeds."""
        start = time.perf_counter()
        info: dict[str, object] = {"version": ""}
        status = "OK"
        label = request_metric_api(api, entrypoint)
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
            if label is not None:
                if status == "OK":
                    micros = (time.perf_counter() - start) * 1e6
                    self.metrics.request_latency.observe(model, label, entrypoint, value=micros)
                self.metrics.request_count.inc(model, status)
                self.metrics.request_count_by_version.inc(model, info["version"], label, entrypoint, status)

    def _timed_runner(self, model: str, api: str) -> inference.Runner:
        """The runner, recording runtime_latency around each successful Session::Run (RecordRuntimeLatency)."""

        def run(*args: Any) -> Any:
            start = time.perf_counter()
            result = self.runner(*args)
            self.metrics.runtime_latency.observe(model, api, "TF1", value=(time.perf_counter() - start) * 1e6)
            return result

        return run

    @staticmethod
    def _require_spec(request: Any) -> model_pb2.ModelSpec:
        """``request``: any of the five request messages (all carry ``model_spec``)."""
        if not request.HasField("model_spec"):
            raise ServingError(Code.INVALID_ARGUMENT, "Missing ModelSpec")
        return request.model_spec

    def _infer(
        self,
        request: Any,
        api: str,
        entrypoint: Entrypoint,
        run: Callable[..., T],
    ) -> T:
        spec: model_pb2.ModelSpec = request.model_spec
        with self._observed(spec.name, api, entrypoint) as info:
            self._require_spec(request)
            with self.manager.servable(spec) as servable:
                info["version"] = servable.version
                return run(servable, self._timed_runner(spec.name, RUNTIME_API[api]))

    # ------------------------------------------------------------------------------------------ inference
    def predict(
        self, request: predict_pb2.PredictRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> predict_pb2.PredictResponse:
        def run(servable: Servable, runner: inference.Runner) -> predict_pb2.PredictResponse:
            self.limits.check_inputs(request.inputs)  # sized from the claims, before any tensor is decoded
            return inference.run_predict(servable, request, self.options, timeout, runner=runner)

        return self._infer(request, "predict", entrypoint, run)

    def classify(
        self,
        request: classification_pb2.ClassificationRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> classification_pb2.ClassificationResponse:
        return self._infer(
            request,
            "classify",
            entrypoint,
            lambda s, runner: inference.run_classify(s, request, self.options, timeout, runner=runner),
        )

    def regress(
        self, request: regression_pb2.RegressionRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> regression_pb2.RegressionResponse:
        return self._infer(
            request,
            "regress",
            entrypoint,
            lambda s, runner: inference.run_regress(s, request, self.options, timeout, runner=runner),
        )

    def multi_inference(
        self,
        request: inference_pb2.MultiInferenceRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> inference_pb2.MultiInferenceResponse:
        spec = inference.multi_inference_model_spec(request)
        name = spec.name

        def run_and_count(*args: Any) -> Any:
            """multi_inference.cc: RecordRequestExampleCount once the one Session::Run succeeded."""
            result = self.runner(*args)
            count = _example_count(request.input)
            self.metrics.request_example_counts.observe(name, value=count)
            self.metrics.request_example_count_total.inc(name, amount=count)
            return result

        # the lookup first, then the task checks (multi_inference_helper.cc)
        with self._observed(name, "multi_inference", entrypoint) as info, self.manager.servable(spec) as servable:
            info["version"] = servable.version
            return inference.run_multi_inference(servable, request, self.options, timeout, run_and_count)

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
        """The REST layer's lookup before it parses a body; a failed lookup is still a counted REST request
        (http_server.cc counts every request, e.g. request_count{model_name="half",status="NOT_FOUND"})."""
        try:
            with self.manager.servable(model_spec) as servable:
                return servable.version, dict(servable.signatures)
        except ServingError as exc:
            self.metrics.request_count.inc(model_spec.name, exc.code.name)
            raise

    # ------------------------------------------------------------------------------------------ model service
    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest, *, entrypoint: Entrypoint
    ) -> get_model_status_pb2.GetModelStatusResponse:
        spec = self._require_spec(request)
        with self._observed(spec.name, "get_model_status", entrypoint):
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
        names = list(dict.fromkeys(request.metric_names))  # GetMetrics keeps one value per name
        before = {name: self._metric_value(name) for name in names}
        log.info("Reloading model server config with %d model(s)", len(request.config.model_config_list.config))
        self.manager.reload_config(request.config, timeout=timeout)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.error_code = 0
        for name in names:  # RecordMetricsIncrease: every requested name, 0 when unknown
            metric = response.metric.add()
            metric.name = name
            metric.int64_value_increase = int(self._metric_value(name) - before[name])
        return response

    def _metric_value(self, name: str) -> float:
        """model_service_impl.cc GetMetrics: a counter found by its TF monitoring name (``/tensorflow/...``),
        valued by its first point."""
        for value in vars(self.metrics).values():
            if isinstance(value, Counter) and value.monitoring_name == name:
                return value.first_point()
        return 0

    def metrics_text(self) -> str:
        return self.metrics.render()
