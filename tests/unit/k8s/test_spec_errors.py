"""A bad ``[kubernetes]`` value is one clear error naming the field, the expected and the got value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.k8s.conftest import make_spec
from toolkit.deployment import SpecError
from toolkit.k8s.spec import kubernetes_spec

BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"replicas": -1}, "kubernetes.replicas", "-1"),
    ({"replicas": "3"}, "kubernetes.replicas", "'3'"),
    ({"gpus": True}, "kubernetes.gpus", "True"),
    ({"name": "TFS_Serving"}, "kubernetes.name", "'TFS_Serving'"),
    ({"namespace": "ML Team"}, "kubernetes.namespace", "'ML Team'"),
    ({"memory": "4GB-ish"}, "kubernetes.memory", "'4GB-ish'"),
    ({"cpu": "-1"}, "kubernetes.cpu", "'-1'"),
    ({"service_type": "Ingress"}, "kubernetes.service_type", "'Ingress'"),
    ({"model_volume": "nfs"}, "kubernetes.model_volume", "'nfs'"),
    ({"access_mode": "ReadMany"}, "kubernetes.access_mode", "'ReadMany'"),
    ({"drain_seconds": 40}, "kubernetes.drain_seconds", "40"),
    ({"readiness_model": "moon"}, "kubernetes.readiness_model", "'moon'"),
    ({"tolerations": [{"key": "gpu", "operator": "Maybe"}]}, "kubernetes.tolerations[0].operator", "'Maybe'"),
    ({"tolerations": {"key": "gpu"}}, "kubernetes.tolerations", "{'key': 'gpu'}"),
    ({"node_selector": {"pool": "gpu pool"}}, "kubernetes.node_selector.pool", "'gpu pool'"),
    ({"gpu_resource": "gpu"}, "kubernetes.gpu_resource", "'gpu'"),
    ({"kserve": {"runtime": "triton"}}, "kubernetes.kserve.runtime", "'triton'"),
    ({"kserve": {"storage_uri": "/data/models"}}, "kubernetes.kserve.storage_uri", "'/data/models'"),
    ({"kserve": {"canary_traffic_percent": 120, "deployment_mode": "Serverless"}},
     "kubernetes.kserve.canary_traffic_percent", "120"),
    ({"kserve": {"canary_traffic_percent": 10}}, "kubernetes.kserve.deployment_mode", "'RawDeployment'"),
    ({"kserve": {"canary_traffic_percent": 10, "deployment_mode": "Knative"}},
     "kubernetes.kserve.canary_traffic_percent", "10"),  # no model has a 'canary' label
    ({"kserve": {"min_replicas": 3, "max_replicas": 2}}, "kubernetes.kserve.max_replicas", "2"),
]


@pytest.mark.parametrize(("table", "field", "got"), BAD, ids=[b[1] + "=" + b[2] for b in BAD])
def test_bad_value_names_field_expected_got(table: dict[str, Any], field: str, got: str) -> None:
    with pytest.raises(SpecError) as info:
        kubernetes_spec(make_spec(table))
    message = str(info.value)
    assert message.startswith(f"{field}: expected "), message
    assert message.endswith(f"got {got}"), message


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match=r"kubernetes: unknown key\(s\) \['replica'\]; expected some of .*'replicas'"):
        kubernetes_spec(make_spec({"replica": 2}))


def test_defaults_follow_the_server_table() -> None:
    assert kubernetes_spec(make_spec({})).gpus == 2  # [server] gpu_count = 2
    assert kubernetes_spec(make_spec({}, server={"gpu": True, "gpu_count": "all"})).gpus == 1
    assert kubernetes_spec(make_spec({}, server={"gpu": False})).gpus == 0
    assert kubernetes_spec(make_spec({}), cpu=True).gpus == 0
