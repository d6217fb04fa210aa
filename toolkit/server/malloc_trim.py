"""Give the C heap's free memory back to the system after a large request (glibc's ``malloc_trim``).

A large request's pieces (simdjson tapes, numpy buffers, response text) come from and return to malloc arenas of
the worker threads; glibc keeps such freed memory for reuse, so the server's RSS would stay at its peak. Trimming
after requests with large bodies or answers keeps the resident memory near what is in use. No-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# Requests or answers at least this large are followed by a trim (smaller ones reuse what the heap holds).
TRIM_AFTER_BYTES = 8 << 20

_trim = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
    _trim.argtypes = [ctypes.c_size_t]
    _trim.restype = ctypes.c_int
except (OSError, AttributeError):  # pragma: no cover - not glibc
    _trim = None


def after_request(request_bytes: int, reply_bytes: int) -> None:
    """Trim the heap when a request or its answer was large."""
    if _trim is not None and max(request_bytes, reply_bytes) >= TRIM_AFTER_BYTES:
        _trim(0)
