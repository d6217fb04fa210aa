"""The JSON text of large numeric outputs written by numpy into one buffer: no Python string per value.

Float32 values get exactly the text of ``rest_json.format_float`` (TF Serving's ``WriteDecimal``: %g if it reads
back as the same float32, else %.9g, ``.0`` after whole numbers), integers their decimal digits. The digits are computed with numpy (float32's in float64); each value's characters are laid out
from lookup tables in a fixed row of 64-bit words, NUL where the value needs no character, then the separator, and
the rows' bytes with the NULs deleted are the text. The few floats float64 cannot decide (NaN, infinities, a
rounding within 1e-6 of a tie) are written by the scalar rule and spliced in where a marker byte stands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from toolkit.server.rest_json import format_float, lists_closed_after

with np.errstate(over="ignore", under="ignore"):
    _TENS = np.array([float(f"1e{k}") for k in range(-60, 61)])  # correctly rounded powers of ten
_TENS_OFFSET = 60
# Scaling by a correctly rounded power of ten costs two float64 roundings (relative error < 3e-16, so < 3e-7 on a
# 9-digit mantissa): a fraction within _TIE_MARGIN of .5 may round either way and is left to the scalar rule, and
# a read-back value is known only to within _BRACKET.
_TIE_MARGIN = 1e-6
_BRACKET = 1e-15


def _round_digits(scaled: np.ndarray, precision: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mantissa of ``precision`` digits, exponent carry 0/1, decided) of values scaled to [10**(p-1), 10**p)."""
    fraction = scaled - np.floor(scaled)
    decided = np.abs(fraction - 0.5) > _TIE_MARGIN
    mantissa = np.rint(scaled).astype(np.int32)
    carry = mantissa >= 10**precision
    return np.where(carry, mantissa // 10, mantissa), carry.astype(np.int32), decided


def _decimal(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per float32 value: (9-digit mantissa, decimal exponent, %g rather than %.9g, decided) of its text.

    A zero comes out as mantissa 0, exponent 0, %g; an undecided value is for the scalar rule."""
    with np.errstate(invalid="ignore"):  # signalling NaNs
        wide = flat.astype(np.float64)
    absv = np.abs(wide)
    finite = np.isfinite(wide)
    nonzero = absv > 0
    usable = finite & nonzero
    safe = np.where(usable, absv, 1.0)
    # floor(log10): from the binary exponent, floor(e2 * log10(2)) is it or one less; the power settles it (a
    # float32 is never within float64 rounding of a power of ten it does not equal).
    binary = ((safe.view(np.int64) >> 52) - 1023).astype(np.int32)
    exponent = (binary * 78913) >> 18
    exponent += safe >= _TENS[exponent + _TENS_OFFSET + 1]
    scaled9 = safe * _TENS[8 - exponent + _TENS_OFFSET]
    mant9, carry9, decided9 = _round_digits(scaled9, 9)
    mant6, carry6, decided6 = _round_digits(scaled9 / 1000.0, 6)
    exp6 = exponent + carry6
    # Does the %g text (6 digits) read back as the same float32? Its float64 value is known within the bracket.
    back = mant6 * _TENS[exp6 - 5 + _TENS_OFFSET]
    low = (back * (1 - _BRACKET)).astype(np.float32)
    known = low == (back * (1 + _BRACKET)).astype(np.float32)
    use_six = known & (low == np.abs(flat))
    zero = finite & ~nonzero
    decided = (usable & known & decided6 & (use_six | decided9)) | zero
    short = use_six | zero
    mantissa = np.where(use_six, mant6 * 1000, mant9)
    mantissa[zero] = 0
    exp10 = np.where(use_six, exp6, exponent + carry9)
    exp10[zero] = 0
    return mantissa, exp10, short, decided


def _bytes_word(placed: dict[int, int]) -> int:
    """A little-endian 64-bit word with the given byte values at the given byte positions."""
    return sum(value << (8 * position) for position, value in placed.items())


def _word_table(entries: Sequence[dict[int, int]]) -> np.ndarray:
    return np.array([_bytes_word(entry) for entry in entries], dtype="<u8")


_ZERO, _POINT, _MINUS = ord("0"), ord("."), ord("-")
# A value's text in four 64-bit words (32 bytes, NUL where a character is not needed), in text order:
#   word 0: sign, "0.000" (for 1e-4 <= |v| < 1), digit 1, point after it
#   word 1: digits 2-5, each with a possible point after it
#   word 2: digits 6-9, each with a possible point after it
#   word 3: ".0" (whole numbers), "e+XX" (scientific), a marker for a value written by the scalar rule
_QUADS = np.arange(10_000, dtype=np.uint64)
_QUAD_DIGITS = [_QUADS // np.uint64(10 ** (3 - k)) % np.uint64(10) + np.uint64(_ZERO) for k in range(4)]  # 0..9999
_DIGITS4 = sum((d << np.uint64(16 * k) for k, d in enumerate(_QUAD_DIGITS)), np.uint64(0))
_PREFIX = _word_table([{}] + [{1: _ZERO, 2: _POINT, **{3 + k: _ZERO for k in range(zeros)}} for zeros in range(4)])
_TRAILING_ZEROS = sum((_QUADS % np.uint64(10**k) == 0).astype(np.int32) for k in range(1, 5))  # 0 has 4
_FIRST_DIGIT = _word_table([{6: _ZERO + d} for d in range(10)])
# Keep digits 2-5 / 6-9 of a value showing n digits; a point after digit p (p = -1: none).
_SHOWN_1 = _word_table([{2 * k: 0xFF for k in range(4) if k + 1 < n} for n in range(10)])
_SHOWN_2 = _word_table([{2 * k: 0xFF for k in range(4) if k + 5 < n} for n in range(10)])
_POINT_0 = _word_table([{7: _POINT} if p == 0 else {} for p in range(-1, 9)])
_POINT_1 = _word_table([{2 * (p - 1) + 1: _POINT} if 1 <= p <= 4 else {} for p in range(-1, 9)])
_POINT_2 = _word_table([{2 * (p - 5) + 1: _POINT} if 5 <= p <= 8 else {} for p in range(-1, 9)])
_WHOLE_SUFFIX = _bytes_word({0: _POINT, 1: _ZERO})
_EXPONENT_OFFSET = 64
_EXPONENT = _word_table(
    [dict(zip(range(2, 6), f"e{e:+03d}".encode(), strict=True)) for e in range(-_EXPONENT_OFFSET, _EXPONENT_OFFSET)]
)
_SCALAR_MARK = 1  # a byte no JSON text here contains: where the scalar rule's text goes
_MARK_WORD = _bytes_word({6: _SCALAR_MARK})

_CHUNK_VALUES = 1 << 15  # values written at once: the rows (~40 bytes a value) stay in cache
_TOKEN_WORDS = 4  # 64-bit words of a value's characters (the longest: a float32's 32 bytes)


def values_text(flat: np.ndarray, inner: Sequence[int], row_joiner: str) -> str:
    """The values of ``flat`` (float32 or any integer dtype) as consecutive rows of ``inner`` shape (no zero
    dims), each row nested JSON lists of the values' texts (``,`` between values, no spaces), the rows joined by
    ``row_joiner`` (ASCII, without the bytes 0 and 1).

    Equal to ``row_joiner.join(nest_rows(tokens, inner, rows))`` where ``tokens`` are ``format_float(v,
    double=False)`` of each float32 and ``str(v)`` of each integer."""
    flat = np.ascontiguousarray(flat).ravel()
    if flat.dtype.kind in "iu":
        tokens = _integer_tokens
    elif flat.dtype == np.float32:
        tokens = _float32_tokens
    else:
        raise TypeError(f"no vectorised text for {flat.dtype}")
    total = flat.size
    if total == 0:
        return ""
    joiner = np.frombuffer(row_joiner.encode("ascii"), dtype=np.uint8)
    chunks = [
        _write_chunk(tokens, flat[start : start + _CHUNK_VALUES], start, inner, joiner, start + _CHUNK_VALUES >= total)
        for start in range(0, total, _CHUNK_VALUES)
    ]
    return "[" * len(inner) + b"".join(chunks).decode("ascii") + "]" * len(inner)


def _write_chunk(
    tokens: Callable[[np.ndarray, np.ndarray], np.ndarray],
    flat: np.ndarray,
    offset: int,
    inner: Sequence[int],
    joiner: np.ndarray,
    last: bool,
) -> bytes:
    """The text of values ``offset ..`` of the whole (see ``values_text``), each with the separator after it
    (none after the whole's last value)."""
    total = flat.size
    rank = len(inner)
    separator_width = 2 * rank + 1 + len(joiner)
    width = 8 * _TOKEN_WORDS + -(-separator_width // 8) * 8
    out = np.zeros((total, width), dtype=np.uint8)
    undecided = tokens(flat, out.view("<u8"))  # only float32 leaves values to the scalar rule

    # After each value but the last: c lists close ("]" * c), then "," (the row joiner where a row ends), then c
    # lists open.
    closes = lists_closed_after(np.arange(offset + 1, offset + total + 1, dtype=np.int64), inner)
    row_end = closes == rank
    separator = np.zeros((width - 8 * _TOKEN_WORDS, total), dtype=np.uint8)
    if rank:
        opened = np.arange(rank)[:, None] < closes
        separator[:rank] = np.where(opened, ord("]"), 0)
        separator[rank + 1 + len(joiner) : separator_width] = np.where(opened, ord("["), 0)
    separator[rank] = np.where(row_end, 0, ord(","))
    separator[rank + 1 : rank + 1 + len(joiner)] = np.where(row_end, joiner[:, None], 0)
    if last:
        separator[:, -1] = 0
    out[:, 8 * _TOKEN_WORDS :] = separator.T

    text = out.tobytes().translate(None, b"\x00")
    if undecided.size:
        pieces = text.split(bytes([_SCALAR_MARK]))
        scalar = [format_float(v, double=False).encode("ascii") for v in flat[undecided].tolist()]
        text = b"".join(piece for pair in zip(pieces, [*scalar, b""], strict=True) for piece in pair)
    return text


def _float32_tokens(flat: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Write each float32's characters into its row of ``words``; return the indices left to the scalar rule."""
    mantissa, exp10, short, decided = _decimal(flat)
    head, low = np.divmod(mantissa, 10_000)
    first, middle = np.divmod(head, 10_000)
    # Digits shown: up to the last non-zero one (a zero shows one), or up to the point of a fixed whole part.
    trailing = _TRAILING_ZEROS[low]
    trailing += (low == 0) * _TRAILING_ZEROS[middle]
    significant = np.maximum(9 - trailing - ((low == 0) & (middle == 0)) * (first == 0), 1)
    fixed = (exp10 >= -4) & ((exp10 < 6) | (~short & (exp10 < 9)))
    fixed_int = fixed & (exp10 >= 0)
    fixed_frac = fixed & (exp10 < 0)
    scientific = ~fixed
    shown = np.where(fixed_int, np.maximum(significant, exp10 + 1), significant)
    point_after = np.where(
        fixed_int & (significant > exp10 + 1), exp10, np.where(scientific & (significant > 1), 0, -1)
    )
    point_after += 1
    words[:, 0] = (
        np.signbit(flat) * np.uint64(_MINUS)
        | _PREFIX[np.where(fixed_frac, -exp10, 0)]
        | _FIRST_DIGIT[first]
        | _POINT_0[point_after]
    )
    words[:, 1] = (_DIGITS4[middle] & _SHOWN_1[shown]) | _POINT_1[point_after]
    words[:, 2] = (_DIGITS4[low] & _SHOWN_2[shown]) | _POINT_2[point_after]
    words[:, 3] = (fixed_int & (significant <= exp10 + 1)) * np.uint64(_WHOLE_SUFFIX) | (
        _EXPONENT[exp10 + _EXPONENT_OFFSET] * scientific
    )
    undecided = np.flatnonzero(~decided)
    words[undecided, :4] = 0
    words[undecided, 3] = _MARK_WORD
    return undecided


_PACKED4 = sum((d << np.uint64(8 * k) for k, d in enumerate(_QUAD_DIGITS)), np.uint64(0))
_POWERS_U64 = np.array([10**k for k in range(1, 20)], dtype=np.uint64)
# An integer's characters: word 0 bytes 3-7 sign and digits 1-4 of its 20, words 1-2 digits 5-20; keep the last n.
_SHOWN_DIGITS = np.array(
    [[_bytes_word({b: 0xFF for b in range(8) if 8 * w + b - 4 >= 20 - n}) for w in range(3)] for n in range(21)],
    dtype="<u8",
)


def _integer_tokens(flat: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Write each integer's decimal digits (and ``-``) into its row of ``words``; nothing is left over."""
    negative = flat < 0
    if flat.dtype.kind == "i":
        signed = flat.astype(np.int64).view(np.uint64)
        magnitude = np.where(negative, ~signed + np.uint64(1), signed)  # two's complement: int64's minimum too
    else:
        magnitude = flat.astype(np.uint64)
    digits = np.searchsorted(_POWERS_U64, magnitude, side="right") + 1
    groups = []
    rest = magnitude
    for _ in range(4):
        rest, group = np.divmod(rest, np.uint64(10_000))
        groups.append(group)
    groups.append(rest)  # the leading 1-4 digits (at most 1844)
    low4, mid4b, mid4a, high4, lead = groups
    shown = _SHOWN_DIGITS[digits]
    words[:, 0] = ((negative * np.uint64(_MINUS)) << np.uint64(24) | _PACKED4[lead] << np.uint64(32)) & (
        shown[:, 0] | np.uint64(0xFF << 24)
    )
    words[:, 1] = (_PACKED4[high4] | _PACKED4[mid4a] << np.uint64(32)) & shown[:, 1]
    words[:, 2] = (_PACKED4[mid4b] | _PACKED4[low4] << np.uint64(32)) & shown[:, 2]
    return np.zeros(0, dtype=np.intp)
