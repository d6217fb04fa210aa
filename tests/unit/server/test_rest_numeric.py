"""The fast REST predict path: large numeric arrays parsed straight into numpy buffers, with answers identical to
the exact path (same tensors, same errors) for well-formed and malformed bodies alike."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import random
from typing import Any

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
     b"[[[1]],[[2],[3]]]", b"[1e5.5]", b"[+1]", b"[.5]"],
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
