"""ONNX import: ``int8rt.onnx.import_model(path_or_bytes_or_proto) -> Network``.

Needs the optional ``onnx`` package (``pip install int8rt[onnx]``). The
supported operators, their checks and normalisation live in
:mod:`int8rt.onnx.ops`; constant folding (PyTorch shape chains included)
in ``_fold.py``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from .ops import FOLD_ONLY_OPS, SUPPORTED_OPS

if TYPE_CHECKING:
    import onnx

    from ..network import Network

__all__ = ["FOLD_ONLY_OPS", "SUPPORTED_OPS", "import_model", "parse", "specialize"]


def import_model(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], *,
                 batch_size: Optional[int] = None, input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
                 input_values: Optional[Mapping[str, Any]] = None) -> "Network":
    """Import an ONNX model as an int8rt :class:`~int8rt.network.Network`.

    ``model`` is a file path, the serialized bytes or an ``onnx.ModelProto``
    (not modified). Symbolic or missing input dimensions are dynamic (-1):
    the engine takes any size there (within an optimization profile, when
    the build is given one); ``batch_size`` fixes a symbolic first dimension,
    ``input_shapes`` (name -> dims) every dimension of the inputs it names.
    ``input_values`` (name -> array or number) binds inputs to constants:
    they leave the network (a mode switch such as Silero VAD's sample rate
    ``sr``; one engine per value). An ``If`` whose condition is known once
    shapes and bound values are is replaced by the branch it takes (nested
    Ifs too); one whose condition is computed at run time, and every ``Loop``
    and ``Scan``, becomes a node whose subgraphs are Networks of their own,
    run by the engine on every run (float32 and the other run-time dtypes;
    an INT8 build keeps them float). Tensor names are kept exactly.

    Raises ``ImportError`` without the onnx package, ``int8rt.FormatError``
    for a file that is not a valid ONNX model, ``int8rt.NotSupportedError``
    for an opset outside 11..newest, a non-default domain (except ONNX Runtime's
    quantize_dynamic ops, ``_contrib.py``), or an unsupported op / attribute
    (naming each node and op type).
    """
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise ImportError("int8rt.onnx needs the 'onnx' package: pip install int8rt[onnx]") from e
    from ._importer import import_onnx_model
    return import_onnx_model(model, batch_size, input_shapes, input_values)


parse = import_model


def specialize(model: Union[str, "os.PathLike[str]", bytes, "onnx.ModelProto"], *,
               batch_size: Optional[int] = None, input_shapes: Optional[Mapping[str, Sequence[int]]] = None,
               input_values: Optional[Mapping[str, Any]] = None) -> "onnx.ModelProto":
    """The ONNX model as :func:`import_model` sees it before building the IR:
    shapes fixed, ``input_values`` bound, every If they decide replaced by its
    branch and the constants behind those decisions folded into initializers.
    An ONNX model again, for other tools to run the same graph (ONNX Runtime's
    quantize_static, say); ``model`` itself is not modified. An If decided at
    run time stays an If."""
    from ._importer import specialized_model
    return specialized_model(model, batch_size, input_shapes, input_values)

