"""Run an exported SavedModel on saved sample inputs in a fresh process (``python -m`` entry point).

Usage: ``python -m toolkit.export._validate_worker SAVED_MODEL SIGNATURE TAGS DATA_DIR OUT_DIR``. Reads
``DATA_DIR/inputs.*``, writes ``OUT_DIR/outputs.*``. Exit 0 on success; on failure the error is on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str]) -> int:
    saved_model, signature, tags, data_dir, out_dir = argv
    from toolkit._quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()  # the error tail the exporter shows carries no native start-up lines
    import tensorflow as tf

    from toolkit.export.testdata import _load_group, _save_group

    for library in filter(None, os.environ.get("TFS_OP_LIBRARIES", "").split(os.pathsep)):
        tf.load_op_library(library)
    inputs = _load_group(Path(data_dir), "inputs")
    loaded = tf.saved_model.load(saved_model, tags=[t for t in tags.split(",") if t])
    if signature not in loaded.signatures:
        print(f"signature {signature!r} not found; available: {sorted(loaded.signatures)}", file=sys.stderr)
        return 3
    fn = loaded.signatures[signature]
    outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
    arrays = {}
    for name, tensor in outputs.items():
        value = tensor.numpy()
        arrays[name] = value.astype(object) if value.dtype.kind in ("S", "O") else value
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    _save_group(Path(out_dir), "outputs", arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
