"""JSON text primitives of the REST front end: parse request bodies as TF Serving's rapidjson does, write values.

Parsing accepts ``NaN``/``Infinity``/``-Infinity`` (and rapidjson's ``Inf``/``-Inf``/``-NaN``) and stops after the first top-level value (trailing bytes are
ignored), like rapidjson with ``kParseNanAndInfFlag | kParseStopWhenDoneFlag``. orjson is the fast path; the
stdlib decoder (``raw_decode``) is the fallback for everything orjson refuses. Writing follows ``WriteDecimal``
(section 5.8 of reference/rest_api.md) for floats, vectorised with numpy because outputs can be millions of values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import orjson

from toolkit.server.errors import Code, ServingError

_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1
_JSON_WS = " \t\n\r"
# How much of a JSON value goes into an error message (TF Serving truncates its debug strings similarly).
DEBUG_JSON_LIMIT = 256


def invalid(message: str) -> ServingError:
    """An INVALID_ARGUMENT error (HTTP 400), the status of almost every REST parse failure."""
    return ServingError(Code.INVALID_ARGUMENT, message)


# --------------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------------


class _NumberTooBig(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _parse_float(text: str) -> float:
    """A decimal literal as a double; one beyond the double range is rapidjson's "Number too big" error."""
    value = float(text)
    if math.isinf(value):
        raise _NumberTooBig(text)
    return value


def _parse_int(text: str) -> int | float:
    """rapidjson keeps integers that fit int64/uint64 and turns bigger ones into doubles (orjson does the same).

    More than 20 digits never fit: they go straight to the double (which also avoids Python's int digit limit)."""
    if len(text) > 21:
        return _parse_float(text)
    value = int(text)
    if _INT64_MIN <= value <= _UINT64_MAX:
        return value
    return _parse_float(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float)

_RAPIDJSON_MESSAGES = (
    ("Expecting value", "Invalid value."),
    ("Expecting property name", "Missing a name for object member."),
    ("Expecting ':' delimiter", "Missing a colon after a name of object member."),
    ("Unterminated string", "Missing a closing quotation mark in string."),
    ("Invalid control character", "Invalid encoding in string."),
    ("Invalid \\escape", "Invalid escape character in string."),
    ("Invalid \\uXXXX escape", "Incorrect hex digit after \\u escape in string."),
)


def _comma_message(text: str, pos: int) -> str:
    """rapidjson names the container whose comma is missing; find it by scanning the prefix (error path only)."""
    if pos > 4 * 1024 * 1024:
        return "Missing a comma or closing bracket after an element."
    stack: list[str] = []
    in_string = escape = False
    for ch in text[:pos]:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    if stack and stack[-1] == "{":
        return "Missing a comma or '}' after an object member."
    return "Missing a comma or ']' after an array element."


def _parse_error(exc: json.JSONDecodeError, text: str) -> ServingError:
    message = exc.msg
    for prefix, rapid in _RAPIDJSON_MESSAGES:
        if message.startswith(prefix):
            message = rapid
            break
    else:
        if message.startswith("Expecting ',' delimiter"):
            message = _comma_message(text, exc.pos)
    offset = len(text[: exc.pos].encode("utf-8", "surrogatepass"))
    return invalid(f"JSON Parse error: {message} at offset: {offset}")


def parse_document(body: bytes | bytearray, *, empty_hint: str = "") -> Any:
    """Parse a request body into Python values (dict/list/str/int/float/bool/None).

    Strings keep invalid UTF-8 bytes as surrogate escapes (rapidjson does not validate encoding); ``to_bytes``
    restores them. Raises INVALID_ARGUMENT with TF Serving's ``JSON Parse error: ...`` messages.
    """
    if not body:
        raise invalid("JSON Parse error: The document is empty" + empty_hint)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # NaN/Infinity, trailing bytes, invalid UTF-8, deep nesting, ...: the exact (slower) path decides.
    text = body.decode("utf-8", "surrogateescape")
    start = 0
    length = len(text)
    while start < length and text[start] in _JSON_WS:
        start += 1
    if start == length:
        raise invalid(f"JSON Parse error: The document is empty. at offset: {len(body)}")
    try:
        try:
            value, _end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            # rapidjson also reads "Inf", "-Inf" and "-NaN", which the stdlib does not: spell them out, retry once.
            if not (exc.msg.startswith("Expecting value") and text.startswith(("Inf", "-Inf", "-NaN"), exc.pos)):
                raise
            text = _NONFINITE.sub(_spell_nonfinite, text)
            value, _end = _DECODER.raw_decode(text, start)
        _check_surrogate_escapes(text, start, _end)
    except json.JSONDecodeError as exc:
        raise _parse_error(exc, text) from None
    except _NumberTooBig as exc:
        offset = len(text[: max(text.find(exc.literal), 0)].encode("utf-8", "surrogatepass"))
        raise invalid(f"JSON Parse error: Number too big to be stored in double. at offset: {offset}") from None
    except RecursionError:
        return _parse_deep(text, start)
    return value


