"""The clients a smoke run talks through: a ``GrpcClient`` and/or a ``RestClient`` for the targets given."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clients import ServingClient


def open_clients(grpc_target: str | None, rest_url: str | None, timeout: float) -> dict[str, ServingClient]:
    """``GrpcClient`` / ``RestClient`` for the targets given; a bad target is a ``PlanError`` (exit status 2)."""
    from clients.errors import ValidationError
    from toolkit.smoke.plan import PlanError

    clients: dict[str, ServingClient] = {}
    try:
        if grpc_target:
            from clients import GrpcClient

            clients["grpc"] = GrpcClient(grpc_target, timeout=timeout)
        if rest_url:
            from clients import RestClient

            clients["rest"] = RestClient(rest_url, timeout=timeout)
    except ValidationError as exc:
        for client in clients.values():
            client.close()
        raise PlanError(str(exc)) from None
    return clients
