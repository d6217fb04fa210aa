"""Regenerate the ``*_pb2.py`` modules of this folder from their ``.proto`` files with grpcio-tools.

``serving_config.proto`` (config files), ``session_bundle_config.proto`` (``--platform_config_file``) and
``saved_model.proto`` (the SavedModel subset the release tools read without TensorFlow).
``python -m toolkit.protos.generate [OUT_DIR]``; a test checks the committed modules are what this produces.

TensorFlow's own protos (imported by ``session_bundle_config.proto``) are not shipped as ``.proto`` sources, so
they are handed to protoc as a descriptor set taken from the installed TensorFlow.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
PROTOS = ("serving_config.proto", "session_bundle_config.proto", "saved_model.proto")
# saved_model_pb2 is imported from a light install (the gate extra), so its runtime check is relaxed to the
# protobuf floor of pyproject.toml the way the clients' modules are.
RELAXED = ("saved_model.proto",)


def _tensorflow_descriptor_set(path: Path) -> None:
    from google.protobuf import descriptor_pb2
    from tensorflow.core.protobuf import config_pb2

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(descriptor) -> None:
        if descriptor.name in files or descriptor.name.startswith("google/protobuf/"):
            return
        for dependency in descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        files[descriptor.name] = proto

    add(config_pb2.DESCRIPTOR)
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=list(files.values())).SerializeToString())


def main(out_dir: Path = REPO_ROOT) -> int:
    import grpc_tools
    from grpc_tools import protoc

    from clients._proto.generate import _CHECK, MIN_RUNTIME

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = Path(tmp) / "tensorflow.pb"
        _tensorflow_descriptor_set(descriptors)
        for name in PROTOS:  # one protoc run per file: each sees only what it imports
            code = protoc.main(["protoc", f"-I{REPO_ROOT}", f"-I{include}", f"--descriptor_set_in={descriptors}",
                                f"--python_out={out_dir}", str(Path("toolkit/protos") / name)])
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
