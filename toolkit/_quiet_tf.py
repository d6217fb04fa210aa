"""Import TensorFlow without its C++ start-up lines on stderr.

TensorFlow's native libraries print absl lines (``cudart_stub``, ``cpu_feature_guard``, and on GPU-less hosts an
alarming ``E0000 ... failed call to cuInit``) before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot
silence them. TensorFlow is imported with file descriptor 2 pointed at a temporary file; if the import fails, the
captured text is written back so nothing useful is lost. ``quiet_when_imported`` does that at the first
``import tensorflow`` from anywhere, so a command that fails on its options answers before TensorFlow's seconds of
start-up; ``import_tensorflow_quietly`` does it now.

Those imports also leave out matplotlib: TensorFlow eagerly imports Keras, whose ``plot_image_gallery`` imports
``matplotlib.pyplot`` when it is installed (it is, for ``tfs bench --plot``), about 1.3 s of every start-up of
``tfs serve`` or ``tfs export`` for a function those processes never call. Keras catches the ImportError, and a
later ``import matplotlib`` (``tfs bench --plot``) works as usual.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import types
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the block; on an error, write what it caught back."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def _matplotlib_left_out() -> Iterator[None]:
    """Make ``import matplotlib`` fail with ModuleNotFoundError for the block (unless it is already imported)."""
    if "matplotlib" in sys.modules:
        yield
        return
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # the import system's "not importable" mark
    try:
        yield
    finally:
        if "matplotlib" in sys.modules and sys.modules["matplotlib"] is None:
            del sys.modules["matplotlib"]


def import_tensorflow_quietly() -> None:
    """Import ``tensorflow`` (if installed and not yet imported) and discover devices, native stderr captured."""
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    quiet_when_imported()
    importlib.import_module("tensorflow")  # through the quiet loader


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader with native stderr captured, then discovers devices the same way."""

    def __init__(self, loader: importlib.abc.Loader, finder: _QuietFinder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        """TensorFlow's import and its device discovery (where the cuInit line comes from), stderr captured."""
        if self._finder in sys.meta_path:  # imported now: later imports are the module cache's
            sys.meta_path.remove(self._finder)
        with _native_stderr_captured(), _matplotlib_left_out():
            self._loader.exec_module(module)
            module.config.list_physical_devices()


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the other finders and hands it out with the quiet loader; it leaves
    ``sys.meta_path`` when TensorFlow is really imported (a mere ``find_spec`` probe keeps it in place)."""

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader, self)
                return spec
        return None


def quiet_when_imported() -> None:
    """Make the first ``import tensorflow`` of this process quiet, whenever and wherever it happens."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
