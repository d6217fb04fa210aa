"""tfs-toolkit, the toolkit side: export models into a TF Serving repository, generate config, launch, smoke-test.

Heavy dependencies (TensorFlow, docker SDK) are imported lazily, so ``import toolkit`` stays cheap and a missing
extra is reported by name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_model", "generate_config", "inspect_saved_model"]


def __getattr__(name: str) -> Any:
    if name == "export_model":
        from toolkit.export import export_model

        return export_model
    if name == "generate_config":
        from toolkit.serving_config import generate_config

        return generate_config
    if name == "inspect_saved_model":
        from toolkit.inspect import inspect_saved_model

        return inspect_saved_model
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
