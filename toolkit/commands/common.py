"""Helpers shared by the CLI commands: turn known errors into clean exits, load arrays from files."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import click
import numpy as np


@contextlib.contextmanager
def fail_on(*extra: type[BaseException]) -> Iterator[None]:
    """Report the toolkit's own errors (bad input, failed validation, ...) as one clear line and exit 1."""
    from toolkit.config import ConfigError
    from toolkit.deployment import SpecError
    from toolkit.export.errors import ExportError
    from toolkit.savedmodel import SavedModelError

    try:
        yield
    except (ExportError, ConfigError, SpecError, SavedModelError, ValueError, FileNotFoundError, *extra) as exc:
        raise click.ClickException(str(exc)) from exc


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """``.npz`` -> {name: array}; ``.npy`` -> {"arr_0": array}. Never unpickles."""
    if path.suffix == ".npy":
        return {"arr_0": np.load(path, allow_pickle=False)}
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
