"""``tfs export --jit-compile``: serving functions saved with jit_compile=True (Keras and tf.Module), compiled at
export so a model XLA cannot compile fails there with XLA's message and publishes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from tests.unit.toolkit.test_export import X, export_affine  # noqa: E402
from toolkit.cli import main  # noqa: E402
from toolkit.export import ExportError, export_model  # noqa: E402
from toolkit.savedmodel import read_graph_defs  # noqa: E402


def must_compile_functions(version_dir: Path) -> list[str]:
    library = read_graph_defs(version_dir)[0].library
    return [f.signature.name for f in library.function if f.attr["_XlaMustCompile"].b]


class Uncompilable(tf.Module):
    """Numbers through strings and back: AsString has no XLA kernel."""

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.strings.to_number(tf.strings.as_string(x))}


def test_module_exported_with_jit_compile(tmp_path: Path) -> None:
    plain = export_affine(tmp_path, sample_inputs={"x": X})
    jit = export_affine(tmp_path, sample_inputs={"x": X}, jit_compile=True)
    assert must_compile_functions(plain.path) == [] and must_compile_functions(jit.path)
    assert jit.validated_with == "outputs recorded"
    loaded = tf.saved_model.load(str(jit.path)).signatures["serving_default"]
    np.testing.assert_allclose(loaded(x=tf.constant(X))["y"].numpy(), 2 * X + 1)


def test_keras_model_exported_with_jit_compile(tmp_path: Path) -> None:
    model = tf.keras.Sequential([tf.keras.Input((2,), name="x"), tf.keras.layers.Dense(3)])
    result = export_model(model, "dense", tmp_path, sample_inputs=X, jit_compile=True)
    assert result.validated_with == "reference model" and must_compile_functions(result.path)


def test_uncompilable_model_fails_at_export_with_xlas_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = Uncompilable()
    with pytest.raises(ExportError, match=r"--jit-compile: XLA cannot compile signature 'serving_default': Detected "
                                          r"unsupported operations when trying to compile graph .*AsString"):
        export_model(module, "bad", tmp_path, signatures={"serving_default": module.serve}, jit_compile=True)
    assert not (tmp_path / "bad").exists()
    # the same model without --jit-compile exports fine (the check is XLA's, not ours)
    assert export_model(module, "bad", tmp_path, signatures={"serving_default": module.serve}).version == 1


def test_jit_compile_of_a_saved_model_or_tf1_graph_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = export_affine(tmp_path / "src")
    assert main(["export", str(source.path), "--name", "copy", "--repository", str(tmp_path / "r"), "--jit-compile"]) == 1
    err = capsys.readouterr().err
    assert "--jit-compile: expected a Keras model or file, a tf.Module or a tf.function" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
