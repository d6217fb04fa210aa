"""``tfs inspect checkpoint``: TF1 Saver checkpoints, TF2 tf.train.Checkpoints and a Keras SavedModel's variables/,
read with TensorFlow's checkpoint reader; filtering, values, totals and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from tests.unit.toolkit.test_cli import run_tfs  # noqa: E402
from toolkit.checkpoint import (  # noqa: E402
    CheckpointError,
    checkpoint_report,
    list_variables,
    resolve_prefix,
    variable_values,
)
from toolkit.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def tf1_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tf.compat.v1 graph saved with Saver: a 6x10 kernel 0..59, a bias, a string variable; step 3."""
    folder = tmp_path_factory.mktemp("tf1")
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.get_variable("dense/kernel", initializer=tf.reshape(tf.range(60, dtype=tf.float32), [6, 10]))
        v1.Variable([1.5, -2.0], name="dense/bias")
        v1.Variable("hello", name="label")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            v1.train.Saver().save(sess, str(folder / "model.ckpt"), global_step=3)
    return folder


@pytest.fixture(scope="module")
def tf2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF2 tf.train.Checkpoint of a small Keras model and an int64 step, saved twice (latest is ckpt-2)."""
    folder = tmp_path_factory.mktemp("tf2")
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4, name="d")])
    step = tf.Variable(1, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(model=model, step=step)
    ckpt.save(str(folder / "ckpt"))
    step.assign(2)
    ckpt.save(str(folder / "ckpt"))
    return folder


def test_tf1_folder_lists_every_variable_sorted_with_sizes_and_totals(tf1_checkpoint: Path) -> None:
    report = checkpoint_report(tf1_checkpoint)
    assert report["prefix"] == str(tf1_checkpoint / "model.ckpt-3") and "TF1" in report["format"]
    rows = {v["name"]: v for v in report["variables"]}
    assert [v["name"] for v in report["variables"]] == ["dense/bias", "dense/kernel", "label"]
    assert rows["dense/kernel"] == {"name": "dense/kernel", "dtype": "float32", "shape": [6, 10], "elements": 60,
                                    "bytes": 240}
    assert rows["label"]["dtype"] == "string" and rows["label"]["bytes"] == len("hello")
    assert report["totals"] == {"variables": 3, "parameters": 63, "bytes": 240 + 8 + 5}


def test_every_spelling_of_a_checkpoint_resolves_to_its_prefix(tf1_checkpoint: Path) -> None:
    prefix = tf1_checkpoint / "model.ckpt-3"
    for spelling in (prefix, Path(f"{prefix}.index"), Path(f"{prefix}.meta"),
                     Path(f"{prefix}.data-00000-of-00001"), tf1_checkpoint):
        assert resolve_prefix(spelling) == prefix, spelling


def test_tf2_checkpoint_latest_match_and_object_graph_hidden(tf2_checkpoint: Path) -> None:
    report = checkpoint_report(tf2_checkpoint, match=r"kernel|step")
    assert report["prefix"].endswith("ckpt-2") and "TF2" in report["format"]
    names = [v["name"] for v in report["variables"]]
    assert names == sorted(names) and len(names) == 2
    kernel = next(v for v in report["variables"] if "kernel" in v["name"])
    assert kernel["shape"] == [3, 4] and kernel["bytes"] == 48
    assert not any("_CHECKPOINTABLE_OBJECT_GRAPH" in v["name"] for v in checkpoint_report(tf2_checkpoint)["variables"])
    step = next(n for n in names if n.startswith("step"))
    assert variable_values(tf2_checkpoint, step)["values"] == 2  # the latest save, not the first


def test_savedmodel_variables_folder_of_a_keras_model(tmp_path: Path) -> None:
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)])
    tf.saved_model.save(model, str(tmp_path / "sm"))
    from_model = checkpoint_report(tmp_path / "sm")
    from_variables = checkpoint_report(tmp_path / "sm" / "variables")
    assert from_model == from_variables
    assert from_model["totals"]["parameters"] == 2 * 3 + 3


def test_values_small_in_full_large_summarised(tf1_checkpoint: Path) -> None:
    assert variable_values(tf1_checkpoint, "dense/bias")["values"] == [1.5, -2.0]
    kernel = variable_values(tf1_checkpoint, "dense/kernel")
    assert kernel["summarised"] and kernel["shape"] == [6, 10] and kernel["elements"] == 60
    assert (kernel["min"], kernel["max"], kernel["mean"]) == (0.0, 59.0, 29.5)
    assert kernel["first"] == [float(i) for i in range(10)]
    np.testing.assert_array_equal(variable_values(tf1_checkpoint, "label")["values"], "hello")


def test_wrong_names_and_paths_are_clear_errors(tf1_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no variable 'dense/kernl'.*did you mean 'dense/kernel'"):
        variable_values(tf1_checkpoint, "dense/kernl")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        list_variables(tmp_path / "missing.ckpt")
    with pytest.raises(CheckpointError, match="no checkpoint in this folder"):
        list_variables(tmp_path)
    with pytest.raises(CheckpointError, match="--match: expected a regular expression"):
        list_variables(tf1_checkpoint, match="(")
    (tmp_path / "broken.index").write_bytes(b"not an index")
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        list_variables(tmp_path / "broken")


def test_cli_table_json_and_error_exit(tf1_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "checkpoint", str(tf1_checkpoint), "--match", "dense"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("dense/kernel") and "(6, 10)" in line and "240" in line for line in lines)
    assert not any(line.startswith("label") for line in lines)
    assert lines[-1].startswith("total: 2 variables, 62 parameters, 248 bytes")
    assert main(["inspect", "checkpoint", str(tf1_checkpoint), "--values", "dense/bias", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["values"] == [1.5, -2.0]
    proc = run_tfs("inspect", "checkpoint", str(tf1_checkpoint), "--values", "nope")  # the real console entry
    assert proc.returncode == 1 and "no variable 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
