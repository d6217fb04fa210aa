"""Neuropod-style tensor specs (name, dtype, shape with ``None`` wildcards) and their check against a signature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clients.types import TensorSpec
from toolkit.export.errors import SpecMismatchError
from toolkit.savedmodel import Signature


def coerce_spec(raw: TensorSpec | Mapping[str, Any]) -> TensorSpec:
    """Accept a TensorSpec or a dict ``{"name", "dtype", "shape"}`` (dtype in any spelling ``clients.dtypes``
    reads; a -1 dim is any size). In a declared spec ``shape`` None = any shape, a None dim = any size."""
    if isinstance(raw, TensorSpec):
        return raw
    missing = {"name", "dtype"} - set(raw)
    if missing:
        raise SpecMismatchError(f"spec {dict(raw)!r}: expected keys name, dtype (and optional shape), "
                                f"missing {sorted(missing)}")
    shape = raw.get("shape")
    return TensorSpec(str(raw["name"]), raw["dtype"],
                      None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape))


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
    wanted = [coerce_spec(s) for s in specs]
    actual: dict[str, TensorSpec] = signature.inputs if kind == "inputs" else signature.outputs
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
        if spec.dtype_name != info.dtype_name:
            raise SpecMismatchError(
                f"{where}: tensor {spec.name!r}: expected dtype {spec.numpy_name}, got {info.numpy_name}"
            )
        if not _shape_matches(spec.shape, info.shape):
            raise SpecMismatchError(
                f"{where}: tensor {spec.name!r}: expected shape {_fmt_shape(spec.shape)}, got {_fmt_shape(info.shape)}"
            )
