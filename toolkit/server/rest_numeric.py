"""Large rectangular numeric JSON arrays parsed straight into numpy buffers (the fast REST predict path).

A predict body is mostly one big nested array of numbers. Parsed as JSON it becomes Python lists of floats (about
32 bytes and a pointer per number, plus a list per row); here such an array is found in the raw body, checked to
be rectangular with numbers only at its innermost level (its skeleton, computed on numpy views of the bytes, must
equal the template of one shape), and its numbers are parsed in bounded chunks by simdjson (C, strict JSON) into
one float64/int64 buffer. The rest of the document is parsed as usual with a
placeholder string in its place. Only well-formed data takes this path: anything else (strings, NaN, ragged rows,
huge integers, bad number syntax) stays for the exact parser, so every rule and message is unchanged.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import simdjson

logger = logging.getLogger(__name__)

# Arrays shorter than this stay in the document (the exact path is as fast for them).
MIN_BLOCK_BYTES = 4096
_MAX_RANK = 64
_CHUNK_BYTES = 1 << 20
# A run of bytes that can only be brackets, commas, whitespace and JSON number characters, starting with '['.
_CANDIDATE = re.compile(rb"\[[\[\]0-9eE+\-., \t\n\r]{%d,}" % (MIN_BLOCK_BYTES - 1))
_RUN_BYTES = b"[]0123456789eE+-., \t\n\r"
_RUN_MARKS = bytes(0 if byte in _RUN_BYTES else 1 for byte in range(256))
# Deleted for the structure check, which keeps brackets and commas.
_NUMBER_CHARS_AND_WS = b"0123456789+-.eE \t\n\r"
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")
# Pieces are at most about _CHUNK_BYTES, so the parser's tape (kept for reuse) stays bounded (~16 bytes a number).
_PARSER = simdjson.Parser()
_PARSER_LOCK = threading.Lock()


class NumericBlock:
    """A rectangular array of JSON numbers: ``shape``, flat ``values`` (int64 when every token is an integer,
    else float64)."""

    __slots__ = ("shape", "values", "integers")

    def __init__(self, shape: list[int], values: np.ndarray, integers: bool) -> None:
        self.shape = shape
        self.values = values
        self.integers = integers

    def __repr__(self) -> str:
        return f"NumericBlock(shape={self.shape}, {'int' if self.integers else 'float'})"


def _shape_of(structure: bytes) -> list[int] | None:
    """The dimensions a rectangular array with this bracket-and-comma ``structure`` (``[[,],[,]]``) would have,
    read off its first elements; None when there is no plausible shape. Only ``_template(shape) == structure``
    proves the array rectangular."""
    rank = len(structure) - len(structure.lstrip(b"["))
    if rank == 0 or rank > _MAX_RANK:
        return None
    counts = []  # numbers in the first element at depth rank, rank-1, ..., 1 (one per comma-separated slot)
    for closing in range(1, rank + 1):
        # A rectangular array's first element at depth rank-closing+1 ends at the first run of `closing` ']'.
        end = structure.find(b"]" * closing)
        if end < 0:
            return None
        counts.append(structure.count(b",", 0, end) + 1)
    shape = [counts[0]]
    for inner, outer in zip(counts, counts[1:]):
        if outer % inner:
            return None
        shape.append(outer // inner)
    shape.reverse()
    return shape


def _template(shape: list[int]) -> bytes:
    """The brackets and commas of a rectangular array of ``shape`` (``[2,2]`` -> ``[[,],[,]]``)."""
    text = b"[" + b"," * (shape[-1] - 1) + b"]"
    for dim in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * dim) + b"]"
    return text


def _template_length(shape: list[int]) -> int:
    """``len(_template(shape))`` without building it."""
    length = shape[-1] + 1
    for dim in reversed(shape[:-1]):
        length = 2 + dim * length + dim - 1
    return length


def parse_block(text: bytes | bytearray, begin: int = 0, end: int | None = None) -> NumericBlock | None:
    """A ``NumericBlock`` for ``text[begin:end]``, the text of one JSON array, or None when the exact parser must
    decide.

    The text is taken in pieces of about 1 MiB cut at commas (no number is cut). (1) Without numbers and
    whitespace, the brackets and commas of all pieces must be exactly the template of one rectangular shape.
    (2) Each piece, wrapped in the brackets left open before it and closed after it, must be valid JSON for
    simdjson (strict RFC 8259, correctly rounded doubles, as orjson on the exact path), which also flattens its
    numbers straight into one float64 / int64 buffer: no Python objects. A valid JSON array whose brackets and
    commas are a rectangular template, with one number per innermost slot, is exactly that rectangular array.
    Anything simdjson refuses (bad number syntax, ``1 2``, ``1[``, an integer beyond int64/uint64, a double
    overflow, a non-number) returns None."""
    size = len(text) if end is None else end
    if size - begin < 2 or text[begin] != _OPEN or text[size - 1] != _CLOSE:
        return None
    bounds: list[tuple[int, int]] = []
    structures: list[bytes | bytearray] = []
    start = begin
    while start < size:
        stop = text.find(b",", min(start + _CHUNK_BYTES, size), size)
        stop = size if stop < 0 else stop
        bounds.append((start, stop))
        structures.append(text[start:stop].translate(None, _NUMBER_CHARS_AND_WS))
        start = stop + 1
    structure = b",".join(structures)
    shape = _shape_of(structure)
    # The template's length first: a shape read off a crafted structure could need a template far larger than it.
    if shape is None or _template_length(shape) != len(structure) or _template(shape) != structure:
        return None
    del structure
    count = 1
    for dim in shape:
        count *= dim
    integers = text.find(b".", begin, size) < 0 and text.find(b"e", begin, size) < 0 and text.find(b"E", begin, size) < 0
    values = np.empty(count, dtype=np.int64 if integers else np.float64)
    filled = depth = 0
    with _PARSER_LOCK:  # one parser: parsing holds the GIL anyway, and it keeps only one (bounded) tape
        try:
            for (start, stop), piece in zip(bounds, structures, strict=True):
                after = depth + piece.count(b"[") - piece.count(b"]")
                if after < 0:
                    return None
                array = _PARSER.parse(b"[" * depth + text[start:stop] + b"]" * after)
                if not isinstance(array, simdjson.Array):  # the piece is wrapped in brackets: always an array
                    return None
                chunk = np.frombuffer(array.as_buffer(of_type="i" if integers else "d"), dtype=values.dtype)
                del array  # the parser can only be reused once its last document is released
                if filled + chunk.size > count:
                    return None
                values[filled : filled + chunk.size] = chunk
                filled += chunk.size
                depth = after
        except (ValueError, RuntimeError):  # simdjson: invalid JSON, a number out of range (BIGINT_ERROR), ...
            return None
    if filled != count or depth != 0:
        return None
    return NumericBlock(shape, values, integers)


def _balanced_end(text: bytes | bytearray, begin: int, end: int) -> int:
    """End of the balanced array that starts at ``text[begin]`` (0 when it does not close before ``end``), scanned
    in pieces of ``_CHUNK_BYTES`` so that its working memory stays bounded (a few bytes per byte of a piece)."""
    chars = np.frombuffer(text, dtype=np.uint8)
    depth = 0
    for start in range(begin, end, _CHUNK_BYTES):
        piece = chars[start : min(start + _CHUNK_BYTES, end)]
        steps = (piece == _OPEN).view(np.int8) - (piece == _CLOSE).view(np.int8)
        depths = np.cumsum(steps, dtype=np.int64) + depth
        closed = np.flatnonzero(depths == 0)
        if closed.size:
            return start + int(closed[0]) + 1
        depth = int(depths[-1])
    return 0


def _first_block(text: bytes | bytearray, begin: int, end: int) -> tuple[NumericBlock | None, int]:
    """The block of the balanced array that starts at ``text[begin]`` inside a candidate run ending at ``end``, and
    where it ends. Usually that array ends at the run's last ``]`` (the template check proves it); otherwise its
    end is found by scanning the brackets."""
    quick = text.rfind(b"]", begin, end) + 1
    if quick - begin >= MIN_BLOCK_BYTES:
        block = _parse_or_none(text, begin, quick)
        if block is not None:
            return block, quick
    stop = _balanced_end(text, begin, end)
    if stop - begin < MIN_BLOCK_BYTES or stop == quick:
        return None, 0
    return _parse_or_none(text, begin, stop), stop


def _parse_or_none(text: bytes | bytearray, begin: int, end: int) -> NumericBlock | None:
    try:
        return parse_block(text, begin, end)
    except Exception:  # noqa: BLE001 - any doubt: the exact path decides
        logger.debug("numeric block left to the exact parser", exc_info=True)
        return None


def _candidates(data: bytes | bytearray) -> Iterator[tuple[int, int]]:
    """(start, end) of every candidate: from the first ``[`` of a run of bytes that can only be brackets, commas,
    whitespace and number characters to the end of the run, at least ``MIN_BLOCK_BYTES`` long (the leftmost
    matches of ``_CANDIDATE``), found with C-speed bytes operations on windows of ``_CHUNK_BYTES``: each window
    is translated to marks (0 for a byte that may be part of a numeric array, 1 for any other), long runs are
    found by a substring search for ``MIN_BLOCK_BYTES`` zeros, and a run that reaches a window's end is followed
    into the next windows."""
    size = len(data)
    needle = b"\x00" * MIN_BLOCK_BYTES
    open_run: int | None = None  # start of a run that reaches the end of the previous window
    for window in range(0, size, _CHUNK_BYTES):
        marks = data[window : window + _CHUNK_BYTES].translate(_RUN_MARKS)
        pos = 0
        if open_run is not None:
            other = marks.find(b"\x01")
            if other < 0:
                continue  # the run goes on through this window
            yield from _candidate_in(data, open_run, window + other)
            open_run, pos = None, other
        while True:
            found = marks.find(needle, pos)
            if found < 0:
                break
            start = window + marks.rfind(b"\x01", pos, found) + 1 if pos < found else window + pos
            other = marks.find(b"\x01", found)
            if other < 0:
                open_run = start
                break
            yield from _candidate_in(data, start, window + other)
            pos = other
        if open_run is None:  # a shorter run at the window's end may go on in the next window
            tail = len(marks) - len(marks.rstrip(b"\x00"))
            if tail:
                open_run = window + len(marks) - tail
    if open_run is not None:
        yield from _candidate_in(data, open_run, size)


def _candidate_in(data: bytes | bytearray, run_start: int, run_end: int) -> Iterator[tuple[int, int]]:
    """The candidate of one run of array bytes: from its first ``[``, if at least ``MIN_BLOCK_BYTES`` remain."""
    if run_end - run_start >= MIN_BLOCK_BYTES:
        start = data.find(b"[", run_start, run_end)
        if start >= 0 and run_end - start >= MIN_BLOCK_BYTES:
            yield start, run_end


def _single_block(data: bytes | bytearray) -> tuple[tuple[int, int], NumericBlock] | None:
    """The usual predict body holds one big array: the span from its first ``[`` to its last ``]``, tried before
    the candidate scan (which costs a translation of the whole body). No quote inside the span (cheap to check:
    two arrays have a key between them) and ``parse_block`` proves it a rectangular numeric array of run bytes
    only, which is then exactly the block the candidate scan would find; None: the scan decides."""
    start = data.find(b"[")
    stop = data.rfind(b"]") + 1
    if start < 0 or stop - start < MIN_BLOCK_BYTES or data.find(b'"', start, stop) >= 0:
        return None
    block = _parse_or_none(data, start, stop)
    return None if block is None else ((start, stop), block)


def extract_blocks(body: bytes | bytearray | memoryview) -> tuple[bytes | bytearray, dict[str, NumericBlock]]:
    """The body with every large numeric array replaced by a unique placeholder string, and the blocks by
    placeholder. No block: the body itself (not a copy) and an empty dict."""
    data = body if isinstance(body, (bytes, bytearray)) else bytes(body)
    if len(data) < MIN_BLOCK_BYTES:
        return data, {}
    nonce = secrets.token_hex(8)
    single = _single_block(data)
    if single is not None:
        (start, stop), only = single
        key = f"\x00tfs-block-{nonce}-0"
        return b"".join((data[:start], orjson.dumps(key), data[stop:])), {key: only}
    blocks: dict[str, NumericBlock] = {}
    pieces: list[bytes | bytearray] = []
    last = 0
    for start, run_end in _candidates(data):
        block, stop = _first_block(data, start, run_end)
        if block is None:
            continue
        key = f"\x00tfs-block-{nonce}-{len(blocks)}"
        blocks[key] = block
        pieces.append(data[last:start])
        pieces.append(orjson.dumps(key))
        last = stop
    if not blocks:
        return data, {}
    pieces.append(data[last:])
    return b"".join(pieces), blocks


def restore_blocks(doc: Any, blocks: dict[str, NumericBlock]) -> Any:
    """Put each block where its placeholder string is in the parsed document (iteratively, any depth)."""
    if not blocks:
        return doc
    if type(doc) is str:
        return blocks.get(doc, doc)
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if type(node) is dict else enumerate(node)
        for key, value in list(items):
            kind = type(value)
            if kind is str:
                if value in blocks:
                    node[key] = blocks[value]
            elif kind is list or kind is dict:
                stack.append(value)
    return doc
