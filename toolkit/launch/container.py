"""The serving container, described once: image, flags, read-only mounts, ports, GPU request, healthcheck, labels.

``container_spec`` is the single source for both ``compose.yaml`` (rendered by ``toolkit.launch.compose``) and the
Docker SDK launcher (``toolkit.launch.docker_runtime``), so the two cannot drift apart. The flags themselves come
from ``toolkit.serving_config.server_flags``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.deployment import CONTAINER_CONFIG_ROOT, CONTAINER_MODELS_ROOT, DeploymentSpec
from toolkit.launch.healthcheck import Healthcheck
from toolkit.serving_config import server_flags

CONTAINER_GRPC_PORT = 8500
"""The official entrypoint always passes ``--port=8500 --rest_api_port=8501``; we publish these."""
CONTAINER_REST_PORT = 8501

LABEL_MANAGED = "org.tfs-toolkit.managed"
LABEL_DEPLOY_DIR = "org.tfs-toolkit.deploy-dir"
LABEL_GRPC = "org.tfs-toolkit.grpc"
LABEL_REST = "org.tfs-toolkit.rest"


@dataclass(frozen=True)
class Mount:
    """A bind mount; the server only reads, so mounts are read-only unless stated otherwise."""

    source: str
    target: str
    read_only: bool = True

    @classmethod
    def parse(cls, text: str) -> Mount:
        """``SRC:DST[:ro|rw]`` as in ``docker run -v``; a bad value names what was expected."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1] or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ValueError(f"--mount: expected SOURCE:TARGET[:ro|rw], got {text!r}")
        if not parts[1].startswith("/"):
            raise ValueError(f"--mount: expected an absolute container path as TARGET, got {parts[1]!r}")
        return cls(str(Path(parts[0]).resolve()), parts[1], len(parts) == 2 or parts[2] == "ro")


@dataclass(frozen=True)
class PortBinding:
    """Container port published on ``host_ip:host_port``."""

    container_port: int
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create the serving container."""

    name: str
    image: str
    command: tuple[str, ...]
    mounts: tuple[Mount, ...]
    ports: tuple[PortBinding, ...]
    gpu: bool
    gpu_count: int | str
    healthcheck: Healthcheck
    labels: dict[str, str]
    environment: dict[str, str] = field(default_factory=dict)
    network_mode: str | None = None
    grpc_port: int = 8500
    rest_port: int = 8501

    def device_requests(self) -> list[dict[str, object]]:
        """The NVIDIA reservation, as Docker's API ``DeviceRequests`` (compose: ``deploy.resources.reservations``)."""
        if not self.gpu:
            return []
        count = -1 if self.gpu_count == "all" else int(self.gpu_count)
        return [{"Driver": "nvidia", "Count": count, "Capabilities": [["gpu"]]}]


def container_name(deploy_dir: str | Path) -> str:
    """A stable name per deploy folder, so a second ``tfs up`` finds the first one's container."""
    digest = hashlib.sha256(str(Path(deploy_dir).resolve()).encode()).hexdigest()[:10]
    return f"tfs-serving-{digest}"


def container_spec(
    spec: DeploymentSpec,
    deploy_dir: str | Path = "./deploy",
    *,
    cpu: bool = False,
    image: str | None = None,
    network_mode: str | None = None,
    extra_mounts: tuple[Mount, ...] = (),
    environment: dict[str, str] | None = None,
) -> ContainerSpec:
    """The serving container for ``spec`` with ``deploy_dir`` mounted: GPU image and reservation unless ``cpu``.

    With ``network_mode="host"`` nothing is published; the server is told to listen on the spec's ports instead
    (appended flags win over the entrypoint's, as in TF Serving's parser)."""
    deploy = str(deploy_dir).rstrip("/") or "."
    gpu = spec.server.gpu and not cpu
    chosen_image = image or (spec.server.image if gpu else spec.server.cpu_image)
    command = list(server_flags(spec, CONTAINER_CONFIG_ROOT))
    ports: tuple[PortBinding, ...] = (
        PortBinding(CONTAINER_GRPC_PORT, spec.server.host, spec.server.grpc_port),
        PortBinding(CONTAINER_REST_PORT, spec.server.host, spec.server.rest_port),
    )
    if network_mode == "host":
        command += [f"--port={spec.server.grpc_port}", f"--rest_api_port={spec.server.rest_port}"]
        ports = ()
    labels = {
        LABEL_MANAGED: "true",
        LABEL_DEPLOY_DIR: str(Path(deploy).resolve()) if Path(deploy).is_absolute() else deploy,
        LABEL_GRPC: f"{spec.server.host}:{spec.server.grpc_port}",
        LABEL_REST: f"http://{spec.server.host}:{spec.server.rest_port}",
    }
    return ContainerSpec(
        name=container_name(deploy),
        image=chosen_image,
        command=tuple(command),
        mounts=(
            Mount(f"{deploy}/models", CONTAINER_MODELS_ROOT),
            Mount(deploy, CONTAINER_CONFIG_ROOT),
            *extra_mounts,
        ),
        ports=ports,
        gpu=gpu,
        gpu_count=spec.server.gpu_count,
        healthcheck=Healthcheck(),
        labels=labels,
        environment=dict(environment or {}),
        network_mode=network_mode,
        grpc_port=spec.server.grpc_port,
        rest_port=spec.server.rest_port,
    )
