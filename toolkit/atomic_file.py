"""Write a file atomically: through a temporary file next to it, flushed to disk and renamed over it, so a reader
(a polling model server, ``kubectl apply``, a second ``tfs`` command) sees the old file or the new one, never half of
one; on any error the temporary file is removed and the target is left as it was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_file(path: str | Path, *, binary: bool = False, permissions: int = 0o644) -> Iterator[IO[Any]]:
    """A file handle to write ``path``'s new content to; it replaces ``path`` when the block ends without error.
    ``permissions``: the new file's mode (``mkstemp`` makes 0600; served config files must be readable)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
