"""The pure judgements of tfs smoke: each must say what was expected and what was found."""

from __future__ import annotations

import numpy as np
import pytest

from clients.dtypes import numpy_name
from clients.types import SignatureSpec, TensorSpec
from toolkit.savedmodel import Signature
from toolkit.smoke import checks
from toolkit.smoke.report import Status


def exported_sig(shape=(None, 3), dtype="float32", out="y", method="tensorflow/serving/predict") -> dict:
    return {"serving_default": Signature("serving_default", method, {"x": TensorSpec("x", dtype, shape)},
                                         {out: TensorSpec(out, "float32", (None,))})}


def served_sig(shape=(None, 3), dtype="DT_FLOAT", out="y", extra_init_op=True) -> dict:
    sigs = {"serving_default": SignatureSpec("serving_default", "tensorflow/serving/predict",
                                             {"x": TensorSpec("x", dtype, shape)},
                                             {out: TensorSpec(out, "DT_FLOAT", (None,))})}
    if extra_init_op:  # TF Serving lists TF2's init op in metadata; the SavedModel reader hides it
        sigs["__saved_model_init_op"] = SignatureSpec("__saved_model_init_op", "", {}, {})
    return sigs


def test_dtype_names_have_one_spelling():
    assert numpy_name("DT_FLOAT") == "float32"
    assert numpy_name("DT_STRING") == "string"
    assert numpy_name("DT_INT64") == "int64"
    assert numpy_name("float32") == "float32"


def test_matching_signatures_pass_and_ignore_the_init_op():
    verdict = checks.signatures_match(exported_sig(), served_sig())
    assert verdict.status is Status.PASS
    assert "serving_default" in verdict.message


@pytest.mark.parametrize(
    ("served", "what", "expected", "actual"),
    [
        (served_sig(shape=(None, 4)), "input 'x'", "float32[?, 3]", "float32[?, 4]"),
        (served_sig(dtype="DT_DOUBLE"), "input 'x'", "float32[?, 3]", "float64[?, 3]"),
        (served_sig(out="z"), "outputs", "['y']", "['z']"),
    ],
)
def test_signature_differences_name_what_expected_and_actual(served, what, expected, actual):
    verdict = checks.signatures_match(exported_sig(), served)
    assert verdict.status is Status.FAIL
    assert what in verdict.expected and expected in verdict.expected
    assert actual in verdict.actual


def test_missing_signature_is_reported_by_name():
    served = served_sig()
    served["extra"] = served["serving_default"]
    verdict = checks.signatures_match(exported_sig(), served)
    assert verdict.status is Status.FAIL
    assert verdict.expected == "signature names ['serving_default']"
    assert verdict.actual == "['extra', 'serving_default']"


def test_versions_available_lists_what_the_server_has_instead():
    verdicts = checks.versions_available([1, 2, 3], {1: "AVAILABLE", 2: "LOADING"})
    assert verdicts[1].status is Status.PASS
    assert verdicts[2].status is Status.FAIL and verdicts[2].actual == "state LOADING"
    assert verdicts[3].actual == "version not listed by the server"
    assert "{2: LOADING, 1: AVAILABLE}" in verdicts[3].message


def test_label_resolution():
    assert checks.label_resolves("stable", 1, 1).status is Status.PASS
    wrong = checks.label_resolves("stable", 1, 2)
    assert (wrong.expected, wrong.actual) == ("label 'stable' -> version 1", "label 'stable' -> version 2")
    error = checks.label_resolves("stable", 1, None, "InvalidInputError: Unrecognized servable version label")
    assert error.status is Status.FAIL and "Unrecognized servable version label" in error.actual


def test_outputs_match_names_the_worst_element_and_difference():
    expected = {"y": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)}
    got = {"y": np.array([[1.0, 2.0], [3.5, 4.01]], np.float32)}
    verdict = checks.outputs_match(expected, got, rtol=1e-5, atol=1e-5)
    assert verdict.status is Status.FAIL
    assert (verdict.expected, verdict.actual) == ("3", "3.5")
    assert "output 'y'" in verdict.message and "index (1, 0)" in verdict.message and "0.5" in verdict.message
    assert checks.outputs_match(expected, expected, rtol=1e-5, atol=1e-5).status is Status.PASS


def test_protocols_agree_within_tolerance_and_blame_rest_when_not():
    grpc = {"y": np.array([0.1, 0.2], np.float32)}
    assert checks.protocols_agree(grpc, {"y": np.array([0.1, 0.2000001])}, rtol=1e-5, atol=1e-6).status \
        is Status.PASS
    verdict = checks.protocols_agree(grpc, {"y": np.array([0.1, 0.3])}, rtol=1e-5, atol=1e-6)
    assert verdict.status is Status.FAIL
    assert "(gRPC)" in verdict.expected and "(REST)" in verdict.actual and "index (1,)" in verdict.message
    assert checks.protocols_agree(grpc, {"z": grpc["y"]}, rtol=1e-5, atol=1e-6).status is Status.FAIL


def test_outputs_fit_signature_is_weak_when_right_and_fails_when_wrong():
    spec = {"y": TensorSpec("y", "DT_FLOAT", (None, 2)), "label": TensorSpec("label", "DT_STRING", (None,))}
    good = {"y": np.zeros((1, 2), np.float32), "label": np.array([b"a"], dtype=object)}
    verdict = checks.outputs_fit_signature(spec, good, batch=1)
    assert verdict.status is Status.WEAK and "synthetic inputs" in verdict.message
    bad_shape = checks.outputs_fit_signature(spec, {**good, "y": np.zeros((1, 3), np.float32)}, batch=1)
    assert (bad_shape.expected, bad_shape.actual) == ("output 'y' shape [?, 2]", "shape [1, 3]")
    bad_dtype = checks.outputs_fit_signature(spec, {**good, "y": np.zeros((1, 2), np.int32)}, batch=1)
    assert (bad_dtype.expected, bad_dtype.actual) == ("output 'y' dtype float32", "dtype int32")
    missing = checks.outputs_fit_signature(spec, {"y": good["y"]}, batch=1)
    assert missing.status is Status.FAIL and missing.actual == "outputs ['y']"


def test_percentile_is_a_real_sample():
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert checks.percentile(samples, 99) == 0.099
    assert checks.percentile(samples, 50) == 0.05
    assert checks.percentile([0.5], 99) == 0.5
    with pytest.raises(ValueError, match="at least one sample"):
        checks.percentile([], 99)


def test_latency_budget():
    samples = [0.010] * 98 + [0.050, 0.200]
    assert checks.latency_within(samples, 60).status is Status.PASS
    verdict = checks.latency_within(samples, 40)
    assert verdict.status is Status.FAIL
    assert (verdict.expected, verdict.actual) == ("p99 <= 40 ms", "p99 50.0 ms")
    assert "over 100 requests" in verdict.message
