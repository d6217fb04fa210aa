"""validate=True: names, dtypes and shapes are checked against the cached signature before anything is sent."""

from __future__ import annotations

import numpy as np
import pytest

from clients import ValidationError
from clients.testing import FakeServer
from clients.types import SignatureSpec, TensorSpec
from clients.validation import name_inputs, validate_inputs

SIG = SignatureSpec(
    "serving_default",
    "tensorflow/serving/predict",
    {
        "image": TensorSpec("image", "DT_FLOAT", (None, 4, 4, 3)),
        "text": TensorSpec("text", "DT_STRING", (None,)),
        "k": TensorSpec("k", "DT_INT32", None),
    },
    {},
    defaults=("k",),
)


def _ok_inputs() -> dict:
    return {"image": np.zeros((2, 4, 4, 3), np.float32), "text": [b"a", "b"]}


def test_valid_inputs_pass_and_lists_take_the_signature_dtype() -> None:
    checked = validate_inputs({**_ok_inputs(), "k": [[1, 2]]}, SIG)
    assert checked["k"].dtype == np.int32 and checked["k"].shape == (1, 2)
    assert checked["text"].dtype == object


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": np.zeros((2, 4, 4, 3), np.float64)}, "input 'image': expected dtype float32 \\(DT_FLOAT\\), got float64"),
        ({"image": np.zeros((2, 4, 4), np.float32)}, r"input 'image': expected shape \(None, 4, 4, 3\), got \(2, 4, 4\)"),
        ({"image": np.zeros((2, 5, 4, 3), np.float32)}, r"input 'image': expected shape \(None, 4, 4, 3\), got \(2, 5, 4, 3\)"),
        ({"text": np.float32([1.0])}, "input 'text': expected dtype bytes/str \\(DT_STRING\\), got float32"),
        ({"image": [["x"]]}, "input 'image': expected dtype float32 \\(DT_FLOAT\\), got object"),
        ({"extra": [1]}, "input 'extra': not in signature 'serving_default'; expected inputs \\['image', 'k', 'text'\\]"),
        ({"k": np.zeros(2, np.int64)}, "input 'k': expected dtype int32 \\(DT_INT32\\), got int64"),
    ],
)
def test_mismatches_name_input_expected_and_got(change, message) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_inputs({**_ok_inputs(), **change}, SIG)


def test_missing_input_without_default() -> None:
    with pytest.raises(ValidationError, match="input 'text': missing; signature 'serving_default' expects"):
        validate_inputs({"image": np.zeros((1, 4, 4, 3), np.float32)}, SIG)


def test_bare_array_naming() -> None:
    single = SignatureSpec("s", "", {"x": TensorSpec("x", "DT_FLOAT", None)}, {})
    assert list(name_inputs(np.zeros(2), single)) == ["x"]
    with pytest.raises(ValidationError, match="has 3 inputs"):
        name_inputs(np.zeros(2), SIG)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer().add_signature(
        "m", lambda x: {"y": x["x"] * 2}, inputs={"x": (np.float32, (None, 2))}, outputs={"y": (np.float32, (None, 2))}
    )


@pytest.mark.parametrize("make", ["grpc_client", "rest_client"])
def test_clients_validate_before_sending(server, make) -> None:
    client = getattr(server, make)(validate=True)
    with pytest.raises(ValidationError, match=r"input 'x': expected shape \(None, 2\), got \(3,\)"):
        client.predict({"x": np.float32([1, 2, 3])}, "m")
    with pytest.raises(ValidationError, match="signature 'other' not found"):
        client.predict({"x": np.float32([[1, 2]])}, "m", signature="other")
    assert [c.method for c in server.calls] == ["metadata"]  # nothing was sent for predict
    # A list is converted to float32 and goes through.
    assert client.predict({"x": [[1, 2]]}, "m")["y"].dtype == np.float32


async def test_async_clients_validate(server) -> None:
    for client in (server.async_grpc_client(validate=True), server.async_rest_client(validate=True)):
        with pytest.raises(ValidationError, match="input 'x': expected dtype float32"):
            await client.predict({"x": np.int64([[1, 2]])}, "m")
        await client.close()
