"""The live display of ``tfs export``'s steps on a terminal: a spinner on the running step, a tick and the seconds
of each finished one, on stderr. Piped or redirected (CI logs, tests), there is no display at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def export_steps_shown() -> Iterator[ExportDisplay | None]:
    """For a command that publishes through the export path: TensorFlow imported (quietly) first, because its import
    points file descriptor 2, the display's, elsewhere; then the display on stderr while the block runs, or None
    when stderr is not a terminal. The yielded value is the ``progress`` reporter to pass on."""
    from rich.console import Console

    from toolkit._quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()
    display = export_display(Console(stderr=True))
    if display is None:
        yield None
        return
    with display:
        yield display
