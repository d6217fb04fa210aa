"""``tfs k8s`` renders from several specs; every object passes strict schema validation at three Kubernetes
versions (KServe objects against KServe's CRD schemas) and carries what the spec asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.k8s_schemas import KUBERNETES_VERSIONS, validate
from tests.unit.k8s.conftest import make_spec
from toolkit.k8s.files import RenderOptions, render_objects
from toolkit.launch.container import container_spec

LABELLED = [{"name": "planet", "base_path": "/models/planet", "version_policy": "specific", "versions": [1, 2],
             "labels": {"stable": 1, "canary": 2}}]
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], RenderOptions]] = {
    "gpu-pvc": ({}, {}, RenderOptions()),
    "cpu-pvc": ({}, {}, RenderOptions(cpu=True)),
    "gpu-bake": ({}, {}, RenderOptions(bake=True)),
    "cpu-bake-health": ({}, {"server": {"gpu": False, "enable_grpc_healthcheck_service": True}},
                        RenderOptions(bake=True)),
    "labels-canary": ({"kserve": {"deployment_mode": "Serverless", "canary_traffic_percent": 10}},
                      {"models": LABELLED}, RenderOptions()),
    "kserve-runtime-scheduling": (
        {"namespace": "ml", "replicas": 3, "gpus": 1, "cpu": "500m", "memory": "4Gi", "cpu_limit": 2,
         "service_type": "LoadBalancer", "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
         "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
         "kserve": {"runtime": "kserve-tensorflow-serving", "storage_uri": "gs://bucket/models/", "max_replicas": 5}},
        {"batching": {"enabled": True}}, RenderOptions()),
}


def render(name: str, models_dir: Path) -> tuple[Any, dict[str, Any]]:
    kubernetes, tables, options = VARIANTS[name]
    spec = make_spec(kubernetes, **tables)
    return spec, render_objects(spec, models_dir, options)


def pod_container(objects: dict[str, Any]) -> dict[str, Any]:
    return objects["plain/deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_validates_strictly(variant: str, models_dir: Path) -> None:
    _, objects = render(variant, models_dir)
    manifests = [o for o in objects.values() if isinstance(o, dict)]
    kinds = {o["kind"] for o in manifests}
    assert {"ConfigMap", "Deployment", "Service", "InferenceService"} <= kinds
    for obj in manifests:
        for version in KUBERNETES_VERSIONS:
            validate(obj, version)


def test_flags_and_image_are_the_container_specs(models_dir: Path) -> None:
    spec, objects = render("gpu-pvc", models_dir)
    c = pod_container(objects)
    docker = container_spec(spec)
    assert c["image"] == docker.image == "tensorflow/serving:2.20.0-gpu"
    assert c["args"] == ["--port=8500", "--rest_api_port=8501", *docker.command]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 2  # [server] gpu_count
    assert "nvidia.com/gpu" not in c["resources"]["requests"]
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}


def test_cpu_variant_has_cpu_image_and_no_gpu(models_dir: Path) -> None:
    _, objects = render("cpu-pvc", models_dir)
    c = pod_container(objects)
    assert c["image"] == "tensorflow/serving:2.20.0"
    assert not any("gpu" in key for key in c["resources"].get("limits", {}))
    isvc = objects["kserve/planet-inferenceservice.yaml"]["spec"]["predictor"]["model"]
    assert not any("gpu" in key for key in isvc["resources"].get("limits", {}))


def test_security_drain_and_probes(models_dir: Path) -> None:
    _, objects = render("gpu-pvc", models_dir)
    pod = objects["plain/deployment.yaml"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False,
                                    "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert all(m["readOnly"] for m in c["volumeMounts"] if m["mountPath"] in ("/models", "/config"))
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "tfs-serving-models", "readOnly": True}} in pod[
        "volumes"]
    assert pod["terminationGracePeriodSeconds"] == 30
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]
    assert c["command"][:2] == ["/bin/bash", "-c"] and c["command"][3] == "/usr/bin/tensorflow_model_server"
    assert c["readinessProbe"]["httpGet"] == {"path": "/v1/models/planet/metadata", "port": "http"}
    assert c["livenessProbe"]["tcpSocket"] == {"port": 8500}
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 600


def test_health_service_turns_liveness_into_a_grpc_probe(models_dir: Path) -> None:
    _, objects = render("cpu-bake-health", models_dir)
    c = pod_container(objects)
    assert "--enable_grpc_healthcheck_service=true" in c["args"]
    assert c["livenessProbe"]["grpc"] == {"port": 8500, "service": "PredictionService"}
    assert c["startupProbe"]["grpc"] == {"port": 8500, "service": "PredictionService"}
    _, without = render("cpu-pvc", models_dir)
    assert "grpc" not in pod_container(without)["livenessProbe"]


def test_bake_runs_the_baked_image_without_a_model_volume(models_dir: Path) -> None:
    _, objects = render("gpu-bake", models_dir)
    pod = objects["plain/deployment.yaml"]["spec"]["template"]["spec"]
    assert "plain/pvc.yaml" not in objects
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    assert pod["containers"][0]["image"].startswith("tfs-serving-models:")
    assert objects["Dockerfile"].count("\nFROM tensorflow/serving:2.20.0-gpu\n") == 1


def test_labels_map_to_canary_and_the_label_flag(models_dir: Path) -> None:
    _, objects = render("labels-canary", models_dir)
    isvc = objects["kserve/planet-inferenceservice.yaml"]
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert "--allow_version_labels_for_unavailable_models=true" in predictor["model"]["args"]
    assert "--allow_version_labels_for_unavailable_models=true" in pod_container(objects)["args"]
    assert set(predictor["model"]) & {"startupProbe", "livenessProbe"} == set()  # Knative refuses them
    config = objects["kserve/planet-configmap.yaml"]["data"]["models.config"]
    assert 'base_path: "/mnt/models"' in config and 'key: "canary"' in config
    _, plain = render("gpu-pvc", models_dir)
    assert "canaryTrafficPercent" not in plain["kserve/planet-inferenceservice.yaml"]["spec"]["predictor"]


def test_kserve_storage_uri_is_the_folder_holding_the_versions(models_dir: Path) -> None:
    _, objects = render("gpu-pvc", models_dir)
    model = objects["kserve/planet-inferenceservice.yaml"]["spec"]["predictor"]["model"]
    assert model["storageUri"] == "pvc://tfs-serving-models/planet"
    assert model["modelFormat"] == {"name": "tensorflow", "version": "2"}
    assert model["runtime"] == "tfs-serving-tensorflow-serving"
    runtime = objects["kserve/servingruntime.yaml"]["spec"]["containers"][0]
    assert runtime["image"] == "tensorflow/serving:2.20.0-gpu"
    assert runtime["args"] == ["--port=9000", "--rest_api_port=8080"]


def test_kserve_own_runtime_is_pinned_with_runtime_version(models_dir: Path) -> None:
    _, objects = render("kserve-runtime-scheduling", models_dir)
    assert "kserve/servingruntime.yaml" not in objects
    isvc = objects["kserve/planet-inferenceservice.yaml"]["spec"]["predictor"]
    assert isvc["model"]["runtime"] == "kserve-tensorflow-serving"
    assert isvc["model"]["runtimeVersion"] == "2.20.0-gpu"
    assert isvc["model"]["storageUri"] == "gs://bucket/models/planet"
    assert isvc["minReplicas"] == 3 and isvc["maxReplicas"] == 5
    assert isvc["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    dep = objects["plain/deployment.yaml"]
    assert dep["metadata"]["namespace"] == "ml" and dep["spec"]["replicas"] == 3
    assert objects["plain/service.yaml"]["spec"]["type"] == "LoadBalancer"
    c = pod_container(objects)
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "4Gi"},
                              "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1}}
    assert "batching.config" in objects["plain/configmap.yaml"]["data"]
    assert "--enable_batching=true" in c["args"]


def test_the_validation_itself_is_strict(models_dir: Path) -> None:
    """Unknown fields, a wrong type and an unknown kind fail; otherwise the tests above would prove nothing."""
    import copy

    import kubernetes_validate
    from jsonschema import ValidationError

    _, objects = render("gpu-pvc", models_dir)
    dep = copy.deepcopy(objects["plain/deployment.yaml"])
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(ValidationError):
        validate(dep, "1.36")
    isvc = copy.deepcopy(objects["kserve/planet-inferenceservice.yaml"])
    isvc["spec"]["predictor"]["minReplica"] = 1
    with pytest.raises(ValidationError, match="minReplica"):
        validate(isvc, "1.36")
    isvc = copy.deepcopy(objects["kserve/planet-inferenceservice.yaml"])
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = "10"
    with pytest.raises(ValidationError, match="integer"):
        validate(isvc, "1.36")
    old = {**copy.deepcopy(dep), "apiVersion": "extensions/v1beta1"}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(old, "1.36")
