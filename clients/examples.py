"""Feature dicts -> tf.Example (for classify / regress / multi_inference), shared by both transports.

One rule for both protocols, the one TF Serving's REST parser uses: bytes/str -> bytes_list, floats ->
float_list, ints and bools -> int64_list. A feature value may be a scalar, a list or a 1-D array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np

from clients._proto import example_pb2, serving_pb2
from clients.errors import ValidationError

__all__ = ["feature_values", "build_input"]

Kind = Literal["bytes", "float", "int"]


def _kind_of(item: Any) -> Kind | None:
    if isinstance(item, (bytes, str, np.bytes_, np.str_)):
        return "bytes"
    if isinstance(item, (bool, np.bool_, int, np.integer)):
        return "int"
    if isinstance(item, (float, np.floating)):
        return "float"
    return None


def feature_values(name: str, value: Any) -> tuple[Kind, list[Any]]:
    """Classify one feature's values into bytes/float/int and return them as a flat list."""
    if isinstance(value, np.ndarray):
        if value.ndim > 1:
            raise ValidationError(f"feature {name!r}: expected a scalar or 1-D values, got shape {value.shape}")
        items = value.tolist() if value.dtype.kind != "O" else list(value)
        if value.dtype.kind == "f":
            items = [float(x) for x in items]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise ValidationError(f"feature {name!r}: expected at least one value, got an empty list")
    kinds = {_kind_of(item) for item in items}
    if None in kinds:
        bad = next(item for item in items if _kind_of(item) is None)
        raise ValidationError(f"feature {name!r}: expected bytes, str, int or float values, got {type(bad).__name__}")
    if len(kinds) > 1:
        raise ValidationError(f"feature {name!r}: all values must be of one kind, got a mix of {sorted(k for k in kinds if k)}")
    kind = cast(Kind, kinds.pop())  # None was refused above
    if kind == "bytes":
        items = [item.encode("utf-8") if isinstance(item, str) else bytes(item) for item in items]
    elif kind == "int":
        items = [int(item) for item in items]
    return kind, items


def _fill_features(target: example_pb2.Features, features: Mapping[str, Any]) -> None:
    for name, value in features.items():
        kind, items = feature_values(name, value)
        feature = target.feature[name]
        if kind == "bytes":
            feature.bytes_list.value.extend(items)
        elif kind == "float":
            feature.float_list.value.extend(items)
        else:
            feature.int64_list.value.extend(items)


def build_input(
    examples: Sequence[Mapping[str, Any]], context: Mapping[str, Any] | None = None
) -> serving_pb2.Input:
    """An ``Input`` (ExampleList, or ExampleListWithContext when ``context`` is given) from feature dicts."""
    if isinstance(examples, Mapping) or not isinstance(examples, Sequence):
        raise ValidationError(f"examples: expected a list of feature dicts, got {type(examples).__name__}")
    if not examples:
        raise ValidationError("examples: expected at least one example, got an empty list")
    request_input = serving_pb2.Input()
    target = request_input.example_list_with_context if context else request_input.example_list
    for index, features in enumerate(examples):
        if not isinstance(features, Mapping):
            raise ValidationError(f"examples[{index}]: expected a dict of features, got {type(features).__name__}")
        _fill_features(target.examples.add().features, features)
    if context:
        _fill_features(request_input.example_list_with_context.context.features, context)
    return request_input
