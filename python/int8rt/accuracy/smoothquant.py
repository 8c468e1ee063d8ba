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

The statistics need the whole calibration stream, which TensorRT's
``get_batch`` hands over once, and X' needs a histogram for its threshold.
In a build (:class:`InPass`) the calibration pass runs the network as it
is, and after each batch the sites' values are binned per channel
(smooth_stats.py: exact per-channel maxima, power-of-two-range histograms
of bounded size); once the stream has ended the factors come from the
maxima of every batch, the network is smoothed (a fresh builder, the
rewrite spliced into the recorded rewrites where it would have stood
before calibration, builder._Rewrites.splice) and each X' gets the
histogram rebuilt from X's per-channel ones at its factors. Nothing is
replayed and nothing of the stream is held. Until 2026-12-05 the
statistics came from the first 64 samples (acc21: from the batches held
to replay them, up to 1 GB of inputs); RESULTS_accuracy.md, acc25.
:func:`smooth` smooths a builder from samples given directly.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .smooth_stats import ChannelHistograms
from .taps import Samples, batches, fp32_tap_engine, groups

__all__ = ["DEFAULT_ALPHA", "InPass", "find_sites", "rewrite_calls", "smooth"]

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


def rewrite_calls(network: Any, sites: dict[str, list[int]], amax: dict[str, np.ndarray],
                  alpha: float = DEFAULT_ALPHA) -> list[tuple[str, tuple]]:
    """The rewrite of ``network`` (a Builder's optimized network) that
    smooths ``sites`` (:func:`find_sites`) with the per-channel maxima
    ``amax``, as Builder calls (method, arguments): one
    ``insert_channel_scale`` per activation (the factors 1 / s), then one
    ``set_node_constants`` with every consumer's weights times s."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smoothquant alpha must be in [0, 1], got {alpha}")
    nodes, tensors = network.nodes(), network.tensors()
    calls: list[tuple[str, tuple]] = []
    updates = []
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
        calls.append(("insert_channel_scale", (name, [nodes[i]["name"] for i in users],
                                               (1.0 / s).astype(np.float32).tolist())))
    calls.append(("set_node_constants", (updates,)))
    return calls


def smooth(builder: Any, data: Samples, *, alpha: float = DEFAULT_ALPHA,
           skip: set[str] = frozenset(), chunk: int = CHUNK) -> int:
    """Smooths every site of ``builder``'s optimized network (before its
    calibration) with statistics from ``data`` ({input name: array}, or a
    list of such groups), run through a float32 engine; returns the number
    of sites."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smoothquant alpha must be in [0, 1], got {alpha}")
    network = builder.optimized_network()
    sites = find_sites(network, skip)
    if not sites:
        return 0
    calls = rewrite_calls(network, sites, channel_maxima(network, sorted(sites), data, chunk), alpha)
    for method, args in calls:
        getattr(builder, method)(*args)
    logger.info("smoothquant (alpha %.2f): %d activations, %d linear layers", alpha, len(sites),
                len(calls[-1][1][0]))
    return len(sites)


def _factors(calls: list[tuple[str, tuple]]) -> dict[str, np.ndarray]:
    """Each smoothed activation's factors (1 / s) in ``calls``."""
    return {args[0]: np.asarray(args[2], np.float32) for method, args in calls if method == "insert_channel_scale"}


