"""tensorflow_model_server flag parsing: names, syntax, last-wins, bool forms, SimpleAtoi ints, support levels."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from toolkit.server import flags

FLAGS_TXT = Path(__file__).resolve().parents[2] / "data" / "tf_serving_flags.txt"  # the team's reference, kept here


def test_every_tf_serving_flag_is_known() -> None:
    names = flags.tf_serving_flags()
    assert len(names) == 48
    assert set(names) <= set(flags.known_flags())
    assert "host" in flags.known_flags()
    rows = re.findall(r"^([a-z0-9_]+) \| (?:int32|int64|bool|string|float) \|", FLAGS_TXT.read_text(), re.MULTILINE)
    assert set(rows) == set(names)  # the reference table lists the same 48 names


def test_defaults_match_tf_serving() -> None:
    options = flags.parse_args([])
    assert (options.port, options.rest_api_port, options.model_name) == (8500, 0, "default")
    assert options.rest_api_timeout_in_ms == 30000
    assert options.file_system_poll_wait_seconds == 1
    assert options.max_num_load_retries == 5
    assert options.load_retry_interval_micros == 60_000_000
    assert options.enable_model_warmup is True
    assert options.saved_model_tags == "serve"
    assert options.host == "127.0.0.1"


def test_name_value_syntax_and_last_occurrence_wins() -> None:
    options = flags.parse_args(["--port=8500", "--model_name=a", "--port=9000", "--model_name=b"])
    assert (options.port, options.model_name) == (9000, "b")
    assert options.given.count("port") == 2


@pytest.mark.parametrize(
    ("arg", "value"),
    [("--enable_batching", True), ("--enable_batching=true", True), ("--enable_batching=TRUE", True),
     ("--enable_batching=1", True), ("--enable_batching=false", False), ("--enable_batching=0", False)],
)
def test_bool_forms(arg: str, value: bool) -> None:
    assert flags.parse_args([arg]).enable_batching is value


def test_bool_flag_can_be_turned_off() -> None:
    assert flags.parse_args(["--enable_model_warmup=false"]).enable_model_warmup is False


@pytest.mark.parametrize(
    ("text", "expected"), [("12", 12), (" 7 ", 7), ("+3", 3), ("-5", -5), ("007", 7), ("1.0", None), ("0x10", None),
                           ("1e3", None), ("", None), ("abc", None), (str(2**63), None)],
)
def test_simple_atoi(text: str, expected: int | None) -> None:
    assert flags.simple_atoi(text) == expected


def test_int32_range_is_checked() -> None:
    with pytest.raises(flags.FlagError, match="Invalid value for int32 flag --port"):
        flags.parse_args([f"--port={2**31}"])
    assert flags.parse_args([f"--load_retry_interval_micros={2**40}"]).load_retry_interval_micros == 2**40


def test_space_separated_value_is_rejected_with_a_hint() -> None:
    with pytest.raises(flags.FlagError, match=r"write --model_name=VALUE"):
        flags.parse_args(["--model_name", "m"])


def test_unknown_arguments_are_rejected_together() -> None:
    with pytest.raises(flags.FlagError) as info:
        flags.parse_args(["--nope=1", "stray", "--port=1"])
    assert "unknown arguments: --nope=1 stray" in str(info.value)
    assert info.value.exit_code == 2


def test_prefix_quirk_does_not_match_longer_flags() -> None:
    # --model_config_file_poll_wait_seconds is its own flag, not --model_config_file
    options = flags.parse_args(["--model_config_file_poll_wait_seconds=5"])
    assert (options.model_config_file, options.model_config_file_poll_wait_seconds) == ("", 5)


def test_ignored_flags_warn_and_rejected_flags_fail(caplog: pytest.LogCaptureFixture) -> None:
    options = flags.parse_args(["--flush_filesystem_caches=false", "--tensorflow_session_parallelism=2",
                                "--xla_cpu_compilation_enabled=true"])  # XLA is implemented: no warning
    with caplog.at_level(logging.WARNING):
        warnings = flags.check_support(options)
    assert warnings == ["--flush_filesystem_caches=False is accepted but ignored: it has no effect in the embedded "
                        "runtime."]
    with pytest.raises(flags.FlagError, match="--use_alts_credentials is not supported by tfs serve"):
        flags.check_support(flags.parse_args(["--use_alts_credentials=true"]))
    # a rejected flag at its default value is harmless
    assert flags.check_support(flags.parse_args(["--use_alts_credentials=false"])) == []


def test_tflite_flags_are_implemented_with_tf_serving_defaults() -> None:
    options = flags.parse_args([])
    assert (options.prefer_tflite_model, options.num_tflite_interpreters_per_pool) == (False, 1)
    assert options.num_tflite_pools == flags.NUM_SCHEDULABLE_CPUS >= 1  # NumSchedulableCPUs
    given = flags.parse_args(["--prefer_tflite_model=true", "--num_tflite_pools=3", "--platform_config_file=/p"])
    assert flags.check_support(given) == []
    assert (given.prefer_tflite_model, given.num_tflite_pools, given.platform_config_file) == (True, 3, "/p")


def test_every_flag_has_a_support_level_and_reason() -> None:
    for name in flags.known_flags():
        info = flags.flag_info(name)
        assert info.support in ("implemented", "ignored", "rejected")
        if info.support != "implemented":
            assert info.why, name


def test_usage_lists_every_flag() -> None:
    text = flags.usage()
    for name in flags.known_flags():
        assert f"--{name}=" in text
