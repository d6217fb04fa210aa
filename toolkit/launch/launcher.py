"""Orchestration behind ``tfs up / down / status / logs``: generate the config, pick a runtime, launch, wait for
every configured version, record the endpoints; and find the running server again afterwards."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from toolkit.deployment import DeploymentSpec, load_spec
from toolkit.launch.base import Runtime
from toolkit.launch.container import Mount, container_name, container_spec
from toolkit.launch.docker_runtime import (
    DockerRuntime,
    PullProgress,
    docker_client,
    engine_reachable,
)
from toolkit.launch.embedded import EmbeddedRuntime
from toolkit.launch.errors import EngineUnavailableError, LaunchError, NotRunningError
from toolkit.launch.readiness import (
    StatusUnavailable,
    VersionStatus,
    expected_versions,
    fetch_model_status,
    resolve_labels,
    wait_until_available,
)
from toolkit.launch.state import (
    Endpoints,
    clear_endpoints,
    read_endpoints,
    write_endpoints,
)
from toolkit.serving_config import SPEC_FILE, generate_config

log = logging.getLogger(__name__)

RuntimeChoice = Literal["auto", "docker", "embedded"]
WaitProgress = Callable[[dict[str, list[VersionStatus]], str | None], None]


@dataclass(frozen=True)
class UpOptions:
    """What ``tfs up`` was asked for."""

    deploy_dir: Path = Path("deploy")
    runtime: RuntimeChoice = "auto"
    cpu: bool = False
    image: str | None = None
    network: str | None = None
    mounts: tuple[Mount, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    grpc_port: int | None = None
    rest_port: int | None = None
    pull: bool = True
    timeout: float = 600.0


@dataclass(frozen=True)
class UpResult:
    endpoints: Endpoints
    statuses: dict[str, list[VersionStatus]]
    spec: DeploymentSpec


def load_deploy_spec(deploy_dir: Path, grpc_port: int | None = None, rest_port: int | None = None) -> DeploymentSpec:
    """``deploy/deployment.toml`` with the command line's port overrides applied."""
    spec = load_spec(deploy_dir / SPEC_FILE)
    changes: dict[str, Any] = {}
    if grpc_port is not None:
        changes["grpc_port"] = grpc_port
    if rest_port is not None:
        changes["rest_port"] = rest_port
    if changes:
        spec = dataclasses.replace(spec, server=dataclasses.replace(spec.server, **changes))
    if spec.server.rest_port == 0:
        raise LaunchError("server.rest_port: expected a port (tfs up waits for the models over REST), got 0")
    if spec.server.grpc_port == spec.server.rest_port:
        raise LaunchError(f"the gRPC and REST ports must differ, got {spec.server.grpc_port} for both")
    return spec


def choose_runtime(choice: RuntimeChoice) -> Literal["docker", "embedded"]:
    """``auto``: Docker when an engine answers a ping, else the embedded runtime."""
    if choice == "auto":
        return "docker" if engine_reachable() else "embedded"
    return choice


def up(
    options: UpOptions,
    *,
    pull_progress: PullProgress | None = None,
    wait_progress: WaitProgress | None = None,
    on_runtime: Callable[[str], None] | None = None,
) -> UpResult:
    """Generate the config, launch, and wait until every configured version is AVAILABLE.

    On any failure after the launch, what was started is stopped again, so nothing is left half-running."""
    deploy = options.deploy_dir.resolve()
    spec = load_deploy_spec(deploy, options.grpc_port, options.rest_port)
    generate_config(deploy, spec)
    expected = expected_versions(spec, deploy)
    previous = read_endpoints(deploy)
    running = _runtime_for(previous, deploy) if previous is not None else None
    if previous is not None and running is not None and running.failure() is None:
        raise LaunchError(
            f"a server started by `tfs up` is already running for {deploy} ({previous.runtime}, REST "
            f"{previous.rest}); `tfs status` shows it, `tfs down` stops it."
        )
    kind = choose_runtime(options.runtime)
    if on_runtime is not None:
        on_runtime(kind)
    runtime: Runtime
    if kind == "docker":
        cspec = container_spec(
            spec,
            deploy,
            cpu=options.cpu,
            image=options.image,
            network_mode=options.network,
            extra_mounts=options.mounts,
            environment=options.environment,
        )
        docker_runtime = DockerRuntime(docker_client(), cspec, pull_progress=pull_progress)
        endpoints = docker_runtime.start(pull=options.pull)
        runtime = docker_runtime
    else:
        if options.image or options.network or options.mounts or options.environment:
            raise LaunchError("--image, --network, --mount and --env apply to the Docker runtime only")
        runtime = EmbeddedRuntime(deploy, spec)
        endpoints = runtime.start()
    write_endpoints(deploy, endpoints)
    try:
        statuses = wait_until_available(
            endpoints.rest, expected, timeout=options.timeout, failure=runtime.failure, progress=wait_progress
        )
    except BaseException as exc:
        tail = ""
        if not isinstance(exc, KeyboardInterrupt):
            try:
                tail = "".join(runtime.logs(tail=20)).strip()
            except Exception:  # noqa: BLE001 - best effort: the error below matters more
                tail = ""
        runtime.stop()
        clear_endpoints(deploy)
        if isinstance(exc, LaunchError) and tail and "last log lines" not in str(exc):
            raise type(exc)(f"{exc}\nlast log lines:\n{tail}") from None
        raise
    return UpResult(endpoints, statuses, spec)


