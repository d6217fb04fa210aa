"""What is inside a checkpoint: its variables (name, dtype, shape, elements, bytes) and one variable's values.

Read with TensorFlow's own checkpoint reader (``tf.train.load_checkpoint``), never parsed by hand. A path may be a
checkpoint prefix (``model.ckpt-100``, also given as its ``.index`` / ``.meta`` / ``.data-*`` file), a folder
holding checkpoints (its latest, from the ``checkpoint`` state file), a SavedModel or version folder, or a
SavedModel's ``variables/`` folder.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit._extras import require
from toolkit.errors import ToolkitError

# TF2 object-based checkpoints keep their object graph as a string "variable" under this key; it is metadata.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
SUMMARY_THRESHOLD = 20  # tensors with more elements are summarised
FIRST_ELEMENTS = 10


class CheckpointError(ToolkitError, ValueError):
    """The path is not a readable checkpoint, or a variable does not exist; the message says which."""


@dataclass(frozen=True)
class Variable:
    """One saved tensor: its key in the checkpoint, numpy-style dtype name, shape, element count and bytes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    elements: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "elements": self.elements,
                "bytes": self.bytes}


def _tf():
    return require("tensorflow", purpose="reading checkpoints")


def _is_prefix(prefix: Path) -> bool:
    return Path(f"{prefix}.index").is_file()


def resolve_prefix(path: str | Path) -> Path:
    """The checkpoint prefix behind ``path`` (see the module docstring), or a ``CheckpointError`` saying why not."""
    tf = _tf()
    path = Path(path)
    text = str(path)
    for suffix in (".index", ".meta"):
        if text.endswith(suffix) and _is_prefix(Path(text[: -len(suffix)])):
            return Path(text[: -len(suffix)])
    match = re.match(r"^(.*)\.data-\d{5}-of-\d{5}$", text)
    if match and _is_prefix(Path(match.group(1))):
        return Path(match.group(1))
    if _is_prefix(path):
        return path
    if path.is_dir():
        for candidate in (path / "variables" / "variables", path / "variables"):  # a SavedModel, its variables/
            if _is_prefix(candidate):
                return candidate
        latest = tf.train.latest_checkpoint(str(path))
        if latest and _is_prefix(Path(latest)):
            return Path(latest)
        raise CheckpointError(f"{path}: no checkpoint in this folder (expected a 'checkpoint' state file, "
                              "*.index files or a SavedModel's variables/)")
    if not path.exists() and not list(path.parent.glob(path.name + ".*")):
        raise CheckpointError(f"{path}: no such checkpoint (expected a prefix with a {path.name}.index file, "
                              "a checkpoint folder or a SavedModel)")
    raise CheckpointError(f"{path}: not a checkpoint (expected a prefix with a {path.name}.index file)")


def _reader(prefix: Path) -> Any:
    tf = _tf()
    try:
        return tf.train.load_checkpoint(str(prefix))
    except Exception as exc:  # DataLossError, NotFoundError: a damaged or partial checkpoint
        message = getattr(exc, "message", None) or str(exc)
        raise CheckpointError(f"{prefix}: cannot be read as a checkpoint: {message.splitlines()[0]}") from None


def _string_bytes(reader: Any, name: str) -> int:
    value = np.asarray(reader.get_tensor(name), dtype=object).reshape(-1)
    return int(sum(len(v) for v in value))


