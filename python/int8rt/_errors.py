"""int8rt's exception types (defined by the compiled core, re-exported here)."""
from __future__ import annotations

from ._core import Error, FormatError, InvalidArgumentError, NotSupportedError

__all__ = ["Error", "FormatError", "InvalidArgumentError", "NotSupportedError"]
