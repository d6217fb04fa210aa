"""Ops a SavedModel uses that stock TensorFlow Serving does not have.

Every op of every MetaGraph's graph and of every function in its function library is compared with the stock op
registry: the ops the installed TensorFlow registers on its own (``TF_GetAllOpList`` in a fresh interpreter, so
op libraries loaded into this process with ``tf.load_op_library`` do not count), plus TF Text's and TF Decision
Forests' ops when those packages are installed (the official ``tensorflow/serving`` binary links both). The
official binary is built from the same TensorFlow sources, so the registries match closely, but not exactly:
treat the result as what needs a look, not as proof. Ops whose kernels call back into Python (``py_function``)
are reported too: they are registered in TensorFlow but cannot run in the C++ server.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.atomic_file import atomic_file
from toolkit.savedmodel import read_graph_defs

PYTHON_ONLY_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
SERVING_BUNDLED_PACKAGES = ("tensorflow_text", "tensorflow_decision_forests")  # linked into tensorflow_model_server
ADVICE = ("the official tensorflow/serving image cannot load it: it needs a TF Serving build linked with the op's "
          "kernels (a custom build) or the matching op library")

_LIST_STOCK_OPS = f"""
import importlib, json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c
bundled = []
for name in {SERVING_BUNDLED_PACKAGES!r}:
    try:
        importlib.import_module(name)
        bundled.append(name)
    except Exception:
        pass
ops = op_def_pb2.OpList()
ops.ParseFromString(bytes(c.TF_GetBuffer(c.TF_GetAllOpList())))
json.dump({{"ops": sorted(op.name for op in ops.op), "bundled": bundled}}, sys.stdout)
"""


@dataclass(frozen=True)
class CustomOp:
    """An op the stock server lacks, where it is used, and why it is flagged."""

    op: str
    where: tuple[str, ...]  # "graph" and/or "function <name>"
    reason: str  # "not in the stock op registry" or "runs Python"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "where": list(self.where), "reason": self.reason}


def _cache_file() -> Path:
    root = os.environ.get("TFS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tfs-toolkit")
    tf_version = importlib.metadata.version("tensorflow")
    extras = "-".join(f"{p}{_version_or_none(p)}" for p in SERVING_BUNDLED_PACKAGES)
    return Path(root) / f"stock-ops-tf{tf_version}-{extras}.json"


def _version_or_none(module: str) -> str:
    try:
        return importlib.metadata.version(module.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "none"


@functools.lru_cache(maxsize=1)
def stock_registry() -> tuple[frozenset[str], tuple[str, ...]]:
    """(op names stock TF Serving knows, bundled op packages found); cached per TensorFlow version on disk."""
    cache = _cache_file()
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        return frozenset(data["ops"]), tuple(data["bundled"])
    except (OSError, ValueError, KeyError):
        pass
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", _LIST_STOCK_OPS], capture_output=True, text=True, timeout=300,
                          env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"listing TensorFlow's op registry failed: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(cache, permissions=0o600) as handle:
            json.dump(data, handle)
    except OSError:
        pass  # an unwritable cache only costs time
    return frozenset(data["ops"]), tuple(data["bundled"])


def _ops_by_location(graphs: list[Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for graph in graphs:
        for node in graph.node:
            used.setdefault(node.op, set()).add("graph")
        for function in graph.library.function:
            for node in function.node_def:
                used.setdefault(node.op, set()).add(f"function {function.signature.name}")
    return used


def ops_by_location(path: str | Path) -> dict[str, set[str]]:
    """{op name: {"graph", "function <name>", ...}} over every MetaGraph and function library of a SavedModel."""
    return _ops_by_location(read_graph_defs(path))


def find_custom_ops(path: str | Path) -> list[CustomOp]:
    """Ops of the SavedModel at ``path`` that stock TF Serving lacks or cannot run, sorted by name."""
    graphs = read_graph_defs(path)
    used = _ops_by_location(graphs)
    functions = {f.signature.name for graph in graphs for f in graph.library.function}
    stock, _bundled = stock_registry()
    found = []
    for op, where in sorted(used.items()):
        if op in functions:  # a call of a function of the library, not an op
            continue
        if op in PYTHON_ONLY_OPS:
            found.append(CustomOp(op, tuple(sorted(where)), "runs Python (tf.py_function / tf.numpy_function)"))
        elif op not in stock:
            found.append(CustomOp(op, tuple(sorted(where)), "not in the stock op registry"))
    return found


def describe(found: list[CustomOp], limit: int = 3) -> str:
    """One line: the ops, where they are used (first few places), and what to do."""
    parts = []
    for item in found:
        places = ", ".join(item.where[:limit]) + (f", +{len(item.where) - limit} more" if len(item.where) > limit else "")
        parts.append(f"{item.op} ({item.reason}; in {places})")
    return f"ops stock TensorFlow Serving lacks: {'; '.join(parts)}: {ADVICE}"
