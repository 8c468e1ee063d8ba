"""Checks that names a user wrote (layers to keep in FP32, ...) exist, and
when one does not, names the closest existing one (difflib), so the error
leads to the fix instead of the option being silently ignored."""
from __future__ import annotations

import difflib
from typing import Iterable

from ._errors import InvalidArgumentError

__all__ = ["check_names", "closest"]


def closest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the most similar known name, or ``""``."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def check_names(requested: Iterable[str], known: Iterable[str], what: str) -> None:
    """Raises InvalidArgumentError for the first name in ``requested`` that is
    not in ``known``: ``"{what} names no layer 'x' of the model (did you mean 'y'?)"``."""
    known = list(known)
    known_set = set(known)
    for name in requested:
        if name not in known_set:
            raise InvalidArgumentError(f"{what} names no layer '{name}' of the model{closest(name, known)}; "
                                       "`int8rt inspect` on an engine, or Netron on the ONNX file, lists them")
