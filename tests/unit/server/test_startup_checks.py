"""``tfs serve`` refuses bad options and unreadable config files, and prints ``--version``, before TensorFlow is
imported: a misconfigured server fails at once instead of after TensorFlow's seconds-long import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.live_server import REPO_ROOT, server_env

PROBE = """
import sys
from toolkit.server.main import run
status = run(sys.argv[1:])
print("TF_IMPORTED" if "tensorflow" in sys.modules else "TF_NOT_IMPORTED", status)
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=str(REPO_ROOT),
        env=server_env(),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Both server_options.model_base_path and server_options.model_config_file are empty!"),
        (["--port=0", "--model_base_path=/m"], "At least one of server_options.grpc_port or server_options.grpc_socket_path"),
        (["--port=8500", "--model_config_file=/does/not/exist.config"], "Could not read model config file"),
        (["--port=8500", "--model_base_path=/m", "--monitoring_config_file=/does/not/exist"], "monitoring"),
    ],
)
def test_bad_options_fail_before_tensorflow_is_imported(args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.stdout.split() == ["TF_NOT_IMPORTED", "1"], (result.stdout, result.stderr)
    assert "Failed to start server. Error: " in result.stderr
    assert message.lower() in result.stderr.lower(), result.stderr


def test_version_is_printed_without_importing_tensorflow() -> None:
    result = _run("--version")
    lines = result.stdout.splitlines()
    assert lines[-1] == "TF_NOT_IMPORTED 0", result.stdout
    assert lines[0].startswith("TensorFlow ModelServer: ") and lines[0].endswith("-tfs-toolkit")
    from importlib.metadata import version

    assert lines[1] == f"TensorFlow Library: {version('tensorflow')}"
