"""The pod's command: bash runs the server as a child and forwards SIGTERM (TF Serving, as PID 1, would ignore it),
and exits with the server's own status. Real processes, bounded waits."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from toolkit.k8s.pod import command

SERVER = """
import signal, sys, time, pathlib
out = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (out.write_text("TERM " + " ".join(sys.argv[2:])), sys.exit(7)))
out.write_text("started")
time.sleep(60)
"""


def test_sigterm_reaches_the_server_and_its_status_is_kept(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    marker = tmp_path / "marker"
    argv = command(sys.executable)
    proc = subprocess.Popen([*argv, str(script), str(marker), "--port=8500", "--flag=a b"])
    try:
        deadline = time.monotonic() + 20
        while not (marker.exists() and marker.read_text() == "started") and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 7
        assert marker.read_text() == "TERM --port=8500 --flag=a b"
    finally:
        proc.kill()


def test_server_exit_status_passes_through() -> None:
    argv = command(sys.executable)
    assert subprocess.run([*argv, "-c", "import sys; sys.exit(3)"], check=False, timeout=20).returncode == 3
