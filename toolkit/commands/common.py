"""Helpers shared by the CLI commands: turn known errors into clean exits, load arrays and JSON from files."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np


@contextlib.contextmanager
def fail_on(*extra: type[BaseException]) -> Iterator[None]:
    """Report the toolkit's own errors (bad input, failed validation, unreadable paths) as one clear line, exit 1."""
    from toolkit.config import ConfigError
    from toolkit.deployment import SpecError
    from toolkit.export.errors import ExportError
    from toolkit.savedmodel import SavedModelError

    try:
        yield
    except (ExportError, ConfigError, SpecError, SavedModelError, ValueError, OSError, *extra) as exc:
        raise click.ClickException(str(exc)) from exc


def load_arrays(path: Path, option: str) -> dict[str, np.ndarray]:
    """``.npz`` -> {name: array}; ``.npy`` -> {"arr_0": array}. Never unpickles; a file numpy cannot read is a
    ``click.BadParameter`` naming ``option``, what was expected and what the file holds."""
    expected = "a .npz archive (numpy.savez) or a .npy array (numpy.save)"
    try:
        with path.open("rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise click.BadParameter(f"expected {expected}, got {exc}", param_hint=option) from None
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # zip (npz) or npy magic
        got = "an empty file" if not head else f"a file starting with {head!r}"
        raise click.BadParameter(f"expected {expected}, got {got}: {path}", param_hint=option)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise click.BadParameter(f"expected {expected}, got {path} ({exc})", param_hint=option) from None
    if isinstance(loaded, np.ndarray):  # a .npy file, whatever its suffix
        return {"arr_0": loaded}
    try:
        with loaded as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise click.BadParameter(f"expected {expected}, got {path} ({exc})", param_hint=option) from None
    if not arrays:
        raise click.BadParameter(f"expected at least one array in {path}, got an empty archive", param_hint=option)
    return arrays


def load_json_object(path: Path, option: str) -> dict[str, Any]:
    """A JSON file holding one object, else a ``click.BadParameter`` naming ``option`` and what the file holds."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise click.BadParameter(f"expected a JSON file, got {path} ({exc})", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter(f"expected a JSON object, got {type(value).__name__} in {path}",
                                 param_hint=option)
    return value
