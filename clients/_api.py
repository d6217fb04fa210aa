"""The clients' public API, assembled once from ``clients._calls``: ``blocking`` and ``awaiting`` turn a call
(a function returning a plan) into a method that runs the plan with the client's driver, ``SyncApi`` /
``AsyncApi`` are the methods of the sync and asyncio clients, ``SyncGrpcApi`` / ``AsyncGrpcApi`` add the gRPC-only
calls."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from clients import _calls as calls
from clients._base import AsyncDriver, Plan, SyncDriver

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["AsyncApi", "AsyncGrpcApi", "SyncApi", "SyncGrpcApi", "awaiting", "blocking"]


def blocking(call: Callable[Concatenate[Any, P], Plan[T]]) -> Callable[Concatenate[Any, P], T]:
    """The sync client method of ``call``: builds the plan and runs it with ``SyncDriver._run``."""

    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = self._run(call(self, *args, **kwargs))
        return result

    return cast("Callable[Concatenate[Any, P], T]", _as_method_of(call, method))


def awaiting(call: Callable[Concatenate[Any, P], Plan[T]]) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """The asyncio client method of ``call``: a coroutine that runs the plan with ``AsyncDriver._run``."""

    async def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        result: T = await self._run(call(self, *args, **kwargs))
        return result

    return cast("Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]", _as_method_of(call, method))


def _as_method_of(call: Callable[..., Any], method: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``method`` the call's name, docstring and signature as a client method shows them (``help()``,
    ``inspect.signature``): ``self`` unannotated, returning what the plan returns."""
    functools.wraps(call)(method)
    signature = inspect.signature(call)
    returns = signature.return_annotation
    if isinstance(returns, str) and returns.startswith("Plan[") and returns.endswith("]"):
        returns = returns[len("Plan["):-1]
    this, *rest = signature.parameters.values()
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[this.replace(annotation=inspect.Parameter.empty), *rest], return_annotation=returns)
    method.__annotations__ = {**{k: v for k, v in call.__annotations__.items() if k not in ("self", "return")},
                              "return": returns}
    del method.__wrapped__  # type: ignore[attr-defined]
    return method


class SyncApi(SyncDriver):
    """The blocking API of GrpcClient and RestClient."""

    predict = blocking(calls.predict)
    classify = blocking(calls.classify)
    regress = blocking(calls.regress)
    metadata = blocking(calls.metadata)
    status = blocking(calls.status)
    wait_until_available = blocking(calls.wait_until_available)


class AsyncApi(AsyncDriver):
    """The asyncio API of AsyncGrpcClient and AsyncRestClient: the same calls as coroutines."""

    predict = awaiting(calls.predict)
    classify = awaiting(calls.classify)
    regress = awaiting(calls.regress)
    metadata = awaiting(calls.metadata)
    status = awaiting(calls.status)
    wait_until_available = awaiting(calls.wait_until_available)


class SyncGrpcApi(SyncApi):
    """The blocking API plus TF Serving's gRPC-only calls."""

    multi_inference = blocking(calls.multi_inference)
    reload_config = blocking(calls.reload_config)


class AsyncGrpcApi(AsyncApi):
    """The asyncio API plus TF Serving's gRPC-only calls."""

    multi_inference = awaiting(calls.multi_inference)
    reload_config = awaiting(calls.reload_config)


def _name_methods(*classes: type) -> None:
    """Name each made method after the class that holds it (``SyncApi.predict``), for tracebacks and ``help()``."""
    for cls in classes:
        for name, method in vars(cls).items():
            if inspect.isfunction(method):
                method.__qualname__ = f"{cls.__name__}.{name}"
                method.__module__ = __name__


_name_methods(SyncApi, AsyncApi, SyncGrpcApi, AsyncGrpcApi)
