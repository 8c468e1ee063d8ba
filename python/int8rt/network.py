"""The network IR from Python: a typed face over ``int8rt._core.Network``.

A :class:`Network` is a DAG of nodes over named tensors, with ONNX op types
and ONNX attribute semantics (see ``csrc/include/int8rt/network.h``).
Tensors and nodes are addressed by integer id; a dynamic dimension (the
batch, or any other) is written ``-1``, and an input's optimization profile
(``set_shape_range``) bounds it. Constants are float32, int64, int8 or bool
and are copied into the network. Inspection returns plain dicts:

* tensor: ``{"name", "dtype", "shape", "is_constant", "producer"}``
  (``producer`` is a node id, ``-1`` for inputs and constants; ``shape`` is
  None for a subgraph input of any rank);
* node: ``{"name", "op", "inputs", "outputs", "attrs"}`` (tensor ids; an
  omitted optional input is ``-1``).

A node's attribute may hold a subgraph: a :class:`Network` of its own (If's
branches, Loop's and Scan's body), read back as a copy; the outer values it
reads are inputs of the node after the op's own (``csrc/engine/ops/control_flow.h``).

Networks pickle (every id, name and constant is kept, subgraphs included).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _core

AttrValue = Union[int, float, str, Sequence[int], Sequence[float], "_core.Network"]

__all__ = ["Network", "create_network"]


class Network(_core.Network):
    """A network definition: inputs, constants, ONNX-semantics nodes, outputs."""

    def add_input(self, name: str, shape: Optional[Sequence[int]], dtype: str = "float32") -> int:
        """Declare a graph input; any dimension may be -1 (dynamic). Returns its id.

        ``shape`` None declares an input of any rank (its ``shape`` reads None): only for a
        subgraph's input that receives a value whose rank varies between runs (an If whose
        branches give different ranks). ``dtype`` is numpy's name of one of the engine's dtypes:
        ``"float32"``, ``"float64"``, ``"float16"``, ``"int8"``, ``"int16"``, ``"int32"``,
        ``"int64"``, ``"uint8"``, ``"uint16"``, ``"uint32"``, ``"uint64"``, ``"bool"``.
        """
        return super().add_input(name, None if shape is None else list(shape), dtype)

    def add_constant(self, name: str, data: np.ndarray) -> int:
        """Add a constant (weights) copied from a float32, int64, int8 or bool array. Returns its id."""
        return super().add_constant(name, np.asarray(data))

    def add_node(self, op: str, name: str, inputs: Sequence[int], attrs: Dict[str, AttrValue],
                 output_names: Sequence[str]) -> List[int]:
        """Append a node of ONNX op type ``op``; returns the ids of its new output tensors.

        ``inputs`` are tensor ids (-1 for an omitted optional input). An empty
        ``name`` or output name is replaced by a generated unique one.
        """
        return super().add_node(op, name, list(inputs), dict(attrs), list(output_names))

    def mark_output(self, tensor: int) -> None:
        """Make tensor ``tensor`` a network output (idempotent)."""
        super().mark_output(tensor)

    def set_shape(self, tensor: int, shape: Sequence[int]) -> None:
        """Record the shape of tensor ``tensor`` (batch dimension -1 where dynamic)."""
        super().set_shape(tensor, list(shape))

    # ---- TensorRT-style builders -------------------------------------------------

    def add_convolution(self, input: int, num_outputs: int, kernel: Sequence[int], weights: np.ndarray,
                        bias: Optional[np.ndarray] = None, strides: Sequence[int] = (1, 1),
                        pads: Sequence[int] = (0, 0, 0, 0), groups: int = 1,
                        dilations: Sequence[int] = (1, 1), name: str = "") -> int:
        """2-D convolution with OIHW float32 ``weights`` ``[num_outputs, C/groups, kh, kw]``.

        ``pads`` are ONNX's ``[top, left, bottom, right]``. Returns the output tensor id.
        """
        return super().add_convolution(input, num_outputs, list(kernel), np.asarray(weights, np.float32),
                                       None if bias is None else np.asarray(bias, np.float32),
                                       list(strides), list(pads), groups, list(dilations), name)

    def add_activation(self, input: int, kind: str, alpha: float = 0.0, beta: float = 0.0,
                       name: str = "") -> int:
        """Activation ``kind``: Relu, Sigmoid, Tanh, LeakyRelu (alpha) or Clip (alpha=min, beta=max)."""
        return super().add_activation(input, kind, alpha, beta, name)

    def add_fully_connected(self, input: int, num_outputs: int, weights: np.ndarray,
                            bias: Optional[np.ndarray] = None, name: str = "") -> int:
        """``y = x W^T + b`` with float32 ``weights`` ``[num_outputs, K]`` (a Gemm node)."""
        return super().add_fully_connected(input, num_outputs, np.asarray(weights, np.float32),
                                           None if bias is None else np.asarray(bias, np.float32), name)

    def add_pooling(self, input: int, kind: str, kernel: Sequence[int], strides: Sequence[int],
                    pads: Sequence[int] = (0, 0, 0, 0), name: str = "") -> int:
        """2-D pooling; ``kind`` is MaxPool or AveragePool."""
        return super().add_pooling(input, kind, list(kernel), list(strides), list(pads), name)

    def add_elementwise(self, a: int, b: int, op: str, name: str = "") -> int:
        """Broadcasting binary op: Add, Sub, Mul, Div or Pow."""
        return super().add_elementwise(a, b, op, name)

    def add_concatenation(self, inputs: Sequence[int], axis: int = 1, name: str = "") -> int:
        """Concatenate ``inputs`` along ``axis``."""
        return super().add_concatenation(list(inputs), axis, name)

    # ---- inspection --------------------------------------------------------------

    def tensors(self) -> List[Dict[str, Any]]:
        """Every tensor as a dict, indexed by id."""
        return super().tensors()

    def tensor(self, id: int) -> Dict[str, Any]:
        """Tensor ``id`` as a dict."""
        return super().tensor(id)

    def nodes(self) -> List[Dict[str, Any]]:
        """Every node as a dict, indexed by id (insertion order, not necessarily topological)."""
        return super().nodes()

    def node(self, id: int) -> Dict[str, Any]:
        """Node ``id`` as a dict."""
        return super().node(id)

    def inputs(self) -> List[int]:
        """Ids of the graph inputs, in declaration order."""
        return super().inputs()

    def outputs(self) -> List[int]:
        """Ids of the graph outputs, in the order they were marked."""
        return super().outputs()

    def find_tensor(self, name: str) -> int:
        """Id of the tensor called ``name``, or -1."""
        return super().find_tensor(name)

    def constant_data(self, tensor: Union[int, str]) -> np.ndarray:
        """A copy of a constant tensor's data (by id or name), with its shape and dtype."""
        if isinstance(tensor, str):
            name, tensor = tensor, self.find_tensor(tensor)
            if tensor < 0:
                raise _core.InvalidArgumentError(f"no tensor named '{name}'")
        return super().constant_data(tensor)

    def validate(self) -> None:
        """Raise InvalidArgumentError on dangling ids, missing outputs or a cycle."""
        super().validate()


def create_network() -> Network:
    """An empty network (TensorRT's ``builder.create_network()``)."""
    return Network()
