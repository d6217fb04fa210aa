"""The tfs command line: lazy loading, inspect output, clean errors, missing extras."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit._extras import MissingExtraError, require


def run_tfs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_help_lists_commands_without_importing_tensorflow() -> None:
    code = ("import sys; from toolkit.cli import main; rc = main(['--help']); "
            "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-FREE')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "export" in proc.stdout and "inspect" in proc.stdout and "serve" in proc.stdout
    assert "TF-FREE" in proc.stdout


def test_missing_extra_names_the_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'tfs-toolkit\[toolkit\]'"):
        require("definitely_not_installed_module_xyz", purpose="testing")


def test_export_inspect_and_config_end_to_end(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "deployment.toml").write_text('[[models]]\nname = "planet"\n')
    proc = run_tfs("export", "--example", "planet", "--repository", str(deploy / "models"), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["version"] == 1 and result["warmup_records"] == 4 and result["persisted_test_data"]
    # piped: no live display of the steps (the stderr holds none of their descriptions, nor escape codes)
    assert "validate in a clean process" not in proc.stderr and "\x1b[" not in proc.stderr, proc.stderr
    proc = run_tfs("inspect", str(deploy / "models" / "planet"), "--json")
    assert proc.returncode == 0, proc.stderr
    # TensorFlow's native start-up lines (absl pre-init logging, cuInit on GPU-less hosts) are kept off stderr
    assert "InitializeLog" not in proc.stderr and "cuInit" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    outputs = report["signatures"]["serving_default"]["outputs"]
    assert outputs["weather"]["shape"] == [None, 4] and outputs["ground"]["dtype"] == "float32"
    assert report["versions"] == [1] and report["warmup_file"] and report["test_data"]
    text = run_tfs("inspect", str(deploy / "models" / "planet" / "1")).stdout
    assert "input_image" in text and "(-1, 128, 128, 3)" in text
    proc = run_tfs("config", "--deploy-dir", str(deploy))
    assert proc.returncode == 0, proc.stderr
    assert 'name: "planet"' in (deploy / "models.config").read_text()
    # the same version again is refused with one clear line and exit status 1
    proc = run_tfs("export", "--example", "planet", "--repository", str(deploy / "models"), "--version", "1")
    assert proc.returncode == 1 and "already exists" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_of_a_non_model_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_tfs("inspect", str(tmp_path))
    assert proc.returncode == 1
    assert "not a SavedModel (no saved_model.pb" in proc.stderr and "Traceback" not in proc.stderr


def test_gate_commands_run_with_tensorflow_unimportable(tmp_path: Path) -> None:
    """`tfs status`, `bench` and `smoke` as the light gate install runs them: importing TensorFlow would fail."""
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['tensorflow_serving'] = None\n"
            "from toolkit.cli import main\n"
            f"print(main(['status', '--deploy-dir', {str(tmp_path)!r}, '--rest', 'http://127.0.0.1:9', '--json']))\n"
            "print(main(['bench', '--model', 'm', '--grpc', '127.0.0.1:9', '--window', '0']))\n"
            f"print(main(['smoke', '--grpc', '127.0.0.1:9', '--deploy-dir', {str(tmp_path)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["1", "3", "2"], proc.stdout + proc.stderr  # each command's own refusal
    assert "deployment spec not found" in proc.stderr and "--window: expected a number > 0" in proc.stderr
    assert "no models to check" in proc.stderr and "Traceback" not in proc.stderr


def test_without_click_the_cli_names_the_extra_to_install() -> None:
    code = ("import sys; sys.modules['click'] = None\n"
            "from toolkit.cli import main\n"
            "print(main(['export', '--example', 'planet']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "2", proc.stdout + proc.stderr
    assert proc.stderr.strip() == ("Error: 'click' is needed for the tfs command line but is not installed: "
                                   "pip install 'tfs-toolkit[toolkit]'")
