"""``tfs up / down / status / logs / compose``: click commands with rich output over ``toolkit.launch.launcher``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

DEPLOY_OPTION = click.option(
    "--deploy-dir",
    "deploy_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("deploy"),
    show_default=True,
    help="The deploy folder (deployment.toml, models/).",
)


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(highlight=False)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _parse_env(values: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--env")
        env[key] = value
    return env


def _status_table(rows, title: str = "Models"):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=title)
    for column in ("model", "version", "state", "labels", "error"):
        table.add_column(column)
    styles = {"AVAILABLE": "green", "LOADING": "yellow", "START": "yellow", "END": "red", "UNLOADING": "yellow"}
    for row in rows:
        if row.error:
            table.add_row(row.name, "-", "[red]unreachable[/red]", "", row.error)
            continue
        by_version: dict[int, list[str]] = {}
        for label, version in row.labels.items():
            if isinstance(version, int):
                by_version.setdefault(version, []).append(label)
            else:
                table.add_row(row.name, "-", "", label, str(version))
        for vs in row.versions:
            style = styles.get(vs.state, "")
            error = "" if vs.error_code == "OK" else f"{vs.error_code}: {vs.error_message}"
            table.add_row(
                row.name,
                str(vs.version),
                f"[{style}]{vs.state}[/{style}]" if style else vs.state,
                ", ".join(sorted(by_version.get(vs.version, []))),
                error,
            )
    return table


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
@DEPLOY_OPTION
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
def up_command(
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
) -> None:
    """Generate the config, start the server (Docker or embedded) and wait until every model version is AVAILABLE."""
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

    from toolkit.deployment import SpecError
    from toolkit.launch.container import Mount
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.launcher import UpOptions, up

    console = _console()
    try:
        options = UpOptions(
            deploy_dir=deploy_dir,
            runtime=runtime,  # type: ignore[arg-type]
            cpu=cpu,
            image=image or None,
            network=network,
            mounts=tuple(Mount.parse(m) for m in mounts),
            environment=_parse_env(env),
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

    def on_wait(statuses, problem):  # type: ignore[no-untyped-def]
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

    try:
        with progress:
            result = up(
                options,
                pull_progress=_PullBar(progress),
                wait_progress=on_wait,
                on_runtime=lambda kind: console.print(f"runtime: [bold]{kind}[/bold]"),
            )
    except (LaunchError, SpecError, ValueError) as exc:
        raise _fail(exc) from None
    from toolkit.launch.launcher import ModelStatus
    from toolkit.launch.readiness import resolve_labels

    ep = result.endpoints
    console.print(f"[green]serving[/green] ({ep.runtime})  gRPC [bold]{ep.grpc}[/bold]  REST [bold]{ep.rest}[/bold]")
    rows = [
        ModelStatus(m.name, result.statuses.get(m.name, []), resolve_labels(ep.rest, m.name, sorted(m.labels)))
        for m in result.spec.models
    ]
    console.print(_status_table(rows))
    console.print(f"endpoints written to {deploy_dir / '.tfs' / 'endpoints.json'}; stop with `tfs down`")


@click.command("down")
@DEPLOY_OPTION
def down_command(deploy_dir: Path) -> None:
    """Stop and remove the server `tfs up` started for this deploy folder."""
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.launcher import down

    try:
        kind, stopped = down(deploy_dir)
    except LaunchError as exc:
        raise _fail(exc) from None
    click.echo(f"stopped the {kind} server" if stopped else "nothing was running")


@click.command("status")
@DEPLOY_OPTION
@click.option("--rest", "rest_url", help="REST URL of the server (default: from deploy/.tfs/endpoints.json).")
def status_command(deploy_dir: Path, rest_url: str | None) -> None:
    """Models, versions, states and labels, as the live server reports them."""
    from toolkit.deployment import SpecError
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.launcher import status

    try:
        endpoints, rows = status(deploy_dir, rest_url)
    except (LaunchError, SpecError) as exc:
        raise _fail(exc) from None
    console = _console()
    if endpoints is not None:
        console.print(f"runtime {endpoints.runtime}  gRPC {endpoints.grpc}  REST {endpoints.rest}")
    console.print(_status_table(rows))
    if any(r.error for r in rows):
        raise SystemExit(1)


@click.command("logs")
@DEPLOY_OPTION
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until the server stops (Ctrl-C ends).")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines.")
def logs_command(deploy_dir: Path, follow: bool, tail: int | None) -> None:
    """The server's output (container logs or the embedded server's log file)."""
    from toolkit.launch.errors import LaunchError
    from toolkit.launch.launcher import logs

    try:
        for chunk in logs(deploy_dir, follow=follow, tail=tail):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except LaunchError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        pass


@click.command("compose")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder holding compose.yaml and deploy/.",
)
@click.option("--check", is_flag=True, help="Only check that compose.yaml / compose.cpu.yaml are up to date.")
def compose_command(root: Path, check: bool) -> None:
    """Write compose.yaml and compose.cpu.yaml from deploy/deployment.toml (same settings as `tfs up`)."""
    from toolkit.deployment import SpecError
    from toolkit.launch.compose import default_spec, stale_files, write_compose_files

    try:
        spec = default_spec(root)
    except SpecError as exc:
        raise _fail(exc) from None
    if check:
        stale = stale_files(root, spec)
        if stale:
            raise click.ClickException(f"out of date: {', '.join(stale)}; run `tfs compose`")
        click.echo("compose files are up to date")
        return
    try:
        written = write_compose_files(root, spec)
    except OSError as exc:
        raise _fail(exc) from None
    for path in written:
        click.echo(f"wrote {path}")
