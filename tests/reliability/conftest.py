"""Reliability proofs against live ``tfs serve`` processes on 127.0.0.1 (marker ``reliability``; CI runs them as part
of ``make test``; ``pytest -m reliability`` runs only them). Everything here is seeded and bounded in requests and
time.

Repository (``rel_repo``): ``half`` with versions 1 (y = 0.5x + 2) and 2 (y = 0.5x + 3), policy ``all``, label
stable=1; the builders publish more versions of the same model where a test needs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HALF_CONFIG = """\
model_config_list {{
  config {{
    name: "half"
    base_path: "{root}/half"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
}}
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def half_builders() -> dict[int, object]:
    from tests.support import models

    return {1: models.build_half_plus_two_tf2, 2: partial(models.build_half_plus_two_tf2, b=3.0)}


@pytest.fixture(scope="session")
def rel_repo(tmp_path_factory: pytest.TempPathFactory, half_builders: dict[int, object]) -> Path:
    from tests.support import models

    root = tmp_path_factory.mktemp("rel_repo")
    models.build_repo(root, {"half": half_builders})  # type: ignore[dict-item]
    (root / "models.config").write_text(HALF_CONFIG.format(root=root))
    return root


@pytest.fixture(scope="module")
def half_server(rel_repo: Path) -> Iterator[object]:
    """One live server over ``rel_repo`` per module (read-only use)."""
    from tests.support.live_server import start_tfs_serve

    server = start_tfs_serve(
        [f"--model_config_file={rel_repo / 'models.config'}", "--allow_version_labels_for_unavailable_models"],
        ready_models={"half": [1, 2]},
    )
    yield server
    server.stop()
