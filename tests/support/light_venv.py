"""A fresh venv with the project and only its base dependencies plus chosen extras (no TensorFlow), built from a
copy of the distribution's files so the work tree gets no build/ folder. Built once per test session per set of
extras (pip's own wheel cache makes a rebuild quick)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

from tests.support.live_server import REPO_ROOT

DIST_FILES = ("pyproject.toml", "README.md")
DIST_PACKAGES = ("clients", "toolkit")


def clean_env() -> dict[str, str]:
    """This environment without the dev venv's paths (the light venv must not see the work tree's packages)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def requirements(extras: tuple[str, ...] = ()) -> list[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in extras:
        deps += project["optional-dependencies"][extra]
    return list(dict.fromkeys(deps))


def build_light_venv(where: Path, extras: tuple[str, ...] = ()) -> Path:
    """Create ``where/venv`` with the base dependencies and ``extras`` installed; returns its python."""
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    venv = where / "venv"
    _run([str(base_python), "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    deps = requirements(extras)
    assert not any("tensorflow" in d for d in deps), deps
    env = clean_env()
    _run([str(python), "-m", "pip", "install", "-q", *deps], env=env)
    source = where / "src"
    source.mkdir()
    for name in DIST_FILES:
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in DIST_PACKAGES:
        shutil.copytree(REPO_ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(source)], env=env)
    return python
