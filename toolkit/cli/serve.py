"""``tfs serve``: hands its raw arguments to the tensorflow_model_server-style flag parser
(click must not reparse ``--name=value`` flags)."""

from __future__ import annotations

import click


@click.command(
    "serve",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run the embedded TensorFlow-Serving-compatible model server.

    It takes tensorflow_model_server's flags (--help lists them)."""
    from toolkit.server.main import run

    code = run(list(args))
    if code:
        raise SystemExit(code)
