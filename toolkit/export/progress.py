"""The steps of an export, told to a reporter as each starts and ends, so a front end can show them while they run
(``tfs export`` draws a live display on a terminal); the exporter itself prints nothing."""

from __future__ import annotations

import time
from typing import Protocol

STEPS: dict[str, str] = {
    "load": "load the source",
    "save": "save the SavedModel",
    "validate": "validate in a clean process",
    "warmup": "write the test data and the warmup file",
    "publish": "publish",
}
"""Every step an export may report, in the order it runs them, with what each does. ``load`` runs for sources that
are read before they are saved (a .keras/.h5 file); ``warmup`` only when test data or a warmup file is kept."""


class ExportProgress(Protocol):
    """What ``export_model(progress=...)`` calls: each step started, then finished (not when it fails)."""

    def step_started(self, step: str, description: str) -> None:
        """``step`` (a key of ``STEPS``) begins; ``description`` says what it does, for people."""

    def step_finished(self, step: str, seconds: float) -> None:
        """``step`` ended well after ``seconds``."""


class StepReporter:
    """Tells ``progress`` (when there is one) each step as it begins, and the one before it as finished; a step
    that raises is never finished. Keeps the exporter's code flat: one ``begin`` line per step."""

    def __init__(self, progress: ExportProgress | None) -> None:
        self.progress = progress
        self.current: str | None = None
        self.started = 0.0

    def begin(self, step: str) -> None:
        """``step`` (a key of ``STEPS``) starts; the current one, if any, ended well."""
        self.end()
        if self.progress is not None:
            self.progress.step_started(step, STEPS[step])
        self.current, self.started = step, time.perf_counter()

    def end(self) -> None:
        """The current step ended well."""
        if self.current is not None and self.progress is not None:
            self.progress.step_finished(self.current, time.perf_counter() - self.started)
        self.current = None
