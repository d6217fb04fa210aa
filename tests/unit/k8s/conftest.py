"""Specs and a deploy folder for the ``tfs k8s`` tests (models are empty version folders: rendering reads names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit.deployment import DeploymentSpec, parse_spec


def make_spec(kubernetes: dict[str, Any] | None = None, **tables: Any) -> DeploymentSpec:
    raw: dict[str, Any] = {
        "server": {"gpu": True, "gpu_count": 2},
        "models": [{"name": "planet", "base_path": "/models/planet"}],
    }
    raw.update(tables)
    if kubernetes is not None:
        raw["kubernetes"] = kubernetes
    return parse_spec(raw)


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for version in (1, 2, 3):
        (root / "planet" / str(version)).mkdir(parents=True)
        (root / "planet" / str(version) / "saved_model.pb").write_bytes(b"x")
    (root / "planet" / ".staging-4").mkdir()  # a publish in progress: never baked
    return root
