"""Single-file packages of one model version: ``tfs pack`` / ``tfs unpack``.

A package is a gzipped tar holding ``tfs-package.json`` (the manifest: name, version, the toolkit and TensorFlow
versions, the signatures, whether test data is inside, and the size and sha256 of every file) and the version
folder under ``model/``. Packing is deterministic: entries sorted, mtimes, owners and modes fixed, no gzip
timestamp, so the same version always gives the same bytes.

Unpacking trusts nothing: only regular files and folders under ``model/`` (no absolute paths, ``..``, links or
device files) are accepted, tarfile's ``data`` filter extracts them into a private temporary folder, every file
must match the manifest's size and sha256 and no file may be unlisted; then the SavedModel is published through
the normal export path (copied into staging, validated in a clean process with the test data packaged inside,
renamed into place). Checksums detect damage, not malice: whoever can rewrite the archive can rewrite its manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from toolkit.atomic_file import atomic_file
from toolkit.export.errors import ExportError
from toolkit.export.progress import ExportProgress
from toolkit.export.testdata import TEST_DATA_DIR
from toolkit.repository import model_dir, parse_version, version_dir
from toolkit.savedmodel import read_saved_model, read_signatures

MANIFEST_NAME = "tfs-package.json"
MODEL_ROOT = "model"
FORMAT = "tfs-package"
FORMAT_VERSION = 1
PACKAGE_SUFFIX = ".tfs.tar.gz"
_FIXED_MTIME = 0
_CHUNK = 1 << 20


class PackageError(ExportError):
    """A package cannot be written, or an archive is refused; nothing was published."""


@dataclass(frozen=True)
class PackResult:
    """What ``pack`` wrote."""

    path: Path
    name: str
    version: int
    files: int
    bytes: int
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME/VERSION`` -> (name, version or None)."""
    name, sep, version_text = ref.partition("/")
    if not sep:
        return name, None
    version = parse_version(version_text)
    if version is None or "/" in version_text:
        raise PackageError(f"model: expected NAME or NAME/VERSION with an integer VERSION, got {ref!r}")
    return name, version


def _tree_entries(root: Path) -> tuple[list[str], list[str]]:
    """(folders, files) under ``root`` as sorted POSIX relative paths; links and special files are refused."""
    folders, files = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                raise PackageError(f"{path}: a symbolic link; a package holds regular files and folders only")
            if path.is_dir():
                folders.append(rel)
            elif path.is_file():
                files.append(rel)
            else:
                raise PackageError(f"{path}: not a regular file; a package holds regular files and folders only")
    return sorted(folders), sorted(files)


def _manifest(source: Path, name: str, version: int, files: list[str]) -> dict[str, Any]:
    saved_model = read_saved_model(source)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "toolkit_version": _distribution_version("tfs-toolkit"),
        "tensorflow_version": _distribution_version("tensorflow"),
        "saved_model_tensorflow_version": saved_model.meta_graphs[0].meta_info_def.tensorflow_version or None,
        "signatures": {k: v.to_json() for k, v in read_signatures(source).items()},
        "test_data": (source / TEST_DATA_DIR / "meta.json").is_file(),
        "files": [{"path": rel, "size": (source / rel).stat().st_size, "sha256": _sha256(source / rel)}
                  for rel in files],
    }


def _tar_info(name: str, *, size: int = 0, folder: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if folder else tarfile.REGTYPE
    info.mode = 0o755 if folder else 0o644
    info.size = 0 if folder else size
    info.mtime = _FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(repository: str | Path, ref: str, output: str | Path) -> PackResult:
    """Write ``NAME[/VERSION]`` (default: the latest version) of ``repository`` into the package ``output``."""
    name, version = parse_model_ref(ref)
    source = version_dir(model_dir(repository, name), version)
    version = parse_version(source.name)
    assert version is not None
    folders, files = _tree_entries(source)
    manifest = _manifest(source, name, version, files)
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    output = Path(output)
    if output.is_dir():
        raise PackageError(f"-o {output}: expected a file name such as {name}-{version}{PACKAGE_SUFFIX}, got a folder")
    with atomic_file(output, binary=True) as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=_FIXED_MTIME) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tar_info(MANIFEST_NAME, size=len(manifest_bytes)), io.BytesIO(manifest_bytes))
                tar.addfile(_tar_info(MODEL_ROOT, folder=True))
                for entry in sorted([*((f, True) for f in folders), *((f, False) for f in files)]):
                    rel, is_folder = entry
                    arcname = f"{MODEL_ROOT}/{rel}"
                    if is_folder:
                        tar.addfile(_tar_info(arcname, folder=True))
                        continue
                    path = source / rel
                    with path.open("rb") as handle:
                        tar.addfile(_tar_info(arcname, size=path.stat().st_size), handle)
    return PackResult(output, name, version, len(files), output.stat().st_size, _sha256(output))


