"""Regenerate the ``*_pb2.py`` modules of this package from their ``.proto`` files with grpcio-tools.

TensorFlow's own protos (imported by ``session_bundle_config.proto``) are not shipped as ``.proto`` sources, so
they are handed to protoc as a descriptor set taken from the installed TensorFlow.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROTOS = ("serving_config.proto", "session_bundle_config.proto")


def _tensorflow_descriptor_set(path: Path) -> None:
    from google.protobuf import descriptor_pb2
    from tensorflow.core.protobuf import config_pb2

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(descriptor) -> None:  # type: ignore[no-untyped-def]
        if descriptor.name in files or descriptor.name.startswith("google/protobuf/"):
            return
        for dependency in descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        files[descriptor.name] = proto

    add(config_pb2.DESCRIPTOR)
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=list(files.values())).SerializeToString())


def main() -> int:
    import grpc_tools
    from grpc_tools import protoc

    here = Path(__file__).resolve().parent
    root = here.parent.parent
    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = Path(tmp) / "tensorflow.pb"
        _tensorflow_descriptor_set(descriptors)
        for name in PROTOS:
            status = protoc.main(
                ["protoc", f"-I{root}", f"-I{include}", f"--descriptor_set_in={descriptors}",
                 f"--python_out={root}", str(here / name)]
            )
            if status:
                return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
