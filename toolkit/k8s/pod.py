"""Pieces of the serving pod shared by the plain Deployment and KServe: the SIGTERM-forwarding command, security
contexts, resources, probes, the drain hook and the ConfigMap with TF Serving's config files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from toolkit.deployment import DeploymentSpec
from toolkit.k8s.spec import KubernetesSpec
from toolkit.serving_config import build_config_messages

MODEL_SERVER = "/usr/bin/tensorflow_model_server"
SIGTERM_FORWARDER = (
    '"$0" "$@" & pid=$!; trap \'kill -TERM "$pid" 2>/dev/null\' TERM INT; wait "$pid"; status=$?; '
    'if kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; fi; exit "$status"'
)
"""PID 1 in a container only receives SIGTERM if it handles it; tensorflow_model_server installs no handler (nor
does the image's bash entrypoint), so a pod would sit out its whole grace period before SIGKILL. This bash line
(the image has bash, no tini) runs the server as a child and forwards SIGTERM, so it stops right after the drain."""

CONTAINER_NAME = "tensorflow-serving"
GRPC_PORT_NAME = "grpc"
REST_PORT_NAME = "http"
HEALTH_SERVICE = "PredictionService"
"""Set SERVING by TF Serving's --enable_grpc_healthcheck_service (with "ModelService"; short names)."""
TMP_VOLUME = "tmp"


def command(entry: str = MODEL_SERVER) -> list[str]:
    """``command:`` for the serving container: bash forwarding SIGTERM to ``entry``; ``args:`` become its flags."""
    return ["/bin/bash", "-c", SIGTERM_FORWARDER, entry]


def config_files(spec: DeploymentSpec, models_dir: Path | None) -> dict[str, str]:
    """The ConfigMap ``data``: models.config, monitoring.config, batching.config as ``tfs config`` writes them."""
    return {name: text_format.MessageToString(message) for name, message in build_config_messages(spec, models_dir).items()}


def pod_security_context(k: KubernetesSpec) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": k.run_as_user,
        "runAsGroup": k.run_as_group,
        "fsGroup": k.run_as_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def resources(k: KubernetesSpec) -> dict[str, Any]:
    """CPU/memory requests; memory (and CPU when asked) limits; GPUs only as limits (requests default to them)."""
    requests: dict[str, Any] = {"cpu": k.cpu, "memory": k.memory}
    limits: dict[str, Any] = {}
    if k.cpu_limit:
        limits["cpu"] = k.cpu_limit
    if k.memory_limit:
        limits["memory"] = k.memory_limit
    if k.gpu:
        limits[k.gpu_resource] = k.gpus
    return {"requests": requests, "limits": limits} if limits else {"requests": requests}


def readiness_path(k: KubernetesSpec) -> str:
    """``/v1/models/<name>/metadata`` answers 404 until a version is AVAILABLE; the status URL
    ``/v1/models/<name>`` answers 200 already while the version is LOADING, so it proves nothing."""
    return f"/v1/models/{k.readiness_model}/metadata"


def probes(spec: DeploymentSpec, k: KubernetesSpec, grpc_port: int, rest_port: int | str) -> dict[str, Any]:
    """Readiness: the model's metadata over REST (httpGet, no curl needed). Liveness: the gRPC health service when
    enabled, else the gRPC port (tcpSocket). Start-up: the same check, allowed ``startup_timeout_seconds`` since
    TF Serving opens its ports only after the first load of every model."""
    def alive() -> dict[str, Any]:  # a fresh dict per probe: no shared structure in the manifests
        if spec.server.enable_grpc_healthcheck_service:
            return {"grpc": {"port": grpc_port, "service": HEALTH_SERVICE}}
        return {"tcpSocket": {"port": grpc_port}}

    period = 10
    return {
        "startupProbe": {**alive(), "periodSeconds": period, "timeoutSeconds": 5,
                         "failureThreshold": math.ceil(k.startup_timeout_seconds / period)},
        "readinessProbe": {"httpGet": {"path": readiness_path(k), "port": rest_port}, "periodSeconds": 5,
                           "timeoutSeconds": 5, "failureThreshold": 2},
        "livenessProbe": {**alive(), "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": 3},
    }


def lifecycle(k: KubernetesSpec) -> dict[str, Any]:
    """The pod keeps serving ``drain_seconds`` after it is marked terminating, while endpoints drop it and
    in-flight requests finish; only then does SIGTERM reach the server."""
    return {"preStop": {"exec": {"command": ["sleep", str(k.drain_seconds)]}}}


def scheduling(k: KubernetesSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if k.node_selector:
        out["nodeSelector"] = dict(k.node_selector)
    if k.tolerations:
        out["tolerations"] = [dict(t) for t in k.tolerations]
    return out


def standard_labels(k: KubernetesSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "tensorflow-serving",
        "app.kubernetes.io/instance": k.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "tfs-toolkit",
    }
