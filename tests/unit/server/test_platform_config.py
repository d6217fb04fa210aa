"""--platform_config_file: the tensorflow platform's SessionBundleConfig from a text-format PlatformConfigMap with
TF Serving's own type URL, the fields honoured, and clear refusals of what tfs serve does not implement."""

from __future__ import annotations

import pytest

from toolkit.server import platform_config
from toolkit.server.platform_config import (
    PlatformConfigError,
    load_settings,
    parse_platform_config,
)

ADAPTER = "type.googleapis.com/tensorflow.serving.SavedModelBundleSourceAdapterConfig"


def _platforms(legacy_config: str, platform: str = "tensorflow", type_url: str = ADAPTER) -> str:
    return (
        f'platform_configs {{ key: "{platform}" value {{ source_adapter_config {{ [{type_url}] {{ '
        f"legacy_config {{ {legacy_config} }} }} }} }} }}"
    )


def test_tflite_session_warmup_and_batching_fields_are_read() -> None:
    bundle = parse_platform_config(
        _platforms(
            "prefer_tflite_model: true num_tflite_pools: 3 num_tflite_interpreters_per_pool: 2 "
            "session_config { intra_op_parallelism_threads: 2 } saved_model_tags: 'serve' saved_model_tags: 'gpu' "
            "enable_model_warmup: true model_warmup_options { num_request_iterations { value: 4 } } "
            "batching_parameters { max_batch_size { value: 8 } } enable_per_model_batching_params: true"
        )
    )
    settings = load_settings(bundle)
    assert settings.tflite.prefer_tflite_model is True
    assert (settings.tflite.pool_size, settings.tflite.num_tflite_interpreters_per_pool) == (3, 2)
    assert (settings.warmup, settings.warmup_iterations) == (True, 4)
    assert settings.session.tags == ("serve", "gpu")
    config = settings.session.config_proto()
    assert config.intra_op_parallelism_threads == 2 and config.allow_soft_placement
    assert bundle.batching_parameters.max_batch_size.value == 8 and bundle.enable_per_model_batching_params


def test_proto3_defaults_apply_when_the_file_sets_nothing() -> None:
    settings = load_settings(parse_platform_config(_platforms("")))
    assert (settings.warmup, settings.warmup_iterations) == (False, 0)  # unlike the flag's default true
    assert settings.tflite.prefer_tflite_model is False and settings.tflite.pool_size == 1
    assert settings.session.tags == ("serve",)


def test_deprecated_num_tflite_interpreters_is_the_fallback() -> None:
    assert load_settings(parse_platform_config(_platforms("num_tflite_interpreters: 5"))).tflite.pool_size == 5
    both = parse_platform_config(_platforms("num_tflite_interpreters: 5 num_tflite_pools: 2"))
    assert load_settings(both).tflite.pool_size == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_platforms("", platform="custom"), "configures platform(s) custom: tfs serve implements only"),
        ("", "has no entry for platform tensorflow"),
        (_platforms("session_target: 'grpc://x'"), "SessionBundleConfig.session_target, which tfs serve does not"),
        (_platforms("enable_saved_model_config: true"), "SessionBundleConfig.enable_saved_model_config"),
        (_platforms("model_warmup_options { num_model_warmup_threads { value: 2 } }"),
         "ModelWarmupOptions.num_model_warmup_threads"),
        (_platforms("in_graph_batching_parameters { }"), "in_graph_batching_parameters"),
        (_platforms("batching_parameters { max_batch_size { value: 0 } }"), "max_batch_size must be positive"),
        (('platform_configs { key: "tensorflow" value { source_adapter_config { '
          '[type.googleapis.com/tensorflow.serving.ModelServerConfig] { } } } }'),
         "Couldn't find factory for config proto message type tensorflow.serving.ModelServerConfig"),
        ("platform_configs { key: ", "Error parsing text-format tensorflow.serving.PlatformConfigMap"),
    ],
)
def test_what_is_not_implemented_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(PlatformConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_platform_config(text)


def test_flags_replaced_by_the_file_are_listed_once() -> None:
    given = ["enable_batching", "port", "num_tflite_pools", "enable_batching", "model_config_file"]
    assert platform_config.flags_replaced_by_file(given) == ["enable_batching", "num_tflite_pools"]
