"""The fast REST predict path: large numeric arrays parsed straight into numpy buffers, with answers identical to
the exact path (same tensors, same errors) for well-formed and malformed bodies alike."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import random
import re
from typing import Any
from unittest import mock

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from tests.support.fake_core import FakeCore, FakeServable, signature
from toolkit.server import rest_api, rest_numeric
from toolkit.server.rest_api import RestApi
from toolkit.server.rest_numeric import extract_blocks, parse_block

DT = types_pb2


def _text(value: Any, spaced: bool) -> bytes:
    return json.dumps(value, separators=(", ", ": ") if spaced else (",", ":")).encode()


@pytest.mark.parametrize("spaced", [False, True])
@pytest.mark.parametrize(
    "value",
    [
        np.arange(24.0).reshape(2, 3, 4).tolist(),
        np.arange(-500, 500).reshape(10, 100).tolist(),
        [[1, 2.5, -0.0, 1e-300, 3e38]],
        [0.1] * 7,
    ],
)
def test_rectangular_numeric_arrays_become_blocks(value: Any, spaced: bool) -> None:
    block = parse_block(_text(value, spaced))
    assert block is not None
    expected = np.array(value)
    assert block.shape == list(expected.shape)
    assert block.integers == (expected.dtype.kind == "i")
    np.testing.assert_array_equal(block.values.reshape(block.shape), expected)


@pytest.mark.parametrize(
    "region",
    [b"[[1,2],[3]]", b"[[1,2],3]", b"[1,[2]]", b"[]", b"[[],[]]", b"[1 2]", b"[01]", b"[1.]", b"[-]", b"[1e400]",
     b"[1,,2]", b"[,1]", b"[1,]", b"[[1]][2]", b"[[1],[2]]]", b"[99999999999999999999]", b"[" * 65 + b"1" + b"]" * 65,
     b"[[[1]],[[2],[3]]]", b"[1e5.5]", b"[+1]", b"[.5]",
     # the brackets and commas of a 2x2 array, but a number outside its slot
     b"[1[,2],[3,4]]", b"[[1,2]3,[4,5]]", b"[[1 [,2]],[[3,4]]]", b"[[1,2],[3,4]5]"],
)
def test_anything_irregular_is_left_to_the_exact_parser(region: bytes) -> None:
    assert parse_block(region) is None


def test_extract_replaces_only_large_balanced_arrays() -> None:
    big = np.arange(2000.0).reshape(40, 50).tolist()
    body = json.dumps({"signature_name": "s", "small": [1, 2], "instances": big, "tail": "x"}).encode()
    reduced, blocks = extract_blocks(body)
    assert len(blocks) == 1 and len(reduced) < 200
    (key, block), = blocks.items()
    doc = rest_numeric.restore_blocks(json.loads(reduced), blocks)
    assert doc["instances"] is block and doc["small"] == [1, 2] and doc["tail"] == "x"
    assert key.startswith("\x00tfs-block-")


def _servable(dtype: int) -> FakeServable:
    return FakeServable(
        {"serving_default": signature({"x": dtype}, {"y": dtype}), "two": signature({"x": dtype, "z": dtype}, {"y": dtype})},
        predict_fn=lambda arrays: {"y": arrays["x"]},
    )


DTYPES = [DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_INT32, DT.DT_INT8, DT.DT_INT64, DT.DT_UINT32, DT.DT_UINT64, DT.DT_BOOL,
          DT.DT_STRING, DT.DT_HALF]


def _bodies(rng: random.Random) -> list[bytes]:
    bodies = []
    for _ in range(60):
        rows, cols = rng.randint(1, 30), rng.randint(60, 200)
        kind = rng.choice(["float", "int", "bigint", "neg", "mixed"])
        if kind == "float":
            data = np.round(np.random.default_rng(rng.randrange(99)).random((rows, cols)) * 100, 3).tolist()
        elif kind == "int":
            data = np.random.default_rng(rng.randrange(99)).integers(0, 300, (rows, cols)).tolist()
        elif kind == "bigint":
            data = [[2**40 + i for i in range(cols)] for _ in range(rows)]
        elif kind == "neg":
            data = [[-(i % 7) for i in range(cols)] for _ in range(rows)]
        else:
            data = [[i if i % 2 else i + 0.5 for i in range(cols)] for _ in range(rows)]
        text = _text(data, rng.random() < 0.5)
        mutation = rng.choice(["none", "none", "ragged", "string", "nan", "trailing", "huge", "columnar", "named",
                               "both", "nested_more", "bad_number"])
        if mutation == "ragged":
            text = text[: text.rfind(b",")] + b"]]"
        elif mutation == "string":
            text = text.replace(b"1", b'"1"', 1)
        elif mutation == "nan":
            text = text.replace(b"2", b"NaN", 1)
        elif mutation == "huge":
            text = text.replace(b"3", b"1e400", 1)
        elif mutation == "bad_number":
            text = text.replace(b"4", b"04", 1)
        elif mutation == "nested_more":
            text = b"[" + text + b"]"
        key = "inputs" if mutation == "columnar" else "instances"
        if mutation == "named":
            doc = b'{"instances": [' + b", ".join(b'{"x": ' + text + b"}" for _ in range(2)) + b"]}"
        elif mutation == "both":
            doc = b'{"signature_name": "two", "inputs": {"x": ' + text + b', "z": ' + text + b"}}"
        else:
            doc = b'{"' + key.encode() + b'": ' + text + b"}"
        if mutation == "trailing":
            doc = doc[:-1] + b", }"
        bodies.append(doc)
    return bodies


def test_fast_path_answers_exactly_like_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    core = FakeCore(models={f"m{i}": {1: _servable(d)} for i, d in enumerate(DTYPES)})
    api = RestApi(core)
    rng = random.Random(1123)
    fast_used = 0
    for body in _bodies(rng):
        fast_used += bool(extract_blocks(body)[1])
        for model in rng.sample(range(len(DTYPES)), 3):
            target = f"/v1/models/m{model}:predict"
            fast = api.handle("POST", target, {}, body)
            fast_request = core.calls[-1][1] if fast.status == 200 else None
            with monkeypatch.context() as patch:
                patch.setattr(rest_api, "extract_blocks", lambda b: (bytes(b), {}))
                exact = api.handle("POST", target, {}, body)
                exact_request = core.calls[-1][1] if exact.status == 200 else None
            assert (fast.status, fast.body) == (exact.status, exact.body), body[:200]
            assert fast_request == exact_request
    assert fast_used > 20  # the fast path really was taken for most bodies


_KEY = re.compile(rb"\\u0000tfs-block-[0-9a-f]{16}-")


def _canonical(extracted: tuple[bytes, dict[str, Any]]) -> tuple[bytes, list[tuple[list[int], bool, bytes]]]:
    reduced, blocks = extracted
    return _KEY.sub(b"BLOCK-", reduced), [(b.shape, b.integers, b.values.tobytes()) for b in blocks.values()]


def test_the_single_span_try_finds_what_the_candidate_scan_finds() -> None:
    """extract_blocks first tries the span from the first '[' to the last ']'; whenever that succeeds, the result
    equals the candidate scan's (same reduced body, same blocks), and it is taken for the usual one-array bodies."""
    rng = random.Random(77)
    big = np.arange(3000.0).reshape(30, 100).tolist()
    bodies = _bodies(rng) + [
        json.dumps({"inputs": {"a": big, "b": big}}).encode(),  # two arrays: a quote between them
        json.dumps({"signature_name": "s[1]", "inputs": big}).encode(),  # a '[' inside a string before the array
        json.dumps({"instances": big, "tail": [1, 2]}).encode(),
        json.dumps({"inputs": {"x": big}}, indent=2).encode(),
        b"[" + json.dumps(big).encode() + b"]",
    ]
    single = 0
    for body in bodies:
        fast = extract_blocks(body)
        single += rest_numeric._single_block(body) is not None
        with mock.patch.object(rest_numeric, "_single_block", lambda data: None):
            scan = extract_blocks(body)
        assert _canonical(fast) == _canonical(scan), body[:200]
    assert single > 20


