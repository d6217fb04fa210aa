"""``python -m toolkit.server [--flag=value ...]``: the embedded model server, as ``tensorflow_model_server``."""

from __future__ import annotations

import sys

from toolkit.server.main import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
