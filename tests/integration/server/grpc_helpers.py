"""Small builders for raw TF Serving gRPC requests (official tensorflow_serving stubs and messages)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    predict_pb2,
    regression_pb2,
)

from tests.support.models import make_example


def spec(request: object, name: str, *, version: int | None = None, label: str | None = None,
         signature: str | None = None) -> None:
    ms = request.model_spec  # type: ignore[attr-defined]
    ms.name = name
    if version is not None:
        ms.version.value = version
    if label is not None:
        ms.version_label = label
    if signature is not None:
        ms.signature_name = signature


def predict_request(name: str, inputs: dict[str, object], **kw: object) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    spec(request, name, **kw)  # type: ignore[arg-type]
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def example(**features: float) -> example_pb2.Example:
    ex = example_pb2.Example()
    ex.ParseFromString(make_example(**features))
    return ex


def classify_request(name: str, xs: list[float], **kw: object) -> classification_pb2.ClassificationRequest:
    request = classification_pb2.ClassificationRequest()
    spec(request, name, **kw)  # type: ignore[arg-type]
    request.input.example_list.examples.extend(example(x=x) for x in xs)
    return request


def regress_request(name: str, xs: list[float], **kw: object) -> regression_pb2.RegressionRequest:
    request = regression_pb2.RegressionRequest()
    spec(request, name, **kw)  # type: ignore[arg-type]
    request.input.example_list.examples.extend(example(x=x) for x in xs)
    return request


def status_request(name: str, **kw: object) -> get_model_status_pb2.GetModelStatusRequest:
    request = get_model_status_pb2.GetModelStatusRequest()
    spec(request, name, **kw)  # type: ignore[arg-type]
    return request


def metadata_request(name: str, fields: tuple[str, ...] = ("signature_def",), **kw: object):  # type: ignore[no-untyped-def]
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    spec(request, name, **kw)  # type: ignore[arg-type]
    request.metadata_field.extend(fields)
    return request


def rpc_error(call, request, timeout: float = 30) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    """Call and return the RpcError (the test fails if the call succeeds)."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=timeout)
    return info.value


def outputs(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
