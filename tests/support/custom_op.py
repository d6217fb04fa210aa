"""A tiny custom TensorFlow op (``TfsTestAddOne``: y = x + 1, float32), compiled with g++ against the installed
TensorFlow's headers and framework library (``tf.sysconfig``), for tests that need a model using a non-core op."""

from __future__ import annotations

import subprocess
from pathlib import Path

import tensorflow as tf

OP_NAME = "TfsTestAddOne"

SOURCE = r"""
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

REGISTER_OP("TfsTestAddOne")
    .Input("x: float")
    .Output("y: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    });

class TfsTestAddOneOp : public tensorflow::OpKernel {
 public:
  explicit TfsTestAddOneOp(tensorflow::OpKernelConstruction* context) : OpKernel(context) {}
  void Compute(tensorflow::OpKernelContext* context) override {
    const tensorflow::Tensor& input = context->input(0);
    tensorflow::Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, input.shape(), &output));
    auto in = input.flat<float>();
    auto out = output->flat<float>();
    for (int64_t i = 0; i < in.size(); ++i) out(i) = in(i) + 1.0f;
  }
};

REGISTER_KERNEL_BUILDER(Name("TfsTestAddOne").Device(tensorflow::DEVICE_CPU), TfsTestAddOneOp);
"""


def build_add_one_library(folder: Path) -> Path:
    """Compile the op into ``folder/add_one.so`` (about 10 s of CPU; callers cache it per test session)."""
    source = folder / "add_one.cc"
    library = folder / "add_one.so"
    source.write_text(SOURCE, encoding="utf-8")
    command = ["g++", "-std=c++17", "-shared", "-fPIC", "-O0", "-w", str(source), "-o", str(library),
               *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"building the test op library failed:\n{proc.stderr[-3000:]}")
    return library
