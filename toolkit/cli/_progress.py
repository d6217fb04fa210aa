"""The live display of ``tfs export``'s steps on a terminal: a spinner on the running step, a tick and the seconds
of each finished one, on stderr. Piped or redirected (CI logs, tests), there is no display at all."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class ExportDisplay:
    """An ``ExportProgress`` reporter drawing on a rich console; a context manager that starts and stops the display."""

    def __init__(self, console: Any) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(finished_text="[green]✓[/green]"), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), console=console)
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ExportDisplay:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()

    def step_started(self, step: str, description: str) -> None:
        self._tasks[step] = self.progress.add_task(description, total=1)

    def step_finished(self, step: str, seconds: float) -> None:
        self.progress.update(self._tasks[step], completed=1)


def export_display(console: Any) -> ExportDisplay | None:
    """A display on ``console`` when it is a terminal, else None (quiet when piped)."""
    return ExportDisplay(console) if console.is_terminal else None
