"""Atomic publishing of a version folder: stage under a hidden, non-numeric sibling name (TF Serving ignores it),
fsync every file and folder, then rename it to the version number in one step.

A crash at any point leaves either no new version or a complete one. Replacing an existing version (``force``)
swaps the two folders atomically with ``renameat2(RENAME_EXCHANGE)`` where the kernel supports it, so the
server never sees the version missing; elsewhere it falls back to two renames.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

from toolkit.export.errors import VersionExistsError

log = logging.getLogger(__name__)

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".replaced-"
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """renameat2 with flags; False if the call or flag is unsupported here (then the caller falls back)."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def new_staging_dir(model_dir: Path, version: int) -> Path:
    """A fresh hidden folder beside the versions, on the same filesystem, named with our pid for cleanup."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{STAGING_PREFIX}{version}-pid{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(model_dir: Path) -> list[Path]:
    """Remove staging/replaced folders left by exporters that died (their pid is gone)."""
    removed: list[Path] = []
    if not model_dir.is_dir():
        return removed
    for child in model_dir.iterdir():
        if not child.name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
            continue
        pid_part = [p for p in child.name.split("-") if p.startswith("pid")]
        try:
            pid = int(pid_part[0][3:]) if pid_part else -1
        except ValueError:
            pid = -1
        if pid == os.getpid() or (pid > 0 and _pid_alive(pid)):
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
        log.info("removed stale export folder %s", child)
    return removed


def fsync_tree(root: Path) -> None:
    """fsync every file, then every folder bottom-up, so the rename publishes data that is on disk."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(staging: Path, target: Path, *, force: bool = False) -> None:
    """Move a complete, validated staging folder to ``target`` (the numbered version folder) atomically."""
    fsync_tree(staging)
    os.chmod(staging, 0o755)
    if target.exists() or target.is_symlink():
        if not force:
            raise VersionExistsError(f"version folder {target} already exists; pass force=True (--force) to replace it")
        if _rename2(staging, target, _RENAME_EXCHANGE):
            old = staging  # after the exchange the staging name holds the old version
        else:
            old = target.parent / f"{TRASH_PREFIX}{target.name}-pid{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
            os.rename(staging, target)
        _fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        renamed = _rename2(staging, target, _RENAME_NOREPLACE)
    except FileExistsError:
        raise VersionExistsError(f"version folder {target} appeared while exporting; not overwritten") from None
    if not renamed:
        # No renameat2 here: os.rename onto a missing name is atomic; a racing exporter that created the
        # name in between makes it fail (non-empty target) rather than merge.
        if target.exists():
            raise VersionExistsError(f"version folder {target} appeared while exporting; not overwritten")
        os.rename(staging, target)
    _fsync_dir(target.parent)
