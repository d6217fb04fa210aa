"""Generated protobuf modules for TF Serving config files not shipped by tensorflow-serving-api.

Regenerate with ``python -m toolkit.protos.generate``.
"""
