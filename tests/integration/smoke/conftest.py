"""One live deployment for the smoke integration tests (package scope).

By default: build the deployment in a temp folder (``deployment.build_deployment``) and start ``tfs serve`` on free
127.0.0.1 ports with its localized models.config. To run the same tests against an existing server instead (e.g.
real TF Serving from ``docker compose up`` serving a deployment built by ``python -m
tests.integration.smoke.deployment DIR``), set all three of:

    TFS_GRPC_TARGET=127.0.0.1:8500  TFS_REST_URL=http://127.0.0.1:8501  TFS_DEPLOY_DIR=DIR
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.smoke import deployment
from tests.support.live_server import REPO_ROOT, LiveServer, server_env, start_tfs_serve

ENV_VARS = ("TFS_GRPC_TARGET", "TFS_REST_URL", "TFS_DEPLOY_DIR")


@dataclass
class SmokeDeployment:
    """Where the server answers, the deploy folder it serves, and (embedded mode) the server process."""

    deploy_dir: Path
    grpc_target: str
    rest_url: str
    server: LiveServer | None = None

    @property
    def repository(self) -> Path:
        return self.deploy_dir / "models"

    @property
    def models_config(self) -> Path:
        return self.deploy_dir / "models.config"

    def smoke(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Run the real ``tfs smoke`` command line in a subprocess."""
        return subprocess.run([sys.executable, "-m", "toolkit.cli", "smoke", *args], capture_output=True, text=True,
                               env=server_env(), cwd=str(REPO_ROOT), timeout=timeout)

    def smoke_here(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``tfs smoke`` with this deployment's targets, config and repository (extra ``args`` override)."""
        return self.smoke("--grpc", self.grpc_target, "--rest", self.rest_url, "--config", str(self.models_config),
                          "--repository", str(self.repository), *args)


def _external() -> SmokeDeployment | None:
    values = {name: os.environ.get(name, "").strip() for name in ENV_VARS}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise pytest.UsageError(f"smoke tests against an existing server need {', '.join(ENV_VARS)}; "
                                f"missing {', '.join(missing)}")
    deploy = Path(values["TFS_DEPLOY_DIR"])
    if not (deploy / "models.config").is_file():
        raise pytest.UsageError(f"TFS_DEPLOY_DIR={deploy}: expected models.config there (build it with "
                                "`python -m tests.integration.smoke.deployment DIR`)")
    return SmokeDeployment(deploy, values["TFS_GRPC_TARGET"], values["TFS_REST_URL"])


@pytest.fixture(scope="package")
def smoke_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmokeDeployment]:
    external = _external()
    if external is not None:
        yield external
        return
    root = tmp_path_factory.mktemp("smoke")
    deploy = deployment.build_deployment(root / "deploy", work=root / "build")
    server = start_tfs_serve(deployment.embedded_server_flags(deploy),
                             ready_models={"planet": [1], "half": [1, 2], "plain": [1], "grow": [1]}, timeout=120)
    try:
        yield SmokeDeployment(deploy, server.grpc_target, server.rest_url, server)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def grpc_client(smoke_deployment: SmokeDeployment) -> Iterator[object]:
    from clients import GrpcClient

    with GrpcClient(smoke_deployment.grpc_target, timeout=60) as client:
        yield client


@pytest.fixture(scope="package")
def rest_client(smoke_deployment: SmokeDeployment) -> Iterator[object]:
    from clients import RestClient

    with RestClient(smoke_deployment.rest_url, timeout=60) as client:
        yield client


@pytest.fixture(params=["grpc", "rest"])
def client(request: pytest.FixtureRequest) -> object:
    """Each test that takes ``client`` runs once per protocol."""
    return request.getfixturevalue(f"{request.param}_client")
