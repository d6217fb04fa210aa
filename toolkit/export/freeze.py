"""``tfs freeze``: fold a model's variables into constants and publish the result as a new version.

A SavedModel (TF2 or TF1) is loaded with ``tf.saved_model.load`` and one signature is frozen with TensorFlow's
``convert_variables_to_constants_v2``; a TF1 checkpoint (``.meta`` + variables) is restored into its graph and
frozen with ``tf.compat.v1.graph_util.convert_variables_to_constants``. Either way the frozen ``GraphDef`` goes
through the normal export path as a ``FrozenGraph`` (staging, clean-process validation, test data, warmup, atomic
publish), validated against the source's kept test data, or against the source's own outputs on synthetic inputs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit._extras import require
from toolkit.export.errors import ExportError
from toolkit.export.legacy import Checkpoint, FrozenGraph, restore_checkpoint
from toolkit.export.progress import ExportProgress
from toolkit.export.testdata import load_test_data, synthesize_inputs
from toolkit.savedmodel import read_signatures

VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "ReadVariableOp", "AssignVariableOp"})


@dataclass(frozen=True)
class Frozen:
    """A frozen graph, its signature aliases, and the data to validate it with."""

    graph_def: Any
    inputs: dict[str, str]
    outputs: dict[str, str]
    sample_inputs: dict[str, np.ndarray]
    expected_outputs: dict[str, np.ndarray]
    rtol: float
    atol: float
    notes: list[str]


def _tf():
    return require("tensorflow", purpose="freezing models")


def _as_numpy(outputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}


def freeze_saved_model(source: Path, signature_name: str = "serving_default", tags: str = "serve") -> Frozen:
    """Freeze signature ``signature_name`` of the SavedModel at ``source``."""
    tf = _tf()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    signature = read_signatures(source, tags).get(signature_name)
    if signature is None:
        raise ExportError(f"--signature-name: expected one of {sorted(read_signatures(source, tags))}, "
                          f"got {signature_name!r}")
    loaded = tf.saved_model.load(str(source), tags=[t.strip() for t in tags.split(",")])
    function = loaded.signatures[signature_name]
    try:
        frozen = convert_variables_to_constants_v2(function)
    except Exception as exc:  # tables, unsupported resources
        raise ExportError(f"{source}: signature {signature_name!r} cannot be frozen: {exc}") from None
    positional, keywords = function.structured_input_signature
    if positional:
        raise ExportError(f"{source}: signature {signature_name!r} takes positional inputs; expected named inputs")
    input_aliases = sorted(keywords)  # flattened in key order, as frozen.inputs are
    placeholders = [t for t in frozen.inputs if t.dtype != tf.resource]
    inputs = {alias: tensor.name for alias, tensor in zip(input_aliases, placeholders)}
    structured = tf.nest.pack_sequence_as(function.structured_outputs, frozen.outputs)
    outputs = {alias: tensor.name for alias, tensor in structured.items()}

    notes = [f"frozen from {source}, signature {signature_name!r}"]
    kept = load_test_data(source)
    if kept is not None and kept.signature_name == signature_name:
        sample, expected, rtol, atol = kept.inputs, kept.expected, kept.rtol, kept.atol
        notes.append("validated with the test data kept inside the source version")
    else:
        sample, expected, rtol, atol = synthesize_inputs(signature.inputs), {}, 1e-5, 1e-6
        notes.append("the source has no test data for this signature: validated against its own outputs on "
                     "synthetic inputs")
    if not expected:
        expected = _as_numpy(function(**{k: tf.constant(v) for k, v in sample.items()}))
    others = sorted(set(read_signatures(source, tags)) - {signature_name})
    if others:
        notes.append(f"only signature {signature_name!r} is frozen (served as serving_default); dropped {others}")
    return Frozen(frozen.graph.as_graph_def(), inputs, outputs, sample, expected, rtol, atol, notes)


def freeze_checkpoint(source: Checkpoint, sample_inputs: Mapping[str, np.ndarray] | None = None) -> Frozen:
    """Freeze a TF1 checkpoint with ``graph_util.convert_variables_to_constants`` over its output tensors."""
    tf = _tf()
    v1 = tf.compat.v1
    if not source.inputs or not source.outputs:
        raise ExportError("a TF1 checkpoint needs inputs={alias: tensor} and outputs={alias: tensor} to freeze")
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
        restore_checkpoint(source, sess)
        tensors = {}
        for alias, name in {**source.inputs, **source.outputs}.items():
            name = name if ":" in name else f"{name}:0"
            try:
                tensors[alias] = graph.get_tensor_by_name(name)
            except (KeyError, ValueError) as exc:
                raise ExportError(f"tensor {name!r} (alias {alias!r}) not found in {source.meta_graph}: {exc}") from None
        output_nodes = sorted({tensors[a].op.name for a in source.outputs})
        graph_def = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), output_nodes)
        input_specs = {a: tensors[a] for a in source.inputs}
        if sample_inputs is None:
            from clients.types import TensorSpec

            infos = {a: TensorSpec(a, t.dtype.name, None if t.shape.rank is None else tuple(t.shape.as_list()))
                     for a, t in input_specs.items()}
            sample_inputs = synthesize_inputs(infos)
        sample = {k: np.asarray(v) for k, v in sample_inputs.items()}
        values = sess.run({a: tensors[a] for a in source.outputs}, {input_specs[a]: sample[a] for a in sample})
    notes = [f"frozen from TF1 checkpoint {source.meta_graph}", "validated against the checkpoint's own outputs"]
    return Frozen(graph_def, {a: tensors[a].name for a in source.inputs},
                  {a: tensors[a].name for a in source.outputs}, sample, _as_numpy(values), 1e-5, 1e-6, notes)


def freeze_and_export(source: Path | Checkpoint, name: str, repository: str | Path, *, version: int | None = None,
                      signature_name: str = "serving_default", tags: str = "serve",
                      sample_inputs: Mapping[str, np.ndarray] | None = None,
                      progress: ExportProgress | None = None) -> Any:
    """Freeze ``source`` (a SavedModel folder or a TF1 ``Checkpoint``) and publish it as a new version of ``name``
    through ``export_model``; returns its ``ExportResult`` with the freezing notes first. ``progress`` is told the
    export's steps, as ``export_model`` tells them."""
    from toolkit.export import export_model

    if isinstance(source, Checkpoint):
        frozen = freeze_checkpoint(source, sample_inputs)
    else:
        source = Path(source)
        if not source.is_dir():
            raise ExportError(f"{source}: expected a SavedModel folder or a TF1 checkpoint .meta file")
        frozen = freeze_saved_model(source, signature_name, tags)
    variable_ops = sorted({node.op for node in frozen.graph_def.node} & VARIABLE_OPS)
    if variable_ops:
        raise ExportError(f"freezing left variable ops {variable_ops} in the graph; nothing was published")
    with tempfile.TemporaryDirectory(prefix="tfs-freeze-") as tmp:
        graph_file = Path(tmp) / "frozen.pb"
        graph_file.write_bytes(frozen.graph_def.SerializeToString())
        result = export_model(FrozenGraph(graph_file, frozen.inputs, frozen.outputs), name, repository,
                              version=version, sample_inputs=frozen.sample_inputs,
                              expected_outputs=frozen.expected_outputs, rtol=frozen.rtol, atol=frozen.atol,
                              progress=progress)
    result.notes[:0] = frozen.notes
    return result
