"""Single hostile gRPC requests against a live server: each is refused before the server allocates for it, and the
server's peak RSS (VmHWM, reset before each request) grows by less than HOSTILE_GROWTH_MIB. A request just under the
fill limit is served, peaking at less than six times the limit plus 64 MiB (five copies of 64 MiB).

Before the limits, the string case grew the server by about 1.5 GiB and the float case by more than 8 GB."""

from __future__ import annotations

import grpc
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

from tests.support import rss
from toolkit.server import limits

HOSTILE_GROWTH_MIB = 32  # what a refused request may add to the server's peak RSS (gRPC buffers, logging)
DT = types_pb2


def _request(dtype: int, dims: tuple[int, ...], **fields: list[object]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half"
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for d in dims:
        proto.tensor_shape.dim.add().size = d
    for name, values in fields.items():
        getattr(proto, name).extend(values)
    request.inputs["x"].CopyFrom(proto)
    return request


HOSTILE = {
    "string_shape_no_values": _request(DT.DT_STRING, (100_000_000,)),
    "float_shape_one_value": _request(DT.DT_FLOAT, (375_000_000,), float_val=[1.0]),
    "float_2d_one_value": _request(DT.DT_FLOAT, (100_000, 100_000), float_val=[1.0]),
    "int64_huge": _request(DT.DT_INT64, (2**40,)),
    "many_inputs": None,  # built below: 50 inputs of 2 MiB fill each (each under, the sum over the limit)
}


def _many_inputs() -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half"
    for i in range(50):
        proto = request.inputs[f"x{i}"]
        proto.dtype = DT.DT_FLOAT
        proto.tensor_shape.dim.add().size = 512 * 1024
    return request


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_request_is_refused_without_growing_the_server(half_server, case: str) -> None:  # type: ignore[no-untyped-def]
    request = HOSTILE[case] or _many_inputs()
    assert request.ByteSize() < 2000  # a few bytes on the wire
    stub = half_server.prediction_stub()
    base = rss.reset_peak(half_server.pid)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=30)
    growth_mib = (rss.peak_kib(half_server.pid) - base) / 1024
    print(f"\nHOSTILE {case}: {request.ByteSize()} bytes, server peak RSS +{growth_mib:.1f} MiB")
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    assert "--max_request_fill_bytes" in info.value.details()
    assert growth_mib < HOSTILE_GROWTH_MIB, f"{case}: server peak RSS grew {growth_mib:.0f} MiB"
    assert half_server.process.poll() is None


def test_request_at_the_fill_limit_is_served_within_a_small_multiple_of_it(half_server) -> None:  # type: ignore[no-untyped-def]
    limit = limits.DEFAULT_MAX_REQUEST_FILL_BYTES
    count = limit // 4 - 16  # just under the limit, with two values given
    request = _request(DT.DT_FLOAT, (count,), float_val=[1.0, 2.0])
    stub = half_server.prediction_stub()
    stub.Predict(_request(DT.DT_FLOAT, (1000,), float_val=[1.0]), timeout=30)  # model warm, session pools made
    base = rss.reset_peak(half_server.pid)
    response = stub.Predict(request, timeout=60)
    growth_mib = (rss.peak_kib(half_server.pid) - base) / 1024
    print(f"\nAT FILL LIMIT: server peak RSS +{growth_mib:.0f} MiB")
    assert response.outputs["y"].tensor_shape.dim[0].size == count
    # Measured 322 MiB: the decoded input, TF's feed copy, the output array, its float_val field and the serialized
    # response are 64 MiB each. Bound: 6x the limit plus 64 MiB for the session's scratch memory.
    bound_mib = 6 * limit / 2**20 + 64
    assert growth_mib < bound_mib, f"peak RSS grew {growth_mib:.0f} MiB for a {limit >> 20} MiB fill"
