"""Compile the wire .proto files in this folder into the committed ``*_pb2.py`` / ``*_pb2.pyi`` modules.

Run ``python -m clients._proto.generate`` after editing a .proto (needs the ``dev`` extra for grpcio-tools).
``tests/unit/clients/test_proto_generated.py`` fails when the committed modules are out of date.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parent.parent
PROTOS = ("tensor.proto", "example.proto", "serving.proto")
# The generated code only uses the builder API that protobuf has had since 5.26, so the runtime check is relaxed
# from the grpcio-tools version to the floor in pyproject.toml (the fresh-venv test installs exactly that floor).
MIN_RUNTIME = (6, 31, 0)
_CHECK = re.compile(r"(ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*)\d+,\s*\d+,\s*\d+,")


def generate(out_dir: Path = REPO_ROOT) -> None:
    """Run protoc (from grpcio-tools) with the repository root as proto path, writing into ``out_dir``."""
    from grpc_tools import protoc  # dev-only dependency

    include = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{REPO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *(str(Path("clients/_proto") / name) for name in PROTOS),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    major, minor, patch = MIN_RUNTIME
    for name in PROTOS:
        module = out_dir / "clients" / "_proto" / name.replace(".proto", "_pb2.py")
        text, count = _CHECK.subn(rf"\g<1>{major}, {minor}, {patch},", module.read_text())
        if count != 1:
            raise RuntimeError(f"unexpected gencode layout in {module}: runtime version check not found")
        module.write_text(text)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT)
