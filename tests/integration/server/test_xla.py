"""``--xla_cpu_compilation_enabled``: as in TF Serving, a jit_compile=True model fails at its first run with
"XLA compilation disabled" unless the flag is on; with it, the XLA-compiled function serves."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.integration.server.grpc_helpers import outputs, predict_request
from tests.support.live_server import start_tfs_serve
from tests.unit.toolkit.test_export import X, export_affine


@pytest.fixture(scope="module")
def jit_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("xla")
    export_affine(repo, sample_inputs={"x": X}, jit_compile=True, warmup=False)  # no warmup: it would fail the load
    return repo


def test_without_the_flag_xla_is_disabled(jit_repo: Path) -> None:
    with start_tfs_serve([f"--model_base_path={jit_repo / 'affine'}", "--model_name=affine"], rest=False,
                         ready_models={"affine": [1]}) as server:
        with pytest.raises(grpc.RpcError) as info:
            server.prediction_stub().Predict(predict_request("affine", {"x": X}), timeout=30)
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert "XLA compilation disabled" in info.value.details()


def test_with_the_flag_the_compiled_function_serves(jit_repo: Path) -> None:
    with start_tfs_serve([f"--model_base_path={jit_repo / 'affine'}", "--model_name=affine",
                          "--xla_cpu_compilation_enabled=true"], rest=False, ready_models={"affine": [1]}) as server:
        response = server.prediction_stub().Predict(predict_request("affine", {"x": X}), timeout=60)
        np.testing.assert_allclose(outputs(response)["y"], 2 * X + 1)
        assert "accepted but ignored" not in server.log_text()
