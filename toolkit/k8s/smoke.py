"""``tfs k8s smoke``: apply the manifests ``tfs k8s`` wrote (plain or KServe), wait for the rollout, forward the
serving ports to 127.0.0.1, and run ``tfs smoke``'s checks (``toolkit.smoke``'s plan and runner) through them.

Only manifests that match the spec are applied (the same comparison as ``tfs k8s --check``), so what is smoked is
what the spec says. Plain: one Deployment, its rollout, its Service's gRPC and REST ports. KServe: per
InferenceService, its Ready condition, then a running predictor pod's gRPC and REST ports (KServe's Service routes
HTTP only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.deployment import DeploymentSpec, SpecError
from toolkit.k8s import pod
from toolkit.k8s.files import KSERVE_DIR, PLAIN_DIR, RenderOptions, drift, render_objects, to_yaml
from toolkit.k8s.kserve import KSERVE_GRPC_PORT, KSERVE_REST_PORT, isvc_name
from toolkit.k8s.kubectl import SETUP_EXIT, Kubectl, KubectlError
from toolkit.smoke.plan import plan_model
from toolkit.smoke.report import Report
from toolkit.smoke.runner import SmokeOptions, SmokeRunner

KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"
"""The label KServe puts on an InferenceService's pods (with ``component=predictor`` on the predictor's)."""


@dataclass(frozen=True)
class ServingTarget:
    """One rollout to wait for and one set of ports to forward, serving ``models``."""

    wait: str
    """``deployment/NAME`` (``kubectl rollout status``) or ``inferenceservice/NAME`` (``kubectl wait``)."""
    namespace: str
    forward: str | None
    """``service/NAME``; None: forward a running pod matching ``pod_selector``."""
    pod_selector: str | None
    grpc_port: int
    rest_port: int
    models: tuple[str, ...]


@dataclass(frozen=True)
class ClusterOptions:
    """How long each kubectl step may take."""

    rollout_timeout_s: int = 600
    apply_timeout_s: float = 120
    forward_timeout_s: float = 30


def _port(service: Mapping[str, Any], name: str) -> int:
    return int(next(p["port"] for p in service["spec"]["ports"] if p["name"] == name))


def plain_target(objects: Mapping[str, Any], spec: DeploymentSpec) -> ServingTarget:
    """The rendered Deployment and Service: rollout of the one, the spec's gRPC and REST ports of the other."""
    deployment = objects[f"{PLAIN_DIR}/deployment.yaml"]
    service = objects[f"{PLAIN_DIR}/service.yaml"]
    return ServingTarget(
        wait=f"deployment/{deployment['metadata']['name']}",
        namespace=deployment["metadata"]["namespace"],
        forward=f"service/{service['metadata']['name']}",
        pod_selector=None,
        grpc_port=_port(service, pod.GRPC_PORT_NAME),
        rest_port=_port(service, pod.REST_PORT_NAME),
        models=tuple(m.name for m in spec.models),
    )


def kserve_targets(objects: Mapping[str, Any], spec: DeploymentSpec) -> list[ServingTarget]:
    """One per model: its InferenceService's Ready condition, then a predictor pod on KServe's ports."""
    targets = []
    for model in spec.models:
        name = isvc_name(model)
        isvc = objects[f"{KSERVE_DIR}/{name}-inferenceservice.yaml"]
        targets.append(ServingTarget(
            wait=f"inferenceservice/{name}",
            namespace=isvc["metadata"]["namespace"],
            forward=None,
            pod_selector=f"{KSERVE_POD_LABEL}={name},component=predictor",
            grpc_port=KSERVE_GRPC_PORT,
            rest_port=KSERVE_REST_PORT,
            models=(model.name,),
        ))
    return targets


