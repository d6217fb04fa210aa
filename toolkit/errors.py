"""``ToolkitError``: the one root of the toolkit's own errors. Each subclass carries the exit status ``tfs`` ends with
when it reaches the command line (``toolkit.cli.main`` prints the message as one ``Error:`` line)."""

from __future__ import annotations

EXIT_FAILED = 1
"""The command ran and failed: bad input, failed validation, a server that is not healthy."""
EXIT_SETUP = 2
"""The command could not start: a usage or configuration error, a missing extra or tool."""


class ToolkitError(Exception):
    """An error whose message is meant for the user as is (what failed and what to do); ``exit_code`` is the status
    of ``tfs`` when it ends a command. A class sets the default; an instance may set its own."""

    exit_code: int = EXIT_FAILED
