"""``tfs smoke``: the click command. Parses options, builds the plan and the clients, runs ``SmokeRunner``, prints
the table and writes the reports. Exit status: 0 all checks passed, 1 a check failed, 2 usage or config error."""

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



@click.command("smoke")
@click.option("--grpc", "grpc_target", metavar="HOST:PORT", help="gRPC target (default: deploy/.tfs/endpoints.json).")
@click.option("--rest", "rest_url", metavar="URL", help="REST base URL, e.g. http://127.0.0.1:8501.")
@click.option("--deploy-dir", default="deploy", show_default=True, type=click.Path(path_type=Path),
              help="Deployment folder: models.config, models/, .tfs/endpoints.json.")
@click.option("--config", "config", type=click.Path(path_type=Path),
              help="models.config to check against [default: DEPLOY_DIR/models.config].")
@click.option("--repository", type=click.Path(path_type=Path),
              help="Host folder of the exported models (signatures, test data) [default: DEPLOY_DIR/models].")
@check_options
@click.pass_context
def smoke_command(ctx: click.Context, grpc_target: str | None, rest_url: str | None, deploy_dir: Path,
                  config: Path | None, repository: Path | None, models: tuple[str, ...], wait_s: float,
                  p99_ms: float | None, latency_requests: int, call_timeout_s: float, junit: Path | None,
                  json_path: Path | None) -> None:
    """Check a live TF Serving deployment end to end: reachable, every version the policy should load AVAILABLE,
    labels on the right versions, served signatures equal to the exported ones, persisted test data giving the
    expected outputs over gRPC and REST (and both agreeing), optional p99 latency budget.

    Versions without persisted test data are probed with synthetic inputs and reported WEAK (not a failure).
    Exit status: 0 every check passed, 1 a check failed, 2 usage or config error."""
    from rich.console import Console

    from toolkit.smoke.plan import PlanError, load_plans, resolve_targets
    from toolkit.smoke.runner import SmokeOptions, SmokeRunner

    try:
        targets = resolve_targets(grpc_target, rest_url, deploy_dir)
        plans = load_plans(config if config is not None else deploy_dir / "models.config", models,
                           repository if repository is not None else deploy_dir / "models",
                           config_required=config is not None)
        clients = open_clients(targets.grpc, targets.rest, call_timeout_s)
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None
    options = SmokeOptions(wait_s=wait_s, p99_ms=p99_ms, latency_requests=latency_requests,
                           call_timeout_s=call_timeout_s)
    console = Console(stderr=True)
    try:
        with console.status("tfs smoke: checking the deployment ..."):
            report = SmokeRunner(clients, options, targets=targets.as_dict()).run(plans)
    finally:
        for client in clients.values():
            client.close()
    print_report(report, junit, json_path)
    ctx.exit(report.exit_code)


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


def open_clients(grpc_target: str | None, rest_url: str | None, timeout: float) -> dict[str, object]:
    """``GrpcClient`` / ``RestClient`` for the targets given; a bad target is a ``PlanError`` (exit status 2)."""
    from clients.errors import ValidationError
    from toolkit.smoke.plan import PlanError

    clients: dict[str, object] = {}
    try:
        if grpc_target:
            from clients import GrpcClient

            clients["grpc"] = GrpcClient(grpc_target, timeout=timeout)
        if rest_url:
            from clients import RestClient

            clients["rest"] = RestClient(rest_url, timeout=timeout)
    except ValidationError as exc:
        for client in clients.values():
            client.close()  # type: ignore[attr-defined]
        raise PlanError(str(exc)) from None
    return clients
