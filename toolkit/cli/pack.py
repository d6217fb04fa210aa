"""``tfs pack NAME[/VERSION] -o FILE``: one model version as one verifiable file (``tfs unpack`` publishes it)."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._common import REPOSITORY_OPTION

LOADS_TENSORFLOW = True


@click.command("pack")
@click.argument("model")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Package file to write, e.g. planet-1.tfs.tar.gz.")
@REPOSITORY_OPTION
def command(model: str, output: Path, repository: Path) -> None:
    """Write one model version into a deterministic, checksummed .tfs.tar.gz package.

    Writes MODEL (NAME or NAME/VERSION; default the latest version) into one deterministic .tfs.tar.gz with a
    manifest (sha256 of every file, signatures, toolkit and TensorFlow versions, the kept test data)."""
    from toolkit.package import pack

    result = pack(repository, model, output)
    click.echo(f"packed {result.name} version {result.version} ({result.files} files) -> {result.path} "
               f"({result.bytes:,} bytes, sha256 {result.sha256})")
