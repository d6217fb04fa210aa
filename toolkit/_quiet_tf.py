"""Import TensorFlow without its C++ start-up lines on stderr.

TensorFlow's native libraries print absl lines (``cudart_stub``, ``cpu_feature_guard``, and on GPU-less hosts an
alarming ``E0000 ... failed call to cuInit``) before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot
silence them. The CLI imports TensorFlow once with file descriptor 2 pointed at a temporary file; if the import
fails, the captured text is written back so nothing useful is lost.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import ``tensorflow`` (if installed and not yet imported) and discover devices, native stderr captured."""
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # device discovery (the cuInit line) happens here
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
