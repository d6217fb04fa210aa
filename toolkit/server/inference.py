"""Predict / Classify / Regress / MultiInference against one loaded servable, with TF Serving's checks and
messages (predict_util.cc, classifier.cc, regressor.cc, multi_inference.cc, TF saved_model/util.cc).

No model lookup here: the core resolves the servable first; warmup calls these directly on a loading servable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from clients import dtypes
from toolkit.server import tensors
from toolkit.server.errors import Code, ServingError
from toolkit.server.servable import Servable

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

SignatureDef: TypeAlias = meta_graph_pb2.SignatureDef  # a generated message class (Any to mypy: no stubs)


@dataclass(frozen=True)
class InferenceOptions:
    """Per-server switches that change how requests run."""

    tensor_content: bool = False  # --enable_serialization_as_tensor_content
    method_name_check: bool = False  # --enable_signature_method_name_check


# A runner executes (servable, signature key, signature, feeds, output names, timeout) -> outputs; the batching
# layer substitutes its own to merge concurrent calls.
Runner = Callable[[Servable, str, SignatureDef, dict[str, np.ndarray], list[str], float | None], list[np.ndarray]]


def direct_runner(
    servable: Servable,
    signature_key: str,
    signature: SignatureDef,
    feeds: dict[str, np.ndarray],
    fetches: list[str],
    timeout: float | None,
) -> list[np.ndarray]:
    return servable.run(feeds, fetches, timeout)


def _set_model_spec(out: model_pb2.ModelSpec, name: str, signature_name: str | None, version: int) -> None:
    """util.cc MakeModelSpec: name, signature name (resolved) and the version actually served."""
    out.name = name
    if signature_name is not None:
        out.signature_name = signature_name or DEFAULT_SIGNATURE
    out.version.value = version


def _sorted_keys(mapping: Iterable[str]) -> list[str]:
    return sorted(mapping)


def _debug_string(signature: SignatureDef) -> str:
    return text_format.MessageToString(signature)


# ------------------------------------------------------------------------------------------ input checks
def predict_inputs(signature: SignatureDef, request: predict_pb2.PredictRequest) -> dict[str, np.ndarray]:
    """VerifyRequestInputsSize + GetInputValues: {tensor name: array} for every signature input.

    No dtype or shape check here, as in TF Serving: Session::Run checks dtypes (``Expects arg[i] to be ...``) and
    the graph's ops decide which shapes they can compute with."""
    request_inputs = set(request.inputs.keys())
    signature_inputs = set(signature.inputs.keys())
    defaults = dict(signature.defaults) if hasattr(signature, "defaults") else {}
    if len(request_inputs) > len(signature_inputs) or (
        len(request_inputs) < len(signature_inputs) and not defaults
    ):
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"input size does not match signature: {len(request_inputs)}!={len(signature_inputs)} "
            f"len({{{','.join(sorted(request_inputs))}}}) != len({{{','.join(sorted(signature_inputs))}}}). "
            f"Sent extra: {{{','.join(sorted(request_inputs - signature_inputs))}}}. "
            f"Missing but required: {{{','.join(sorted(signature_inputs - request_inputs))}}}.",
        )
    feeds: dict[str, np.ndarray] = {}
    seen: set[str] = set()
    for alias in _sorted_keys(signature.inputs):
        info = signature.inputs[alias]
        if alias in request.inputs:
            proto = request.inputs[alias]
            seen.add(alias)
        elif alias in defaults:
            proto = defaults[alias]
        else:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Signature input alias: {alias}(feed name: {info.name}) not found in request and no default value "
                f"provided. Inputs expected to be in the request {{{','.join(sorted(request_inputs))}}}, or default "
                f"input alias set: {','.join(sorted(defaults))}",
            )
        try:
            value = tensors.to_numpy(proto)
        except (tensors.TensorParseError, ValueError, TypeError, OverflowError, MemoryError) as exc:
            raise ServingError(Code.INVALID_ARGUMENT, f"tensor parsing error: {alias}") from exc
        feeds[info.name] = value
    if request_inputs and len(seen) != len(request_inputs):
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Inputs contains invalid name. Used request inputs: {','.join(sorted(seen))}, request input: "
            f"{','.join(sorted(request_inputs))}",
        )
    return feeds


