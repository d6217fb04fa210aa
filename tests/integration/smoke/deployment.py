"""The deployment the smoke integration tests run against, built with the toolkit itself: exported models with
persisted test data, deployment.toml, models.config (``generate_config``) and its host-local twin
(``localize_config``).

Models:
- ``planet``: the two-headed Keras example, version 1, test data persisted by ``export_model``.
- ``half``: TF1 half_plus_two (predict with x [-1,1], classify, regress signatures), versions 1 (y = 0.5x + 2) and 2
  (y = 0.5x + 3), policy ``all``, labels stable=1, canary=2, test data persisted.
- ``plain``: TF2 half_plus_two copied in WITHOUT test data: smoke can only check it on synthetic inputs (weak).
- ``grow``: TF2 half_plus_two version 1 (no test data), policy latest 1; tests export new versions into it while
  the server runs.

To run the same tests against another server (e.g. real TF Serving from ``docker compose up``), build this
deployment once and point the server at it:

    python -m tests.integration.smoke.deployment deploy-smoke     # writes deploy-smoke/{models,models.config,...}
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HALF_X = np.array([1.0, 2.0, 5.0], np.float32)
HALF_B = {1: 2.0, 2: 3.0}
LABELS = {"stable": 1, "canary": 2}
MODELS = ("planet", "half", "plain", "grow")

DEPLOYMENT_TOML = """\
[server]
model_config_file_poll_wait_seconds = 5
file_system_poll_wait_seconds = 1
# TF Serving checks labels before it loads the first versions; without this a labelled start-up fails.
allow_version_labels_for_unavailable_models = true

[[models]]
name = "planet"

[[models]]
name = "half"
version_policy = "all"
labels = { stable = 1, canary = 2 }

[[models]]
name = "plain"

[[models]]
name = "grow"
"""


def build_deployment(deploy: Path, *, work: Path | None = None) -> Path:
    """Export every model into ``deploy/models`` and write the config files; returns ``deploy``."""
    from tests.support import models
    from toolkit.examples import planet
    from toolkit.export import export_model
    from toolkit.serving_config import generate_config, localize_config

    deploy = Path(deploy)
    repo = deploy / "models"
    work = Path(work) if work is not None else deploy.parent / f".{deploy.name}-build"
    work.mkdir(parents=True, exist_ok=True)

    export_model(planet.build_planet_model(), "planet", repo, version=1, sample_inputs=planet.sample_images(2))
    for version, b in HALF_B.items():
        source = models.build_half_plus_two_tf1(work / f"half-{version}", b=b)
        column = HALF_X.reshape(-1, 1)  # the exporter checks samples against x's static shape [-1,1]
        export_model(source, "half", repo, version=version, sample_inputs={"x": column},
                     expected_outputs={"y": 0.5 * column + b})
    models.publish_version(repo, "plain", 1, models.build_half_plus_two_tf2)
    models.publish_version(repo, "grow", 1, models.build_half_plus_two_tf2)

    (deploy / "deployment.toml").write_text(DEPLOYMENT_TOML, encoding="utf-8")
    generate_config(deploy)
    localize_config(deploy)
    return deploy


def embedded_server_flags(deploy: Path) -> list[str]:
    """The flags the container would get (``server_flags``), with models.config localized to this host."""
    from toolkit.deployment import load_spec
    from toolkit.serving_config import localize_config, server_flags

    spec = load_spec(deploy / "deployment.toml")
    local = localize_config(deploy, spec)
    return [f"--model_config_file={local}" if flag.startswith("--model_config_file=") else flag
            for flag in server_flags(spec, config_root=str(deploy))]


if __name__ == "__main__":  # pragma: no cover - a helper for running the suite against an external server
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "deploy-smoke")
    if (target / "models").exists():
        sys.exit(f"{target}/models already exists; pick an empty folder")
    build_deployment(target)
    print(f"built {target}: models {', '.join(MODELS)}; serve it, then set TFS_GRPC_TARGET, TFS_REST_URL and "
          f"TFS_DEPLOY_DIR={target.resolve()}")
