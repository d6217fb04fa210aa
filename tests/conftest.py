"""Suite-wide collection order: the longest test files first.

`make test` runs two pytest-xdist workers that take whole files in collection order as they free up; a long file
collected last would run alone at the end. The list is the suite's longest files as `--durations` measured them
on 2 cores (a minute or more each, up to three). It changes only the order; a stale name costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LONGEST_FILES = (
    "unit/toolkit/test_export.py",
    "integration/server/test_lifecycle.py",
    "reliability/test_export_kill.py",
    "integration/docker/test_real_engine.py",
    "reliability/test_fuzz.py",
    "unit/toolkit/test_package.py",
    "integration/bench/test_gate_install.py",
    "unit/toolkit/test_freeze.py",
    "integration/smoke/test_live_deployment.py",
    "unit/toolkit/test_xla.py",
)
_HERE = Path(__file__).parent


def _rank(item: pytest.Item) -> int:
    try:
        relative = item.path.relative_to(_HERE).as_posix()
    except ValueError:
        return len(LONGEST_FILES)
    return LONGEST_FILES.index(relative) if relative in LONGEST_FILES else len(LONGEST_FILES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: every file keeps its tests' order, the other files theirs
