"""Tensor::FromProto's rules in tensors.to_numpy, checked against TensorFlow's own C++ decoder
(``tf.io.parse_tensor`` runs Tensor::FromProto), and the per-request limits of limits.py: a request's claimed size
is refused before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from tests.support import rss
from toolkit.server import flags, limits, tensors
from toolkit.server.errors import Code, ServingError

DT = types_pb2


def _proto(dtype: int, dims: tuple[int, ...], **fields: object) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for d in dims:
        proto.tensor_shape.dim.add().size = d
    for name, value in fields.items():
        if name == "tensor_content":
            proto.tensor_content = value  # type: ignore[assignment]
        else:
            getattr(proto, name).extend(value)  # type: ignore[arg-type]
    return proto


# Each case: what TF's C++ decoder does with it is the expected behaviour (accept with these values, or refuse).
CASES = {
    "more_values_than_shape": _proto(DT.DT_FLOAT, (2,), float_val=[1, 2, 3]),
    "short_list_repeats_last": _proto(DT.DT_INT64, (4,), int64_val=[1, 2]),
    "no_values_is_zeros": _proto(DT.DT_FLOAT, (3,)),
    "empty_shape_ignores_values": _proto(DT.DT_FLOAT, (0,), float_val=[1, 2, 3]),
    "empty_shape_ignores_content": _proto(DT.DT_FLOAT, (0, 5), tensor_content=b"\x00" * 7),
    "content_wins_over_typed": _proto(DT.DT_FLOAT, (2,), tensor_content=b"\x00" * 8, float_val=[5]),
    "content_size_mismatch": _proto(DT.DT_FLOAT, (2,), tensor_content=b"\x00" * 7),
    "strings_truncated": _proto(DT.DT_STRING, (2,), string_val=[b"a", b"b", b"c"]),
    "strings_filled_empty": _proto(DT.DT_STRING, (3,)),
    "strings_repeat_last": _proto(DT.DT_STRING, (3,), string_val=[b"x", b"yz"]),
    "string_content": _proto(DT.DT_STRING, (2,), tensor_content=b"\x01\x02abc"),
    "string_content_short": _proto(DT.DT_STRING, (2,), tensor_content=b"\x01\x02ab"),
    "complex_odd_floats": _proto(DT.DT_COMPLEX64, (2,), scomplex_val=[1, 2, 3]),
    "half_bits": _proto(DT.DT_HALF, (2,), half_val=[15360]),
    "bfloat16_in_half_val": _proto(DT.DT_BFLOAT16, (2,), half_val=[16256]),
    "uint8_wraps": _proto(DT.DT_UINT8, (2,), int_val=[300, -1]),
    "uint32_ignores_int_val": _proto(DT.DT_UINT32, (2,), int_val=[7]),
    "bool_fill": _proto(DT.DT_BOOL, (2, 2), bool_val=[True]),
    "negative_dim": _proto(DT.DT_FLOAT, (2, -1)),
    "max_dims": _proto(DT.DT_FLOAT, (1,) * 255),
    "int64_overflow": _proto(DT.DT_FLOAT, (2**40, 2**40)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoding_matches_tensorflows_fromproto(name: str) -> None:
    proto = CASES[name]
    try:
        expected = tf.io.parse_tensor(proto.SerializeToString(), tf.dtypes.as_dtype(proto.dtype)).numpy()
    except tf.errors.InvalidArgumentError:
        expected = None
    if expected is None:
        with pytest.raises(tensors.TensorParseError):
            tensors.to_numpy(proto)
        return
    got = tensors.to_numpy(proto)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_content_size_mismatch_uses_tfs_text() -> None:
    with pytest.raises(tensors.TensorParseError, match="^Input size was 7 and expected 8$"):
        tensors.to_numpy(CASES["content_size_mismatch"])


def test_claim_is_computed_from_the_header() -> None:
    found = tensors.claim(_proto(DT.DT_FLOAT, (375_000_000,), float_val=[1.0]))
    assert (found.count, found.given, found.nbytes) == (375_000_000, 1, 1_500_000_000)
    assert found.fill_bytes == 1_499_999_996
    strings = tensors.claim(_proto(DT.DT_STRING, (100_000_000,)))
    assert strings.given == 0 and strings.fill_bytes == 100_000_000 * tensors.STRING_ELEMENT_BYTES
    sent = tensors.claim(_proto(DT.DT_STRING, (2,), string_val=[b"abc", b"de"]))
    assert sent.fill_bytes == 0 and sent.nbytes == 2 * tensors.STRING_ELEMENT_BYTES + 5


# ------------------------------------------------------------------------------------------ limits
def _refusal(inputs: dict[str, tensor_pb2.TensorProto], policy: limits.RequestLimits) -> ServingError:
    with pytest.raises(ServingError) as info:
        policy.check_inputs(inputs)
    return info.value


@pytest.mark.parametrize(
    "hostile",
    [
        _proto(DT.DT_STRING, (100_000_000,)),  # the 26-byte Predict of the issue: 1.5 GiB before
        _proto(DT.DT_FLOAT, (375_000_000,), float_val=[1.0]),  # 33 bytes: 8 GB before
        _proto(DT.DT_INT8, (10**12,)),
    ],
    ids=["string_no_values", "float_one_value", "int8_no_values"],
)
def test_hostile_fill_is_refused_before_allocating(hostile: tensor_pb2.TensorProto) -> None:
    before = rss.reset_peak()
    error = _refusal({"x": hostile}, limits.RequestLimits())
    assert error.code == Code.RESOURCE_EXHAUSTED
    assert "--max_request_fill_bytes" in error.message and "input 'x'" in error.message
    assert str(limits.DEFAULT_MAX_REQUEST_FILL_BYTES) in error.message
    assert rss.peak_kib() - before < 16 * 1024  # peak RSS grew by less than 16 MiB


def test_fill_budget_is_per_request_and_counts_every_input() -> None:
    policy = limits.RequestLimits(max_request_fill_bytes=1000)
    one = _proto(DT.DT_FLOAT, (200,), float_val=[1.0])  # 796 fill bytes
    policy.check_inputs({"a": one})
    error = _refusal({"a": one, "b": one}, policy)
    assert "input 'b'" in error.message and "at most 1000 bytes" in error.message


def test_total_budget_counts_values_on_the_wire() -> None:
    policy = limits.RequestLimits(max_request_tensor_bytes=100)
    policy.check_inputs({"x": _proto(DT.DT_FLOAT, (25,), tensor_content=b"\x00" * 100)})
    error = _refusal({"x": _proto(DT.DT_FLOAT, (26,), tensor_content=b"\x00" * 104)}, policy)
    assert error.code == Code.RESOURCE_EXHAUSTED
    assert "104 bytes once decoded" in error.message and "--max_request_tensor_bytes" in error.message
    strings = _refusal({"s": _proto(DT.DT_STRING, (3,), string_val=[b"a", b"b", b"c"])}, policy)
    assert "'s' 147" in strings.message  # 3 x 48 + 3 payload bytes


def test_legitimate_short_lists_still_decode() -> None:
    """TF's fill rule is kept within the budget: a zero mask of 64x512 from one value."""
    proto = _proto(DT.DT_FLOAT, (64, 512), float_val=[0.0])
    limits.RequestLimits().check_inputs({"mask": proto})
    assert tensors.to_numpy(proto).shape == (64, 512)


