"""Small SavedModels built with TensorFlow for the tests: half_plus_two (TF1 graph mode and TF2, each also with the
signatures of TF Serving's half_plus_two test data), a multi-dtype model, and helpers to lay out a model repository ``<root>/<name>/<version>/`` with atomic publishing.

Every builder writes a complete SavedModel into ``export_dir`` (which must not exist yet) and returns the path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

Builder = Callable[[Path], Path]


# --------------------------------------------------------------------------------------------- TF2 models
class _HalfPlusTwo(tf.Module):
    """y = a*x + b with variables (so restore really matters), plus a second signature y = a*x + c."""

    def __init__(self, a: float = 0.5, b: float = 2.0, c: float = 3.0) -> None:
        super().__init__()
        self.a = tf.Variable(a, dtype=tf.float32, name="a")
        self.b = tf.Variable(b, dtype=tf.float32, name="b")
        self.c = tf.Variable(c, dtype=tf.float32, name="c")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def half_plus_three(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.c}


def build_half_plus_two_tf2(export_dir: str | os.PathLike[str], *, b: float = 2.0) -> Path:
    """TF2 ``tf.Module`` SavedModel: ``serving_default`` x:float32[None] -> y = 0.5x + b, and ``half_plus_three``
    x -> y = 0.5x + 3. ``b`` lets tests tell versions apart (e.g. version 2 built with b=3)."""
    export_dir = Path(export_dir)
    module = _HalfPlusTwo(b=b)
    tf.saved_model.save(
        module,
        str(export_dir),
        signatures={"serving_default": module.serve, "half_plus_three": module.half_plus_three},
    )
    return export_dir


class _MultiDtype(tf.Module):
    """Several inputs and outputs of different dtypes, to test tensor encoding both ways."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None], tf.int64, name="count"),
            tf.TensorSpec([None], tf.bool, name="flag"),
            tf.TensorSpec([None, 2], tf.float32, name="value"),
        ]
    )
    def serve(self, text: tf.Tensor, count: tf.Tensor, flag: tf.Tensor, value: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "text_upper": tf.strings.upper(text),
            "count_plus_one": count + 1,
            "flag_not": tf.logical_not(flag),
            "value_sum": tf.reduce_sum(value, axis=1),
            "value_double": tf.cast(value, tf.float64) * 2.0,
            "count_int32": tf.cast(count, tf.int32),
        }


def build_multi_dtype_tf2(export_dir: str | os.PathLike[str]) -> Path:
    """TF2 SavedModel ``serving_default``: inputs text:string[None], count:int64[None], flag:bool[None],
    value:float32[None,2]; outputs text_upper (string), count_plus_one (int64), flag_not (bool), value_sum
    (float32[None]), value_double (float64[None,2]) and count_int32 (int32)."""
    export_dir = Path(export_dir)
    module = _MultiDtype()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})
    return export_dir


class _Echo(tf.Module):
    """Returns its float input unchanged with a tag telling which version answered (for batching tests)."""

    def __init__(self, tag: float) -> None:
        super().__init__()
        self.tag = tf.Variable(tag, dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * 2.0, "row_sum": tf.reduce_sum(x, axis=1) + self.tag * 0.0}


def build_double_tf2(export_dir: str | os.PathLike[str]) -> Path:
    """TF2 SavedModel ``serving_default`` x:float32[None,None] -> y = 2x, row_sum = sum over dim 1 (batching)."""
    export_dir = Path(export_dir)
    module = _Echo(0.0)
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})
    return export_dir


