"""--enable_batching on a live server: concurrent Predict calls are merged into one Session run and split back.

The batch timeout is long (30 s) and max_batch_size equals the number of concurrent rows, so a batch closes
exactly when it is full: the merge is deterministic, not a matter of timing.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import numpy as np
import pytest

from tests.integration.server.grpc_helpers import outputs, predict_request, rpc_error
from tests.support import models
from tests.support.live_server import start_tfs_serve

BATCHING = """\
max_batch_size { value: 4 }
batch_timeout_micros { value: 30000000 }
max_enqueued_batches { value: 10 }
num_batch_threads { value: 1 }
allowed_batch_sizes: 2
allowed_batch_sizes: 4
"""


@pytest.fixture(scope="module")
def batch_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("batch_repo")
    models.publish_version(root, "double", 1, models.build_double_tf2)
    (root / "batching.config").write_text(BATCHING)
    (root / "monitoring.config").write_text('prometheus_config { enable: true path: "/metrics" }\n')
    server = start_tfs_serve(
        [f"--model_base_path={root / 'double'}", "--model_name=double", "--enable_batching",
         f"--batching_parameters_file={root / 'batching.config'}", f"--monitoring_config_file={root / 'monitoring.config'}"],
        ready_models={"double": [1]},
    )
    yield server
    server.stop()


def _histogram(server, name: str) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    text = httpx.get(server.rest_url + "/metrics", timeout=10).text
    prefix = f":tensorflow:serving:batching_session:{name}"
    # process-wide, no labels: TF's batching session metrics carry no model name
    count = re.search(rf'^{prefix}_count (\S+)$', text, re.MULTILINE)
    total = re.search(rf'^{prefix}_sum (\S+)$', text, re.MULTILINE)
    return (int(count.group(1)) if count else 0, float(total.group(1)) if total else 0.0)


def _concurrent(server, inputs: list[np.ndarray]):  # type: ignore[no-untyped-def]
    stub = server.prediction_stub()

    def call(x: np.ndarray):  # type: ignore[no-untyped-def]
        try:
            return stub.Predict(predict_request("double", {"x": x}), timeout=60)
        except grpc.RpcError as exc:
            return exc

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_concurrent_calls_are_merged_and_split_back(batch_server) -> None:  # type: ignore[no-untyped-def]
    before_batches, before_rows = _histogram(batch_server, "processed_batch_size")
    xs = [np.array([[float(i), float(10 * i)]], dtype=np.float32) for i in range(1, 5)]
    results = _concurrent(batch_server, xs)
    for x, response in zip(xs, results):
        assert not isinstance(response, grpc.RpcError), response
        out = outputs(response)
        np.testing.assert_allclose(out["y"], 2 * x)  # each caller gets its own rows back
        np.testing.assert_allclose(out["row_sum"], x.sum(axis=1))
    batches, rows = _histogram(batch_server, "processed_batch_size")
    assert (batches - before_batches, rows - before_rows) == (1, 4.0)  # four calls, one Session run of 4 rows

    # two calls of two rows each also fill exactly one batch
    pairs = [np.arange(4, dtype=np.float32).reshape(2, 2) + 100 * i for i in range(2)]
    results = _concurrent(batch_server, pairs)
    for x, response in zip(pairs, results):
        np.testing.assert_allclose(outputs(response)["y"], 2 * x)
    assert _histogram(batch_server, "processed_batch_size")[0] - batches == 1


def test_task_larger_than_max_batch_size(batch_server) -> None:  # type: ignore[no-untyped-def]
    err = rpc_error(batch_server.prediction_stub().Predict, predict_request("double", {"x": np.ones((5, 2), np.float32)}))
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Task size 5 is larger than maximum input batch size 4"
    )


def test_different_shapes_without_padding_fail_the_batch(batch_server) -> None:  # type: ignore[no-untyped-def]
    xs = [np.ones((1, 2), np.float32), np.ones((1, 2), np.float32), np.ones((1, 3), np.float32),
          np.ones((1, 3), np.float32)]
    results = _concurrent(batch_server, xs)
    for result in results:
        assert isinstance(result, grpc.RpcError)
        assert result.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert result.details().startswith("Tensors with name 'serving_default_x:0' from different tasks have different "
                                           "shapes and padding is turned off.")


def test_scalar_inputs_are_refused_by_the_batching_session(batch_server) -> None:  # type: ignore[no-untyped-def]
    """batching_util.h ComputeTensorBatchSize: with batching on, every Session::Run goes through the batching
    session, and a 0-dimensional input cannot be batched (TF Serving does not bypass the batcher for it)."""
    err = rpc_error(batch_server.prediction_stub().Predict, predict_request("double", {"x": np.float32(1.0)}))
    assert (err.code(), err.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "Batching Run() input tensors must have at least one dimension"
    )
