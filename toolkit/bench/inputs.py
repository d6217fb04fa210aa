"""The inputs every request sends: a version's persisted test data (``assets.extra/tfs_test_data``, as ``tfs smoke``
replays it), an ``.npz`` file, or inputs made up from the served signature (metadata)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.bench.options import BadOption

INPUT_SOURCES = ("auto", "testdata", "signature")


@dataclass(frozen=True)
class Inputs:
    arrays: dict[str, np.ndarray]
    signature: str | None  # the signature the data belongs to (None: the server's default)
    source: str  # how they were obtained, for the report


def _from_data_path(path: Path) -> Inputs:
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise BadOption("--data", "a readable .npz file of input arrays", f"{path} ({exc})") from None
        if not arrays:
            raise BadOption("--data", "an .npz file with at least one array", str(path))
        return Inputs(arrays, None, f"{path}")
    from toolkit.export.testdata import load_test_data

    try:
        data = load_test_data(path)
    except (OSError, ValueError, KeyError) as exc:
        raise BadOption("--data", "a version folder with readable test data", f"{path} ({exc})") from None
    if data is None:
        raise BadOption("--data", "an .npz file or a version folder holding assets.extra/tfs_test_data", str(path))
    return Inputs(dict(data.inputs), data.signature_name, f"test data of {path}")


def synthesize_from_metadata(metadata: Any, signature: str | None, batch: int) -> Inputs:
    """Inputs made up from a served signature (unknown dims: ``batch`` first, 1 elsewhere)."""
    from toolkit.export.testdata import synthesize_inputs

    try:
        spec = metadata.signature(signature)
    except KeyError as exc:
        raise BadOption("--signature", f"one of {sorted(metadata.signatures)}", signature or "serving_default") \
            from exc
    views = dict(spec.inputs)
    bad = sorted(n for n, v in views.items() if v.numpy_name in ("bfloat16", "resource", "variant", "invalid"))
    if bad:
        raise BadOption("--inputs", f"a signature whose inputs can be synthesized (or --data); inputs {bad} are",
                        [views[n].numpy_name for n in bad])
    return Inputs(synthesize_inputs(views, batch=batch), signature,
                  f"synthesized from signature {spec.name!r} (batch {batch})")


def resolve_inputs(mode: str, *, data: Path | None, model_dir: Path | None, version: int | None,
                   signature: str | None, batch: int, metadata: Callable[[], Any]) -> Inputs:
    """``--data`` wins; else ``auto`` tries the version's kept test data and falls back to the signature.
    ``metadata()`` asks the server (its answer also names the version a label or 'latest' resolved to)."""
    if mode not in INPUT_SOURCES:
        raise BadOption("--inputs", " or ".join(INPUT_SOURCES), mode)
    if data is not None:
        if batch != 1:
            raise BadOption("--batch", "1 with --data (its inputs are sent as they are)", batch)
        return _from_data_path(data)
    served = None
    if mode in ("auto", "testdata"):
        found_version = version
        if found_version is None:
            served = metadata()
            found_version = served.version
        version_dir = model_dir / str(found_version) if model_dir is not None and found_version is not None else None
        if version_dir is not None and version_dir.is_dir():
            from toolkit.export.testdata import load_test_data

            kept = load_test_data(version_dir)
            if kept is not None and (signature is None or kept.signature_name == signature):
                ignored = f" (--batch {batch} ignored: kept test data is sent as it is)" if batch != 1 else ""
                return Inputs(dict(kept.inputs), kept.signature_name, f"test data kept in {version_dir}{ignored}")
        if mode == "testdata":
            raise BadOption("--inputs testdata", "a version folder with kept test data for this signature",
                            str(version_dir) if version_dir else "no version folder on this host")
    served = served or metadata()
    return synthesize_from_metadata(served, signature, batch)
