"""The ``Runtime`` interface that ``tfs up / down / logs`` drive (toolkit.launch.launcher): Docker (the official
image, docker_runtime.py) or embedded (``tfs serve`` as a child process, embedded.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from toolkit.launch.state import Endpoints


class Runtime(Protocol):
    """A way to run the model server for one deploy folder."""

    name: str

    def start(self) -> Endpoints:
        """Launch the server (not waiting for models); return where it will answer."""
        ...

    def failure(self) -> str | None:
        """None while the server runs; otherwise why it stopped (exit status and the last log lines)."""
        ...

    def stop(self) -> bool:
        """Stop and remove what ``start`` created; False when nothing was running."""
        ...

    def logs(self, *, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        """The server's output, as text chunks; with ``follow`` until the server stops."""
        ...


if TYPE_CHECKING:  # mypy proves both runtimes implement the interface the launcher drives
    from toolkit.launch.docker_runtime import DockerRuntime
    from toolkit.launch.embedded import EmbeddedRuntime

    def _conforms(docker: DockerRuntime, embedded: EmbeddedRuntime) -> None:
        runtimes: list[Runtime] = [docker, embedded]
        del runtimes
