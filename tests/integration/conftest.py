"""Session-wide fixtures for integration tests: a model repository built with TensorFlow and one shared live
``tfs serve`` process over it (gRPC + REST on free 127.0.0.1 ports).

Repository (``tfs_repo``):
- ``half_plus_two``: TF2, versions 1 (y = 0.5x + 2) and 2 (y = 0.5x + 3), policy ``all``, labels stable=1, canary=2
- ``half_plus_two_tf1``: TF1 graph mode, version 1 (predict, classify_x_to_y, regress_x_to_y, tensorflow/serving/*)
- ``multi_dtype``: TF2, version 1 (string/int64/bool/float inputs, several output dtypes)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS_CONFIG = """\
model_config_list {{
  config {{
    name: "half_plus_two"
    base_path: "{root}/half_plus_two"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 1 }}
    version_labels {{ key: "canary" value: 2 }}
  }}
  config {{
    name: "half_plus_two_tf1"
    base_path: "{root}/half_plus_two_tf1"
    model_platform: "tensorflow"
  }}
  config {{
    name: "multi_dtype"
    base_path: "{root}/multi_dtype"
    model_platform: "tensorflow"
  }}
}}
"""

MONITORING_CONFIG = 'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n'


@pytest.fixture(scope="session")
def tfs_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared model repository with models.config and monitoring.config next to the models."""
    from functools import partial

    from tests.support import models

    root = tmp_path_factory.mktemp("tfs_repo")
    models.build_repo(
        root,
        {
            "half_plus_two": {1: models.build_half_plus_two_tf2, 2: partial(models.build_half_plus_two_tf2, b=3.0)},
            "half_plus_two_tf1": {1: models.build_half_plus_two_tf1},
            "multi_dtype": {1: models.build_multi_dtype_tf2},
        },
    )
    (root / "models.config").write_text(MODELS_CONFIG.format(root=root))
    (root / "monitoring.config").write_text(MONITORING_CONFIG)
    return root


@pytest.fixture(scope="session")
def tfs_server(tfs_repo: Path) -> Iterator[object]:
    """One live ``tfs serve`` for the whole session (read-only use: do not reload its config)."""
    from tests.support.live_server import start_tfs_serve

    server = start_tfs_serve(
        [
            f"--model_config_file={tfs_repo / 'models.config'}",
            f"--monitoring_config_file={tfs_repo / 'monitoring.config'}",
            "--allow_version_labels_for_unavailable_models",
            "--file_system_poll_wait_seconds=1",
        ],
        ready_models={"half_plus_two": [1, 2], "half_plus_two_tf1": [1], "multi_dtype": [1]},
    )
    yield server
    server.stop()
