"""The four clients present one API: the same signatures as clients.protocol, the same attribute names, the same
default timeout, and a typed error for the gRPC-only calls over REST. (mypy checks the protocols statically.)"""

from __future__ import annotations

import inspect

import pytest

from clients import (
    AsyncGrpcClient,
    AsyncRestClient,
    AsyncServingClient,
    GrpcClient,
    RestClient,
    ServingClient,
    UnsupportedOperationError,
)
from clients.options import DEFAULT_TIMEOUT
from clients.testing import FakeServer
from clients.types import ModelVersionStatus

API = [name for name in vars(ServingClient) if not name.startswith("_") and callable(getattr(ServingClient, name))]


def _parameters(function: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize(("cls", "protocol"), [(GrpcClient, ServingClient), (RestClient, ServingClient),
                                               (AsyncGrpcClient, AsyncServingClient),
                                               (AsyncRestClient, AsyncServingClient)])
def test_every_client_has_the_protocols_signatures(cls: type, protocol: type) -> None:
    assert sorted(API) == ["classify", "clear_cache", "close", "metadata", "predict", "regress", "status",
                           "wait_until_available"]
    for name in API:
        assert _parameters(getattr(cls, name)) == _parameters(getattr(protocol, name)), f"{cls.__name__}.{name}"
        is_async = inspect.iscoroutinefunction(getattr(protocol, name))
        assert inspect.iscoroutinefunction(getattr(cls, name)) is is_async, f"{cls.__name__}.{name}"


def test_same_attributes_and_default_timeout() -> None:
    grpc_client, rest_client = GrpcClient("localhost:1"), RestClient("localhost:1")
    try:
        assert isinstance(grpc_client, ServingClient) and isinstance(rest_client, ServingClient)
        assert grpc_client.endpoint == grpc_client.target == "localhost:1"
        assert rest_client.endpoint == rest_client.base_url == "http://localhost:1"
        assert grpc_client.timeout == rest_client.timeout == DEFAULT_TIMEOUT
    finally:
        grpc_client.close()
        rest_client.close()


def test_grpc_only_calls_over_rest_raise_a_typed_error() -> None:
    server = FakeServer()
    with RestClient("http://fake", transport=server.rest_transport()) as client:
        with pytest.raises(UnsupportedOperationError, match="multi_inference: TF Serving offers it over gRPC only"):
            client.multi_inference([{"x": 1.0}], "m", tasks={"s": "classify"})  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="reload_config"):
            client.reload_config("model_config_list {}")  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="no attribute 'nonsense'") as caught:
            client.nonsense  # type: ignore[attr-defined]  # noqa: B018
        assert not isinstance(caught.value, UnsupportedOperationError)
        assert not hasattr(client, "multi_inference") and not hasattr(RestClient, "multi_inference")
        assert server.calls == []


async def test_grpc_only_calls_over_async_rest_raise_a_typed_error() -> None:
    client = AsyncRestClient("http://localhost:1")
    with pytest.raises(UnsupportedOperationError) as caught:
        await client.reload_config("model_config_list {}")  # type: ignore[attr-defined]
    assert caught.value.code == "UNIMPLEMENTED"
    await client.close()
    assert callable(GrpcClient.multi_inference) and callable(AsyncGrpcClient.reload_config)


def test_made_methods_are_named_after_their_class_and_keep_the_calls_docs() -> None:
    """The methods ``clients._api`` makes show as ``SyncApi.predict`` / ``AsyncApi.status`` in tracebacks and
    ``help()``, with the call's docstring, and the calls' own annotations resolve (``typing.get_type_hints``)."""
    import typing

    from clients import _calls

    assert GrpcClient.predict.__qualname__ == "SyncApi.predict"
    assert AsyncRestClient.status.__qualname__ == "AsyncApi.status"
    assert GrpcClient.reload_config.__qualname__ == "SyncGrpcApi.reload_config"
    assert GrpcClient.predict.__doc__ == _calls.predict.__doc__
    assert typing.get_args(typing.get_type_hints(_calls.status)["return"])[2] == list[ModelVersionStatus]
