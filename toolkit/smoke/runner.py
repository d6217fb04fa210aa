"""Orchestration of ``tfs smoke``: ask the server (through ``clients.GrpcClient`` / ``clients.RestClient``, the same
API for both), read what was exported, let ``checks`` judge, and collect ``CheckResult`` rows into a ``Report``.

Every server call is bounded: the readiness wait by ``wait_s``, each call by the clients' timeout, the latency
probe by ``latency_requests``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clients.types import TensorSpec
from toolkit.smoke import checks
from toolkit.smoke.checks import Verdict
from toolkit.smoke.plan import ModelPlan
from toolkit.smoke.report import CheckResult, Report, Status

if TYPE_CHECKING:
    from clients.protocol import ServingClient
    from clients.types import ModelVersionStatus

log = logging.getLogger(__name__)

PROTOCOLS = ("grpc", "rest")
SYNTHETIC_RTOL, SYNTHETIC_ATOL = 1e-5, 1e-6
PREDICT_METHOD = "tensorflow/serving/predict"


@dataclass(frozen=True)
class SmokeOptions:
    """How hard to look: readiness wait, optional p99 budget and how many requests measure it."""

    wait_s: float = 60.0
    p99_ms: float | None = None
    latency_requests: int = 50
    poll_interval_s: float = 0.25
    call_timeout_s: float = 30.0


@dataclass
class _Probe:
    """Inputs to replay against one version, and how strictly to judge the answer."""

    inputs: dict[str, np.ndarray]
    signature: str
    expected: dict[str, np.ndarray] | None  # None: synthetic inputs, only names/dtypes/shapes can be checked
    outputs_spec: Mapping[str, TensorSpec]
    rtol: float
    atol: float


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class SmokeRunner:
    """Runs every check for a list of model plans against the given clients (keyed ``grpc`` / ``rest``)."""

    def __init__(self, clients: Mapping[str, ServingClient], options: SmokeOptions | None = None, *,
                 clock: Callable[[], float] = time.perf_counter,
                 on_result: Callable[[CheckResult], None] | None = None,
                 targets: Mapping[str, str] | None = None,
                 read_exported: Callable[[Path], Mapping[str, Any]] | None = None,
                 read_test_data: Callable[[Path], Any] | None = None) -> None:
        unknown = set(clients) - set(PROTOCOLS)
        if unknown:
            raise ValueError(f"clients: expected keys among {PROTOCOLS}, got {sorted(unknown)}")
        self.clients = {p: clients[p] for p in PROTOCOLS if clients.get(p) is not None}
        self.options = options or SmokeOptions()
        self.clock = clock
        self.on_result = on_result
        self.report = Report(targets=dict(targets or {}))
        # What was exported is read from the host repository; injectable so the orchestration can be unit-tested
        # without TensorFlow (the defaults parse saved_model.pb and assets.extra/tfs_test_data).
        self._read_exported = read_exported or _read_signatures
        self._read_test_data = read_test_data or _load_test_data

    # ------------------------------------------------------------------------------------------------ plumbing
    def _add(self, model: str, version: int | None, check: str, verdict: Verdict, seconds: float,
             protocol: str | None = None) -> CheckResult:
        result = self.report.add(CheckResult(model, version, check, verdict.status, verdict.message,
                                             verdict.expected, verdict.actual, protocol, seconds))
        (log.warning if result.status is Status.FAIL else log.info)("%s", result.describe())
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _timed(self, fn: Callable[..., Verdict], *args: Any) -> tuple[Verdict, float]:
        """``fn(*args)`` and the seconds it took."""
        start = self.clock()
        verdict = fn(*args)
        return verdict, self.clock() - start

    # ------------------------------------------------------------------------------------------------ the run
    def run(self, plans: list[ModelPlan]) -> Report:
        """Check every plan; returns the report (``report.exit_code`` is 0 only if nothing failed)."""
        if not self.clients:
            raise ValueError("no client to check with: give a gRPC target, a REST URL, or both")
        deadline = time.monotonic() + self.options.wait_s
        probe_model = plans[0].name if plans else "_tfs_smoke_probe_"
        for protocol in list(self.clients):
            verdict, seconds = self._timed(self._reachable, protocol, probe_model, deadline)
            self._add("", None, "reachable", verdict, seconds, protocol)
            if verdict.status is Status.FAIL:
                del self.clients[protocol]
        if not self.clients:
            return self.report
        if len(self.clients) == 1:
            missing = next(p for p in PROTOCOLS if p not in self.clients)
            self._add("", None, "protocols agree", Verdict(Status.SKIP, f"no usable {missing} target: outputs are "
                      f"checked over {next(iter(self.clients))} only"), 0.0)
        for plan in plans:
            self._check_model(plan, deadline)
        return self.report

    def _reachable(self, protocol: str, model: str, deadline: float) -> Verdict:
        from clients.errors import DeadlineExceededError, TfsError, UnavailableError

        client = self.clients[protocol]
        last = "no answer"
        while True:
            remaining = deadline - time.monotonic()
            try:
                client.status(model, timeout=max(0.5, min(5.0, remaining)))
                return Verdict.ok("the server answers")
            except (UnavailableError, DeadlineExceededError) as exc:
                last = _error_text(exc)
            except TfsError:
                return Verdict.ok("the server answers")  # any answer (e.g. NOT_FOUND) proves it is up
            if time.monotonic() >= deadline:
                return Verdict.fail(f"an answer from {client.endpoint} within {self.options.wait_s:g}s", last)
            time.sleep(min(self.options.poll_interval_s, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------------------------------------ per model
    def _primary(self) -> tuple[str, ServingClient]:
        protocol = next(iter(self.clients))
        return protocol, self.clients[protocol]

    def _wait_states(self, plan: ModelPlan, deadline: float) -> tuple[dict[int, str], dict[int, str], str | None]:
        """Poll status until the plan's versions are AVAILABLE (or any, when unknown), one ended in error, or the
        deadline passes. Returns ({version: state}, {version: load error}, last error)."""
        from clients.errors import TfsError
        from clients.readiness import is_available, load_failures

        _, client = self._primary()
        statuses: list[ModelVersionStatus] = []
        states: dict[int, str] = {}
        errors: dict[int, str] = {}
        last_error: str | None = None
        while True:
            try:
                statuses = client.status(plan.name, timeout=self.options.call_timeout_s)
                states = {s.version: s.state for s in statuses}
                errors = {s.version: f"{s.error_code}: {s.error_message}" for s in statuses if s.failed}
                last_error = None
            except TfsError as exc:
                last_error = _error_text(exc)
            if statuses and (is_available(statuses, plan.versions) or load_failures(statuses, plan.versions)):
                return states, errors, last_error
            if time.monotonic() >= deadline:
                return states, errors, last_error
            time.sleep(min(self.options.poll_interval_s, max(0.0, deadline - time.monotonic())))

    def _check_model(self, plan: ModelPlan, deadline: float) -> None:
        start = self.clock()
        states, load_errors, last_error = self._wait_states(plan, deadline)
        waited = self.clock() - start
        if plan.versions is not None and not plan.versions:
            where = plan.host_dir or "the repository"
            self._add(plan.name, None, "available", Verdict.fail(
                f"a version folder under {where} for policy {plan.policy}", "none",
                "nothing to serve; export a version first"), waited)
            return
        if not states:
            self._add(plan.name, None, "available", Verdict.fail(
                "the model known to the server", last_error or "no versions listed"), waited)
            return
        if plan.versions is None:
            versions = sorted(v for v, s in states.items() if s == "AVAILABLE")
            if not versions:
                self._add(plan.name, None, "available", Verdict.fail(
                    "at least one AVAILABLE version", f"states {states}"), waited)
                return
            note = "repository not visible from this host: checking the versions the server reports"
            self._add(plan.name, None, "available", Verdict(Status.WEAK, f"{note}: {versions}"), waited)
        else:
            versions = list(plan.versions)
            for version, verdict in checks.versions_available(versions, states).items():
                if version in load_errors:
                    verdict = Verdict.fail("state AVAILABLE", f"load failed: {load_errors[version]}")
                self._add(plan.name, version, "available", verdict, waited)
                waited = 0.0
            versions = [v for v in versions if states.get(v) == "AVAILABLE"]
        for label, intended in sorted(plan.labels.items()):
            self._check_label(plan.name, label, intended)
        for version in versions:
            self._check_version(plan, version)

    def _check_label(self, model: str, label: str, intended: int) -> None:
        """The label must resolve to the configured version; metadata echoes the version it used (both APIs)."""
        from clients.errors import TfsError

        for protocol, client in self.clients.items():
            def resolve(c: ServingClient = client) -> Verdict:
                try:
                    answered = c.metadata(model, label=label, timeout=self.options.call_timeout_s).version
                except TfsError as exc:
                    return checks.label_resolves(label, intended, None, _error_text(exc))
                return checks.label_resolves(label, intended, answered)

            verdict, seconds = self._timed(resolve)
            self._add(model, intended, f"label {label}", verdict, seconds, protocol)

    # ------------------------------------------------------------------------------------------------ per version
    def _served_signatures(self, model: str, version: int) -> dict[str, Any]:
        """Per protocol: the served signature map, or the error text."""
        from clients.errors import TfsError

        served: dict[str, Any] = {}
        for protocol, client in self.clients.items():
            try:
                served[protocol] = dict(client.metadata(model, version=version,
                                                        timeout=self.options.call_timeout_s).signatures)
            except TfsError as exc:
                served[protocol] = _error_text(exc)
        return served

    def _check_version(self, plan: ModelPlan, version: int) -> None:
        from toolkit.savedmodel import SavedModelError

        version_dir = plan.version_dir(version)
        start = self.clock()
        served = self._served_signatures(plan.name, version)
        fetch_s = (self.clock() - start) / max(len(served), 1)
        exported: dict[str, Any] | None = None
        export_problem: str | None = None
        if version_dir is None:
            export_problem = "the exported version is not on this host; nothing to compare with"
        else:
            try:
                exported = dict(self._read_exported(version_dir))
            except (SavedModelError, OSError) as exc:
                export_problem = str(exc)
        for protocol, sigs in served.items():
            if isinstance(sigs, str):
                verdict = Verdict.fail("the model's metadata", sigs)
            elif exported is None and version_dir is None:
                verdict = Verdict(Status.SKIP, export_problem or "")
            elif exported is None:
                verdict = Verdict.fail("a readable exported SavedModel", export_problem or "")
            else:
                verdict, _ = self._timed(checks.signatures_match, exported, sigs)
            self._add(plan.name, version, "signatures", verdict, fetch_s, protocol)

        probe, problem = self._probe(version_dir, served, exported)
        if probe is None:
            self._add(plan.name, version, "outputs", Verdict(Status.SKIP, problem or "no predict signature"), 0.0)
            return
        outputs: dict[str, dict[str, np.ndarray]] = {}
        for protocol, client in self.clients.items():
            verdict, seconds = self._timed(self._outputs, client, protocol, plan.name, version, probe, outputs)
            self._add(plan.name, version, "outputs", verdict, seconds, protocol)
        if len(outputs) == 2:
            verdict, seconds = self._timed(lambda: checks.protocols_agree(
                outputs["grpc"], outputs["rest"], rtol=probe.rtol, atol=probe.atol))
            self._add(plan.name, version, "protocols agree", verdict, seconds)
        if self.options.p99_ms is not None:
            for protocol, client in self.clients.items():
                if protocol not in outputs:
                    continue
                verdict, seconds = self._timed(self._latency, client, plan.name, version, probe)
                self._add(plan.name, version, "latency p99", verdict, seconds, protocol)

    def _probe(self, version_dir: Path | None, served: Mapping[str, Any],
               exported: Mapping[str, Any] | None) -> tuple[_Probe | None, str | None]:
        """Persisted test data when the export kept some; else inputs synthesized from the signature."""
        signatures = exported or next((s for s in served.values() if not isinstance(s, str)), None)
        data = None
        if version_dir is not None:
            try:
                data = self._read_test_data(version_dir)
            except (ValueError, OSError) as exc:
                return None, f"cannot read the persisted test data: {exc}"
        if data is not None:
            spec = (signatures or {}).get(data.signature_name)
            return _Probe(dict(data.inputs), data.signature_name, dict(data.expected),
                          dict(spec.outputs) if spec is not None else {}, data.rtol, data.atol), None
        if not signatures:
            return None, "no signature known to synthesize inputs from"
        from toolkit.export.testdata import synthesize_inputs

        name = "serving_default" if "serving_default" in signatures else next(
            (n for n, s in sorted(signatures.items()) if s.method_name == PREDICT_METHOD), None)
        if name is None or signatures[name].method_name != PREDICT_METHOD:
            return None, f"no predict signature to probe (signatures: {sorted(signatures)})"
        sig = signatures[name]
        inputs_spec = dict(sig.inputs)
        if any(v.numpy_name in ("bfloat16", "resource", "variant") for v in inputs_spec.values()):
            return None, "cannot synthesize inputs of this signature's dtypes"
        return _Probe(synthesize_inputs(inputs_spec, batch=1), name, None, dict(sig.outputs), SYNTHETIC_RTOL,
                      SYNTHETIC_ATOL), None

    def _outputs(self, client: ServingClient, protocol: str, model: str, version: int, probe: _Probe,
                 sink: dict[str, dict[str, np.ndarray]]) -> Verdict:
        from clients.errors import TfsError

        try:
            got = client.predict(probe.inputs, model, version=version, signature=probe.signature,
                                 timeout=self.options.call_timeout_s)
        except TfsError as exc:
            return Verdict.fail(f"outputs for signature {probe.signature!r}", _error_text(exc))
        sink[protocol] = got
        if probe.expected is None:
            batch = next(iter(probe.inputs.values())).shape[0] if probe.inputs else 1
            return checks.outputs_fit_signature(probe.outputs_spec, got, batch)
        return checks.outputs_match(probe.expected, got, rtol=probe.rtol, atol=probe.atol)

    def _latency(self, client: ServingClient, model: str, version: int, probe: _Probe) -> Verdict:
        from clients.errors import TfsError

        samples: list[float] = []
        for _ in range(max(1, self.options.latency_requests)):
            start = self.clock()
            try:
                client.predict(probe.inputs, model, version=version, signature=probe.signature,
                               timeout=self.options.call_timeout_s)
            except TfsError as exc:
                return Verdict.fail(f"{self.options.latency_requests} successful requests",
                                    f"request {len(samples) + 1} failed: {_error_text(exc)}")
            samples.append(self.clock() - start)
        assert self.options.p99_ms is not None
        return checks.latency_within(samples, self.options.p99_ms)


def _read_signatures(version_dir: Path) -> Mapping[str, Any]:
    from toolkit.savedmodel import read_signatures

    return read_signatures(version_dir)


def _load_test_data(version_dir: Path) -> Any:
    from toolkit.export.testdata import load_test_data

    return load_test_data(version_dir)


def run_smoke(clients: Mapping[str, Any], plans: list[ModelPlan], options: SmokeOptions | None = None,
              **kwargs: Any) -> Report:
    """Convenience: ``SmokeRunner(clients, options, **kwargs).run(plans)``."""
    return SmokeRunner(clients, options, **kwargs).run(plans)
