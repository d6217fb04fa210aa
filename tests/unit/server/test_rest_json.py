"""JSON text rules of the REST front end: float text (reference/rest_api.md 5.8), parsing (5.1), base64 (5.5)."""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from toolkit.server.errors import Code, ServingError
from toolkit.server.rest_json import debug_json, error_body, format_float, format_floats, nest, parse_document
from toolkit.server.rest_tensor import b64_decode

# The table of section 5.8 (float32 values unless marked double).
FLOAT_TABLE = [
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (1.0, "1.0"),
    (3.0, "3.0"),
    (100.0, "100.0"),
    (999999.0, "999999.0"),
    (1234567.0, "1234567.0"),
    (9000000.0, "9e+06"),
    (0.0003, "0.0003"),
    (0.00003, "3e-05"),
    (0.1, "0.1"),
    (1 / 3, "0.333333343"),
    (555557.5, "555557.5"),
    (123456.7, "123456.703"),
    (1435774380.0, "1.43577434e+09"),
    (1e20, "1e+20"),
    (float("nan"), "NaN"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
]
DOUBLE_TABLE = [(1 / 3, "0.33333333333333331"), (0.1, "0.1"), (2.5, "2.5"), (1e300, "1e+300"), (1234567.0, "1234567.0")]


@pytest.mark.parametrize(("value", "text"), FLOAT_TABLE)
def test_float32_text_matches_table(value: float, text: str) -> None:
    as_float32 = float(np.float32(value))
    assert format_float(as_float32, double=False) == text
    # The vectorised path (used for large outputs) gives the same text, alone and among many other values.
    many = np.full(200, value, dtype=np.float32)
    assert set(format_floats(many)) == {text}


@pytest.mark.parametrize(("value", "text"), DOUBLE_TABLE)
def test_double_text_matches_table(value: float, text: str) -> None:
    assert format_float(value, double=True) == text
    assert format_floats(np.full(100, value, dtype=np.float64)) == [text] * 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_float_text_equals_scalar_rule(dtype: type) -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.random(3000),
            np.round(rng.random(3000) * 1000, 2),
            rng.integers(-10**7, 10**7, 3000).astype(np.float64),
            rng.standard_normal(3000) * 10.0 ** rng.integers(-40, 40, 3000),
            np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e6, 1e8, 1e9, 1e17, 5e-324, 1e-45, 3.4e38]),
        ]
    )
    with np.errstate(over="ignore"):
        array = values.astype(dtype)
    expected = [format_float(v, double=dtype is np.float64) for v in array.tolist()]
    assert format_floats(array) == expected


def test_float_text_round_trips_at_its_precision() -> None:
    values = np.random.default_rng(3).standard_normal(5000).astype(np.float32)
    texts = format_floats(values)
    assert all("." in t or "e" in t for t in texts)
    assert np.array_equal(np.array([np.float32(float(t)) for t in texts]), values)


def test_nest_builds_nested_lists() -> None:
    assert nest(["1", "2", "3", "4", "5", "6"], [2, 3]) == "[[1,2,3],[4,5,6]]"
    assert nest(["7.0"], []) == "7.0"
    assert nest([], [2, 0, 3]) == "[[],[]]"
    assert nest([], [0]) == "[]"


def test_parse_accepts_nan_infinity_and_ignores_trailing_bytes() -> None:
    doc = parse_document(b'  {"a": [NaN, Infinity, -Infinity, 1]} trailing garbage {')
    assert doc["a"][3] == 1 and np.isnan(doc["a"][0]) and doc["a"][1:3] == [float("inf"), float("-inf")]


def test_parse_accepts_rapidjson_extra_nonfinite_spellings_outside_strings() -> None:
    doc = parse_document(b'{"a": [Inf, -Inf, -NaN, Infinity], "s": "Inf -NaN \\" Inf"}')
    assert doc["a"][:2] == [float("inf"), float("-inf")] and np.isnan(doc["a"][2]) and doc["a"][3] == float("inf")
    assert doc["s"] == 'Inf -NaN " Inf'
    with pytest.raises(ServingError):
        parse_document(b'{"a": Infx}')


