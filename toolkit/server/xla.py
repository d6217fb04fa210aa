"""``--xla_cpu_compilation_enabled`` / ``--xla_gpu_compilation_enabled``, as TF Serving implements them.

TF Serving's ``main.cc`` calls ``tensorflow::DisableXlaCompilation()`` at start-up unless one of the two flags is
true; it sets no session or graph-optimizer option. With XLA disabled, a function that must be compiled (saved with
``jit_compile=True``) fails at its first run with ``XLA compilation disabled``; with it enabled, it is compiled.
The embedded runtime calls the same exported function of the TensorFlow it runs on, once per process.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

_DISABLE_SYMBOL = "_ZN10tensorflow21DisableXlaCompilationEv"  # void tensorflow::DisableXlaCompilation()
_LIBRARIES = ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")


def configure_xla(cpu_enabled: bool, gpu_enabled: bool) -> bool:
    """Disable XLA compilation in this process unless a flag enables it (XLA:GPU implies XLA:CPU, as in TF
    Serving). Returns whether XLA stays enabled. Disabling cannot be undone within the process."""
    if cpu_enabled or gpu_enabled:
        return True
    import tensorflow as tf

    folder = os.path.dirname(tf.__file__)
    for name in _LIBRARIES:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        library = ctypes.CDLL(path)
        disable = getattr(library, _DISABLE_SYMBOL, None)
        if disable is not None:
            disable.restype = None
            disable()
            return False
    log.warning("tensorflow::DisableXlaCompilation was not found in %s; XLA compilation stays enabled", folder)
    return True
