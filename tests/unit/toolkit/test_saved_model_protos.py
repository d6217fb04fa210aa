"""The project's SavedModel subset (toolkit/protos/saved_model.proto) reads what TensorFlow's own classes read:
tags and every signature (inputs, outputs, dtypes, shapes, method names) of real SavedModels; and the committed
saved_model_pb2.py is what toolkit/protos/generate.py produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clients.dtypes import numpy_name
from toolkit.protos import generate
from toolkit.savedmodel import read_signatures


def _official(path: Path) -> dict:
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    out = {}
    for name, sig in model.meta_graphs[0].signature_def.items():
        def side(infos):  # type: ignore[no-untyped-def]
            return {k: (types_pb2.DataType.Name(v.dtype), None if v.tensor_shape.unknown_rank else
                        tuple(d.size for d in v.tensor_shape.dim), v.name) for k, v in infos.items()}
        out[name] = (sig.method_name, side(sig.inputs), side(sig.outputs))
    return out


@pytest.mark.parametrize("builder", ["build_half_plus_two_tf1", "build_multi_dtype_tf2"])
def test_signatures_equal_tensorflows_reading(builder: str, tmp_path: Path) -> None:
    from tests.support import models

    path = getattr(models, builder)(tmp_path / "m")
    ours = read_signatures(path, include_init_op=True)
    official = _official(path)
    assert set(ours) == set(official)
    for name, (method, inputs, outputs) in official.items():
        sig = ours[name]
        assert sig.method_name == method
        for got, want in ((sig.inputs, inputs), (sig.outputs, outputs)):
            assert set(got) == set(want)
            for alias, (dtype, shape, tensor) in want.items():
                assert got[alias].tensor_name == tensor
                assert got[alias].shape == (None if shape is None else tuple(None if d < 0 else d for d in shape))
                assert got[alias].numpy_name == numpy_name(dtype)


def test_dtype_names_cover_reference_types() -> None:
    assert (numpy_name(1), numpy_name(7), numpy_name(101)) == ("float32", "string", "float_ref")


def test_committed_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    # In a subprocess: grpc_tools' bundled protoc and TensorFlow's protobuf do not mix in one process.
    subprocess.run([sys.executable, "-m", "toolkit.protos.generate", str(tmp_path)], check=True,
                   cwd=generate.REPO_ROOT, timeout=120)
    for name in generate.PROTOS:
        module = name.replace(".proto", "_pb2.py")
        produced = (tmp_path / "toolkit" / "protos" / module).read_text()
        assert produced == (generate.HERE / module).read_text(), f"{module} is stale: python -m toolkit.protos.generate"
