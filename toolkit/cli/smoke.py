"""``tfs smoke``: parse the options, build the plan and the clients, run ``SmokeRunner``, print the table and write
the reports (light: no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._smoke_report import check_options, print_report

LOADS_TENSORFLOW = True  # imported up front (quietly) when installed; the gate install has none


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
def command(ctx: click.Context, grpc_target: str | None, rest_url: str | None, deploy_dir: Path,
                  config: Path | None, repository: Path | None, models: tuple[str, ...], wait_s: float,
                  p99_ms: float | None, latency_requests: int, call_timeout_s: float, junit: Path | None,
                  json_path: Path | None) -> None:
    """Release gate: check a live server serves the right versions, labels, signatures and outputs.

    Checks a live TF Serving deployment end to end: reachable, every version the policy should load AVAILABLE,
    labels on the right versions, served signatures equal to the exported ones, persisted test data giving the
    expected outputs over gRPC and REST (and both agreeing), optional p99 latency budget.

    Versions without persisted test data are probed with synthetic inputs and reported WEAK (not a failure).
    Exit status: 0 every check passed, 1 a check failed, 2 usage or config error."""
    from rich.console import Console

    from toolkit.smoke import connect
    from toolkit.smoke.plan import load_plans, resolve_targets
    from toolkit.smoke.runner import SmokeOptions, SmokeRunner

    targets = resolve_targets(grpc_target, rest_url, deploy_dir)
    plans = load_plans(config if config is not None else deploy_dir / "models.config", models,
                       repository if repository is not None else deploy_dir / "models",
                       config_required=config is not None)
    clients = connect.open_clients(targets.grpc, targets.rest, call_timeout_s)
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
