"""Regenerate the vendored KServe schemas in this folder from KServe's CRDs (a data refresh, not a test).

    python tests/data/kserve/derive_schemas.py /path/to/kserve/git-dir-or-checkout [REVISION]

Reads ``config/crd/full/serving.kserve.io_{inferenceservices,servingruntimes}.yaml`` and writes the
``openAPIV3Schema`` of InferenceService ``v1beta1`` and ServingRuntime ``v1alpha1`` as gzipped JSON, unchanged
(strictness is added by the tests, not baked in here).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
CRDS = {
    "inferenceservice-v1beta1": ("config/crd/full/serving.kserve.io_inferenceservices.yaml", "v1beta1"),
    "servingruntime-v1alpha1": ("config/crd/full/serving.kserve.io_servingruntimes.yaml", "v1alpha1"),
}


def read(source: Path, revision: str, path: str) -> str:
    if (source / path).is_file():
        return (source / path).read_text(encoding="utf-8")
    return subprocess.run(["git", f"--git-dir={source}", "show", f"{revision}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def main(source: str, revision: str = "HEAD") -> None:
    for name, (path, version) in CRDS.items():
        crd = yaml.safe_load(read(Path(source), revision, path))
        (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
        schema = entry["schema"]["openAPIV3Schema"]
        data = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
        with gzip.GzipFile(HERE / f"{name}.schema.json.gz", "wb", mtime=0) as handle:
            handle.write(data)
        print(f"{name}: {len(data)} bytes of JSON from {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
