"""Regenerate ``serving_config_pb2.py`` from ``serving_config.proto`` with grpcio-tools."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    from grpc_tools import protoc
    import grpc_tools

    here = Path(__file__).resolve().parent
    include = Path(grpc_tools.__file__).parent / "_proto"
    return protoc.main(
        ["protoc", f"-I{here.parent.parent}", f"-I{include}", f"--python_out={here.parent.parent}",
         str(here / "serving_config.proto")]
    )


if __name__ == "__main__":
    sys.exit(main())