class _Slow(tf.Module):
    """Counts to n in a tf.while_loop: runtime grows with n, so tests get a request that is reliably in flight."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
    def serve(self, n: tf.Tensor) -> dict[str, tf.Tensor]:
        def count(limit: tf.Tensor) -> tf.Tensor:
            return tf.while_loop(lambda i: i < limit, lambda i: i + 1, [tf.constant(0, tf.int64)])[0]

        return {"count": tf.map_fn(count, n)}


def build_slow_tf2(export_dir: str | os.PathLike[str]) -> Path:
    """TF2 SavedModel ``serving_default`` n:int64[None] -> count:int64[None] (loops n times per element)."""
    export_dir = Path(export_dir)
    module = _Slow()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})
    return export_dir


# --------------------------------------------------------------------------------------------- TF1 model
def _example_features(v1):  # type: ignore[no-untyped-def]
    """The tf.Example features of the half_plus_two family: x (required) and x2 (default 0), one float each."""
    return {
        "x": v1.io.FixedLenFeature([1], tf.float32),
        "x2": v1.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
    }


def build_half_plus_two_tf1(export_dir: str | os.PathLike[str], *, b: float = 2.0) -> Path:
    """TF1 graph-mode SavedModel (tf.compat.v1 builder) with the signatures of TF Serving's half_plus_two test data.

    One string placeholder ``tf_example`` [-1] of serialized tf.Example is parsed into ``x`` and ``x2`` (float
    [-1,1]); y = 0.5x + b, y2 = 0.5x + 3, y3 = 0.5x2 + 3:

    - ``serving_default`` and ``predict_x_to_y_named`` (predict): x -> y (``x`` is fed directly, any shape the
      ops accept, e.g. [3] as in TF Serving's Docker tutorial)
    - ``classify_x_to_y`` (classify): inputs=tf_example -> scores=y
    - ``regress_x_to_y`` / ``regress_x_to_y2`` (regress): inputs=tf_example -> outputs=y / y2
    - ``regress_x2_to_y3`` (regress): inputs=x2 (float, not serialized examples) -> outputs=y3
    - ``tensorflow/serving/classify`` and ``tensorflow/serving/regress``: classify / regress x -> y under the
      standard keys (``b=3`` gives TF Serving's half_plus_three of its REST guide)
    """
    export_dir = Path(export_dir)
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        a_var = v1.Variable(0.5, name="a", dtype=tf.float32)
        b_var = v1.Variable(b, name="b", dtype=tf.float32)
        c_var = v1.Variable(3.0, name="c", dtype=tf.float32)

        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        features = v1.io.parse_example(serialized, _example_features(v1))
        x = tf.identity(features["x"], name="x")  # [-1, 1]
        y = tf.identity(tf.add(tf.multiply(a_var, x), b_var), name="y")
        y2 = tf.identity(tf.add(tf.multiply(a_var, x), c_var), name="y2")
        x2 = tf.identity(features["x2"], name="x2")
        y3 = tf.identity(tf.add(tf.multiply(a_var, x2), c_var), name="y3")

        utils = v1.saved_model.utils
        sig = v1.saved_model.signature_def_utils
        consts = v1.saved_model.signature_constants

        def signature(inputs, outputs, method):  # type: ignore[no-untyped-def]
            return sig.build_signature_def(
                inputs={k: utils.build_tensor_info(t) for k, t in inputs.items()},
                outputs={k: utils.build_tensor_info(t) for k, t in outputs.items()},
                method_name=method,
            )

        predict = signature({"x": x}, {"y": y}, consts.PREDICT_METHOD_NAME)
        classify = signature({consts.CLASSIFY_INPUTS: serialized}, {consts.CLASSIFY_OUTPUT_SCORES: y},
                             consts.CLASSIFY_METHOD_NAME)
        regress = signature({consts.REGRESS_INPUTS: serialized}, {consts.REGRESS_OUTPUTS: y},
                            consts.REGRESS_METHOD_NAME)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                sess,
                [v1.saved_model.tag_constants.SERVING],
                signature_def_map={
                    "serving_default": predict,
                    "predict_x_to_y_named": predict,
                    "classify_x_to_y": classify,
                    "regress_x_to_y": regress,
                    "regress_x_to_y2": signature({consts.REGRESS_INPUTS: serialized}, {consts.REGRESS_OUTPUTS: y2},
                                                 consts.REGRESS_METHOD_NAME),
                    "regress_x2_to_y3": signature({consts.REGRESS_INPUTS: x2}, {consts.REGRESS_OUTPUTS: y3},
                                                  consts.REGRESS_METHOD_NAME),
                    consts.CLASSIFY_METHOD_NAME: classify,  # "tensorflow/serving/classify"
                    consts.REGRESS_METHOD_NAME: regress,  # "tensorflow/serving/regress"
                },
                main_op=v1.tables_initializer(),
                strip_default_attrs=True,
            )
            builder.save()
    return export_dir


class _HalfPlusTwoSignatures(tf.Module):
    """The TF2 half_plus_two family: every signature is its own tf.function, so each has its own input tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.a = tf.Variable(0.5, name="a")
        self.b = tf.Variable(2.0, name="b")
        self.c = tf.Variable(3.0, name="c")

    def _parse_x(self, serialized: tf.Tensor) -> tf.Tensor:
        return tf.io.parse_example(serialized, _example_features(tf.compat.v1))["x"]

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32, name="x")])
    def predict(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress_xy(self, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * self._parse_x(serialized) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress_xy2(self, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * self._parse_x(serialized) + self.c}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32, name="inputs")])
    def regress_x2y3(self, x2: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * x2 + self.c}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify_xy(self, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self.a * self._parse_x(serialized) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32, name="inputs")])
    def classify_x2y3(self, x2: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self.a * x2 + self.c}


