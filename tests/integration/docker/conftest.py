"""A private Docker engine for the session (started and stopped here), the stand-in serving image built on it, and
the shared half_plus_two model. Skipped, with the reason, only where docker.io cannot be installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.docker.dockerd import Dockerd, DockerdUnavailable, start_dockerd
from tests.integration.launch.conftest import half_plus_two_src  # noqa: F401 - shared session fixture


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    try:
        engine = start_dockerd()
    except DockerdUnavailable as exc:
        pytest.skip(f"no Docker engine for the real-engine tests: {exc}")
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def docker_client(dockerd: Dockerd):  # type: ignore[no-untyped-def]
    import docker

    client = docker.DockerClient(base_url=dockerd.host, timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="session")
def standin_image(docker_client, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    from tests.integration.docker.standin import ensure_standin_image

    return ensure_standin_image(docker_client, tmp_path_factory.mktemp("standin"))
