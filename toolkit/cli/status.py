"""``tfs status [--json]``: models, versions, states and labels from the live server (light: no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolkit.cli._common import DEPLOY_DIR_OPTION


@click.command("status")
@DEPLOY_DIR_OPTION
@click.option("--rest", "rest_url", help="REST URL of the server (default: from deploy/.tfs/endpoints.json).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {endpoints, models: [{name, error, labels, versions}]} as JSON instead of the table.")
def command(deploy_dir: Path, rest_url: str | None, as_json: bool) -> None:
    """Models, versions, states and labels from the live server.

    Exit status 1 when a model's status
    cannot be read (the server is unreachable)."""
    from toolkit.cli._status import status_json, status_table
    from toolkit.launch.launcher import status

    endpoints, rows = status(deploy_dir, rest_url)
    if as_json:
        click.echo(json.dumps(status_json(endpoints, rows), indent=2))
    else:
        from rich.console import Console

        console = Console(highlight=False)
        if endpoints is not None:
            console.print(f"runtime {endpoints.runtime}  gRPC {endpoints.grpc}  REST {endpoints.rest}")
        console.print(status_table(rows))
    if any(r.error for r in rows):
        raise SystemExit(1)
