"""The ONNX parser of :mod:`int8rt.trt` (TensorRT's ``OnnxParser``): fills the
facade's network from an ONNX model with :func:`int8rt.onnx.import_model`,
collecting errors with TensorRT's error codes instead of raising.
"""
from __future__ import annotations

import os
from enum import IntEnum
from typing import Any, Optional, Union

from ._errors import Error, FormatError, InvalidArgumentError, NotSupportedError

__all__ = ["ErrorCode", "OnnxParser", "ParserError"]

_SEVERITY_ERROR = 1  # trt.Logger.ERROR


class ErrorCode(IntEnum):
    """The ONNX parser's error codes (values as in TensorRT's parser)."""

    SUCCESS = 0
    INTERNAL_ERROR = 1
    MEM_ALLOC_FAILED = 2
    MODEL_DESERIALIZE_FAILED = 3
    INVALID_VALUE = 4
    INVALID_GRAPH = 5
    INVALID_NODE = 6
    UNSUPPORTED_GRAPH = 7
    UNSUPPORTED_NODE = 8


class ParserError:
    """One parse error: ``desc()`` is int8rt's message (naming node and op)."""

    def __init__(self, code: ErrorCode, desc: str) -> None:
        self._code, self._desc = code, desc

    def code(self) -> ErrorCode:
        return self._code

    def desc(self) -> str:
        return self._desc

    def node(self) -> int:
        return -1

    def __str__(self) -> str:
        return f"{self._code.name}: {self._desc}"


class OnnxParser:
    """TensorRT's ``OnnxParser``: fills ``network`` from an ONNX model with
    :func:`int8rt.onnx.import_model`. Errors are collected (``num_errors``,
    ``get_error(i).desc()``) and ``parse`` returns False, as in TensorRT."""

    def __init__(self, network: Any, logger: Any) -> None:
        if not hasattr(network, "native"):
            raise TypeError("OnnxParser takes the network from builder.create_network()")
        self.network, self.logger = network, logger
        self._errors: list[ParserError] = []

    def parse(self, model: Union[bytes, bytearray, memoryview], path: Optional[str] = None) -> bool:
        """Imports serialized ONNX ``model`` into the network; True on success."""
        return self._import(bytes(model), path or "<bytes>")

    def parse_from_file(self, model: Union[str, "os.PathLike[str]"]) -> bool:
        path = os.fspath(model)
        if not os.path.isfile(path):
            return self._fail(ErrorCode.MODEL_DESERIALIZE_FAILED, f"ONNX model '{path}' does not exist")
        return self._import(path, path)

    def _import(self, source: Union[bytes, str], label: str) -> bool:
        from .onnx import import_model

        if self.network.native.nodes() or self.network.native.inputs():
            raise NotSupportedError("OnnxParser: int8rt imports only into an empty network")
        try:
            self.network.native = import_model(source)
        except FormatError as e:
            return self._fail(ErrorCode.MODEL_DESERIALIZE_FAILED, str(e))
        except NotSupportedError as e:
            return self._fail(ErrorCode.UNSUPPORTED_NODE, str(e))
        except InvalidArgumentError as e:
            return self._fail(ErrorCode.INVALID_VALUE, str(e))
        except Error as e:
            return self._fail(ErrorCode.INTERNAL_ERROR, f"{label}: {e}")
        return True

    def _fail(self, code: ErrorCode, desc: str) -> bool:
        self._errors.append(ParserError(code, desc))
        if hasattr(self.logger, "log"):
            self.logger.log(_SEVERITY_ERROR, desc)
        return False

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> ParserError:
        return self._errors[index]

    def clear_errors(self) -> None:
        self._errors.clear()