def _parse_deep(text: str, start: int) -> Any:
    """The iterative parse of a document nested too deeply for the recursive decoders (no nesting limit, as
    rapidjson's kParseIterativeFlag), with the same values and error messages."""
    try:
        value, end = _iterative_decode(text, start)
        _check_surrogate_escapes(text, start, end)
    except json.JSONDecodeError as exc:
        raise _parse_error(exc, text) from None
    except _NumberTooBig as exc:
        offset = len(text[: max(text.find(exc.literal), 0)].encode("utf-8", "surrogatepass"))
        raise invalid(f"JSON Parse error: Number too big to be stored in double. at offset: {offset}") from None
    return value


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANT = re.compile(r"null|true|false|NaN|Infinity|-Infinity|Inf|-Inf|-NaN")
_CONSTANTS: dict[str, Any] = {
    "null": None, "true": True, "false": False, "NaN": math.nan, "-NaN": math.nan,
    "Infinity": math.inf, "Inf": math.inf, "-Infinity": -math.inf, "-Inf": -math.inf,
}
# The stdlib decoder's string scanner (C speedup when present); typeshed does not declare it.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _iterative_decode(text: str, pos: int) -> tuple[Any, int]:
    """One JSON value from ``pos`` with an explicit stack: (value, end). Errors are the stdlib decoder's
    (``JSONDecodeError`` with its message and position), so ``_parse_error`` words them as rapidjson does."""
    error = json.JSONDecodeError
    ws = cast(Callable[[str, int], re.Match[str]], _WS.match)  # _WS matches the empty string: never None
    containers: list[Any] = []  # open lists / dicts, innermost last
    keys: list[Any] = []  # the pending member name of each open dict (None for lists)
    while True:
        # ---- one value at pos (an opening bracket pushes a container and loops for its first element)
        pos = ws(text, pos).end()
        ch = text[pos : pos + 1]
        if ch == "[":
            pos = ws(text, pos + 1).end()
            if text[pos : pos + 1] != "]":
                containers.append([])
                keys.append(None)
                continue
            value: Any = []
            pos += 1
        elif ch == "{":
            pos = ws(text, pos + 1).end()
            ch = text[pos : pos + 1]
            if ch == "}":
                value = {}
                pos += 1
            elif ch == '"':
                key, pos = _scanstring(text, pos + 1, True)
                pos = ws(text, pos).end()
                if text[pos : pos + 1] != ":":
                    raise error("Expecting ':' delimiter", text, pos)
                containers.append({})
                keys.append(key)
                pos += 1
                continue
            else:
                raise error("Expecting property name enclosed in double quotes", text, pos)
        elif ch == '"':
            value, pos = _scanstring(text, pos + 1, True)
        else:
            number = _NUMBER.match(text, pos)
            constant = None if number else _CONSTANT.match(text, pos)
            if number:
                integer, frac, exp = number.groups()
                value = _parse_float(integer + (frac or "") + (exp or "")) if frac or exp else _parse_int(integer)
                pos = number.end()
            elif constant:
                value = _CONSTANTS[constant.group(0)]
                pos = constant.end()
            else:
                raise error("Expecting value", text, pos)
        # ---- attach the value to its container; close every container that ends here
        while True:
            if not containers:
                return value, pos
            top = containers[-1]
            pos = ws(text, pos).end()
            ch = text[pos : pos + 1]
            if type(top) is list:
                top.append(value)
                if ch == ",":
                    pos += 1
                    break
                if ch != "]":
                    raise error("Expecting ',' delimiter", text, pos)
            else:
                top[keys[-1]] = value
                if ch == ",":
                    pos = ws(text, pos + 1).end()
                    if text[pos : pos + 1] != '"':
                        raise error("Expecting property name enclosed in double quotes", text, pos)
                    keys[-1], pos = _scanstring(text, pos + 1, True)
                    pos = ws(text, pos).end()
                    if text[pos : pos + 1] != ":":
                        raise error("Expecting ':' delimiter", text, pos)
                    pos += 1
                    break
                if ch != "}":
                    raise error("Expecting ',' delimiter", text, pos)
            value = containers.pop()
            keys.pop()
            pos += 1


