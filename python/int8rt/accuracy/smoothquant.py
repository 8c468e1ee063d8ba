"""SmoothQuant: move activation outliers into the weights of MatMuls and Gemms.

Following Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training
Quantization for Large Language Models" (ICML 2023, section 4), as NNCF's
SmoothQuant applies it: transformer activations feeding a linear layer have
a few channels (hidden features) far wider than the rest, so a per-tensor
int8 scale leaves the others a handful of levels. For a float tensor X
(last axis: K channels) read by linear layers with constant weights
(MatMul X @ W with W [K, N], Gemm with B [K, N] or, transB, [N, K]),

    s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)          (j = 1..K)
    X' = X * (1 / s),   W'_j = s_j * W_j

where max|X_j| is measured on calibration samples and max|W_j| is over the
row j of every such consumer's weights. X' @ W' = X @ W up to float
rounding; X' is what is calibrated and quantized. The factor 1/s is a new
``Mul`` node in front of those consumers only (``Builder.insert_channel_scale``;
other readers, such as a residual Add, still read X), and W' replaces each
consumer's weights (``Builder.set_node_constants``). alpha = 0.5 is the
paper's default. Layers kept in float (``layer_precisions``) are left out.

The statistics need calibration data before the histograms are made, while
TensorRT's ``get_batch`` stream is read once: :class:`Prefetch` pulls the
first batches (up to ``SAMPLES`` samples), they give the statistics, and
calibration then replays them before reading on.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .taps import Samples, batches, fp32_tap_engine, groups

__all__ = ["DEFAULT_ALPHA", "Prefetch", "SAMPLES", "find_sites", "smooth"]

logger = logging.getLogger("int8rt")

DEFAULT_ALPHA = 0.5
SAMPLES = 64
# Measuring runs keep the site tensors of this many samples at once.
CHUNK = 8
MIN_SCALE = 1e-5


def _weight_rows(network: Any, tensors: list[dict[str, Any]], node: dict[str, Any], x: int) -> Optional[np.ndarray]:
    """The consumer's constant weights as [K, N] when it is a linear layer
    reading ``x`` as its data input, else None."""
    ins = node["inputs"]
    if node["op"] not in ("MatMul", "Gemm") or len(ins) < 2 or ins[0] != x or ins[1] == x or ins[1] < 0:
        return None
    w = tensors[ins[1]]
    if not w["is_constant"] or w["dtype"] != "float32" or len(w["shape"]) != 2:
        return None
    data = network.constant_data(ins[1])
    if node["op"] == "Gemm":
        attrs = node["attrs"]
        if attrs.get("transA", 0):
            return None
        return data.T if attrs.get("transB", 0) else data
    return data


def find_sites(network: Any, skip: set[str] = frozenset()) -> dict[str, list[int]]:
    """Float activation name -> the linear consumers (node indices) to smooth."""
    tensors, nodes = network.tensors(), network.nodes()
    sites: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        if node["name"] in skip or not node["inputs"]:
            continue
        x = node["inputs"][0]
        if x < 0 or tensors[x]["is_constant"] or tensors[x]["dtype"] != "float32" or not tensors[x]["shape"]:
            continue
        w = _weight_rows(network, tensors, node, x)
        if w is None or tensors[x]["shape"][-1] != w.shape[0]:
            continue
        sites.setdefault(tensors[x]["name"], []).append(i)
    return sites


def channel_maxima(network: Any, names: Sequence[str], data: Samples, chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """max |x| per last-axis channel of each named tensor over ``data``, run
    ``chunk`` samples at a time (a network whose batch axis is fixed takes
    only its own batch size)."""
    out: dict[str, np.ndarray] = {}
    inputs = {n for g in groups(data) for n in g}
    wanted = [n for n in names if n not in inputs]
    ctx = fp32_tap_engine(network, wanted).create_execution_context()
    for part in batches(data, chunk):
        values = ctx.run(part)
        values.update(part)
        for n in names:
            v = np.abs(np.asarray(values[n], np.float32))
            m = v.reshape(-1, v.shape[-1]).max(axis=0)
            out[n] = m if n not in out else np.maximum(out[n], m)
    return out


def smooth(builder: Any, data: Samples, *, alpha: float = DEFAULT_ALPHA,
           skip: set[str] = frozenset(), chunk: int = CHUNK) -> int:
    """Smooths every site of ``builder``'s optimized network with statistics
    from ``data`` ({input name: array}, or a list of such groups); returns
    the number of sites."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smoothquant alpha must be in [0, 1], got {alpha}")
    network = builder.optimized_network()
    nodes, tensors = network.nodes(), network.tensors()
    sites = find_sites(network, skip)
    if not sites:
        return 0
    amax = channel_maxima(network, sorted(sites), data, chunk)
    updates = []
    inserted = 0
    for name, users in sites.items():
        x = network.find_tensor(name)
        rows = [_weight_rows(network, tensors, nodes[i], x) for i in users]
        wmax = np.max([np.abs(w).max(axis=1) for w in rows], axis=0).astype(np.float64)
        a = amax[name].astype(np.float64)
        s = np.ones_like(a)
        ok = (a > 0) & (wmax > 0)
        s[ok] = a[ok] ** alpha / wmax[ok] ** (1.0 - alpha)
        s = np.maximum(s, MIN_SCALE)
        for i, w in zip(users, rows):
            scaled = (w * s[:, None]).astype(np.float32)
            gemm_t = nodes[i]["op"] == "Gemm" and nodes[i]["attrs"].get("transB", 0)
            updates.append((nodes[i]["name"], 1, (scaled.T if gemm_t else scaled).ravel().tolist()))
        builder.insert_channel_scale(name, [nodes[i]["name"] for i in users], (1.0 / s).astype(np.float32).tolist())
        inserted += 1
    builder.set_node_constants(updates)
    logger.info("smoothquant (alpha %.2f): %d activations, %d linear layers", alpha, inserted, len(updates))
    return inserted


