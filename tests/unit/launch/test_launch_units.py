"""Fast checks of the launcher's pieces: readiness rules, expected versions, container settings, error messages,
the embedded command line and the endpoints file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from toolkit.deployment import DeploymentSpec, ModelEntry, ServerSpec, parse_spec
from toolkit.launch.container import LABEL_DEPLOY_DIR, LABEL_MANAGED, Mount, container_name, container_spec
from toolkit.launch.docker_runtime import DockerRuntime, _split_reference, explain_engine_error
from toolkit.launch.embedded import embedded_command
from toolkit.launch.errors import GpuUnavailableError, LaunchError, ModelLoadError, PortInUseError
from toolkit.launch.readiness import VersionStatus, check_ready, expected_versions
from toolkit.launch.state import Endpoints, read_endpoints, write_endpoints


def make_deploy(tmp_path: Path, versions: dict[str, list[int]], **model_kw) -> tuple[Path, DeploymentSpec]:
    deploy = tmp_path / "deploy"
    for name, vs in versions.items():
        for v in vs:
            (deploy / "models" / name / str(v)).mkdir(parents=True)
            (deploy / "models" / name / str(v) / "saved_model.pb").write_bytes(b"x")
    models = tuple(ModelEntry(name, f"/models/{name}", **model_kw) for name in versions)
    return deploy, DeploymentSpec(models=models)


# ------------------------------------------------------------------------------------------ readiness rules
def test_ready_only_when_every_expected_version_is_available() -> None:
    expected = {"a": [1, 2], "b": None}
    statuses = {
        "a": [VersionStatus(2, "AVAILABLE"), VersionStatus(1, "LOADING")],
        "b": [VersionStatus(7, "AVAILABLE")],
    }
    assert check_ready(statuses, expected) is False
    statuses["a"][1] = VersionStatus(1, "AVAILABLE")
    assert check_ready(statuses, expected) is True
    assert check_ready({"a": statuses["a"], "b": [VersionStatus(7, "LOADING")]}, expected) is False


def test_a_version_in_end_fails_fast_with_the_servers_error() -> None:
    statuses = {"a": [VersionStatus(3, "END", "NOT_FOUND", "Could not find SavedModel .pb or .pbtxt at /models/a/3")]}
    with pytest.raises(ModelLoadError, match=r"model 'a' version 3 failed to load \(NOT_FOUND: Could not find Saved"):
        check_ready(statuses, {"a": [3]})


def test_an_unexpected_old_version_in_end_does_not_fail() -> None:
    statuses = {"a": [VersionStatus(2, "AVAILABLE"), VersionStatus(1, "END")]}
    assert check_ready(statuses, {"a": [2]}) is True


def test_expected_versions_follow_the_policy(tmp_path: Path) -> None:
    deploy, spec = make_deploy(tmp_path, {"m": [1, 2, 5]}, num_versions=2)
    assert expected_versions(spec, deploy) == {"m": [2, 5]}
    spec_all = dataclasses.replace(spec, models=(dataclasses.replace(spec.models[0], policy="all"),))
    assert expected_versions(spec_all, deploy) == {"m": [1, 2, 5]}
    uri = DeploymentSpec(models=(ModelEntry("r", "s3://bucket/r"),))
    assert expected_versions(uri, deploy) == {"r": None}


def test_no_version_folder_is_refused_before_launch(tmp_path: Path) -> None:
    deploy, spec = make_deploy(tmp_path, {"m": []})
    with pytest.raises(LaunchError, match=r"model 'm': no version to serve under .*models/m.*tfs export"):
        expected_versions(spec, deploy)


# ------------------------------------------------------------------------------------------ container settings
def test_container_spec_gpu_cpu_and_host_network(tmp_path: Path) -> None:
    spec = DeploymentSpec(models=(ModelEntry("m", "/models/m"),), server=ServerSpec(grpc_port=9000, rest_port=9001))
    gpu = container_spec(spec, tmp_path / "deploy")
    assert gpu.image == "tensorflow/serving:2.20.0-gpu" and gpu.gpu
    assert [(p.container_port, p.host_ip, p.host_port) for p in gpu.ports] == [
        (8500, "127.0.0.1", 9000),
        (8501, "127.0.0.1", 9001),
    ]
    assert all(m.read_only for m in gpu.mounts)
    assert gpu.labels[LABEL_MANAGED] == "true"
    assert gpu.labels[LABEL_DEPLOY_DIR] == str((tmp_path / "deploy").resolve())
    assert gpu.name == container_name(tmp_path / "deploy") != container_name(tmp_path / "other")
    cpu = container_spec(spec, tmp_path / "deploy", cpu=True)
    assert cpu.image == "tensorflow/serving:2.20.0" and cpu.device_requests() == []
    host = container_spec(spec, tmp_path / "deploy", network_mode="host")
    assert host.ports == () and host.command[-2:] == ("--port=9000", "--rest_api_port=9001")


def test_sdk_create_arguments_carry_the_gpu_request_and_read_only_mounts(tmp_path: Path) -> None:
    spec = DeploymentSpec(models=(ModelEntry("m", "/models/m"),), server=ServerSpec(gpu_count=2))
    cspec = container_spec(spec, tmp_path / "deploy", extra_mounts=(Mount("/opt/x", "/opt/x"),), environment={"A": "1"})
    kwargs = DockerRuntime(client=None, spec=cspec).create_kwargs()
    assert kwargs["ports"] == {"8500/tcp": ("127.0.0.1", 8500), "8501/tcp": ("127.0.0.1", 8501)}
    assert [dict(r) for r in kwargs["device_requests"]] == [
        {"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]], "DeviceIDs": [], "Options": {}}
    ]
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in kwargs["mounts"]] == [
        (f"{tmp_path / 'deploy'}/models", "/models", True),
        (str(tmp_path / "deploy"), "/config", True),
        ("/opt/x", "/opt/x", True),
    ]
    assert kwargs["healthcheck"]["test"][:3] == ["CMD", "bash", "-c"]
    assert kwargs["environment"] == {"A": "1"}
    assert kwargs["command"][0] == "--model_config_file=/config/models.config"


def test_mount_parsing_names_the_problem() -> None:
    assert Mount.parse("/a:/b") == Mount("/a", "/b", True)
    assert Mount.parse("/a:/b:rw").read_only is False
    for bad in ("/a", "/a:b", "/a:/b:xx", ":/b"):
        with pytest.raises(ValueError, match="--mount: expected"):
            Mount.parse(bad)


def test_engine_errors_become_actionable_messages(tmp_path: Path) -> None:
    spec = container_spec(DeploymentSpec(models=()), tmp_path)
    gpu = explain_engine_error(
        RuntimeError('could not select device driver "nvidia" with capabilities: [[gpu]]'), spec
    )
    assert isinstance(gpu, GpuUnavailableError)
    assert "tfs up --cpu" in str(gpu) and "NVIDIA Container Toolkit" in str(gpu)
    assert 'could not select device driver "nvidia"' in str(gpu)
    port = explain_engine_error(RuntimeError("Bind for 127.0.0.1:8500 failed: port is already allocated"), spec)
    assert isinstance(port, PortInUseError) and "grpc_port" in str(port)


def test_image_references_split_into_repository_and_tag() -> None:
    assert _split_reference("tensorflow/serving:2.20.0-gpu") == ("tensorflow/serving", "2.20.0-gpu")
    assert _split_reference("localhost:5000/serving") == ("localhost:5000/serving", "latest")
    assert _split_reference("localhost:5000/serving:1") == ("localhost:5000/serving", "1")


# ------------------------------------------------------------------------------------------ embedded + state
def test_embedded_command_uses_server_flags_with_localized_config(tmp_path: Path) -> None:
    deploy, _ = make_deploy(tmp_path, {"m": [1]})
    spec = parse_spec(
        {"server": {"grpc_port": 9100, "rest_port": 9101}, "models": [{"name": "m"}], "batching": {"enabled": True}}
    )
    cmd = embedded_command(spec, deploy, python="/usr/bin/python3")
    assert cmd[:3] == ["/usr/bin/python3", "-m", "toolkit.server"]
    assert "--host=127.0.0.1" in cmd and "--port=9100" in cmd and "--rest_api_port=9101" in cmd
    local = deploy.resolve() / ".tfs" / "models.local.config"
    assert f"--model_config_file={local}" in cmd
    assert f"--batching_parameters_file={deploy.resolve()}/batching.config" in cmd
    assert f'base_path: "{deploy.resolve()}/models/m"' in local.read_text()


def test_endpoints_file_round_trips(tmp_path: Path) -> None:
    ep = Endpoints(grpc="127.0.0.1:8500", rest="http://127.0.0.1:8501", runtime="docker", container="c")
    path = write_endpoints(tmp_path, ep)
    assert json.loads(path.read_text()) == {
        "grpc": "127.0.0.1:8500",
        "rest": "http://127.0.0.1:8501",
        "runtime": "docker",
        "container": "c",
        "deploy_dir": "",
    }
    assert read_endpoints(tmp_path) == ep
    assert read_endpoints(tmp_path / "nothing") is None


def test_auto_runtime_falls_back_to_embedded_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.launch.launcher import choose_runtime

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert choose_runtime("auto") == "embedded"
    assert choose_runtime("docker") == "docker"


def test_pull_progress_tracks_each_layer() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from toolkit.cli.up import _PullBar

    progress = Progress(console=Console(file=io.StringIO()))
    bar = _PullBar(progress)
    bar({"status": "Pulling from tensorflow/serving", "id": "2.20.0-gpu"})
    bar({"status": "Downloading", "progressDetail": {"current": 50, "total": 200}, "id": "aaa"})
    bar({"status": "Already exists", "progressDetail": {}, "id": "bbb"})
    task_a = progress.tasks[bar.tasks["aaa"]]
    assert (task_a.completed, task_a.total) == (50, 200) and "Downloading" in task_a.description
    bar({"status": "Pull complete", "progressDetail": {}, "id": "aaa"})
    assert progress.tasks[bar.tasks["aaa"]].finished and progress.tasks[bar.tasks["bbb"]].finished
    assert set(bar.tasks) == {"aaa", "bbb"}  # the "Pulling from" line is not a layer


def test_status_of_an_unreachable_server_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.live_server import free_port
    from toolkit.cli import main

    deploy, _ = make_deploy(tmp_path, {"m": [1]})
    (deploy / "deployment.toml").write_text('[[models]]\nname = "m"\n')
    exit_code = main(["status", "--deploy-dir", str(deploy), "--rest", f"http://127.0.0.1:{free_port()}"])
    output = capsys.readouterr().out
    assert exit_code == 1
    assert "unreachable" in output and "ConnectError" in output
    none = main(["status", "--deploy-dir", str(deploy)])
    assert none == 1 and "no endpoints recorded" in capsys.readouterr().err
