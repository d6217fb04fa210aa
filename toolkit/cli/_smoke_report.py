"""What ``tfs smoke`` and ``tfs k8s smoke`` share: the options of the checks and their reports, and how a report is
printed and written."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from toolkit.smoke.report import Report


def check_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the smoke checks and their reports, shared by ``tfs smoke`` and ``tfs k8s smoke``."""
    options = [
        click.option("--model", "models", multiple=True, metavar="NAME", help="Only this model (repeatable)."),
        click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=60.0, show_default=True,
                     help="Seconds to wait for the server and the expected versions to become AVAILABLE."),
        click.option("--p99-ms", type=click.FloatRange(min=0, min_open=True),
                     help="Fail when the p99 predict latency of a version exceeds this many milliseconds."),
        click.option("--latency-requests", type=click.IntRange(min=1, max=10000), default=50, show_default=True,
                     help="Requests per version and protocol that measure the p99."),
        click.option("--timeout", "call_timeout_s", type=click.FloatRange(min=0, min_open=True), default=30.0,
                     show_default=True, help="Deadline of each request, in seconds."),
        click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a JUnit XML report here."),
        click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a JSON report here."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def print_report(report: Report, junit: Path | None, json_path: Path | None) -> None:
    """The table, one FAIL/WEAK line per such check, the summary line, and the JUnit/JSON files when asked for
    (shared by ``tfs smoke`` and ``tfs k8s smoke``)."""
    from rich.console import Console

    out = Console(width=None if sys.stdout.isatty() else 160)  # CI logs: wide enough for the detail column
    out.print(report.table())
    for failure in report.failures:
        click.echo(f"FAIL {failure.describe()}")
    for weak in (r for r in report.results if r.status.value == "weak"):
        click.echo(f"WEAK {weak.describe()}")
    click.echo(report.summary_line())
    if junit is not None:
        click.echo(f"JUnit report: {report.write_junit(junit)}")
    if json_path is not None:
        click.echo(f"JSON report: {report.write_json(json_path)}")
