"""The clients import and run with base dependencies only: no TensorFlow, no tensorflow_serving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLIENTS = Path(__file__).resolve().parents[3] / "clients"

SCRIPT = """
import sys
import numpy as np
import clients
from clients import GrpcClient, RestClient, AsyncGrpcClient, AsyncRestClient, errors, TensorSpec, Retry, TLS
from clients import codec, json_codec, testing, FakeServer
assert FakeServer is testing.FakeServer
server = testing.FakeServer().add_signature("m", lambda x: {"y": x["x"] + 1}, inputs={"x": (np.float32, (None,))}, outputs={"y": (np.float32, (None,))})
assert server.grpc_client().predict(np.float32([1]), "m")["y"].tolist() == [2.0]
assert server.rest_client().predict(np.float32([1]), "m")["y"].tolist() == [2.0]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tensorflow_serving", "keras", "tf_keras"))
print("HEAVY:" + ",".join(heavy))
"""


def test_import_and_use_without_tensorflow_modules() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY:\n" in result.stdout + "\n", result.stdout


def test_no_tensorflow_import_statement_in_the_package() -> None:
    offenders = []
    for path in CLIENTS.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import tensorflow", "from tensorflow")):
                offenders.append(f"{path.relative_to(CLIENTS.parent)}:{number}: {stripped}")
    assert offenders == []


def test_plain_import_clients_loads_no_tensorflow() -> None:
    code = "import sys, clients; print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
