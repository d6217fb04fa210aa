"""KServe: one ``InferenceService`` (``serving.kserve.io/v1beta1``) per model, predictor ``model.modelFormat:
tensorflow``, served either by KServe's ``kserve-tensorflow-serving`` runtime (pinned to our image version with
``runtimeVersion``) or by a ``ServingRuntime`` written here with our pinned image; plus one ConfigMap per model with
its models.config, so version policy and labels survive (KServe's runtime alone serves only the latest version).

KServe's storage initializer copies ``storageUri`` into ``/mnt/models``, so ``storageUri`` is the folder holding the
numbered versions and the model's base path inside the pod is ``/mnt/models``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from toolkit.deployment import CONTAINER_CONFIG_ROOT, DeploymentSpec, ModelEntry, SpecError
from toolkit.k8s import names, pod
from toolkit.k8s.spec import CANARY_LABEL, KNATIVE_MODES, KubernetesSpec, model_folder
from toolkit.serving_config import server_flags

KSERVE_RUNTIME = "kserve-tensorflow-serving"
KSERVE_MODEL_ROOT = "/mnt/models"
KSERVE_GRPC_PORT = 9000
"""The ports KServe's TF Serving runtime uses (KServe routes HTTP to 8080)."""
KSERVE_REST_PORT = 8080
MODEL_FORMAT = {"name": "tensorflow", "version": "2"}
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"


def runtime_name(k: KubernetesSpec) -> str:
    return KSERVE_RUNTIME if k.kserve.runtime == KSERVE_RUNTIME else f"{k.name}-tensorflow-serving"


def isvc_name(model: ModelEntry) -> str:
    """The InferenceService name: the model name lowercased with '_' and '.' as '-' (KServe wants DNS-1035)."""
    name = model.name.lower().replace("_", "-").replace(".", "-")
    if names.dns1035_label_problem(name) or len(name) > 45:
        raise SpecError(
            f"models ({model.name}).name: expected a name usable as an InferenceService name "
            f"(a DNS-1035 label of at most 45 characters once lowercased, '_' and '.' as '-'), got {model.name!r}"
        )
    return name


def storage_uri(k: KubernetesSpec, model: ModelEntry) -> str:
    """``<storage_uri>/<folder>``: the folder that holds the model's numbered versions, never a version folder."""
    folder = model_folder(model.base_path)
    if folder is None:
        raise SpecError(
            f"models ({model.name}).base_path: expected a path under /models/ for KServe (its storageUri is "
            f"kubernetes.kserve.storage_uri + the folder), got {model.base_path!r}"
        )
    return f"{k.kserve.storage_uri}/{folder}"


def model_spec_in_pod(spec: DeploymentSpec, model: ModelEntry) -> DeploymentSpec:
    """The deployment as one KServe pod sees it: this model only, its versions under /mnt/models."""
    return dataclasses.replace(spec, models=(dataclasses.replace(model, base_path=KSERVE_MODEL_ROOT),))


def serving_runtime(spec: DeploymentSpec, k: KubernetesSpec, image: str) -> dict[str, Any]:
    """A namespaced ServingRuntime: our pinned image, KServe's ports, SIGTERM forwarded, non-root, read-only."""
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": runtime_name(k), "namespace": k.namespace, "labels": pod.standard_labels(k, "runtime")},
        "spec": {
            "supportedModelFormats": [{**MODEL_FORMAT, "autoSelect": False}],
            "protocolVersions": ["v1", "grpc-v1"],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": image,
                    "command": pod.command(),
                    "args": [f"--port={KSERVE_GRPC_PORT}", f"--rest_api_port={KSERVE_REST_PORT}"],
                    "securityContext": {**pod.container_security_context(), "runAsNonRoot": True,
                                        "runAsUser": k.run_as_user},
                    "resources": pod.resources(k),
                }
            ],
        },
    }


def _image_tag(image: str) -> str | None:
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last and "@" not in image else None


def inference_service(spec: DeploymentSpec, k: KubernetesSpec, model: ModelEntry, image: str) -> dict[str, Any]:
    name = isvc_name(model)
    pod_spec = model_spec_in_pod(spec, model)
    knative = k.kserve.deployment_mode in KNATIVE_MODES
    probes = pod.probes(pod_spec, k_for_model(k, model), KSERVE_GRPC_PORT, KSERVE_REST_PORT)
    if knative:  # Knative checks readiness itself on the serving port and refuses extra probe ports
        probes = {"readinessProbe": probes["readinessProbe"]}
    model_part: dict[str, Any] = {
        "modelFormat": dict(MODEL_FORMAT),
        "runtime": runtime_name(k),
        "storageUri": storage_uri(k, model),
        "args": server_flags(pod_spec, CONTAINER_CONFIG_ROOT),
        "resources": pod.resources(k),
        "securityContext": pod.container_security_context(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONTAINER_CONFIG_ROOT, "readOnly": True},
            {"name": pod.TMP_VOLUME, "mountPath": "/tmp"},
        ],
        **probes,
        "lifecycle": pod.lifecycle(k),
    }
    tag = _image_tag(image)
    if k.kserve.runtime == KSERVE_RUNTIME and tag:
        model_part["runtimeVersion"] = tag  # KServe's runtime pins tensorflow/serving:2.6.2 otherwise
    predictor: dict[str, Any] = {}
    if k.kserve.min_replicas is not None:
        predictor["minReplicas"] = k.kserve.min_replicas
    if k.kserve.max_replicas is not None:
        predictor["maxReplicas"] = k.kserve.max_replicas
    if k.kserve.canary_traffic_percent is not None and CANARY_LABEL in model.labels:
        predictor["canaryTrafficPercent"] = k.kserve.canary_traffic_percent
    predictor.update(
        {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": k.termination_grace_period_seconds,
            "securityContext": pod.pod_security_context(k),
            **pod.scheduling(k),
            "volumes": [
                {"name": "config", "configMap": {"name": f"{name}-config"}},
                {"name": pod.TMP_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}},
            ],
            "model": model_part,
        }
    )
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "namespace": k.namespace,
            "labels": pod.standard_labels(k, "inference-service"),
            "annotations": {DEPLOYMENT_MODE_ANNOTATION: k.kserve.deployment_mode},
        },
        "spec": {"predictor": predictor},
    }


def k_for_model(k: KubernetesSpec, model: ModelEntry) -> KubernetesSpec:
    """Each InferenceService serves one model, so its readiness probe names that model."""
    return dataclasses.replace(k, readiness_model=model.name)


def kserve_objects(spec: DeploymentSpec, k: KubernetesSpec, models_dir: Path | None, image: str) -> dict[str, Any]:
    """File name -> object: the ServingRuntime (unless KServe's own is used), then per model a ConfigMap and the
    InferenceService."""
    objects: dict[str, Any] = {}
    if k.kserve.runtime != KSERVE_RUNTIME:
        objects["servingruntime.yaml"] = serving_runtime(spec, k, image)
    for model in spec.models:
        name = isvc_name(model)
        objects[f"{name}-configmap.yaml"] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-config", "namespace": k.namespace,
                         "labels": pod.standard_labels(k, "config")},
            "data": pod.config_files(model_spec_in_pod(spec, model), None),
        }
        objects[f"{name}-inferenceservice.yaml"] = inference_service(spec, k, model, image)
    return objects
