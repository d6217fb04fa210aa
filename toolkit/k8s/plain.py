"""Plain Kubernetes: a ConfigMap with TF Serving's config files, an ``apps/v1`` Deployment running the container
``toolkit.launch.container.container_spec`` describes (same image, same flags as compose.yaml and ``tfs up``), a
Service (gRPC + REST) and, unless the models are baked into the image, a PersistentVolumeClaim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.deployment import CONTAINER_CONFIG_ROOT, CONTAINER_MODELS_ROOT, DeploymentSpec
from toolkit.k8s import pod
from toolkit.k8s.spec import KubernetesSpec
from toolkit.launch.container import CONTAINER_GRPC_PORT, CONTAINER_REST_PORT, container_spec

CONFIG_VOLUME = "config"
MODELS_VOLUME = "models"


def serving_image(spec: DeploymentSpec, k: KubernetesSpec) -> str:
    """The pinned image compose uses (GPU or CPU build by ``gpus``), unless ``[kubernetes] image`` overrides it."""
    return container_spec(spec, cpu=not k.gpu, image=k.image or None).image


def server_args(spec: DeploymentSpec) -> list[str]:
    """The official entrypoint's ports, then the container spec's flags (one source: ``server_flags``)."""
    flags = container_spec(spec).command
    return [f"--port={CONTAINER_GRPC_PORT}", f"--rest_api_port={CONTAINER_REST_PORT}", *flags]


def _metadata(k: KubernetesSpec, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": k.namespace, "labels": pod.standard_labels(k, component)}


def selector_labels(k: KubernetesSpec) -> dict[str, str]:
    labels = pod.standard_labels(k, "server")
    return {key: labels[key] for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}


def config_map(spec: DeploymentSpec, k: KubernetesSpec, models_dir: Path | None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(k, k.config_map_name, "config"),
        "data": pod.config_files(spec, models_dir),
    }


def persistent_volume_claim(k: KubernetesSpec) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": [k.access_mode],
        "resources": {"requests": {"storage": k.storage_size}},
    }
    if k.storage_class:
        claim["storageClassName"] = k.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(k, k.pvc_name, "model-repository"),
        "spec": claim,
    }


def deployment(spec: DeploymentSpec, k: KubernetesSpec, image: str) -> dict[str, Any]:
    mounts = [{"name": CONFIG_VOLUME, "mountPath": CONTAINER_CONFIG_ROOT, "readOnly": True}]
    volumes: list[dict[str, Any]] = [{"name": CONFIG_VOLUME, "configMap": {"name": k.config_map_name}}]
    if k.model_volume == "pvc":
        mounts.append({"name": MODELS_VOLUME, "mountPath": CONTAINER_MODELS_ROOT, "readOnly": True})
        volumes.append({"name": MODELS_VOLUME, "persistentVolumeClaim": {"claimName": k.pvc_name, "readOnly": True}})
    mounts.append({"name": pod.TMP_VOLUME, "mountPath": "/tmp"})
    volumes.append({"name": pod.TMP_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}})
    container = {
        "name": pod.CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": k.image_pull_policy,
        "command": pod.command(),
        "args": server_args(spec),
        "ports": [
            {"name": pod.GRPC_PORT_NAME, "containerPort": CONTAINER_GRPC_PORT, "protocol": "TCP"},
            {"name": pod.REST_PORT_NAME, "containerPort": CONTAINER_REST_PORT, "protocol": "TCP"},
        ],
        "resources": pod.resources(k),
        "securityContext": pod.container_security_context(),
        "volumeMounts": mounts,
        **pod.probes(spec, k, CONTAINER_GRPC_PORT, pod.REST_PORT_NAME),
        "lifecycle": pod.lifecycle(k),
    }
    template_metadata: dict[str, Any] = {"labels": pod.standard_labels(k, "server")}
    if spec.monitoring.enabled:
        template_metadata["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(CONTAINER_REST_PORT),
            "prometheus.io/path": spec.monitoring.path,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(k, k.name, "server"),
        "spec": {
            "replicas": k.replicas,
            "selector": {"matchLabels": selector_labels(k)},
            # A new pod must be ready (its model AVAILABLE) before an old one goes.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": template_metadata,
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": k.termination_grace_period_seconds,
                    "securityContext": pod.pod_security_context(k),
                    **pod.scheduling(k),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(spec: DeploymentSpec, k: KubernetesSpec) -> dict[str, Any]:
    """Clients reach the spec's ports (``[server] grpc_port / rest_port``) on the Service."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(k, k.name, "server"),
        "spec": {
            "type": k.service_type,
            "selector": selector_labels(k),
            "ports": [
                {"name": pod.GRPC_PORT_NAME, "port": spec.server.grpc_port or CONTAINER_GRPC_PORT,
                 "targetPort": pod.GRPC_PORT_NAME, "protocol": "TCP", "appProtocol": "grpc"},
                {"name": pod.REST_PORT_NAME, "port": spec.server.rest_port or CONTAINER_REST_PORT,
                 "targetPort": pod.REST_PORT_NAME, "protocol": "TCP", "appProtocol": "http"},
            ],
        },
    }


def plain_objects(spec: DeploymentSpec, k: KubernetesSpec, models_dir: Path | None, image: str) -> dict[str, Any]:
    """File name -> object, in the order ``kubectl apply`` should create them."""
    objects: dict[str, Any] = {"configmap.yaml": config_map(spec, k, models_dir)}
    if k.model_volume == "pvc" and k.create_pvc:
        objects["pvc.yaml"] = persistent_volume_claim(k)
    objects["deployment.yaml"] = deployment(spec, k, image)
    objects["service.yaml"] = service(spec, k)
    return objects
