"""``asyncio.timeout`` / ``timeout_at`` on every supported Python: the standard library's from 3.11, the
``async-timeout`` backport (the same API) on 3.10. Both raise ``asyncio.TimeoutError`` when the time is up (the
builtin ``TimeoutError`` itself from 3.11 on), so that is the exception to catch."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout, timeout_at
else:  # pragma: no cover - exercised on Python 3.10
    from async_timeout import timeout, timeout_at

__all__ = ["timeout", "timeout_at"]
