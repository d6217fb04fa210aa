"""Repository-wide pytest setup: keep TensorFlow quiet in test processes and their children."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