class Prefetch:
    """The calibrator's first batches, kept so that they can be read twice.

    ``Prefetch(calibrator, names, samples)`` calls ``get_batch(names)`` until
    ``samples`` samples (axis 0) are held or the data ends, each checked by
    ``check(batch, index)`` (the calibration loop's checks); :attr:`data` is
    them, one group of arrays per input shape. The
    object then stands in for the calibrator in the calibration loop
    (``get_batch`` returns the held batches first, then the calibrator's)."""

    def __init__(self, calibrator: Any, names: Sequence[str], samples: int = SAMPLES,
                 check: Optional[Callable[[Any, int], Any]] = None) -> None:
        self._calibrator = calibrator
        self._check = check
        self._held: list[Any] = []
        self.first_rows = 0  # samples in the first batch: the size the statistics run at
        self._ended = False
        count = 0
        while count < samples:
            batch = calibrator.get_batch(list(names))
            if batch is None or batch is False or (hasattr(batch, "__len__") and len(batch) == 0):
                self._ended = True
                break
            if check is not None:  # the calibration loop's checks, before the batch is run for statistics
                check(batch, len(self._held) + 1)
            self._held.append(batch)
            arrays = list(batch.values()) if isinstance(batch, Mapping) else list(batch)
            rows = int(np.asarray(arrays[0]).shape[0]) if np.ndim(arrays[0]) else 1
            self.first_rows = self.first_rows or rows
            count += rows
        self._names = list(names)

    @property
    def data(self) -> Optional[list[dict[str, np.ndarray]]]:
        """The held samples, one group (one array per input) per input shape."""
        by_shape: dict[tuple, list[dict[str, np.ndarray]]] = {}
        for b in self._held:
            arrays = [b[n] for n in self._names] if isinstance(b, Mapping) else list(b)
            part = {n: np.asarray(a) for n, a in zip(self._names, arrays)}
            by_shape.setdefault(tuple(part[n].shape[1:] for n in self._names), []).append(part)
        return [{n: np.concatenate([p[n] for p in parts]) for n in self._names}
                for parts in by_shape.values()] or None

    def get_batch_size(self) -> int:
        return self._calibrator.get_batch_size()

    def get_batch(self, names: Sequence[str]) -> Any:
        if self._held:
            return self._held.pop(0)
        if self._ended:
            return None
        return self._calibrator.get_batch(list(names))

    def __len__(self) -> int:
        from ..calib.session import expected_batches

        count = expected_batches(self._calibrator)
        if count is None:
            raise TypeError("unknown length")
        return count
