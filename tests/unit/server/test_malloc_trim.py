"""malloc_trim.after_request: only requests or answers of at least TRIM_AFTER_BYTES trim the C heap."""

from __future__ import annotations

import pytest

from toolkit.server import malloc_trim


def test_large_requests_or_answers_trim_small_ones_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(malloc_trim, "_trim", lambda pad: calls.append(pad) or 1)
    limit = malloc_trim.TRIM_AFTER_BYTES
    malloc_trim.after_request(limit - 1, 100)
    assert calls == []
    malloc_trim.after_request(limit, 0)
    malloc_trim.after_request(10, limit + 5)
    assert calls == [0, 0]


def test_the_real_trim_is_found_on_this_glibc_system() -> None:
    assert malloc_trim._trim is not None
    malloc_trim.after_request(malloc_trim.TRIM_AFTER_BYTES, 0)  # really trims: must not fail
