"""The request-handling contract shared by the REST and gRPC front ends of the embedded runtime.

Both front ends translate their wire format into the official ``tensorflow_serving.apis`` request messages, call
one ``ServingCore``, and translate the answer (or a ``ServingError``) back. So the two protocols cannot drift apart.
"""

from __future__ import annotations

from typing import Literal, Protocol

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

Entrypoint = Literal["GRPC", "REST"]


class ServingCore(Protocol):
    """What a protocol front end needs from the model manager. Every method raises ``ServingError`` on failure.

    ``timeout`` is the caller's deadline in seconds (gRPC deadline, or ``--rest_api_timeout_in_ms``); None = none.
    """

    def predict(
        self, request: predict_pb2.PredictRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> predict_pb2.PredictResponse: ...

    def classify(
        self,
        request: classification_pb2.ClassificationRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> classification_pb2.ClassificationResponse: ...

    def regress(
        self, request: regression_pb2.RegressionRequest, *, entrypoint: Entrypoint, timeout: float | None = None
    ) -> regression_pb2.RegressionResponse: ...

    def multi_inference(
        self,
        request: inference_pb2.MultiInferenceRequest,
        *,
        entrypoint: Entrypoint,
        timeout: float | None = None,
    ) -> inference_pb2.MultiInferenceResponse: ...

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, *, entrypoint: Entrypoint
    ) -> get_model_metadata_pb2.GetModelMetadataResponse: ...

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest, *, entrypoint: Entrypoint
    ) -> get_model_status_pb2.GetModelStatusResponse: ...

    def reload_config(
        self, request: model_management_pb2.ReloadConfigRequest
    ) -> model_management_pb2.ReloadConfigResponse: ...

    def signature_defs(self, model_spec: model_pb2.ModelSpec) -> tuple[int, dict[str, meta_graph_pb2.SignatureDef]]:
        """Resolve ``model_spec`` (name + version/label/latest) to (version, signature map) of a loaded servable.

        The REST layer needs the input dtypes to parse JSON before it can build a request, as TF Serving's does.
        """
        ...

    def metrics_text(self) -> str:
        """Prometheus exposition text of the runtime's metrics."""
        ...
