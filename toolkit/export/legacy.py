"""Legacy TF1 sources: frozen graphs (a ``GraphDef`` ``.pb``) and checkpoints (``.meta`` + variables).

Both are turned into a SavedModel with a ``serving_default`` predict signature whose aliases you choose
(``inputs={"x": "x:0"}``, ``outputs={"y": "y:0"}``), so TF Serving can load them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit._extras import require
from toolkit.export.errors import ExportError


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen ``GraphDef`` file and the signature to serve: alias -> tensor name (``"x:0"``)."""

    path: Path
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]


@dataclass(frozen=True)
class Checkpoint:
    """A TF1 checkpoint: the ``.meta`` graph, the checkpoint prefix (default: the meta path without
    ``.meta``) and the signature to serve: alias -> tensor name."""

    meta_graph: Path
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    checkpoint_prefix: Path | None = None


def _tensor(graph: Any, name: str, where: str) -> Any:
    if ":" not in name:
        name = f"{name}:0"
    try:
        return graph.get_tensor_by_name(name)
    except (KeyError, ValueError) as exc:
        raise ExportError(f"{where}: tensor {name!r} not found in the graph ({exc})") from None


def _save(sess: Any, graph: Any, staging: Path, source: FrozenGraph | Checkpoint) -> None:
    tf = require("tensorflow", purpose="exporting TF1 graphs")
    if not source.inputs or not source.outputs:
        raise ExportError("a TF1 graph needs inputs={alias: tensor name} and outputs={alias: tensor name}")
    v1 = tf.compat.v1
    signature = v1.saved_model.signature_def_utils.predict_signature_def(
        inputs={a: _tensor(graph, t, f"inputs[{a!r}]") for a, t in source.inputs.items()},
        outputs={a: _tensor(graph, t, f"outputs[{a!r}]") for a, t in source.outputs.items()},
    )
    builder = v1.saved_model.Builder(str(staging))
    builder.add_meta_graph_and_variables(
        sess, [v1.saved_model.tag_constants.SERVING],
        signature_def_map={"serving_default": signature}, strip_default_attrs=True,
    )
    builder.save()


def write_frozen_graph(source: FrozenGraph, staging: Path) -> None:
    """Import the GraphDef into a fresh graph and save it as a SavedModel."""
    tf = require("tensorflow", purpose="exporting TF1 graphs")
    path = Path(source.path)
    if not path.is_file():
        raise ExportError(f"{path}: no such frozen graph file")
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except Exception as exc:
        raise ExportError(f"{path}: not a binary GraphDef: {exc}") from None
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            _save(sess, graph, staging, source)


def restore_checkpoint(source: Checkpoint, sess: Any) -> None:
    """Import the checkpoint's meta graph into the session's (default) graph and restore its variables."""
    tf = require("tensorflow", purpose="reading TF1 checkpoints")
    meta = Path(source.meta_graph)
    if not meta.is_file():
        raise ExportError(f"{meta}: no such meta graph file")
    prefix = Path(source.checkpoint_prefix) if source.checkpoint_prefix else meta.with_suffix("")
    try:
        saver = tf.compat.v1.train.import_meta_graph(str(meta), clear_devices=True)
        saver.restore(sess, str(prefix))
    except Exception as exc:
        raise ExportError(f"{meta}: cannot restore checkpoint {prefix}: {exc}") from None


def write_checkpoint(source: Checkpoint, staging: Path) -> None:
    """Restore a TF1 checkpoint into its meta graph and save it as a SavedModel."""
    tf = require("tensorflow", purpose="exporting TF1 checkpoints")
    with tf.Graph().as_default() as graph:
        with tf.compat.v1.Session(graph=graph) as sess:
            restore_checkpoint(source, sess)
            _save(sess, graph, staging, source)
