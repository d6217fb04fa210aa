"""``tfs inspect PATH``: print a SavedModel's signatures; ``tfs inspect checkpoint PATH``: a checkpoint's variables."""

from __future__ import annotations

import json
from pathlib import Path

import click

LOADS_TENSORFLOW = True


class _InspectGroup(click.Group):
    """``tfs inspect PATH`` stays the SavedModel report; a first word naming a subcommand selects it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["savedmodel", *args]
        return super().parse_args(ctx, args)


@click.group("inspect", cls=_InspectGroup)
def command() -> None:
    """Show a SavedModel's signatures, or a checkpoint's variables (inspect checkpoint PATH).

    tfs inspect PATH: a SavedModel, version or model folder; tfs inspect checkpoint PATH: a TF1 or TF2 checkpoint."""


@command.command("savedmodel")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--tags", default="serve", show_default=True, help="MetaGraph tags, comma separated.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def savedmodel_command(path: Path, tags: str, as_json: bool) -> None:
    """Signatures (names, dtypes, shapes, method names) of a SavedModel, version or model folder (the default)."""
    from toolkit.inspect import format_report, inspect_saved_model

    report = inspect_saved_model(path, tags)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@command.command("checkpoint")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--match", metavar="REGEX", help="Only variables whose name contains a match of REGEX.")
@click.option("--values", "values_of", metavar="NAME", help="Print one variable's values (summarised when large).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def checkpoint_command(path: Path, match: str | None, values_of: str | None, as_json: bool) -> None:
    """Variables of a TF1 or TF2 checkpoint (prefix, folder, or a SavedModel's variables/): name, dtype, shape,
    elements, bytes, sorted, with totals."""
    from toolkit.checkpoint import (
        checkpoint_report,
        format_checkpoint_report,
        format_values,
        variable_values,
    )

    if values_of is not None:
        values = variable_values(path, values_of)
        click.echo(json.dumps(values, indent=2) if as_json else format_values(values))
        return
    report = checkpoint_report(path, match)
    click.echo(json.dumps(report, indent=2) if as_json else format_checkpoint_report(report))
