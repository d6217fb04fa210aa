"""What several commands share: their common options, ``KEY=VALUE`` pairs, arrays and JSON objects read from files
(a file that cannot be read is a ``click.BadParameter`` naming the option, exit status 2)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import click
import numpy as np

DEPLOY_DIR_OPTION = click.option(
    "--deploy-dir", "deploy_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("deploy"),
    show_default=True, help="The deploy folder (deployment.toml, models/).")
REPOSITORY_OPTION = click.option(
    "--repository", default="deploy/models", show_default=True, type=click.Path(path_type=Path),
    help="Model repository root.")


def parse_pairs(items: tuple[str, ...], option: str, *, empty_value: bool = False) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` options as a dict; ``empty_value`` allows ``KEY=``."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not (value or empty_value):
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        result[key] = value
    return result



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