def build_half_plus_two_family_tf2(export_dir: str | os.PathLike[str]) -> Path:
    """TF2 ``tf.saved_model.save`` counterpart of the TF1 family: ``serving_default`` (x float [1] -> y),
    ``classify_x_to_y``, ``regress_x_to_y``, ``regress_x_to_y2`` (serialized tf.Example ``inputs`` [-1]) and
    ``regress_x2_to_y3`` / ``classify_x2_to_y3`` (float ``inputs`` [1]); each signature has its own input
    tensor (``classify_x_to_y_inputs:0``, ``regress_x_to_y_inputs:0``, ...)."""
    export_dir = Path(export_dir)
    module = _HalfPlusTwoSignatures()
    tf.saved_model.save(
        module,
        str(export_dir),
        signatures={
            "serving_default": module.predict,
            "regress_x_to_y": module.regress_xy,
            "regress_x_to_y2": module.regress_xy2,
            "regress_x2_to_y3": module.regress_x2y3,
            "classify_x_to_y": module.classify_xy,
            "classify_x2_to_y3": module.classify_x2y3,
        },
    )
    return export_dir


# --------------------------------------------------------------------------------------------- REST guide shapes
class _Strings(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.strings.upper(x)}


class _Pairs(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, 1, 2], tf.float32, name="x")])
    def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * 2.0}