def test_invalid_headers_are_left_to_the_decoder() -> None:
    limits.RequestLimits().check_inputs({"x": _proto(DT.DT_FLOAT, (-1,)), "y": _proto(DT.DT_RESOURCE, (1,))})


def test_fill_at_the_limit_peaks_at_a_small_multiple_of_it() -> None:
    """A request just under the fill limit decodes with one allocation of its size, no per-element objects."""
    limit = limits.DEFAULT_MAX_REQUEST_FILL_BYTES
    proto = _proto(DT.DT_FLOAT, (limit // 4,), float_val=[1.5, 2.5])
    limits.RequestLimits().check_inputs({"x": proto})
    before = rss.reset_peak()
    array = tensors.to_numpy(proto)
    assert array[-1] == 2.5 and array.nbytes == limit
    growth_kib = rss.peak_kib() - before
    assert growth_kib < 2 * limit // 1024, f"peak RSS grew {growth_kib} KiB for a {limit // 1024} KiB tensor"


def test_limits_are_flags() -> None:
    options = flags.parse_args(["--max_request_tensor_bytes=1000", "--max_request_fill_bytes=10"])
    assert limits.RequestLimits.from_options(options) == limits.RequestLimits(1000, 10)
    assert {"max_request_tensor_bytes", "max_request_fill_bytes"} <= set(flags.known_flags())
    assert limits.RequestLimits.from_options(flags.parse_args([])) == limits.RequestLimits()
    with pytest.raises(ValueError, match="--max_request_fill_bytes must be a positive number of bytes, got 0"):
        limits.RequestLimits.from_options(flags.parse_args(["--max_request_fill_bytes=0"]))
