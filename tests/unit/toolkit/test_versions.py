"""toolkit.versions: the one home of TF Serving's version rules, the same for a deployment spec and a proto."""

from __future__ import annotations

import pytest

from clients._proto import serving_pb2
from toolkit.deployment import ModelEntry
from toolkit.versions import VersionPolicy, parse_version


@pytest.mark.parametrize(("name", "expected"), [("7", 7), ("007", 7), (" 3 ", 3), ("-5", -5), ("1.0", None),
                                                ("v1", None), (".staging-3", None), (str(2**63), None)])
def test_parse_version_is_simple_atoi_into_int64(name: str, expected: int | None) -> None:
    assert parse_version(name) == expected


def test_policies_select_in_the_servers_order() -> None:
    found = [1, 3, 7]
    assert VersionPolicy().select(found) == [7]
    assert VersionPolicy("latest", 2).select(found) == [7, 3]
    assert VersionPolicy("latest", 0).select(found) == [7]  # N < 1 counts as 1
    assert VersionPolicy("all").select(found) == [1, 3, 7]
    assert VersionPolicy("specific", versions=(7, 2, 1)).select(found) == [7, 1]
    assert VersionPolicy("specific", versions=(7, 1)).served(found) == [1, 7]


def test_spec_and_proto_round_trip_to_the_same_policy() -> None:
    for spec in (ModelEntry("m", "/models/m", "latest", 3), ModelEntry("m", "/models/m", "all"),
                 ModelEntry("m", "/models/m", "specific", versions=(4, 2))):
        config = serving_pb2.ModelConfig()
        VersionPolicy.of_spec(spec).fill_config(config)
        assert VersionPolicy.of_config(config).served(range(10)) == VersionPolicy.of_spec(spec).served(range(10))
    assert VersionPolicy.of_config(serving_pb2.ModelConfig()) == VersionPolicy("latest", 1)  # unset policy
