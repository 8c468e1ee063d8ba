"""ONNX import: ``int8rt.onnx.import_model(path_or_bytes_or_proto) -> Network``.

Needs the optional ``onnx`` package (``pip install int8rt[onnx]``). The
supported operators, their checks and normalisation live in
:mod:`int8rt.onnx.ops`; constant folding (PyTorch shape chains included)
in ``_fold.py``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional, Union

from .ops import FOLD_ONLY_OPS, SUPPORTED_OPS

if TYPE_CHECKING:
    import onnx

    from ..network import Network

__all__ = ["FOLD_ONLY_OPS", "SUPPORTED_OPS", "import_model", "parse"]


def import_model(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], *,
                 batch_size: Optional[int] = None) -> "Network":
    """Import an ONNX model as an int8rt :class:`~int8rt.network.Network`.

    ``model`` is a file path, the serialized bytes or an ``onnx.ModelProto``
    (not modified). Graph inputs whose first dimension is symbolic or missing
    get a dynamic batch (-1) unless ``batch_size`` fixes it; every other
    dimension must be static. Tensor names are kept exactly.

    Raises ``ImportError`` without the onnx package, ``int8rt.FormatError``
    for a file that is not a valid ONNX model, ``int8rt.NotSupportedError``
    for an opset outside 11..newest, a non-default domain, or an unsupported
    op / attribute (naming each node and op type), and
    ``int8rt.InvalidArgumentError`` for a non-static non-batch input dimension.
    """
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise ImportError("int8rt.onnx needs the 'onnx' package: pip install int8rt[onnx]") from e
    from ._importer import import_onnx_model
    return import_onnx_model(model, batch_size)


parse = import_model
