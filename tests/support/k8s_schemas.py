"""Offline schema validation of rendered manifests: core objects against the real Kubernetes OpenAPI schemas
(``kubernetes-validate``, strict: unknown fields fail, an unknown kind fails), KServe objects against the CRD schemas
vendored in ``tests/data/kserve`` (made strict the way the API server's ``--validate=strict`` is), with their
``metadata`` checked as a real ``ObjectMeta``."""

from __future__ import annotations

import copy
import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

KUBERNETES_VERSIONS = ("1.30", "1.33", "1.36")
"""The Kubernetes minor versions every manifest is validated against."""
KSERVE_DIR = Path(__file__).resolve().parents[1] / "data" / "kserve"
KSERVE_SCHEMAS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice-v1beta1.schema.json.gz",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "servingruntime-v1alpha1.schema.json.gz",
}


def strict(schema: Any) -> Any:
    """Refuse unknown fields wherever the CRD lists properties and neither preserves unknown fields nor allows
    extra keys (the API server's pruning rule)."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@functools.cache
def kserve_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    name = KSERVE_SCHEMAS[(api_version, kind)]
    with gzip.open(KSERVE_DIR / name, "rb") as handle:
        schema = strict(json.load(handle))
    # The CRD leaves metadata to the API server; it is checked as ObjectMeta below.
    schema["properties"]["metadata"] = {"type": "object"}
    return jsonschema.Draft202012Validator(schema)


def validate(obj: dict[str, Any], version: str) -> None:
    """Raise if ``obj`` is not valid for Kubernetes ``version`` (or for KServe's CRDs)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in KSERVE_SCHEMAS:
        kserve_validator(*key).validate(obj)
        # ObjectMeta rules: validate the metadata inside a ConfigMap, the simplest core object carrying it.
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": copy.deepcopy(
            obj["metadata"])}, version, strict=True)
        return
    kubernetes_validate.validate(obj, version, strict=True)  # SchemaNotFoundError for an unknown kind