def predict_outputs(signature: SignatureDef, output_filter: list[str]) -> list[str]:
    """Output aliases to fetch: the filter (checked) or every output."""
    seen: set[str] = set()
    for alias in output_filter:
        if alias not in signature.outputs:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                f"{{{','.join(_sorted_keys(signature.outputs))}}}.",
            )
        if alias in seen:
            raise ServingError(Code.INVALID_ARGUMENT, f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return list(output_filter) if output_filter else _sorted_keys(signature.outputs)


# ------------------------------------------------------------------------------------------ predict
def run_predict(
    servable: Servable,
    request: predict_pb2.PredictRequest,
    options: InferenceOptions,
    timeout: float | None = None,
    runner: Runner = direct_runner,
) -> predict_pb2.PredictResponse:
    key = request.model_spec.signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(key)
    if signature is None:
        raise ServingError(Code.FAILED_PRECONDITION, f'Serving signature key "{key}" not found.')
    response = predict_pb2.PredictResponse()
    _set_model_spec(response.model_spec, request.model_spec.name, key, servable.version)
    if options.method_name_check and signature.method_name not in (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD):
        raise ServingError(
            Code.INTERNAL,
            f"Expected prediction signature method_name to be one of {{{PREDICT_METHOD}, {CLASSIFY_METHOD}, "
            f"{REGRESS_METHOD}}}. Was: {signature.method_name}",
        )
    feeds = predict_inputs(signature, request)
    aliases = predict_outputs(signature, list(request.output_filter))
    names = [signature.outputs[a].name for a in aliases]
    outputs = runner(servable, key, signature, feeds, names, timeout)
    for alias, value in zip(aliases, outputs):
        response.outputs[alias].CopyFrom(
            tensors.from_numpy(value, dtype=signature.outputs[alias].dtype, tensor_content=options.tensor_content)
        )
    return response


# ------------------------------------------------------------------------------------------ classify / regress
def serialized_examples(input_: input_pb2.Input) -> np.ndarray:
    """Input (example_list or example_list_with_context) -> 1-D array of serialized tf.Example."""
    kind = input_.WhichOneof("kind")
    if kind == "example_list":
        records = [e.SerializeToString() for e in input_.example_list.examples]
    elif kind == "example_list_with_context":
        context = input_.example_list_with_context.context.SerializeToString()
        # Proto merge by concatenation: the example's features override the context's.
        records = [context + e.SerializeToString() for e in input_.example_list_with_context.examples]
    else:
        records = []
    if not records:
        raise ServingError(Code.INVALID_ARGUMENT, "Input is empty.")
    return np.array(records, dtype=object)


def _signature_for(servable: Servable, spec: model_pb2.ModelSpec) -> tuple[str, SignatureDef]:
    key = spec.signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(key)
    if signature is None:
        raise ServingError(Code.INVALID_ARGUMENT, f"No signature was found with the name: {key}")
    return key, signature


def _classify_tensors(signature: SignatureDef, options: InferenceOptions) -> tuple[str, list[str]]:
    if options.method_name_check and signature.method_name != CLASSIFY_METHOD:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Expected classification signature method_name to be {CLASSIFY_METHOD}. Was: {signature.method_name}",
        )
    if len(signature.inputs) != 1:
        raise ServingError(Code.INVALID_ARGUMENT, "Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise ServingError(
            Code.INVALID_ARGUMENT, f"Expected one or two output Tensors, found {len(signature.outputs)}"
        )
    if "inputs" not in signature.inputs:
        raise ServingError(
            Code.INVALID_ARGUMENT, f"No classification inputs found in SignatureDef: {_debug_string(signature)}"
        )
    aliases = [a for a in ("classes", "scores") if a in signature.outputs]
    if not aliases:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            'Expected classification signature outputs to contain at least one of "classes" or "scores". '
            f"Signature was: {_debug_string(signature)}",
        )
    return signature.inputs["inputs"].name, aliases


