"""``tfs k8s smoke`` when the cluster side goes wrong, against a fake ``kubectl`` on PATH that records its calls:
one clear line each, exit 2 when the run cannot start (no kubectl, no context, manifests not written), exit 1 when
the deployment fails (apply refused, rollout timed out, InferenceService not Ready, port-forward failed), kubectl's
stderr shown, and no later step run after a failed one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.fake_kubectl import read_calls, write_fake_kubectl
from toolkit.cli import main


@pytest.fixture
def deploy(tmp_path: Path, models_dir: Path) -> Path:
    folder = tmp_path / "deploy"
    folder.mkdir()
    shutil.move(str(models_dir), folder / "models")
    (folder / "deployment.toml").write_text(
        '[server]\ngpu = false\n\n[[models]]\nname = "planet"\n\n[kubernetes]\nnamespace = "ml"\n'
    )
    assert main(["k8s", "--deploy-dir", str(folder)]) == 0
    return folder


@pytest.fixture
def kubectl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake kubectl first on PATH, with a current context; returns its call log."""
    bin_dir = tmp_path / "bin"
    write_fake_kubectl(bin_dir)
    log = tmp_path / "kubectl-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECTL_CONTEXT", "kind-test")
    monkeypatch.delenv("FAKE_KUBECTL_FAIL", raising=False)
    return log


def smoke(capsys: pytest.CaptureFixture[str], deploy: Path, *args: str) -> tuple[int, str, str]:
    code = main(["k8s", "smoke", "--deploy-dir", str(deploy), "--wait", "1", *args])
    out, err = capsys.readouterr()
    return code, out, err


def verbs(log: Path) -> list[str]:
    return [" ".join(call["argv"][:2]) for call in read_calls(log)]  # type: ignore[index]


def test_kubectl_not_on_path(deploy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = smoke(capsys, deploy)
    assert code == 2 and out == ""
    assert err.strip() == ("Error: kubectl not found ('kubectl' is not on PATH); install it "
                           "(https://kubernetes.io/docs/tasks/tools/) or pass --kubectl PATH")


def test_no_current_context(deploy: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_CONTEXT", "")
    code, _, err = smoke(capsys, deploy)
    assert code == 2
    assert err.strip() == ("Error: kubectl has no current context (`kubectl config current-context`: error: "
                           "current-context is not set); pick one with `kubectl config use-context NAME` or pass "
                           "--context NAME")
    assert verbs(kubectl_log) == ["config current-context"]


def test_unknown_context_and_context_passed_to_every_call(deploy: Path, kubectl_log: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = smoke(capsys, deploy, "--context", "prod")
    assert code == 2 and "kubectl has no context 'prod'" in err and "error: context prod not found" in err
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "rollout")
    smoke(capsys, deploy, "--context", "kind-test")
    calls = read_calls(kubectl_log)[1:]
    assert [c["argv"][:2] for c in calls] == [["--context", "kind-test"]] * 3  # get-contexts, apply, rollout


def test_manifests_not_written_or_out_of_date(deploy: Path, kubectl_log: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = smoke(capsys, deploy, "--cpu", "--out", str(deploy / "nowhere"))
    assert code == 2
    assert "manifests out of date in" in err and "plain/deployment.yaml" in err and "run `tfs k8s --cpu`" in err
    service = deploy / "k8s" / "plain" / "service.yaml"
    service.write_text(service.read_text().replace("ClusterIP", "NodePort"))
    code, _, err = smoke(capsys, deploy)
    assert code == 2 and "plain/service.yaml" in err and "deployment.yaml" not in err
    # The KServe files are still up to date: --kserve does not care about the plain ones.
    assert read_calls(kubectl_log) == []


def test_apply_refused_shows_kubectl_stderr(deploy: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "apply")
    code, out, err = smoke(capsys, deploy)
    assert code == 1 and "kubectl context: kind-test" in out
    plain = deploy / "k8s" / "plain"
    files = [plain / "configmap.yaml", plain / "pvc.yaml", plain / "deployment.yaml", plain / "service.yaml"]
    assert err.strip() == (
        "Error: kubectl apply failed: `kubectl apply --validate=strict "
        + " ".join(f"-f {f}" for f in files) + '` exited 1: The Deployment "tfs-serving" is invalid: '
        "spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]: Invalid value: \"2\": must be equal "
        "to nvidia.com/gpu limit of 1")
    assert verbs(kubectl_log) == ["config current-context", "apply --validate=strict"]


def test_rollout_timeout_names_deployment_namespace_and_limit(deploy: Path, kubectl_log: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "rollout")
    code, _, err = smoke(capsys, deploy, "--rollout-timeout", "5")
    assert code == 1
    assert err.strip() == ("Error: rollout of deployment/tfs-serving in namespace ml not done within 5s: `kubectl "
                           "rollout status deployment/tfs-serving -n ml --timeout=5s` exited 1: error: timed out "
                           "waiting for the condition")
    assert verbs(kubectl_log) == ["config current-context", "apply --validate=strict", "rollout status"]


def test_kserve_not_ready(deploy: Path, kubectl_log: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "wait")
    code, _, err = smoke(capsys, deploy, "--kserve", "--rollout-timeout", "7")
    assert code == 1
    assert "inferenceservice/planet in namespace ml not Ready within 7s" in err
    assert "error: timed out waiting for the condition on inferenceservices/planet" in err
    applied = read_calls(kubectl_log)[1]["argv"]
    kserve = deploy / "k8s" / "kserve"
    assert applied == ["apply", "--validate=strict", "-f", str(kserve / "servingruntime.yaml"),  # runtime first
                       "-f", str(kserve / "planet-configmap.yaml"), "-f", str(kserve / "planet-inferenceservice.yaml")]


def test_port_forward_failure_is_reported_and_nothing_left_running(deploy: Path, kubectl_log: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "port-forward")
    code, _, err = smoke(capsys, deploy)
    assert code == 1
    assert "kubectl port-forward service/tfs-serving exited 1" in err
    assert "error: unable to forward port because pod is not running. Current status=Pending" in err
    forward = read_calls(kubectl_log)[-1]
    assert forward["argv"][:6] == ["port-forward", "--address", "127.0.0.1", "-n", "ml", "service/tfs-serving"]


def test_unknown_model(deploy: Path, kubectl_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = smoke(capsys, deploy, "--model", "nope")
    assert code == 2 and "--model nope: expected one of the spec's models ['planet']" in err
    assert read_calls(kubectl_log) == []
