"""``tfs inspect PATH``: print a SavedModel's signatures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolkit.commands.common import fail_on


@click.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--tags", default="serve", show_default=True, help="MetaGraph tags, comma separated.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_command(path: Path, tags: str, as_json: bool) -> None:
    """Show signatures (names, dtypes, shapes, method names) of a SavedModel, version or model folder."""
    from toolkit.inspect import format_report, inspect_saved_model

    with fail_on():
        report = inspect_saved_model(path, tags)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
