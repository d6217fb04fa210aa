"""gc_freeze.settle(): garbage is collected first (an unloaded model's cycles are freed), survivors are frozen."""

from __future__ import annotations

import gc
import weakref

from toolkit.server import gc_freeze


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_settle_collects_cycles_then_freezes_survivors() -> None:
    kept = _Node()
    gc_freeze.settle()
    assert gc.get_freeze_count() > 0
    dropped = _Node()
    gone = weakref.ref(dropped)
    del dropped
    gc_freeze.settle()  # the cycle was created after the first freeze: the next settle frees it
    assert gone() is None
    assert kept.me is kept
    gc.unfreeze()
