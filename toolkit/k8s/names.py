"""The name and value rules a Kubernetes API server enforces that the OpenAPI schemas do not (one home for each)."""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""Service names, namespaces, container names: at most 63 characters."""
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""Names of most objects (Deployment, ConfigMap, PVC, ServingRuntime): at most 253 characters."""
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""Service and InferenceService names: a DNS-1123 label that starts with a letter, at most 63 characters."""
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
"""Port names: at most 15 characters, at least one letter, no '--'."""
QUANTITY = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)((Ki|Mi|Gi|Ti|Pi|Ei)|[numkMGTPE]|[eE][+-]?\d+)?$"
)
"""A resource quantity (``500m``, ``2``, ``4Gi``, ``1e3``), as apimachinery's ``resource.ParseQuantity`` reads it."""
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
"""Label values: at most 63 characters."""


def dns1123_label_problem(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.match(value):
        return "a DNS-1123 label (lowercase letters, digits and '-', starting and ending alphanumeric, at most 63)"
    return None


def dns1123_subdomain_problem(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 253 or not DNS1123_SUBDOMAIN.match(value):
        return "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending alphanumeric)"
    return None


def dns1035_label_problem(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not DNS1035_LABEL.match(value):
        return "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63)"
    return None


def port_name_problem(value: object) -> str | None:
    if (
        not isinstance(value, str)
        or len(value) > 15
        or not IANA_SVC_NAME.match(value)
        or "--" in value
        or not re.search("[a-z]", value)
    ):
        return "an IANA service name (at most 15 lowercase letters, digits and '-', with a letter, no '--')"
    return None


def quantity_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not QUANTITY.match(str(value)):
        return "a Kubernetes quantity such as '500m', '2', '4Gi'"
    return None


def label_value_problem(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
        return "a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending alphanumeric)"
    return None
