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


def test_start_up_freezes_the_front_ends_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The REST and gRPC front ends start after the models' last settle(): start-up settles once more, so their
    objects are in the permanent generation (gc.get_objects() lists only the collected generations)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tests.support.live_server import free_port
    from tests.support.models import build_half_plus_two_tf2
    from toolkit.server import flags
    from toolkit.server.main import ModelServer

    build_half_plus_two_tf2(tmp_path / "half" / "1")
    options = flags.parse_args([f"--port={free_port()}", f"--rest_api_port={free_port()}", "--model_name=half",
                                f"--model_base_path={tmp_path / 'half'}", "--file_system_poll_wait_seconds=0"])
    server = ModelServer(options)
    try:
        server.start()
        assert server.parts is not None and server.parts.rest is not None
        rest_server = server.parts.rest._server  # type: ignore[attr-defined]
        collected = gc.get_objects()
        assert not any(obj is rest_server for obj in collected)
        assert not any(obj is server.parts.core for obj in collected)
    finally:
        server.request_stop()
        server.stop()
        gc.unfreeze()