class InPass:
    """SmoothQuant in a build: statistics from the calibration pass itself
    (module docstring).

    Made before calibration on the builder's optimized ``network``; the
    build's calibration loop passes each batch through :meth:`feed` (the
    builder's last batch) or, where the builder runs no batch (sharded
    calibration's driver), :meth:`tapped` (a float32 engine of the sites
    alone); the auto calibrator's choice, which reads histograms of the
    kept samples only, passes its rows through :meth:`observe`. After the
    pass, :meth:`finish` smooths and hands out the histograms.
    """

    def __init__(self, network: Any, sites: dict[str, list[int]], alpha: float, at: int) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"smoothquant alpha must be in [0, 1], got {alpha}")
        self.network, self.sites, self.alpha = network, sites, alpha
        self.at = at  # where in the recorded rewrites the smoothing stands (before calibration)
        self.names = sorted(sites)
        inputs = {network.tensor(i)["name"] for i in network.inputs()}
        self._read = [n for n in self.names if n not in inputs]
        self.stats = ChannelHistograms(self.names)  # every sample calibration ran
        self.fit: Optional[ChannelHistograms] = None  # the kept samples the auto choice reads
        self._tap: Any = None
        self._last: dict[str, np.ndarray] = {}  # the site values of the batch just run, and its rows
        self._last_rows: Optional[int] = None

    def _values(self, read: Callable[[str], Any], inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {n: np.asarray(inputs[n]) for n in self.names if n not in self._read}
        for n in self._read:
            v = read(n)
            if v is None:
                raise RuntimeError(f"smoothquant: the calibration pass kept no value of '{n}'")
            values[n] = v
        return values

    def feed(self, feed: Callable[[dict[str, np.ndarray]], None], builder: Any
             ) -> Callable[[dict[str, np.ndarray]], None]:
        """``feed`` (runs ``builder`` on a batch), then the batch's site
        values into :attr:`stats`."""
        def run(inputs: dict[str, np.ndarray]) -> None:
            feed(inputs)
            self._last = self._values(builder.copy_last, inputs)
            self._last_rows = next((np.shape(a)[0] for a in inputs.values() if np.ndim(a)), None)
            self.stats.observe(self._last)
        return run

    def tapped(self, feed: Callable[[dict[str, np.ndarray]], None]) -> Callable[[dict[str, np.ndarray]], None]:
        """``feed``, then the batch's site values from a float32 engine of
        the sites into :attr:`stats` (a driver whose builder runs no batch)."""
        def run(inputs: dict[str, np.ndarray]) -> None:
            feed(inputs)
            if self._tap is None:
                self._tap = fp32_tap_engine(self.network, self._read).create_execution_context()
            values = self._tap.run(inputs)
            self.stats.observe(self._values(values.get, inputs))
        return run

    def observe(self, observe: Callable[[dict[str, np.ndarray], Optional[np.ndarray], Any], None]
                ) -> Callable[[dict[str, np.ndarray], Optional[np.ndarray], Any], None]:
        """``observe(inputs, rows, collector)`` (the auto choice's rows
        ``rows`` of the batch :meth:`feed` has just run; None: all of it),
        then those rows' site values into :attr:`fit`."""
        self.fit = ChannelHistograms(self.names)

        def run(inputs: dict[str, np.ndarray], rows: Optional[np.ndarray], collector: Any) -> None:
            observe(inputs, rows, collector)
            # the rows of the batch :meth:`feed` has just measured; a site
            # whose axis 0 is not the batch's (a Gemm's [N * T, K] input) whole
            last, n = self._last, self._last_rows
            self.fit.observe({k: v[rows] if rows is not None and v.ndim > 1 and v.shape[0] == n else v
                              for k, v in last.items()})
        return run

    def finish(self, splice: Callable[[int, list[tuple[str, tuple]]], Any], collectors: list[tuple[Any, str]]) -> Any:
        """Smooths with the maxima of every batch the pass ran:
        ``splice(at, calls)`` puts the rewrite into the recorded rewrites
        and returns the builder made with it; each collector
        (``int8rt.calib.Collector``, and ``"stats"`` or ``"fit"``: which
        statistics it was fed alike) gets each smoothed activation's
        histogram. Returns that builder."""
        calls = rewrite_calls(self.network, self.sites, self.stats.maxima(), self.alpha)
        builder = splice(self.at, calls)
        factors = _factors(calls)
        for collector, which in collectors:
            stats = self.stats if which == "stats" else self.fit
            if collector is None or stats is None or not stats.batches:
                continue
            for name, f in factors.items():
                collector.add_histogram(f"{name}::smoothed",
                                        stats.scaled(name, f, collector.num_bins, collector.policy))
        logger.info("smoothquant (alpha %.2f): %d activations, %d linear layers, statistics from all %d calibration "
                    "batches (%.1f MB of per-channel histograms)", self.alpha, len(self.sites), len(calls[-1][1][0]),
                    self.stats.batches, self.stats.nbytes / 1e6)
        return builder
