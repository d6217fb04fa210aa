"""Exporting into numbered versions: names, versions, atomicity, spec checks, validation, warmup, test data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from toolkit.examples.planet import build_planet_model, sample_images  # noqa: E402
from toolkit.export import (  # noqa: E402
    ExportError,
    ExportValidationError,
    SpecMismatchError,
    VersionExistsError,
    export_model,
)
from toolkit.export.testdata import load_test_data, save_test_data  # noqa: E402
from toolkit.export.warmup import read_warmup_file  # noqa: E402
from toolkit.repository import list_versions  # noqa: E402
from toolkit.savedmodel import read_signatures  # noqa: E402


class Affine(tf.Module):
    """y = a*x + b over float32[None, 2]: small and quick to export."""

    def __init__(self, a: float = 2.0, b: float = 1.0) -> None:
        super().__init__()
        self.a = tf.Variable(a)
        self.b = tf.Variable(b)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.b}


X = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)


def export_affine(repo: Path, **kwargs):  # type: ignore[no-untyped-def]
    module = Affine(kwargs.pop("a", 2.0))
    return export_model(module, "affine", repo, signatures={"serving_default": module.serve}, **kwargs)


def integer_children(model_dir: Path) -> list[str]:
    return sorted(p.name for p in model_dir.iterdir() if p.name.lstrip("-").isdigit())


@pytest.fixture(scope="module")
def planet_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    export_model(build_planet_model(), "planet", repo, sample_inputs=sample_images())
    return repo


def test_planet_signature_names_come_from_keras_layers(planet_repo: Path) -> None:
    sig = read_signatures(planet_repo / "planet" / "1")["serving_default"]
    assert list(sig.inputs) == ["input_image"]
    assert set(sig.outputs) == {"weather", "ground"}
    assert sig.inputs["input_image"].shape == (None, 128, 128, 3)
    assert sig.outputs["weather"].shape == (None, 4) and sig.outputs["ground"].shape == (None, 13)
    assert sig.method_name == "tensorflow/serving/predict"


def test_planet_test_data_and_warmup_are_kept_in_the_version(planet_repo: Path) -> None:
    version_dir = planet_repo / "planet" / "1"
    data = load_test_data(version_dir)
    assert data is not None and data.signature_name == "serving_default"
    np.testing.assert_array_equal(data.inputs["input_image"], sample_images())
    expected = build_planet_model()(sample_images(), training=False)
    np.testing.assert_allclose(data.expected["weather"], np.asarray(expected[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.expected["weather"].sum(axis=1), 1.0, rtol=1e-5)
    logs = read_warmup_file(version_dir / "assets.extra" / "tf_serving_warmup_requests")
    assert len(logs) == 4
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        assert [d.size for d in request.inputs["input_image"].tensor_shape.dim] == [1, 128, 128, 3]
    first = tf.make_ndarray(logs[0].predict_log.request.inputs["input_image"])
    np.testing.assert_array_equal(first, sample_images()[:1])


def test_warmup_file_is_tfrecord_framed_with_valid_crcs(planet_repo: Path) -> None:
    raw = (planet_repo / "planet" / "1" / "assets.extra" / "tf_serving_warmup_requests").read_bytes()
    import struct

    offset, records = 0, 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<Q", raw, offset)
        offset += 12 + length + 4
        records += 1
    assert offset == len(raw) and records == 4
    # TensorFlow's own reader verifies the masked CRC32C of every header and payload
    assert sum(1 for _ in tf.data.TFRecordDataset(str(planet_repo / "planet" / "1" / "assets.extra" /
                                                      "tf_serving_warmup_requests"))) == 4


def test_versions_are_numbered_and_never_overwritten(tmp_path: Path) -> None:
    assert export_affine(tmp_path, sample_inputs=X).version == 1
    assert export_affine(tmp_path, sample_inputs=X).version == 2
    assert export_affine(tmp_path, sample_inputs=X, version=10).version == 10
    assert export_affine(tmp_path, sample_inputs=X).version == 11
    before = (tmp_path / "affine" / "10" / "saved_model.pb").read_bytes()
    with pytest.raises(VersionExistsError, match="already exists"):
        export_affine(tmp_path, sample_inputs=X, version=10, a=5.0)
    assert (tmp_path / "affine" / "10" / "saved_model.pb").read_bytes() == before
    assert list_versions(tmp_path / "affine") == [1, 2, 10, 11]
    assert sorted(p.name for p in (tmp_path / "affine").iterdir()) == ["1", "10", "11", "2"]


def test_force_replaces_a_version(tmp_path: Path) -> None:
    export_affine(tmp_path, sample_inputs=X)
    export_affine(tmp_path, sample_inputs=X, version=1, force=True, a=5.0)
    data = load_test_data(tmp_path / "affine" / "1")
    np.testing.assert_allclose(data.expected["y"], 5.0 * X + 1.0)
    assert sorted(p.name for p in (tmp_path / "affine").iterdir()) == ["1"]


def test_spec_mismatch_names_tensor_expected_and_got_and_publishes_nothing(tmp_path: Path) -> None:
    with pytest.raises(SpecMismatchError) as info:
        export_affine(tmp_path, sample_inputs=X, input_spec=[{"name": "x", "dtype": "float32", "shape": [None, 3]}])
    assert "tensor 'x': expected shape (None, 3), got (None, 2)" in str(info.value)
    with pytest.raises(SpecMismatchError, match="tensor 'y': expected dtype int32, got float32"):
        export_affine(tmp_path, sample_inputs=X, output_spec=[{"name": "y", "dtype": "int32"}])
    with pytest.raises(SpecMismatchError, match=r"expected tensor names \['image'\], got \['x'\]"):
        export_affine(tmp_path, input_spec=[{"name": "image", "dtype": "float32"}])
    assert not (tmp_path / "affine").exists()  # the failed first export removed the model folder it created


def test_validation_failure_shows_largest_difference_and_publishes_nothing(tmp_path: Path) -> None:
    expected = {"y": 2.0 * X + 1.0}
    expected["y"][1, 0] += 0.5
    with pytest.raises(ExportValidationError) as info:
        export_affine(tmp_path, sample_inputs=X, expected_outputs=expected)
    message = str(info.value)
    assert "nothing was published" in message
    assert "largest difference 0.5 at index (1, 0)" in message and "expected 7.5, got 7" in message
    assert not (tmp_path / "affine").exists()
    # a model folder that existed before a failed export stays, with its versions
    export_affine(tmp_path, sample_inputs=X)
    with pytest.raises(ExportValidationError):
        export_affine(tmp_path, sample_inputs=X, expected_outputs=expected)
    assert sorted(p.name for p in (tmp_path / "affine").iterdir()) == ["1"]


def test_expected_outputs_within_tolerance_publish(tmp_path: Path) -> None:
    result = export_affine(tmp_path, sample_inputs=X, expected_outputs={"y": 2.0 * X + 1.0 + 1e-7})
    assert result.validated_with == "expected outputs" and result.version == 1


def test_wrong_sample_dtype_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportValidationError, match="sample input 'x': expected dtype float32, got float64"):
        export_affine(tmp_path, sample_inputs=X.astype(np.float64))
    with pytest.raises(ExportValidationError, match=r"sample input 'x': expected shape \(None, 2\), got \(2, 3\)"):
        export_affine(tmp_path, sample_inputs=np.zeros((2, 3), np.float32))


def test_name_mapping_and_extra_signature(tmp_path: Path) -> None:
    model = build_planet_model()

    @tf.function(input_signature=[tf.TensorSpec([None, 128, 128, 3], tf.float32, name="image")])
    def weather_only(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"weather": model(image, training=False)[0]}

    export_model(model, "planet", tmp_path, name_mapping={"weather": "sky", "input_image": "image"},
                 extra_signatures={"weather_only": weather_only}, sample_inputs={"image": sample_images(2)})
    sigs = read_signatures(tmp_path / "planet" / "1")
    assert set(sigs) == {"serving_default", "weather_only"}
    assert set(sigs["serving_default"].outputs) == {"sky", "ground"}
    assert list(sigs["serving_default"].inputs) == ["image"]
    assert list(sigs["weather_only"].outputs) == ["weather"]
    with pytest.raises(ExportError, match=r"expected names of the model.s inputs .* or outputs .*, got \[.nope.\]"):
        export_model(model, "planet", tmp_path, name_mapping={"nope": "x"})


def test_keras_files_and_savedmodel_folders_are_sources(tmp_path: Path) -> None:
    model = build_planet_model()
    keras_file, h5_file = tmp_path / "planet.keras", tmp_path / "planet.h5"
    model.save(keras_file)
    model.save(h5_file)
    repo = tmp_path / "repo"
    assert export_model(keras_file, "planet", repo, sample_inputs=sample_images(1)).validated_with == "reference model"
    export_model(h5_file, "planet", repo, sample_inputs=sample_images(1))
    # re-publish an existing SavedModel folder as a new version: copied, the source stays
    result = export_model(repo / "planet" / "1", "planet", repo)
    assert result.version == 3 and (repo / "planet" / "1" / "saved_model.pb").exists()
    assert set(read_signatures(repo / "planet" / "3")["serving_default"].outputs) == {"weather", "ground"}
    assert result.validated_with == "expected outputs"  # with the test data version 1 kept


def test_republished_savedmodel_is_validated_with_its_kept_test_data(tmp_path: Path) -> None:
    first = export_affine(tmp_path / "a", sample_inputs=X)
    again = export_model(first.path, "affine", tmp_path / "b")
    assert again.validated_with == "expected outputs" and again.persisted_test_data and again.warmup_records == 2
    assert "validated with the test data kept inside the source SavedModel" in again.notes
    kept = load_test_data(again.path)
    assert kept is not None and np.array_equal(kept.expected["y"], 2.0 * X + 1.0)
    # the kept expectations are really compared: a copy whose recorded outputs are wrong is refused
    data = load_test_data(first.path)
    assert data is not None
    data.expected["y"][0, 0] += 1.0
    save_test_data(first.path, data)
    with pytest.raises(ExportValidationError, match="nothing was published"):
        export_model(first.path, "affine", tmp_path / "c")


def test_missing_or_unknown_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such Keras file"):
        export_model(tmp_path / "nope.keras", "m", tmp_path / "repo")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a SavedModel folder"):
        export_model(tmp_path / "empty", "m", tmp_path / "repo")
    with pytest.raises(ValueError, match="name"):
        export_model(Affine(), "../escape", tmp_path)
    assert not (tmp_path / "repo" / "m").exists()


def test_no_persist_test_data_and_no_warmup(tmp_path: Path) -> None:
    result = export_affine(tmp_path, sample_inputs=X, persist_test_data=False, warmup=False)
    assert not result.persisted_test_data
    assert not (result.path / "assets.extra").exists()


CRASHING_EXPORT = textwrap.dedent("""
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    import toolkit.export as export
    publish_module = sys.modules["toolkit.export.publish"]

    def hang(*args, **kwargs):
        print("READY", flush=True)
        time.sleep(60)

    if sys.argv[2] == "publish":  # staged, validated and fsynced: killed just before the rename
        original = publish_module.fsync_tree
        publish_module.fsync_tree = lambda root: (original(root), hang())
    else:  # killed while the exported model is being validated
        export.run_in_clean_process = hang

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def f(self, x):
            return {"y": x * 2.0}

    m = M()
    export.export_model(m, "crashy", sys.argv[1], signatures={"serving_default": m.f},
                        sample_inputs=np.ones(3, np.float32))
