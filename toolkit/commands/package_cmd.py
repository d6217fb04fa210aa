"""``tfs pack NAME[/VERSION] -o FILE`` and ``tfs unpack FILE``: one model version as one verifiable file."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.commands.common import fail_on

_REPOSITORY = click.option("--repository", default="deploy/models", show_default=True,
                           type=click.Path(path_type=Path), help="Model repository root.")


@click.command("pack")
@click.argument("model")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Package file to write, e.g. planet-1.tfs.tar.gz.")
@_REPOSITORY
def pack_command(model: str, output: Path, repository: Path) -> None:
    """Write MODEL (NAME or NAME/VERSION; default the latest version) into one deterministic .tfs.tar.gz with a
    manifest (sha256 of every file, signatures, toolkit and TensorFlow versions, the kept test data)."""
    from toolkit.package import pack

    with fail_on():
        result = pack(repository, model, output)
    click.echo(f"packed {result.name} version {result.version} ({result.files} files) -> {result.path} "
               f"({result.bytes:,} bytes, sha256 {result.sha256})")


@click.command("unpack")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--name", help="Model name to publish as (default: the packaged name).")
@click.option("--version", "version", type=int, help="Version number (default: next integer).")
@click.option("--force", is_flag=True, help="Replace an existing version (atomically).")
@_REPOSITORY
def unpack_command(package: Path, name: str | None, version: int | None, force: bool, repository: Path) -> None:
    """Verify PACKAGE (paths, file types, every sha256) and publish it as a new version, validated with the test
    data inside it; a tampered, truncated or path-escaping archive publishes nothing."""
    from toolkit.package import unpack

    with fail_on():
        result = unpack(package, repository, name=name, version=version, force=force)
    click.echo(f"published {result.name} version {result.version} -> {result.path}")
    click.echo(f"  validated with: {result.validated_with}")
    for note in result.notes:
        click.echo(f"  note: {note}")
