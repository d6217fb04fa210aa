"""Reports of tfs smoke: JUnit XML that CI systems parse, JSON, the table, and the exit status."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from rich.console import Console

from toolkit.smoke.report import CheckResult, Report, Status


def sample_report() -> Report:
    report = Report(targets={"grpc": "127.0.0.1:8500", "rest": "http://127.0.0.1:8501"})
    report.add(CheckResult("", None, "reachable", Status.PASS, "the server answers", protocol="grpc", seconds=0.01))
    report.add(CheckResult("half", 1, "available", Status.PASS, "AVAILABLE"))
    report.add(CheckResult("half", 1, "outputs", Status.FAIL, "output 'y': largest difference 0.5 at index (1,)",
                           expected="3", actual="3.5", protocol="rest", seconds=0.02))
    report.add(CheckResult("plain", 1, "outputs", Status.WEAK, "no persisted test data: synthetic inputs",
                           protocol="grpc"))
    report.add(CheckResult("", None, "protocols agree", Status.SKIP, "no usable rest target"))
    return report


def test_failure_line_names_model_version_check_expected_and_actual():
    failure = sample_report().failures[0]
    text = failure.describe()
    assert text.startswith("model 'half' version 1, check outputs [rest]: FAIL: expected 3, got 3.5")
    assert "largest difference 0.5 at index (1,)" in text


def test_exit_status_and_summary():
    report = sample_report()
    assert report.exit_code == 1 and not report.passed
    assert report.summary() == {"total": 5, "pass": 2, "weak": 1, "skip": 1, "fail": 1}
    report.results = [r for r in report.results if r.status is not Status.FAIL]
    assert report.exit_code == 0, "weak and skipped checks do not fail a run"
    assert Report().exit_code == 1, "a run that checked nothing did not pass"


def test_junit_xml_is_valid_and_counts_right(tmp_path):
    path = sample_report().write_junit(tmp_path / "out" / "report.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["reachable [grpc]", "v1 available", "v1 outputs [rest]",
                                              "v1 outputs [grpc]", "protocols agree"]
    assert cases[2].get("classname") == "tfs.smoke.half"
    failure = cases[2].find("failure")
    assert failure is not None and "expected 3, got 3.5" in failure.get("message")
    assert cases[4].find("skipped") is not None
    assert "WEAK" in cases[3].find("system-out").text
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["target.grpc"] == "127.0.0.1:8500"


def test_json_report_round_trips(tmp_path):
    data = json.loads(sample_report().write_json(tmp_path / "r.json").read_text())
    assert data["passed"] is False
    assert data["summary"]["fail"] == 1
    failing = [r for r in data["results"] if r["status"] == "fail"]
    assert failing == [{"model": "half", "version": 1, "check": "outputs", "status": "fail",
                        "message": "output 'y': largest difference 0.5 at index (1,)", "expected": "3",
                        "actual": "3.5", "protocol": "rest", "seconds": 0.02, "name": "outputs [rest]"}]


def test_table_shows_every_row_with_protocol_and_result():
    console = Console(record=True, width=200)
    console.print(sample_report().table())
    text = console.export_text()
    for piece in ("reachable [grpc]", "outputs [rest]", "FAIL", "WEAK", "SKIP", "expected 3, got 3.5", "(server)"):
        assert piece in text
