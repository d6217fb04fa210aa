"""Persisted test data keeps every tensor name, including those that are parameter names of ``np.savez``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.export.testdata import TestData, load_test_data, save_test_data


def test_tensor_names_that_are_savez_parameters_round_trip(tmp_path: Path) -> None:
    inputs = {"file": np.arange(3, dtype=np.int64), "allow_pickle": np.ones((2, 2), np.float32),
              "text": np.array([b"a", b"b"], dtype=object)}
    save_test_data(tmp_path, TestData(inputs, {"y": np.float32([0.5])}))
    loaded = load_test_data(tmp_path)
    assert loaded is not None
    assert sorted(loaded.inputs) == ["allow_pickle", "file", "text"]
    for name, array in inputs.items():
        np.testing.assert_array_equal(loaded.inputs[name], array)
        assert loaded.inputs[name].dtype == array.dtype
    np.testing.assert_array_equal(loaded.expected["y"], [0.5])
