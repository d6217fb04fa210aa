"""The package installs into a fresh venv with only its base dependencies (no TensorFlow anywhere) and predicts
against a live ``tfs serve`` over gRPC and REST. protobuf is pinned to the floor the generated code accepts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[3]
PROTOBUF_FLOOR = "protobuf==6.31.1"

SCRIPT = r"""
import importlib.util, json, sys
import numpy as np
assert importlib.util.find_spec("tensorflow") is None, "tensorflow is installed in the fresh venv"
assert importlib.util.find_spec("tensorflow_serving") is None
import google.protobuf
from clients import GrpcClient, RestClient, AsyncRestClient, ModelNotFoundError
grpc_target, rest_url = sys.argv[1], sys.argv[2]
out = {"protobuf": google.protobuf.__version__}
x = np.float32([1.0, 2.0, 5.0])
with GrpcClient(grpc_target) as client:
    out["grpc"] = client.predict({"x": x}, "half_plus_two", version=1)["y"].tolist()
    out["grpc_status"] = [s.state for s in client.status("half_plus_two")]
with RestClient(rest_url) as client:
    out["rest"] = client.predict(x, "half_plus_two", label="canary")["y"].tolist()
    try:
        client.predict(x, "nope")
    except ModelNotFoundError as exc:
        out["rest_error"] = [exc.http_status, exc.message]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tensorflow_serving"))
out["heavy"] = heavy
from importlib import resources
package = resources.files("clients")
out["typed"] = [(package / "py.typed").is_file(), (package / "_proto" / "serving_pb2.pyi").is_file(),
                (package / "_proto" / "serving.proto").is_file()]
print("RESULT " + json.dumps(out))
"""


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_fresh_venv_without_tensorflow_predicts(tfs_server, tmp_path: Path) -> None:
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    venv = tmp_path / "venv"
    _run([str(base_python), "-m", "venv", str(venv)])
    python = venv / "bin" / "python"

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    deps = [PROTOBUF_FLOOR if d.replace(" ", "").startswith("protobuf") else d for d in deps]
    assert not any("tensorflow" in d for d in deps)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(python), "-m", "pip", "install", "-q", *deps], env=env)

    # Build from a copy of just what the distribution needs, so the shared work tree gets no build/ folder.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "clients", source / "clients", ignore=shutil.ignore_patterns("__pycache__"))
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(source)], env=env)

    result = _run([str(python), "-c", SCRIPT, tfs_server.grpc_target, tfs_server.rest_url], env=env, cwd=tmp_path)
    line = next(row for row in result.stdout.splitlines() if row.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    assert out["protobuf"] == PROTOBUF_FLOOR.split("==")[1]
    assert out["grpc"] == [2.5, 3.0, 4.5]
    assert out["grpc_status"] == ["AVAILABLE", "AVAILABLE"]
    assert out["rest"] == [3.5, 4.0, 5.5]
    assert out["rest_error"] == [404, "Servable not found for request: Latest(nope)"]
    assert out["heavy"] == []
    assert out["typed"] == [True, True, True]  # py.typed, protobuf stubs and .proto sources ship
