"""The clients' public calls, written once: each function has the call's public signature and docstring and
returns its plan (``clients._base``), built by the transport's ``_*_plan`` method. ``clients._api`` turns them into
the methods of the sync and asyncio clients, so a new parameter is one edit here (plus the plans that use it) and
in ``clients.protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from clients._base import DEFAULT, Plan, Timeout
from clients.types import ClassifyResult, ModelMetadata, ModelVersionStatus


class Planner(Protocol):
    """What the calls need of a client: its transport's plans (``_GrpcBase`` / ``_RestBase``, ``ClientCore``)."""

    def _predict_plan(self, inputs: Any, model: str, version: int | None, label: str | None, signature: str | None,
                      output_filter: Sequence[str] | None, timeout: Any) -> Plan[dict[str, np.ndarray]]: ...

    def _classify_plan(self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None,
                       label: str | None, signature: str | None, context: Mapping[str, Any] | None,
                       timeout: Any) -> Plan[ClassifyResult]: ...

    def _regress_plan(self, examples: Sequence[Mapping[str, Any]], model: str, version: int | None,
                      label: str | None, signature: str | None, context: Mapping[str, Any] | None,
                      timeout: Any) -> Plan[np.ndarray]: ...

    def _metadata_plan(self, model: str, version: int | None, label: str | None,
                       timeout: Any) -> Plan[ModelMetadata]: ...

    def _status_plan(self, model: str, version: int | None, label: str | None,
                     timeout: Any) -> Plan[list[ModelVersionStatus]]: ...

    def _wait_plan(self, model: str, versions: Sequence[int] | None, timeout: float | None,
                   poll_interval: float) -> Plan[list[ModelVersionStatus]]: ...

    def _multi_inference_plan(self, examples: Sequence[Mapping[str, Any]], model: str, tasks: Mapping[str, str],
                              version: int | None, label: str | None, context: Mapping[str, Any] | None,
                              timeout: Any) -> Plan[dict[str, ClassifyResult | np.ndarray]]: ...

    def _reload_config_plan(self, config: Any, metric_names: Sequence[str], timeout: Any) -> Plan[dict[str, int]]: ...



def predict(
    self: Planner,
    inputs: Mapping[str, Any] | Any,
    model: str,
    *,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
    output_filter: Sequence[str] | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[dict[str, np.ndarray]]:
    """Run a Predict signature. ``inputs``: dict of arrays, or one array for a single-input signature.

    ``output_filter``: the outputs to return (gRPC asks the server; TF Serving's REST API has no such field, so the
    REST clients apply it to the answer)."""
    return self._predict_plan(inputs, model, version, label, signature, output_filter, timeout)


def classify(
    self: Planner,
    examples: Sequence[Mapping[str, Any]],
    model: str,
    *,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
    context: Mapping[str, Any] | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[ClassifyResult]:
    """Classify tf.Example feature dicts; one list of (label, score) per example."""
    return self._classify_plan(examples, model, version, label, signature, context, timeout)


def regress(
    self: Planner,
    examples: Sequence[Mapping[str, Any]],
    model: str,
    *,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
    context: Mapping[str, Any] | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[np.ndarray]:
    """Regress tf.Example feature dicts; a float32 array with one value per example."""
    return self._regress_plan(examples, model, version, label, signature, context, timeout)


def metadata(
    self: Planner, model: str, *, version: int | None = None, label: str | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[ModelMetadata]:
    """The model's signatures (names, dtypes, shapes). Refreshes the client's signature cache."""
    return self._metadata_plan(model, version, label, timeout)


def status(
    self: Planner, model: str, *, version: int | None = None, label: str | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[list[ModelVersionStatus]]:
    """Version states (newest first, as the server lists them). TF Serving ignores ``label`` here."""
    return self._status_plan(model, version, label, timeout)


def wait_until_available(
    self: Planner,
    model: str,
    versions: Sequence[int] | None = None,
    *,
    timeout: float | None = 60.0,
    poll_interval: float = 0.25,
) -> Plan[list[ModelVersionStatus]]:
    """Poll status until ``versions`` (default: any version) are AVAILABLE; fail fast on a failed load."""
    return self._wait_plan(model, versions, timeout, poll_interval)


def multi_inference(
    self: Planner,
    examples: Sequence[Mapping[str, Any]],
    model: str,
    *,
    tasks: Mapping[str, str],
    version: int | None = None,
    label: str | None = None,
    context: Mapping[str, Any] | None = None,
    timeout: Timeout = DEFAULT,
) -> Plan[dict[str, ClassifyResult | np.ndarray]]:
    """Run several classify/regress signatures on the same examples in one call (gRPC only).

    ``tasks`` maps signature name -> ``"classify"`` or ``"regress"``; the result is keyed by signature name.
    """
    return self._multi_inference_plan(examples, model, tasks, version, label, context, timeout)


def reload_config(
    self: Planner, config: Any, *, metric_names: Sequence[str] = (), timeout: Timeout = DEFAULT
) -> Plan[dict[str, int]]:
    """Replace the server's model list (ModelServerConfig message or text proto; gRPC only, never retried).

    Blocks until newly added models are available, as TF Serving does. Returns requested metric increases.
    """
    return self._reload_config_plan(config, metric_names, timeout)
