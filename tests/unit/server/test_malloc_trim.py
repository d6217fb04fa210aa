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


def test_a_refused_gzip_bomb_counts_what_it_inflated() -> None:
    """A gzip body refused for inflating past the cap still made the server allocate that much: _gunzip reports it,
    so the worker trims after it."""
    import gzip

    from toolkit.server import rest

    bomb = gzip.compress(b"0" * (rest.MAX_UNCOMPRESSED_BYTES + 2))
    body, note, inflated = rest._gunzip(bomb)
    assert body == b"" and "inflates beyond" in note
    assert inflated > rest.MAX_UNCOMPRESSED_BYTES >= malloc_trim.TRIM_AFTER_BYTES
    body, note, inflated = rest._gunzip(gzip.compress(b'{"instances": [1.0]}'))
    assert (body, note, inflated) == (b'{"instances": [1.0]}', "", 20)
