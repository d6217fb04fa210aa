"""Per-request memory limits of the embedded runtime, checked before anything is allocated.

TF Serving makes no such check: a 26-byte Predict claiming DT_FLOAT shape [375000000] with one ``float_val`` makes
Tensor::FromProto fill 1.5 GB. Here every input's claim (shape x element size, string counts and bytes) is sized
from its header (``tensors.claim``) and the request is refused with RESOURCE_EXHAUSTED, naming the limit and its
flag, when it exceeds:

- ``--max_request_tensor_bytes``: the decoded size of all input tensors of one request (default INT32_MAX, what
  one gRPC message can carry, so every request whose values are all on the wire still decodes);
- ``--max_request_fill_bytes``: what TF's fill rule (a short ``*_val`` list repeats its last value, none = zeros or
  empty strings) may add beyond the values sent, summed over the request's inputs (default 64 MiB).

Both are tfs-toolkit flags (not in tensorflow_model_server); the README lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clients import dtypes
from toolkit.server.errors import Code, ServingError

if TYPE_CHECKING:  # flags.py reads the defaults here without importing TensorFlow
    from tensorflow.core.framework import tensor_pb2

DEFAULT_MAX_REQUEST_TENSOR_BYTES = 2**31 - 1
DEFAULT_MAX_REQUEST_FILL_BYTES = 64 * 2**20

TENSOR_BYTES_FLAG = "max_request_tensor_bytes"
FILL_BYTES_FLAG = "max_request_fill_bytes"


@dataclass(frozen=True)
class RequestLimits:
    """The byte budgets of one request (see the module docstring); both must be positive."""

    max_request_tensor_bytes: int = DEFAULT_MAX_REQUEST_TENSOR_BYTES
    max_request_fill_bytes: int = DEFAULT_MAX_REQUEST_FILL_BYTES

    def __post_init__(self) -> None:
        for flag in (TENSOR_BYTES_FLAG, FILL_BYTES_FLAG):
            value = getattr(self, flag)
            if value <= 0:
                raise ValueError(f"--{flag} must be a positive number of bytes, got {value}")

    @classmethod
    def from_options(cls, options: object) -> RequestLimits:
        """The limits set by ``ServerOptions`` (flags of the same names)."""
        return cls(
            max_request_tensor_bytes=getattr(options, TENSOR_BYTES_FLAG),
            max_request_fill_bytes=getattr(options, FILL_BYTES_FLAG),
        )

    def check_inputs(self, inputs: Mapping[str, tensor_pb2.TensorProto]) -> None:
        """Refuse (RESOURCE_EXHAUSTED) a request whose input tensors claim more than the limits allow.

        Inputs whose header TF refuses anyway (bad dtype or shape) are left to the decoder, which reports them
        with TF Serving's ``tensor parsing error``."""
        from toolkit.server import tensors

        total = fill = 0
        sizes: list[str] = []
        for alias in sorted(inputs):
            try:
                found = tensors.claim(inputs[alias])
            except tensors.TensorParseError:
                continue
            fill += found.fill_bytes
            if fill > self.max_request_fill_bytes:
                raise ServingError(
                    Code.RESOURCE_EXHAUSTED,
                    f"input '{alias}' claims shape {tensors.shape_string(found.shape)} of "
                    f"{dtypes.enum_name(found.dtype)} ({found.count} elements) but carries {found.given} "
                    f"value(s); repeating the last one to fill it would take {found.fill_bytes} bytes, and the "
                    f"request may fill at most {self.max_request_fill_bytes} bytes (--{FILL_BYTES_FLAG})",
                )
            total += found.nbytes
            sizes.append(f"'{alias}' {found.nbytes}")
            if total > self.max_request_tensor_bytes:
                raise ServingError(
                    Code.RESOURCE_EXHAUSTED,
                    f"the request's input tensors would take {total} bytes once decoded ({', '.join(sizes)}); "
                    f"the limit is {self.max_request_tensor_bytes} bytes (--{TENSOR_BYTES_FLAG})",
                )
