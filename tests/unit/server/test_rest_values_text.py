"""The vectorised JSON writer gives exactly the per-value text (floats: the scalar ``WriteDecimal`` rule), nested
and joined."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.server import rest_values_text
from toolkit.server.rest_json import format_float, nest_rows
from toolkit.server.rest_values_text import values_text


def _reference(values: np.ndarray, inner: list[int], rows: int, joiner: str) -> str:
    tokens = [format_float(v, double=False) for v in values.astype(np.float32).tolist()]
    return joiner.join(nest_rows(tokens, inner, rows))


def _around(centres: list[float], steps: int = 3) -> np.ndarray:
    """float32 values next to each centre: the centre itself and ``steps`` neighbours on either side."""
    out = []
    for centre in centres:
        value = np.float32(centre)
        below = above = value
        out.append(value)
        for _ in range(steps):
            below = np.nextafter(below, np.float32(-np.inf))
            above = np.nextafter(above, np.float32(np.inf))
            out += [below, above]
    return np.array(out, dtype=np.float32)


# Where the text changes form or a rounding carries: powers of ten (fixed / scientific thresholds at 1e-4, 1e6 and
# 1e9), 6- and 9-digit carries, exact decimal ties among integers, float32's extremes.
EDGES = np.concatenate(
    [
        _around([10.0**k for k in range(-45, 39)]),
        _around([9.999995e-5, 9.9999995e-5, 999999.5, 9999995.0, 99999995.0, 999999950.0, 0.99999995, 9.9999995]),
        np.array([1234565.0, 1234575.0, 12345650.0, 16777215.0, 16777216.0, 555557.5, 123456.7], dtype=np.float32),
        np.array([0.0, -0.0, 1.0, -1.0, 0.5, 0.25, 1 / 3, 2 / 3, 0.1, 0.2, 0.3], dtype=np.float32),
        np.array([np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45, -3e-45, np.nan, np.inf, -np.inf]),
    ]
).astype(np.float32)


def test_edge_values_equal_the_scalar_rule() -> None:
    for joiner in (", ", ","):
        assert values_text(EDGES, [], joiner) == _reference(EDGES, [], EDGES.size, joiner)
    assert values_text(-EDGES, [], ",") == _reference(-EDGES, [], EDGES.size, ",")


def test_random_values_of_every_magnitude_equal_the_scalar_rule() -> None:
    rng = np.random.default_rng(17)
    with np.errstate(over="ignore"):
        values = np.concatenate(
            [
                rng.random(20_000).astype(np.float32),
                (rng.standard_normal(20_000) * 10.0 ** rng.integers(-45, 39, 20_000)).astype(np.float32),
                rng.integers(-(2**25), 2**25, 20_000).astype(np.float32),
                np.round(rng.random(20_000) * 1000, 2).astype(np.float32),
                rng.integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
            ]
        )
    assert values_text(values, [4, 5], ", ") == _reference(values, [4, 5], values.size // 20, ", ")


@settings(max_examples=300, deadline=None)
@given(
    bits=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=120),
    inner=st.lists(st.integers(1, 3), max_size=3),
    joiner=st.sampled_from([", ", ",", "\n"]),
)
def test_any_float32_bits_in_any_nesting_equal_the_scalar_rule(bits: list[int], inner: list[int], joiner: str) -> None:
    size = int(np.prod(inner)) if inner else 1
    rows = len(bits) // size
    if rows == 0:
        return
    values = np.array(bits[: rows * size], dtype=np.uint32).view(np.float32)
    assert values_text(values, inner, joiner) == _reference(values, inner, rows, joiner)


def test_only_values_float64_cannot_decide_go_through_the_scalar_rule() -> None:
    """No Python string per value: of 50,000 ordinary values and a few NaN / infinities, the scalar rule writes
    the non-finite ones and at most a handful within 1e-6 of a rounding tie."""
    values = np.random.default_rng(5).standard_normal(50_000).astype(np.float32)
    values[[0, 7, 49_999]] = [np.nan, np.inf, -np.inf]
    calls = []

    def counting(value: float, *, double: bool) -> str:
        calls.append(value)
        return format_float(value, double=double)

    with mock.patch.object(rest_values_text, "format_float", counting):
        text = values_text(values, [10], ", ")
    assert text == _reference(values, [10], 5_000, ", ")
    assert 3 <= len(calls) <= 20, len(calls)
    assert text.startswith("[NaN,") and text.endswith(",-Infinity]")


def test_an_empty_input_is_empty_text() -> None:
    assert values_text(np.zeros(0, dtype=np.float32), [2], ", ") == ""


def _int_reference(values: np.ndarray, inner: list[int], joiner: str) -> str:
    size = int(np.prod(inner)) if inner else 1
    tokens = [str(v) for v in values.tolist()]
    return joiner.join(nest_rows(tokens, inner, values.size // size))


INT_DTYPES = [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64]


def test_integer_extremes_and_powers_of_ten_equal_str() -> None:
    for dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        powers = [10**k + d for k in range(20) for d in (-1, 0, 1) if info.min <= 10**k + d <= info.max]
        values = np.array(
            [info.min, info.min + 1, info.max, info.max - 1, 0, *powers, *[-p for p in powers if -p >= info.min]],
            dtype=dtype,
        )
        for joiner in (", ", ","):
            assert values_text(values, [], joiner) == _int_reference(values, [], joiner), dtype


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(INT_DTYPES),
    inner=st.lists(st.integers(1, 3), max_size=3),
    joiner=st.sampled_from([", ", ",", "\n"]),
)
def test_any_integers_in_any_nesting_equal_str(data: st.DataObject, dtype: type, inner: list[int], joiner: str) -> None:
    info = np.iinfo(dtype)
    size = int(np.prod(inner)) if inner else 1
    rows = data.draw(st.integers(1, 20))
    values = np.array(
        data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=rows * size, max_size=rows * size)),
        dtype=dtype,
    )
    assert values_text(values, inner, joiner) == _int_reference(values, inner, joiner)


def test_float64_and_bool_are_refused() -> None:
    for values in (np.zeros(3), np.zeros(3, dtype=bool)):
        with pytest.raises(TypeError):
            values_text(values, [], ",")
