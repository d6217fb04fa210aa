"""``tfs compose [--check]``: write (or check) compose.yaml and compose.cpu.yaml from deploy/deployment.toml."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("compose")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder holding compose.yaml and deploy/.",
)
@click.option("--check", is_flag=True, help="Only check that compose.yaml / compose.cpu.yaml are up to date.")
def command(root: Path, check: bool) -> None:
    """Write compose.yaml / compose.cpu.yaml from deploy/deployment.toml (--check: verify).

    The same image, flags, mounts and ports as `tfs up` uses with Docker."""
    from toolkit.launch.compose import default_spec, stale_files, write_compose_files

    spec = default_spec(root)
    if check:
        stale = stale_files(root, spec)
        if stale:
            raise click.ClickException(f"out of date: {', '.join(stale)}; run `tfs compose`")
        click.echo("compose files are up to date")
        return
    written = write_compose_files(root, spec)
    for path in written:
        click.echo(f"wrote {path}")
