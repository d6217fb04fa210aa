"""TF Serving's two version rules, written once: which folder names are versions, and which of those a version
policy serves. Config generation, the embedded runtime, the launcher, k8s baking and smoke all import these.

A child of a model's base path is a version when its name parses as an int64 the way ``absl::SimpleAtoi`` does
(``1``, ``00000123``, ``-5``, `` 7 ``); anything else (``1.0``, ``v1``, ``.staging-3``) is invisible to the server.
Policies (``ServableVersionPolicy``): ``latest`` N (N < 1 counts as 1), ``all``, ``specific`` (listed versions
that exist).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SIMPLE_ATOI = re.compile(r"^\s*[+-]?\d+\s*$")

PolicyKind = Literal["latest", "all", "specific"]


def simple_atoi(text: str, bits: int = 64) -> int | None:
    """absl::SimpleAtoi: optional surrounding whitespace and sign, decimal digits only, within a signed range of
    ``bits`` bits; None when it refuses. TF Serving uses it for version folder names and integer flags."""
    if not _SIMPLE_ATOI.match(text):
        return None
    value = int(text)
    limit = 2 ** (bits - 1)
    return value if -limit <= value < limit else None


def parse_version(name: str) -> int | None:
    """The version number TF Serving reads from a folder name, or None if the server ignores the folder."""
    return simple_atoi(name, 64)


@dataclass(frozen=True)
class VersionPolicy:
    """A model's version policy, whichever form it came in (a deployment spec or a ``ModelConfig`` proto)."""

    kind: PolicyKind = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def of_spec(cls, model: Any) -> VersionPolicy:
        """From a ``toolkit.deployment.ModelEntry`` (``policy``, ``num_versions``, ``versions``)."""
        return cls(model.policy, int(model.num_versions), tuple(int(v) for v in model.versions))

    @classmethod
    def of_config(cls, model_config: Any) -> VersionPolicy:
        """From a ``ModelConfig`` proto (TF Serving's or the clients' copy): an unset policy is latest 1."""
        policy = model_config.model_version_policy
        which = policy.WhichOneof("policy_choice")
        if which == "all":
            return cls("all")
        if which == "specific":
            return cls("specific", 1, tuple(int(v) for v in policy.specific.versions))
        return cls("latest", int(policy.latest.num_versions) if which == "latest" else 1)

    def fill_config(self, model_config: Any) -> None:
        """Write this policy into a ``ModelConfig`` proto's ``model_version_policy`` (the inverse of ``of_config``)."""
        policy = model_config.model_version_policy
        if self.kind == "all":
            policy.all.SetInParent()
        elif self.kind == "specific":
            policy.specific.versions.extend(sorted(self.versions))
        else:
            policy.latest.num_versions = self.num_versions

    def select(self, available: Iterable[int]) -> list[int]:
        """The versions this policy serves out of ``available``, in the server's order: ``latest`` newest first,
        ``all`` as given, ``specific`` in the policy's order."""
        found = list(available)
        if self.kind == "all":
            return found
        if self.kind == "specific":
            present = set(found)
            return [v for v in dict.fromkeys(self.versions) if v in present]
        return sorted(set(found), reverse=True)[: max(self.num_versions, 1)]

    def served(self, available: Iterable[int]) -> list[int]:
        """``select`` in ascending order without repeats (what the toolkit reports and compares)."""
        return sorted(set(self.select(available)))
