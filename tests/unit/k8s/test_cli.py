"""``tfs k8s`` writes into ``--out`` (default deploy/k8s), ``--check`` fails on drift (changed, missing or no
longer rendered files) as ``tfs compose --check`` does, and the committed deploy/k8s matches deploy/deployment.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from toolkit.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def deploy(tmp_path: Path, models_dir: Path) -> Path:
    folder = tmp_path / "deploy"
    folder.mkdir()
    shutil.move(str(models_dir), folder / "models")
    (folder / "deployment.toml").write_text(
        '[server]\ngpu = false\n\n[[models]]\nname = "planet"\n\n[kubernetes]\nnamespace = "ml"\n'
    )
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["k8s", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_write_then_check_then_drift(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--deploy-dir", str(deploy))[0] == 0
    out_dir = deploy / "k8s"
    dep = yaml.safe_load((out_dir / "plain" / "deployment.yaml").read_text())
    assert dep["metadata"]["namespace"] == "ml"
    code, out, _ = run(capsys, "--deploy-dir", str(deploy), "--check")
    assert code == 0 and "up to date" in out

    spec = deploy / "deployment.toml"
    spec.write_text(spec.read_text().replace('"ml"', '"prod"'))
    code, _, err = run(capsys, "--deploy-dir", str(deploy), "--check")
    assert code == 1
    assert "out of date" in err and "plain/deployment.yaml" in err and "kserve/servingruntime.yaml" in err
    assert yaml.safe_load((out_dir / "plain" / "deployment.yaml").read_text())["metadata"]["namespace"] == "ml"


def test_check_sees_hand_edits_missing_and_leftover_files(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = deploy / "k8s"
    run(capsys, "--deploy-dir", str(deploy))
    service = out_dir / "plain" / "service.yaml"
    service.write_text(service.read_text().replace("ClusterIP", "NodePort"))
    code, _, err = run(capsys, "--deploy-dir", str(deploy), "--check")
    assert code == 1 and "plain/service.yaml" in err and "deployment.yaml" not in err
    service.unlink()
    assert "plain/service.yaml" in run(capsys, "--deploy-dir", str(deploy), "--check")[2]
    # After --bake there is no PVC: a pvc.yaml left behind is drift, and writing removes it.
    run(capsys, "--deploy-dir", str(deploy))
    code, _, err = run(capsys, "--deploy-dir", str(deploy), "--bake", "--check")
    assert code == 1 and "plain/pvc.yaml" in err and "Dockerfile" in err
    code, out, _ = run(capsys, "--deploy-dir", str(deploy), "--bake")
    assert code == 0 and "removed" in out and not (out_dir / "plain" / "pvc.yaml").exists()
    assert (out_dir / "Dockerfile").is_file()
    assert run(capsys, "--deploy-dir", str(deploy), "--bake", "--check")[0] == 0
    assert run(capsys, "--deploy-dir", str(deploy), "--check")[0] == 1  # the PVC variant differs


def test_out_picks_the_folder(deploy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "elsewhere"
    assert run(capsys, "--deploy-dir", str(deploy), "--out", str(target), "--cpu")[0] == 0
    assert (target / "plain" / "deployment.yaml").is_file() and not (deploy / "k8s").exists()
    assert run(capsys, "--deploy-dir", str(deploy), "--out", str(target), "--cpu", "--check")[0] == 0


def test_bad_value_is_one_line_exit_1(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = deploy / "deployment.toml"
    spec.write_text(spec.read_text() + "replicas = -2\n")
    code, out, err = run(capsys, "--deploy-dir", str(deploy))
    assert code == 1 and out == ""
    assert err.strip() == "Error: kubernetes.replicas: expected an integer >= 0, got -2"
    assert not (deploy / "k8s").exists()


def test_committed_manifests_match_the_example_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "--deploy-dir", str(REPO / "deploy"), "--check")
    assert code == 0, err