def test_candidate_runs_are_the_leftmost_matches_of_the_candidate_pattern() -> None:
    rng = random.Random(7)
    alphabet = [b"[", b"]", b",", b" ", b"1", b"2.5", b"e", b"-", b'"', b"a", b"{", b":", b"\n"]
    for _ in range(200):
        parts = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.5:
                parts.append(b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))))
            else:  # long runs of array bytes, sometimes just short of the minimum, sometimes without a bracket
                run = rng.choice([b"1,", b"[0.5, ", b"]]", b" "]) * (rest_numeric.MIN_BLOCK_BYTES // 2 + rng.randint(-3, 3))
                parts.append(rng.choice([b"", b"[", b"x["]) + run)
        data = b"".join(parts)
        expected = [m.span() for m in rest_numeric._CANDIDATE.finditer(data)]
        for window in (1, 7, 1000, 5000, 1 << 20):  # runs crossing window ends, in one or many windows
            with mock.patch.object(rest_numeric, "_CHUNK_BYTES", window):
                assert list(rest_numeric._candidates(data)) == expected, window
        assert list(rest_numeric._candidates(bytearray(data))) == expected


# ------------------------------------------------------------------------------------- differential (hypothesis)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from toolkit.server.errors import ServingError  # noqa: E402
from toolkit.server.rest_json import parse_document  # noqa: E402

_TOKENS = ["0", "-0", "1", "-7", "12", "0.5", "-0.0", "1e5", "1E-3", "2.5e+10", "123456789012345678",
           "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e400", "1e-400",
           "0.1000000000000000055511151231257827", "01", "1.", ".5", "+1", "-", "1e", "1e+", "--1", "1.2.3", "0x1",
           "NaN", "Infinity", "true", "null", '"1"', "1 2", ""]
_JUNK = [b"[", b"]", b",", b" ", b"\n", b"1", b".", b"e", b"-", b"[]", b"]]", b"[[", b",,", b"x", b"{}"]


@st.composite
def _array_texts(draw: st.DrawFn) -> bytes:
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    valid_only = draw(st.booleans())
    pool = [t for t in _TOKENS if t and t not in ("01", "1.", ".5", "+1", "-", "1e", "1e+", "--1", "1.2.3", "0x1",
                                                   "NaN", "Infinity", "true", "null", '"1"', "1 2")]
    ws = st.sampled_from(["", "", " ", "\n ", "\t"])

    def render(level: int) -> str:
        if level == len(shape):
            return draw(st.sampled_from(pool if valid_only else _TOKENS))
        items = [draw(ws) + render(level + 1) + draw(ws) for _ in range(shape[level])]
        return "[" + ",".join(items) + "]"

    text = render(0).encode()
    for _ in range(draw(st.integers(0, 2))):  # mutations: insert, delete or move a byte (a bracket, say)
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "move", "swap"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(_JUNK)) + text[at:]
        elif kind == "delete" or at >= len(text) - 1:
            text = text[:at] + text[at + 1 :]
        elif kind == "swap":  # "[1[,2],[3,4]]" from "[[1,2],[3,4]]": the same brackets and commas
            text = text[:at] + text[at + 1 : at + 2] + text[at : at + 1] + text[at + 2 :]
        else:  # a byte moved a little
            moved, rest = text[at : at + 1], text[:at] + text[at + 1 :]
            to = min(max(at + draw(st.integers(-3, 3)), 0), len(rest))
            text = rest[:to] + moved + rest[to:]
    return text


