"""``tfs up``'s readiness wait: poll each model's status until every expected version is ``AVAILABLE``; fail fast
when one failed to load or when the server process/container dies. What "ready" and "failed" mean (END with an
error is a failed load, END with OK an unloaded version) is ``clients.readiness``, shared with the clients and smoke.

Status comes from REST ``GET /v1/models/<name>`` (TF Serving's GetModelStatus as JSON), read by the REST client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from clients import RestClient
from clients.errors import TfsError
from clients.readiness import is_available, load_failures
from clients.types import ModelVersionStatus
from toolkit.deployment import DeploymentSpec
from toolkit.launch.errors import LaunchError, ModelLoadError
from toolkit.repository import host_model_dir, list_versions
from toolkit.versions import VersionPolicy

VersionStatus = ModelVersionStatus
"""One entry of ``model_version_status``: version, state, error_code, error_message (the clients' own type)."""


class StatusUnavailable(Exception):
    """The server did not answer (yet) or answered with an error for this model."""


def fetch_model_status(rest_url: str, model: str, *, timeout: float = 5.0) -> list[VersionStatus]:
    """``GET /v1/models/<model>`` through the REST client, newest version first (as the server sends)."""
    try:
        with RestClient(rest_url, timeout=timeout) as client:
            return client.status(model)
    except TfsError as exc:
        raise StatusUnavailable(f"GET /v1/models/{model}: {exc}") from None


def expected_versions(spec: DeploymentSpec, deploy_dir: str | Path) -> dict[str, list[int] | None]:
    """Model -> versions the server will load (its policy applied to the folders on disk); None = not visible
    from here (a URI base path): then any AVAILABLE version counts. No version folder at all is an error, since
    TF Serving would wait for one forever."""
    expected: dict[str, list[int] | None] = {}
    for model in spec.models:
        host_dir = host_model_dir(model.base_path, Path(deploy_dir) / "models")
        if host_dir is None:
            expected[model.name] = None
            continue
        on_disk = list_versions(host_dir) if host_dir.is_dir() else []
        versions = VersionPolicy.of_spec(model).served(on_disk)
        if not versions:
            raise LaunchError(
                f"model {model.name!r}: no version to serve under {host_dir} (policy {model.policy}, folders on "
                f"disk: {on_disk or 'none'}); export one first (`tfs export ... --name {model.name}`). TF Serving "
                "would wait forever for it."
            )
        expected[model.name] = versions
    return expected


def check_ready(statuses: dict[str, list[VersionStatus]], expected: dict[str, list[int] | None]) -> bool:
    """True when every expected version is AVAILABLE; raises ModelLoadError when one failed to load."""
    ready = True
    for model, wanted in expected.items():
        listed = statuses.get(model, [])
        failures = load_failures(listed, wanted)
        if failures:
            failed = failures[0]
            raise ModelLoadError(f"model {model!r} version {failed.version} failed to load "
                                 f"({failed.error_code}: {failed.error_message})", code=failed.error_code)
        ready &= is_available(listed, wanted)
    return ready


def wait_until_available(
    rest_url: str,
    expected: dict[str, list[int] | None],
    *,
    timeout: float = 600.0,
    interval: float = 0.5,
    failure: Callable[[], str | None] = lambda: None,
    progress: Callable[[dict[str, list[VersionStatus]], str | None], None] | None = None,
) -> dict[str, list[VersionStatus]]:
    """Poll until ready (returns the last statuses). ``failure()`` returns a message once the server has died,
    which stops the wait at once; so does a version in END. A deadline bounds the wait."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, list[VersionStatus]] = {}
    last_problem: str | None = None
    while True:
        dead = failure()
        if dead:
            raise ModelLoadError(f"the server stopped before the models were AVAILABLE: {dead}")
        for model in expected:
            try:
                statuses[model] = fetch_model_status(rest_url, model)
                last_problem = None
            except StatusUnavailable as exc:
                last_problem = str(exc)
        if progress is not None:
            progress(statuses, last_problem)
        if len(statuses) == len(expected) and check_ready(statuses, expected):
            return statuses
        if time.monotonic() >= deadline:
            states = {m: {s.version: s.state for s in v} for m, v in statuses.items()}
            raise LaunchError(
                f"models not AVAILABLE after {timeout:.0f}s (expected {expected}, last seen {states}"
                + (f", last error: {last_problem}" if last_problem else "")
                + "); see `tfs logs`"
            )
        time.sleep(interval)  # pause between polls; the deadline above bounds the wait


def resolve_labels(rest_url: str, model: str, labels: list[str], *, timeout: float = 5.0) -> dict[str, int | str]:
    """Label -> version as the live server resolves it (``GET .../labels/<L>/metadata`` echoes the version), or
    ``"error: <the server's message>"``."""
    resolved: dict[str, int | str] = {}
    with RestClient(rest_url, timeout=timeout) as client:
        for label in labels:
            try:
                version = client.metadata(model, label=label).version
                resolved[label] = version if version is not None else "error: the answer names no version"
            except TfsError as exc:
                resolved[label] = f"error: {exc.message}"
    return resolved
