"""What ``tfs up`` leaves behind in ``deploy/.tfs/``: ``endpoints.json`` (read by ``tfs smoke``, ``down``, ``status``,
``logs``), and for the embedded runtime its pid file and log file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from toolkit.atomic_file import atomic_file

STATE_DIR = ".tfs"
ENDPOINTS_FILE = "endpoints.json"
PID_FILE = "server.pid"
LOG_FILE = "server.log"


@dataclass(frozen=True)
class Endpoints:
    """Where the running server answers, and which runtime runs it (``docker`` or ``embedded``)."""

    grpc: str
    rest: str
    runtime: str
    container: str | None = None
    pid: int | None = None
    deploy_dir: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def state_dir(deploy_dir: str | Path) -> Path:
    return Path(deploy_dir) / STATE_DIR


def client_host(host: str) -> str:
    """The address a client on this machine uses for a server bound to ``host`` (0.0.0.0/:: -> loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def write_endpoints(deploy_dir: str | Path, endpoints: Endpoints) -> Path:
    """Atomically write ``deploy/.tfs/endpoints.json``."""
    directory = state_dir(deploy_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ENDPOINTS_FILE
    payload = {k: v for k, v in asdict(endpoints).items() if v not in (None, {})}
    with atomic_file(path, permissions=0o600) as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    return path


def read_endpoints(deploy_dir: str | Path) -> Endpoints | None:
    """The endpoints of the last ``tfs up`` for this folder, or None."""
    path = state_dir(deploy_dir) / ENDPOINTS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _corrupt(path, exc) from None
    known = set(Endpoints.__dataclass_fields__)
    try:
        return Endpoints(**{k: v for k, v in raw.items() if k in known})
    except (AttributeError, TypeError) as exc:  # not an object, or grpc/rest/runtime missing
        raise _corrupt(path, exc) from None


def _corrupt(path: Path, exc: Exception) -> Exception:
    from toolkit.launch.errors import LaunchError

    return LaunchError(f"{path}: expected the JSON object `tfs up` writes (grpc, rest, runtime), got {exc}; "
                       f"`tfs down` stops the server it can find and removes the file")


def clear_endpoints(deploy_dir: str | Path) -> None:
    (state_dir(deploy_dir) / ENDPOINTS_FILE).unlink(missing_ok=True)
