"""gRPC transport helpers: --grpc_channel_arguments parsing, message truncation, health request decoding."""

from __future__ import annotations

from toolkit.server.grpc_service import (
    _decode_service_name,
    grpc_message,
    parse_channel_arguments,
)


def test_channel_arguments_int_or_string() -> None:
    assert parse_channel_arguments("grpc.max_connection_age_ms=2000, grpc.primary_user_agent=me,bad,") == [
        ("grpc.max_connection_age_ms", 2000),
        ("grpc.primary_user_agent", "me"),
    ]
    assert parse_channel_arguments("") == []


def test_messages_are_truncated_like_tf_serving() -> None:
    assert grpc_message("short") == "short"
    long = "x" * 1500
    assert grpc_message(long) == "x" * 1024 + "...TRUNCATED"


def test_health_request_decoding() -> None:
    assert _decode_service_name(b"") == ""
    assert _decode_service_name(b"\x0a\x0cModelService") == "ModelService"
