"""``tfs up``: generate the config, start the server (Docker or embedded) and wait for the models, with a live
display of the image pull and the wait (``toolkit.launch.launcher`` does the work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from toolkit.cli._common import DEPLOY_DIR_OPTION, parse_pairs


class _PullBar:
    """A rich progress bar fed by ``docker pull`` status lines (one task per layer)."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, line: dict[str, Any]) -> None:
        layer = line.get("id")
        status = line.get("status", "")
        if not layer or status.startswith("Pulling from"):
            return
        detail = line.get("progressDetail") or {}
        if layer not in self.tasks:
            self.tasks[layer] = self.progress.add_task(f"{layer}", total=None)
        task = self.tasks[layer]
        if detail.get("total"):
            self.progress.update(task, total=detail["total"], completed=detail.get("current", 0))
        if status in ("Pull complete", "Already exists"):
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total)
        self.progress.update(task, description=f"{layer} {status}")



@click.command("up")
@DEPLOY_DIR_OPTION
@click.option(
    "--runtime",
    type=click.Choice(["auto", "docker", "embedded"]),
    default="auto",
    show_default=True,
    help="auto = Docker when an engine answers, else the embedded runtime (tfs serve).",
)
@click.option("--cpu", is_flag=True, help="CPU image, no GPU request (hosts without an NVIDIA GPU/toolkit).")
@click.option("--image", envvar="TFS_IMAGE", help="Image to run instead of the spec's (env TFS_IMAGE).")
@click.option("--grpc-port", type=click.IntRange(0, 65535), envvar="TFS_GRPC_PORT", help="Host gRPC port.")
@click.option("--rest-port", type=click.IntRange(1, 65535), envvar="TFS_REST_PORT", help="Host REST port.")
@click.option("--network", type=click.Choice(["host"]), help="Docker: share the host's network (no port mapping).")
@click.option("--mount", "mounts", multiple=True, metavar="SRC:DST[:ro|rw]", help="Docker: an extra bind mount.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Docker: an extra environment variable.")
@click.option("--no-pull", is_flag=True, help="Docker: never pull; the image must be present.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600.0, show_default=True,
              help="Seconds to wait for the models.")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoints and the model status as JSON (as "
              "`tfs status --json`) on stdout; the live display goes to stderr.")
def command(
    deploy_dir: Path,
    runtime: str,
    cpu: bool,
    image: str | None,
    grpc_port: int | None,
    rest_port: int | None,
    network: str | None,
    mounts: tuple[str, ...],
    env: tuple[str, ...],
    no_pull: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Generate the config, start the server (Docker or embedded), wait until models are AVAILABLE."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

    from toolkit.cli._status import status_json, status_table
    from toolkit.launch.container import Mount
    from toolkit.launch.launcher import UpOptions, up

    console = Console(highlight=False, stderr=as_json)
    try:
        options = UpOptions(
            deploy_dir=deploy_dir,
            runtime=runtime,  # type: ignore[arg-type]
            cpu=cpu,
            image=image or None,
            network=network,
            mounts=tuple(Mount.parse(m) for m in mounts),
            environment=parse_pairs(env, "--env", empty_value=True),
            grpc_port=grpc_port,
            rest_port=rest_port,
            pull=not no_pull,
            timeout=timeout,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console,
        transient=True,
    )
    wait_task: list[Any] = []

    def on_wait(statuses: dict[str, list[Any]], problem: str | None) -> None:
        states = ", ".join(
            f"{model}: " + (" ".join(f"v{s.version}={s.state}" for s in versions) or "?")
            for model, versions in statuses.items()
        )
        # TF Serving opens its REST port only once the initial models loaded: until then, "connection refused"
        # is the normal state, not an error worth showing
        text = f"waiting for models: {states or 'server starting'}"
        if states and problem:
            text += f" ({problem})"
        text += " (see `tfs logs -f`)"
        if not wait_task:
            wait_task.append(progress.add_task(text, total=None))
        progress.update(wait_task[0], description=text)

    with progress:
        result = up(
            options,
            pull_progress=_PullBar(progress),
            wait_progress=on_wait,
            on_runtime=lambda kind: console.print(f"runtime: [bold]{kind}[/bold]"),
        )
    from toolkit.launch.launcher import ModelStatus
    from toolkit.launch.readiness import resolve_labels

    ep = result.endpoints
    rows = [
        ModelStatus(m.name, result.statuses.get(m.name, []), resolve_labels(ep.rest, m.name, sorted(m.labels)))
        for m in result.spec.models
    ]
    if as_json:
        click.echo(json.dumps(status_json(ep, rows), indent=2))
        return
    console.print(f"[green]serving[/green] ({ep.runtime})  gRPC [bold]{ep.grpc}[/bold]  REST [bold]{ep.rest}[/bold]")
    console.print(status_table(rows))
    console.print(f"endpoints written to {deploy_dir / '.tfs' / 'endpoints.json'}; stop with `tfs down`")
