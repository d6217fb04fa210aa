"""When is a model ready, and when has it failed to load? The one predicate, used by every client's
``wait_until_available``, by ``tfs up``'s wait (toolkit.launch.readiness) and by ``tfs smoke``.

TF Serving reports each version's state. ``END`` has two meanings, told apart by the status it carries:
END with an error status is a failed load (it will not be retried while aspired); END with OK is an unloaded
version (unaspired, e.g. replaced by a newer one), which is neither a failure nor ready.
With ``versions`` None, any AVAILABLE version makes the model ready, and it has failed only when every listed
version failed; with explicit ``versions``, each must be AVAILABLE and any of them failing is a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from clients.errors import ModelLoadError
from clients.types import ModelVersionStatus

__all__ = ["ModelLoadError", "check_ready", "is_available", "load_failures"]


def load_failures(statuses: Sequence[ModelVersionStatus], versions: Sequence[int] | None = None
                  ) -> list[ModelVersionStatus]:
    """The wanted versions that failed to load (END with an error), in the order asked (or listed)."""
    if versions is None:
        return list(statuses) if statuses and all(s.failed for s in statuses) else []
    by_version = {s.version: s for s in statuses}
    return [s for v in versions if (s := by_version.get(int(v))) is not None and s.failed]


def is_available(statuses: Sequence[ModelVersionStatus], versions: Sequence[int] | None = None) -> bool:
    """True when the wanted versions (default: any one version) are AVAILABLE."""
    if versions is None:
        return any(s.available for s in statuses)
    available = {s.version for s in statuses if s.available}
    return all(int(v) in available for v in versions)


def check_ready(model: str, statuses: Sequence[ModelVersionStatus], versions: Sequence[int] | None = None) -> bool:
    """``is_available``, but raises ModelLoadError (code = the server's error code) when a wanted version failed."""
    if is_available(statuses, versions):
        return True
    failures = load_failures(statuses, versions)
    if not failures:
        return False
    first = failures[0]
    if versions is None:
        message = f"model {model!r}: no version is available; version {first.version} failed to load: "
    else:
        message = f"model {model!r} version {first.version} failed to load: "
    raise ModelLoadError(message + first.error_message, code=first.error_code)
