"""What ``tfs smoke`` should find: the server's endpoints, and per model the versions its policy should load, its
labels and the host folder holding the exported versions (for signatures and persisted test data).

Base paths in ``models.config`` are as the server sees them (``/models/<name>`` inside the container); on the host
the repository is ``deploy/models``. ``toolkit.repository.host_model_dir`` maps one onto the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.deployment import CONTAINER_MODELS_ROOT, ModelEntry
from toolkit.errors import EXIT_SETUP, ToolkitError
from toolkit.repository import host_model_dir, list_versions
from toolkit.serving_config import ConfigError, read_model_server_config
from toolkit.versions import VersionPolicy


class PlanError(ToolkitError, ValueError):
    """The smoke run cannot be set up (no target, no config, unknown model); a usage error, exit status 2."""

    exit_code = EXIT_SETUP


@dataclass(frozen=True)
class Targets:
    """Where the server answers. Either may be None (then that protocol's checks are skipped)."""

    grpc: str | None = None
    rest: str | None = None
    source: str = "command line"

    def as_dict(self) -> dict[str, str]:
        out = {"source": self.source}
        if self.grpc:
            out["grpc"] = self.grpc
        if self.rest:
            out["rest"] = self.rest
        return out


@dataclass(frozen=True)
class ModelPlan:
    """One model to check. ``versions`` None means the repository is not visible from here (a URI base path, or a
    folder this host does not have): then every version the server reports AVAILABLE is checked."""

    name: str
    versions: tuple[int, ...] | None
    labels: dict[str, int] = field(default_factory=dict)
    host_dir: Path | None = None
    policy: str = "latest"

    def version_dir(self, version: int) -> Path | None:
        """Host folder of one exported version, if this host has it."""
        if self.host_dir is None:
            return None
        path = self.host_dir / str(version)
        return path if path.is_dir() else None


def resolve_targets(grpc: str | None, rest: str | None, deploy_dir: Path) -> Targets:
    """Explicit ``--grpc``/``--rest`` win; otherwise the endpoints ``tfs up`` recorded in ``deploy/.tfs``."""
    if grpc or rest:
        return Targets(grpc or None, rest or None, "command line")
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.state import ENDPOINTS_FILE, read_endpoints, state_dir

    try:
        endpoints = read_endpoints(deploy_dir)
    except LaunchError as exc:
        raise PlanError(f"{exc}; or pass --grpc HOST:PORT and/or --rest URL") from None
    if endpoints is None:
        raise PlanError(f"no server to check: pass --grpc HOST:PORT and/or --rest URL, or start one with `tfs up` "
                        f"(expected {state_dir(deploy_dir) / ENDPOINTS_FILE}, not found)")
    return Targets(endpoints.grpc or None, endpoints.rest or None, str(state_dir(deploy_dir) / ENDPOINTS_FILE))


def plan_model(spec: ModelEntry, repository: Path) -> ModelPlan:
    """The plan of a model of a deployment spec (``tfs k8s`` smoke checks one before a config file exists)."""
    return _plan(spec.name, spec.base_path, VersionPolicy.of_spec(spec), spec.labels, repository)


def _plan(name: str, base_path: str, policy: VersionPolicy, labels: Mapping[str, int], repository: Path) -> ModelPlan:
    """Apply the version policy to the folders on the host (as TF Serving would to the ones it sees)."""
    host_dir = host_model_dir(base_path, repository)
    versions: tuple[int, ...] | None = None
    if host_dir is not None and host_dir.is_dir():
        versions = tuple(policy.served(list_versions(host_dir)))
    elif host_dir is not None:
        host_dir = None
    return ModelPlan(name, versions, {k: int(v) for k, v in labels.items()}, host_dir, policy.kind)


def load_plans(config: Path | None, models: Sequence[str], repository: Path, *,
               config_required: bool) -> list[ModelPlan]:
    """Plans for the models in ``config`` (restricted to ``models`` when given). Without a config, ``--model``
    names get TF Serving's default policy (latest 1) over ``<repository>/<name>``."""
    specs: dict[str, tuple[str, VersionPolicy, Mapping[str, int]]] = {}
    if config is not None and config.is_file():
        try:
            parsed = read_model_server_config(config)
        except ConfigError as exc:
            raise PlanError(str(exc)) from None
        for entry in parsed.model_config_list.config:
            specs[entry.name] = (entry.base_path, VersionPolicy.of_config(entry), dict(entry.version_labels))
        if not specs:
            raise PlanError(f"{config}: lists no models (expected a model_config_list with at least one config)")
    elif config is not None and config_required:
        raise PlanError(f"--config {config}: no such file")
    elif not models:
        raise PlanError(f"no models to check: {config} not found; pass --config FILE or --model NAME "
                        "(or run `tfs config` to write deploy/models.config)")

    if not models:
        return [_plan(name, *entry, repository) for name, entry in specs.items()]
    plans = []
    for name in dict.fromkeys(models):
        if specs:
            if name not in specs:
                raise PlanError(f"--model {name}: not in {config}; expected one of {sorted(specs)}")
            plans.append(_plan(name, *specs[name], repository))
        else:
            plans.append(_plan(name, f"{CONTAINER_MODELS_ROOT}/{name}", VersionPolicy(), {}, repository))
    return plans
