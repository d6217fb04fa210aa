"""``tfs down``: stop and remove what ``tfs up`` started (safe to repeat)."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cli._common import DEPLOY_DIR_OPTION


@click.command("down")
@DEPLOY_DIR_OPTION
def command(deploy_dir: Path) -> None:
    """Stop and remove the server `tfs up` started (safe to repeat)."""
    from toolkit.launch.launcher import down

    kind, stopped = down(deploy_dir)
    click.echo(f"stopped the {kind} server" if stopped else "nothing was running")
