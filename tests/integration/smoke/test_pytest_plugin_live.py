"""The pytest plugin against the live server: a user's release test of a few lines, run by pytest in a
subprocess with targets passed explicitly, passes; the same test with a wrong assertion fails."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TEST = """
import numpy as np

def test_stable_label_serves_the_released_model(tfs_grpc_client, tfs_rest_client, tfs_test_data):
    data = tfs_test_data("half", {data_version})
    for client in (tfs_grpc_client, tfs_rest_client):
        got = client.predict(data.inputs, "half", label="stable")
        np.testing.assert_allclose(got["y"], data.expected["y"], rtol=data.rtol, atol=data.atol)

def test_planet_weather_is_a_distribution(tfs_rest_client, tfs_test_data):
    got = tfs_rest_client.predict(tfs_test_data("planet").inputs, "planet")
    np.testing.assert_allclose(got["weather"].sum(axis=1), 1.0, rtol=1e-5)
"""


def run_user_tests(pytester: pytest.Pytester, smoke_deployment, data_version: int):  # type: ignore[no-untyped-def]
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_release=USER_TEST.format(data_version=data_version))
    return pytester.runpytest_subprocess(
        "--tfs-grpc", smoke_deployment.grpc_target, "--tfs-rest", smoke_deployment.rest_url,
        "--tfs-deploy-dir", str(smoke_deployment.deploy_dir), "-p", "no:cacheprovider", timeout=120)


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TFS_GRPC_TARGET", "TFS_REST_URL", "TFS_DEPLOY_DIR"):
        monkeypatch.delenv(name, raising=False)  # targets come from the command line only


def test_user_release_tests_pass_against_the_live_server(pytester, smoke_deployment):
    result = run_user_tests(pytester, smoke_deployment, data_version=1)
    result.assert_outcomes(passed=2)


def test_a_wrong_user_assertion_fails(pytester, smoke_deployment):
    """Version 2's expected outputs are not what ``stable`` (version 1) serves."""
    result = run_user_tests(pytester, smoke_deployment, data_version=2)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Mismatched elements: 3 / 3*", "*FAILED test_release.py::test_stable_label*"])
