"""``tfs logs [-f]``: the output of the server ``tfs up`` started."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit.cli._common import DEPLOY_DIR_OPTION


@click.command("logs")
@DEPLOY_DIR_OPTION
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until the server stops (Ctrl-C ends).")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines.")
def command(deploy_dir: Path, follow: bool, tail: int | None) -> None:
    """Show (or follow with -f) the server's logs.

    The container's logs, or the embedded server's log file."""
    from toolkit.launch.launcher import logs

    try:
        for chunk in logs(deploy_dir, follow=follow, tail=tail):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
