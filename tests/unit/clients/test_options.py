"""Transport options: retry policy, TLS and keepalive value objects, targets, timeouts, channel options."""

from __future__ import annotations

import grpc
import pytest

from clients import TLS, GrpcClient, Keepalive, Reconnect, RestClient, Retry, ValidationError
from clients.grpc_client import _channel_options, _split_target
from clients.options import MAX_MESSAGE_LENGTH


def test_retry_policy_applies_to_idempotent_calls_only_by_default() -> None:
    retry = Retry(attempts=4)
    assert retry.attempts_for(idempotent=True) == 4
    assert retry.attempts_for(idempotent=False) == 1
    assert Retry(attempts=4, inference=True).attempts_for(idempotent=False) == 4


def test_exponential_backoff_is_capped() -> None:
    retry = Retry(initial_backoff=0.1, multiplier=2, max_backoff=0.3)
    assert [retry.backoff(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"initial_backoff": -1}, {"multiplier": 0.5}])
def test_retry_rejects_nonsense(kwargs) -> None:
    with pytest.raises(ValidationError, match="Retry"):
        Retry(**kwargs)


def test_tls_needs_cert_and_key_together() -> None:
    with pytest.raises(ValidationError, match="client_cert and client_key"):
        TLS(client_cert=b"x")


def test_channel_options_raise_limits_and_set_keepalive() -> None:
    options = dict(_channel_options(Keepalive(time=20, timeout=5), Reconnect(), TLS(server_name="tfs.local"), []))
    assert options["grpc.max_send_message_length"] == MAX_MESSAGE_LENGTH == 2**31 - 1
    assert options["grpc.max_receive_message_length"] == MAX_MESSAGE_LENGTH
    assert options["grpc.keepalive_time_ms"] == 20000 and options["grpc.keepalive_timeout_ms"] == 5000
    assert options["grpc.ssl_target_name_override"] == "tfs.local"
    overridden = dict(_channel_options(Keepalive(), Reconnect(), None, [("grpc.max_receive_message_length", 1024)]))
    assert overridden["grpc.max_receive_message_length"] == 1024


def test_reconnect_backoff_is_bounded_by_default() -> None:
    """gRPC's own defaults (1 s growing to 120 s) left a restarted server unused for seconds to minutes."""
    options = dict(_channel_options(Keepalive(), Reconnect(), None, []))
    assert options["grpc.initial_reconnect_backoff_ms"] == 100
    assert options["grpc.max_reconnect_backoff_ms"] == 1000
    assert options["grpc.min_reconnect_backoff_ms"] == 5000
    custom = dict(_channel_options(Keepalive(), Reconnect(0.5, 3, 10), None, []))
    assert custom["grpc.max_reconnect_backoff_ms"] == 3000 and custom["grpc.min_reconnect_backoff_ms"] == 10000
    assert dict(GrpcClient("h:1")._options)["grpc.max_reconnect_backoff_ms"] == 1000
    for bad in ({"initial_backoff": 0}, {"initial_backoff": 2, "max_backoff": 1}, {"min_connect_timeout": 0}):
        with pytest.raises(ValidationError, match="Reconnect"):
            Reconnect(**bad)
    with pytest.raises(ValidationError, match="reconnect_wait"):
        Retry(reconnect_wait=-1)


def test_targets() -> None:
    assert _split_target("localhost:8500", None) == ("localhost:8500", None)
    assert _split_target("grpcs://h:1", None) == ("h:1", TLS())
    with pytest.raises(ValidationError, match="plaintext"):
        _split_target("grpc://h:1", TLS())
    with pytest.raises(ValidationError, match="expected 'host:port'"):
        _split_target("http://h:1", None)
    assert _split_target("unix:///tmp/tfs.sock", None) == ("unix:///tmp/tfs.sock", None)
    assert _split_target("dns:///tfs.internal:8500", None)[0] == "dns:///tfs.internal:8500"


def test_timeouts_are_validated() -> None:
    with pytest.raises(ValidationError, match="timeout"):
        GrpcClient("h:1", timeout=0)
    client = RestClient("http://h:1", timeout=None)
    with pytest.raises(ValidationError, match="timeout"):
        client.status("m", timeout=-1)
    client.close()


def test_argument_errors_name_the_argument() -> None:
    client = GrpcClient("127.0.0.1:1", channel=grpc.insecure_channel("127.0.0.1:1"))
    with pytest.raises(ValidationError, match="either version or label"):
        client.predict({"x": [1.0]}, "m", version=1, label="stable")
    with pytest.raises(ValidationError, match="model: expected a non-empty model name"):
        client.status("")
    with pytest.raises(ValidationError, match="version: expected an integer"):
        client.status("m", version="1")
    with pytest.raises(ValidationError, match="examples: expected at least one"):
        client.classify([], "m")
    with pytest.raises(ValidationError, match="tasks"):
        client.multi_inference([{"x": 1.0}], "m", tasks={"s": "predict"})
    with pytest.raises(ValidationError, match="config"):
        client.reload_config("not { a config")
    client.close()
