"""What all four clients share and that does no I/O: options, the metadata cache, retry bookkeeping, the
readiness wait over ``clients.readiness``, and the call plans.

A call plan is a generator that builds each request (``Call``: what to send, with which timeout, whether it may
be retried), yields it, receives the raw answer (or has the transport's error thrown in) and decodes it; it may
yield a metadata lookup first, or a ``Pause`` between polls. Each API call is planned once per transport
(``_GrpcBase``/``_RestBase``) and run by ``SyncDriver._run`` or ``AsyncDriver._run``; the public methods are made
once from ``clients._calls`` by ``clients._api``, and the drivers retry each Call (``_send``), so the four client
classes add only their I/O (``_attach``, ``_attempt``: one try of one Call, ``close``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One request of a call plan, in its transport's terms: gRPC ``method`` name and message, or REST HTTP
    ``method``, ``path`` and JSON body; ``idempotent`` says whether REST may retry it (gRPC decides by method)."""

    method: str
    request: Any = None
    path: str = ""
    idempotent: bool = False
    timeout: Any = DEFAULT


@dataclass(frozen=True)
class Pause:
    """A plan's request to wait ``seconds`` before its next Call (between readiness polls)."""

    seconds: float


Plan = Generator[Call | Pause, Any, T]

__all__ = ["DEFAULT", "AsyncDriver", "Call", "ClientCore", "ModelLoadError", "Pause", "Plan", "SyncDriver",
           "normalize_headers"]


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
    def _resolve_timeout(self, timeout: Timeout) -> Timeout:
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

    def _attempts_for(self, call: Call) -> int:
        """How many attempts ``call`` may take (the retry policy by transport and idempotency)."""
        raise NotImplementedError

    def _labels(self, call: Call) -> tuple[str, str]:
        """How ``call`` is named in a deadline message and in the retry log (each transport its own way)."""
        raise NotImplementedError

    def _reconnect_window(self, error: TfsError, deadline: float | None) -> float:
        """Seconds to wait for a reconnect before the next attempt (gRPC's channels; REST has none)."""
        return 0.0

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

    # ---------------------------------------------------------------------------------------------- plans
    def _metadata_call(self, model: str, version: int | None, label: str | None, timeout: Any) -> Call:
        raise NotImplementedError  # each transport builds its GetModelMetadata request

    def _metadata_result(self, response: Any, model: str) -> ModelMetadata:
        raise NotImplementedError  # and decodes its answer

    def _metadata_plan(self, model: str, version: int | None, label: str | None, timeout: Any) -> Plan[ModelMetadata]:
        """Fetch the model's signatures and refresh the cache with them."""
        result = self._metadata_result((yield self._metadata_call(model, version, label, timeout)), model)
        self._metadata_cache[self._cache_key(model, version, label)] = result
        return result

    def _signature_plan(
        self, model: str, version: int | None, label: str | None, signature: str | None, required: bool
    ) -> Plan[SignatureSpec | None]:
        """The (cached) signature. When it is only wanted for dtypes (not ``required``), a failure gives None and
        the request goes out unchanged, so the server reports the problem."""
        try:
            metadata = self._metadata_cache.get(self._cache_key(model, version, label))
            if metadata is None:
                metadata = yield from self._metadata_plan(model, version, label, DEFAULT)
            return self._pick_signature(metadata, signature)
        except TfsError as exc:
            if required:
                raise
            logger.debug("no signature for %s (%s); the request goes out without it", model, exc)
            return None

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

    def _status_plan(
        self, model: str, version: int | None, label: str | None, timeout: Any
    ) -> Plan[list[ModelVersionStatus]]:
        raise NotImplementedError  # each transport asks for and decodes the version states

    def _wait_plan(
        self, model: str, versions: Sequence[int] | None, timeout: float | None, poll_interval: float
    ) -> Plan[list[ModelVersionStatus]]:
        """Poll status until ``versions`` (default: any version) are AVAILABLE; a failed load fails at once
        (``clients.readiness.check_ready``), the deadline with the last status seen."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: object = "no answer yet"
        while True:
            try:
                statuses = yield from self._status_plan(model, None, None, self._poll_timeout(deadline))
                last = statuses
                if check_ready(model, statuses, versions):
                    return statuses
            except self.WAIT_ERRORS as exc:
                last = exc
            if deadline is not None and time.monotonic() >= deadline:
                raise self._not_ready_error(model, versions, timeout, last)
            yield Pause(_poll_pause(deadline, poll_interval))

    def _poll_timeout(self, deadline: float | None) -> Any:
        """Per-status-call timeout while waiting: the client default, cut to what is left of the deadline."""
        if deadline is None:
            return self.timeout
        return max(0.001, min(deadline - time.monotonic(), self.timeout or 1e9))


class SyncDriver:
    """Runs call plans over a blocking ``_attempt`` (one try of one Call, the client's I/O), with the retries."""

    def _send(self: Any, call: Call) -> Any:
        """Run ``call`` until an attempt answers, retrying as the client's policy allows within its deadline."""
        deadline = self._deadline(call.timeout)
        attempts = self._attempts_for(call)
        before, what = self._labels(call)
        for attempt in range(1, attempts + 1):
            remaining = self._remaining(deadline, before)
            try:
                return self._attempt(call, remaining)
            except TfsError as exc:
                failure = exc
            time.sleep(self._retry_delay(failure, attempt, attempts, deadline, what))
            window = self._reconnect_window(failure, deadline)
            if window > 0:
                self._await_channel(window)
        raise AssertionError("unreachable")  # pragma: no cover

    def _run(self: Any, plan: Plan[T]) -> T:
        """Drive ``plan``: send each Call it yields (or sleep for a Pause), feed back the answer or throw in the
        error; its result."""
        try:
            step = next(plan)
            while True:
                if isinstance(step, Pause):
                    time.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                try:
                    response = self._send(step)
                except TfsError as exc:
                    step = plan.throw(exc)
                else:
                    step = plan.send(response)
        except StopIteration as done:
            result: T = done.value
            return result


class AsyncDriver:
    """The same as ``SyncDriver`` for the asyncio clients, awaiting ``_attempt``."""

    async def _send(self: Any, call: Call) -> Any:
        """Run ``call`` as ``SyncDriver._send`` does."""
        deadline = self._deadline(call.timeout)
        attempts = self._attempts_for(call)
        before, what = self._labels(call)
        for attempt in range(1, attempts + 1):
            remaining = self._remaining(deadline, before)
            try:
                return await self._attempt(call, remaining)
            except TfsError as exc:
                failure = exc
            await asyncio.sleep(self._retry_delay(failure, attempt, attempts, deadline, what))
            window = self._reconnect_window(failure, deadline)
            if window > 0:
                await self._await_channel(window)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self: Any, plan: Plan[T]) -> T:
        """Drive ``plan`` as ``SyncDriver._run`` does."""
        try:
            step = next(plan)
            while True:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = plan.send(None)
                    continue
                try:
                    response = await self._send(step)
                except TfsError as exc:
                    step = plan.throw(exc)
                else:
                    step = plan.send(response)
        except StopIteration as done:
            result: T = done.value
            return result


def _poll_pause(deadline: float | None, poll_interval: float) -> float:
    """Sleep between polls, never past the deadline."""
    return poll_interval if deadline is None else min(poll_interval, max(0.0, deadline - time.monotonic()))
