"""The model repository on disk: ``<root>/<name>/<version>/`` folders, named the way TF Serving recognises them.

Which names are versions is ``toolkit.versions.parse_version`` (TF Serving's rule); publishing relies on it:
versions are staged under a hidden non-numeric name and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.deployment import CONTAINER_MODELS_ROOT, SpecError, check_model_name
from toolkit.versions import INT64_MAX, parse_version

__all__ = [
    "check_version_number",
    "host_model_dir",
    "list_versions",
    "model_dir",
    "next_version",
    "parse_version",
    "version_dir",
]


def list_versions(model_dir: str | Path) -> list[int]:
    """Sorted version numbers present under a model folder (empty if the folder does not exist)."""
    path = Path(model_dir)
    if not path.is_dir():
        return []
    versions = {v for child in path.iterdir() if (v := parse_version(child.name)) is not None}
    return sorted(versions)


def version_dir(model_dir: str | Path, version: int | None = None) -> Path:
    """The folder of ``version`` (whatever its spelling: ``7``, ``007``) or of the highest version when None."""
    path = Path(model_dir)
    folders = {v: child for child in (path.iterdir() if path.is_dir() else ()) if child.is_dir()
               and (v := parse_version(child.name)) is not None}
    if not folders:
        raise ValueError(f"{path}: no version folders (expected numbered folders such as {path}/1)")
    if version is None:
        return folders[max(folders)]
    if version not in folders:
        raise ValueError(f"{path}: no version {version}; versions on disk are {sorted(folders)}")
    return folders[version]


def next_version(model_dir: str | Path) -> int:
    """One above the highest existing version, or 1 for a new model."""
    versions = list_versions(model_dir)
    return max(versions) + 1 if versions else 1


def model_dir(repository: str | Path, name: str) -> Path:
    """``<repository>/<name>`` after checking the name cannot escape the repository."""
    try:
        check_model_name(name)
    except SpecError as exc:
        raise ValueError(str(exc)) from None
    root = Path(repository).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ValueError(f"model name {name!r} resolves outside the repository {root}")
    return path


def check_version_number(version: int) -> int:
    """Versions must be positive int64 numbers (0 and negatives are legal for TF Serving but confusing)."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= INT64_MAX:
        raise ValueError(f"version: expected an integer in 1..{INT64_MAX}, got {version!r}")
    return version


def host_model_dir(base_path: str, models_dir: str | Path) -> Path | None:
    """Host folder behind a server base path: ``/models/<name>`` (as the container sees it) -> ``<models_dir>/<name>``;
    an absolute path that exists here (the embedded runtime's localized config) -> itself; URIs and other paths ->
    None. The one place that maps the server's view of the repository onto this machine's."""
    if "://" in base_path:
        return None
    prefix = CONTAINER_MODELS_ROOT.rstrip("/") + "/"
    if base_path.startswith(prefix):
        return Path(models_dir) / base_path[len(prefix) :]
    path = Path(base_path)
    return path if path.is_absolute() and path.is_dir() else None
