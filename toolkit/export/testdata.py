"""Sample data kept inside a version (``assets.extra/tfs_test_data/``) so the smoke test can replay it later.

Numeric tensors go to ``.npz`` files (loaded without pickle); string tensors to JSON as base64, so arbitrary
bytes survive. ``meta.json`` records the signature and tolerances the data was validated with.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clients.types import TensorSpec

TEST_DATA_DIR = Path("assets.extra") / "tfs_test_data"
FORMAT_VERSION = 1


@dataclass
class TestData:
    """Inputs, expected outputs and how to compare them, for one signature."""

    __test__ = False  # not a pytest test class

    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray] = field(default_factory=dict)
    signature_name: str = "serving_default"
    rtol: float = 1e-5
    atol: float = 1e-6


def _is_string(array: np.ndarray) -> bool:
    return array.dtype.kind in ("S", "U", "O")


def _to_bytes_list(array: np.ndarray) -> list[str]:
    flat = array.reshape(-1)
    return [base64.b64encode(v if isinstance(v, bytes) else str(v).encode("utf-8")).decode("ascii") for v in flat]


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """What ``np.savez(path, **arrays)`` writes (one ``<name>.npy`` per array, stored), for any tensor name: as
    keywords, an input named ``file`` or ``allow_pickle`` would collide with savez's own parameters."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _save_group(folder: Path, stem: str, arrays: Mapping[str, np.ndarray]) -> None:
    numeric = {k: v for k, v in arrays.items() if not _is_string(v)}
    strings = {k: {"shape": list(v.shape), "b64": _to_bytes_list(v)} for k, v in arrays.items() if _is_string(v)}
    _write_npz(folder / f"{stem}.npz", numeric)
    (folder / f"{stem}.strings.json").write_text(json.dumps(strings), encoding="utf-8")


def _load_group(folder: Path, stem: str) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    npz = folder / f"{stem}.npz"
    if npz.exists():
        with np.load(npz, allow_pickle=False) as data:
            arrays.update({k: data[k] for k in data.files})
    strings = folder / f"{stem}.strings.json"
    if strings.exists():
        for name, entry in json.loads(strings.read_text(encoding="utf-8")).items():
            values = [base64.b64decode(v) for v in entry["b64"]]
            arrays[name] = np.array(values, dtype=object).reshape(entry["shape"])
    return arrays


def save_test_data(version_dir: str | Path, data: TestData) -> Path:
    """Write the test data under ``<version_dir>/assets.extra/tfs_test_data``."""
    folder = Path(version_dir) / TEST_DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _save_group(folder, "inputs", data.inputs)
    _save_group(folder, "expected", data.expected)
    meta = {"format_version": FORMAT_VERSION, "signature_name": data.signature_name, "rtol": data.rtol,
            "atol": data.atol, "inputs": sorted(data.inputs), "expected": sorted(data.expected)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return folder


def load_test_data(version_dir: str | Path) -> TestData | None:
    """Read the persisted test data of a version, or None if the version has none."""
    folder = Path(version_dir) / TEST_DATA_DIR
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{meta_path}: format_version: expected {FORMAT_VERSION}, got {meta.get('format_version')}")
    return TestData(
        inputs=_load_group(folder, "inputs"),
        expected=_load_group(folder, "expected"),
        signature_name=meta["signature_name"],
        rtol=float(meta["rtol"]),
        atol=float(meta["atol"]),
    )


def compare_outputs(
    expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], *, rtol: float, atol: float
) -> str | None:
    """None when every expected output matches; else a message naming the output, the worst element and the
    difference. Shared by export validation and the smoke test."""
    for name in sorted(expected):
        want = np.asarray(expected[name])
        if name not in got:
            return f"output {name!r}: expected it in the result, got outputs {sorted(got)}"
        have = np.asarray(got[name])
        if want.shape != have.shape:
            return f"output {name!r}: expected shape {want.shape}, got {have.shape}"
        if _is_string(want) or _is_string(have):
            w, h = want.reshape(-1), have.reshape(-1)
            for i, (a, b) in enumerate(zip(w, h)):
                if a != b:
                    index = np.unravel_index(i, want.shape)
                    return f"output {name!r}: at index {tuple(int(x) for x in index)} expected {a!r}, got {b!r}"
            continue
        if want.dtype.kind == "b" or have.dtype.kind == "b":
            mismatch = np.flatnonzero(want.reshape(-1) != have.reshape(-1))
            if mismatch.size:
                index = np.unravel_index(int(mismatch[0]), want.shape)
                return (f"output {name!r}: at index {tuple(int(x) for x in index)} expected "
                        f"{want[index]!r}, got {have[index]!r}")
            continue
        w64, h64 = want.astype(np.float64), have.astype(np.float64)
        if np.array_equal(w64, h64, equal_nan=True):
            continue
        close = np.isclose(h64, w64, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            continue
        diff = np.abs(h64 - w64)
        diff = np.where(np.isnan(diff), np.inf, diff)
        worst = np.unravel_index(int(np.argmax(diff)), want.shape) if want.ndim else ()
        return (
            f"output {name!r}: {int((~close).sum())} of {close.size} elements differ beyond rtol={rtol}, "
            f"atol={atol}; largest difference {float(diff[worst]):.6g} at index {tuple(int(x) for x in worst)}: "
            f"expected {float(w64[worst]):.9g}, got {float(h64[worst]):.9g}"
        )
    return None


def synthesize_inputs(inputs: Mapping[str, TensorSpec], batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs made up from a signature's specs (``{name: TensorSpec}``): unknown
    dims become ``batch`` (first) or 1, values are small random numbers / short strings. Used where no sample
    data exists: it proves the model runs, not that it is right."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for name, info in sorted(inputs.items()):
        shape = info.shape if info.shape is not None else (batch,)
        dims = tuple((batch if i == 0 else 1) if d is None else d for i, d in enumerate(shape))
        dtype = info.numpy_name
        if dtype == "string":
            arrays[name] = np.full(dims, b"tfs", dtype=object)
        elif dtype == "bool":
            arrays[name] = rng.integers(0, 2, size=dims).astype(bool)
        elif dtype.startswith(("int", "uint")):
            arrays[name] = rng.integers(0, 3, size=dims).astype(dtype)
        else:
            arrays[name] = rng.random(size=dims).astype(dtype)
    return arrays
