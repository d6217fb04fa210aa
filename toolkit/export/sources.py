"""Turn what the user has (a Keras model or file, a ``tf.Module`` / ``tf.function`` with signatures, an existing
SavedModel folder) into a SavedModel in the staging folder, with signatures that mean something.

Keras models get a ``serving_default`` whose inputs are the Keras input names and whose outputs are named after
the output layers (``weather``, ``ground``), not Keras 3's ``output_0``; an optional mapping renames them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toolkit._extras import require
from toolkit.export.errors import ExportError


def _tf():
    return require("tensorflow", purpose="exporting models")


def is_keras_model(obj: Any) -> bool:
    try:
        import keras
    except ImportError:
        return False
    return isinstance(obj, keras.Model)


def load_keras_file(path: Path) -> Any:
    """Load a ``.keras`` or ``.h5`` file (no custom objects needed for standard layers)."""
    keras = require("keras", purpose="loading Keras files")
    try:
        return keras.models.load_model(str(path), compile=False)
    except Exception as exc:
        raise ExportError(f"{path}: cannot be loaded as a Keras model: {exc}") from exc


def _renamed(names: list[str], mapping: Mapping[str, str], kind: str) -> list[str]:
    unknown = set(mapping) - set(names)
    if unknown:
        raise ExportError(f"name mapping: {kind} {sorted(unknown)} do not exist; the model's {kind} are {names}")
    result = [mapping.get(n, n) for n in names]
    if len(set(result)) != len(result):
        raise ExportError(f"name mapping: {kind} names must stay unique, got {result}")
    return result


def keras_io_names(model: Any, name_mapping: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(input names, output names) of a Keras model after applying ``name_mapping``."""
    mapping = dict(name_mapping or {})
    input_names = [t.name.split(":")[0] for t in model.inputs] if getattr(model, "inputs", None) else []
    try:
        output_names = list(model.output_names)
    except AttributeError:
        output_names = [f"output_{i}" for i in range(len(model.outputs))]
    unknown = sorted(set(mapping) - set(input_names) - set(output_names))
    if unknown:
        raise ExportError(f"name mapping: expected names of the model's inputs {input_names} or outputs "
                          f"{output_names}, got {unknown}")
    in_map = {k: v for k, v in mapping.items() if k in input_names}
    out_map = {k: v for k, v in mapping.items() if k not in input_names}
    return _renamed(input_names, in_map, "inputs"), _renamed(output_names, out_map, "outputs")


def keras_serving_fn(model: Any, name_mapping: Mapping[str, str] | None = None) -> tuple[Callable, list]:
    """A serving function returning ``{output name: tensor}`` and its input signature (named TensorSpecs)."""
    tf = _tf()
    if not getattr(model, "inputs", None):
        raise ExportError("the Keras model has no defined inputs; build it (call it once or use keras.Input) first")
    input_names, output_names = keras_io_names(model, name_mapping)
    specs = [
        tf.TensorSpec(shape=(None, *tuple(t.shape[1:])), dtype=t.dtype, name=name)
        for t, name in zip(model.inputs, input_names)
    ]

    def serve(*args: Any) -> dict[str, Any]:
        outputs = model(list(args) if len(args) > 1 else args[0], training=False)
        if isinstance(outputs, dict):
            outputs = [outputs[k] for k in model.output_names]
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return dict(zip(output_names, outputs))

    return serve, specs


