"""``tfs k8s --bake`` writes a Dockerfile FROM the pinned image that copies exactly the version folders the policy
loads, in plain Dockerfile syntax, and runs as the pod's non-root user; unreadable model files are refused."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.unit.k8s.conftest import make_spec
from toolkit.deployment import SpecError
from toolkit.k8s.files import RenderOptions, render_objects


def instructions(dockerfile: str) -> list[list[str]]:
    return [shlex.split(line) for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_what_the_policy_serves(models_dir: Path) -> None:
    spec = make_spec({}, models=[{"name": "planet", "base_path": "/models/planet", "num_versions": 2}])
    steps = instructions(render_objects(spec, models_dir, RenderOptions(bake=True))["Dockerfile"])
    assert steps[0] == ["FROM", "tensorflow/serving:2.20.0-gpu"]
    assert steps[1:-1] == [["COPY", "models/planet/2", "/models/planet/2"], ["COPY", "models/planet/3", "/models/planet/3"]]
    assert steps[-1] == ["USER", "1000:1000"]
    assert all(not arg.startswith("--") for step in steps for arg in step)  # no BuildKit-only flags


def test_cpu_bake_uses_the_cpu_image_and_tag_follows_versions(models_dir: Path) -> None:
    spec = make_spec({}, server={"gpu": False})
    first = render_objects(spec, models_dir, RenderOptions(bake=True))
    assert instructions(first["Dockerfile"])[0] == ["FROM", "tensorflow/serving:2.20.0"]
    (models_dir / "planet" / "4").mkdir()
    second = render_objects(spec, models_dir, RenderOptions(bake=True))
    def image(objects: dict) -> str:
        return objects["plain/deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]["image"]

    assert image(first) != image(second)
    assert ["COPY", "models/planet/4", "/models/planet/4"] in instructions(second["Dockerfile"])


def test_baked_image_name_from_the_spec(models_dir: Path) -> None:
    spec = make_spec({"baked_image": "registry.example/planet:7"})
    objects = render_objects(spec, models_dir, RenderOptions(bake=True))
    assert objects["plain/deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example/planet:7")


def test_no_versions_to_bake_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"models \(planet\): expected numbered version folders .* got none"):
        render_objects(make_spec(), tmp_path / "models", RenderOptions(bake=True))


def test_unreadable_file_is_refused(models_dir: Path) -> None:
    secret = models_dir / "planet" / "3" / "saved_model.pb"
    secret.chmod(0o600)
    with pytest.raises(SpecError, match=r"saved_model.pb: expected mode readable by all users .* got -rw-------"):
        render_objects(make_spec(), models_dir, RenderOptions(bake=True))