def list_variables(path: str | Path, match: str | None = None) -> tuple[Path, list[Variable]]:
    """(prefix, variables sorted by name); ``match`` keeps names where the regular expression is found."""
    tf = _tf()
    try:
        pattern = re.compile(match) if match is not None else None
    except re.error as exc:
        raise CheckpointError(f"--match: expected a regular expression, got {match!r} ({exc})") from None
    prefix = resolve_prefix(path)
    reader = _reader(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    variables = []
    for name in sorted(shapes):
        if name == OBJECT_GRAPH_KEY or (pattern is not None and not pattern.search(name)):
            continue
        dtype = tf.as_dtype(dtypes[name])
        shape = tuple(int(d) for d in shapes[name])
        elements = int(np.prod(shape, dtype=np.int64)) if shape else 1
        size = _string_bytes(reader, name) if dtype == tf.string else elements * dtype.size
        dtype_name = "string" if dtype == tf.string else dtype.name
        variables.append(Variable(name, dtype_name, shape, elements, size))
    return prefix, variables


def checkpoint_report(path: str | Path, match: str | None = None) -> dict[str, Any]:
    """Everything ``tfs inspect checkpoint`` prints: the prefix, its format, each variable and the totals."""
    prefix, variables = list_variables(path, match)
    reader = _reader(prefix)
    object_based = reader.has_tensor(OBJECT_GRAPH_KEY)
    return {
        "prefix": str(prefix),
        "format": "TF2 object-based (tf.train.Checkpoint)" if object_based else "TF1 name-based (tf.train.Saver)",
        "match": match,
        "variables": [v.to_json() for v in variables],
        "totals": {"variables": len(variables), "parameters": sum(v.elements for v in variables),
                   "bytes": sum(v.bytes for v in variables)},
    }


def variable_values(path: str | Path, name: str) -> dict[str, Any]:
    """One variable's values: all of them for small tensors, else a summary (shape, min, max, mean, first ones)."""
    prefix = resolve_prefix(path)
    reader = _reader(prefix)
    names = sorted(n for n in reader.get_variable_to_shape_map() if n != OBJECT_GRAPH_KEY)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        listed = names if len(names) <= 10 else [*names[:10], f"... {len(names) - 10} more"]
        raise CheckpointError(f"--values: no variable {name!r} in {prefix}{hint} (it has {listed})")
    value = np.asarray(reader.get_tensor(name))
    result: dict[str, Any] = {"name": name, "dtype": _dtype_text(value), "shape": list(value.shape),
                              "elements": int(value.size)}
    flat = value.reshape(-1)
    if value.size <= SUMMARY_THRESHOLD:
        result["values"] = _json_values(value)
        return result
    result["summarised"] = True
    if value.dtype.kind in "biuf":
        numeric = flat.astype(np.float64)
        result.update(min=float(np.min(numeric)), max=float(np.max(numeric)), mean=float(np.mean(numeric)))
    result["first"] = _json_values(flat[:FIRST_ELEMENTS])
    return result


def _dtype_text(value: np.ndarray) -> str:
    return "string" if value.dtype.kind in ("S", "O", "U") else value.dtype.name


def _json_values(value: np.ndarray) -> Any:
    if value.dtype.kind in ("S", "O"):
        return np.vectorize(lambda v: v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v),
                            otypes=[object])(value).tolist() if value.size else []
    return value.tolist()


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def format_checkpoint_report(report: dict[str, Any]) -> str:
    """A table of the variables, then the totals."""
    variables = report["variables"]
    width = max([len("name"), *(len(v["name"]) for v in variables)])
    lines = [f"checkpoint: {report['prefix']}  ({report['format']})"]
    if report["match"] is not None:
        lines.append(f"variables matching {report['match']!r}")
    lines.append(f"{'name':<{width}}  {'dtype':<8} {'shape':<18} {'elements':>12} {'bytes':>12}")
    for v in variables:
        shape = "(" + ", ".join(map(str, v["shape"])) + ("," if len(v["shape"]) == 1 else "") + ")"
        lines.append(f"{v['name']:<{width}}  {v['dtype']:<8} {shape:<18} {v['elements']:>12,} {v['bytes']:>12,}")
    totals = report["totals"]
    lines.append(f"total: {totals['variables']} variables, {totals['parameters']:,} parameters, "
                 f"{totals['bytes']:,} bytes ({_human_bytes(totals['bytes'])})")
    return "\n".join(lines)


def format_values(values: dict[str, Any]) -> str:
    """One variable's values, or their summary."""
    head = f"{values['name']}  {values['dtype']}  shape {tuple(values['shape'])}  ({values['elements']:,} elements)"
    if not values.get("summarised"):
        return f"{head}\n{values['values']}"
    lines = [head]
    if "min" in values:
        lines.append(f"min {values['min']:.6g}  max {values['max']:.6g}  mean {values['mean']:.6g}")
    lines.append(f"first {len(values['first'])}: {values['first']}")
    return "\n".join(lines)
