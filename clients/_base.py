"""What all four clients share and that does no I/O: options, the metadata cache, retry bookkeeping, the wait
loop over ``clients.readiness``. The transport classes (gRPC/REST, sync/async) add only the calls themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from clients.errors import (
    DeadlineExceededError,
    ModelLoadError,
    ModelNotFoundError,
    TfsError,
    UnavailableError,
    ValidationError,
)
from clients.options import TLS, Keepalive, Retry
from clients.readiness import check_ready
from clients.types import ModelMetadata, ModelVersionStatus, SignatureSpec

logger = logging.getLogger("clients")


class _Default:
    """Marker for "use the client's default timeout" (``None`` means no deadline)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
Timeout = float | None

__all__ = ["DEFAULT", "AsyncWaitMixin", "ClientCore", "ModelLoadError", "SyncWaitMixin", "normalize_headers"]


def normalize_headers(headers: Mapping[str, str] | Sequence[tuple[str, str]] | None) -> list[tuple[str, str]]:
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    for key, value in items:
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError(f"headers: expected str keys and values, got {key!r}: {value!r}")
    return items


class ClientCore:
    """Shared configuration and pure helpers of every client."""

    def __init__(
        self,
        *,
        timeout: Timeout,
        retry: Retry | None,
        tls: TLS | None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        keepalive: Keepalive | None,
        validate: bool,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValidationError(f"timeout: expected seconds > 0 or None, got {timeout}")
        self.timeout = timeout
        self.retry = retry if retry is not None else Retry()
        self.tls = tls
        self.headers = normalize_headers(headers)
        self.keepalive = keepalive if keepalive is not None else Keepalive()
        self.validate = validate
        self._metadata_cache: dict[tuple[str, int | None, str | None], ModelMetadata] = {}

    # ---------------------------------------------------------------------------------------------- timeouts
    def _resolve_timeout(self, timeout: Any) -> Timeout:
        if timeout is DEFAULT:
            return self.timeout
        if timeout is not None and timeout <= 0:
            raise ValidationError(f"timeout: expected seconds > 0 or None, got {timeout}")
        return timeout

    def _deadline(self, timeout: Any) -> float | None:
        resolved = self._resolve_timeout(timeout)
        return None if resolved is None else time.monotonic() + resolved

    @staticmethod
    def _remaining(deadline: float | None, what: str) -> Timeout:
        if deadline is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceededError(f"{what}: deadline exceeded before the request could be sent",
                                        code="DEADLINE_EXCEEDED")
        return remaining

    def _retry_delay(self, error: TfsError, attempt: int, attempts: int, deadline: float | None, what: str) -> float:
        """Seconds to wait before the next attempt, or re-raise ``error`` if no retry is allowed."""
        if not isinstance(error, UnavailableError) or attempt >= attempts:
            raise error
        delay = self.retry.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            raise error
        logger.info("%s: %s; retry %d/%d in %.2fs", what, error, attempt, attempts - 1, delay)
        return delay

    # ---------------------------------------------------------------------------------------------- metadata
    @staticmethod
    def _cache_key(model: str, version: int | None, label: str | None) -> tuple[str, int | None, str | None]:
        return (model, None if version is None else int(version), label)

    def clear_cache(self) -> None:
        """Forget cached signatures (used for validation, input naming and REST output dtypes)."""
        self._metadata_cache.clear()

    @staticmethod
    def _pick_signature(metadata: ModelMetadata, signature: str | None) -> SignatureSpec:
        try:
            return metadata.signature(signature)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0])) from None

    # ---------------------------------------------------------------------------------------------- readiness
    @staticmethod
    def _not_ready_error(
        model: str, versions: Sequence[int] | None, timeout: float | None, last: object
    ) -> DeadlineExceededError:
        wanted = "any version" if versions is None else f"versions {list(versions)}"
        return DeadlineExceededError(
            f"model {model!r}: {wanted} not AVAILABLE within {timeout}s; last status: {last}",
            code="DEADLINE_EXCEEDED",
        )

    WAIT_ERRORS = (ModelNotFoundError, UnavailableError, DeadlineExceededError)

    def _poll_timeout(self, deadline: float | None) -> Any:
        """Per-status-call timeout while waiting: the client default, cut to what is left of the deadline."""
        if deadline is None:
            return self.timeout
        return max(0.001, min(deadline - time.monotonic(), self.timeout or 1e9))


class SyncWaitMixin:
    """``wait_until_available`` for the blocking clients, written once over their ``status`` call."""

    def wait_until_available(
        self: Any,
        model: str,
        versions: Sequence[int] | None = None,
        *,
        timeout: float | None = 60.0,
        poll_interval: float = 0.25,
    ) -> list[ModelVersionStatus]:
        """Poll status until ``versions`` (default: any version) are AVAILABLE; fail fast on a failed load."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: object = "no answer yet"
        while True:
            try:
                statuses = self.status(model, timeout=self._poll_timeout(deadline))
                last = statuses
                if check_ready(model, statuses, versions):
                    return statuses
            except self.WAIT_ERRORS as exc:
                last = exc
            if deadline is not None and time.monotonic() >= deadline:
                raise self._not_ready_error(model, versions, timeout, last)
            time.sleep(_poll_pause(deadline, poll_interval))


class AsyncWaitMixin:
    """``wait_until_available`` for the asyncio clients: the same loop as ``SyncWaitMixin``, awaiting."""

    async def wait_until_available(
        self: Any,
        model: str,
        versions: Sequence[int] | None = None,
        *,
        timeout: float | None = 60.0,
        poll_interval: float = 0.25,
    ) -> list[ModelVersionStatus]:
        """Poll status until ``versions`` (default: any version) are AVAILABLE; fail fast on a failed load."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: object = "no answer yet"
        while True:
            try:
                statuses = await self.status(model, timeout=self._poll_timeout(deadline))
                last = statuses
                if check_ready(model, statuses, versions):
                    return statuses
            except self.WAIT_ERRORS as exc:
                last = exc
            if deadline is not None and time.monotonic() >= deadline:
                raise self._not_ready_error(model, versions, timeout, last)
            await asyncio.sleep(_poll_pause(deadline, poll_interval))


def _poll_pause(deadline: float | None, poll_interval: float) -> float:
    """Sleep between polls, never past the deadline."""
    return poll_interval if deadline is None else min(poll_interval, max(0.0, deadline - time.monotonic()))