def _runtime_for(endpoints: Endpoints, deploy: Path) -> Runtime | None:
    if endpoints.runtime == "embedded":
        return EmbeddedRuntime(deploy)
    try:
        return DockerRuntime.attach(docker_client(), endpoints.container or container_name(deploy))
    except EngineUnavailableError:
        return None


def find_runtime(deploy_dir: Path) -> tuple[Endpoints | None, Runtime]:
    """The runtime ``tfs up`` used for this folder (from endpoints.json, else whatever is found running)."""
    deploy = deploy_dir.resolve()
    try:
        endpoints = read_endpoints(deploy)
    except LaunchError as exc:  # a damaged endpoints.json: look for the server as if it were missing
        log.warning("%s", exc)
        endpoints = None
    if endpoints is not None:
        runtime = _runtime_for(endpoints, deploy)
        if runtime is None:
            raise EngineUnavailableError(
                f"{deploy} was started in Docker (container {endpoints.container}) but no Docker engine answers now"
            )
        return endpoints, runtime
    embedded = EmbeddedRuntime(deploy)
    if embedded.running_pid() is not None:
        return None, embedded
    try:
        return None, DockerRuntime.attach(docker_client(), container_name(deploy))
    except EngineUnavailableError:
        raise NotRunningError(f"nothing started by `tfs up` is running for {deploy}") from None


def down(deploy_dir: Path) -> tuple[str, bool]:
    """Stop and remove what ``up`` started; returns (runtime name, whether something was stopped)."""
    deploy = deploy_dir.resolve()
    try:
        _, runtime = find_runtime(deploy)
    except NotRunningError:
        clear_endpoints(deploy)
        return "tfs", False  # idempotent: nothing to stop is not an error
    stopped = runtime.stop()
    clear_endpoints(deploy)
    return runtime.name, stopped


def logs(deploy_dir: Path, *, follow: bool = False, tail: int | None = None) -> Iterator[str]:
    _, runtime = find_runtime(deploy_dir)
    return runtime.logs(follow=follow, tail=tail)


@dataclass(frozen=True)
class ModelStatus:
    """One row group of ``tfs status``: a model's versions and labels as the live server reports them."""

    name: str
    versions: list[VersionStatus]
    labels: dict[str, int | str]
    error: str | None = None


def status(deploy_dir: Path, rest_url: str | None = None) -> tuple[Endpoints | None, list[ModelStatus]]:
    """Models, versions, states and labels from the live server (model names and labels from the spec)."""
    deploy = deploy_dir.resolve()
    endpoints = read_endpoints(deploy)
    url = rest_url or (endpoints.rest if endpoints else None)
    if url is None:
        raise NotRunningError(f"no endpoints recorded for {deploy} (run `tfs up`, or pass --rest URL)")
    spec = load_spec(deploy / SPEC_FILE)
    rows = []
    for model in spec.models:
        try:
            versions = fetch_model_status(url, model.name)
        except StatusUnavailable as exc:
            rows.append(ModelStatus(model.name, [], {}, str(exc)))
            continue
        rows.append(ModelStatus(model.name, versions, resolve_labels(url, model.name, sorted(model.labels))))
    return endpoints, rows
