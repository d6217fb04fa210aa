"""The model status of ``tfs status`` and ``tfs up`` in two forms: a rich table for people, a JSON document for
machines (``--json``). Both show the same rows: one per model version, its state, labels and load error."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.launch.launcher import ModelStatus
    from toolkit.launch.state import Endpoints

STATE_STYLES = {"AVAILABLE": "green", "LOADING": "yellow", "START": "yellow", "END": "red", "UNLOADING": "yellow"}


def labels_by_version(row: ModelStatus) -> dict[int, list[str]]:
    """The labels the server resolved, per version, sorted (labels it could not resolve are left out)."""
    by_version: dict[int, list[str]] = {}
    for label, version in sorted(row.labels.items()):
        if isinstance(version, int):
            by_version.setdefault(version, []).append(label)
    return by_version


def status_table(rows: Sequence[ModelStatus], title: str = "Models") -> Any:
    """A rich table: model, version, state (coloured), labels, error; an unreachable model is one red row."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("model", "version", "state", "labels", "error"):
        table.add_column(column)
    for row in rows:
        if row.error:
            table.add_row(row.name, "-", "[red]unreachable[/red]", "", row.error)
            continue
        for label, version in row.labels.items():
            if not isinstance(version, int):
                table.add_row(row.name, "-", "", label, str(version))
        by_version = labels_by_version(row)
        for vs in row.versions:
            style = STATE_STYLES.get(vs.state, "")
            error = "" if vs.error_code == "OK" else f"{vs.error_code}: {vs.error_message}"
            table.add_row(row.name, str(vs.version), f"[{style}]{vs.state}[/{style}]" if style else vs.state,
                          ", ".join(by_version.get(vs.version, [])), error)
    return table


def status_json(endpoints: Endpoints | None, rows: Sequence[ModelStatus]) -> dict[str, Any]:
    """The ``--json`` document: ``endpoints`` (as recorded by ``tfs up``, or null) and ``models``, each with
    ``name``, ``error`` (null, or why the server could not be asked), ``labels`` (label -> version, or the server's
    ``"error: ..."``) and ``versions`` (version, state, error_code, error_message, labels)."""
    models = []
    for row in rows:
        by_version = labels_by_version(row)
        versions = [{"version": vs.version, "state": vs.state, "error_code": vs.error_code,
                     "error_message": vs.error_message, "labels": by_version.get(vs.version, [])}
                    for vs in row.versions]
        models.append({"name": row.name, "error": row.error, "labels": dict(row.labels), "versions": versions})
    return {"endpoints": dataclasses.asdict(endpoints) if endpoints is not None else None, "models": models}
