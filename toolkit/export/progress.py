"""The steps of an export, told to a reporter as each starts and ends, so a front end can show them while they run
(``tfs export`` draws a live display on a terminal); the exporter itself prints nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def report_step(progress: ExportProgress | None, step: str) -> Iterator[None]:
    """Run the body as ``step`` of ``progress`` (nothing when there is no reporter)."""
    if progress is None:
        yield
        return
    progress.step_started(step, STEPS[step])
    start = time.perf_counter()
    yield
    progress.step_finished(step, time.perf_counter() - start)
