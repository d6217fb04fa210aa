"""The suite's longest-files-first list (tests/conftest.py) names files that exist, and collection puts them first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LONGEST_FILES, _rank

TESTS = Path(__file__).parents[1]


def test_every_listed_file_exists() -> None:
    missing = [name for name in LONGEST_FILES if not (TESTS / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FILES names files that are gone: {missing}"


def test_listed_files_rank_in_their_order_before_the_rest(request: pytest.FixtureRequest) -> None:
    ranks = [_rank(item) for item in request.session.items]
    assert ranks == sorted(ranks), "collection is not ordered longest files first"
    assert _rank(request.node) == len(LONGEST_FILES)  # this file is not listed: it ranks after them
