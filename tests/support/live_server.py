"""Start ``tfs serve`` (``python -m toolkit.server``) as a real subprocess on free 127.0.0.1 ports for the tests.

Readiness is polled with a deadline over the gRPC ModelService (GetModelStatus AVAILABLE), never with sleeps.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]


# Ports for the servers the tests start. A port the kernel hands out for bind(0) is free only until the server binds
# it, seconds later (TensorFlow's import); meanwhile the kernel can give it to any outgoing connection or to the
# other pytest-xdist worker. So each worker takes its ports from its own block below the kernel's ephemeral range,
# which neither of those ever gets, starting at a random place (a pytest run inside a test shares its worker's name).
PORT_BLOCK = 2000
_FIRST_BLOCK = 10000
_next_in_block = itertools.count(random.randrange(PORT_BLOCK))


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def worker_port_block() -> range | None:
    """This worker's block of ports (``gw3``: the fourth), or None when it would reach the ephemeral range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    low = _FIRST_BLOCK + index * PORT_BLOCK
    return range(low, low + PORT_BLOCK) if low + PORT_BLOCK <= _ephemeral_low() else None


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now and that nothing else in the run is handed meanwhile."""
    block = worker_port_block()
    if block is not None:
        for _ in range(PORT_BLOCK):
            port = block[next(_next_in_block) % PORT_BLOCK]
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass (TimeoutError).

    Exceptions raised by the predicate count as "not yet"; the last one is chained into the TimeoutError."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polling: any failure means "not ready yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from last_exc
        # A short pause between polls (not a readiness wait: the deadline above bounds it).
        time.sleep(interval)


@dataclass
class LiveServer:
    """A running ``tfs serve`` process."""

    process: subprocess.Popen[bytes]
    grpc_port: int
    rest_port: int
    log_path: Path
    args: list[str]
    _channel: object | None = field(default=None, repr=False)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        """Everything the server wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def channel(self):  # type: ignore[no-untyped-def]
        """A shared insecure gRPC channel to the server with large message limits."""
        import grpc

        if self._channel is None:
            self._channel = grpc.insecure_channel(
                self.grpc_target,
                options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
            )
        return self._channel

    def prediction_stub(self):  # type: ignore[no-untyped-def]
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        return prediction_service_pb2_grpc.PredictionServiceStub(self.channel())

    def model_stub(self):  # type: ignore[no-untyped-def]
        from tensorflow_serving.apis import model_service_pb2_grpc

        return model_service_pb2_grpc.ModelServiceStub(self.channel())

    def version_states(self, model: str) -> dict[int, int]:
        """{version: state} from GetModelStatus (raises grpc.RpcError if the model is unknown)."""
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        response = self.model_stub().GetModelStatus(request, timeout=5)
        return {s.version: s.state for s in response.model_version_status}

    def wait_available(self, model: str, versions: Iterable[int] | None = None, *, timeout: float = 60) -> None:
        """Wait until ``model`` has the given versions (or any version) AVAILABLE."""
        wanted = set(versions) if versions is not None else None

        def ready() -> bool:
            states = self.version_states(model)
            available = {v for v, s in states.items() if s == 30}
            return bool(available) if wanted is None else wanted <= available

        wait_for(ready, timeout=timeout, what=f"{model} versions {wanted or 'any'} AVAILABLE")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait, kill as a fallback. Returns the exit status."""
        if self._channel is not None:
            self._channel.close()  # type: ignore[attr-defined]
            self._channel = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_command() -> list[str]:
    """The command that starts the embedded server (the module form, as the Docker stand-in uses)."""
    return [sys.executable, "-m", "toolkit.server"]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_tfs_serve(
    args: list[str],
    *,
    rest: bool = True,
    grpc: bool = True,
    ready_models: dict[str, Iterable[int] | None] | None = None,
    timeout: float = 120,
    wait_ready: bool = True,
    ports: tuple[int, int] | None = None,
) -> LiveServer:
    """Start the server with ``args`` plus --port/--rest_api_port on free ports (unless already in ``args``), or on
    ``ports`` = (gRPC, REST) when given (a restart on the same ports).

    ``ready_models`` maps model name -> versions (None = any) that must be AVAILABLE before this returns. If the
    process exits early, RuntimeError carries its log."""
    if ports is not None:
        grpc_port, rest_port = ports
    else:
        grpc_port = free_port() if grpc else 0
        rest_port = free_port() if rest else 0
        while rest and rest_port == grpc_port:
            rest_port = free_port()
    full_args = [f"--port={grpc_port}", f"--rest_api_port={rest_port}", *args]
    log_fd, log_name = tempfile.mkstemp(prefix="tfs-serve-", suffix=".log")
    process = subprocess.Popen(
        [*server_command(), *full_args],
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        env=server_env(),
        cwd=str(REPO_ROOT),
    )
    os.close(log_fd)
    server = LiveServer(process, grpc_port, rest_port, Path(log_name), full_args)
    if not wait_ready:
        return server
    try:
        if grpc and ready_models:
            for model, versions in ready_models.items():
                wait_for(
                    lambda m=model, v=versions: _alive(server) and (server.wait_available(m, v, timeout=2) or True),
                    timeout=timeout,
                    what=f"model {model} AVAILABLE",
                )
        elif grpc:
            wait_for(lambda: _alive(server) and _port_open(grpc_port), timeout=timeout, what="gRPC port")
        if rest:
            wait_for(lambda: _alive(server) and _port_open(rest_port), timeout=timeout, what="REST port")
    except BaseException as exc:
        server.stop()
        raise RuntimeError(f"tfs serve did not become ready: {exc}\n--- server log ---\n{server.log_text()}") from exc
    return server


def _alive(server: LiveServer) -> bool:
    code = server.process.poll()
    if code is not None:
        # Re-raised through wait_for only at the deadline; make it immediate by raising a non-retried error.
        raise _Fatal(f"server exited with status {code}")
    return True


class _Fatal(BaseException):
    """Stops polling at once (wait_for only retries ``Exception``)."""


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