def _classification_result(
    aliases: list[str], outputs: list[np.ndarray], num_examples: int, result: classification_pb2.ClassificationResult
) -> None:
    by_alias = dict(zip(aliases, outputs))
    classes, scores = by_alias.get("classes"), by_alias.get("scores")
    for name, tensor, dtype in (("classes", classes, "DT_STRING"), ("scores", scores, "DT_FLOAT")):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Expected Tensor shape: [batch_size num_classes] but got {tensors.shape_string(tensor.shape)}",
            )
        got = dtypes.enum_name(tensors.dtype_of_array(tensor))
        if got != dtype:
            raise ServingError(Code.INVALID_ARGUMENT, f"Expected {name} Tensor of {dtype}. Got: {got}")
        if tensor.shape[0] != num_examples:
            raise ServingError(
                Code.INVALID_ARGUMENT, f"Expected {name} output batch size of {num_examples}. Got: {tensor.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Tensors class and score should match in dim_size(1). Got {classes.shape[1]} vs. {scores.shape[1]}",
        )
    num_classes = (classes if classes is not None else scores).shape[1]  # type: ignore[union-attr]  # _classify_tensors requires classes or scores
    for i in range(num_examples):
        item = result.classifications.add()
        for c in range(num_classes):
            cls = item.classes.add()
            if classes is not None:
                cls.label = classes[i, c].decode("utf-8", "replace") if isinstance(classes[i, c], bytes) else str(
                    classes[i, c]
                )
            if scores is not None:
                cls.score = float(scores[i, c])


def _regress_tensors(signature: SignatureDef, options: InferenceOptions) -> tuple[str, str]:
    if options.method_name_check and signature.method_name != REGRESS_METHOD:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Expected regression signature method_name to be {REGRESS_METHOD}. Was: {signature.method_name}",
        )
    if len(signature.inputs) != 1:
        raise ServingError(Code.INVALID_ARGUMENT, "Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise ServingError(Code.INVALID_ARGUMENT, "Expected one output Tensor.")
    if "inputs" not in signature.inputs:
        raise ServingError(
            Code.INVALID_ARGUMENT, f"No regression inputs found in SignatureDef: {_debug_string(signature)}"
        )
    if "outputs" not in signature.outputs:
        raise ServingError(
            Code.INVALID_ARGUMENT, f"No regression outputs found in SignatureDef: {_debug_string(signature)}"
        )
    return signature.inputs["inputs"].name, "outputs"


def _regression_result(output: np.ndarray, num_examples: int, result: regression_pb2.RegressionResult) -> None:
    if not (output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)):
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            f"{tensors.shape_string(output.shape)}",
        )
    if output.shape[0] != num_examples:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Input batch size did not match output batch size: {num_examples} vs. {output.shape[0]}",
        )
    if output.dtype != np.float32:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Expected output Tensor of DT_FLOAT.  Got: {dtypes.enum_name(tensors.dtype_of_array(output))}",
        )
    for value in output.reshape(-1):
        result.regressions.add().value = float(value)


def run_classify(
    servable: Servable,
    request: classification_pb2.ClassificationRequest,
    options: InferenceOptions,
    timeout: float | None = None,
    runner: Runner = direct_runner,
) -> classification_pb2.ClassificationResponse:
    key, signature = _signature_for(servable, request.model_spec)
    input_name, aliases = _classify_tensors(signature, options)
    examples = serialized_examples(request.input)
    response = classification_pb2.ClassificationResponse()
    _set_model_spec(response.model_spec, request.model_spec.name, key, servable.version)
    fetches = [signature.outputs[a].name for a in aliases]
    outputs = runner(servable, key, signature, {input_name: examples}, fetches, timeout)
    _classification_result(aliases, outputs, len(examples), response.result)
    return response


