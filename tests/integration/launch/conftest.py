"""A half_plus_two SavedModel built once per session with TensorFlow (the source every launcher test copies)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def half_plus_two_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.models import build_half_plus_two_tf2

    return build_half_plus_two_tf2(tmp_path_factory.mktemp("half-src") / "model")
