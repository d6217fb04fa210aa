"""The committed *_pb2.py / *_pb2.pyi files are exactly what clients/_proto/generate.py produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clients._proto import generate

pytest.importorskip("grpc_tools")


def test_committed_modules_are_up_to_date(tmp_path: Path) -> None:
    # In a subprocess: grpc_tools' bundled protoc and TensorFlow's protobuf crash when loaded in one process.
    subprocess.run(
        [sys.executable, "-m", "clients._proto.generate", str(tmp_path)], check=True, cwd=generate.REPO_ROOT, timeout=120
    )
    produced = sorted((tmp_path / "clients" / "_proto").glob("*_pb2.py*"))
    assert {p.name for p in produced} == {
        f"{name[:-6]}_pb2{suffix}" for name in generate.PROTOS for suffix in (".py", ".pyi")
    }
    for path in produced:
        committed = generate.PROTO_DIR / path.name
        assert committed.read_text() == path.read_text(), f"{path.name} is stale: run python -m clients._proto.generate"


def test_generated_code_accepts_the_pyproject_protobuf_floor() -> None:
    text = (generate.PROTO_DIR / "serving_pb2.py").read_text()
    assert "6, 31, 0," in text