def manifests_to_apply(objects: Mapping[str, Any], out_dir: Path, options: RenderOptions, kserve: bool) -> list[Path]:
    """The variant's files in ``out_dir``, in the order rendered; a usage error (exit 2) unless they are up to date."""
    prefix = f"{KSERVE_DIR if kserve else PLAIN_DIR}/"
    files = {path: to_yaml(obj, options) for path, obj in objects.items() if path.startswith(prefix)}
    stale = [path for path in drift(out_dir, files) if path.startswith(prefix)]
    if stale:
        raise KubectlError(f"manifests out of date in {out_dir}: {', '.join(stale)}; run `tfs k8s{options.describe()}` "
                           "(with the same --deploy-dir and --out) first", SETUP_EXIT)
    return [out_dir / path for path in files]


def smoke_plans(spec: DeploymentSpec, repository: Path, models: Sequence[str]) -> list[Any]:
    """``toolkit.smoke`` plans for the spec's models (the ConfigMap's models.config comes from the same spec)."""
    served = [m.name for m in spec.models]
    for name in models:
        if name not in served:
            raise KubectlError(f"--model {name}: expected one of the spec's models {served}", SETUP_EXIT)
    return [plan_model(m, repository) for m in spec.models if not models or m.name in models]


def run_cluster_smoke(kubectl: Kubectl, spec: DeploymentSpec, deploy_dir: Path, out_dir: Path,
                      render: RenderOptions, *, kserve: bool, models: Sequence[str], smoke: SmokeOptions,
                      cluster: ClusterOptions, echo: Callable[[str], None] = print) -> Report:
    """Apply, wait, forward, smoke; returns one report over every target. kubectl failures raise KubectlError."""
    from toolkit._quiet_tf import import_tensorflow_quietly
    from toolkit.smoke.connect import open_clients

    repository = deploy_dir / "models"
    try:
        objects = render_objects(spec, repository, render)
    except SpecError as exc:
        raise KubectlError(str(exc), SETUP_EXIT) from None
    files = manifests_to_apply(objects, out_dir, render, kserve)
    plans = smoke_plans(spec, repository, models)
    targets = [t for t in (kserve_targets(objects, spec) if kserve else [plain_target(objects, spec)])
               if any(p.name in t.models for p in plans)]
    echo(f"kubectl context: {kubectl.check_context()}")
    applied = kubectl.apply([str(path) for path in files], timeout=cluster.apply_timeout_s)
    for line in applied.splitlines():
        echo(line)
    for target in targets:
        echo(f"waiting for {target.wait} in namespace {target.namespace} (at most {cluster.rollout_timeout_s}s)")
        if target.wait.startswith("deployment/"):
            kubectl.rollout_status(target.wait, target.namespace, timeout_s=cluster.rollout_timeout_s)
        else:
            kubectl.wait_ready(target.wait, target.namespace, timeout_s=cluster.rollout_timeout_s)

    report = Report()
    for target in targets:
        resource = target.forward or kubectl.running_pod(target.namespace, target.pod_selector or "")
        with kubectl.port_forward(resource, target.namespace, [target.grpc_port, target.rest_port],
                                  ready_timeout=cluster.forward_timeout_s) as local:
            grpc, rest = f"127.0.0.1:{local[target.grpc_port]}", f"http://127.0.0.1:{local[target.rest_port]}"
            echo(f"forwarding {resource} ports {target.grpc_port} (gRPC) and {target.rest_port} (REST) to "
                 f"{grpc} and {rest}")
            import_tensorflow_quietly()  # the checks read the exported signatures; its start-up lines hidden
            clients = open_clients(grpc, rest, smoke.call_timeout_s)
            try:
                where = {"source": f"kubectl port-forward {resource} -n {target.namespace}", "grpc": grpc,
                         "rest": rest}
                part = SmokeRunner(clients, smoke, targets=where).run([p for p in plans if p.name in target.models])
            finally:
                for client in clients.values():
                    client.close()
        report.results.extend(part.results)
        report.targets.update(part.targets if len(targets) == 1 else
                              {f"{target.wait} {key}": value for key, value in part.targets.items()})
    return report
