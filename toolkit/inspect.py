"""``tfs inspect``: the signatures of a SavedModel or version folder, readable (like ``saved_model_cli show
--all``) or as JSON. Also lists the versions when given a model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.custom_ops import ADVICE, find_custom_ops
from toolkit.repository import list_versions, version_dir
from toolkit.savedmodel import SAVED_MODEL_PB, SavedModelError, Signature, read_signatures


def inspect_saved_model(path: str | Path, tags: str = "serve") -> dict[str, Any]:
    """Describe ``path``: a SavedModel/version folder, or a model folder (then its latest version)."""
    path = Path(path)
    if not path.exists():
        raise SavedModelError(f"{path}: no such file or folder")
    versions = list_versions(path)
    target = path
    if not (path / SAVED_MODEL_PB).is_file() and versions:
        target = version_dir(path)  # the highest version, whatever its spelling ("7", "007")
    signatures = read_signatures(target, tags)
    assets_extra = target / "assets.extra"
    return {
        "path": str(target),
        "versions": versions,
        "tags": tags,
        "signatures": {name: sig.to_json() for name, sig in signatures.items()},
        "warmup_file": (assets_extra / "tf_serving_warmup_requests").is_file(),
        "test_data": (assets_extra / "tfs_test_data" / "meta.json").is_file(),
        "custom_ops": [c.to_json() for c in find_custom_ops(target)],
    }


def _shape_text(shape: list[int | None] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "(" + ", ".join("-1" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def format_report(report: dict[str, Any]) -> str:
    """Plain-text rendering in the spirit of ``saved_model_cli show --all``."""
    lines = [f"SavedModel: {report['path']}  (tags: {report['tags']})"]
    if report["versions"]:
        lines.append(f"versions on disk: {', '.join(map(str, report['versions']))}")
    lines.append(f"warmup file: {'yes' if report['warmup_file'] else 'no'}   "
                 f"persisted test data: {'yes' if report['test_data'] else 'no'}")
    custom = report["custom_ops"]
    if custom:
        lines.append(f"ops stock TensorFlow Serving lacks ({ADVICE}):")
        lines.extend(f"  {c['op']:<24} {c['reason']}; in {', '.join(c['where'])}" for c in custom)
    else:
        lines.append("ops stock TensorFlow Serving lacks: none")
    for name, sig in report["signatures"].items():
        lines.append("")
        lines.append(f"signature {name!r}  method: {sig['method_name'] or '(none)'}")
        for kind in ("inputs", "outputs"):
            lines.append(f"  {kind}:")
            for alias, info in sig[kind].items():
                lines.append(f"    {alias:<24} {info['dtype']:<10} {_shape_text(info['shape']):<22} {info['tensor_name']}")
    return "\n".join(lines)


__all__ = ["Signature", "format_report", "inspect_saved_model"]
