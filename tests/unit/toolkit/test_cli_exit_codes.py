"""One place maps errors to exit statuses: every error root of the toolkit is a ``ToolkitError`` carrying its status,
``toolkit.cli.main`` prints it as one ``Error:`` line and returns it, and an error that is a bug keeps its traceback."""

from __future__ import annotations

import pytest

from toolkit import cli
from toolkit._extras import MissingExtraError
from toolkit.bench.options import BadOption
from toolkit.checkpoint import CheckpointError
from toolkit.deployment import SpecError
from toolkit.errors import ToolkitError
from toolkit.export.errors import ExportError, ExportValidationError
from toolkit.k8s.kubectl import KubectlError
from toolkit.k8s.rules import ManifestError
from toolkit.launch.errors import LaunchError, NotRunningError
from toolkit.package import PackageError
from toolkit.savedmodel import SavedModelError
from toolkit.serving_config import ConfigError
from toolkit.smoke.plan import PlanError


@pytest.mark.parametrize(("error", "status"), [
    (ExportError("e"), 1),
    (ExportValidationError("e"), 1),
    (PackageError("e"), 1),
    (ConfigError("e"), 1),
    (SpecError("e"), 1),
    (LaunchError("e"), 1),
    (NotRunningError("e"), 1),
    (ManifestError("e"), 1),
    (CheckpointError("e"), 1),
    (SavedModelError("e"), 1),
    (PlanError("e"), 2),              # tfs smoke: usage or config error
    (MissingExtraError("e"), 2),
    (KubectlError("e", 2), 2),        # tfs k8s smoke: the run could not start
    (KubectlError("e"), 1),           # ... the deployment failed
    (BadOption("--window", "a number > 0", "0"), 3),  # tfs bench: a bad option
    (OSError("e"), 1),                # a path that cannot be read or written
    (ValueError("e"), 1),
])
def test_each_error_root_maps_to_its_exit_status(error: Exception, status: int) -> None:
    assert cli.exit_status(error) == (status, str(error))


def test_the_error_roots_are_toolkit_errors_and_keep_their_builtin_bases() -> None:
    for root in (ExportError, ConfigError, SpecError, LaunchError, PlanError, ManifestError, KubectlError,
                 CheckpointError, SavedModelError, BadOption, MissingExtraError):
        assert issubclass(root, ToolkitError), root
    # callers that catch the builtin kinds keep working
    assert issubclass(SpecError, ValueError) and issubclass(LaunchError, RuntimeError)
    assert issubclass(MissingExtraError, ImportError)


def test_a_bug_is_not_mapped() -> None:
    assert cli.exit_status(RuntimeError("bug")) is None and cli.exit_status(KeyError("k")) is None


def test_main_prints_one_line_and_returns_the_errors_status(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.launch import launcher

    class Odd(ToolkitError):
        exit_code = 7

    def fail(*args: object) -> None:
        raise Odd("the reason, and what to do")

    monkeypatch.setattr(launcher, "status", fail)
    assert cli.main(["status", "--rest", "http://127.0.0.1:1"]) == 7
    out, err = capsys.readouterr()
    assert out == "" and err == "Error: the reason, and what to do\n"


def test_main_lets_a_bug_raise_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.launch import launcher

    def bug(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(launcher, "status", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["status", "--rest", "http://127.0.0.1:1"])


def test_click_usage_errors_keep_click_s_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--no-such-option"]) == 2
    assert "No such option '--no-such-option'" in capsys.readouterr().err
    assert cli.main(["no-such-command"]) == 2


def test_every_command_module_has_a_command_with_help_from_its_docstring() -> None:
    names = cli.command_names()
    assert {"export", "inspect", "freeze", "config", "pack", "unpack", "serve", "up", "down", "status", "logs",
            "compose", "k8s", "smoke", "bench"} <= set(names)
    for name in names:
        command = cli.command_module(name).command  # type: ignore[union-attr]
        assert command.name == name
        assert command.help.splitlines()[0] == command.callback.__doc__.splitlines()[0], name
        assert command.get_short_help_str(limit=200).endswith("."), name  # one whole first sentence
