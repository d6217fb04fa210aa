"""Large rectangular numeric JSON arrays parsed straight into numpy buffers (the fast REST predict path).

A predict body is mostly one big nested array of numbers. Parsed as JSON it becomes Python lists of floats (about
32 bytes and a pointer per number, plus a list per row); here such an array is found in the raw body, checked to
be rectangular with numbers only at its innermost level (structure on numpy views of the bytes), and its numbers
are read in bounded chunks into one float64/int64 buffer. The rest of the document is parsed as usual with a
placeholder string in its place. Only well-formed data takes this path: anything else (strings, NaN, ragged rows,
huge integers, bad number syntax) stays for the exact parser, so every rule and message is unchanged.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import numpy as np
import orjson

# Arrays shorter than this stay in the document (the exact path is as fast for them).
MIN_BLOCK_BYTES = 4096
_MAX_RANK = 64
_CHUNK_BYTES = 1 << 20
# A run of bytes that can only be brackets, commas, whitespace and JSON number characters, starting with '['.
_CANDIDATE = re.compile(rb"\[[\[\]0-9eE+\-., \t\n\r]{%d,}" % (MIN_BLOCK_BYTES - 1))
# Brackets become spaces for the number parse; whitespace stays, so "1 2" remains a syntax error there.
_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")
_LEADING_OPENS = re.compile(rb"(?:\[[ \t\n\r]*)+")
_WS = b" \t\n\r"
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")


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


def _shape_of(compact: bytes) -> tuple[list[int], bool] | None:
    """Rank and dimensions of a whitespace-free, balanced array text, or None when it is not rectangular with
    numbers exactly at the innermost level; also whether every number is an integer token."""
    rank = 0
    while rank < len(compact) and compact[rank] == _OPEN:
        rank += 1
    if rank > _MAX_RANK:
        return None
    chars = np.frombuffer(compact, dtype=np.uint8)
    positions = np.flatnonzero((chars == _OPEN) | (chars == _CLOSE) | (chars == _COMMA))
    structure = chars[positions]
    step = np.zeros(structure.size, dtype=np.int32)
    step[structure == _OPEN] = 1
    step[structure == _CLOSE] = -1
    depth = np.cumsum(step)  # depth after each structural character
    if depth[-1] != 0 or int(depth.max()) != rank or (depth[:-1] <= 0).any():
        return None
    first, second = structure[:-1], structure[1:]
    number_between = np.diff(positions) > 1  # a number token sits between two structural characters
    numbers_ok = (
        (depth[:-1] == rank) & ((first == _OPEN) | (first == _COMMA)) & ((second == _COMMA) | (second == _CLOSE))
    )
    bare_ok = (
        ((first == _OPEN) & (second == _OPEN))
        | ((first == _CLOSE) & ((second == _CLOSE) | (second == _COMMA)))
        | ((first == _COMMA) & (second == _OPEN))
    )
    if not np.where(number_between, numbers_ok, bare_ok).all():
        return None
    shape: list[int] = []
    for level in range(1, rank + 1):
        opens = np.flatnonzero((structure == _OPEN) & (depth == level))
        closes = np.flatnonzero((structure == _CLOSE) & (depth == level - 1))
        commas = np.flatnonzero((structure == _COMMA) & (depth == level))
        if opens.size != closes.size:
            return None
        counts = np.searchsorted(commas, closes) - np.searchsorted(commas, opens)
        if counts.size == 0 or (counts != counts[0]).any():
            return None
        shape.append(int(counts[0]) + 1)
    integers = compact.find(b".") < 0 and compact.find(b"e") < 0 and compact.find(b"E") < 0
    return shape, integers


def _read_numbers(flat: bytes, count: int, integers: bool) -> np.ndarray | None:
    """Comma-separated JSON numbers into one buffer, parsed in chunks of about 1 MiB (orjson checks the syntax)."""
    out = np.empty(count, dtype=np.int64 if integers else np.float64)
    filled, start, size = 0, 0, len(flat)
    while start < size:
        end = flat.find(b",", min(start + _CHUNK_BYTES, size))
        end = size if end < 0 else end
        try:
            values = orjson.loads(b"[" + flat[start:end] + b"]")
            n = len(values)
            if filled + n > count:
                return None
            out[filled : filled + n] = np.array(values, dtype=out.dtype)
        except (orjson.JSONDecodeError, OverflowError, TypeError, ValueError):
            return None  # bad syntax, an integer beyond int64, an infinite double: the exact path decides
        filled += n
        start = end + 1
    return out if filled == count else None


def parse_block(region: bytes) -> NumericBlock | None:
    """A ``NumericBlock`` for the text of one balanced JSON array, or None when the exact parser must decide."""
    compact = region.translate(None, _WS)
    found = _shape_of(compact)
    if found is None:
        return None
    shape, integers = found
    count = 1
    for dim in shape:
        count *= dim
    values = _read_numbers(region.translate(_BRACKETS_TO_SPACES), count, integers)
    if values is None:
        return None
    return NumericBlock(shape, values, integers)


def _balanced_end(run: bytes | memoryview) -> int:
    """Length of the balanced array at the start of ``run`` (0 when it does not close inside the run)."""
    chars = np.frombuffer(run, dtype=np.uint8)
    brackets = np.flatnonzero((chars == _OPEN) | (chars == _CLOSE))
    depth = np.cumsum(np.where(chars[brackets] == _OPEN, 1, -1).astype(np.int32))
    closed = np.flatnonzero(depth == 0)
    return int(brackets[closed[0]]) + 1 if closed.size else 0


def extract_blocks(body: bytes | bytearray | memoryview) -> tuple[bytes, dict[str, NumericBlock]]:
    """The body with every large numeric array replaced by a unique placeholder string, and the blocks by
    placeholder. No block: the body itself (not a copy) and an empty dict."""
    data = body
    if len(data) < MIN_BLOCK_BYTES:
        return data, {}  # type: ignore[return-value]
    view = memoryview(data)
    blocks: dict[str, NumericBlock] = {}
    pieces: list[bytes] = []
    nonce = secrets.token_hex(8)
    last = 0
    for match in _CANDIDATE.finditer(data):
        length = _balanced_end(view[match.start() : match.end()])
        if length < MIN_BLOCK_BYTES:
            continue
        block = parse_block(bytes(view[match.start() : match.start() + length]))
        if block is None:
            continue
        key = f"\x00tfs-block-{nonce}-{len(blocks)}"
        blocks[key] = block
        pieces.append(data[last : match.start()])
        pieces.append(orjson.dumps(key))
        last = match.start() + length
    if not blocks:
        return data, {}  # type: ignore[return-value]
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
