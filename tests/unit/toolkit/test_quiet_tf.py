"""``quiet_when_imported``: the first real ``import tensorflow`` of a process hides TensorFlow's native start-up
lines, a mere ``find_spec`` probe before it keeps the hook in place, the hook leaves once TensorFlow is imported,
and Keras' optional matplotlib import is left out of it (a later one works). One subprocess (one TensorFlow
import)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import importlib.util, sys
from toolkit._quiet_tf import _QuietFinder, quiet_when_imported

hooked = lambda: any(isinstance(finder, _QuietFinder) for finder in sys.meta_path)
quiet_when_imported()
assert importlib.util.find_spec("tensorflow") is not None and hooked(), "a probe removed the hook"
from tensorflow.core.framework import types_pb2  # a submodule import imports the package first
assert not hooked() and "tensorflow" in sys.modules
assert "keras" in sys.modules and "matplotlib" not in sys.modules, sorted(m for m in sys.modules if "matplot" in m)
import matplotlib.pyplot  # what `tfs bench --plot` does later in such a process
print("imported", types_pb2.DT_FLOAT, matplotlib.pyplot.__name__)
"""


def test_first_import_is_quiet_and_a_probe_keeps_the_hook() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                          check=False)
    assert proc.returncode == 0 and "imported 1 matplotlib.pyplot" in proc.stdout, proc.stderr
    # what TensorFlow's native libraries print at start-up on this CPU-only machine (absl, cuInit, CPU features)
    for line in ("cuInit", "cpu_feature_guard", "InitializeLog", "cuda_"):
        assert line not in proc.stderr, proc.stderr
