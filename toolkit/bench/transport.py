"""One Predict call per protocol through the project's async clients, timed in three parts on the client:
encode (numpy -> wire bytes), wait (send to last byte of the answer) and decode (wire -> numpy).

The clients' ``predict`` does the three in one call; to time them apart this module drives the same pieces the
clients use (``clients._wire`` / ``clients.json_codec`` and the clients' transport call), so what is measured is
exactly what ``client.predict`` runs. Requests are never retried: a failure is a sample, counted by type.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from clients._base import Call
from toolkit.bench.stats import Sample


@dataclass(frozen=True)
class Target:
    """What to call: endpoint, model, version or label, signature and the inputs of every request."""

    protocol: str
    endpoint: str
    model: str
    inputs: Mapping[str, np.ndarray]
    version: int | None = None
    label: str | None = None
    signature: str | None = None
    timeout_s: float = 10.0


def error_name(exc: BaseException) -> str:
    """The type a failure is counted under: the canonical status (``INVALID_ARGUMENT``, ``NOT_FOUND``) when the
    server or transport gave one, else the exception class."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    return type(exc).__name__


class Requester:
    """Sends one request at a time per call to ``send``; many ``send`` calls may be in flight at once."""

    def __init__(self, target: Target, connections: int) -> None:
        self.target = target
        self.connections = connections
        self.first_errors: dict[str, str] = {}  # one message per error type, for the report

    async def open(self) -> None:
        raise NotImplementedError

    async def send(self) -> Sample:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def _failed(self, start: float, encode: float, wait: float, exc: BaseException) -> Sample:
        name = error_name(exc)
        self.first_errors.setdefault(name, str(exc)[:300])
        return Sample(start, time.perf_counter(), encode, wait, 0.0, name)


class GrpcRequester(Requester):
    """gRPC Predict over one ``AsyncGrpcClient`` channel (HTTP/2 multiplexes the in-flight calls)."""

    async def open(self) -> None:
        import grpc

        from clients import AsyncGrpcClient, _wire
        from clients._proto import serving_pb2
        from clients.grpc_client import map_rpc_error
        from clients.options import NO_RETRY

        self._client = AsyncGrpcClient(self.target.endpoint, timeout=self.target.timeout_s, retry=NO_RETRY)
        self._stub = self._client._ensure_stub()["Predict"]
        self._response_type = serving_pb2.PredictResponse
        self._rpc_error, self._map_error, self._wire = grpc.RpcError, map_rpc_error, _wire
        self._call_options: dict[str, Any] = {"timeout": self.target.timeout_s}
        if self._client._metadata:
            self._call_options["metadata"] = self._client._metadata

    async def send(self) -> Sample:
        t = self.target
        _wire = self._wire
        start = time.perf_counter()
        encode = wait = 0.0
        try:
            request = _wire.predict_request_bytes(t.inputs, t.model, t.version, t.label, t.signature, None)
            sent = time.perf_counter()
            encode = sent - start
            try:
                payload = await self._stub(request, **self._call_options)
            except self._rpc_error as exc:
                wait = time.perf_counter() - sent
                return self._failed(start, encode, wait, self._map_error(exc))
            received = time.perf_counter()
            wait = received - sent
            _wire.predict_result(self._client._parse("Predict", payload))
            end = time.perf_counter()
            return Sample(start, end, encode, wait, end - received)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted sample
            return self._failed(start, encode, wait, exc)

    async def close(self) -> None:
        await self._client.close()


class RestRequester(Requester):
    """REST ``:predict`` over one ``AsyncRestClient`` pool with up to ``connections`` keep-alive connections."""

    async def open(self) -> None:
        from clients import AsyncRestClient
        from clients.errors import TfsError
        from clients.options import NO_RETRY
        from clients.rest_client import model_path

        t = self.target
        self._client = AsyncRestClient(t.endpoint, timeout=t.timeout_s, retry=NO_RETRY,
                                       max_connections=max(1, self.connections))
        self._path = model_path(t.model, t.version, t.label) + ":predict"
        # The output dtypes come from the signature, as in the client's predict; without metadata (a server that
        # does not answer it) outputs keep the dtypes JSON implies.
        self._spec = None
        try:
            metadata = await self._client.metadata(t.model, version=t.version, label=t.label)
            self._spec = self._client._pick_signature(metadata, t.signature)
        except (TfsError, KeyError):
            self._spec = None

    async def send(self) -> Sample:
        from clients import json_codec

        t = self.target
        start = time.perf_counter()
        encode = wait = 0.0
        try:
            body = json_codec.encode_predict_request(t.inputs, signature=t.signature)
            sent = time.perf_counter()
            encode = sent - start
            try:
                call = Call("POST", body, self._path, idempotent=False, timeout=t.timeout_s)
                content = await self._client._send(call)
            except Exception as exc:  # noqa: BLE001
                wait = time.perf_counter() - sent
                return self._failed(start, encode, wait, exc)
            received = time.perf_counter()
            wait = received - sent
            json_codec.decode_predict_response(content, self._spec, None)
            end = time.perf_counter()
            return Sample(start, end, encode, wait, end - received)
        except Exception as exc:  # noqa: BLE001
            return self._failed(start, encode, wait, exc)

    async def close(self) -> None:
        await self._client.close()


def requester_for(target: Target, connections: int) -> Requester:
    return (GrpcRequester if target.protocol == "grpc" else RestRequester)(target, connections)
