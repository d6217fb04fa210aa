"""Read the signatures of a SavedModel straight from ``saved_model.pb``, without building a TF graph.

Used by ``tfs inspect``, the exporter's spec check, ``tfs smoke`` and ``tfs bench``. It parses with the project's
own subset of the SavedModel messages (``toolkit.protos.saved_model_pb2``), so it needs no TensorFlow (the light
``gate`` install reads SavedModels too); the graph itself is skipped, so parsing is fast even for large models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.dtypes import enum_name
from clients.types import TensorSpec
from toolkit.errors import ToolkitError

SAVED_MODEL_PB = "saved_model.pb"
INIT_OP_SIGNATURE = "__saved_model_init_op"


class SavedModelError(ToolkitError, ValueError):
    """The folder is not a readable SavedModel; the message says what is missing."""


@dataclass(frozen=True)
class Signature:
    """A SignatureDef in plain Python: method name, inputs and outputs keyed by alias."""

    name: str
    method_name: str
    inputs: dict[str, TensorSpec] = field(default_factory=dict)
    outputs: dict[str, TensorSpec] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "method_name": self.method_name,
            "inputs": {k: v.to_json() for k, v in sorted(self.inputs.items())},
            "outputs": {k: v.to_json() for k, v in sorted(self.outputs.items())},
        }


def _tensor_spec(alias: str, info: Any) -> TensorSpec:
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(None if d.size < 0 else d.size for d in shape.dim)
    return TensorSpec(alias, enum_name(info.dtype), dims, info.name)


def signature_from_def(name: str, sig: Any) -> Signature:
    """Convert a ``SignatureDef`` proto."""
    return Signature(
        name,
        sig.method_name,
        {k: _tensor_spec(k, v) for k, v in sig.inputs.items()},
        {k: _tensor_spec(k, v) for k, v in sig.outputs.items()},
    )


def read_saved_model(path: str | Path) -> Any:
    """Parse ``<path>/saved_model.pb`` into a ``SavedModel`` proto (tags and signatures; no graph)."""
    from toolkit.protos import saved_model_pb2

    pb = Path(path) / SAVED_MODEL_PB
    if not pb.is_file():
        raise SavedModelError(f"{path}: not a SavedModel (no {SAVED_MODEL_PB}; a TF Serving base path holds "
                              "numbered version folders, each holding a SavedModel)")
    model = saved_model_pb2.SavedModel()
    try:
        model.ParseFromString(pb.read_bytes())
    except Exception as exc:  # DecodeError: truncated or not a SavedModel
        raise SavedModelError(f"{pb}: cannot be parsed as a SavedModel: {exc}") from None
    if not model.meta_graphs:
        raise SavedModelError(f"{pb}: holds no MetaGraph")
    return model


def read_graph_defs(path: str | Path) -> list[Any]:
    """The GraphDef of every MetaGraph (function library included), parsed with TensorFlow's own SavedModel proto:
    the light subset ``read_saved_model`` uses skips graphs. Needs TensorFlow."""
    from tensorflow.core.protobuf import saved_model_pb2

    read_saved_model(path)  # the one place that says clearly why a folder is not a SavedModel
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((Path(path) / SAVED_MODEL_PB).read_bytes())
    return [meta_graph.graph_def for meta_graph in model.meta_graphs]


def read_signatures(path: str | Path, tags: str = "serve", *, include_init_op: bool = False) -> dict[str, Signature]:
    """Signatures of the MetaGraph tagged ``tags`` (comma separated), keyed by signature name."""
    model = read_saved_model(path)
    wanted = {t.strip() for t in tags.split(",") if t.strip()}
    for meta_graph in model.meta_graphs:
        if set(meta_graph.meta_info_def.tags) == wanted:
            return {
                name: signature_from_def(name, sig)
                for name, sig in sorted(meta_graph.signature_def.items())
                if include_init_op or name != INIT_OP_SIGNATURE
            }
    found = [sorted(m.meta_info_def.tags) for m in model.meta_graphs]
    raise SavedModelError(f"{path}: no MetaGraph with tags {sorted(wanted)}; found tag sets {found}")
