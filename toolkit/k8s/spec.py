"""The ``[kubernetes]`` table of ``deploy/deployment.toml``: what only a cluster needs (namespace, replicas,
resources, GPUs, scheduling, service type, image, model volume, KServe options), validated into value objects.

Every bad value is one ``SpecError`` naming the field, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from toolkit.deployment import CONTAINER_MODELS_ROOT, DeploymentSpec, SpecError
from toolkit.k8s import names

MODEL_VOLUMES = ("pvc", "image")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
ACCESS_MODES = ("ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce", "ReadWriteOncePod")
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
KSERVE_RUNTIMES = ("toolkit", "kserve-tensorflow-serving")
"""``toolkit``: a ServingRuntime with our pinned image and flags; ``kserve-tensorflow-serving``: KServe's own."""
KSERVE_MODES = ("RawDeployment", "Standard", "Serverless", "Knative")
"""KServe's deployment modes (``Standard``/``Knative`` are the newer names of ``RawDeployment``/``Serverless``)."""
KNATIVE_MODES = ("Serverless", "Knative")
"""Only these honour ``canaryTrafficPercent`` (KServe's Knative reconciler splits traffic; raw mode ignores it)."""
CANARY_LABEL = "canary"


@dataclass(frozen=True)
class KServeSpec:
    """``[kubernetes.kserve]``: how the InferenceServices are rendered."""

    runtime: str = "toolkit"
    storage_uri: str = ""
    deployment_mode: str = "RawDeployment"
    canary_traffic_percent: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True)
class KubernetesSpec:
    """``[kubernetes]``, with defaults filled in from the rest of the spec."""

    name: str = "tfs-serving"
    namespace: str = "default"
    replicas: int = 1
    image: str = ""
    image_pull_policy: str = "IfNotPresent"
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    cpu: str = "1"
    memory: str = "2Gi"
    cpu_limit: str = ""
    memory_limit: str = ""
    service_type: str = "ClusterIP"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    model_volume: str = "pvc"
    pvc_name: str = ""
    create_pvc: bool = True
    storage_size: str = "10Gi"
    storage_class: str = ""
    access_mode: str = "ReadWriteMany"
    baked_image: str = ""
    termination_grace_period_seconds: int = 30
    drain_seconds: int = 10
    startup_timeout_seconds: int = 600
    readiness_model: str = ""
    run_as_user: int = 1000
    run_as_group: int = 1000
    kserve: KServeSpec = field(default_factory=KServeSpec)

    @property
    def config_map_name(self) -> str:
        return f"{self.name}-config"

    @property
    def gpu(self) -> bool:
        return self.gpus > 0


def _fail(field_name: str, expected: str, got: Any) -> SpecError:
    return SpecError(f"kubernetes.{field_name}: expected {expected}, got {got!r}")


def _int(raw: dict[str, Any], key: str, default: int, minimum: int, where: str = "") -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{where}{key}", f"an integer >= {minimum}", value)
    return value


def _optional_int(raw: dict[str, Any], key: str, minimum: int, where: str = "") -> int | None:
    """``_int`` for a key whose absence means "not set"."""
    return None if raw.get(key) is None else _int(raw, key, 0, minimum, where)


def _choice(raw: dict[str, Any], key: str, default: str, choices: tuple[str, ...], where: str = "") -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise _fail(f"{where}{key}", f"one of {', '.join(repr(c) for c in choices)}", value)
    return str(value)


