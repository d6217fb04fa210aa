"""``tfs unpack FILE``: verify a package ``tfs pack`` wrote and publish it as a new, validated version."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._common import REPOSITORY_OPTION

LOADS_TENSORFLOW = True


@click.command("unpack")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--name", help="Model name to publish as (default: the packaged name).")
@click.option("--version", "version", type=int, help="Version number (default: next integer).")
@click.option("--force", is_flag=True, help="Replace an existing version (atomically).")
@REPOSITORY_OPTION
def command(package: Path, name: str | None, version: int | None, force: bool, repository: Path) -> None:
    """Verify a .tfs.tar.gz package and publish it as a new, validated version.

    Checks PACKAGE (paths, file types, every sha256) and publish it as a new version, validated with the test
    data inside it; a tampered, truncated or path-escaping archive publishes nothing."""
    from toolkit.cli._progress import export_steps_shown
    from toolkit.package import unpack

    with export_steps_shown() as display:
        result = unpack(package, repository, name=name, version=version, force=force, progress=display)
    click.echo(f"published {result.name} version {result.version} -> {result.path}")
    click.echo(f"  validated with: {result.validated_with}")
    for note in result.notes:
        click.echo(f"  note: {note}")
