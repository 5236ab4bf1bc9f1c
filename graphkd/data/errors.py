"""The error every dataset problem raises (a leaf module: the loaders, converters and catalog share it)."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A dataset file is missing, malformed or inconsistent; the message names the file and record."""
