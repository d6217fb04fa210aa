"""pytest plugin (entry point ``tfs``): release tests against your own TF Serving deployment in a few lines.

    # test_release.py  -- run: pytest --tfs-grpc 127.0.0.1:8500 --tfs-rest http://127.0.0.1:8501 --tfs-deploy-dir deploy
    def test_planet(tfs_grpc_client, tfs_test_data):
        data = tfs_test_data("planet")                      # persisted at export time
        got = tfs_grpc_client.predict(data.inputs, "planet")
        assert got["weather"].argmax(1).tolist() == data.expected["weather"].argmax(1).tolist()

Options fall back to the environment: ``TFS_GRPC_TARGET``, ``TFS_REST_URL``, ``TFS_DEPLOY_DIR``. A fixture whose
target is not configured skips the test and says which option is missing. Importing this module is cheap: the
clients are imported only when a fixture is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ENV_GRPC = "TFS_GRPC_TARGET"
ENV_REST = "TFS_REST_URL"
ENV_DEPLOY = "TFS_DEPLOY_DIR"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tfs", "TensorFlow Serving release tests (tfs-toolkit)")
    group.addoption("--tfs-grpc", dest="tfs_grpc", metavar="HOST:PORT", default=None,
                    help=f"gRPC target of the server under test (env {ENV_GRPC}).")
    group.addoption("--tfs-rest", dest="tfs_rest", metavar="URL", default=None,
                    help=f"REST base URL of the server under test, e.g. http://127.0.0.1:8501 (env {ENV_REST}).")
    group.addoption("--tfs-deploy-dir", dest="tfs_deploy_dir", metavar="DIR", default=None,
                    help=f"Deployment folder holding models/<name>/<version>/ with persisted test data "
                         f"(env {ENV_DEPLOY}).")


def _setting(config: pytest.Config, option: str, env: str) -> str | None:
    value = config.getoption(option, default=None) or os.environ.get(env) or None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _require(config: pytest.Config, option: str, env: str, flag: str, what: str) -> str:
    value = _setting(config, option, env)
    if value is None:
        pytest.skip(f"no {what} configured: pass {flag} or set {env}")
    return value


@pytest.fixture(scope="session")
def tfs_grpc_target(pytestconfig: pytest.Config) -> str:
    """The gRPC ``host:port`` under test (``--tfs-grpc`` / ``TFS_GRPC_TARGET``)."""
    return _require(pytestconfig, "tfs_grpc", ENV_GRPC, "--tfs-grpc HOST:PORT", "TF Serving gRPC target")


@pytest.fixture(scope="session")
def tfs_rest_url(pytestconfig: pytest.Config) -> str:
    """The REST base URL under test (``--tfs-rest`` / ``TFS_REST_URL``)."""
    return _require(pytestconfig, "tfs_rest", ENV_REST, "--tfs-rest URL", "TF Serving REST URL")


@pytest.fixture(scope="session")
def tfs_grpc_client(tfs_grpc_target: str) -> Iterator[Any]:
    """A ``clients.GrpcClient`` for the whole session, closed at its end."""
    from clients import GrpcClient

    client = GrpcClient(tfs_grpc_target)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def tfs_rest_client(tfs_rest_url: str) -> Iterator[Any]:
    """A ``clients.RestClient`` for the whole session, closed at its end."""
    from clients import RestClient

    client = RestClient(tfs_rest_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def tfs_deploy_dir(pytestconfig: pytest.Config) -> Path:
    """The deployment folder (``--tfs-deploy-dir`` / ``TFS_DEPLOY_DIR``); it must exist."""
    value = _require(pytestconfig, "tfs_deploy_dir", ENV_DEPLOY, "--tfs-deploy-dir DIR", "deployment folder")
    path = Path(value)
    if not path.is_dir():
        raise pytest.UsageError(f"--tfs-deploy-dir / {ENV_DEPLOY}: expected an existing folder, got {value!r}")
    return path


@pytest.fixture(scope="session")
def tfs_test_data(tfs_deploy_dir: Path) -> Callable[..., Any]:
    """``tfs_test_data(model, version=None)`` -> the ``TestData`` (inputs, expected, signature_name, rtol, atol)
    persisted when that version was exported; ``version=None`` takes the highest version on disk."""
    from toolkit.export.testdata import load_test_data
    from toolkit.repository import list_versions

    def load(model: str, version: int | None = None) -> Any:
        model_dir = tfs_deploy_dir / "models" / model
        if version is None:
            versions = list_versions(model_dir)
            if not versions:
                raise LookupError(f"model {model!r}: expected version folders under {model_dir}, found none")
            version = versions[-1]
        data = load_test_data(model_dir / str(version))
        if data is None:
            raise LookupError(f"model {model!r} version {version}: no persisted test data under "
                              f"{model_dir / str(version)} (export it with sample inputs to keep some)")
        return data

    return load
