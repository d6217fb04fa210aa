"""Export the planet example into the model repository: ``python examples/planet/export.py [--repository DIR]``.

Equivalent to ``tfs export --example planet``; kept as a script to show the Python API in a few lines.
"""

from __future__ import annotations

import argparse
import sys

from toolkit import export_model
from toolkit.examples.planet import build_planet_model, sample_images
from toolkit.export import ExportError, ExportResult


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repository", default="deploy/models")
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    try:
        result = _export(args)
    except (ExportError, ValueError) as exc:  # version exists, bad name, failed validation: one line, exit 1
        print(f"export.py: {exc}", file=sys.stderr)
        return 1
    print(f"exported planet version {result.version} to {result.path} (validated with {result.validated_with})")
    return 0


def _export(args: argparse.Namespace) -> ExportResult:
    return export_model(
        build_planet_model(),
        name="planet",
        repository=args.repository,
        version=args.version,
        force=args.force,
        sample_inputs=sample_images(),
        input_spec=[{"name": "input_image", "dtype": "float32", "shape": [None, 128, 128, 3]}],
        output_spec=[
            {"name": "weather", "dtype": "float32", "shape": [None, 4]},
            {"name": "ground", "dtype": "float32", "shape": [None, 13]},
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
