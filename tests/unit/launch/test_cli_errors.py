"""`tfs up / down / status / logs / compose / smoke` with a damaged deploy/.tfs/endpoints.json or bad options: one
clear line naming the file or option, a non-zero exit status, no Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.launch.errors import LaunchError
from toolkit.launch.state import Endpoints, read_endpoints, write_endpoints


def run_tfs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "DOCKER_HOST": "unix:///nonexistent.sock"})


@pytest.fixture()
def deploy(tmp_path: Path) -> Path:
    (tmp_path / "deployment.toml").write_text('[[models]]\nname = "a"\n')
    (tmp_path / ".tfs").mkdir()
    return tmp_path


@pytest.mark.parametrize(("content", "got"), [
    ("{bad json", "got Expecting property name"),
    ("[1]", "got 'list' object has no attribute 'items'"),
    ('{"grpc": "127.0.0.1:1"}', "missing 2 required positional arguments: 'rest' and 'runtime'"),
])
def test_a_damaged_endpoints_file_is_a_launch_error_naming_it(deploy: Path, content: str, got: str) -> None:
    path = deploy / ".tfs" / "endpoints.json"
    path.write_text(content)
    with pytest.raises(LaunchError) as info:
        read_endpoints(deploy)
    assert str(info.value).startswith(f"{path}: expected the JSON object `tfs up` writes (grpc, rest, runtime)")
    assert got in str(info.value)


def test_status_smoke_logs_and_down_with_a_damaged_endpoints_file(deploy: Path) -> None:
    path = deploy / ".tfs" / "endpoints.json"
    path.write_text("{bad json")
    for command, status in (("status", 1), ("smoke", 2)):
        proc = run_tfs(command, "--deploy-dir", str(deploy))
        assert proc.returncode == status, (command, proc.stderr)
        assert f"{path}: expected the JSON object" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_tfs("logs", "--deploy-dir", str(deploy))
    assert proc.returncode == 1 and "nothing started by `tfs up` is running" in proc.stderr
    assert "Traceback" not in proc.stderr
    # down finds nothing to stop, says so, and removes the damaged file so the next `tfs up` starts clean
    proc = run_tfs("down", "--deploy-dir", str(deploy))
    assert proc.returncode == 0 and "nothing was running" in proc.stdout, proc.stderr
    assert not path.exists()


def test_status_with_nothing_running_says_what_to_do(deploy: Path) -> None:
    proc = run_tfs("status", "--deploy-dir", str(deploy))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no endpoints recorded" in proc.stderr and "run `tfs up`, or pass --rest URL" in proc.stderr


def test_intact_endpoints_still_round_trip(deploy: Path) -> None:
    ep = Endpoints("127.0.0.1:1", "http://127.0.0.1:2", "embedded", pid=3, deploy_dir=str(deploy))
    write_endpoints(deploy, ep)
    assert read_endpoints(deploy) == ep


@pytest.mark.parametrize(("args", "message"), [
    (["up", "--timeout", "0"], "Invalid value for '--timeout': 0.0 is not in the range x>0"),
    (["up", "--timeout", "-5"], "Invalid value for '--timeout'"),
    (["compose", "--root", "/nonexistent/tfs-root"], "Directory '/nonexistent/tfs-root' does not exist"),
])
def test_out_of_range_launch_options_are_usage_errors(deploy: Path, args: list[str], message: str) -> None:
    extra = ["--deploy-dir", str(deploy)] if args[0] == "up" else []
    proc = run_tfs(*args, *extra)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (deploy / ".tfs" / "endpoints.json").exists()


def test_compose_into_an_unwritable_root_is_a_clean_error(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    (root / "compose.yaml").mkdir()  # a folder where the file should go: the atomic replace fails, for root too
    proc = run_tfs("compose", "--root", str(root))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "compose.yaml" in proc.stderr
