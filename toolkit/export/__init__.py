"""``export_model``: publish a model into ``<repository>/<name>/<version>/``, validated, atomically.

The flow: write the SavedModel into a hidden staging folder; check its signature against the declared specs; run
it on the sample inputs in a clean process and compare with the expected outputs; keep the sample data and a TF
Serving warmup file inside the version; fsync; rename the staging folder to the version number. Any failure
removes the staging folder and publishes nothing. Each step (``progress.STEPS``) is told to an optional
``ExportProgress`` reporter as it starts and ends; the exporter itself prints nothing.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clients.types import TensorSpec
from toolkit.custom_ops import describe, find_custom_ops
from toolkit.export.errors import (
    CustomOpsError,
    ExportError,
    ExportValidationError,
    SpecMismatchError,
    VersionExistsError,
)
from toolkit.export.legacy import Checkpoint, FrozenGraph, write_checkpoint, write_frozen_graph
from toolkit.export.progress import STEPS, ExportProgress, StepReporter
from toolkit.export.publish import clean_stale_staging, new_staging_dir, publish
from toolkit.export.sources import (
    copy_saved_model,
    is_keras_model,
    keras_reference_outputs,
    load_keras_file,
    write_keras,
    write_module,
)
from toolkit.export.specs import check_specs
from toolkit.export.testdata import TestData, load_test_data, save_test_data, synthesize_inputs
from toolkit.export.validate import check_inputs, run_in_clean_process, validate_outputs
from toolkit.export.warmup import write_warmup_file
from toolkit.repository import check_version_number, model_dir, next_version
from toolkit.savedmodel import Signature, read_signatures

log = logging.getLogger(__name__)

__all__ = [
    "Checkpoint",
    "CustomOpsError",
    "ExportError",
    "ExportProgress",
    "FrozenGraph",
    "ExportResult",
    "STEPS",
    "SpecMismatchError",
    "TensorSpec",
    "ExportValidationError",
    "VersionExistsError",
    "export_model",
]


@dataclass(frozen=True)
class ExportResult:
    """Where the version was published and what it serves."""

    path: Path
    name: str
    version: int
    signatures: dict[str, Signature]
    validated_with: str  # "expected outputs", "reference model", "outputs recorded", or "synthetic inputs"
    persisted_test_data: bool
    warmup_records: int = 0
    notes: list[str] = field(default_factory=list)
    custom_ops: list[str] = field(default_factory=list)  # ops stock TF Serving lacks (exported with allow_custom_ops)


def _as_input_dict(sample: Any, signature: Signature) -> dict[str, np.ndarray]:
    if isinstance(sample, Mapping):
        return {k: np.asarray(v) for k, v in sample.items()}
    if len(signature.inputs) != 1:
        raise ExportValidationError(f"sample inputs: signature {signature.name!r} has inputs {sorted(signature.inputs)}; "
                              "pass a dict {name: array}")
    return {next(iter(signature.inputs)): np.asarray(sample)}


def _check_jit_source(model: Any) -> None:
    """--jit-compile re-traces serving functions, so it needs a model the toolkit traces itself."""
    if isinstance(model, (FrozenGraph, Checkpoint)):
        got = f"the TF1 graph {model.path if isinstance(model, FrozenGraph) else model.meta_graph}"
    elif isinstance(model, (str, Path)) and Path(model).is_dir():
        got = f"the SavedModel folder {model}"
    else:
        return
    raise ExportError("--jit-compile: expected a Keras model or file, a tf.Module or a tf.function (their serving "
                      f"functions are traced again with jit_compile=True), got {got}")


def _is_model_file(model: Any) -> bool:
    """A path that is not a folder: a model file to load (the ``load`` step) before it is saved."""
    return isinstance(model, (str, Path)) and not Path(model).is_dir()


def _load_model_file(path: Path) -> Any:
    """The Keras model in a .keras / .h5 file."""
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ExportError(f"{path}: expected a SavedModel folder or a .keras / .h5 file")
    if not path.is_file():
        raise ExportError(f"{path}: no such Keras file")
    return load_keras_file(path)


def _write_source(model: Any, staging: Path, *, name_mapping: Mapping[str, str] | None,
                  signatures: Mapping[str, Any] | None, extra_signatures: Mapping[str, Any] | None,
                  jit_compile: bool = False) -> Any:
    """Write the model (already loaded if it was a file) into ``staging``; returns the in-memory Keras model when
    there is one (for reference)."""
    if isinstance(model, (FrozenGraph, Checkpoint)):
        if name_mapping or extra_signatures or signatures:
            raise ExportError("TF1 graphs take their signature from inputs=/outputs= aliases; name_mapping and "
                              "extra signatures apply to Keras models and tf.Modules only")
        if isinstance(model, FrozenGraph):
            write_frozen_graph(model, staging)
        else:
            write_checkpoint(model, staging)
        return None
    if isinstance(model, (str, Path)):
        path = Path(model)
        if name_mapping or extra_signatures or signatures:
            raise ExportError(f"{path}: an existing SavedModel is re-published as is; name_mapping and extra "
                              "signatures apply to Keras models and tf.Modules only")
        copy_saved_model(path, staging)
        return None
    if is_keras_model(model):
        write_keras(model, staging, name_mapping, extra_signatures, jit_compile)
        return model
    write_module(model, staging, {**(signatures or {}), **(extra_signatures or {})}, jit_compile)
    return None


def export_model(
    model: Any,
    name: str,
    repository: str | Path = "deploy/models",
    *,
    version: int | None = None,
    force: bool = False,
    sample_inputs: Any = None,
    expected_outputs: Mapping[str, Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    input_spec: Iterable[TensorSpec | Mapping[str, Any]] | None = None,
    output_spec: Iterable[TensorSpec | Mapping[str, Any]] | None = None,
    name_mapping: Mapping[str, str] | None = None,
    signatures: Mapping[str, Callable[..., Any]] | None = None,
    extra_signatures: Mapping[str, Callable[..., Any]] | None = None,
    signature_name: str = "serving_default",
    persist_test_data: bool = True,
    warmup: bool = True,
    tags: str = "serve",
    allow_custom_ops: bool = False,
    op_libraries: Iterable[str | Path] = (),
    jit_compile: bool = False,
    progress: ExportProgress | None = None,
) -> ExportResult:
    """Export ``model`` as version ``version`` (default: next integer) of ``name`` under ``repository``.

    ``model`` is a Keras model, a ``.keras``/``.h5`` path, a SavedModel folder, a ``tf.Module`` (with
    ``signatures``), a ``tf.function``, or a legacy TF1 ``FrozenGraph`` / ``Checkpoint``. ``sample_inputs``
    (dict of arrays, or one array for a single input)
    are run through the exported model in a clean process; the result is compared with ``expected_outputs`` if
    given, else with the in-memory Keras model. Raises an ``ExportError`` subclass and publishes nothing when
    anything is wrong. A model using ops stock TF Serving lacks is refused unless ``allow_custom_ops``;
    ``op_libraries`` (``.so`` files) are loaded with ``tf.load_op_library`` by the validating process.
    ``jit_compile`` exports the serving functions with ``jit_compile=True``, compiled once at export.
    ``progress`` is told each step (``STEPS``) as it starts and ends.
    """
    libraries = [str(Path(p).resolve()) for p in op_libraries]
    if jit_compile:
        _check_jit_source(model)
    target_model_dir = model_dir(repository, name)
    clean_stale_staging(target_model_dir)
    version = check_version_number(version) if version is not None else next_version(target_model_dir)
    target = target_model_dir / str(version)
    if target.exists() and not force:
        raise VersionExistsError(f"version folder {target} already exists; pass force=True (--force) to replace it")

    created_model_dir = not target_model_dir.exists()
    staging = new_staging_dir(target_model_dir, version)
    steps = StepReporter(progress)
    try:
        if _is_model_file(model):
            steps.begin("load")
            model = _load_model_file(Path(model))
        steps.begin("save")
        keras_model = _write_source(model, staging, name_mapping=name_mapping, signatures=signatures,
                                    extra_signatures=extra_signatures, jit_compile=jit_compile)
        sigs = read_signatures(staging, tags)
        if signature_name not in sigs:
            raise SpecMismatchError(f"signature {signature_name!r}: expected it in the export, got {sorted(sigs)}")
        signature = sigs[signature_name]
        if input_spec is not None:
            check_specs(signature, "inputs", input_spec)
        if output_spec is not None:
            check_specs(signature, "outputs", output_spec)

        notes: list[str] = []
        custom = find_custom_ops(staging)
        if custom and not allow_custom_ops:
            raise CustomOpsError(f"{describe(custom)}; pass --allow-custom-ops (allow_custom_ops=True) to export anyway")
        if custom:
            notes.append(describe(custom))
        warmup_records = 0
        persisted = False
        kept = load_test_data(staging) if sample_inputs is None and keras_model is None else None
        if kept is not None and kept.signature_name == signature_name:  # a re-published SavedModel's own data
            sample_inputs = kept.inputs
            if expected_outputs is None and kept.expected:
                expected_outputs, rtol, atol = kept.expected, kept.rtol, kept.atol
            notes.append("validated with the test data kept inside the source SavedModel")
        steps.begin("validate")
        if sample_inputs is None:
            inputs = synthesize_inputs(signature.inputs)
            outputs = run_in_clean_process(staging, signature_name, inputs, tags, libraries)
            validate_outputs(outputs, signature, None, rtol, atol)
            validated_with = "synthetic inputs"
            notes.append("no sample inputs: checked that the model loads and runs on synthetic inputs only")
        else:
            inputs = _as_input_dict(sample_inputs, signature)
            check_inputs(signature, inputs)
            outputs = run_in_clean_process(staging, signature_name, inputs, tags, libraries)
            if expected_outputs is not None:
                expected = {k: np.asarray(v) for k, v in expected_outputs.items()}
                validated_with = "expected outputs"
            elif keras_model is not None and signature_name == "serving_default":
                expected = keras_reference_outputs(keras_model, inputs, name_mapping)
                validated_with = "reference model"
            else:
                expected = {}
                validated_with = "outputs recorded"
                notes.append("no expected outputs: the exported model's own outputs were recorded as the reference")
            validate_outputs(outputs, signature, expected, rtol, atol)
            if persist_test_data or warmup:
                steps.begin("warmup")
            if persist_test_data:
                save_test_data(staging, TestData(inputs, expected or outputs, signature_name, rtol, atol))
                persisted = True
            if warmup:
                warmup_records = write_warmup_file(staging, name, signature_name, inputs)

        steps.begin("publish")
        publish(staging, target, force=force)
        steps.end()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_model_dir:  # a failed first export leaves no empty model folder behind
            with contextlib.suppress(OSError):  # not empty: another exporter is writing there
                target_model_dir.rmdir()
        raise
    log.info("published %s version %d at %s", name, version, target)
    return ExportResult(target, name, version, sigs, validated_with, persisted, warmup_records, notes,
                        [c.op for c in custom])