def keras_reference_outputs(model: Any, inputs: Mapping[str, np.ndarray],
                            name_mapping: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Run the in-memory Keras model, to compare with the exported SavedModel run in a clean process."""
    input_names, output_names = keras_io_names(model, name_mapping)
    args = [inputs[n] for n in input_names]
    outputs = model(args if len(args) > 1 else args[0], training=False)
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in model.output_names]
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: np.asarray(out) for name, out in zip(output_names, outputs)}


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


def xla_compiled(fn: Callable, specs: list, name: str) -> Any:
    """``fn`` as a ``tf.function(jit_compile=True)`` over ``specs``, compiled once now on synthetic inputs so a
    model XLA cannot compile fails at export with XLA's own message, not at its first request."""
    tf = _tf()
    from clients.types import TensorSpec
    from toolkit.export.testdata import synthesize_inputs

    compiled = tf.function(fn, input_signature=specs, jit_compile=True)
    infos = {str(i): TensorSpec(str(i), s.dtype.name, None if s.shape.rank is None else tuple(s.shape.as_list()))
             for i, s in enumerate(specs)}
    arrays = synthesize_inputs(infos)
    try:
        compiled(*[tf.constant(arrays[str(i)]) for i in range(len(specs))])
    except (tf.errors.OpError, ValueError, TypeError) as exc:
        raise ExportError(f"--jit-compile: XLA cannot compile signature {name!r}: {_first_line(exc)}") from None
    return compiled


def jit_signature(fn: Any, name: str) -> Any:
    """A signature function (tf.function with an input_signature, or a concrete function) recompiled with XLA."""
    concrete = fn.get_concrete_function() if hasattr(fn, "get_concrete_function") else fn
    positional, keywords = concrete.structured_input_signature
    if keywords:
        raise ExportError(f"--jit-compile: signature {name!r} takes keyword-only inputs; expected a tf.function "
                          "with a positional input_signature")
    return xla_compiled(lambda *args: concrete(*args), list(positional), name).get_concrete_function()


def write_keras(model: Any, staging: Path, name_mapping: Mapping[str, str] | None,
                extra_signatures: Mapping[str, Any] | None, jit_compile: bool = False) -> None:
    """Export a Keras model with ExportArchive: tracked variables, named serving_default, extra endpoints;
    ``jit_compile`` makes serving_default an XLA-compiled function."""
    keras = require("keras", purpose="exporting Keras models")
    serve, specs = keras_serving_fn(model, name_mapping)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if jit_compile:
        archive.add_endpoint(name="serving_default", fn=xla_compiled(serve, specs, "serving_default"))
    else:
        archive.add_endpoint(name="serving_default", fn=serve, input_signature=specs)
    for name, fn in (extra_signatures or {}).items():
        if name == "serving_default":
            raise ExportError("extra_signatures: 'serving_default' is generated from the model; pick another name")
        input_signature = getattr(fn, "input_signature", None)
        if input_signature is None:
            raise ExportError(f"extra signature {name!r}: expected a tf.function with an input_signature")
        archive.add_endpoint(name=name, fn=fn, input_signature=list(input_signature))
    archive.write_out(str(staging), verbose=False)


def write_module(obj: Any, staging: Path, signatures: Mapping[str, Any] | None, jit_compile: bool = False) -> None:
    """Save a ``tf.Module`` (or a bare ``tf.function``) with the given signatures (XLA-compiled with
    ``jit_compile``)."""
    tf = _tf()
    sigs = dict(signatures or {})
    is_function = isinstance(obj, tf.types.experimental.PolymorphicFunction) or (
        callable(obj) and not isinstance(obj, tf.Module)
    )
    if is_function:
        fn = obj
        module = tf.Module()
        module.serve = fn
        if not sigs:
            sigs = {"serving_default": fn}
        obj = module
    if not sigs:
        sigs = dict(getattr(obj, "signatures", {}) or {})
    if not sigs:
        raise ExportError("a tf.Module needs signatures: pass signatures={'serving_default': module.fn} "
                          "(a tf.function with an input_signature, or a concrete function)")
    resolved = {}
    for name, fn in sigs.items():
        if hasattr(fn, "get_concrete_function") and getattr(fn, "input_signature", None) is None:
            raise ExportError(f"signature {name!r}: expected a tf.function with an input_signature or a concrete "
                              "function")
        resolved[name] = jit_signature(fn, name) if jit_compile else (
            fn.get_concrete_function() if hasattr(fn, "get_concrete_function") else fn)
    tf.saved_model.save(obj, str(staging), signatures=resolved)


def copy_saved_model(source: Path, staging: Path) -> None:
    """Re-publish an existing SavedModel folder as a new version: copied, never moved in place."""
    if not (source / "saved_model.pb").is_file():
        raise ExportError(f"{source}: not a SavedModel folder (no saved_model.pb)")
    shutil.copytree(source, staging, dirs_exist_ok=True, symlinks=False)
