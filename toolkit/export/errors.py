"""Errors of the exporter. Each one means nothing was published."""

from __future__ import annotations

from toolkit.errors import ToolkitError


class ExportError(ToolkitError):
    """An export failed before publishing; the repository is unchanged."""


class SpecMismatchError(ExportError):
    """The exported signature differs from the declared input/output spec (names the tensor, expected, got)."""


class ExportValidationError(ExportError):
    """Running the exported SavedModel on the sample data failed or gave different outputs."""


class VersionExistsError(ExportError):
    """The target version folder already exists and ``force`` was not given."""


class CustomOpsError(ExportError):
    """The model uses ops stock TensorFlow Serving lacks, and custom ops were not allowed."""