def test_parse_keeps_int_and_decimal_apart_and_big_ints_become_doubles() -> None:
    doc = parse_document(b'{"i": 10, "f": 10.0, "u": 18446744073709551615, "big": 18446744073709551616}')
    assert type(doc["i"]) is int and type(doc["f"]) is float
    assert doc["u"] == 18446744073709551615 and type(doc["u"]) is int
    assert type(doc["big"]) is float
    # The fallback parser (taken when orjson refuses, e.g. because of NaN) keeps the same rule.
    doc = parse_document(b'{"n": NaN, "u": 18446744073709551615, "big": 18446744073709551616}')
    assert type(doc["u"]) is int and type(doc["big"]) is float


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "JSON Parse error: The document is empty"),
        (b"   ", "JSON Parse error: The document is empty. at offset: 3"),
        (b"x", "JSON Parse error: Invalid value. at offset: 0"),
        (b'{"a" 1}', "JSON Parse error: Missing a colon after a name of object member. at offset: 5"),
        (b'{"a": 1 "b": 2}', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 8"),
        (b"[1, 2 3]", "JSON Parse error: Missing a comma or ']' after an array element. at offset: 6"),
        (b'{"a": "x', "JSON Parse error: Missing a closing quotation mark in string. at offset: 6"),
        (b"{1: 2}", "JSON Parse error: Missing a name for object member. at offset: 1"),
        (b'{"a": [1, 1e400]}', "JSON Parse error: Number too big to be stored in double. at offset: 10"),
        (b'{"a": 1' + b"0" * 400 + b"}", "JSON Parse error: Number too big to be stored in double. at offset: 6"),
    ],
)
def test_parse_errors_use_rapidjson_messages(body: bytes, message: str) -> None:
    with pytest.raises(ServingError) as info:
        parse_document(body)
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == message


@pytest.mark.parametrize(
    ("body", "offset"),
    [
        (b'{"s": "ab\\ud800"}', 9),  # lone high surrogate
        (b'{"s": "\\udc00"}', 7),  # lone low surrogate
        (b'{"s": "\\ud800x\\udc00"}', 7),  # high not directly followed by its low half
        (b'{"s": "\\ud800\\u0041"}', 7),  # high followed by a non-surrogate escape
        (b'{"a": NaN, "s": "\xff\\ud800"}', 18),  # also on the slow path (NaN, raw bytes count as bytes)
    ],
)
def test_parse_refuses_unpaired_surrogate_escapes_as_rapidjson(body: bytes, offset: int) -> None:
    with pytest.raises(ServingError) as info:
        parse_document(body)
    assert info.value.code == Code.INVALID_ARGUMENT
    assert info.value.message == f"JSON Parse error: The surrogate pair in string is invalid. at offset: {offset}"


def test_parse_accepts_surrogate_pairs_and_escaped_backslashes() -> None:
    assert parse_document(b'{"s": "\\ud83d\\ude00"}') == {"s": "\U0001F600"}
    assert parse_document(b'{"s": "\\\\ud800", "t": NaN}')["s"] == "\\ud800"  # a backslash, then text


def _depth(value: object) -> int:
    depth = 0
    while type(value) is list:
        depth += 1
        value = value[0] if value else None
    return depth


def test_parse_has_no_nesting_limit_like_rapidjson_iterative_parser() -> None:
    """Issue 9 item 4: an ignored key holding an array nested 500,000 levels deep does not stop the request."""
    body = b'{"unused": ' + b"[" * 500000 + b"]" * 500000 + b', "instances": [1]}'
    doc = parse_document(body)
    assert doc["instances"] == [1]
    assert _depth(doc["unused"]) == 500000
    deep_nan = parse_document(b'{"a": ' + b"[" * 5000 + b'{"k": [NaN, Inf, -Inf, "s"]}' + b"]" * 5000 + b"}")
    inner = deep_nan["a"]
    for _ in range(5000):
        inner = inner[0]
    assert inner["k"][1:] == [float("inf"), float("-inf"), "s"]


@pytest.mark.parametrize(
    ("inner", "message", "offset_in_inner"),
    [
        (b"[1,]", "Invalid value.", 3),
        (b"[1 2]", "Missing a comma or ']' after an array element.", 3),
        (b'{"a" 1}', "Missing a colon after a name of object member.", 5),
        (b'{"a": 1 "b": 2}', "Missing a comma or '}' after an object member.", 8),
        (b"[1e400]", "Number too big to be stored in double.", 1),
        (b'["\\ud800"]', "The surrogate pair in string is invalid.", 2),
        (b'["x', "Missing a closing quotation mark in string.", 1),
    ],
)
def test_deep_documents_get_the_error_of_what_is_wrong(inner: bytes, message: str, offset_in_inner: int) -> None:
    depth = 3000
    with pytest.raises(ServingError) as info:
        parse_document(b"[" * depth + inner + b"]" * depth)
    assert info.value.message == f"JSON Parse error: {message} at offset: {depth + offset_in_inner}"
    with pytest.raises(ServingError) as shallow:  # the same document without the depth: the same message
        parse_document(inner)
    assert shallow.value.message == f"JSON Parse error: {message} at offset: {offset_in_inner}"


def test_huge_integer_literal_is_rapidjsons_number_too_big_not_a_500() -> None:
    """Issue 10 item 4: 4301 digits hit Python's int digit limit (500)."""
    for body in (b'{"instances":[' + b"9" * 4301 + b"]}", b'{"instances":[NaN, -' + b"9" * 5000 + b"]}"):
        with pytest.raises(ServingError) as info:
            parse_document(body)
        assert info.value.code == Code.INVALID_ARGUMENT
        assert info.value.message.startswith("JSON Parse error: Number too big to be stored in double. at offset: ")
    assert parse_document(b"[" + b"1" + b"0" * 300 + b"]") == [1e300]  # big, but a double


