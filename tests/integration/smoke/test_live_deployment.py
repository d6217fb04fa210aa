"""The exported deployment served live, through both clients: predict, classify, regress, metadata, status,
version pinning, labels, and a version exported while the server runs being picked up."""

from __future__ import annotations

import numpy as np
import pytest

from clients.errors import InvalidInputError, ModelNotFoundError
from tests.integration.smoke.deployment import HALF_B, HALF_X
from toolkit.export.testdata import compare_outputs, load_test_data


def test_planet_predict_gives_the_persisted_outputs(client, smoke_deployment):
    data = load_test_data(smoke_deployment.repository / "planet" / "1")
    assert data is not None
    got = client.predict(data.inputs, "planet")
    assert sorted(got) == ["ground", "weather"]
    assert got["weather"].shape == (2, 4) and got["ground"].shape == (2, 13)
    assert compare_outputs(data.expected, got, rtol=data.rtol, atol=data.atol) is None
    np.testing.assert_allclose(got["weather"].sum(axis=1), 1.0, rtol=1e-5)  # softmax head


@pytest.mark.parametrize(("version", "label"), [(1, None), (2, None), (None, "stable"), (None, "canary")])
def test_version_pinning_and_labels(client, version, label):
    served = version or {"stable": 1, "canary": 2}[label]
    got = client.predict({"x": HALF_X}, "half", version=version, label=label)
    np.testing.assert_allclose(got["y"], 0.5 * HALF_X + HALF_B[served], rtol=1e-6)
    assert client.metadata("half", version=version, label=label).version == served


def test_latest_is_the_highest_version(client):
    np.testing.assert_allclose(client.predict({"x": HALF_X}, "half")["y"], 0.5 * HALF_X + HALF_B[2], rtol=1e-6)


def test_unknown_label_and_version_are_errors(client):
    with pytest.raises(InvalidInputError, match="Unrecognized servable version label: nightly"):
        client.predict({"x": HALF_X}, "half", label="nightly")
    with pytest.raises(ModelNotFoundError, match=r"Servable not found for request: Specific\(half, 7\)"):
        client.predict({"x": HALF_X}, "half", version=7)


def test_classify_and_regress(client):
    examples = [{"x": 1.0}, {"x": 4.0}]
    scores = client.classify(examples, "half", version=2, signature="classify_x_to_y")
    assert [len(per_example) for per_example in scores] == [1, 1]
    assert [score for per_example in scores for _, score in per_example] == pytest.approx([3.5, 5.0])
    values = client.regress(examples, "half", label="stable", signature="regress_x_to_y")
    np.testing.assert_allclose(values, [2.5, 4.0], rtol=1e-6)


def test_metadata_matches_the_export(client, smoke_deployment):
    from toolkit.savedmodel import read_signatures

    exported = read_signatures(smoke_deployment.repository / "planet" / "1")
    served = client.metadata("planet", version=1)
    assert served.version == 1
    sig = served.signature("serving_default")
    assert sorted(sig.inputs) == sorted(exported["serving_default"].inputs) == ["input_image"]
    assert sig.inputs["input_image"].shape == (None, 128, 128, 3)
    assert sig.inputs["input_image"].dtype_name == "DT_FLOAT"
    assert sorted(sig.outputs) == ["ground", "weather"]


def test_status_lists_the_policy_versions(client):
    states = {s.version: s.state for s in client.status("half")}
    assert states == {2: "AVAILABLE", 1: "AVAILABLE"}
    assert [s.state for s in client.status("planet")] == ["AVAILABLE"]


def test_a_version_exported_while_serving_is_picked_up(grpc_client, rest_client, smoke_deployment, tmp_path):
    """Export a new version of ``grow`` with the toolkit into the served repository; the server's file-system
    poll loads it (polled through status with a deadline), and both protocols then serve it as latest."""
    from tests.support.models import build_half_plus_two_tf2
    from toolkit.export import export_model

    source = build_half_plus_two_tf2(tmp_path / "grow-next", b=7.0)
    result = export_model(source, "grow", smoke_deployment.repository, sample_inputs={"x": HALF_X},
                          expected_outputs={"y": 0.5 * HALF_X + 7.0})
    new = result.version
    assert new >= 2 and result.persisted_test_data
    statuses = grpc_client.wait_until_available("grow", [new], timeout=90)
    assert {s.version: s.state for s in statuses}[new] == "AVAILABLE"
    for client in (grpc_client, rest_client):
        np.testing.assert_allclose(client.predict({"x": HALF_X}, "grow")["y"], 0.5 * HALF_X + 7.0, rtol=1e-6)
        assert client.metadata("grow").version == new
