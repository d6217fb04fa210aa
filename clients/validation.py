"""Client-side input checks against a signature (``validate=True``): names, dtypes and shapes.

Each failure raises ValidationError naming the input, what the signature expects and what was given.
Plain Python values (lists, scalars) are converted to the signature's dtype; numpy arrays are checked as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from clients.codec import as_array
from clients.errors import ValidationError
from clients.types import SignatureSpec, TensorSpec

__all__ = ["name_inputs", "validate_inputs", "coerce_plain_values", "has_plain_values"]


def name_inputs(inputs: Mapping[str, Any] | Any, signature: SignatureSpec | None) -> dict[str, Any]:
    """A dict of inputs; a bare value is given the name of the signature's only input."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    if signature is None:
        raise ValidationError("inputs: a bare array needs the signature's input name; pass a dict {name: array}")
    if len(signature.inputs) != 1:
        raise ValidationError(
            f"inputs: signature {signature.name!r} has {len(signature.inputs)} inputs "
            f"{sorted(signature.inputs)}; pass a dict {{name: array}} instead of a single array"
        )
    return {next(iter(signature.inputs)): inputs}


def _fmt_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_one(name: str, value: Any, spec: TensorSpec) -> np.ndarray:
    expected = spec.dtype
    if expected is None:
        raise ValidationError(f"input {name!r}: signature dtype {spec.dtype_name} cannot be sent from numpy")
    if isinstance(value, np.ndarray):
        array = value
    else:
        array = as_array(value, f"input {name!r}")
        if expected.kind != "O" and array.dtype.kind != "O":
            try:
                array = np.asarray(value, dtype=expected)
            except (ValueError, TypeError, OverflowError) as exc:
                raise ValidationError(
                    f"input {name!r}: expected dtype {expected} ({spec.dtype_name}), cannot convert value: {exc}"
                ) from None
    got_string = array.dtype.kind in "OSU"
    if expected.kind == "O":
        if not got_string:
            raise ValidationError(f"input {name!r}: expected dtype bytes/str ({spec.dtype_name}), got {array.dtype}")
    elif got_string or array.dtype != expected:
        raise ValidationError(f"input {name!r}: expected dtype {expected} ({spec.dtype_name}), got {array.dtype}")
    if spec.shape is not None:
        mismatch = len(spec.shape) != array.ndim or any(
            want is not None and want != got for want, got in zip(spec.shape, array.shape)
        )
        if mismatch:
            raise ValidationError(
                f"input {name!r}: expected shape {_fmt_shape(spec.shape)}, got {_fmt_shape(array.shape)}"
            )
    return array


def validate_inputs(inputs: Mapping[str, Any], signature: SignatureSpec) -> dict[str, np.ndarray]:
    """Check named inputs against ``signature``; returns them as arrays (lists converted to the signature dtype)."""
    unknown = sorted(set(inputs) - set(signature.inputs))
    if unknown:
        raise ValidationError(
            f"input {unknown[0]!r}: not in signature {signature.name!r}; expected inputs {sorted(signature.inputs)}"
        )
    missing = sorted(set(signature.inputs) - set(inputs) - set(signature.defaults))
    if missing:
        raise ValidationError(
            f"input {missing[0]!r}: missing; signature {signature.name!r} expects {sorted(signature.inputs)}, "
            f"got {sorted(inputs)}"
        )
    return {name: _check_one(name, value, signature.inputs[name]) for name, value in inputs.items()}


def has_plain_values(inputs: Mapping[str, Any] | Any) -> bool:
    """True if some input is a Python value (list, scalar) rather than a numpy array."""
    values = inputs.values() if isinstance(inputs, Mapping) else [inputs]
    return any(not isinstance(value, np.ndarray) for value in values)


def coerce_plain_values(inputs: dict[str, Any], signature: SignatureSpec | None) -> dict[str, Any]:
    """Convert Python lists/scalars to the signature's dtype (numpy would pick float64/int64); arrays stay as given.

    Without this, ``[[1.0, 2.0]]`` becomes a float64 tensor that a float32 signature rejects over gRPC (JSON has no
    dtype, so REST accepts it): both transports treat plain values the same way.
    """
    if signature is None:
        return inputs
    out = dict(inputs)
    for name, value in inputs.items():
        spec = signature.inputs.get(name)
        if spec is None or isinstance(value, np.ndarray):
            continue
        expected = spec.dtype
        array = as_array(value, f"input {name!r}")
        if expected is not None and expected.kind != "O" and array.dtype.kind not in "OSU":
            try:
                out[name] = np.asarray(value, dtype=expected)
            except (ValueError, TypeError, OverflowError):
                out[name] = array  # let the server report the mismatch
    return out