# One escape sequence inside a JSON string: a \\uXXXX surrogate (group 1) or any other escaped character.
_ESCAPE = re.compile(r"\\(?:u([dD][89a-fA-F][0-9a-fA-F]{2})|u[0-9a-fA-F]{4}|.)", re.DOTALL)
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_surrogate_escapes(text: str, start: int, end: int) -> None:
    """rapidjson refuses a ``\\uD800``-``\\uDFFF`` escape that is not a high+low pair; the stdlib would keep it."""
    if _MAYBE_SURROGATE.search(text, start, end) is None:
        return
    pending: re.Match[str] | None = None  # a high surrogate escape waiting for its low half
    for match in _ESCAPE.finditer(text, start, end):
        unit = int(match.group(1), 16) if match.group(1) else None
        if pending is not None:
            if unit is None or unit < 0xDC00 or match.start() != pending.end():
                break
            pending = None
        elif unit is not None:
            if unit >= 0xDC00:
                pending = match
                break
            pending = match
    else:
        if pending is None:
            return
    offset = len(text[: pending.start()].encode("utf-8", "surrogateescape"))
    raise invalid(f"JSON Parse error: The surrogate pair in string is invalid. at offset: {offset}")


# A whole JSON string (kept as is) or one of rapidjson's extra non-finite spellings outside strings.
_NONFINITE = re.compile(r'"(?:[^"\\]|\\.)*"|-NaN|-?Inf(?!inity)')


