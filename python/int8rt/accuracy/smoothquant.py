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
TensorRT's ``get_batch`` stream is read once: :class:`Prefetch` reads the
whole stream first, holding its batches (the inputs only) up to
``BUDGET_BYTES``; every batch held gives the statistics (a maximum: one
late sample with an outlier channel moves its factor, as it moves the
histograms the thresholds come from), and calibration then replays them
before reading on. Past the budget the rest of the stream is read by the
calibration loop alone, and the log says the statistics came from the
first samples. Until 2026-12-05 (RESULTS_accuracy.md, acc21) the
statistics read the first 64 samples only, so an outlier channel that
appears later in the stream was clipped by the smoothed tensor's scale.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .pass_values import BUDGET_BYTES
from .taps import Samples, WholeBatch, batch_samples, batches, fp32_tap_engine, groups

__all__ = ["BUDGET_BYTES", "DEFAULT_ALPHA", "Prefetch", "find_sites", "smooth"]

logger = logging.getLogger("int8rt")

DEFAULT_ALPHA = 0.5
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
    """The calibrator's batches, read ahead so that they can be read twice.

    ``Prefetch(calibrator, names)`` calls ``get_batch(names)`` until the
    data ends or the batches held pass ``budget`` bytes (their arrays'),
    each checked by ``check(batch, index)`` (the calibration loop's
    checks); :attr:`data` is them. The object then stands in for the
    calibrator in the calibration loop (``get_batch`` returns the held
    batches first, then the calibrator's)."""

    def __init__(self, calibrator: Any, names: Sequence[str], *, budget: int = BUDGET_BYTES,
                 check: Optional[Callable[[Any, int], Any]] = None,
                 shapes: Optional[Mapping[str, Sequence[int]]] = None) -> None:
        self._calibrator = calibrator
        self._names = list(names)
        self._held: deque[Any] = deque()
        self._parts: list[dict[str, np.ndarray]] = []  # the held batches as {name: array}
        self.first_rows = 0  # samples in the first batch: the size the statistics run at
        self.samples = 0     # samples held (taps.batch_samples of each batch)
        self._ended = False
        size = 0
        while size <= budget:
            batch = calibrator.get_batch(list(names))
            if batch is None or batch is False or (hasattr(batch, "__len__") and len(batch) == 0):
                self._ended = True
                break
            if check is not None:  # the calibration loop's checks, before the batch is run for statistics
                check(batch, len(self._held) + 1)
            self._held.append(batch)
            arrays = [batch[n] for n in self._names] if isinstance(batch, Mapping) else list(batch)
            part = {n: np.asarray(a) for n, a in zip(self._names, arrays)}
            n = batch_samples(part, shapes)
            # inputs not all batch-first (a state [2, N, H]) are run as they came
            batch_first = len({a.shape[0] for a in part.values() if a.ndim}) <= 1
            self._parts.append(part if batch_first else WholeBatch(part, n))
            self.first_rows = self.first_rows or n
            self.samples += n
            size += sum(a.nbytes for a in part.values())
        if not self._ended:
            logger.warning("smoothquant: statistics from the first %d calibration samples (%d batches): the inputs "
                           "held to replay them reached %.1f MB; the later ones are calibrated but not measured",
                           self.samples, len(self._held), size / 1e6)

    @property
    def data(self) -> Optional[list[dict[str, np.ndarray]]]:
        """The held batches, one group (one array per input) each, until the
        replay starts (then they are let go); None if none."""
        return list(self._parts) or None

    def get_batch_size(self) -> int:
        return self._calibrator.get_batch_size()

    def get_batch(self, names: Sequence[str]) -> Any:
        if self._held:
            self._parts.clear()  # the statistics are taken: what is replayed need not stay
            return self._held.popleft()
        if self._ended:
            return None
        return self._calibrator.get_batch(list(names))

    def __len__(self) -> int:
        from ..calib.session import expected_batches

        count = expected_batches(self._calibrator)
        if count is None:
            raise TypeError("unknown length")
        return count
