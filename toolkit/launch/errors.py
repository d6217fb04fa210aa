"""Launch errors: each says what failed and what to do about it (the CLI prints the message as is)."""

from __future__ import annotations

from typing import Any

from clients import errors as clients_errors
from toolkit.errors import ToolkitError


class LaunchError(ToolkitError, RuntimeError):
    """Starting, finding or stopping the server failed; the message is actionable."""


class EngineUnavailableError(LaunchError):
    """No Docker engine answered."""


class GpuUnavailableError(LaunchError):
    """The engine cannot honour the NVIDIA device request (no NVIDIA Container Toolkit)."""


class PortInUseError(LaunchError):
    """A port the server needs is taken."""


class ImageUnavailableError(LaunchError):
    """The image is neither present locally nor pullable."""


class ModelLoadError(LaunchError, clients_errors.ModelLoadError):
    """A configured model version failed to load (``clients.readiness``) or the server died while loading: the
    clients' ModelLoadError, and a LaunchError so the CLI prints it as one."""

    def __init__(self, message: str, **codes: Any) -> None:
        clients_errors.ModelLoadError.__init__(self, message, **codes)

    def __str__(self) -> str:
        return self.message  # already names the server's code; the CLI prints it as is


class NotRunningError(LaunchError):
    """Nothing started by ``tfs up`` is running for this deploy folder."""