# ------------------------------------------------------------------------------------------------ unpack
def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse anything but regular files and folders at safe relative paths under model/ (or the manifest)."""
    name = member.name
    pure = PurePosixPath(name)
    where = f"{archive}: entry {name!r}"
    if not name or pure.is_absolute() or name.startswith(("/", "\\")):
        raise PackageError(f"{where}: absolute path refused; nothing was published")
    if ".." in pure.parts or "\\" in name:
        raise PackageError(f"{where}: path escapes the package ('..' or '\\\\'); nothing was published")
    if member.issym() or member.islnk():
        raise PackageError(f"{where}: {'symbolic' if member.issym() else 'hard'} link to {member.linkname!r} "
                           "refused (a package holds regular files and folders only); nothing was published")
    if not (member.isreg() or member.isdir()):
        raise PackageError(f"{where}: device, fifo or other special file refused; nothing was published")
    if name != MANIFEST_NAME and pure.parts[0] != MODEL_ROOT:
        raise PackageError(f"{where}: expected {MANIFEST_NAME} or a path under {MODEL_ROOT}/; nothing was published")
    if name == MANIFEST_NAME and not member.isreg():
        raise PackageError(f"{where}: the manifest must be a regular file; nothing was published")


def _open_members(archive: Path) -> tuple[tarfile.TarFile, list[tarfile.TarInfo]]:
    if not archive.is_file():
        raise PackageError(f"{archive}: no such package file")
    try:
        tar = tarfile.open(archive, mode="r:gz")
        members = tar.getmembers()  # reads to the end: a truncated archive fails here
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackageError(f"{archive}: not a readable {PACKAGE_SUFFIX} package (truncated or damaged: {exc}); "
                           "nothing was published") from None
    return tar, members


def _load_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        handle = tar.extractfile(MANIFEST_NAME)
        manifest = json.loads(handle.read().decode("utf-8")) if handle else None
    except KeyError:
        raise PackageError(f"{archive}: no {MANIFEST_NAME} in the archive; not a tfs package") from None
    except (ValueError, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackageError(f"{archive}: {MANIFEST_NAME} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"{archive}: {MANIFEST_NAME}: format: expected {FORMAT!r}, got "
                           f"{manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"{archive}: {MANIFEST_NAME}: format_version: expected {FORMAT_VERSION}, got "
                           f"{manifest.get('format_version')!r}")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and {"path", "size", "sha256"} <= set(f)
                                              for f in files):
        raise PackageError(f"{archive}: {MANIFEST_NAME}: files: expected a list of {{path, size, sha256}}")
    return manifest


def _verify(extracted: Path, manifest: dict[str, Any], archive: Path) -> None:
    """Every listed file is present with its size and sha256; no file is unlisted."""
    listed = {f["path"]: f for f in manifest["files"]}
    _folders, present = _tree_entries(extracted)
    unlisted = sorted(set(present) - set(listed))
    if unlisted:
        raise PackageError(f"{archive}: {MODEL_ROOT}/{unlisted[0]}: not listed in the manifest; nothing was published")
    for rel, entry in sorted(listed.items()):
        path = extracted / rel
        if rel not in present:
            raise PackageError(f"{archive}: {MODEL_ROOT}/{rel}: listed in the manifest but missing; nothing was published")
        size = path.stat().st_size
        if size != entry["size"]:
            raise PackageError(f"{archive}: {MODEL_ROOT}/{rel}: size: expected {entry['size']}, got {size}; "
                               "nothing was published")
        digest = _sha256(path)
        if digest != entry["sha256"]:
            raise PackageError(f"{archive}: {MODEL_ROOT}/{rel}: sha256: expected {entry['sha256']}, got {digest}; "
                               "nothing was published")


def unpack(archive: str | Path, repository: str | Path, *, name: str | None = None,
           version: int | None = None, force: bool = False, progress: ExportProgress | None = None) -> Any:
    """Verify ``archive`` and publish it as ``name`` (default: the packaged name), ``version`` (default: next);
    ``progress`` is told the export's steps.

    Returns the ``ExportResult`` of the normal export path; raises ``PackageError`` / ``ExportError`` and
    publishes nothing when anything is wrong."""
    from toolkit.export import export_model

    archive = Path(archive)
    tar, members = _open_members(archive)
    with tar:
        seen: set[str] = set()
        for member in members:
            _check_member(member, archive)
            normalized = PurePosixPath(member.name).as_posix()
            if normalized in seen and not member.isdir():
                raise PackageError(f"{archive}: entry {member.name!r} appears twice; nothing was published")
            seen.add(normalized)
        manifest = _load_manifest(tar, archive)
        with tempfile.TemporaryDirectory(prefix="tfs-unpack-") as tmp:
            try:
                tar.extractall(tmp, members=[m for m in members if m.name != MANIFEST_NAME], filter="data")
            except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                raise PackageError(f"{archive}: cannot be extracted ({exc}); nothing was published") from None
            extracted = Path(tmp) / MODEL_ROOT
            if not extracted.is_dir():
                raise PackageError(f"{archive}: no {MODEL_ROOT}/ folder in the archive; nothing was published")
            _verify(extracted, manifest, archive)
            return export_model(extracted, name or str(manifest.get("name") or "model"), repository, version=version,
                                force=force, progress=progress)