class _TagSignalSensor(tf.Module):
    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="tag"),
            tf.TensorSpec([None, 5], tf.int64, name="signal"),
            tf.TensorSpec([None, 2, 2], tf.int64, name="sensor"),
        ]
    )
    def serve(self, tag: tf.Tensor, signal: tf.Tensor, sensor: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "tag_upper": tf.strings.upper(tag),
            "signal_sum": tf.reduce_sum(signal, axis=1),
            "sensor_sum": tf.reduce_sum(sensor, axis=[1, 2]),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify_objects(self, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(
            serialized,
            {"image": tf.io.FixedLenFeature([1], tf.string), "caption": tf.io.FixedLenFeature([1], tf.string)},
        )
        return {"classes": features["caption"], "scores": tf.cast(tf.strings.length(features["image"]), tf.float32)}


def build_rest_guide_models(root: str | os.PathLike[str], version: int = 1) -> dict[str, Path]:
    """Models shaped like the request examples of TF Serving's REST guide (g3doc/api_rest.md), each as
    ``<root>/<name>/<version>``: ``doc_strings`` (x string [-1] -> upper-cased y), ``doc_pairs`` (x float
    [-1,1,2] -> 2x), ``doc_named`` (tag string [-1], signal int64 [-1,5], sensor int64 [-1,2,2] -> tag_upper,
    signal_sum, sensor_sum; plus ``classify_objects``: tf.Examples with bytes features image and caption -> classes =
    caption, scores = the image's byte count)."""
    paths = {}
    for name, module, extra in (
        ("doc_strings", _Strings(), {}),
        ("doc_pairs", _Pairs(), {}),
        ("doc_named", _TagSignalSensor(), {"classify_objects": "classify_objects"}),
    ):
        path = Path(root) / name / str(version)
        signatures = {"serving_default": module.serve}
        signatures.update({key: getattr(module, attr) for key, attr in extra.items()})
        tf.saved_model.save(module, str(path), signatures=signatures)
        paths[name] = path
    return paths


# --------------------------------------------------------------------------------------------- tf.Example / warmup
def make_example(**features: float | list[float] | bytes) -> bytes:
    """Serialized ``tf.train.Example`` with float (float/list[float]), int64 (int) or bytes features."""
    feats = {}
    for key, value in features.items():
        if isinstance(value, bytes):
            feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        elif isinstance(value, bool) or isinstance(value, int):
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            values = value if isinstance(value, list) else [value]
            feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def write_warmup_records(version_dir: str | os.PathLike[str], records: Iterable[bytes]) -> Path:
    """Write serialized ``PredictionLog`` records as ``assets.extra/tf_serving_warmup_requests`` (TFRecord)."""
    path = Path(version_dir) / "assets.extra" / "tf_serving_warmup_requests"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def predict_warmup_record(inputs: dict[str, object], *, signature_name: str = "serving_default") -> bytes:
    """One serialized ``PredictionLog`` whose predict_log request feeds ``inputs`` (numpy-convertible values)."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "warmup"
    request.model_spec.signature_name = signature_name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    return log.SerializeToString()


# --------------------------------------------------------------------------------------------- repository
def publish_version(
    root: str | os.PathLike[str], name: str, version: int | str, builder: Builder, **kwargs: object
) -> Path:
    """Build a model into a hidden temporary sibling and atomically rename it to ``<root>/<name>/<version>``.

    The rename makes the new version visible to a polling server only once it is complete."""
    base = Path(root) / name
    base.mkdir(parents=True, exist_ok=True)
    final = base / str(version)
    if final.exists():
        raise FileExistsError(f"version folder already exists: {final}")
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=base))
    target = staging / "model"
    builder(target, **kwargs)  # type: ignore[call-arg]
    os.rename(target, final)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def copy_version(src_version_dir: str | os.PathLike[str], base_path: str | os.PathLike[str], version: int) -> Path:
    """Copy an existing version folder into ``base_path/<version>`` via a non-numeric temporary + rename."""
    base = Path(base_path)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".tmp-{version}"
    shutil.copytree(src_version_dir, tmp)
    final = base / str(version)
    os.rename(tmp, final)
    return final


def build_repo(root: str | os.PathLike[str], spec: dict[str, dict[int, Builder]]) -> Path:
    """Write a model repository ``{name: {version: builder}}`` under ``root`` and return ``root``."""
    root = Path(root)
    for name, versions in spec.items():
        for version, builder in versions.items():
            publish_version(root, name, version, builder)
    return root


def models_config_text(models: dict[str, str | os.PathLike[str]], extra: dict[str, str] | None = None) -> str:
    """A text-format ModelServerConfig for ``{name: base_path}``; ``extra[name]`` adds raw lines to a config."""
    extra = extra or {}
    parts = ["model_config_list {"]
    for name, base in models.items():
        parts.append("  config {")
        parts.append(f'    name: "{name}"')
        parts.append(f'    base_path: "{Path(base).resolve()}"')
        parts.append('    model_platform: "tensorflow"')
        if name in extra:
            parts.append("    " + extra[name])
        parts.append("  }")
    parts.append("}")
    return "\n".join(parts) + "\n"
