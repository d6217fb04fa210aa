"""Typed value objects the clients return: model metadata (signatures, tensor specs) and version status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clients.dtypes import canonical_name, numpy_dtype_for, numpy_name

__all__ = [
    "TensorSpec",
    "SignatureSpec",
    "ModelMetadata",
    "ModelVersionStatus",
    "ClassifyResult",
    "DEFAULT_SIGNATURE",
]

DEFAULT_SIGNATURE = "serving_default"

# One classify result per example: (label, score) pairs. Label is "" when the signature has no classes output.
ClassifyResult = list[list[tuple[str, float]]]


@dataclass(frozen=True)
class TensorSpec:
    """One signature input or output: alias, TF dtype name, shape (None = unknown dim or rank), graph tensor name.

    The one tensor-spec type of the project: what the clients read from GetModelMetadata, what the toolkit reads
    from ``saved_model.pb`` and what an export declares. ``dtype_name`` accepts any spelling (``"float32"``,
    ``"float"``, ``np.float32``, ``tf.float32``) and keeps TF's enum name (``DT_FLOAT``; see ``clients.dtypes``).
    """

    name: str
    dtype_name: str
    shape: tuple[int | None, ...] | None = None
    tensor_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype_name", canonical_name(self.dtype_name))

    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The numpy dtype for this tensor (object for DT_STRING); None if numpy has no equivalent."""
        return numpy_dtype_for(self.dtype_name)

    @property
    def numpy_name(self) -> str:
        """numpy's spelling of the dtype (``float32``; ``string`` for DT_STRING), as the toolkit's reports print it."""
        return numpy_name(self.dtype_name)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "dtype" (numpy's spelling), "shape" (None: unknown rank), "tensor_name"}``."""
        return {"name": self.name, "dtype": self.numpy_name, "shape": None if self.shape is None else list(self.shape),
                "tensor_name": self.tensor_name}


@dataclass(frozen=True)
class SignatureSpec:
    """A SignatureDef: its name, method (e.g. ``tensorflow/serving/predict``), inputs and outputs by alias."""

    name: str
    method_name: str
    inputs: Mapping[str, TensorSpec] = field(default_factory=dict)
    outputs: Mapping[str, TensorSpec] = field(default_factory=dict)
    defaults: tuple[str, ...] = ()  # inputs the signature has default values for (may be omitted)


@dataclass(frozen=True)
class ModelMetadata:
    """What GetModelMetadata answers: model name, the version that answered, and its signatures."""

    model: str
    version: int | None
    signatures: Mapping[str, SignatureSpec]

    def signature(self, name: str | None = None) -> SignatureSpec:
        """The named signature (``serving_default`` when ``name`` is None or empty); KeyError naming the choices."""
        key = name or DEFAULT_SIGNATURE
        try:
            return self.signatures[key]
        except KeyError:
            raise KeyError(
                f"signature {key!r} not found in model {self.model!r}; available: {sorted(self.signatures)}"
            ) from None


@dataclass(frozen=True)
class ModelVersionStatus:
    """State of one model version: ``state`` is UNKNOWN/START/LOADING/AVAILABLE/UNLOADING/END."""

    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""

    @property
    def available(self) -> bool:
        return self.state == "AVAILABLE"

    @property
    def failed(self) -> bool:
        """True when the version ended with an error (a failed load)."""
        return self.state == "END" and self.error_code != "OK"
