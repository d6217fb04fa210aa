"""``tfs freeze SOURCE``: publish a copy of a model with its variables folded into constants, as a new version."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._common import REPOSITORY_OPTION, parse_pairs
from toolkit.cli.export import default_name

LOADS_TENSORFLOW = True


@click.command("freeze")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", help="Model name to publish as (default: the source's model folder name or stem).")
@REPOSITORY_OPTION
@click.option("--version", "version", type=int, help="Version number (default: next integer).")
@click.option("--signature-name", default="serving_default", show_default=True,
              help="The SavedModel signature to freeze (published as serving_default).")
@click.option("--input", "graph_inputs", multiple=True, metavar="ALIAS=TENSOR",
              help="TF1 checkpoint (.meta): a signature input, e.g. x=x:0.")
@click.option("--output", "graph_outputs", multiple=True, metavar="ALIAS=TENSOR",
              help="TF1 checkpoint (.meta): a signature output, e.g. y=y:0.")
def command(source: Path, name: str | None, repository: Path, version: int | None, signature_name: str,
                   graph_inputs: tuple[str, ...], graph_outputs: tuple[str, ...]) -> None:
    """Publish a copy of a model with its variables folded into constants, as a new version.

    Folds the variables of SOURCE (a SavedModel / version folder, or a TF1 checkpoint .meta with --input and
    --output) into constants and publish it through the normal export path: validated with the source's kept
    test data (else its own outputs on synthetic inputs), warmup file, atomic publish."""
    from toolkit.cli._progress import export_steps_shown
    from toolkit.export import Checkpoint
    from toolkit.export.freeze import freeze_and_export

    model: Path | Checkpoint = source
    if source.suffix == ".meta":
        if not (graph_inputs and graph_outputs):
            raise click.UsageError(f"{source} is a TF1 checkpoint: name its tensors with --input ALIAS=TENSOR and "
                                   f"--output ALIAS=TENSOR; got {len(graph_inputs)} --input and "
                                   f"{len(graph_outputs)} --output")
        model = Checkpoint(source, inputs=parse_pairs(graph_inputs, "--input"), outputs=parse_pairs(graph_outputs, "--output"))
    elif graph_inputs or graph_outputs:
        raise click.UsageError(f"--input / --output name tensors of a TF1 checkpoint (.meta); got {source}")
    with export_steps_shown() as display:
        result = freeze_and_export(model, name or default_name(source), repository, version=version,
                                   signature_name=signature_name, progress=display)
    click.echo(f"published frozen {result.name} version {result.version} -> {result.path}")
    click.echo(f"  validated with: {result.validated_with}; warmup records: {result.warmup_records}")
    for note in result.notes:
        click.echo(f"  note: {note}")
