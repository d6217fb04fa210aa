"""Checks on rendered objects for what an API server (and TF Serving) refuses but the OpenAPI schemas let through:
DNS-1123 names, a selector that matches the template labels, port names of at most 15 characters, extended
resources (GPUs) only as limits or with requests equal to limits, valid quantities, and TF Serving's own rules:
a readiness path naming a served model, container ports matching the server's port flags."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.k8s import names

NAME_RULES = {
    "Service": names.dns1035_label_problem,
    "InferenceService": names.dns1035_label_problem,
}
"""Kinds whose names are DNS-1035 labels; all other kinds take DNS-1123 subdomains."""
STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage", "storage"}
MODEL_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/(?:versions/\d+|labels/[^/:]+))?(?:/metadata)?$")


class ManifestError(ToolkitError, ValueError):
    """A rendered object an API server or TF Serving would refuse; names the object, the field and the value."""


def _where(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')} {obj.get('metadata', {}).get('name', '?')!r}"


def _containers(obj: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    kind = obj.get("kind")
    spec = obj.get("spec", {})
    if kind == "Deployment":
        for i, c in enumerate(spec.get("template", {}).get("spec", {}).get("containers", [])):
            yield f"spec.template.spec.containers[{i}]", c
    elif kind == "ServingRuntime":
        for i, c in enumerate(spec.get("containers", [])):
            yield f"spec.containers[{i}]", c
    elif kind == "InferenceService":
        model = spec.get("predictor", {}).get("model")
        if model is not None:
            yield "spec.predictor.model", model


def _flag(args: list[str], name: str) -> str | None:
    """The last ``--name=value`` (TF Serving's parser: the last occurrence wins)."""
    value = None
    for arg in args:
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
    return value


def check_object(obj: dict[str, Any], served_models: set[str] | None = None) -> list[str]:
    """Problems with one object, each naming the field, what was expected and what was found."""
    problems: list[str] = []
    where = _where(obj)
    meta = obj.get("metadata", {})
    rule = NAME_RULES.get(obj.get("kind", ""), names.dns1123_subdomain_problem)
    if problem := rule(meta.get("name")):
        problems.append(f"{where}: metadata.name: expected {problem}, got {meta.get('name')!r}")
    if "namespace" in meta and (problem := names.dns1123_label_problem(meta["namespace"])):
        problems.append(f"{where}: metadata.namespace: expected {problem}, got {meta['namespace']!r}")
    for key, value in (meta.get("labels") or {}).items():
        if problem := names.label_value_problem(value):
            problems.append(f"{where}: metadata.labels.{key}: expected {problem}, got {value!r}")
    if obj.get("kind") == "Deployment":
        spec = obj.get("spec", {})
        selector = spec.get("selector", {}).get("matchLabels", {})
        labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            problems.append(
                f"{where}: spec.selector.matchLabels: expected labels the pod template carries ({labels}), "
                f"got {selector}"
            )
    if obj.get("kind") == "Service":
        for i, port in enumerate(obj.get("spec", {}).get("ports", [])):
            if "name" in port and (problem := names.port_name_problem(port["name"])):
                problems.append(f"{where}: spec.ports[{i}].name: expected {problem}, got {port['name']!r}")
    if obj.get("kind") == "PersistentVolumeClaim":
        storage = obj.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
        if problem := names.quantity_problem(storage):
            problems.append(f"{where}: spec.resources.requests.storage: expected {problem}, got {storage!r}")
    for path, container in _containers(obj):
        problems += _check_container(where, path, container, served_models)
    return problems


def _check_container(where: str, path: str, c: dict[str, Any], served: set[str] | None) -> list[str]:
    problems: list[str] = []
    port_names: dict[str, int] = {}
    for i, port in enumerate(c.get("ports", [])):
        if "name" in port:
            port_names[port["name"]] = port.get("containerPort")
            if problem := names.port_name_problem(port["name"]):
                problems.append(f"{where}: {path}.ports[{i}].name: expected {problem}, got {port['name']!r}")
    resources = c.get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    for section, values in (("requests", requests), ("limits", limits)):
        for key, value in values.items():
            if problem := names.quantity_problem(value):
                problems.append(f"{where}: {path}.resources.{section}.{key}: expected {problem}, got {value!r}")
    for key in set(requests) | set(limits):
        if key in STANDARD_RESOURCES or "/" not in key:
            continue
        if key not in limits:
            problems.append(f"{where}: {path}.resources.limits.{key}: expected a limit for the extended resource "
                            f"(requests alone are refused), got none")
        elif key in requests and str(requests[key]) != str(limits[key]):
            problems.append(f"{where}: {path}.resources.requests.{key}: expected equal to the limit "
                            f"{limits[key]!r}, got {requests[key]!r}")
    args = [*c.get("command", []), *c.get("args", [])]
    grpc, rest = _flag(args, "port"), _flag(args, "rest_api_port")
    declared = {p.get("containerPort") for p in c.get("ports", [])}
    for flag, value in (("--port", grpc), ("--rest_api_port", rest)):
        if c.get("ports") and value is not None and int(value) not in declared:
            problems.append(f"{where}: {path}.ports: expected a containerPort {value} for {flag}, got "
                            f"{sorted(p for p in declared if p is not None)}")
    for probe_name in ("readinessProbe", "startupProbe", "livenessProbe"):
        probe = c.get(probe_name)
        if not probe:
            continue
        http = probe.get("httpGet")
        if http is not None:
            match = MODEL_PATH.match(http.get("path", ""))
            if not match or (served is not None and match.group(1) not in served):
                problems.append(f"{where}: {path}.{probe_name}.httpGet.path: expected /v1/models/<a served model>"
                                f"[...] (served: {sorted(served or [])}), got {http.get('path')!r}")
        for kind in ("httpGet", "tcpSocket", "grpc"):
            target = probe.get(kind)
            if target is None:
                continue
            port = target.get("port")
            resolved = port_names.get(port) if isinstance(port, str) else port
            expected = {"httpGet": rest, "tcpSocket": grpc, "grpc": grpc}[kind]
            if isinstance(port, str) and port not in port_names:
                problems.append(f"{where}: {path}.{probe_name}.{kind}.port: expected one of the container's port "
                                f"names {sorted(port_names)}, got {port!r}")
            elif expected is not None and resolved != int(expected):
                flag = "--rest_api_port" if kind == "httpGet" else "--port"
                problems.append(f"{where}: {path}.{probe_name}.{kind}.port: expected {expected} ({flag}), "
                                f"got {port!r}")
    return problems


def check_objects(objects: Iterable[dict[str, Any]], served_models: set[str] | None = None) -> None:
    """Raise one ``ManifestError`` listing every problem, or return quietly."""
    problems = [p for obj in objects for p in check_object(obj, served_models)]
    if problems:
        raise ManifestError("; ".join(problems))