def _str(raw: dict[str, Any], key: str, default: str, where: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise _fail(f"{where}{key}", "a string", value)
    return value


def _check_keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")


def _quantity(raw: dict[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if value == "" and default == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    problem = names.quantity_problem(value)
    if problem or str(value).startswith("-"):
        raise _fail(key, problem or "a non-negative quantity", value)
    return str(value)


def _tolerations(raw: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list):
        raise _fail("tolerations", "an array of tables", raw)
    result = []
    for index, item in enumerate(raw):
        where = f"tolerations[{index}]"
        if not isinstance(item, dict):
            raise _fail(where, "a table", item)
        unknown = sorted(set(item) - TOLERATION_KEYS)
        if unknown:
            raise _fail(where, f"keys among {sorted(TOLERATION_KEYS)}", unknown)
        operator = item.get("operator", "Equal")
        if operator not in TOLERATION_OPERATORS:
            raise _fail(f"{where}.operator", "'Exists' or 'Equal'", operator)
        if "effect" in item and item["effect"] not in TOLERATION_EFFECTS:
            raise _fail(f"{where}.effect", f"one of {', '.join(TOLERATION_EFFECTS)}", item["effect"])
        for key in ("key", "value"):
            if key in item and not isinstance(item[key], str):
                raise _fail(f"{where}.{key}", "a string", item[key])
        if operator == "Exists" and item.get("value"):
            raise _fail(f"{where}.value", "no value with operator 'Exists'", item["value"])
        if "tolerationSeconds" in item:
            seconds = item["tolerationSeconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise _fail(f"{where}.tolerationSeconds", "an integer", seconds)
            if item.get("effect") != "NoExecute":
                raise _fail(f"{where}.effect", "'NoExecute' with tolerationSeconds", item.get("effect"))
        result.append(dict(item))
    return tuple(result)


def _node_selector(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _fail("node_selector", "a table of label = value", raw)
    for key, value in raw.items():
        problem = names.label_value_problem(value)
        if problem:
            raise _fail(f"node_selector.{key}", problem, value)
    return {str(k): str(v) for k, v in raw.items()}


def _default_gpus(spec: DeploymentSpec) -> int:
    """``[server] gpu`` decides, as for compose; Kubernetes cannot ask for "all" GPUs, so "all" means one."""
    if not spec.server.gpu:
        return 0
    return spec.server.gpu_count if isinstance(spec.server.gpu_count, int) else 1


def _kserve(raw: Any, spec: DeploymentSpec, pvc_name: str, replicas: int) -> KServeSpec:
    if not isinstance(raw, dict):
        raise _fail("kserve", "a table", raw)
    _check_keys(raw, set(KServeSpec.__dataclass_fields__), "kubernetes.kserve")
    w = "kserve."
    runtime = _choice(raw, "runtime", "toolkit", KSERVE_RUNTIMES, w)
    storage_uri = _str(raw, "storage_uri", f"pvc://{pvc_name}", w).rstrip("/")
    if "://" not in storage_uri:
        raise _fail(f"{w}storage_uri", "a URI KServe's storage initializer reads (pvc://, s3://, gs://, ...)",
                    storage_uri)
    mode = _choice(raw, "deployment_mode", "RawDeployment", KSERVE_MODES, w)
    percent = _optional_int(raw, "canary_traffic_percent", 0, w)
    if percent is not None:
        if percent > 100:
            raise _fail(f"{w}canary_traffic_percent", "an integer in 0..100", percent)
        if mode not in KNATIVE_MODES:
            raise _fail(f"{w}deployment_mode", f"one of {', '.join(KNATIVE_MODES)} with canary_traffic_percent "
                        "(KServe splits traffic between revisions only in its Knative mode)", mode)
        if not any(CANARY_LABEL in m.labels for m in spec.models):
            raise _fail(f"{w}canary_traffic_percent", f"a model with a {CANARY_LABEL!r} label (the version the "
                        "new revision is rolled out for)", percent)
    min_replicas = _int(raw, "min_replicas", replicas, 0, w)
    max_replicas = _optional_int(raw, "max_replicas", 1, w)
    if max_replicas is not None and min_replicas is not None and max_replicas < min_replicas:
        raise _fail(f"{w}max_replicas", f"an integer >= min_replicas ({min_replicas})", max_replicas)
    return KServeSpec(runtime, storage_uri, mode, percent, min_replicas, max_replicas)


def kubernetes_spec(spec: DeploymentSpec, *, bake: bool = False, cpu: bool = False) -> KubernetesSpec:
    """Validate ``spec.kubernetes``; ``bake`` forces ``model_volume = "image"``, ``cpu`` forces ``gpus = 0``."""
    raw = spec.kubernetes
    _check_keys(raw, set(KubernetesSpec.__dataclass_fields__), "kubernetes")
    name = _str(raw, "name", "tfs-serving")
    problem = names.dns1035_label_problem(name)
    if problem or len(name) > 50:  # leaves room for the "-config" / "-models" suffixes
        raise _fail("name", (problem or "a DNS-1035 label") + ", at most 50 characters", name)
    namespace = _str(raw, "namespace", "default")
    if problem := names.dns1123_label_problem(namespace):
        raise _fail("namespace", problem, namespace)
    replicas = _int(raw, "replicas", 1, 0)
    gpus = 0 if cpu else _int(raw, "gpus", _default_gpus(spec), 0)
    gpu_resource = _str(raw, "gpu_resource", "nvidia.com/gpu")
    if "/" not in gpu_resource or names.dns1123_subdomain_problem(gpu_resource.split("/", 1)[0]):
        raise _fail("gpu_resource", "an extended resource name such as 'nvidia.com/gpu'", gpu_resource)
    model_volume = "image" if bake else _choice(raw, "model_volume", "pvc", MODEL_VOLUMES)
    pvc_name = _str(raw, "pvc_name", f"{name}-models")
    if problem := names.dns1123_subdomain_problem(pvc_name):
        raise _fail("pvc_name", problem, pvc_name)
    create_pvc = raw.get("create_pvc", True)
    if not isinstance(create_pvc, bool):
        raise _fail("create_pvc", "true or false", create_pvc)
    grace = _int(raw, "termination_grace_period_seconds", 30, 1)
    drain = _int(raw, "drain_seconds", 10, 0)
    if drain >= grace:
        raise _fail("drain_seconds", f"fewer seconds than termination_grace_period_seconds ({grace})", drain)
    readiness_model = _str(raw, "readiness_model", spec.models[0].name if spec.models else "")
    served = [m.name for m in spec.models]
    if readiness_model not in served:
        raise _fail("readiness_model", f"one of the served models {served}", readiness_model)
    storage_class = _str(raw, "storage_class", "")
    if storage_class and (problem := names.dns1123_subdomain_problem(storage_class)):
        raise _fail("storage_class", problem, storage_class)
    memory = _quantity(raw, "memory", "2Gi")
    for key in ("image", "baked_image"):
        value = _str(raw, key, "")
        if any(c.isspace() for c in value):
            raise _fail(key, "an image reference without spaces", value)
    return KubernetesSpec(
        name=name,
        namespace=namespace,
        replicas=replicas,
        image=_str(raw, "image", ""),
        image_pull_policy=_choice(raw, "image_pull_policy", "IfNotPresent", PULL_POLICIES),
        gpus=gpus,
        gpu_resource=gpu_resource,
        cpu=_quantity(raw, "cpu", "1"),
        memory=memory,
        cpu_limit=_quantity(raw, "cpu_limit", ""),
        memory_limit=_quantity(raw, "memory_limit", memory),
        service_type=_choice(raw, "service_type", "ClusterIP", SERVICE_TYPES),
        node_selector=_node_selector(raw.get("node_selector", {})),
        tolerations=_tolerations(raw.get("tolerations", [])),
        model_volume=model_volume,
        pvc_name=pvc_name,
        create_pvc=create_pvc,
        storage_size=_quantity(raw, "storage_size", "10Gi"),
        storage_class=storage_class,
        access_mode=_choice(raw, "access_mode", "ReadWriteMany", ACCESS_MODES),
        baked_image=_str(raw, "baked_image", ""),
        termination_grace_period_seconds=grace,
        drain_seconds=drain,
        startup_timeout_seconds=_int(raw, "startup_timeout_seconds", 600, 10),
        readiness_model=readiness_model,
        run_as_user=_int(raw, "run_as_user", 1000, 1),
        run_as_group=_int(raw, "run_as_group", 1000, 1),
        kserve=_kserve(raw.get("kserve", {}), spec, pvc_name, replicas),
    )


def model_folder(base_path: str) -> str | None:
    """The repository-relative folder of a server base path (``/models/planet`` -> ``planet``), else None."""
    prefix = CONTAINER_MODELS_ROOT.rstrip("/") + "/"
    if base_path.startswith(prefix) and ".." not in base_path.split("/"):
        return base_path[len(prefix):].strip("/") or None
    return None


def default_baked_image(name: str, baked: list[tuple[str, int]]) -> str:
    """``<name>-models:<tag>``; the tag follows the baked model versions, so a new version rolls the pods."""
    digest = hashlib.sha256(repr(sorted(baked)).encode()).hexdigest()[:12]
    return f"{name}-models:{digest}"