def _exact(text: bytes) -> np.ndarray | None:
    """What the exact path makes of the text as one array of numbers (None: an error or not rectangular)."""
    try:
        value = parse_document(text)
    except ServingError:
        return None
    if type(value) is not list:
        return None
    try:
        array = np.array(value)
    except (ValueError, OverflowError):
        return None
    if array.dtype.kind not in "if":
        return None
    return array


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_array_texts(), chunk=st.sampled_from([1, 3, 8, 1 << 20]))
def test_parse_block_accepts_only_what_the_exact_parser_reads_the_same(text: bytes, chunk: int) -> None:
    """Whatever the fast parser accepts (in any piece size), the exact parser reads as the same rectangular array:
    same shape, same values (bit for bit, the sign of zero included), integer tokens only for an int block."""
    with mock.patch.object(rest_numeric, "_CHUNK_BYTES", chunk):
        block = parse_block(text)
    if block is None:
        return
    exact = _exact(text)
    assert exact is not None, text
    assert block.shape == list(exact.shape), text
    if block.integers:
        assert exact.dtype.kind == "i" and block.values.dtype == np.int64
        np.testing.assert_array_equal(block.values.reshape(block.shape), exact)
    else:
        expected = exact.astype(np.float64).ravel()
        assert block.values.tobytes() == expected.tobytes(), text


@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1),
       chunk=st.sampled_from([1, 5, 1 << 20]), spaced=st.booleans(), integers=st.booleans())
def test_parse_block_takes_every_well_formed_rectangular_array(shape: list[int], seed: int, chunk: int, spaced: bool,
                                                              integers: bool) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(-10**6, 10**6, shape) if integers else rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 30)
    with mock.patch.object(rest_numeric, "_CHUNK_BYTES", chunk):
        block = parse_block(_text(data.tolist(), spaced))
    assert block is not None
    assert block.shape == shape and block.integers == integers
    assert block.values.tobytes() == data.astype(block.values.dtype).ravel().tobytes()


def test_a_crafted_structure_cannot_make_the_template_outgrow_the_body() -> None:
    # 63 nested single-element lists per slot would need a template ~60x the text: refused by its length first.
    text = b"[" * 64 + b"1" + b"]" * 63 + b",1" * 5000 + b"," + b"[" * 63 + b"1" + b"]" * 64
    structure = text.translate(None, rest_numeric._NUMBER_CHARS_AND_WS)
    shape = rest_numeric._shape_of(structure)
    assert shape == [5002] + [1] * 63 and rest_numeric._template_length(shape) > 60 * len(structure)
    with mock.patch.object(rest_numeric, "_template", side_effect=AssertionError("template built")):
        assert parse_block(text) is None


def test_balanced_end_in_pieces() -> None:
    text = b"x[[1,2],[3,[4]]],[5]"
    for chunk in (1, 2, 5, 1 << 20):
        with mock.patch.object(rest_numeric, "_CHUNK_BYTES", chunk):
            assert rest_numeric._balanced_end(text, 1, len(text)) == text.index(b"],[5]") + 1
            assert rest_numeric._balanced_end(text, 1, 8) == 0
