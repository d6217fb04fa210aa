"""One loaded model version: a SavedModel in its own tf.Graph + tf.compat.v1.Session, as TF Serving's
SavedModelBundle + Session::Run (TF's C++ DirectSession, no Python-side checks). TF1 graph-mode and TF2
SavedModels are served the same way; signatures come from the MetaGraphDef; deadlines become
RunOptions.timeout_in_ms.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clients import dtypes
from toolkit.server import tensors

if TYPE_CHECKING:  # batching imports this module
    from toolkit.server.batching import BatchingConfig, BatchKey, BatchScheduler
from toolkit.server.errors import Code, ServingError

log = logging.getLogger(__name__)

MAX_CALLABLES = 64  # cached C++ callables per loaded version (each holds an executor)


def tf_module():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


@functools.cache
def _c_session_run():
    """TF's C API entry point for Session::Run (the one Python's Session._do_run calls, minus its checks), the
    TF_Buffer context for RunOptions, RunOptions and OpError (looked up once: this is the per-request path)."""
    tf = tf_module()
    from tensorflow.python.client import pywrap_tf_session
    from tensorflow.python.framework import c_api_util

    return pywrap_tf_session.TF_SessionRun_wrapper, c_api_util.tf_buffer, tf.compat.v1.RunOptions, tf.errors.OpError


def op_error_to_serving(exc: BaseException) -> ServingError:
    """Turn a TensorFlow OpError (or anything else) into a ServingError with the same absl code."""
    tf = tf_module()
    if isinstance(exc, ServingError):
        return exc
    if isinstance(exc, tf.errors.OpError):
        # The Python session re-raises the runtime's error with a "Graph execution error: Detected at node ..."
        # traceback; the runtime's own message (what TF Serving returns) is on the chained original error.
        original = exc.__context__
        if isinstance(original, tf.errors.OpError) and original.error_code == exc.error_code and original.message:
            return ServingError(exc.error_code, original.message)
        message = exc.message.split("\n\nDetected at node", 1)[0].strip()
        prefix = "Graph execution error:"
        if message.startswith(prefix):  # added by the Python session wrapper, not by TF Serving
            message = message[len(prefix):].strip()
        return ServingError(exc.error_code, message or exc.message)
    return ServingError(Code.INTERNAL, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class SessionOptions:
    """What a load needs from the flags."""

    tags: tuple[str, ...] = ("serve",)
    intra_op: int = 0
    inter_op: int = 0
    session_config_file: str = ""
    fixed_timeouts_ms: tuple[int, ...] = ()  # deadlines every call of a front end gets (REST), for callables

    def config_proto(self):
        from tensorflow.core.protobuf import config_pb2

        if self.session_config_file:
            from toolkit.server.config import read_session_config

            config = read_session_config(self.session_config_file)
        else:
            config = config_pb2.ConfigProto()
        if self.intra_op:
            config.intra_op_parallelism_threads = self.intra_op
        if self.inter_op:
            config.inter_op_parallelism_threads = self.inter_op
        config.allow_soft_placement = True
        return config


def _find_meta_graph(export_dir: str, tags: tuple[str, ...]) -> None:
    """Check the SavedModel file and tag set first, for TF Serving's (C++ loader's) error messages."""
    from tensorflow.core.protobuf import saved_model_pb2

    pb = Path(export_dir) / "saved_model.pb"
    pbtxt = Path(export_dir) / "saved_model.pbtxt"
    if not pb.is_file() and not pbtxt.is_file():
        raise ServingError(
            Code.NOT_FOUND,
            f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {export_dir}. Check that "
            "the directory exists and that you have the right permissions for accessing it.",
        )
    if not pb.is_file():
        return  # text format: let the loader deal with it
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(pb.read_bytes())
    except Exception as exc:
        raise ServingError(Code.DATA_LOSS, f"Could not parse SavedModel proto at {pb}: {exc}") from exc
    wanted = set(tags)
    if not any(set(mg.meta_info_def.tags) == wanted for mg in saved.meta_graphs):
        available = ", ".join("{ " + " ".join(sorted(mg.meta_info_def.tags)) + " }" for mg in saved.meta_graphs)
        raise ServingError(
            Code.NOT_FOUND,
            f"Could not find meta graph def matching supplied tags: {{ {' '.join(sorted(wanted))} }}. To inspect "
            f"available tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli` (available: "
            f"{available})",
        )


class Servable:
    """A loaded SavedModel version. Thread-safe: Session.run may be called concurrently.

    In-flight calls hold a reference (``acquire``/``release``); ``close`` waits for them before freeing."""

    def __init__(self, name: str, version: int, path: str, options: SessionOptions) -> None:
        self.name = name
        self.version = version
        self.path = path
        tf = tf_module()
        _find_meta_graph(path, options.tags)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=options.config_proto())
        try:
            with self.graph.as_default():
                self.meta_graph = tf.compat.v1.saved_model.loader.load(self.session, list(options.tags), path)
        except BaseException as exc:
            self.session.close()
            raise op_error_to_serving(exc) from exc
        self.signatures = dict(self.meta_graph.signature_def)
        self._refs = 0
        self._cond = threading.Condition()
        self._closed = False
        self.batchers: dict[BatchKey, BatchScheduler] = {}
        self.batching_config: BatchingConfig | None = None  # set by BatchingSession.prepare at load
        self._tensors: dict[str, tuple[object, int, np.dtype | None]] = {}
        self._callables: dict[tuple[tuple[str, ...], tuple[str, ...], int], object] = {}
        self._fixed_timeouts_ms = frozenset(options.fixed_timeouts_ms)
        self._callable_lock = threading.Lock()

    # -- reference counting so an unload never fails an in-flight request
    def acquire(self) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._refs += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._refs -= 1
            if self._refs == 0:
                self._cond.notify_all()

    def close(self) -> None:
        """Wait for in-flight calls, then free the session."""
        with self._cond:
            self._closed = True
            while self._refs > 0:
                self._cond.wait()
        for batcher in list(self.batchers.values()):
            batcher.stop()
        self.session.close()

    def _graph_tensor(self, name: str, role: str) -> tuple[object, int, np.dtype | None]:
        """(C API handle, dtype enum, numpy dtype) of graph tensor ``name``, cached: the graph is immutable."""
        entry = self._tensors.get(name)
        if entry is None:
            try:
                tensor = self.graph.get_tensor_by_name(name)
            except (KeyError, ValueError) as exc:
                # subgraph.cc's texts for a feed / fetch the graph does not have (a broken SignatureDef).
                text = f"FeedInputs: unable to find feed output {name}" if role == "feed" else (
                    f"FetchOutputs node {name}: not found")
                raise ServingError(Code.NOT_FOUND, text) from exc
            dtype = tensor.dtype.base_dtype.as_datatype_enum
            numpy = tensors.numpy_dtype(dtype) if tensors.supported(dtype) and dtype != tensors.DT.DT_STRING else None
            entry = (tensor._as_tf_output(), dtype, numpy)
            self._tensors[name] = entry
        return entry

    def _check_feed_dtypes(self, names: list[str], feeds: dict[str, np.ndarray]) -> None:
        """DirectSession::Run's call-frame check (FunctionCallFrame::SetArgs), made here so that both run paths give
        its text: arg i is the i-th feed in sorted tensor-name order, the first mismatch is reported."""
        for index, name in enumerate(names):
            _, expected, numpy = self._graph_tensor(name, "feed")
            value = feeds[name]
            if numpy is not None and value.dtype == numpy:
                continue
            try:
                got = tensors.dtype_of_array(value)
            except tensors.TensorParseError:
                continue  # not a TF dtype: the C API refuses it when converting
            if got != expected and expected != tensors.DT.DT_RESOURCE:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Expects arg[{index}] to be {dtypes.type_string(expected)} but "
                    f"{dtypes.type_string(got)} is provided",
                )

    def _callable(self, feeds: tuple[str, ...], fetches: tuple[str, ...], timeout_ms: int):
        """A cached C++ callable (Session::MakeCallable) for these feeds, fetches and timeout, or None.

        A callable's RunOptions are fixed when it is made (about 5 ms), so callables serve calls without a deadline
        and with one of the server's fixed deadlines (``--rest_api_timeout_in_ms``); a gRPC deadline, different on
        every call, runs through Session::Run with its own RunOptions instead. At most MAX_CALLABLES per version
        (output filters choose the fetches)."""
        if timeout_ms and timeout_ms not in self._fixed_timeouts_ms:
            return None
        key = (feeds, fetches, timeout_ms)
        handle = self._callables.get(key)
        if handle is not None:
            return handle
        with self._callable_lock:
            handle = self._callables.get(key)
            if handle is None and len(self._callables) < MAX_CALLABLES:
                from tensorflow.core.protobuf import config_pb2

                options = config_pb2.CallableOptions(feed=list(feeds), fetch=list(fetches))
                if timeout_ms:
                    options.run_options.timeout_in_ms = timeout_ms
                handle = self.session._make_callable_from_options(options)
                self._callables[key] = handle
            return handle

    def run(self, feeds: dict[str, np.ndarray], fetches: list[str], timeout: float | None = None) -> list[np.ndarray]:
        """TF Serving's ``Session::Run(run_options, inputs, output_names, {})``, in TF's C++ DirectSession.

        The Python ``Session.run`` is bypassed on purpose: it adds a static-shape check (``Cannot feed value of
        shape ...``) that TF Serving does not have; here the graph's ops alone decide what a shape means, and a
        wrong dtype gets Session::Run's own ``Expects arg[i] to be float but int32 is provided``. Calls run through
        a cached C++ callable where one fits (see ``_callable``), else through the C API's TF_SessionRun; a timeout
        (seconds) becomes RunOptions.timeout_in_ms either way."""
        session_run, tf_buffer, run_options, op_error = _c_session_run()
        names = sorted(feeds)
        unique_fetches = tuple(dict.fromkeys(fetches)) if len(fetches) > 1 else tuple(fetches)
        try:
            self._check_feed_dtypes(names, feeds)
            timeout_ms = 0 if timeout is None else max(round(timeout * 1000), 1)
            handle = self._callable(tuple(names), unique_fetches, timeout_ms)
            if handle is not None:
                results = handle(*[feeds[name] for name in names])
            else:
                feed_dict = {self._graph_tensor(name, "feed")[0]: feeds[name] for name in names}
                fetch_list = [self._graph_tensor(name, "fetch")[0] for name in unique_fetches]
                if timeout_ms:
                    with tf_buffer(run_options(timeout_in_ms=timeout_ms).SerializeToString()) as buffer:
                        results = session_run(self.session._session, buffer, feed_dict, fetch_list, [], None)
                else:
                    results = session_run(self.session._session, None, feed_dict, fetch_list, [], None)
        except op_error as exc:
            raise op_error_to_serving(exc) from exc
        except (ValueError, TypeError) as exc:  # a numpy value the C API cannot turn into a Tensor
            raise ServingError(Code.INVALID_ARGUMENT, str(exc)) from exc
        if len(unique_fetches) == len(fetches):
            return [np.asarray(value) for value in results]
        by_name = dict(zip(unique_fetches, results))
        return [np.asarray(by_name[name]) for name in fetches]
