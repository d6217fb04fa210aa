"""The judgements ``tfs smoke`` makes, as pure functions of what was expected and what the server answered.

No I/O: the runner fetches (through the clients) and these decide. Each returns a ``Verdict`` whose expected and
actual values are short strings fit for a report line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clients.types import TensorSpec
from toolkit.export.testdata import compare_outputs
from toolkit.savedmodel import INIT_OP_SIGNATURE
from toolkit.smoke.report import Status


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check before the runner adds model, version and timing."""

    status: Status
    message: str = ""
    expected: str | None = None
    actual: str | None = None

    @classmethod
    def ok(cls, message: str = "") -> Verdict:
        return cls(Status.PASS, message)

    @classmethod
    def fail(cls, expected: str, actual: str, message: str = "") -> Verdict:
        return cls(Status.FAIL, message, expected, actual)


def _shape_text(shape: Sequence[int | None] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _tensor_text(spec: TensorSpec) -> str:
    return f"{spec.numpy_name}{_shape_text(spec.shape)}"


# ------------------------------------------------------------------------------------------------- availability
def versions_available(expected: Sequence[int], states: Mapping[int, str]) -> dict[int, Verdict]:
    """Per expected version: PASS when the server lists it AVAILABLE; else what it lists instead."""
    listed = ", ".join(f"{v}: {s}" for v, s in sorted(states.items(), reverse=True)) or "none"
    verdicts = {}
    for version in expected:
        state = states.get(version)
        if state == "AVAILABLE":
            verdicts[version] = Verdict.ok("AVAILABLE")
        else:
            verdicts[version] = Verdict.fail(
                "state AVAILABLE", f"state {state}" if state else "version not listed by the server",
                f"the server lists versions {{{listed}}}",
            )
    return verdicts


def label_resolves(label: str, intended: int, answered: int | None, error: str | None = None) -> Verdict:
    """The label must resolve to the version the config gives it (the server echoes the version it used)."""
    if error is not None:
        return Verdict.fail(f"label {label!r} -> version {intended}", f"error: {error}")
    if answered != intended:
        return Verdict.fail(f"label {label!r} -> version {intended}", f"label {label!r} -> version {answered}")
    return Verdict.ok(f"{label} -> {answered}")


# ------------------------------------------------------------------------------------------------- signatures
def signature_differences(exported: Mapping[str, Any], served: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(what, expected, actual) for every difference between exported and served signatures: signature names,
    method names, input/output names, dtypes and shapes. Empty when they match."""
    diffs: list[tuple[str, str, str]] = []
    exp = {k: v for k, v in exported.items() if k != INIT_OP_SIGNATURE}
    got = {k: v for k, v in served.items() if k != INIT_OP_SIGNATURE}
    if sorted(exp) != sorted(got):
        diffs.append(("signature names", str(sorted(exp)), str(sorted(got))))
    for name in sorted(set(exp) & set(got)):
        e, g = exp[name], got[name]
        if e.method_name != g.method_name:
            diffs.append((f"signature {name!r} method", e.method_name, g.method_name))
        for side in ("inputs", "outputs"):
            e_side, g_side = getattr(e, side), getattr(g, side)
            if sorted(e_side) != sorted(g_side):
                diffs.append((f"signature {name!r} {side}", str(sorted(e_side)), str(sorted(g_side))))
                continue
            for alias in sorted(e_side):
                e_text, g_text = _tensor_text(e_side[alias]), _tensor_text(g_side[alias])
                if e_text != g_text:
                    diffs.append((f"signature {name!r} {side[:-1]} {alias!r}", e_text, g_text))
    return diffs


def signatures_match(exported: Mapping[str, Any], served: Mapping[str, Any]) -> Verdict:
    diffs = signature_differences(exported, served)
    if not diffs:
        names = sorted(k for k in exported if k != INIT_OP_SIGNATURE)
        return Verdict.ok(f"{len(names)} signature(s): {', '.join(names)}")
    what, expected, actual = diffs[0]
    more = f"; {len(diffs) - 1} more difference(s)" if len(diffs) > 1 else ""
    return Verdict.fail(f"{what} {expected}", f"{actual}", f"served signature differs from the export{more}")


# ------------------------------------------------------------------------------------------------- outputs
def outputs_match(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], *, rtol: float,
                  atol: float) -> Verdict:
    """Persisted expected outputs vs. what the server answered (``compare_outputs`` names the worst element)."""
    problem = compare_outputs(expected, got, rtol=rtol, atol=atol)
    if problem is None:
        return Verdict.ok(f"{len(expected)} output(s) within rtol={rtol}, atol={atol}")
    return _output_failure(problem, "test data")


def protocols_agree(grpc_out: Mapping[str, np.ndarray], rest_out: Mapping[str, np.ndarray], *, rtol: float,
                    atol: float) -> Verdict:
    """gRPC and REST must give the same outputs (REST's JSON round trip is allowed the same tolerance)."""
    if sorted(grpc_out) != sorted(rest_out):
        return Verdict.fail(f"REST outputs {sorted(grpc_out)} (as gRPC)", f"{sorted(rest_out)}")
    problem = compare_outputs(grpc_out, rest_out, rtol=rtol, atol=atol)
    if problem is None:
        return Verdict.ok("gRPC and REST outputs agree")
    verdict = _output_failure(problem, "REST outputs equal to gRPC's")
    return Verdict.fail(f"{verdict.expected} (gRPC)", f"{verdict.actual} (REST)",
                        f"REST disagrees with gRPC: {problem} (expected = gRPC, got = REST)")


def _output_failure(problem: str, what: str) -> Verdict:
    # compare_outputs says "... expected A, got B" at its end; keep the whole sentence as the message and lift
    # the two values out for the expected/actual columns.
    head, sep, tail = problem.rpartition("expected ")
    if sep and ", got " in tail:
        want, _, have = tail.partition(", got ")
        return Verdict.fail(want, have, problem)
    return Verdict.fail(what, problem)


def outputs_fit_signature(outputs_spec: Mapping[str, TensorSpec], got: Mapping[str, np.ndarray], batch: int) -> Verdict:
    """For synthetic inputs: every signature output came back, with a compatible dtype and shape (batch first).
    Values cannot be judged, so a pass is WEAK."""
    if sorted(outputs_spec) != sorted(got):
        return Verdict.fail(f"outputs {sorted(outputs_spec)}", f"outputs {sorted(got)}")
    for alias in sorted(outputs_spec):
        spec, array = outputs_spec[alias], np.asarray(got[alias])
        want = spec.numpy_name
        have = _array_dtype(array)
        if want != have and not (want == "string" and have == "string"):
            return Verdict.fail(f"output {alias!r} dtype {want}", f"dtype {have}")
        shape = spec.shape
        if shape is not None:
            ok = len(shape) == array.ndim and all(d is None or d == a for d, a in zip(shape, array.shape))
            if not ok:
                return Verdict.fail(f"output {alias!r} shape {_shape_text(shape)}", f"shape {list(array.shape)}")
    return Verdict(Status.WEAK, "no persisted test data: synthetic inputs, checked output names, dtypes and shapes "
                                "only (not values)")


def _array_dtype(array: np.ndarray) -> str:
    if array.dtype.kind in ("S", "U", "O"):
        return "string"
    return str(array.dtype)


# ------------------------------------------------------------------------------------------------- latency
def percentile(samples: Iterable[float], q: float) -> float:
    """The ``q``-th percentile by the nearest-rank method (a real observed sample, never interpolated)."""
    values = sorted(samples)
    if not values:
        raise ValueError("percentile: expected at least one sample, got none")
    rank = max(1, math.ceil(q / 100.0 * len(values)))
    return values[rank - 1]


def latency_within(samples_s: Sequence[float], budget_ms: float) -> Verdict:
    """p99 of the measured request latencies against the budget."""
    p99_ms = percentile(samples_s, 99) * 1000.0
    p50_ms = percentile(samples_s, 50) * 1000.0
    detail = f"p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms over {len(samples_s)} requests"
    if p99_ms <= budget_ms:
        return Verdict.ok(detail)
    return Verdict.fail(f"p99 <= {budget_ms:g} ms", f"p99 {p99_ms:.1f} ms", detail)
