"""The ``tfs`` command line. Subcommands live in their own modules and are imported only when run, so
``tfs --help`` does not pay for TensorFlow."""

from __future__ import annotations

import importlib
import os
import sys

from toolkit._extras import MissingExtraError, require

# command name -> "module:attribute" of a click command
SUBCOMMANDS: dict[str, str] = {
    "export": "toolkit.commands.export_cmd:export_command",
    "inspect": "toolkit.commands.inspect_cmd:inspect_command",
    "freeze": "toolkit.commands.freeze_cmd:freeze_command",
    "config": "toolkit.commands.config_cmd:config_command",
    "pack": "toolkit.commands.package_cmd:pack_command",
    "unpack": "toolkit.commands.package_cmd:unpack_command",
    "serve": "toolkit.server.cli:serve_command",
    "up": "toolkit.launch.cli:up_command",
    "down": "toolkit.launch.cli:down_command",
    "status": "toolkit.launch.cli:status_command",
    "logs": "toolkit.launch.cli:logs_command",
    "compose": "toolkit.launch.cli:compose_command",
    "k8s": "toolkit.k8s.cli:k8s_command",
    "smoke": "toolkit.smoke.cli:smoke_command",
    "bench": "toolkit.bench.cli:bench_command",
}

SHORT_HELP: dict[str, str] = {
    "export": "Export a model into a numbered, validated version folder.",
    "inspect": "Show a SavedModel's signatures, or a checkpoint's variables (inspect checkpoint PATH).",
    "freeze": "Publish a copy of a model with its variables folded into constants, as a new version.",
    "config": "Generate models.config, monitoring.config and batching.config.",
    "pack": "Write one model version into a deterministic, checksummed .tfs.tar.gz package.",
    "unpack": "Verify a .tfs.tar.gz package and publish it as a new, validated version.",
    "serve": "Run the embedded TensorFlow-Serving-compatible model server.",
    "up": "Generate the config, start the server (Docker or embedded), wait until models are AVAILABLE.",
    "down": "Stop and remove the server `tfs up` started.",
    "status": "Models, versions, states and labels from the live server.",
    "logs": "Show (or follow with -f) the server's logs.",
    "compose": "Write compose.yaml / compose.cpu.yaml from deploy/deployment.toml (--check: verify).",
    "k8s": "Write Kubernetes and KServe manifests from deploy/deployment.toml (--check: verify).",
    "smoke": "Release gate: check a live server serves the right versions, labels, signatures and outputs.",
    "bench": "Load-test a live server over gRPC/REST: concurrency sweep or fixed rate, stable percentiles.",
}


def _build_group():  # type: ignore[no-untyped-def]
    click = require("click", purpose="the tfs command line")

    class LazyGroup(click.Group):
        def list_commands(self, ctx):  # type: ignore[no-untyped-def]
            return sorted(SUBCOMMANDS)

        def get_command(self, ctx, name):  # type: ignore[no-untyped-def]
            target = SUBCOMMANDS.get(name)
            if target is None:
                return None
            module_name, attr = target.split(":")
            return getattr(importlib.import_module(module_name), attr)

        def format_commands(self, ctx, formatter):  # type: ignore[no-untyped-def]
            rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
    def cli(verbose: int) -> None:
        """tfs: take a TensorFlow model to a live TensorFlow Serving deployment and keep it honest there."""
        import logging

        level = logging.WARNING - 10 * min(verbose, 2)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    return cli


# Commands that load TensorFlow in this process; it is imported up front with its native start-up lines hidden.
TENSORFLOW_COMMANDS = {"export", "inspect", "smoke", "pack", "unpack", "freeze"}


def _command_name(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfs`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter hides our output
    args = sys.argv[1:] if argv is None else argv
    if _command_name(args) in TENSORFLOW_COMMANDS and not {"-h", "--help"} & set(args):
        from toolkit._quiet_tf import import_tensorflow_quietly

        import_tensorflow_quietly()
    try:
        cli = _build_group()
    except MissingExtraError as exc:
        print(f"tfs: {exc}", file=sys.stderr)
        return 2
    try:
        return int(cli.main(args=args, prog_name="tfs", standalone_mode=False) or 0)
    except MissingExtraError as exc:
        print(f"tfs: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # click's own exits (--help, usage errors)
        return int(exc.code or 0)
    except Exception as exc:  # click.ClickException and friends print themselves
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("Aborted.", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
