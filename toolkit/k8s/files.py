"""Render every manifest of a deployment into file texts (``plain/``, ``kserve/``, the bake Dockerfile), write them
into ``deploy/k8s`` (or ``--out``), or report which committed files drift from the spec (``tfs k8s --check``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit._extras import require
from toolkit.atomic_file import atomic_file
from toolkit.deployment import DeploymentSpec, SpecError
from toolkit.k8s import bake, rules
from toolkit.k8s.kserve import isvc_name, kserve_objects
from toolkit.k8s.plain import plain_objects, serving_image
from toolkit.k8s.spec import kubernetes_spec

PLAIN_DIR = "plain"
KSERVE_DIR = "kserve"
HEADER = (
    "# Generated from deploy/deployment.toml by `tfs k8s`{options}; edit the spec and re-run rather than editing\n"
    "# this file (`tfs k8s --check` fails when they differ).\n"
)


@dataclass(frozen=True)
class RenderOptions:
    """What ``tfs k8s`` was asked for: models baked into an image, or the CPU variant."""

    bake: bool = False
    cpu: bool = False

    def describe(self) -> str:
        flags = [f for f, on in (("--bake", self.bake), ("--cpu", self.cpu)) if on]
        return f" {' '.join(flags)}" if flags else ""


def to_yaml(obj: dict[str, Any], options: RenderOptions) -> str:
    """One object as YAML (PyYAML's safe dumper, keys in the order written, no line wrapping)."""
    yaml = require("yaml", purpose="writing Kubernetes manifests")
    safe_dumper: Any = yaml.SafeDumper  # imported at run time (an extra): a class mypy cannot see

    class NoAliases(safe_dumper):  # a shared dict must be written out twice, not as &id001 / *id001
        def ignore_aliases(self, data: Any) -> bool:
            return True

    body = yaml.dump(obj, Dumper=NoAliases, sort_keys=False, default_flow_style=False, width=1_000_000,
                     allow_unicode=True)
    return HEADER.format(options=options.describe()) + body


def render_objects(spec: DeploymentSpec, models_dir: Path | None, options: RenderOptions) -> dict[str, Any]:
    """Relative path -> object (or Dockerfile text), every object already checked by ``toolkit.k8s.rules``."""
    if not spec.models:
        raise SpecError("the deployment spec lists no models; add a [[models]] table")
    k = kubernetes_spec(spec, bake=options.bake, cpu=options.cpu)
    base_image = serving_image(spec, k)
    seen: dict[str, str] = {}
    for model in spec.models:
        other = seen.setdefault(isvc_name(model), model.name)
        if other != model.name:
            raise SpecError(f"models ({model.name}).name: expected a name distinct from {other!r} once made an "
                            f"InferenceService name, got both as {isvc_name(model)!r}")
    out: dict[str, Any] = {}
    image = base_image
    if k.model_volume == "image":
        if models_dir is None:
            raise SpecError("--bake: expected the deploy folder's models/ to bake, got none")
        baked = bake.baked_versions(spec, models_dir)
        image = bake.baked_image(k, baked)
        out[bake.DOCKERFILE] = bake.render_dockerfile(base_image, k, baked, image)
    for name, obj in plain_objects(spec, k, models_dir, image).items():
        out[f"{PLAIN_DIR}/{name}"] = obj
    for name, obj in kserve_objects(spec, k, models_dir, base_image).items():
        out[f"{KSERVE_DIR}/{name}"] = obj
    served = {m.name for m in spec.models}
    rules.check_objects((o for o in out.values() if isinstance(o, dict)), served)
    return out


def rendered_files(spec: DeploymentSpec, models_dir: Path | None, options: RenderOptions) -> dict[str, str]:
    """Relative path -> file text."""
    return {
        path: obj if isinstance(obj, str) else to_yaml(obj, options)
        for path, obj in render_objects(spec, models_dir, options).items()
    }


def _owned(out_dir: Path) -> set[str]:
    """Files ``tfs k8s`` writes that exist now: a file the spec no longer renders (pvc.yaml after --bake) is stale."""
    found = {bake.DOCKERFILE} if (out_dir / bake.DOCKERFILE).is_file() else set()
    for sub in (PLAIN_DIR, KSERVE_DIR):
        if (out_dir / sub).is_dir():
            found |= {f"{sub}/{p.name}" for p in (out_dir / sub).glob("*.yaml")}
    return found


def drift(out_dir: Path, files: dict[str, str]) -> list[str]:
    """Relative paths that differ from what the spec renders: changed, missing or no longer rendered."""
    stale = []
    for path, text in files.items():
        target = out_dir / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    stale += sorted(_owned(out_dir) - set(files))
    return sorted(stale)


def write_files(out_dir: Path, files: dict[str, str]) -> tuple[list[Path], list[Path]]:
    """Write each file atomically; remove owned files the spec no longer renders. Returns (written, removed)."""
    written: list[Path] = []
    for path, text in files.items():
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target) as handle:
            handle.write(text)
        written.append(target)
    removed = []
    for path in sorted(_owned(out_dir) - set(files)):
        (out_dir / path).unlink()
        removed.append(out_dir / path)
    return written, removed
