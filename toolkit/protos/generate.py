"""Regenerate the ``*_pb2.py`` modules of this folder from their ``.proto`` files with grpcio-tools.

``serving_config.proto`` (config files) and ``saved_model.proto`` (the SavedModel subset the release tools read
without TensorFlow). ``python -m toolkit.protos.generate [OUT_DIR]``; a test checks the committed modules are
what this produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
PROTOS = ("serving_config.proto", "saved_model.proto")
# saved_model_pb2 is imported from a light install (the gate extra), so its runtime check is relaxed to the
# protobuf floor of pyproject.toml the way the clients' modules are.
RELAXED = ("saved_model.proto",)


def main(out_dir: Path = REPO_ROOT) -> int:
    from grpc_tools import protoc
    import grpc_tools

    from clients._proto.generate import _CHECK, MIN_RUNTIME

    include = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(["protoc", f"-I{REPO_ROOT}", f"-I{include}", f"--python_out={out_dir}",
                        *(str(Path("toolkit/protos") / name) for name in PROTOS)])
    if code != 0:
        return code
    major, minor, patch = MIN_RUNTIME
    for name in RELAXED:
        module = out_dir / "toolkit" / "protos" / name.replace(".proto", "_pb2.py")
        text, count = _CHECK.subn(rf"\g<1>{major}, {minor}, {patch},", module.read_text())
        if count != 1:
            raise RuntimeError(f"unexpected gencode layout in {module}: runtime version check not found")
        module.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT))
