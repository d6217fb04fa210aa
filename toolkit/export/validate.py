"""Validate an exported SavedModel with sample data in a separate, clean Python process.

A fresh process proves the SavedModel stands on its own: no Python objects, custom classes or graph state of the
exporting process can leak into the result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from toolkit.export.errors import ExportValidationError
from toolkit.export.testdata import _load_group, _save_group, compare_outputs
from toolkit.savedmodel import Signature

VALIDATION_TIMEOUT_S = 600


def check_inputs(signature: Signature, inputs: Mapping[str, np.ndarray]) -> None:
    """Sample inputs must match the signature's names, dtypes and ranks/known dims before anything runs."""
    if set(inputs) != set(signature.inputs):
        raise ExportValidationError(f"sample inputs for signature {signature.name!r}: expected names "
                              f"{sorted(signature.inputs)}, got {sorted(inputs)}")
    for name, info in signature.inputs.items():
        value = inputs[name]
        got = "string" if value.dtype.kind in ("S", "U", "O") else value.dtype.name
        if got != info.numpy_name:
            raise ExportValidationError(f"sample input {name!r}: expected dtype {info.numpy_name}, got {got}")
        if info.shape is not None and (
            len(info.shape) != value.ndim or any(d is not None and d != s for d, s in zip(info.shape, value.shape))
        ):
            shape = tuple(info.shape)  # None stays unquoted: (None, 128, 128, 3)
            raise ExportValidationError(f"sample input {name!r}: expected shape {shape}, got {value.shape}")


def run_in_clean_process(saved_model_dir: Path, signature_name: str, inputs: Mapping[str, np.ndarray],
                         tags: str = "serve", op_libraries: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Load ``saved_model_dir`` in a new interpreter (after ``tf.load_op_library`` of each of ``op_libraries``),
    run ``signature_name`` on ``inputs``, return the outputs."""
    with tempfile.TemporaryDirectory(prefix="tfs-validate-") as tmp:
        data_dir, out_dir = Path(tmp) / "data", Path(tmp) / "out"
        data_dir.mkdir()
        _save_group(data_dir, "inputs", dict(inputs))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                   TFS_OP_LIBRARIES=os.pathsep.join(op_libraries))
        cmd = [sys.executable, "-m", "toolkit.export._validate_worker", str(saved_model_dir), signature_name, tags,
               str(data_dir), str(out_dir)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=VALIDATION_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            raise ExportValidationError(f"validation of {saved_model_dir} did not finish in {VALIDATION_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise ExportValidationError(f"the exported model failed on the sample inputs (signature {signature_name!r}):\n{tail}")
        return _load_group(out_dir, "outputs")


def validate_outputs(got: Mapping[str, np.ndarray], signature: Signature, expected: Mapping[str, np.ndarray] | None,
                     rtol: float, atol: float) -> None:
    """Outputs must carry the signature's names and dtypes, and match ``expected`` within tolerance."""
    if set(got) != set(signature.outputs):
        raise ExportValidationError(f"outputs of signature {signature.name!r}: expected {sorted(signature.outputs)}, "
                              f"got {sorted(got)}")
    if expected:
        unknown = set(expected) - set(signature.outputs)
        if unknown:
            raise ExportValidationError(f"expected outputs name {sorted(unknown)}, which signature {signature.name!r} "
                                  f"does not have; it has {sorted(signature.outputs)}")
        problem = compare_outputs(expected, got, rtol=rtol, atol=atol)
        if problem:
            raise ExportValidationError(f"validation failed, nothing was published: {problem}")
