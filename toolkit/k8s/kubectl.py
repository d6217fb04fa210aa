"""Running ``kubectl`` for ``tfs k8s smoke``: argument lists (never a shell), bounded by timeouts, every failure a
``KubectlError`` whose one-line message says what was run and what kubectl wrote on stderr.

``port_forward`` forwards a Service's (or pod's) ports to free 127.0.0.1 ports, waits until they accept
connections, and stops the ``kubectl port-forward`` process on the way out, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import IO

from toolkit.errors import ToolkitError

SETUP_EXIT = 2
"""kubectl missing, no context: the run could not start (as ``tfs smoke``'s usage/config errors)."""
DEPLOY_EXIT = 1
"""apply refused, rollout timed out, port-forward failed: the deployment is not healthy (as a failed check)."""
INSTALL_HINT = "install it (https://kubernetes.io/docs/tasks/tools/) or pass --kubectl PATH"
STDERR_LINES = 12


class KubectlError(ToolkitError):
    """A kubectl step failed; ``exit_code`` is 2 when the run could not start, 1 when the deployment failed."""

    def __init__(self, message: str, exit_code: int = DEPLOY_EXIT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _stderr_text(text: str | bytes | None) -> str:
    """kubectl's stderr on one line (its last lines, '; '-joined), or a note that it wrote none."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return "; ".join(lines[-STDERR_LINES:]) if lines else "(no output on stderr)"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Kubectl:
    """One kubectl binary and (optionally) the ``--context`` every call passes."""

    def __init__(self, executable: str = "kubectl", context: str | None = None) -> None:
        found = shutil.which(executable)
        if found is None:
            raise KubectlError(f"kubectl not found ({executable!r} is not on PATH); {INSTALL_HINT}", SETUP_EXIT)
        self.executable = found
        self.context = context or None

    def argv(self, *args: str) -> list[str]:
        return [self.executable, *(["--context", self.context] if self.context else []), *args]

    def _call(self, args: Sequence[str], *, timeout: float, what: str) -> subprocess.CompletedProcess[str]:
        argv = self.argv(*args)
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise KubectlError(f"{what}: `kubectl {' '.join(args)}` gave no answer within {timeout:g}s: "
                               f"{_stderr_text(exc.stderr)}") from None
        except OSError as exc:
            raise KubectlError(f"{what}: cannot run {self.executable}: {exc}", SETUP_EXIT) from None

    def run(self, args: Sequence[str], *, timeout: float, what: str) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl ARGS``; a non-zero exit or a timeout is a ``KubectlError`` naming ``what`` and stderr."""
        done = self._call(args, timeout=timeout, what=what)
        if done.returncode != 0:
            raise KubectlError(f"{what}: `kubectl {' '.join(args)}` exited {done.returncode}: "
                               f"{_stderr_text(done.stderr)}")
        return done

    def check_context(self, timeout: float = 30) -> str:
        """The context kubectl will use: ``--context`` if kubeconfig has it, else the current one; else exit 2."""
        if self.context:
            args = ["config", "get-contexts", "-o", "name", self.context]
            problem = f"kubectl has no context {self.context!r}"
            hint = "list them with `kubectl config get-contexts`"
        else:
            args = ["config", "current-context"]
            problem = "kubectl has no current context"
            hint = "pick one with `kubectl config use-context NAME` or pass --context NAME"
        done = self._call(args, timeout=timeout, what=problem)
        name = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
        if done.returncode != 0 or not name:
            raise KubectlError(f"{problem} (`kubectl {' '.join(args)}`: {_stderr_text(done.stderr)}); {hint}",
                               SETUP_EXIT)
        return name

    def apply(self, files: Sequence[str], *, timeout: float) -> str:
        """``kubectl apply --validate=strict -f F1 -f F2 ...`` in the order given (a ServingRuntime before the
        InferenceService); strict: the API server refuses unknown fields instead of dropping them."""
        args = ["apply", "--validate=strict"]
        for path in files:
            args += ["-f", path]
        return self.run(args, timeout=timeout, what="kubectl apply failed").stdout

    def rollout_status(self, resource: str, namespace: str, *, timeout_s: int) -> None:
        """Wait until ``resource`` (``deployment/NAME``) has rolled out, at most ``timeout_s`` seconds."""
        self.run(["rollout", "status", resource, "-n", namespace, f"--timeout={timeout_s}s"],
                 timeout=timeout_s + 30,
                 what=f"rollout of {resource} in namespace {namespace} not done within {timeout_s}s")

    def wait_ready(self, resource: str, namespace: str, *, timeout_s: int) -> None:
        """Wait until ``resource`` (an InferenceService) reports condition Ready, at most ``timeout_s`` seconds."""
        self.run(["wait", "--for=condition=Ready", resource, "-n", namespace, f"--timeout={timeout_s}s"],
                 timeout=timeout_s + 30, what=f"{resource} in namespace {namespace} not Ready within {timeout_s}s")

    def running_pod(self, namespace: str, selector: str, *, timeout: float = 60) -> str:
        """``pod/NAME`` of a running pod matching the label ``selector``."""
        done = self.run(["get", "pods", "-n", namespace, "-l", selector, "--field-selector=status.phase=Running",
                         "-o", "name"], timeout=timeout, what=f"looking up the pods of {selector}")
        pods = sorted(line.strip() for line in done.stdout.splitlines() if line.strip())
        if not pods:
            raise KubectlError(f"no running pod in namespace {namespace} matches {selector} "
                               f"(`kubectl get pods -n {namespace} -l {selector}` shows what there is)")
        return pods[0]

    @contextlib.contextmanager
    def port_forward(self, resource: str, namespace: str, remote_ports: Sequence[int], *,
                     ready_timeout: float = 30) -> Iterator[dict[int, int]]:
        """Forward ``remote_ports`` of ``resource`` to free 127.0.0.1 ports; yields {remote port: local port} once
        every local port accepts connections. The kubectl process is stopped on exit, whatever happens."""
        local: dict[int, int] = {}
        for remote in remote_ports:
            port = free_port()
            while port in local.values():
                port = free_port()
            local[remote] = port
        argv = self.argv("port-forward", "--address", "127.0.0.1", "-n", namespace, resource,
                         *(f"{lp}:{rp}" for rp, lp in local.items()))
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
            try:
                self._wait_forwarding(process, output, local, resource, ready_timeout)
                yield local
            finally:
                _stop(process)

    def _wait_forwarding(self, process: subprocess.Popen[bytes], output: IO[bytes], local: dict[int, int],
                         resource: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(local.values())
        while pending:
            pending = {port for port in pending if not _accepts(port)}
            if not pending:
                return
            code = process.poll()
            if code is not None or time.monotonic() >= deadline:
                output.seek(0)
                text = _stderr_text(output.read())
                state = f"exited {code}" if code is not None else f"not forwarding within {timeout:g}s"
                raise KubectlError(f"kubectl port-forward {resource} {state} (127.0.0.1 ports "
                                   f"{sorted(pending)} not answering): {text}")
            time.sleep(0.1)  # polling the local ports, bounded by the deadline above


def _stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, wait, SIGKILL as a fallback."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
