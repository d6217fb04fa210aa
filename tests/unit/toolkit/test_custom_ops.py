"""Ops stock TF Serving lacks: a real custom op (a .so built here with g++ and loaded with tf.load_op_library) is
found in the function library, refused at export unless --allow-custom-ops, listed by tfs inspect; core models
and py_function models are told apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from tests.support.custom_op import OP_NAME, build_add_one_library  # noqa: E402
from tests.unit.toolkit.test_export import Affine, X  # noqa: E402
from toolkit.cli import main  # noqa: E402
from toolkit.custom_ops import find_custom_ops, stock_registry  # noqa: E402
from toolkit.export import CustomOpsError, ExportValidationError, export_model  # noqa: E402
from toolkit.inspect import format_report, inspect_saved_model  # noqa: E402


@pytest.fixture(scope="session")
def add_one_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test session."""
    return build_add_one_library(tmp_path_factory.mktemp("custom_op"))


class AddOneTwice(tf.Module):
    """y = TfsTestAddOne(2x) = 2x + 1 through the custom op."""

    def __init__(self, library: Any) -> None:
        super().__init__()
        self.library = library
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.library.tfs_test_add_one(self.scale * x)}


@pytest.fixture(scope="module")
def custom_module(add_one_library: Path) -> AddOneTwice:
    return AddOneTwice(tf.load_op_library(str(add_one_library)))


@pytest.fixture(scope="module")
def custom_saved_model(custom_module: AddOneTwice, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("custom") / "sm"
    tf.saved_model.save(custom_module, str(path), signatures={"serving_default": custom_module.serve})
    return path


def test_the_stock_registry_ignores_libraries_loaded_in_this_process(custom_module: AddOneTwice) -> None:
    from tensorflow.python.framework import op_def_registry

    assert op_def_registry.get(OP_NAME) is not None  # registered here by tf.load_op_library
    stock, _bundled = stock_registry()
    assert OP_NAME not in stock and {"MatMul", "StatefulPartitionedCall", "VarHandleOp"} <= stock


def test_the_custom_op_is_found_in_the_function_library(custom_saved_model: Path, tmp_path: Path) -> None:
    found = find_custom_ops(custom_saved_model)
    assert [c.op for c in found] == [OP_NAME]
    assert found[0].reason == "not in the stock op registry"
    assert found[0].where and all(w.startswith("function __inference_serve") for w in found[0].where)
    module = Affine()
    tf.saved_model.save(module, str(tmp_path / "core"), signatures={"serving_default": module.serve})
    assert find_custom_ops(tmp_path / "core") == []


def test_python_ops_are_flagged(tmp_path: Path) -> None:
    class PyModel(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": tf.py_function(lambda v: v + 1, [x], tf.float32)}

    module = PyModel()
    tf.saved_model.save(module, str(tmp_path / "py"), signatures={"serving_default": module.serve})
    found = find_custom_ops(tmp_path / "py")
    assert [c.op for c in found] == ["EagerPyFunc"] and "runs Python" in found[0].reason


def test_export_refuses_custom_ops_and_publishes_nothing(custom_module: AddOneTwice, tmp_path: Path) -> None:
    with pytest.raises(CustomOpsError, match=rf"{OP_NAME} \(not in the stock op registry; in function "
                                             r"__inference_serve.*custom build.*--allow-custom-ops"):
        export_model(custom_module, "custom", tmp_path, signatures={"serving_default": custom_module.serve},
                     sample_inputs={"x": X})
    assert not (tmp_path / "custom").exists()


def test_allowed_custom_ops_validate_with_the_op_library(custom_module: AddOneTwice, add_one_library: Path,
                                                         tmp_path: Path) -> None:
    sigs = {"serving_default": custom_module.serve}
    with pytest.raises(ExportValidationError, match=OP_NAME):  # the clean process lacks the op without its library
        export_model(custom_module, "custom", tmp_path, signatures=sigs, sample_inputs={"x": X},
                     allow_custom_ops=True)
    assert not (tmp_path / "custom").exists()
    result = export_model(custom_module, "custom", tmp_path, signatures=sigs, sample_inputs={"x": X},
                          expected_outputs={"y": 2 * X + 1}, allow_custom_ops=True, op_libraries=[add_one_library])
    assert result.custom_ops == [OP_NAME] and result.validated_with == "expected outputs"
    assert any(OP_NAME in note and "custom build" in note for note in result.notes)


def test_inspect_lists_custom_ops(custom_saved_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = inspect_saved_model(custom_saved_model)
    assert [c["op"] for c in report["custom_ops"]] == [OP_NAME]
    text = format_report(report)
    assert "ops stock TensorFlow Serving lacks (the official tensorflow/serving image cannot load it" in text
    assert any(line.strip().startswith(OP_NAME) for line in text.splitlines())
    assert main(["export", str(custom_saved_model), "--name", "c", "--repository", str(custom_saved_model.parent / "r")]) == 1
    err = capsys.readouterr().err
    assert OP_NAME in err and "--allow-custom-ops" in err and len(err.strip().splitlines()) == 1
    assert not (custom_saved_model.parent / "r" / "c").exists()