def run_regress(
    servable: Servable,
    request: regression_pb2.RegressionRequest,
    options: InferenceOptions,
    timeout: float | None = None,
    runner: Runner = direct_runner,
) -> regression_pb2.RegressionResponse:
    key, signature = _signature_for(servable, request.model_spec)
    input_name, alias = _regress_tensors(signature, options)
    examples = serialized_examples(request.input)
    response = regression_pb2.RegressionResponse()
    _set_model_spec(response.model_spec, request.model_spec.name, key, servable.version)
    (output,) = runner(servable, key, signature, {input_name: examples}, [signature.outputs[alias].name], timeout)
    _regression_result(output, len(examples), response.result)
    return response


def multi_inference_model_spec(request: inference_pb2.MultiInferenceRequest) -> model_pb2.ModelSpec:
    """multi_inference_helper.cc GetModelSpecFromRequest: the first task's spec picks the servable (an empty
    request gets the empty spec, so the lookup answers 'ModelSpec has no name specified.')."""
    return request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()


def run_multi_inference(
    servable: Servable,
    request: inference_pb2.MultiInferenceRequest,
    options: InferenceOptions,
    timeout: float | None = None,
    runner: Runner = direct_runner,
) -> inference_pb2.MultiInferenceResponse:
    """multi_inference.cc Infer: check every task, then one Session::Run that feeds the serialized examples to the
    input tensor of every task (a TF2 SavedModel gives each signature its own) and fetches all their outputs."""
    model_name = ""
    seen: set[str] = set()
    plans = []
    input_names: set[str] = set()
    output_names: set[str] = set()
    for task in request.tasks:
        if not task.model_spec.name:
            raise ServingError(Code.INVALID_ARGUMENT, "Found ModelSpec with an empty model name.")
        if not model_name:
            model_name = task.model_spec.name
        elif task.model_spec.name != model_name:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                "All ModelSpecs in a MultiInferenceRequest must access the same model name.",
            )
        key = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if key in seen:
            raise ServingError(Code.INVALID_ARGUMENT, f"Duplicate evaluation of signature: {key}")
        seen.add(key)
        signature = servable.signatures.get(key)
        if signature is None:
            raise ServingError(Code.INVALID_ARGUMENT, f"Requested signature not found in model graph: {key}")
        if task.method_name == CLASSIFY_METHOD:
            name, aliases = _classify_tensors(signature, options)
        elif task.method_name == REGRESS_METHOD:
            name, alias = _regress_tensors(signature, options)
            aliases = [alias]
        else:
            raise ServingError(Code.UNIMPLEMENTED, f"Unsupported signature method_name: {task.method_name}")
        input_names.add(name)
        output_names.update(signature.outputs[a].name for a in aliases)
        plans.append((task, key, signature, aliases))
    examples = serialized_examples(request.input)
    fetches = sorted(output_names)
    feeds = {name: examples for name in sorted(input_names)}
    signature_key = plans[0][1] if plans else DEFAULT_SIGNATURE
    signature_def = plans[0][2] if plans else SignatureDef()
    values = dict(zip(fetches, runner(servable, signature_key, signature_def, feeds, fetches, timeout)))
    response = inference_pb2.MultiInferenceResponse()
    for task, key, signature, aliases in plans:
        result = response.results.add()
        outputs = [values[signature.outputs[a].name] for a in aliases]
        if task.method_name == CLASSIFY_METHOD:
            _classification_result(aliases, outputs, len(examples), result.classification_result)
        else:
            _regression_result(outputs[0], len(examples), result.regression_result)
        _set_model_spec(result.model_spec, task.model_spec.name, key, servable.version)
    return response
