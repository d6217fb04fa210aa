"""Classify/regress JSON <-> tf.Example requests and results, with TF Serving's rules (reference/rest_api.md 6).

``examples`` (and an optional ``context``) become an ``ExampleList`` / ``ExampleListWithContext``; results are
written as ``{"results": ...}`` with the float text of ``WriteDecimal``.
"""

from __future__ import annotations

from typing import Any

from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import classification_pb2, input_pb2, regression_pb2

from toolkit.server.rest_json import (
    debug_json,
    format_float,
    invalid,
    json_type_name,
    proto_text,
    string_token,
    to_bytes,
)
from toolkit.server.rest_tensor import decode_b64_object, is_b64_object

_INT64_MAX = (1 << 63) - 1


def _feature(name: str, content: Any) -> feature_pb2.Feature:
    """``AddValueToFeature`` over a scalar or a list: one kind per feature (bytes, float or int64)."""
    values = content if type(content) is list else [content]
    kind: str | None = None
    collected: list[Any] = []

    def want(expected: str) -> None:
        nonlocal kind
        if kind is not None and kind != expected:
            raise invalid(f"Unexpected element type in feature: {name} expecting type: {kind}")
        kind = expected

    for value in values:
        vtype = type(value)
        if value is None or vtype is list:
            raise invalid(f"Feature: {name} has element with unexpected JSON type: {json_type_name(value)}")
        if vtype is bool:
            want("int64")
            collected.append(1 if value else 0)
        elif vtype is dict:
            if not is_b64_object(value):
                raise invalid(f"Feature: {name} has element with unexpected JSON type: Object")
            want("bytes")
            collected.append(decode_b64_object(value))
        elif vtype is str:
            want("bytes")
            collected.append(to_bytes(value))
        elif vtype is float:
            want("float")
            collected.append(value)
        else:  # int
            want("int64")
            if value > _INT64_MAX:
                raise invalid(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
            collected.append(value)
    if kind == "bytes":
        return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=collected))
    if kind == "float":
        return feature_pb2.Feature(float_list=feature_pb2.FloatList(value=collected))
    if kind == "int64":
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=collected))
    return feature_pb2.Feature()


def example_from_json(value: Any, example: example_pb2.Example) -> None:
    """``MakeExampleFromJsonObject``: fill ``example`` from ``{"feature": value | [values]}``."""
    if type(value) is not dict:
        raise invalid(f"Example must be JSON object but got JSON {json_type_name(value)}")
    features = example.features.feature
    for name, content in value.items():
        features[proto_text(name)].CopyFrom(_feature(name, content))


def fill_input(doc: dict[str, Any], request_input: input_pb2.Input) -> None:
    """``FillClassifyRegressRequestFromJson`` after the signature: context, then the examples list."""
    has_context = "context" in doc
    if has_context:
        example_from_json(doc["context"], request_input.example_list_with_context.context)
    if "examples" not in doc:
        raise invalid(
            f"JSON Value: {debug_json(doc)} When method is classify, key 'examples' is expected and was not found"
        )
    examples = doc["examples"]
    if type(examples) is not list:
        raise invalid(f"JSON Value: {debug_json(doc)} Expecting 'examples' value to be an list/array")
    if not examples:
        raise invalid(f"JSON Value: {debug_json(doc)} 'examples' value is an empty array")
    target = (
        request_input.example_list_with_context.examples if has_context else request_input.example_list.examples
    )
    for value in examples:
        example_from_json(value, target.add())


def classification_json(result: classification_pb2.ClassificationResult) -> str:
    """``{"results": [[[label, score], ...] per example]}`` (``MakeJsonFromClassificationResult``)."""
    if not result.classifications:
        raise invalid("Cannot convert empty ClassificationResults to JSON")
    rows = []
    for classifications in result.classifications:
        pairs = (
            "[" + string_token(c.label).decode("utf-8", "surrogateescape") + ", "
            + format_float(c.score, double=False) + "]"
            for c in classifications.classes
        )
        rows.append("[" + ", ".join(pairs) + "]")
    return '{\n    "results": [' + ",\n        ".join(rows) + "\n    ]\n}"


def regression_json(result: regression_pb2.RegressionResult) -> str:
    """``{"results": [v0, v1, ...]}`` (``MakeJsonFromRegressionResult``)."""
    if not result.regressions:
        raise invalid("Cannot convert empty RegressionResults to JSON")
    values = ", ".join(format_float(r.value, double=False) for r in result.regressions)
    return '{\n    "results": [' + values + "]\n}"
