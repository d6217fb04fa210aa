"""Say which extra to install when an optional dependency of the toolkit side is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from toolkit.errors import EXIT_SETUP, ToolkitError


class MissingExtraError(ToolkitError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it (exit status 2)."""

    exit_code = EXIT_SETUP


def require(module: str, extra: str = "toolkit", *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise ``MissingExtraError`` telling the user to ``pip install 'tfs-toolkit[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        what = f" for {purpose}" if purpose else ""
        raise MissingExtraError(
            f"{top!r} is needed{what} but is not installed: pip install 'tfs-toolkit[{extra}]'"
        ) from exc
