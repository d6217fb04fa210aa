"""The ``tfs`` command line: the root group. Every public module of this package is one command (its ``command``
attribute; its help is its docstring), imported only when run or listed, so ``tfs --help`` and the light ``gate``
commands never pay for TensorFlow. ``main`` is the one place where errors become exit statuses."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys
from types import ModuleType
from typing import Any

from toolkit.errors import EXIT_FAILED, ToolkitError

log = logging.getLogger(__name__)


def command_names() -> list[str]:
    """The commands: the modules of this package whose names do not start with ``_``."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def command_module(name: str) -> ModuleType | None:
    """The module of command ``name``, or None when there is no such command."""
    if name not in command_names():
        return None
    return importlib.import_module(f"{__name__}.{name}")


def _build_group() -> Any:
    from toolkit._extras import require

    click = require("click", purpose="the tfs command line")

    class LazyGroup(click.Group):  # type: ignore[name-defined]
        def list_commands(self, ctx: Any) -> list[str]:
            return command_names()

        def get_command(self, ctx: Any, name: str) -> Any:
            module = command_module(name)
            return None if module is None else module.command

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            """Each command with the first sentence of its docstring, whole (click cuts it to the terminal width)."""
            rows = [(name, self.get_command(ctx, name).get_short_help_str(limit=200)) for name in self.list_commands(ctx)]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug, with tracebacks of errors).")
    def cli(verbose: int) -> None:
        """tfs: take a TensorFlow model to a live TensorFlow Serving deployment and keep it honest there."""
        level = logging.WARNING - 10 * min(verbose, 2)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    return cli


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """The exit status and the one line ``tfs`` prints for an error that ended a command, or None for an error that
    is a bug (it keeps its traceback). The toolkit's own errors carry their status (``ToolkitError.exit_code``);
    an ``OSError`` (a path that cannot be read or written) or a ``ValueError`` (a value the libraries refuse) is 1."""
    if isinstance(exc, ToolkitError):
        return exc.exit_code, str(exc)
    if isinstance(exc, (OSError, ValueError)):
        return EXIT_FAILED, str(exc)
    return None


def _command_name(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _loads_tensorflow(args: list[str]) -> bool:
    """The command runs TensorFlow in this process (its module sets ``LOADS_TENSORFLOW``), and is not asked for help."""
    if {"-h", "--help"} & set(args):
        return False
    name = _command_name(args)
    module = command_module(name) if name else None
    return bool(getattr(module, "LOADS_TENSORFLOW", False))


def _run(cli: Any, args: list[str]) -> int:
    import click

    try:
        return int(cli.main(args=args, prog_name="tfs", standalone_mode=False) or 0)
    except SystemExit as exc:  # click's own exits (--help) and commands that end with a status
        return int(exc.code or 0)
    except click.ClickException as exc:  # usage errors: click prints them itself
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        print("Aborted.", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfs`` console script and ``python -m toolkit.cli``: run one command, return its status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter hides our output
    args = sys.argv[1:] if argv is None else argv
    try:
        cli = _build_group()  # a MissingExtraError when click is not installed, before any command module is read
        if _loads_tensorflow(args):
            from toolkit._quiet_tf import import_tensorflow_quietly

            import_tensorflow_quietly()
        return _run(cli, args)
    except Exception as exc:
        mapped = exit_status(exc)
        if mapped is None:
            raise
        log.debug("the command failed", exc_info=exc)
        code, message = mapped
        print(f"Error: {message}", file=sys.stderr)
        return code