""")


@pytest.mark.parametrize("stage", ["validate", "publish"])
def test_killed_export_leaves_no_partial_integer_folder(tmp_path: Path, stage: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_EXPORT, str(tmp_path), stage], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and "READY" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "READY" in line, "the exporter never reached the point to kill"
        model_dir = tmp_path / "crashy"
        assert any(p.name.startswith(".staging-") for p in model_dir.iterdir())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert integer_children(tmp_path / "crashy") == []
    # the next export cleans the dead exporter's staging folder and publishes version 1
    module = Affine()
    result = export_model(module, "crashy", tmp_path, signatures={"serving_default": module.serve})
    assert result.version == 1
    assert sorted(p.name for p in (tmp_path / "crashy").iterdir()) == ["1"]


def _tf1_graph(tmp_path: Path) -> tuple[Path, Path]:
    """A TF1 graph y = w*x + 1 (w a variable = 3): saved as a checkpoint and as a frozen graph."""
    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        x = v1.placeholder(tf.float32, [None], name="x")
        w = v1.get_variable("w", initializer=3.0)
        tf.identity(w * x + 1.0, name="y")
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "ckpt" / "model"))
            frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["y"])
    frozen_path = tmp_path / "frozen.pb"
    frozen_path.write_bytes(frozen.SerializeToString())
    return Path(prefix + ".meta"), frozen_path


def test_tf1_checkpoint_and_frozen_graph_become_savedmodels(tmp_path: Path) -> None:
    from toolkit.export import Checkpoint, FrozenGraph

    meta, frozen = _tf1_graph(tmp_path)
    x = np.array([1.0, 2.0], np.float32)
    repo = tmp_path / "repo"
    export_model(Checkpoint(meta, inputs={"x": "x:0"}, outputs={"y": "y:0"}), "tf1", repo, sample_inputs=x,
                 expected_outputs={"y": 3.0 * x + 1.0})
    export_model(FrozenGraph(frozen, inputs={"x": "x"}, outputs={"y": "y:0"}), "tf1", repo, sample_inputs=x,
                 expected_outputs={"y": 3.0 * x + 1.0})
    assert list_versions(repo / "tf1") == [1, 2]
    sig = read_signatures(repo / "tf1" / "2")["serving_default"]
    assert list(sig.inputs) == ["x"] and list(sig.outputs) == ["y"]
    with pytest.raises(ExportError, match="tensor 'nope:0' not found"):
        export_model(FrozenGraph(frozen, inputs={"x": "nope"}, outputs={"y": "y:0"}), "tf1", repo)
    assert list_versions(repo / "tf1") == [1, 2]


def test_inspect_picks_the_highest_version_whatever_its_spelling(tmp_path: Path) -> None:
    from toolkit.inspect import format_report, inspect_saved_model

    export_affine(tmp_path, sample_inputs=X)
    export_affine(tmp_path, sample_inputs=X)
    (tmp_path / "affine" / "2").rename(tmp_path / "affine" / "0002")
    report = inspect_saved_model(tmp_path / "affine")
    assert report["versions"] == [1, 2] and report["path"].endswith("0002")
    assert report["signatures"]["serving_default"]["inputs"]["x"]["shape"] == [None, 2]
    assert report["test_data"] and report["warmup_file"]
    assert "x" in format_report(report) and "(-1, 2)" in format_report(report)
