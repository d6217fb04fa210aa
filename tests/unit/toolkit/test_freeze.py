"""``tfs freeze``: variables folded into constants (Keras, tf.Module, TF1 SavedModel, TF1 Saver checkpoint), published
as a new version through the export path and validated; bad sources publish nothing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from tests.support.models import build_half_plus_two_tf1  # noqa: E402
from tests.unit.toolkit.test_export import Affine, X  # noqa: E402
from toolkit.cli import main  # noqa: E402
from toolkit.export import Checkpoint, ExportError, export_model  # noqa: E402
from toolkit.export.freeze import VARIABLE_OPS, freeze_and_export  # noqa: E402
from toolkit.export.testdata import load_test_data  # noqa: E402
from toolkit.savedmodel import read_graph_defs, read_signatures  # noqa: E402


def graph_ops(version_dir: Path) -> set[str]:
    graph = read_graph_defs(version_dir)[0]
    ops = {n.op for n in graph.node}
    for function in graph.library.function:
        ops |= {n.op for n in function.node_def}
    return ops


def serve(version_dir: Path, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    function = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return {k: v.numpy() for k, v in function(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_keras_model_frozen_with_its_kept_test_data(tmp_path: Path) -> None:
    model = tf.keras.Sequential([tf.keras.Input((2,), name="x"), tf.keras.layers.Dense(3, name="score")])
    source = export_model(model, "dense", tmp_path, sample_inputs=X)
    assert {"VarHandleOp", "ReadVariableOp"} & graph_ops(source.path)
    frozen = freeze_and_export(source.path, "dense", tmp_path)
    assert frozen.version == 2 and frozen.validated_with == "expected outputs"
    assert any("test data kept inside the source" in note for note in frozen.notes)
    assert not graph_ops(frozen.path) & VARIABLE_OPS
    assert not list((frozen.path / "variables").glob("*.data-*")) or all(
        p.stat().st_size == 0 for p in (frozen.path / "variables").glob("*.data-*"))
    kept = load_test_data(frozen.path)
    assert kept is not None
    assert set(kept.expected) == set(source.signatures["serving_default"].outputs)  # the source's output names
    np.testing.assert_allclose(next(iter(kept.expected.values())), model(X).numpy(), rtol=1e-5, atol=1e-6)
    assert (frozen.path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert read_signatures(frozen.path)["serving_default"].inputs["x"].shape == (None, 2)


@pytest.fixture(scope="module")
def affine_saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain tf.saved_model.save of y = 2x + 1 (no kept test data)."""
    path = tmp_path_factory.mktemp("src") / "affine" / "1"
    module = Affine()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def test_module_without_test_data_is_checked_against_its_own_outputs(affine_saved_model: Path, tmp_path: Path) -> None:
    frozen = freeze_and_export(affine_saved_model, "affine", tmp_path, version=7)
    assert frozen.version == 7 and any("synthetic inputs" in note for note in frozen.notes)
    np.testing.assert_allclose(serve(frozen.path, x=X)["y"], 2.0 * X + 1.0)


def test_tf1_saved_model_signature_is_frozen_and_the_others_are_named(tmp_path: Path) -> None:
    source = build_half_plus_two_tf1(tmp_path / "src")
    frozen = freeze_and_export(source, "half", tmp_path / "repo")
    assert any("dropped" in note and "classify_x_to_y" in note for note in frozen.notes)
    assert not graph_ops(frozen.path) & VARIABLE_OPS
    np.testing.assert_allclose(serve(frozen.path, x=np.array([1.0, 4.0], np.float32))["y"], [2.5, 4.0])


def test_tf1_saver_checkpoint_is_frozen_with_graph_util(tmp_path: Path) -> None:
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as sess:
        w = v1.Variable([[1.0], [2.0]], name="w")
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        tf.matmul(x, w, name="y")
        sess.run(v1.global_variables_initializer())
        v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    checkpoint = Checkpoint(tmp_path / "model.ckpt.meta", inputs={"x": "x:0"}, outputs={"y": "y:0"})
    frozen = freeze_and_export(checkpoint, "mm", tmp_path / "repo", sample_inputs={"x": X})
    assert frozen.validated_with == "expected outputs" and not graph_ops(frozen.path) & VARIABLE_OPS
    np.testing.assert_allclose(serve(frozen.path, x=X)["y"], X @ np.array([[1.0], [2.0]], np.float32))


def test_bad_sources_publish_nothing(affine_saved_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--signature-name: expected one of \\['serving_default'\\], got 'nope'"):
        freeze_and_export(affine_saved_model, "affine", tmp_path / "repo", signature_name="nope")
    with pytest.raises(ExportError, match="expected a SavedModel folder or a TF1 checkpoint"):
        freeze_and_export(tmp_path / "missing", "m", tmp_path / "repo")
    with pytest.raises(ExportError, match="no such meta graph file"):
        freeze_and_export(Checkpoint(tmp_path / "none.meta", {"x": "x:0"}, {"y": "y:0"}), "m", tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_cli_freeze_and_clear_errors(affine_saved_model: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["freeze", str(affine_saved_model), "--repository", str(tmp_path / "repo")]) == 0
    out = capsys.readouterr().out  # named after the version folder's parent, version 1 in the new repository
    assert "published frozen affine version 1" in out and "validated with: expected outputs" in out
    assert main(["freeze", str(tmp_path / "nothing"), "--repository", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err
    assert "expected a SavedModel folder" in err and len(err.strip().splitlines()) == 1
    assert main(["freeze", str(tmp_path / "m.meta"), "--repository", str(tmp_path / "repo")]) == 2
    assert "--input ALIAS=TENSOR" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "repo" / "affine").iterdir()) == ["1"]
