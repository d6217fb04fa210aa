"""Start and stop a private ``dockerd`` for the tests (Debian's docker.io): vfs storage, no bridge, no iptables, its
own data/exec roots and UNIX socket in a temporary folder, so it touches nothing else on the machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class DockerdUnavailable(Exception):
    """dockerd is not installed and could not be installed (the only reason the tests may skip)."""


def ensure_dockerd_installed() -> str:
    """Path of ``dockerd``; installs Debian's docker.io with apt-get when missing (we run as root in CI)."""
    found = shutil.which("dockerd")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise DockerdUnavailable("dockerd is not installed and apt-get (as root) is not available to install docker.io")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            raise DockerdUnavailable(f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    found = shutil.which("dockerd")
    if not found:
        raise DockerdUnavailable("docker.io was installed but dockerd is not on PATH")
    return found


@dataclass
class Dockerd:
    """A running private engine; ``host`` is the DOCKER_HOST value for clients."""

    process: subprocess.Popen[bytes]
    root: Path
    log_path: Path

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self, **extra: str) -> dict[str, str]:
        """The process environment with DOCKER_HOST pointing here (and no other Docker context)."""
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
        env["DOCKER_HOST"] = self.host
        env.update(extra)
        return env

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # The daemon can leave mounts behind (e.g. exec-root/netns/default): unmount them, deepest first.
        prefix = str(self.root) + "/"
        with open("/proc/mounts", encoding="utf-8") as mounts:
            targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
        for target in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dockerd(timeout: float = 60) -> Dockerd:
    """Start dockerd and wait (with a deadline) until its API answers ``_ping``."""
    binary = ensure_dockerd_installed()
    root = Path(tempfile.mkdtemp(prefix="tfs-dockerd-", dir="/tmp"))
    (root / "daemon.json").write_text("{}\n")
    log_path = root / "dockerd.log"
    args = [
        binary,
        "--config-file", str(root / "daemon.json"),
        "--storage-driver=vfs",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "docker.pid"),
        "--host", f"unix://{root / 'docker.sock'}",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    engine = Dockerd(process, root, log_path)
    import docker

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = engine.log_text()
            engine.stop()
            raise RuntimeError(f"dockerd exited with status {process.returncode}:\n{log[-3000:]}")
        if engine.socket.exists():
            try:
                client = docker.DockerClient(base_url=engine.host, timeout=5)
                client.ping()
                client.close()
                return engine
            except Exception as exc:  # noqa: BLE001 - not answering yet
                last = exc
        time.sleep(0.2)  # pause between polls; the deadline bounds the wait
    engine.stop()
    raise RuntimeError(f"dockerd did not answer within {timeout}s ({last}):\n{engine.log_text()[-3000:]}")