def test_error_body_is_valid_json_even_for_invalid_utf8_in_the_message() -> None:
    import json

    body = error_body("bad key \udcff in " + "\udcfe")
    assert json.loads(body.decode("utf-8")) == {"error": "bad key \ufffd in \ufffd"}


def test_parse_keeps_invalid_utf8_bytes() -> None:
    from toolkit.server.rest_json import to_bytes

    doc = parse_document(b'{"s": "a\xffb"}')
    assert to_bytes(doc["s"]) == b"a\xffb"


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8", b"hello"),  # padding may be absent
        ("aGVs bG8=\n", b"hello"),  # ASCII whitespace is skipped
        ("aGk=", b"hi"),
        ("aGk.", b"hi"),  # '.' is a pad character too
        ("", b""),
        ("+/+/", b"\xfb\xff\xbf"),
    ],
)
def test_base64_accepts_absl_forms(text: str, decoded: bytes) -> None:
    assert b64_decode(text) == decoded


@pytest.mark.parametrize("text", ["-_-_", "aGk==", "aGVsb", "a", "aG=k", "####"])
def test_base64_rejects_url_safe_bad_padding_and_leftover_bits(text: str) -> None:
    with pytest.raises(ServingError) as info:
        b64_decode(text)
    assert info.value.message == "Unable to base64 decode"


def test_error_body_is_pretty_printed_json_object() -> None:
    assert error_body('bad "x"\n') == b'{\n    "error": "bad \\"x\\"\\n"\n}'


def test_debug_json_prints_floats_like_write_decimal_and_truncates() -> None:
    assert debug_json(1.0) == "1.0"
    assert debug_json("x") == '"x"'
    assert debug_json({"a": [1, 2]}) == '{\n    "a": [\n        1,\n        2\n    ]\n}'
    long = debug_json(list(range(1000)))
    assert long.endswith("...") and len(long) < 300


def _nest_reference(tokens: list[str], shape: list[int]) -> list[str]:
    """One join per innermost list, level by level: the straightforward nesting."""
    level = tokens
    for dim in reversed(shape):
        level = ["[" + ",".join(level[i : i + dim]) + "]" for i in range(0, len(level), dim)]
    return level


def test_nest_and_nest_rows_equal_joining_level_by_level() -> None:
    from toolkit.server.rest_json import nest_rows

    rng = np.random.default_rng(5)
    for _ in range(300):
        shape = [int(d) for d in rng.integers(1, 5, rng.integers(1, 5))]
        rows = int(rng.integers(1, 4))
        tokens = [str(int(x)) for x in rng.integers(0, 100, rows * int(np.prod(shape)))]
        assert nest_rows(tokens, shape, rows) == _nest_reference(tokens, shape)
        assert nest(tokens[: int(np.prod(shape))], shape) == _nest_reference(tokens[: int(np.prod(shape))], shape)[0]


def test_outputs_written_in_pieces_equal_the_whole_at_once() -> None:
    """predictions/outputs text of random outputs (several dtypes and shapes, one or two outputs) is the same
    whatever the piece size, and equal to nesting all tokens at once."""
    from unittest import mock

    from toolkit.server import rest_tensor
    from toolkit.server.tensors import from_numpy

    def reference_rows(proto):  # type: ignore[no-untyped-def]
        shape, tokens = rest_tensor.output_tokens("y", proto)
        if not shape[1:]:
            return tokens
        if 0 in shape[1:]:
            return [nest([], shape[1:])] * shape[0]
        return _nest_reference(tokens, shape[1:])

    rng = np.random.default_rng(11)
    for _ in range(60):
        shape = [int(d) for d in rng.integers(0 if rng.random() < 0.1 else 1, 5, rng.integers(1, 4))]
        kind = rng.choice(["f4", "f8", "i4", "?"])
        values = (rng.standard_normal(shape) * 1000).astype(kind)
        outputs = {"y": from_numpy(values)}
        rows = reference_rows(outputs["y"])
        expected_rows = '{\n    "predictions": [' + ", ".join(rows) + "\n    ]\n}"
        expected_cols = '{\n    "outputs": ' + (nest([], shape) if 0 in shape else "[" + ",".join(rows) + "]") + "\n}"
        two = {"a": outputs["y"], "b": from_numpy(values[..., None] if values.ndim else values)}
        whole = (rest_tensor.predictions_json(two), rest_tensor.outputs_json(two))
        for piece, vector_min in itertools.product((1, 3, 7, 1 << 16), (1, 1 << 30)):
            # vector_min 1: float32 pieces written by numpy into one buffer; 1 << 30: a string per value
            with (
                mock.patch.object(rest_tensor, "_OUTPUT_PIECE_VALUES", piece),
                mock.patch.object(rest_tensor, "_VECTOR_TEXT_MIN_VALUES", vector_min),
            ):
                assert rest_tensor.predictions_json(outputs) == expected_rows
                assert rest_tensor.outputs_json(outputs) == expected_cols
                assert (rest_tensor.predictions_json(two), rest_tensor.outputs_json(two)) == whole
