"""TF Lite test models, converted with TensorFlow's own converter inside the tests, laid out as version folders
``<version>/model.tflite``. SignatureDefs are embedded as TF Lite's ``signature_def_util`` does (model metadata
``signature_defs_metadata``: a flexbuffer map of key -> serialized SignatureDef), which is what TF Serving reads.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.core.protobuf import meta_graph_pb2

MODEL_FILE = "model.tflite"


def _write(export_dir: str | os.PathLike[str], model_bytes: bytes) -> Path:
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True)
    (export_dir / MODEL_FILE).write_bytes(model_bytes)
    return export_dir


def convert_half_plus_two_tf1(b: float = 2.0) -> bytes:
    """TF1 graph ``y = 0.5 * x + b`` with x float32[None, 1], through the TF1 session converter (legacy tensor
    names ``x`` and ``y``; no SignatureDef of any kind)."""
    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.Variable(0.5, name="a")
        b = tf.compat.v1.Variable(b, name="b")
        x = tf.compat.v1.placeholder(tf.float32, [None, 1], name="x")
        y = tf.identity(a * x + b, name="y")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return tf.compat.v1.lite.TFLiteConverter.from_session(session, [x], [y]).convert()


class _TwoInputs(tf.Module):
    """TF2 function with two inputs and two outputs (a float matrix and an int vector)."""

    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="k")]
    )
    def serve(self, x: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"total": tf.reduce_sum(x, axis=1), "doubled": k * 2}


class _MatMul(tf.Module):
    """x float32[None, 2] @ [[1], [2]]: a fully connected op, so a wrong inner dimension cannot run."""

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.matmul(x, tf.constant([[1.0], [2.0]]))}


def convert_matmul_tf2() -> bytes:
    """TF2 ``y = x @ [[1], [2]]`` (inputs ``serving_default_x:0`` float32[None, 2])."""
    module = _MatMul()
    return tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module).convert()


def convert_two_inputs_tf2() -> bytes:
    """TF2 concrete function through ``TFLiteConverter.from_concrete_functions``: the converter writes its own
    flatbuffer SignatureDef table (which TF Serving does not read) and tensor names such as ``serving_default_x:0``
    and ``PartitionedCall:0`` / ``PartitionedCall:1``."""
    module = _TwoInputs()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    return converter.convert()


def predict_signature(inputs: dict[str, tuple[str, int, list[int]]],
                      outputs: dict[str, tuple[str, int, list[int]]]) -> meta_graph_pb2.SignatureDef:
    """A predict SignatureDef from {alias: (tensor name, dtype enum, shape)}."""
    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    for target, spec in ((signature.inputs, inputs), (signature.outputs, outputs)):
        for alias, (name, dtype, shape) in spec.items():
            info = target[alias]
            info.name, info.dtype = name, dtype
            for size in shape:
                info.tensor_shape.dim.add().size = size
    return signature


def with_signature_defs(model_bytes: bytes, signatures: dict[str, meta_graph_pb2.SignatureDef]) -> bytes:
    """``model_bytes`` plus a ``signature_defs_metadata`` entry, as tflite::SetSignatureDefMap writes it."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    builder = flexbuffers.Builder()
    with builder.Map():
        for key in sorted(signatures):
            builder.Key(key)
            # A flexbuffer STRING holding the binary proto, as the C++ writer's fbb.String(key, bytes).
            builder._WriteBlob(signatures[key].SerializeToString(), True, flexbuffers.Type.STRING)
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    buffer = schema.BufferT()
    buffer.data = list(builder.Finish())
    model.buffers.append(buffer)
    metadata = schema.MetadataT()
    metadata.name = "signature_defs_metadata"
    metadata.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), metadata]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def build_half_plus_two_tflite(export_dir: str | os.PathLike[str], *, b: float = 2.0) -> Path:
    """``model.tflite`` of TF1 half_plus_two without SignatureDef (TF Serving generates ``serving_default``)."""
    return _write(export_dir, convert_half_plus_two_tf1(b))


def build_half_plus_two_tflite_with_sigdef(export_dir: str | os.PathLike[str]) -> Path:
    """TF1 half_plus_two with embedded SignatureDefs naming TF tensors ``x:0`` / ``y:0`` (legacy names in the
    model): ``serving_default`` (x -> y) and ``predict_alias`` (inputs -> outputs, shape [-1, 1])."""
    float_ = tf.float32.as_datatype_enum
    signatures = {
        "serving_default": predict_signature({"x": ("x:0", float_, [-1, 1])}, {"y": ("y:0", float_, [-1, 1])}),
        "predict_alias": predict_signature(
            {"inputs": ("x:0", float_, [-1, 1])}, {"outputs": ("y:0", float_, [-1, 1])}
        ),
    }
    return _write(export_dir, with_signature_defs(convert_half_plus_two_tf1(), signatures))


def build_two_inputs_tflite(export_dir: str | os.PathLike[str]) -> Path:
    """``model.tflite`` of the TF2 two-input function (converter signature table only)."""
    return _write(export_dir, convert_two_inputs_tf2())
