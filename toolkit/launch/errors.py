"""Launch errors: each says what failed and what to do about it (the CLI prints the message as is)."""

from __future__ import annotations


class LaunchError(RuntimeError):
    """Starting, finding or stopping the server failed; the message is actionable."""


class EngineUnavailableError(LaunchError):
    """No Docker engine answered."""


class GpuUnavailableError(LaunchError):
    """The engine cannot honour the NVIDIA device request (no NVIDIA Container Toolkit)."""


class PortInUseError(LaunchError):
    """A port the server needs is taken."""


class ImageUnavailableError(LaunchError):
    """The image is neither present locally nor pullable."""


class ModelLoadError(LaunchError):
    """A configured model version ended in END (failed to load) or the server died while loading."""


class NotRunningError(LaunchError):
    """Nothing started by ``tfs up`` is running for this deploy folder."""
