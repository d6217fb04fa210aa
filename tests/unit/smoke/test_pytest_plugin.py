"""The pytest plugin without a server: it is registered through the pytest11 entry point, skips with a clear
reason when no target is configured, and serves persisted test data from the deploy folder."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.export.testdata import TestData, save_test_data

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> None:
    """No targets leak in from the outer environment; the inner runs get a quiet ini of their own."""
    for name in ("TFS_GRPC_TARGET", "TFS_REST_URL", "TFS_DEPLOY_DIR"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_registered_as_an_entry_point():
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "tfs"]
    assert entry.value == "toolkit.pytest_plugin"


def test_options_are_listed_in_help(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--tfs-grpc=HOST:PORT*", "*--tfs-rest=URL*", "*--tfs-deploy-dir=DIR*"])


def test_client_fixtures_skip_with_the_reason_when_no_target_is_configured(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_grpc(tfs_grpc_client):
            raise AssertionError("must not run")

        def test_rest(tfs_rest_client):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "*no TF Serving gRPC target configured: pass --tfs-grpc HOST:PORT or set TFS_GRPC_TARGET*",
        "*no TF Serving REST URL configured: pass --tfs-rest URL or set TFS_REST_URL*",
    ])


def test_targets_from_options_or_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makepyfile(
        """
        def test_targets(tfs_grpc_target, tfs_rest_url):
            assert tfs_grpc_target == "h:1"
            assert tfs_rest_url == "http://h:2"
        """
    )
    pytester.runpytest("--tfs-grpc", "h:1", "--tfs-rest", "http://h:2").assert_outcomes(passed=1)
    monkeypatch.setenv("TFS_GRPC_TARGET", "h:1")
    monkeypatch.setenv("TFS_REST_URL", "http://h:2")
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--tfs-grpc", "other:3").assert_outcomes(failed=1)  # the option wins over the env


def test_tfs_test_data_loads_what_the_export_persisted(pytester: pytest.Pytester):
    deploy = pytester.path / "deploy"
    for version, b in ((1, 2.0), (3, 5.0)):
        folder = deploy / "models" / "half" / str(version)
        folder.mkdir(parents=True)
        x = np.array([1.0, 2.0], np.float32)
        save_test_data(folder, TestData({"x": x}, {"y": 0.5 * x + b}))
    pytester.makepyfile(
        """
        import pytest

        def test_latest(tfs_test_data):
            assert tfs_test_data("half").expected["y"].tolist() == [5.5, 6.0]
            assert tfs_test_data("half", 1).expected["y"].tolist() == [2.5, 3.0]

        def test_missing(tfs_test_data):
            with pytest.raises(LookupError, match="model 'half' version 2: no persisted test data"):
                tfs_test_data("half", 2)
        """
    )
    pytester.runpytest("--tfs-deploy-dir", str(deploy)).assert_outcomes(passed=2)
