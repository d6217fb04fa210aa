"""Run the official ``tensorflow/serving`` image through the Docker SDK, with the settings of ``compose.yaml``
(both come from ``container_spec``). Engine errors become actionable ``LaunchError``s."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

from toolkit._extras import require
from toolkit.launch.container import LABEL_MANAGED, ContainerSpec
from toolkit.launch.errors import (
    EngineUnavailableError,
    GpuUnavailableError,
    ImageUnavailableError,
    LaunchError,
    PortInUseError,
)
from toolkit.launch.state import Endpoints, client_host

log = logging.getLogger(__name__)

PullProgress = Callable[[dict[str, Any]], None]
"""Receives each decoded status line of ``docker pull`` (``status``, ``id``, ``progressDetail``)."""

CPU_HINT = (
    "Run on CPU instead: `tfs up --cpu` (or `docker compose -f compose.yaml -f compose.cpu.yaml up -d --wait`). "
    "For the GPU, install the NVIDIA driver and the NVIDIA Container Toolkit, then `nvidia-ctk runtime configure "
    "--runtime=docker` and restart Docker."
)


def docker_client(timeout: float = 3.0):
    """A client for the engine in the environment (DOCKER_HOST or the default socket), checked with a ping."""
    docker = require("docker", purpose="launching the server in Docker")
    try:
        client = docker.from_env(timeout=max(int(timeout), 1))
        client.ping()
    except Exception as exc:  # noqa: BLE001 - docker raises DockerException, requests errors, OSError...
        raise EngineUnavailableError(
            f"no Docker engine reachable ({exc.__class__.__name__}: {exc}). Start Docker (or set DOCKER_HOST), "
            "or run without Docker: `tfs up --runtime embedded`."
        ) from None
    client.api.timeout = 120  # pulls and stops take longer than a ping
    return client


def engine_reachable(timeout: float = 3.0) -> bool:
    """Whether ``docker_client`` would succeed (used by ``--runtime auto``)."""
    try:
        docker_client(timeout).close()
        return True
    except EngineUnavailableError as exc:
        log.info("%s", exc)
        return False
    except Exception as exc:  # noqa: BLE001 - e.g. the docker SDK missing: fall back to embedded
        log.info("Docker unavailable: %s", exc)
        return False


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(host: str, ports: list[int], *, what: str = "the server") -> None:
    """Refuse early, with a message naming the port and how to change it."""
    for port in ports:
        if port and port_in_use(host, port):
            raise PortInUseError(
                f"port {port} on {host} is already in use, so {what} cannot listen there. Stop whatever holds it "
                f"(`tfs down`, or see `ss -ltnp 'sport = :{port}'`), or choose other ports: [server] grpc_port / "
                "rest_port in deploy/deployment.toml, or `tfs up --grpc-port N --rest-port M`."
            )


def explain_engine_error(exc: Exception, spec: ContainerSpec) -> LaunchError:
    """Turn an engine error into an actionable message (the engine's own text is kept at the end)."""
    text = str(getattr(exc, "explanation", None) or exc)
    lower = text.lower()
    if "could not select device driver" in lower or "nvidia-container-cli" in lower or "unknown runtime" in lower:
        return GpuUnavailableError(f"the Docker engine cannot give this container a GPU. {CPU_HINT} (engine: {text})")
    if "port is already allocated" in lower or "address already in use" in lower:
        ports = ", ".join(f"{p.host_ip}:{p.host_port}" for p in spec.ports) or f"{spec.grpc_port}/{spec.rest_port}"
        return PortInUseError(
            f"a port the server needs ({ports}) is already in use. Stop whatever holds it (`tfs down`), or choose "
            f"other ports: [server] grpc_port / rest_port in deploy/deployment.toml, or `tfs up --grpc-port N "
            f"--rest-port M`. (engine: {text})"
        )
    if "no such image" in lower or "not found" in lower and "image" in lower:
        return ImageUnavailableError(f"image {spec.image} is not available: {text}")
    return LaunchError(f"Docker could not start the container from {spec.image}: {text}")


class DockerRuntime:
    """One serving container per deploy folder, found again by its name and labels."""

    name = "docker"

    def __init__(self, client: Any, spec: ContainerSpec, *, pull_progress: PullProgress | None = None) -> None:
        self.client = client
        self._spec: ContainerSpec | None = spec
        self.container_name = spec.name
        self.pull_progress = pull_progress

    @property
    def spec(self) -> ContainerSpec:
        """The creation settings; a runtime ``attach``ed to an existing container has none."""
        if self._spec is None:
            raise LaunchError(f"container {self.container_name} was attached (for down / logs / status) without the "
                              "settings to create it; `tfs up` creates it")
        return self._spec

    @classmethod
    def attach(cls, client: Any, container_name: str) -> DockerRuntime:
        """A handle on an existing container (for down / logs / status), without its creation settings."""
        runtime = cls.__new__(cls)
        runtime.client, runtime._spec, runtime.container_name, runtime.pull_progress = client, None, container_name, None
        return runtime

    # ------------------------------------------------------------------ image
    def ensure_image(self, *, pull: bool = True) -> None:
        """Use the local image, or pull it (reporting progress); a missing, unpullable image is explained."""
        import docker.errors

        try:
            self.client.images.get(self.spec.image)
            return
        except docker.errors.ImageNotFound:
            pass
        if not pull:
            raise ImageUnavailableError(
                f"image {self.spec.image} is not present locally and pulling was turned off (--no-pull). "
                f"Run `docker pull {self.spec.image}`, or choose another with --image / TFS_IMAGE."
            )
        repository, tag = _split_reference(self.spec.image)
        try:
            for line in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in line:
                    raise ImageUnavailableError(self._pull_failed(str(line["error"])))
                if self.pull_progress is not None:
                    self.pull_progress(line)
        except docker.errors.APIError as exc:
            raise ImageUnavailableError(self._pull_failed(str(exc.explanation or exc))) from None
        except docker.errors.DockerException as exc:
            raise ImageUnavailableError(self._pull_failed(str(exc))) from None

    def _pull_failed(self, reason: str) -> str:
        return (
            f"image {self.spec.image} is not present locally and could not be pulled: {reason}. Check the name and "
            "tag (and `docker login` for a private registry), pull it by hand, or choose another image with "
            "--image / TFS_IMAGE. Without a GPU, use the CPU image: `tfs up --cpu`."
        )

    # ------------------------------------------------------------------ lifecycle
    def _find(self):
        import docker.errors

        try:
            return self.client.containers.get(self.container_name)
        except docker.errors.NotFound:
            return None

    def create_kwargs(self) -> dict[str, Any]:
        """Arguments of ``containers.create``: the same settings compose.yaml declares."""
        import docker.types

        spec = self.spec
        kwargs: dict[str, Any] = {
            "image": spec.image,
            "command": list(spec.command),
            "name": spec.name,
            "labels": dict(spec.labels),
            "environment": dict(spec.environment),
            "mounts": [
                docker.types.Mount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
                for m in spec.mounts
            ],
            "healthcheck": spec.healthcheck.to_docker(),
            "detach": True,
        }
        if spec.network_mode:
            kwargs["network_mode"] = spec.network_mode
        else:
            kwargs["ports"] = {f"{p.container_port}/tcp": (p.host_ip, p.host_port) for p in spec.ports}
        if spec.gpu:
            kwargs["device_requests"] = [
                docker.types.DeviceRequest(driver=r["Driver"], count=r["Count"], capabilities=r["Capabilities"])
                for r in spec.device_requests()
            ]
        return kwargs

    def start(self, *, pull: bool = True) -> Endpoints:
        """Pull if needed, create and start the container. A stopped leftover of an earlier run is replaced."""
        import docker.errors

        existing = self._find()
        if existing is not None:
            if existing.status == "running":
                raise LaunchError(
                    f"container {self.spec.name} is already running for this deploy folder; `tfs status` shows it, "
                    "`tfs down` stops it."
                )
            existing.remove(force=True)
        host = self.spec.ports[0].host_ip if self.spec.ports else "127.0.0.1"
        check_ports_free(host, [self.spec.grpc_port, self.spec.rest_port])
        self.ensure_image(pull=pull)
        container = None
        try:
            container = self.client.containers.create(**self.create_kwargs())
            container.start()
        except docker.errors.APIError as exc:
            if container is not None:
                try:
                    container.remove(force=True)
                except docker.errors.APIError:  # pragma: no cover - best effort cleanup
                    log.warning("could not remove container %s", self.spec.name)
            raise explain_engine_error(exc, self.spec) from None
        return self.endpoints()

    def endpoints(self) -> Endpoints:
        host = client_host(self.spec.ports[0].host_ip if self.spec.ports else "127.0.0.1")
        return Endpoints(
            grpc=f"{host}:{self.spec.grpc_port}",
            rest=f"http://{host}:{self.spec.rest_port}",
            runtime=self.name,
            container=self.spec.name,
            deploy_dir=self.spec.labels.get("org.tfs-toolkit.deploy-dir", ""),
        )

    def failure(self) -> str | None:
        container = self._find()
        if container is None:
            return f"container {self.container_name} is gone"
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            tail = container.logs(tail=30).decode("utf-8", "replace").strip()
            return f"container {self.container_name} exited with status {code}; last log lines:\n{tail}"
        return None

    def health(self) -> str | None:
        """Docker's healthcheck status (starting / healthy / unhealthy), None without a container."""
        container = self._find()
        if container is None:
            return None
        container.reload()
        return container.attrs.get("State", {}).get("Health", {}).get("Status")

    def stop(self) -> bool:
        container = self._find()
        if container is None or container.labels.get(LABEL_MANAGED) != "true":
            return False
        try:
            container.stop(timeout=20)
        finally:
            container.remove(force=True)
        return True

    def logs(self, *, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        container = self._find()
        if container is None:
            return iter(())
        kwargs: dict[str, Any] = {"stream": True, "follow": follow}
        if tail is not None:
            kwargs["tail"] = tail
        return (chunk.decode("utf-8", "replace") for chunk in container.logs(**kwargs))


def _split_reference(image: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); a registry port (``host:5000/repo``) is not mistaken for a tag."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"
