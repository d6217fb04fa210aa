"""``export_model`` tells a reporter each step as it starts and ends (load, save, validate, warmup, publish), with no
display of its own; ``tfs export`` draws them on a terminal and nothing when piped. Three small exports (a few
seconds each, mostly the clean validating process)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from toolkit.cli._progress import ExportDisplay, export_display  # noqa: E402
from toolkit.export import STEPS, ExportValidationError, export_model  # noqa: E402


class Recorder:
    """An ``ExportProgress`` that records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def step_started(self, step: str, description: str) -> None:
        assert description == STEPS[step]
        self.calls.append(("started", step))

    def step_finished(self, step: str, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append(("finished", step))


def _both(*steps: str) -> list[tuple[str, str]]:
    return [call for step in steps for call in (("started", step), ("finished", step))]


def _keras_file(tmp_path: Path) -> Path:
    inputs = tf.keras.Input((2,), name="x")
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, name="y")(inputs))
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


def test_a_keras_file_reports_every_step_in_order(tmp_path: Path) -> None:
    recorder = Recorder()
    result = export_model(_keras_file(tmp_path), "tiny", tmp_path / "repo", progress=recorder,
                          sample_inputs=np.ones((2, 2), np.float32))
    assert recorder.calls == _both("load", "save", "validate", "warmup", "publish")
    assert list(STEPS) == ["load", "save", "validate", "warmup", "publish"]
    assert result.path.is_dir() and result.warmup_records == 2


def test_a_failed_step_is_started_not_finished_and_nothing_follows(tmp_path: Path) -> None:
    recorder = Recorder()
    with pytest.raises(ExportValidationError):
        export_model(_keras_file(tmp_path), "tiny", tmp_path / "repo", progress=recorder,
                     sample_inputs=np.ones((1, 2), np.float32), expected_outputs={"y": np.full((1, 1), 1e6)})
    assert recorder.calls == [*_both("load", "save"), ("started", "validate")]
    assert not (tmp_path / "repo" / "tiny" / "1").exists()


def test_an_in_memory_model_without_samples_has_no_load_or_warmup_step(tmp_path: Path) -> None:
    recorder = Recorder()
    inputs = tf.keras.Input((2,), name="x")
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, name="y")(inputs))
    export_model(model, "tiny", tmp_path / "repo", progress=recorder)
    assert recorder.calls == _both("save", "validate", "publish")  # synthetic inputs: no test data, no warmup


def test_the_display_draws_on_a_terminal_only() -> None:
    from rich.console import Console

    assert export_display(Console(file=io.StringIO())) is None  # piped / redirected: quiet
    out = io.StringIO()
    display = export_display(Console(file=out, force_terminal=True, width=100))
    assert isinstance(display, ExportDisplay)
    with display:
        display.step_started("validate", STEPS["validate"])
        display.step_finished("validate", 0.5)
        display.step_started("publish", STEPS["publish"])
    drawn = out.getvalue()
    assert "validate in a clean process" in drawn and "publish" in drawn and "\x1b[" in drawn
