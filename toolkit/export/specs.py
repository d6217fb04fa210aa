"""Neuropod-style tensor specs (name, dtype, shape with ``None`` wildcards) and their check against a signature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.export.errors import SpecMismatchError
from toolkit.savedmodel import Signature, TensorInfo


@dataclass(frozen=True)
class TensorSpec:
    """What a signature tensor must look like; ``shape`` None = any shape, a None dim = any size."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None = None

    @classmethod
    def coerce(cls, raw: TensorSpec | Mapping[str, Any]) -> TensorSpec:
        """Accept a TensorSpec or a dict ``{"name", "dtype", "shape"}`` (dtype as numpy/TF name)."""
        if isinstance(raw, TensorSpec):
            return raw
        missing = {"name", "dtype"} - set(raw)
        if missing:
            raise SpecMismatchError(f"spec {dict(raw)!r}: expected keys name, dtype (and optional shape), "
                                    f"missing {sorted(missing)}")
        shape = raw.get("shape")
        return cls(str(raw["name"]), normalize_dtype(raw["dtype"]),
                   None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape))


def normalize_dtype(dtype: Any) -> str:
    """``tf.float32``, ``np.float32``, ``"float"`` or ``"DT_FLOAT"`` -> ``float32``; strings -> ``string``."""
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.lower()
    if name.startswith("dt_"):
        name = name[3:]
    aliases = {"float": "float32", "double": "float64", "half": "float16", "str": "string", "bytes": "string",
               "object": "string"}
    if name in aliases:
        return aliases[name]
    if name == "string":
        return name
    try:
        return np.dtype(name).name
    except TypeError:
        return name


def _shape_matches(expected: tuple[int | None, ...] | None, got: tuple[int | None, ...] | None) -> bool:
    if expected is None:
        return True
    if got is None or len(expected) != len(got):
        return False
    return all(e is None or e == g for e, g in zip(expected, got))


def _fmt_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_specs(signature: Signature, kind: str, specs: Iterable[TensorSpec | Mapping[str, Any]]) -> None:
    """Raise ``SpecMismatchError`` naming the tensor, the expected and the found value on the first mismatch.

    ``kind`` is ``inputs`` or ``outputs``. The declared names must be exactly the signature's names.
    """
    wanted = [TensorSpec.coerce(s) for s in specs]
    actual: dict[str, TensorInfo] = signature.inputs if kind == "inputs" else signature.outputs
    where = f"signature {signature.name!r} {kind}"
    declared = {s.name for s in wanted}
    if declared != set(actual):
        raise SpecMismatchError(
            f"{where}: expected tensor names {sorted(declared)}, got {sorted(actual)}"
            + (f" (missing {sorted(declared - set(actual))})" if declared - set(actual) else "")
            + (f" (unexpected {sorted(set(actual) - declared)})" if set(actual) - declared else "")
        )
    for spec in wanted:
        info = actual[spec.name]
        if spec.dtype != info.dtype:
            raise SpecMismatchError(f"{where}: tensor {spec.name!r}: expected dtype {spec.dtype}, got {info.dtype}")
        if not _shape_matches(spec.shape, info.shape):
            raise SpecMismatchError(
                f"{where}: tensor {spec.name!r}: expected shape {_fmt_shape(spec.shape)}, got {_fmt_shape(info.shape)}"
            )
