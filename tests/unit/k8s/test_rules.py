"""Each rule an API server (or TF Serving) enforces beyond the schemas fails a bad object, naming field and value;
the rendered example passes them all."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.k8s.conftest import make_spec
from toolkit.k8s.files import RenderOptions, render_objects
from toolkit.k8s.rules import ManifestError, check_object, check_objects


@pytest.fixture
def objects(models_dir: Path) -> dict[str, Any]:
    return render_objects(make_spec(), models_dir, RenderOptions())


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


CASES = {
    "dns-1123 name": ("plain/configmap.yaml", _set(["metadata", "name"], "TFS_Config"), "metadata.name"),
    "service name dns-1035": ("plain/service.yaml", _set(["metadata", "name"], "1serving"), "metadata.name"),
    "isvc name dns-1035": ("kserve/planet-inferenceservice.yaml", _set(["metadata", "name"], "planet.v2"),
                           "metadata.name"),
    "namespace": ("plain/deployment.yaml", _set(["metadata", "namespace"], "ML"), "metadata.namespace"),
    "selector": ("plain/deployment.yaml", _set(["spec", "selector", "matchLabels"], {"app": "other"}),
                 "spec.selector.matchLabels"),
    "port name length": ("plain/deployment.yaml",
                         lambda o: _container(o)["ports"][0].update(name="grpc-inference-api"), "ports[0].name"),
    "service port name": ("plain/service.yaml", lambda o: o["spec"]["ports"][1].update(name="rest--api"),
                          "spec.ports[1].name"),
    "gpu request != limit": ("plain/deployment.yaml",
                             lambda o: _container(o)["resources"]["requests"].update({"nvidia.com/gpu": 3}),
                             "requests.nvidia.com/gpu"),
    "gpu only requested": ("plain/deployment.yaml",
                           lambda o: (_container(o)["resources"]["requests"].update({"nvidia.com/gpu": 1}),
                                      _container(o)["resources"]["limits"].pop("nvidia.com/gpu")),
                           "limits.nvidia.com/gpu"),
    "quantity": ("plain/deployment.yaml", lambda o: _container(o)["resources"]["requests"].update(memory="4GB-ish"),
                 "requests.memory"),
    "pvc quantity": ("plain/pvc.yaml", _set(["spec", "resources", "requests", "storage"], "10 GB"),
                     "requests.storage"),
    "readiness names a served model": ("plain/deployment.yaml",
                                       lambda o: _container(o)["readinessProbe"]["httpGet"].update(
                                           path="/v1/models/moon/metadata"), "readinessProbe.httpGet.path"),
    "readiness port matches --rest_api_port": ("plain/deployment.yaml",
                                               lambda o: _container(o)["readinessProbe"]["httpGet"].update(port=8500),
                                               "readinessProbe.httpGet.port"),
    "liveness port matches --port": ("plain/deployment.yaml",
                                     lambda o: _container(o)["livenessProbe"]["tcpSocket"].update(port=9000),
                                     "livenessProbe.tcpSocket.port"),
    "container port matches the flag": ("plain/deployment.yaml",
                                        lambda o: _container(o)["args"].append("--rest_api_port=8601"), "ports"),
    "label value": ("plain/service.yaml", lambda o: o["metadata"]["labels"].update(team="a b"), "metadata.labels"),
}


def test_rendered_objects_pass(objects: dict[str, Any]) -> None:
    check_objects((o for o in objects.values() if isinstance(o, dict)), {"planet"})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_object_fails(case: str, objects: dict[str, Any]) -> None:
    path, breaks, field = CASES[case]
    obj = copy.deepcopy(objects[path])
    assert check_object(obj, {"planet"}) == []
    breaks(obj)
    problems = check_object(obj, {"planet"})
    assert problems, f"{case}: not detected"
    assert field in problems[0] and "expected" in problems[0] and "got" in problems[0], problems
    with pytest.raises(ManifestError, match=obj["kind"]):
        check_objects([obj], {"planet"})
