"""The fake's model registry entries and its TF-Serving-style failure (status name and message)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clients.codec import dtype_name_for
from clients.types import SignatureSpec, TensorSpec

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

SpecLike = TensorSpec | tuple[Any, Sequence[int | None] | None]


class _Status(Exception):
    """A TF-Serving-style failure inside the fake: status code name and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FakeCall:
    """One request the fake received: method (``predict``, ``classify``, ...), protocol and arguments."""

    method: str
    protocol: str
    model: str
    version: int | None = None
    label: str | None = None
    signature: str = ""
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    examples: list[dict[str, list[Any]]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Signature:
    spec: SignatureSpec
    fn: Callable[..., Any]


@dataclass
class _Version:
    signatures: dict[str, _Signature] = field(default_factory=dict)
    state: str = "AVAILABLE"
    error_code: str = "OK"
    error_message: str = ""


def _spec(alias: str, value: SpecLike) -> TensorSpec:
    if isinstance(value, TensorSpec):
        return value
    dtype, shape = value
    if isinstance(dtype, str) and dtype.startswith("DT_"):
        dtype_name = dtype
    elif dtype in (bytes, str, object):
        dtype_name = "DT_STRING"
    else:
        dtype_name = dtype_name_for(np.dtype(dtype))
    return TensorSpec(alias, dtype_name, None if shape is None else tuple(shape), f"{alias}:0")


