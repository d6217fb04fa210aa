"""clients.readiness: the one readiness rule. END with an error is a failed load, END with OK an unloaded version."""

from __future__ import annotations

import pytest

from clients.readiness import ModelLoadError, check_ready, is_available, load_failures
from clients.types import ModelVersionStatus as S

FAILED = S(3, "END", "NOT_FOUND", "no SavedModel")
UNLOADED = S(1, "END")


def test_any_version_ready_and_failed() -> None:
    assert is_available([S(2, "AVAILABLE"), FAILED]) is True
    assert is_available([S(2, "LOADING")]) is False
    assert load_failures([FAILED, UNLOADED]) == []  # one version was merely unloaded: not every version failed
    assert load_failures([FAILED]) == [FAILED]
    with pytest.raises(ModelLoadError, match="no version is available; version 3 failed to load: no SavedModel"):
        check_ready("m", [FAILED])


def test_wanted_versions() -> None:
    assert check_ready("m", [S(2, "AVAILABLE"), UNLOADED], [2]) is True
    assert check_ready("m", [S(2, "AVAILABLE"), UNLOADED], [1, 2]) is False  # unloaded is not ready, not failed
    assert check_ready("m", [S(2, "AVAILABLE")], []) is True
    with pytest.raises(ModelLoadError, match="model 'm' version 3 failed to load: no SavedModel") as caught:
        check_ready("m", [S(2, "AVAILABLE"), FAILED], [2, 3])
    assert caught.value.code == "NOT_FOUND"


def test_the_launchers_error_is_the_clients_error() -> None:
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.errors import ModelLoadError as LaunchModelLoadError
    from toolkit.launch.readiness import check_ready as launch_check_ready

    with pytest.raises(ModelLoadError) as caught:
        launch_check_ready({"m": [FAILED]}, {"m": [3]})
    assert isinstance(caught.value, LaunchModelLoadError) and isinstance(caught.value, LaunchError)
    assert str(caught.value) == "model 'm' version 3 failed to load (NOT_FOUND: no SavedModel)"
    assert caught.value.code == "NOT_FOUND"
