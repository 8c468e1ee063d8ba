"""An ONNX backend (``onnx.backend.base.Backend``) over int8rt's FP32 engine.

``prepare(model)`` imports the model and builds a float32 engine;
``rep.run(inputs)`` runs it. This is what ONNX's own backend test runner and
:mod:`int8rt.onnx.conformance` drive, so every operator the importer claims
is checked against the expected outputs that ship inside the ``onnx`` wheel.

Limits, stated: the engine's public run API takes and returns arrays of
the engine's dtypes (float32, float64, float16, int8/16/32/64,
uint8/16/32/64, bool, and ml_dtypes' bfloat16, float8, float4 and 4-/2-bit
integers), so a model whose graph inputs or outputs have another element type
(string, sequences, optionals) is refused by ``prepare`` (``int8rt.NotSupportedError``).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from .._core import NotSupportedError
from ..builder import BuilderConfig, build_engine
from ..engine import Engine
from ._importer import RUNTIME_DTYPES

__all__ = ["Int8rtBackend", "Int8rtRep", "prepare", "run_model", "run_node", "supports_device"]



def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


class Int8rtRep(BackendRep):
    """A prepared model: an FP32 engine and one execution context."""

    def __init__(self, engine: Engine, input_names: Sequence[str], output_names: Sequence[str]) -> None:
        self.engine = engine
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self._context = engine.create_execution_context()

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Runs on ``inputs`` (a sequence in graph-input order, a dict by name,
        or one array); returns the outputs in graph-output order."""
        if isinstance(inputs, dict):
            feeds = dict(inputs)
        else:
            arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            if len(arrays) != len(self.input_names):
                raise ValueError(f"expected {len(self.input_names)} inputs ({', '.join(self.input_names)}), "
                                 f"got {len(arrays)}")
            feeds = dict(zip(self.input_names, arrays))
        outputs = self._context.run(feeds)
        return tuple(outputs[name] for name in self.output_names)


class Int8rtBackend(Backend):
    """int8rt as an ONNX backend (FP32 engine on the CPU)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> Int8rtRep:
        if not cls.supports_device(device):
            raise NotSupportedError(f"int8rt's ONNX backend runs on the CPU, not {device!r}")
        for kind, values in (("input", _graph_inputs(model)), ("output", list(model.graph.output))):
            for v in values:
                elem = v.type.tensor_type.elem_type
                if not v.type.HasField("tensor_type") or elem not in RUNTIME_DTYPES:
                    name = onnx.TensorProto.DataType.Name(elem) if v.type.HasField("tensor_type") else "non-tensor"
                    raise NotSupportedError(f"graph {kind} '{v.name}' is {name}; the engine API takes and "
                                            f"returns {', '.join(RUNTIME_DTYPES.values())} arrays")
        engine = build_engine(model, BuilderConfig(precision="fp32"))
        return Int8rtRep(engine, [i.name for i in _graph_inputs(model)], [o.name for o in model.graph.output])

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[tuple]] = None, **kwargs: Any) -> tuple[np.ndarray, ...]:
        raise NotSupportedError("int8rt runs whole models; wrap the node in a graph (onnx.helper.make_graph)")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = Int8rtBackend.prepare
run_model = Int8rtBackend.run_model
run_node = Int8rtBackend.run_node
supports_device = Int8rtBackend.supports_device
