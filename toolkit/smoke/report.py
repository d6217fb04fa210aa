"""What ``tfs smoke`` found, and the three ways it is written down: a rich table for people, JUnit XML and JSON
for CI systems. No I/O to servers here; only formatting of ``CheckResult`` rows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Status(str, Enum):
    """Outcome of one check. WEAK passed, but proves less (e.g. synthetic inputs); SKIP could not run."""

    PASS = "pass"
    WEAK = "weak"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: which model/version/check, over which protocol, what happened and how long it took."""

    model: str
    version: int | None
    check: str
    status: Status
    message: str = ""
    expected: str | None = None
    actual: str | None = None
    protocol: str | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The check's display name, with the protocol when it ran over one (``outputs [grpc]``)."""
        return f"{self.check} [{self.protocol}]" if self.protocol else self.check

    @property
    def where(self) -> str:
        """``model 'half' version 2`` (or just the model / ``server``)."""
        if self.model == "":
            return "server"
        return f"model {self.model!r}" + (f" version {self.version}" if self.version is not None else "")

    def describe(self) -> str:
        """One self-contained line: where, which check, and (on failure) expected vs actual."""
        text = f"{self.where}, check {self.name}: {self.status.value.upper()}"
        if self.expected is not None or self.actual is not None:
            text += f": expected {self.expected}, got {self.actual}"
        if self.message:
            text += f" ({self.message})" if self.expected is not None else f": {self.message}"
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["name"] = self.name
        data["seconds"] = round(self.seconds, 6)
        return data


@dataclass
class Report:
    """Every check of one ``tfs smoke`` run, in the order they ran, and the targets they ran against."""

    targets: dict[str, str] = field(default_factory=dict)
    results: list[CheckResult] = field(default_factory=list)

    def add(self, result: CheckResult) -> CheckResult:
        self.results.append(result)
        return result

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    @property
    def passed(self) -> bool:
        """True when no check failed (weak and skipped checks do not fail a run) and at least one check ran."""
        return bool(self.results) and not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def summary(self) -> dict[str, int]:
        return {"total": len(self.results), **{s.value: self.count(s) for s in Status}}

    def summary_line(self) -> str:
        counts = self.summary()
        verdict = "PASSED" if self.passed else "FAILED"
        return (f"smoke {verdict}: {counts['pass']} passed, {counts['weak']} weak, {counts['skip']} skipped, "
                f"{counts['fail']} failed")

    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    # ---------------------------------------------------------------------------------------------- writers
    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary(), "targets": dict(self.targets),
                "results": [r.to_json() for r in self.results]}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    def to_junit(self) -> ET.Element:
        """``<testsuites><testsuite name="tfs smoke">`` with one ``<testcase>`` per check; failures carry the message,
        skips a ``<skipped>``, weak checks pass with their caveat in ``<system-out>``."""
        counts = self.summary()
        root = ET.Element("testsuites", name="tfs smoke", tests=str(counts["total"]), failures=str(counts["fail"]),
                          errors="0", skipped=str(counts["skip"]), time=f"{self.total_seconds():.3f}")
        suite = ET.SubElement(root, "testsuite", name="tfs smoke", tests=str(counts["total"]),
                              failures=str(counts["fail"]), errors="0", skipped=str(counts["skip"]),
                              time=f"{self.total_seconds():.3f}")
        if self.targets:
            props = ET.SubElement(suite, "properties")
            for key, value in sorted(self.targets.items()):
                ET.SubElement(props, "property", name=f"target.{key}", value=value)
        for result in self.results:
            classname = f"tfs.smoke.{result.model or 'server'}"
            version = f"v{result.version} " if result.version is not None else ""
            case = ET.SubElement(suite, "testcase", classname=classname, name=f"{version}{result.name}",
                                 time=f"{result.seconds:.3f}")
            if result.status is Status.FAIL:
                failure = ET.SubElement(case, "failure", message=result.describe(), type="SmokeCheckFailed")
                failure.text = result.describe()
            elif result.status is Status.SKIP:
                ET.SubElement(case, "skipped", message=result.message or "skipped")
            elif result.status is Status.WEAK:
                out = ET.SubElement(case, "system-out")
                out.text = f"WEAK: {result.message}"
        return root

    def write_junit(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tree = ET.ElementTree(self.to_junit())
        ET.indent(tree)
        tree.write(path, encoding="utf-8", xml_declaration=True)
        return path

    def table(self) -> Any:
        """A ``rich.table.Table``: model, version, check, result, time, detail."""
        from rich.table import Table
        from rich.text import Text

        styles = {Status.PASS: "green", Status.WEAK: "yellow", Status.SKIP: "dim", Status.FAIL: "bold red"}
        table = Table(title="tfs smoke", show_lines=False)
        for column in ("model", "version", "check", "result", "time", "detail"):
            table.add_column(column, justify="right" if column in ("version", "time") else "left",
                             overflow="fold")
        for r in self.results:
            detail = r.message
            if r.status is Status.FAIL and (r.expected is not None or r.actual is not None):
                detail = f"expected {r.expected}, got {r.actual}" + (f" ({r.message})" if r.message else "")
            # Text cells: names like "outputs [grpc]" must not be read as rich markup.
            table.add_row(Text(r.model or "(server)"), "" if r.version is None else str(r.version), Text(r.name),
                          Text(r.status.value.upper(), style=styles[r.status]), f"{r.seconds * 1000:.0f} ms",
                          Text(detail))
        return table
