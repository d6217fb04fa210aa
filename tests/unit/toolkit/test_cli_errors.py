"""Bad input to `tfs export / config / inspect` is one clear line (option, expected, got), a non-zero exit status and
no Python traceback; nothing is left behind in the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def run_tfs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *fragments: str, status: int | None = None) -> None:
    assert proc.returncode != 0, proc.stdout
    if status is not None:
        assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    """A placeholder SavedModel folder source plus sample files of every broken kind."""
    (tmp_path / "notnpz.npz").write_text("hello")
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "none.npz")
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float32))
    (tmp_path / "x.npy").rename(tmp_path / "npy_named.npz")
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{nope")
    (tmp_path / "typo.json").write_text('{"input": []}')
    return tmp_path


@pytest.mark.parametrize(("sample", "got"), [
    ("notnpz.npz", "got a file starting with b'hello'"),
    ("empty.npz", "got an empty file"),
    ("none.npz", "got an empty archive"),
    ("objects.npz", "allow_pickle=False"),
])
def test_unreadable_sample_inputs_name_the_option_expected_and_got(files: Path, sample: str, got: str) -> None:
    proc = run_tfs("export", "model.keras", "--repository", str(files / "repo"), "--sample-inputs", sample,
                   cwd=files)
    assert_clean_failure(proc, "--sample-inputs", "expected", got, status=2)
    assert not (files / "repo").exists()


def test_unreadable_expected_outputs_name_their_option(files: Path) -> None:
    proc = run_tfs("export", "--example", "planet", "--repository", str(files / "repo"), "--expected-outputs",
                   "notnpz.npz", cwd=files)
    assert_clean_failure(proc, "--expected-outputs", "expected a .npz archive", status=2)


@pytest.mark.parametrize(("spec", "message"), [
    ("broken.json", "Invalid value for --spec: expected a JSON file, got broken.json"),
    ("list.json", "expected a JSON object, got list"),
    ("typo.json", "expected keys 'inputs' and/or 'outputs', got unknown key(s) ['input']"),
])
def test_bad_spec_files_are_usage_errors(files: Path, spec: str, message: str) -> None:
    proc = run_tfs("export", "model.keras", "--repository", str(files / "repo"), "--spec", spec, cwd=files)
    assert_clean_failure(proc, message, status=2)


@pytest.mark.parametrize(("args", "message"), [
    (["model.keras", "--expected-outputs", "none.npz"], "--expected-outputs needs --sample-inputs"),
    (["model.keras", "--input", "x=x:0"], "expected such a file as SOURCE, got model.keras"),
    (["--example", "planet", "--output", "y=y:0"], "got --example planet"),
    (["model.keras", "--rtol", "-1"], "Invalid value for '--rtol'"),
    (["model.keras", "--spec", "."], "is a directory"),
    (["--example", "nope"], "'nope' is not 'planet'"),
    (["model.keras", "--example", "planet"], "give exactly one of SOURCE or --example"),
])
def test_contradictory_or_out_of_range_options_are_usage_errors(files: Path, args: list[str], message: str) -> None:
    (files / "model.keras").write_bytes(b"placeholder")  # never read: the options are refused first
    proc = run_tfs("export", *args, "--repository", str(files / "repo"), cwd=files)
    assert_clean_failure(proc, message, status=2)


def test_a_tf1_graph_without_its_tensor_names_says_which_options_to_add(files: Path) -> None:
    (files / "frozen.pb").write_bytes(b"\x0a\x00")
    proc = run_tfs("export", "frozen.pb", "--input", "x=x:0", "--repository", str(files / "repo"), cwd=files)
    assert_clean_failure(proc, "--input ALIAS=TENSOR and --output ALIAS=TENSOR", "got 1 --input and 0 --output",
                         status=2)


def test_a_failed_first_export_leaves_no_empty_model_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    proc = run_tfs("export", str(tmp_path / "missing_dir"), "--name", "fresh", "--repository", str(repo))
    assert_clean_failure(proc, "missing_dir: expected a SavedModel folder", status=1)
    assert repo.is_dir() and list(repo.iterdir()) == []


def test_a_repository_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    proc = run_tfs("export", str(tmp_path / "missing"), "--name", "m", "--repository", str(tmp_path / "afile" / "r"))
    assert_clean_failure(proc, "Not a directory", status=1)


def test_config_spec_that_is_not_toml_text_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\xe9\x00\xff")
    proc = run_tfs("config", "--deploy-dir", str(tmp_path), "--spec", str(tmp_path / "binary.toml"))
    assert_clean_failure(proc, f"{tmp_path / 'binary.toml'}: expected a UTF-8 TOML file, got", status=1)
    proc = run_tfs("config", "--deploy-dir", str(tmp_path), "--spec", str(tmp_path))
    assert_clean_failure(proc, "expected a UTF-8 TOML file, got [Errno 21] Is a directory", status=1)
    assert not (tmp_path / "models.config").exists()


@pytest.mark.parametrize(("toml", "message"), [
    ("[server\n", "invalid TOML: Expected ']'"),
    ('[[models]]\nname = "a"\nlabels = { "bad label!" = 1 }\n',
     "models[0] (a).labels: expected a label matching [A-Za-z0-9_]+, got 'bad label!'"),
    ('[[models]]\nname = "a"\nversion_policy = "specific"\nversions = [1]\nlabels = { stable = 2 }\n',
     "model 'a': label 'stable' points at version 2"),
])
def test_bad_deployment_toml_is_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "deployment.toml").write_text(toml)
    proc = run_tfs("config", "--deploy-dir", str(tmp_path))
    assert_clean_failure(proc, message, status=1)
    assert not (tmp_path / "models.config").exists()


def test_inspect_of_a_file_or_missing_path(tmp_path: Path) -> None:
    (tmp_path / "model.keras").write_text("")
    assert_clean_failure(run_tfs("inspect", str(tmp_path / "model.keras")), "not a SavedModel", status=1)
    assert_clean_failure(run_tfs("inspect", str(tmp_path / "nope")), "no such file or folder", status=1)


def test_npy_content_under_an_npz_name_is_the_single_input(files: Path) -> None:
    """numpy reads by content, not suffix: an .npy saved as x.npz is one array, not a crash."""
    from toolkit.cli._common import load_arrays

    arrays = load_arrays(files / "npy_named.npz", "--sample-inputs")
    assert list(arrays) == ["arr_0"] and arrays["arr_0"].shape == (2, 3)


def test_rename_of_an_unknown_name_lists_inputs_and_outputs() -> None:
    import tensorflow as tf

    from toolkit.export import ExportError
    from toolkit.export.sources import keras_io_names

    inp = tf.keras.Input((3,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2, name="y")(inp))
    assert keras_io_names(model, {"x": "features", "y": "score"}) == (["features"], ["score"])
    with pytest.raises(ExportError) as info:
        keras_io_names(model, {"nothere": "z"})
    assert str(info.value) == "name mapping: expected names of the model's inputs ['x'] or outputs ['y'], got ['nothere']"


def test_default_model_name_of_a_version_folder_is_its_model_folder(tmp_path: Path) -> None:
    from toolkit.cli.export import default_name

    (tmp_path / "planet" / "3").mkdir(parents=True)
    (tmp_path / "saved").mkdir()
    assert default_name(tmp_path / "planet" / "3") == "planet"
    assert default_name(tmp_path / "planet" / "3" / ".." / "3") == "planet"
    assert default_name(tmp_path / "saved") == "saved"
    assert default_name(Path("model.keras")) == "model"
    assert default_name(Path("frozen.pb")) == "frozen"