def _spell_nonfinite(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith('"'):
        return token
    return {"-NaN": "NaN", "Inf": "Infinity", "-Inf": "-Infinity"}[token]


def to_bytes(text: str) -> bytes:
    """UTF-8 bytes of a parsed JSON string, restoring raw (invalid UTF-8) bytes kept as surrogate escapes."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def string_token(value: str | bytes) -> bytes:
    """A JSON string token. Raw bytes pass through unvalidated (as rapidjson's Writer does)."""
    if isinstance(value, bytes):
        try:
            return orjson.dumps(value.decode("utf-8"))
        except UnicodeDecodeError:
            value = value.decode("utf-8", "surrogateescape")
    try:
        return orjson.dumps(value)
    except TypeError:  # surrogates: keep them as the raw bytes they stand for
        return to_bytes(json.dumps(value, ensure_ascii=False))


def proto_text(text: str) -> str:
    """A string a protobuf ``string`` field accepts: invalid UTF-8 (kept as surrogates) becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return to_bytes(text).decode("utf-8", "replace")


def error_body(message: str) -> bytes:
    """``{"error": "<message>"}`` pretty-printed with a 4-space indent, as ``MakeJsonFromStatus`` writes it.

    Always valid JSON: bytes of the request that are not UTF-8 (quoted in the message) become U+FFFD, where
    TF Serving's writer would copy them raw."""
    return b'{\n    "error": ' + orjson.dumps(to_bytes(message).decode("utf-8", "replace")) + b"\n}"


_POW10 = [10.0**k for k in range(23)]
_P10_OFFSET = 400
with np.errstate(over="ignore", under="ignore"):
    _P10 = np.array([float(f"1e{k}") for k in range(-_P10_OFFSET, _P10_OFFSET)])  # exact decimal powers, rounded


def format_float(value: float, *, double: bool) -> str:
    """TF Serving's ``WriteDecimal`` for one value: %g, round-trip check, %.9g/%.17g, ``.0`` for whole numbers."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = "%g" % value
    back = float(text)
    if (back if double else float(np.float32(back))) != value:
        text = ("%.17g" if double else "%.9g") % value
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def format_floats(array: np.ndarray) -> list[str]:
    """``WriteDecimal`` text of every element of a float32/float64 array (flattened, C order).

    A vectorised test decides which values round-trip with 6 significant digits (%g) and which need
    max_digits10 (%.9g / %.17g); each value is then formatted once. Values where the vectorised test is not
    exact (very large/small magnitudes) go through the scalar ``format_float``.
    """
    flat = np.ascontiguousarray(array).ravel()
    double = flat.dtype == np.float64
    if not double and flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    n = flat.size
    if n == 0:
        return []
    values = flat.tolist()
    if n < 64:
        return [format_float(v, double=double) for v in values]
    wide = flat.astype(np.float64)
    absv = np.abs(wide)
    finite = np.isfinite(wide)
    nonzero = absv > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exp10 = np.floor(np.log10(np.where(nonzero & finite, absv, 1.0))).astype(np.int64)
        # log10 can be off by one next to powers of ten: fix it against exact powers.
        exp10 = np.clip(exp10, -_P10_OFFSET + 1, _P10_OFFSET - 2)
        exp10 -= absv < _P10[exp10 + _P10_OFFSET]
        exp10 += absv >= _P10[exp10 + _P10_OFFSET + 1]
        shift = 5 - exp10  # scale so that 6 significant digits sit left of the point
        limit = 1e8 if not double else 1e300
        exact = finite & nonzero & (np.abs(shift) <= 22) & (absv < limit)
        shift_c = np.where(exact, shift, 0)
        pos = shift_c >= 0
        powers = np.asarray(_POW10)[np.abs(shift_c)]
        mant = np.round(np.where(pos, wide * powers, wide / powers))
        rounded = np.where(pos, mant / powers, mant * powers)
        back = rounded if double else rounded.astype(np.float32)
        six = exact & (back == flat)
    full = "%.17g" if double else "%.9g"
    out = ["%g" % v if s else full % v for v, s in zip(values, six.tolist(), strict=True)]
    # Whole numbers printed without exponent need ".0": %g does that below 1e6, %.9g/%.17g below 1e9/1e17.
    whole = finite & (np.trunc(wide) == wide)
    needs_dot = whole & np.where(six, absv < 1e6, absv < (1e17 if double else 1e9))
    for i in np.flatnonzero(needs_dot).tolist():
        out[i] += ".0"
    for i in np.flatnonzero(~exact).tolist():
        out[i] = format_float(values[i], double=double)
    return out


def nest(tokens: Sequence[str], shape: Sequence[int]) -> str:
    """Join flat value tokens into nested JSON lists of ``shape`` (rank 0: the single token itself)."""
    if not shape:
        return tokens[0]
    if 0 in shape:
        return _empty_nest(shape)
    return nest_rows(tokens, shape, 1)[0]


def lists_closed_after(counts: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """For each count of values written so far, how many of the nested lists of consecutive ``shape`` blocks end
    right after them (``len(shape)``: a whole block ends there)."""
    closes = np.zeros(counts.size, dtype=np.int8)
    block = 1
    for dim in reversed(shape):
        block *= dim
        closes += counts % block == 0
    return closes


def nest_rows(tokens: Sequence[str], shape: Sequence[int], rows: int) -> list[str]:
    """The nested JSON text of each of ``rows`` consecutive blocks of ``shape`` in ``tokens`` (no zero dims).

    One join over the tokens interleaved with the separator that follows each (``,``, ``],[``, ``]],[[``, ...,
    chosen with numpy from the position), instead of one join per innermost list."""
    rank = len(shape)
    size = 1
    for dim in shape:
        size *= dim
    total = size * rows
    if total == 0:
        return []
    if rank == 0:
        return list(tokens[:total])
    closes = lists_closed_after(np.arange(1, total, dtype=np.int64), shape)  # how many lists end after token i
    # closes == rank: a row ends there (its lists all close); a NUL marks the split (tokens never hold one).
    separators = ["]" * c + "," + "[" * c for c in range(rank)] + ["]" * rank + "\x00" + "[" * rank]
    parts = np.empty(2 * total - 1, dtype=object)
    parts[0::2] = tokens if isinstance(tokens, list) else list(tokens)
    parts[1::2] = np.array(separators, dtype=object)[closes]
    text = "[" * rank + "".join(parts.tolist()) + "]" * rank
    return text.split("\x00") if rows > 1 else [text]


def _empty_nest(shape: Sequence[int]) -> str:
    """Nested lists for a shape that contains a zero dimension (no values at all)."""
    shape = list(shape)
    zero_at = shape.index(0)
    text = "[]"
    for dim in reversed(shape[:zero_at]):
        text = "[" + ",".join([text] * dim) + "]"
    return text


# --------------------------------------------------------------------------------------------------------------
# Debug strings of JSON values (for error messages, as TF Serving's JsonValueToString)
# --------------------------------------------------------------------------------------------------------------


class _Budget(Exception):
    pass


def json_type_name(value: Any) -> str:
    """rapidjson's type name: Null, False, True, Object, Array, String, Number."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string_token(value).decode("utf-8", "surrogateescape")
    if isinstance(value, int):
        return str(value)
    # rapidjson's debug writer prints a double that is exactly a float at float precision.
    with np.errstate(over="ignore"):
        is_float = not math.isfinite(value) or float(np.float32(value)) == value
    return format_float(value, double=not is_float)


def debug_json(value: Any, limit: int = DEBUG_JSON_LIMIT) -> str:
    """Pretty JSON text (4-space indent, like rapidjson's PrettyWriter) cut after about ``limit`` characters."""
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Budget

    def walk(val: Any, indent: int) -> None:
        if isinstance(val, dict):
            if not val:
                emit("{}")
                return
            emit("{\n")
            first = True
            for key, item in val.items():
                if not first:
                    emit(",\n")
                first = False
                emit(" " * (indent + 4) + _scalar_text(str(key)) + ": ")
                walk(item, indent + 4)
            emit("\n" + " " * indent + "}")
        elif isinstance(val, list):
            if not val:
                emit("[]")
                return
            emit("[\n")
            first = True
            for item in val:
                if not first:
                    emit(",\n")
                first = False
                emit(" " * (indent + 4))
                walk(item, indent + 4)
            emit("\n" + " " * indent + "]")
        else:
            emit(_scalar_text(val))

    try:
        walk(value, 0)
    except (_Budget, RecursionError):
        return "".join(parts)[:limit] + "..."
    return "".join(parts)

