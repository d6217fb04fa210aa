"""Transport options as small validated value objects: retry policy, reconnect backoff, TLS, keepalive.

Timeouts are plain seconds (``float``; ``None`` = no deadline): a client default plus a per-call ``timeout=``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from clients.errors import ValidationError

__all__ = ["Retry", "Reconnect", "TLS", "Keepalive", "DEFAULT_TIMEOUT", "MAX_MESSAGE_LENGTH"]

DEFAULT_TIMEOUT = 30.0
# TF Serving's server uses SetMaxMessageSize(INT32_MAX); the client must match or big tensors fail at 4 MiB.
MAX_MESSAGE_LENGTH = 2**31 - 1


@dataclass(frozen=True)
class Retry:
    """Retry with exponential backoff, only on UNAVAILABLE / connection errors.

    Idempotent calls (metadata, status) are retried by default. Inference calls (predict, classify, regress,
    multi_inference) only when ``inference=True``; without it they fail fast with ``UnavailableError``.
    ``reload_config`` is never retried.

    gRPC: before each retry the client also waits up to ``reconnect_wait`` seconds (within the call's deadline) for
    the channel to connect again (grpcio's ``channel_ready_future``), so a retried call rides out a server restart
    of about ``(attempts - 1) * reconnect_wait`` seconds and succeeds as soon as the server is back.
    """

    attempts: int = 3
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    inference: bool = False
    reconnect_wait: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValidationError(f"Retry.attempts: expected >= 1, got {self.attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1 or self.reconnect_wait < 0:
            raise ValidationError(
                "Retry: expected initial_backoff >= 0, max_backoff >= 0, multiplier >= 1, reconnect_wait >= 0, got "
                f"{self.initial_backoff}, {self.max_backoff}, {self.multiplier}, {self.reconnect_wait}"
            )

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based)."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry_number - 1))

    def attempts_for(self, idempotent: bool) -> int:
        return self.attempts if (idempotent or self.inference) else 1


NO_RETRY = Retry(attempts=1)


@dataclass(frozen=True)
class Reconnect:
    """How a gRPC channel reconnects after losing its server (gRPC's connection backoff, doc/connection-backoff.md).

    After a failed connection attempt the channel waits ``initial_backoff`` s, then x1.6 per failure up to
    ``max_backoff`` s (+-20% jitter); each attempt may take ``min_connect_timeout`` s. gRPC's defaults (1 s, 120 s,
    20 s) let the wait grow to minutes during an outage, so a restarted server went unused for that long; with
    these defaults a client reconnects within about a second of the server coming back.
    """

    initial_backoff: float = 0.1
    max_backoff: float = 1.0
    min_connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_backoff <= self.max_backoff or self.min_connect_timeout <= 0:
            raise ValidationError(
                "Reconnect: expected 0 < initial_backoff <= max_backoff and min_connect_timeout > 0, got "
                f"{self.initial_backoff}, {self.max_backoff}, {self.min_connect_timeout}"
            )

    def grpc_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.initial_reconnect_backoff_ms", int(self.initial_backoff * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(self.max_backoff * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(self.min_connect_timeout * 1000)),
        ]


def _read(value: bytes | str | Path | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


@dataclass(frozen=True)
class TLS:
    """TLS settings for both transports. Certificates are PEM, given as bytes or as a file path.

    ``ca_cert``: trust this CA instead of the system store. ``client_cert`` + ``client_key``: mutual TLS.
    ``server_name``: override the name checked in the server certificate (gRPC ``ssl_target_name_override``).
    """

    ca_cert: bytes | str | Path | None = None
    client_cert: bytes | str | Path | None = None
    client_key: bytes | str | Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValidationError("TLS: client_cert and client_key must be given together")

    def pem(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(ca, cert, key) as PEM bytes."""
        return _read(self.ca_cert), _read(self.client_cert), _read(self.client_key)

    def ssl_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for HTTPS with these settings (system CAs unless ``ca_cert`` is given)."""
        ca, cert, key = self.pem()
        context = ssl.create_default_context(cadata=ca.decode("ascii") if ca else None)
        if cert is not None and key is not None:
            # load_cert_chain only reads files, so PEM bytes given in memory go through a private temp dir.
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
                cert_path.write_bytes(cert)
                key_path.write_bytes(key)
                context.load_cert_chain(cert_path, key_path)
        return context


@dataclass(frozen=True)
class Keepalive:
    """Connection keepalive. gRPC: HTTP/2 pings every ``time`` s, dropped after ``timeout`` s without answer.
    HTTP: idle pooled connections are kept ``idle`` s.

    The gRPC default of 300 s matches gRPC servers' default minimum ping interval (TF Serving keeps it): pinging
    more often makes the server answer GOAWAY "too_many_pings", which kills long-running predicts.
    """

    time: float = 300.0
    timeout: float = 20.0
    permit_without_calls: bool = False
    idle: float = 30.0

    def __post_init__(self) -> None:
        if self.time <= 0 or self.timeout <= 0 or self.idle < 0:
            raise ValidationError(
                f"Keepalive: expected time > 0, timeout > 0, idle >= 0, got {self.time}, {self.timeout}, {self.idle}"
            )

    def grpc_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.keepalive_time_ms", int(self.time * 1000)),
            ("grpc.keepalive_timeout_ms", int(self.timeout * 1000)),
            ("grpc.keepalive_permit_without_calls", int(self.permit_without_calls)),
        ]
