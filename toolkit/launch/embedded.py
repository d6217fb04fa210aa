"""Run the embedded runtime (``python -m toolkit.server``, i.e. ``tfs serve``) as a managed background process: the
same flags as the container (``server_flags``), the same ports, models.config localized to host paths; pid file and
log file under ``deploy/.tfs/``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from toolkit.deployment import DeploymentSpec
from toolkit.launch.docker_runtime import check_ports_free
from toolkit.launch.errors import LaunchError
from toolkit.launch.state import LOG_FILE, PID_FILE, Endpoints, client_host, state_dir
from toolkit.serving_config import localize_config, server_flags

log = logging.getLogger(__name__)

SERVER_MODULE = "toolkit.server"


def embedded_command(spec: DeploymentSpec, deploy_dir: str | Path, *, python: str = sys.executable) -> list[str]:
    """``python -m toolkit.server`` with the container's flags, the config localized to this host, and the ports."""
    deploy = Path(deploy_dir).resolve()
    local_config = localize_config(deploy, spec)
    flags = [
        f"--model_config_file={local_config}" if flag.startswith("--model_config_file=") else flag
        for flag in server_flags(spec, config_root=str(deploy))
    ]
    return [
        python,
        "-m",
        SERVER_MODULE,
        f"--host={spec.server.host}",
        f"--port={spec.server.grpc_port}",
        f"--rest_api_port={spec.server.rest_port}",
        *flags,
    ]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_our_server(pid: int) -> bool:
    """True when ``pid`` is alive and runs ``toolkit.server`` (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return False
    return state != "Z" and SERVER_MODULE.encode() in cmdline


class EmbeddedRuntime:
    """The embedded server for one deploy folder."""

    name = "embedded"

    def __init__(self, deploy_dir: str | Path, spec: DeploymentSpec | None = None) -> None:
        self.deploy_dir = Path(deploy_dir).resolve()
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid_path(self) -> Path:
        return state_dir(self.deploy_dir) / PID_FILE

    @property
    def log_path(self) -> Path:
        return state_dir(self.deploy_dir) / LOG_FILE

    def running_pid(self) -> int | None:
        pid = _read_pid(self.pid_path)
        return pid if pid is not None and _is_our_server(pid) else None

    def start(self) -> Endpoints:
        if self.spec is None:
            raise LaunchError("EmbeddedRuntime.start needs the deployment spec")
        pid = self.running_pid()
        if pid is not None:
            raise LaunchError(
                f"the embedded server for {self.deploy_dir} is already running (pid {pid}); "
                "`tfs status` shows it, `tfs down` stops it."
            )
        server = self.spec.server
        check_ports_free(server.host, [server.grpc_port, server.rest_port], what="the embedded server")
        command = embedded_command(self.spec, self.deploy_dir)
        state_dir(self.deploy_dir).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log_file:
            log_file.write(f"--- tfs up: {' '.join(command)}\n".encode())
            log_file.flush()
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.deploy_dir),
                start_new_session=True,  # survives the `tfs up` process and its terminal
            )
        tmp = self.pid_path.with_name(f".{PID_FILE}.tmp")
        tmp.write_text(f"{self.process.pid}\n", encoding="utf-8")
        tmp.replace(self.pid_path)
        log.info("embedded server started, pid %d, log %s", self.process.pid, self.log_path)
        host = client_host(server.host)
        return Endpoints(
            grpc=f"{host}:{server.grpc_port}",
            rest=f"http://{host}:{server.rest_port}",
            runtime=self.name,
            pid=self.process.pid,
            deploy_dir=str(self.deploy_dir),
        )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def failure(self) -> str | None:
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return None
            return f"the embedded server exited with status {code}; last log lines:\n{self._log_tail()}"
        if self.running_pid() is None:
            return f"the embedded server is not running; last log lines:\n{self._log_tail()}"
        return None

    def stop(self, timeout: float = 20.0) -> bool:
        pid = self.running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_our_server(pid) and time.monotonic() < deadline:
            if self.process is not None:
                self.process.poll()  # reap our own child
            time.sleep(0.1)  # pause between polls; the deadline bounds the wait
        if _is_our_server(pid):
            log.warning("embedded server pid %d did not stop after SIGTERM; killing it", pid)
            os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        self.pid_path.unlink(missing_ok=True)
        return True

    def logs(self, *, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        if not self.log_path.exists():
            return
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
            yield "".join(lines[-tail:] if tail is not None else lines)
            while follow:
                chunk = handle.read()
                if chunk:
                    yield chunk
                elif self.running_pid() is None:
                    return
                else:
                    time.sleep(0.2)  # follow mode: wait for more output
