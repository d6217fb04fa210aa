"""On a real (private) Docker engine with the stand-in image: ``docker compose up --wait`` with compose.yaml + the CPU
variant, ``tfs up --runtime docker`` through the SDK, and the GPU variant's device request reaching the engine.

The containers share the host's network (``network_mode: host``) and the server listens on 127.0.0.1 only, so the
tests touch nothing but the loopback address. Predictions go over real sockets, REST and gRPC."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.docker.dockerd import Dockerd
from tests.integration.docker.standin import standin_environment, standin_mounts
from tests.integration.launch.deploy_helpers import REPO_ROOT, grpc_predict, make_deploy, rest_predict, run_tfs
from toolkit.launch.container import LABEL_MANAGED
from toolkit.launch.healthcheck import HEALTHCHECK_SCRIPT
from toolkit.serving_config import generate_config

pytestmark = pytest.mark.slow

COMPOSE = str(Path(sys.executable).parent / "docker-compose")


def compose(dockerd: Dockerd, project_dir: Path, project: str, files: list[Path], *args: str, timeout: float = 300):
    cmd = [COMPOSE, "--project-directory", str(project_dir), "-p", project]
    for f in files:
        cmd += ["-f", str(f)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=dockerd.env(), timeout=timeout)


def standin_override(path: Path, image: str, command: list[str] | None) -> Path:
    """The TEST-only override: stand-in image, host networking, the interpreter/venv/repo mounted read-only."""
    q = json.dumps
    lines = ["services:", "  serving:", f"    image: {q(image)}", "    network_mode: host", "    ports: !reset []"]
    if command is not None:
        lines += ["    command:", *[f"      - {q(arg.replace('$', '$$'))}" for arg in command]]
    lines.append("    environment:")
    lines += [f"      {q(k)}: {q(v)}" for k, v in standin_environment("127.0.0.1").items()]
    lines.append("    volumes:")
    for src, dst in standin_mounts():
        lines += ["      - type: bind", f"        source: {q(src)}", f"        target: {q(dst)}", "        read_only: true"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def follow_logs(deploy: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``tfs logs -f`` in the background (it must end by itself once the server is stopped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli", "logs", "-f", "--deploy-dir", str(deploy)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO_ROOT),
    )


def managed_containers(client) -> list:  # type: ignore[no-untyped-def]
    return client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"})


def test_compose_up_wait_cpu_variant_serves_predictions(
    dockerd: Dockerd, docker_client, standin_image: str, half_plus_two_src: Path, tmp_path: Path
) -> None:
    # compose.yaml's flags are those of the repository's spec (no label flag): serve a label-free deployment.
    deploy, grpc_port, rest_port = make_deploy(tmp_path, half_plus_two_src, label=False)
    generate_config(deploy)  # what `tfs config` does
    files = [REPO_ROOT / "compose.yaml", REPO_ROOT / "compose.cpu.yaml"]
    config = compose(dockerd, tmp_path, "tfstest", files, "config", "--format", "json")
    assert config.returncode == 0, config.stderr
    base_command = json.loads(config.stdout)["services"]["serving"]["command"]
    # Host networking: tell the server which loopback ports to use (appended flags win over the entrypoint's).
    override = standin_override(
        tmp_path / "override.yaml", standin_image, [*base_command, f"--port={grpc_port}", f"--rest_api_port={rest_port}"]
    )
    files.append(override)
    try:
        up = compose(dockerd, tmp_path, "tfstest", files, "up", "-d", "--wait", "--wait-timeout", "240")
        logs = compose(dockerd, tmp_path, "tfstest", files, "logs").stdout
        assert up.returncode == 0, f"compose up --wait failed:\n{up.stderr}\n--- logs ---\n{logs}"
        (container,) = managed_containers(docker_client)
        # `up --wait` returned, so Docker ran our bash healthcheck in the container and it passed.
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        assert container.attrs["Config"]["Healthcheck"]["Test"] == ["CMD", "bash", "-c", HEALTHCHECK_SCRIPT]
        assert container.attrs["Config"]["Cmd"][: len(base_command)] == base_command
        assert container.attrs["Config"]["Entrypoint"] == ["/usr/bin/tf_serving_entrypoint.sh"]
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/models"]["RW"] is False and mounts["/config"]["RW"] is False
        assert mounts["/models"]["Source"] == str(deploy / "models")
        assert rest_predict(f"http://127.0.0.1:{rest_port}", "half", [1.0, 2.0, 5.0]) == [2.5, 3.0, 4.5]
        assert grpc_predict(f"127.0.0.1:{grpc_port}", "half", [4.0]) == [4.0]
    finally:
        down = compose(dockerd, tmp_path, "tfstest", files, "down", "--timeout", "20")
    assert down.returncode == 0, down.stderr
    assert managed_containers(docker_client) == []


def test_tfs_up_through_the_sdk_status_logs_down(
    dockerd: Dockerd, docker_client, standin_image: str, half_plus_two_src: Path, tmp_path: Path
) -> None:
    deploy, grpc_port, rest_port = make_deploy(tmp_path, half_plus_two_src)
    extra: list[str] = []
    for src, dst in standin_mounts():
        extra += ["--mount", f"{src}:{dst}:ro"]
    for key, value in standin_environment("127.0.0.1").items():
        extra += ["--env", f"{key}={value}"]
    env = dockerd.env()
    up = run_tfs(
        # --runtime auto: the engine answers a ping, so Docker is chosen.
        "up", "--deploy-dir", str(deploy), "--runtime", "auto", "--cpu", "--image", standin_image, "--no-pull",
        "--network", "host", *extra, "--timeout", "240", env=env,
    )
    follower = None
    try:
        assert up.returncode == 0, f"tfs up failed:\n{up.stdout}\n{up.stderr}"
        assert "runtime: docker" in up.stdout and "AVAILABLE" in up.stdout
        endpoints = json.loads((deploy / ".tfs" / "endpoints.json").read_text())
        assert endpoints["runtime"] == "docker"
        assert endpoints["grpc"] == f"127.0.0.1:{grpc_port}" and endpoints["rest"] == f"http://127.0.0.1:{rest_port}"
        (container,) = managed_containers(docker_client)
        assert container.name == endpoints["container"]
        assert container.attrs["Config"]["Healthcheck"]["Test"] == ["CMD", "bash", "-c", HEALTHCHECK_SCRIPT]
        assert container.attrs["Config"]["Cmd"][0] == "--model_config_file=/config/models.config"
        assert container.attrs["HostConfig"]["DeviceRequests"] in (None, [])  # --cpu: no GPU request
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/models"]["RW"] is False and mounts["/config"]["RW"] is False
        assert rest_predict(endpoints["rest"], "half", [1.0, 2.0, 5.0]) == [2.5, 3.0, 4.5]
        assert grpc_predict(endpoints["grpc"], "half", [4.0]) == [4.0]
        # Docker's own healthcheck (our bash probe, every 5 s) turns healthy: poll with a deadline.
        deadline = time.monotonic() + 60
        while container.attrs["State"]["Health"]["Status"] != "healthy" and time.monotonic() < deadline:
            time.sleep(1)  # pause between polls; the deadline bounds the wait
            container.reload()
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        status = run_tfs("status", "--deploy-dir", str(deploy), env=env)
        assert status.returncode == 0, status.stderr
        row = next(line for line in status.stdout.splitlines() if "half" in line)
        assert "AVAILABLE" in row and "stable" in row
        logs = run_tfs("logs", "--deploy-dir", str(deploy), "--tail", "200", env=env)
        assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr
        assert logs.stdout.strip() == container.logs(tail=200).decode().strip()
        follower = follow_logs(deploy, env)
    finally:
        down = run_tfs("down", "--deploy-dir", str(deploy), env=env)
    assert down.returncode == 0 and "stopped the docker server" in down.stdout, down.stderr
    assert follower is not None and follower.wait(timeout=60) == 0  # `logs -f` ends when the container stops
    assert managed_containers(docker_client) == []
    assert not (deploy / ".tfs" / "endpoints.json").exists()


def test_gpu_variant_reaches_the_engine_and_gets_an_actionable_message(
    dockerd: Dockerd, docker_client, standin_image: str, half_plus_two_src: Path, tmp_path: Path
) -> None:
    """This engine has no NVIDIA runtime: its own "could not select device driver" error proves the GPU request
    was sent, and `tfs up` turns it into advice (the CPU variant)."""
    deploy, _, _ = make_deploy(tmp_path, half_plus_two_src)
    up = run_tfs(
        "up", "--deploy-dir", str(deploy), "--runtime", "docker", "--image", standin_image, "--no-pull",
        "--network", "host", env=dockerd.env(),
    )
    assert up.returncode == 1, up.stdout
    assert 'could not select device driver "nvidia"' in up.stderr  # the engine's own words
    assert "tfs up --cpu" in up.stderr and "NVIDIA Container Toolkit" in up.stderr
    assert managed_containers(docker_client) == []  # nothing left behind
    assert not (deploy / ".tfs" / "endpoints.json").exists()

    # compose.yaml's deploy.resources.reservations reaches the engine the same way.
    generate_config(deploy)
    files = [REPO_ROOT / "compose.yaml", standin_override(tmp_path / "override.yaml", standin_image, None)]
    try:
        result = compose(dockerd, tmp_path, "tfsgpu", files, "up", "-d")
        assert result.returncode != 0
        assert 'could not select device driver "nvidia"' in result.stderr
    finally:
        compose(dockerd, tmp_path, "tfsgpu", files, "down")


def test_missing_image_is_explained(dockerd: Dockerd, half_plus_two_src: Path, tmp_path: Path) -> None:
    """An image that is neither local nor pullable. The registry named is a closed port on 127.0.0.1, so the
    engine's pull attempt touches only the loopback address."""
    from tests.support.live_server import free_port

    deploy, _, _ = make_deploy(tmp_path, half_plus_two_src)
    image = f"127.0.0.1:{free_port()}/tfs-toolkit/absent:1"
    up = run_tfs("up", "--deploy-dir", str(deploy), "--runtime", "docker", "--cpu", "--image", image, env=dockerd.env())
    assert up.returncode == 1
    assert f"image {image} is not present locally and could not be pulled" in up.stderr
    assert "--image / TFS_IMAGE" in up.stderr
    assert not (deploy / ".tfs" / "endpoints.json").exists()
