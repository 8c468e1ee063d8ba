"""Bias correction's row-wise shifts: MatMul (transformer Linears) and the
recurrent layers' GEMMs, one row a token or a time step.

bias_correction.py measures these layers per chunk of samples as the median
over the chunk's rows of the row's error ``q(x) q(W) - x W`` per output
column (gate row), averaged over the chunks (acc24: a few outlier tokens
that int8 clips set a mean that every other token would carry). This file
says which rows and runs the products:

- **Real tokens only** (:func:`token_mask`): where the network has a mask
  input in the calibration feed (HF encoders' ``attention_mask``, found by
  the graph's structure, whatever its name: attention_mask.py; acc30), a row whose token the mask zeroes is
  padding and is left out of the median: padded rows' activations differ
  from real tokens' (all-MiniLM-L6's 64-token calibration batches are 60%
  padding), and the correction is for the rows that reach the output.
  Rows line up with the mask where the layer's input is ``[batch, seq, K]``
  over a ``[batch, seq]`` mask (or ``[batch * seq, K]``, batch-major).
- **The recurrent GEMM** ``h R'`` of an LSTM / RNN whose state is int8
  (lower_int8_rnn.cc: the state's scale is the largest of Y's, Y_h's and
  initial_h's; GRU keeps ``h R'`` in float32): its rows are each step's
  previous state, ``initial_h`` (zeros where absent) then Y one step back
  (forward) or ahead (reverse), per direction; its row errors add to the
  input GEMM's row by row (both land in the gate pre-activation), the median
  is taken of their sum, and the shift goes into B's Wb half
  (``Builder.add_to_bias``).

Nothing here is run for a Conv / Gemm (bias_correction.py's taps).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from .. import _core
from .._numerics import quantize_weights as _quantize_int8
from .attention_mask import mask_input
from .metrics import fake_quantize

__all__ = ["RECURRENT", "ROWS_PER_CHUNK", "RecurrentGemm", "mask_input", "row_error_engine", "sample_rows",
           "state_inputs", "token_mask"]

# Most rows of a chunk the median of a MatMul / recurrent layer takes (evenly strided
# over the chunk's rows, real tokens only where a mask says which): the two
# products per chunk and the median are the measurement's cost.
ROWS_PER_CHUNK = 128

# Whether the recurrent GEMM's shift is measured and added (a switch for the
# benchmarks' on / off rows; the rule itself is on).
RECURRENT = True

def token_mask(values: Mapping[str, np.ndarray], mask: Optional[str], x_shape: tuple[int, ...]
               ) -> Optional[np.ndarray]:
    """Which rows of a layer input of shape ``x_shape`` (as ``[-1, K]``) are
    real tokens: ``values[mask] != 0`` flattened, where the rows line up with
    the mask (``[batch, seq, K]`` over ``[batch, seq]``, or ``[batch * seq, K]``);
    None (every row) otherwise."""
    if mask is None or mask not in values:
        return None
    m = np.asarray(values[mask])
    lined_up = tuple(x_shape[:-1]) == m.shape or (len(x_shape) == 2 and x_shape[0] == m.size)
    return m.reshape(-1) != 0 if lined_up else None


def sample_rows(x: np.ndarray, xq: np.ndarray, keep: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(x, q(x) - x)`` as contiguous ``[rows, K]``: the rows ``keep`` marks
    (all where None), at most :data:`ROWS_PER_CHUNK` of them, evenly strided."""
    x, xq = x.reshape(-1, x.shape[-1]), xq.reshape(-1, x.shape[-1])
    if keep is not None:
        x, xq = x[keep], xq[keep]
    step = max(1, -(-len(x) // ROWS_PER_CHUNK))
    x, xq = x[::step], xq[::step]
    return np.ascontiguousarray(x), np.ascontiguousarray(xq - x)


def row_error_engine(qw: np.ndarray, dw: np.ndarray) -> Any:
    """An FP32 engine giving q(x) q(W) - x W per row, ``e`` [rows, N], from
    the rows ``x`` [rows, K] and ``dx`` = q(x) - x: as dx q(W) + x dw, with
    ``qw`` = q(W) and ``dw`` = q(W) - W ([K, N]): two products of small
    terms (no cancellation of two large ones in float32). int8rt's SGEMM,
    not numpy's: on the 2-CPU test machine numpy's OpenBLAS took 18x the
    CPU time on all-MiniLM-L6's shapes (a minmax build 2.0 -> 15.7 CPU s)."""
    net = _core.Network()
    x, dx = (net.add_input(n, [-1, qw.shape[0]], "float32") for n in ("x", "dx"))
    (a,) = net.add_node("MatMul", "dx_qw", [dx, net.add_constant("qw", np.ascontiguousarray(qw, np.float32))], {},
                        ["dx_qw"])
    (b,) = net.add_node("MatMul", "x_dw", [x, net.add_constant("dw", np.ascontiguousarray(dw, np.float32))], {},
                        ["x_dw"])
    net.mark_output(net.add_node("Add", "e", [a, b], {}, ["e"])[0])
    return _core.Builder(net, "fp32").build({})


def _state_scale(network: Any, node: dict[str, Any], scales: Mapping[str, float]) -> float:
    """The int8 scale of an LSTM's / RNN's state as lower_int8_rnn.cc picks
    it (the largest of Y's, Y_h's and initial_h's; a constant initial_h's
    own max |h|), or 0 where its recurrent GEMM stays float32."""
    if node["op"] == "GRU":
        return 0.0
    tensors, ins = network.tensors(), node["inputs"]
    s = max([scales.get(tensors[t]["name"], 0.0) for t in node["outputs"][:2] if t >= 0] + [0.0])
    if len(ins) > 5 and ins[5] >= 0:
        h0 = tensors[ins[5]]
        if h0["name"] in scales:
            s = max(s, scales[h0["name"]])
        elif h0["is_constant"]:
            amax = float(np.abs(network.constant_data(ins[5])).max(initial=0.0))
            s = max(s, amax / 127.0) if np.isfinite(amax) else 0.0
        else:
            return 0.0
    return float(s)


def state_inputs(network: Any, node: dict[str, Any]) -> set[str]:
    """The float32 tensors :class:`RecurrentGemm` reads for an LSTM / RNN
    (its Y and a runtime initial_h), whatever the scales; none for a GRU."""
    if node["op"] == "GRU":
        return set()
    tensors, ins, outs = network.tensors(), node["inputs"], node["outputs"]
    names = {tensors[outs[0]]["name"]} if outs and outs[0] >= 0 else set()
    if len(ins) > 5 and ins[5] >= 0 and not tensors[ins[5]]["is_constant"]:
        names.add(tensors[ins[5]]["name"])
    return names


class RecurrentGemm:
    """The row errors of an LSTM's / RNN's recurrent GEMM ``h R'`` per
    direction, from each chunk's float32 Y (and initial_h); ``make`` gives
    None where the GEMM stays float32 (GRU, no state scale) or rows cannot
    be formed (sequence lengths, no Y)."""

    def __init__(self, y_name: str, h0_name: Optional[str], h0_const: Optional[np.ndarray], h_scale: float,
                 directions: list[str], engines: list[Any]) -> None:
        self.y_name, self.h0_name, self.h0_const = y_name, h0_name, h0_const
        self.h_scale, self.directions, self.engines = h_scale, directions, engines

    @classmethod
    def make(cls, network: Any, node: dict[str, Any], scales: Mapping[str, float]) -> Optional["RecurrentGemm"]:
        ins, outs, tensors = node["inputs"], node["outputs"], network.tensors()
        h_scale = _state_scale(network, node, scales)
        if not RECURRENT or h_scale <= 0 or not outs or outs[0] < 0 or (len(ins) > 4 and ins[4] >= 0):
            return None
        direction = node["attrs"].get("direction", "forward")
        directions = ["forward", "reverse"] if direction == "bidirectional" else [direction]
        r = network.constant_data(ins[2]).astype(np.float32)  # [dirs, gates * hidden, hidden]
        engines = []
        for d in range(r.shape[0]):
            q, scale = _quantize_int8(r[d], 0)  # per gate row, as lower_int8_rnn.cc
            qr = (q.astype(np.float32) * scale.reshape(-1, 1)).astype(np.float32)
            engines.append(row_error_engine(qr.T, (qr - r[d]).T).create_execution_context())
        h0 = ins[5] if len(ins) > 5 and ins[5] >= 0 else -1
        const = network.constant_data(h0).astype(np.float32) if h0 >= 0 and tensors[h0]["is_constant"] else None
        return cls(tensors[outs[0]]["name"], tensors[h0]["name"] if h0 >= 0 and const is None else None, const,
                   h_scale, directions, engines)

    def wanted(self) -> set[str]:
        """The float32 tensors a chunk's measurement reads (:func:`state_inputs`)."""
        return {self.y_name} | ({self.h0_name} if self.h0_name else set())

    def errors(self, values: Mapping[str, np.ndarray]) -> Optional[np.ndarray]:
        """The recurrent GEMM's row errors ``q(h) q(R)' - h R'`` for each step's
        previous state, ``[rows, dirs * gates * hidden]`` with the rows in the
        order and stride :func:`sample_rows` gives the layer's input X
        ``[seq, batch, input]`` (so the two GEMMs' errors add row by row into
        the gate pre-activation's), or None where the chunk's values lack Y."""
        y = values.get(self.y_name)
        if y is None or y.ndim != 4:
            return None
        dirs, batch, hidden = y.shape[1:]
        h0 = self.h0_const if self.h0_name is None else values.get(self.h0_name)
        h0 = np.zeros((dirs, batch, hidden), np.float32) if h0 is None else np.broadcast_to(h0, (dirs, batch, hidden))
        out = []
        for d, (direction, ctx) in enumerate(zip(self.directions, self.engines)):
            steps = y[:, d]
            prev = (np.concatenate([h0[d][None], steps[:-1]]) if direction == "forward"
                    else np.concatenate([steps[1:], h0[d][None]]))
            x, dx = sample_rows(prev, fake_quantize(prev, self.h_scale), None)
            out.append(ctx.run({"x": x, "dx": dx})["e"])
        return np.concatenate(out, axis=1)
