"""Servable.run against real SavedModels in-process: TF's C++ runtime decides shapes, dtype errors carry
Session::Run's own text on both run paths (cached callable, TF_SessionRun), and deadlines cancel the run.

Three small models built once for the module (about 5 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import models
from toolkit.server.errors import Code, ServingError
from toolkit.server.servable import Servable, SessionOptions, _c_session_run


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("servable_models")
    return {
        "tf1": models.build_half_plus_two_tf1(root / "tf1"),
        "multi": models.build_multi_dtype_tf2(root / "multi"),
        "slow": models.build_slow_tf2(root / "slow"),
    }


def _load(path: Path) -> Servable:
    return Servable("m", 1, str(path), SessionOptions(fixed_timeouts_ms=(30000, 200)))


def test_shapes_are_decided_by_the_ops_on_every_path(built: dict[str, Path]) -> None:
    servable = _load(built["tf1"])  # x is [-1,1] in the signature
    x = np.array([1.0, 2.0, 5.0], np.float32)
    for timeout in (None, 30.0, 29.123):  # callables (no deadline, the fixed REST one), TF_SessionRun (a gRPC one)
        (y,) = servable.run({"x:0": x}, ["y:0"], timeout)
        assert y.tolist() == [2.5, 3.0, 4.5]
    assert len(servable._callables) == 2  # no deadline, and the fixed 30 s
    (y, y_again) = servable.run({"x:0": x[:1]}, ["y:0", "y:0"])  # a fetch named twice comes back twice
    assert y.tolist() == y_again.tolist() == [2.5]
    servable.close()


def test_dtype_errors_are_session_runs_own_text(built: dict[str, Path]) -> None:
    servable = _load(built["multi"])
    sig = servable.signatures["serving_default"]
    feeds = {
        sig.inputs["text"].name: np.array([b"a"], object),
        sig.inputs["count"].name: np.array([1], np.int64),
        sig.inputs["flag"].name: np.array([1.0], np.float32),  # wrong: bool expected
        sig.inputs["value"].name: np.ones((1, 2), np.int32),  # wrong: float expected
    }
    fetches = [sig.outputs["count_plus_one"].name]
    # What TF's DirectSession says itself (the C API's Session::Run, no check of ours in between):
    session_run = _c_session_run()[0]
    with pytest.raises(Exception) as native:
        session_run(servable.session._session, None,
                    {servable._graph_tensor(n, "feed")[0]: v for n, v in feeds.items()},
                    [servable._graph_tensor(fetches[0], "fetch")[0]], [], None)
    for timeout in (None, 10.0):  # cached callable, TF_SessionRun
        with pytest.raises(ServingError) as ours:
            servable.run(feeds, fetches, timeout)
        assert ours.value.code == Code.INVALID_ARGUMENT
        assert ours.value.message == native.value.message == "Expects arg[1] to be bool but float is provided"
    servable.close()


def test_a_shape_the_ops_cannot_use_is_invalid_argument(built: dict[str, Path]) -> None:
    servable = _load(built["multi"])
    sig = servable.signatures["serving_default"]
    feeds = {
        sig.inputs["text"].name: np.array([b"a"], object),
        sig.inputs["count"].name: np.array([1], np.int64),
        sig.inputs["flag"].name: np.array([True]),
        sig.inputs["value"].name: np.ones(2, np.float32),  # rank 1: reduce_sum over axis 1 fails
    }
    with pytest.raises(ServingError) as info:
        servable.run(feeds, [sig.outputs["value_sum"].name])
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message.startswith("Invalid reduction dimension (1 for input with 1 dimension(s)")
    servable.close()


def test_deadline_cancels_the_run_on_both_paths(built: dict[str, Path]) -> None:
    servable = _load(built["slow"])
    sig = servable.signatures["serving_default"]
    feeds = {sig.inputs["n"].name: np.array([10**12], np.int64)}  # hours of looping
    for timeout in (0.15, 0.2):  # TF_SessionRun with RunOptions, a callable made for the fixed 200 ms
        with pytest.raises(ServingError) as info:
            servable.run(feeds, [sig.outputs["count"].name], timeout=timeout)
        assert info.value.code == Code.DEADLINE_EXCEEDED
    assert len(servable._callables) == 1
    (count,) = servable.run({sig.inputs["n"].name: np.array([3], np.int64)}, [sig.outputs["count"].name], 0.2)
    assert count.tolist() == [3]
    servable.close()
