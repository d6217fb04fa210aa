"""``tfs k8s --bake`` for real: the Dockerfile it writes is built by the private engine (the classic builder: plain
Dockerfile syntax), ``FROM`` the stand-in serving image through ``[kubernetes] image``, and the image holds exactly
the version folders the policy loads (no older version, no staging folder) and runs as the pod's non-root user, who
can read every baked file.

Cost: one small image build on the session's engine and two short containers (a few seconds past the fixtures).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from toolkit.cli import main

pytestmark = pytest.mark.slow

DEPLOYMENT_TOML = """\
[server]
gpu = false

[[models]]
name = "planet"
num_versions = 2

[[models]]
name = "half"
base_path = "/models/half"

[kubernetes]
image = "{image}"
baked_image = "tfs-toolkit/baked-test:1"
"""
VERSION_FILES = ("saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001",
                 "assets.extra/tfs_test_data/inputs.npz")


def write_version(folder: Path) -> None:
    for name in VERSION_FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{folder.name}:{name}".encode())
        path.chmod(0o644)


@pytest.fixture
def baked_deploy(tmp_path: Path, standin_image: str) -> Path:
    deploy = tmp_path / "deploy"
    for model, versions in (("planet", (1, 2, 3)), ("half", (4,))):
        for version in versions:
            write_version(deploy / "models" / model / str(version))
    write_version(deploy / "models" / "planet" / ".staging-7-pid1")  # a publish in progress
    (deploy / "deployment.toml").write_text(DEPLOYMENT_TOML.format(image=standin_image))
    assert main(["k8s", "--bake", "--deploy-dir", str(deploy)]) == 0
    return deploy


def test_baked_image_holds_exactly_the_served_versions_and_runs_as_non_root(baked_deploy: Path,
                                                                          docker_client) -> None:  # type: ignore[no-untyped-def]
    dockerfile = baked_deploy / "k8s" / "Dockerfile"
    image, _ = docker_client.images.build(path=str(baked_deploy), dockerfile="k8s/Dockerfile",
                                          tag="tfs-toolkit/baked-test:1", rm=True, forcerm=True)
    try:
        assert image.attrs["Config"]["User"] == "1000:1000"
        # What the Deployment runs is the image the Dockerfile names
        assert "tfs-toolkit/baked-test:1" in (baked_deploy / "k8s" / "plain" / "deployment.yaml").read_text()
        assert "-t tfs-toolkit/baked-test:1" in dockerfile.read_text()

        container = docker_client.containers.create(image.id, network_mode="none")
        try:
            stream, _ = container.get_archive("/models")
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                files = sorted(m.name for m in tar.getmembers() if m.isfile())
        finally:
            container.remove(force=True)
        expected = sorted(f"models/{model}/{version}/{name}" for model, version in
                          (("planet", 2), ("planet", 3), ("half", 4)) for name in VERSION_FILES)
        assert files == expected  # planet 1 (policy: latest 2) and the staging folder stay out

        # As the image's user (no --user override): not root, and every baked file and folder readable.
        script = ('echo "uid=$UID euid=$EUID"; shopt -s globstar dotglob; n=0; '
                  'for f in /models/**; do if [ -d "$f" ]; then [ -r "$f" ] && [ -x "$f" ] || echo "BLOCKED $f"; '
                  'else [ -r "$f" ] && n=$((n+1)) || echo "UNREADABLE $f"; fi; done; echo "readable=$n"')
        output = docker_client.containers.run(image.id, entrypoint=["/usr/bin/bash", "-c", script],
                                              network_mode="none", remove=True, stdout=True, stderr=True)
        lines = output.decode().split()
        assert lines == ["uid=1000", "euid=1000", f"readable={len(expected)}"]
    finally:
        docker_client.images.remove(image.id, force=True)
