"""Building engines: ``int8rt.build_engine(model, BuilderConfig(...))``.

The path (DESIGN.md): import (ONNX) -> graph passes (BN folding, fusions) ->
float32 calibration over the calibrator's batches, every activation streamed
into its histogram in C++ with the GIL released -> thresholds with the
calibrator's algorithm -> INT8 lowering -> Engine. The calibration cache
works as in TensorRT: a cache the calibrator returns from
``read_calibration_cache`` whose algorithm matches skips calibration, and the
computed cache is handed to ``write_calibration_cache``. Tensor names in the
cache are the ONNX model's, so TensorRT (<= 10) can read it for the same model.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from ._names import check_names
from .accuracy import mixed_bf16, unsigned_form
from .accuracy.equalize import RESCALED_KEY
from .accuracy.run import CalibrationRun
from .calib import channel_ranges
from .calib.session import CalibrationResult, CalibrationSession, input_arrays, pull_batches
from .calibrator import IInt8Calibrator
from .data_calibrator import make_calibrator
from .engine import Engine
from .kernels import get_max_isa, set_max_isa
from .network import Network
from .progress import Progress, phase

__all__ = ["BuilderConfig", "build_engine", "devices"]

logger = logging.getLogger("int8rt")

ModelSource = Union[str, "os.PathLike[str]", bytes, Network, Any]


@dataclass
class BuilderConfig:
    """How to build an engine (TensorRT's ``IBuilderConfig``, as a dataclass).

    Attributes:
        precision: ``"int8"`` (needs a calibrator) or ``"fp32"``.
        calibrator: an int8rt calibrator (``int8rt.IInt8EntropyCalibrator2``
            subclass, ...), as TensorRT's ``config.int8_calibrator``; or the
            data itself, calibrated with EntropyCalibration2: an ONNX Runtime
            ``CalibrationDataReader``, a PyTorch ``DataLoader`` or any
            iterable of batches, an ``(iterable, transform)`` pair, or
            ``{input name: array}`` (see :func:`int8rt.make_calibrator`,
            which also picks another algorithm).
        layer_precisions: layer (node) name -> ``"fp32"`` keeps that layer in
            float32, ``"bf16"`` keeps it out of int8 and runs it in BF16 (a
            Conv or Gemm with constant weights, MatMul, or an LSTM with
            constant weights; another op stays float32 with a warning in the
            report, a GRU or RNN is refused), ``"int8"`` is the default
            (TensorRT's per-layer precision).
        bf16: float layers that have a BF16 kernel (Conv and Gemm with
            constant weights, MatMul, LSTM with constant weights: its GEMMs in
            BF16, its cell and state in FP32) run in BF16 (TensorRT's ``BuilderFlag.BF16``):
            with ``precision="int8"`` the layers left out of int8 (by the
            lowering, ``layer_precisions`` or ``accuracy_target``), with
            ``"fp32"`` all of them. BF16 products (weights and activations
            rounded to nearest even), FP32 accumulation; fast where the CPU has
            AVX512-BF16, the scalar reference kernel elsewhere. With
            ``channel_blocked`` (``precision="fp32"``), runs of BF16 1x1 and
            depthwise convs keep NCHW16c bfloat16 tensors up to their global
            pool, with the NCHW BF16 layers' bits (benchmarks/RESULTS.md
            section 140: MobileNetV2's BF16 convs 0.80-0.89x the time).
        channels_last: ``precision="fp32"``: consecutive float convs (and
            the element-wise layers between them) keep their tensors
            channels-last (NHWC) where a region runs at least 4 convs per
            layout conversion (ResNet's bottleneck stages; not MobileNet's
            pointwise pairs between depthwise convs), converted back at its
            edges (``int8rt.ToNHWC`` / ``ToNCHW`` layers): the same output
            bits as NCHW, fewer copies. Off by default: on ResNet-50 the 3x3
            convs gained and the 1x1 convs lost about as much
            (benchmarks/RESULTS.md section 113).
        channel_blocked: ``precision="fp32"``: runs of convs (MobileNet /
            EfficientNet / ResNet / GoogLeNet blocks, with their element-wise
            layers, squeeze-and-excitation scales, max and average pools,
            channel Concats and global average pools) keep their tensors channel-blocked (NCHW16c, ONNX Runtime's NCHWc
            layout), converted at the region's edges (``int8rt.ToNCHW16c`` /
            ``FromNCHW16c``); outputs within float rounding of NCHW's
            (benchmarks/RESULTS.md section 129: MobileNetV2/V3, EfficientNet
            and MnasNet FP32 engines 0.78-0.91x the time of NCHW ones). On by
            default where the building CPU has AVX-512 (without a vector
            kernel for the layout the builder leaves the engine NCHW and says
            so in the report). The layout is fixed in the engine file: an
            engine built with it and loaded on a CPU without AVX-512 runs
            those layers on the scalar reference kernels, so build engines
            for such CPUs with ``channel_blocked=False``.
        device: ``"cpu"`` or ``"cuda"`` (int8 conv / GEMM / quantize on the
            GPU's DP4A kernels, the other layers on the host). ``"cuda"``
            needs an int8rt built with the CUDA backend and a GPU
            (:func:`int8rt.devices` says what this build has); otherwise
            NotSupportedError is raised before any calibration. Calibration
            runs on the CPU either way.
        max_isa: cap on the CPU kernels chosen (``"ref"``, ``"avx2"``,
            ``"avxvnni"``, ``"avx512"``, ``"avx512vnni"``, ``"amx"``) while building;
            engines pick kernels again when loaded.
        num_threads: threads for calibration and the build (None: all CPUs).
        optimize: run the graph passes (BN folding, fusions).
        pointwise_tables: INT8 only: element-wise float chains between int8
            tensors (hardswish spelled Add/Clip/Mul/Div, ``x*a+b``, swish)
            run as one 256-entry int8 table each (``int8rt.QLut``); a
            conv / fully connected layer after the chain sees the same bytes
            as without.
        int8_gates: INT8 only: a squeeze-and-excitation block whose gated
            tensor is an element-wise chain (hardswish, swish) of an int8
            tensor runs without float layers: the gate
            (``x * gate[N, C, 1, 1]``) and the global pool beside it read the
            int8 tensor through the chain's 256 float values and compute
            what the float layers would, to the byte. On by default (before
            2026-12-03 it rounded the chain to int8 first and was off);
            False keeps the chain, pool and gate in float32.
        int8_matmul_pairs: INT8 only: a MatMul of two activations
            (attention's ``Q K^T`` and its product with ``V``) runs in int8
            with per-tensor scales for both operands (``int8rt.QMatMul``).
            On by default; False keeps those MatMuls in float32.
        progress: True (or an :class:`int8rt.Progress`) shows one bar per
            phase on stderr: import, calibration batches, threshold search,
            build. Off by default (library code is quiet); the CLI turns it on.
        batch_size: static batch for ONNX models whose batch dim is not symbolic.
        input_shapes: optimization profiles (TensorRT's ``IOptimizationProfile``):
            input name -> ``(min, opt, max)`` shapes, or one shape for
            ``min == opt == max``. Every run's shape must lie between min and
            max (a clear error otherwise); ``opt`` is what the builder plans
            for. Inputs without one take any size in their dynamic (-1)
            dimensions, which ONNX models declare with symbolic dims.
        distributed: an :class:`int8rt.calib.distributed.RayCalibration`:
            the calibration batches run through the float32 network on Ray
            workers and their histograms are merged (bit-exact with the
            ``power_of_two`` range policy). Needs an ONNX model and Ray.
        accuracy_check: INT8 only: hold out every ``holdout_every``-th
            calibration sample from the thresholds and, after the build,
            measure each int8 tensor (clipping, SQNR) and each output (INT8
            vs FP32) on them; warnings are logged and everything is in
            ``engine.build_report()`` (int8rt/accuracy/, docs/accuracy.md).
            False: every sample calibrates, as in TensorRT, and nothing is
            measured; the ``auto`` calibrator still holds the samples out
            to make its final choice on them (int8rt/accuracy/auto_choice.py).
        holdout_every: one calibration sample in this many is held out (>= 2).
        calibration_groups: ``auto`` only: the recording (clip, speaker,
            file, stream) each calibration batch comes from, one hashable
            label per batch in ``get_batch`` order; equal labels, one
            recording. auto's decisions then need to hold on every
            recording of at least three, and with fewer it keeps mse and
            no correction (int8rt/accuracy/recordings.py). None (default):
            inferred where the network feeds a state back (a batch whose
            state is zeros or not the one the batch before returned starts
            a recording); else each sample is its own. Whole batches only
            (a network with a fixed batch or a state input).
        auto_parts: ``auto`` only: after its whole-network choice of a
            threshold method, split the int8 tensors into this many
            contiguous parts in run order and let each, front to back, take
            another method's thresholds where the held-out samples are
            clearly closer to float32 with them (int8rt/accuracy/auto_parts.py;
            at most ``auto_parts * 3`` more engines lowered and run). 0
            (default): off (measured: benchmarks/RESULTS_accuracy.md acc40).
        equalize: INT8 only: cross-layer equalization before calibration:
            the output channels of a Conv followed (through a ReLU or
            nothing) by Convs are rescaled against those Convs' input
            weights, so the tensor between them fits one int8 scale better;
            the float32 network computes the same function
            (int8rt/accuracy/equalize.py). True: before calibration; False:
            never; None (default): the ``auto`` calibrator equalizes a copy
            after its choice of thresholds, calibrates the rescaled tensors
            on its kept samples, and keeps the equalized network where its
            held-out samples are clearly closer to float32 with it
            (``engine.build_report().auto_choice``); other calibrators: off
            (measured neutral on PP-OCR det/cls and digits and harmful on
            the dynamic-width recogniser, benchmarks/RESULTS_accuracy.md).
            When equalized, the cache's scales belong to the equalized
            network, not to the original one TensorRT would read it for.
        smoothquant: INT8 only: SmoothQuant before calibration: the
            activations read by MatMul / Gemm layers with constant weights
            are divided per channel by ``max|x|^alpha / max|w|^(1-alpha)``
            (measured on the first calibration samples) and the weights
            multiplied by it (int8rt/accuracy/smoothquant.py). Off by
            default (a small gain on a BERT, none on CNN heads; see
            ``equalize``).
        smoothquant_alpha: SmoothQuant's migration strength alpha.
        bias_correction: INT8 only: subtract from each Conv / Gemm bias (a
            MatMul's bias Add, inserted where it has none; an LSTM's, GRU's
            or RNN's gate bias) the
            per-channel mean shift int8 weights and inputs cause, measured on
            calibration samples (int8rt/accuracy/bias_correction.py). True:
            always; False: never; None (default): the ``auto`` calibrator
            builds the engine with and without it, per group of layers
            (Conv / Gemm, MatMul, recurrent;
            int8rt/accuracy/bias_groups.py), and keeps each group where its
            held-out samples are closer to float32 with it (the
            decision is in ``engine.build_report().auto_choice``); other
            calibrators: off.
        unsigned_activations: INT8 only: tensors that are never negative (a
            Conv / Gemm output through a fused Relu or Clip(min >= 0), and
            max pools / data movement of it) get 256 levels over
            [0, threshold] instead of 128: zero point -128, scale
            ``threshold / 255``, as ONNX Runtime's and NNCF's uint8
            activations (docs/numerics.md). Only where every layer reading
            the tensor takes a zero point exactly (Conv, Gemm / MatMul with
            constant weights, Add, max pool, data movement); others stay
            symmetric. The thresholds and the calibration cache are the
            symmetric ones (TensorRT's format; TensorRT reading the cache
            builds symmetric). True: always; False: never; None (default):
            the ``auto`` calibrator builds the engine both ways and keeps
            unsigned tensors where its held-out samples are closer to
            float32 (``engine.build_report().auto_choice``), except on a
            CPU without VNNI (AVX2 only: AMD Zen 3, Intel Skylake client),
            whose int8 convs read unsigned inputs on a slower tile
            (ResNet-50 1.5x the time), where it leaves them off; other
            calibrators: off. With this or ``asymmetric_activations``, the
            softmax probabilities inside a fused attention
            (``int8rt.QAttention``) are held on the same unsigned grid
            (255 levels over ``[0, threshold]``, ONNX Runtime's uint8
            Softmax output) instead of symmetric int8's codes 0..127.
        asymmetric_activations: INT8 only: an element-wise table's output
            whose values have a least value ``lo`` below 0 but above
            ``-threshold`` (SiLU >= -0.278, HardSwish >= -0.375, GELU >=
            -0.170, Mish, ELU; ``lo`` is the least of the table's 256 float
            values) gets 256 levels over ``[lo, threshold]``: scale
            ``(threshold - lo) / 255`` and the integer zero point mapping
            ``lo`` to -128, so 0.0 is exact (docs/numerics.md). Only where
            every layer reading it takes a zero point exactly (as for
            ``unsigned_activations``); others stay symmetric. The thresholds
            and the calibration cache stay the symmetric ones. On by default
            (centred cosine up on LeViT, MobileViT, MobileNetV3, DeiT and
            EfficientNet-B0 with one of two calibration sets, down 0.007 on
            its other; 1-2.5% more CPU time on MobileNetV3 and EfficientNet-B0;
            benchmarks/RESULTS_realnets.md, "Asymmetric activations").
            The same holds a PRelu's output folded into its Conv (one
            slope per channel, MTCNN's): ``lo`` is the least of
            ``-slope[k] * m[k]``, ``m[k]`` the pre-activation's channel max
            ``|x|`` over the calibration data (``Builder.channel_ranges``;
            a build from a cache without its channel-ranges sidecar keeps
            it symmetric): MTCNN ONet's relative L2 0.0316 -> 0.0246
            (benchmarks/RESULTS_accuracy.md acc60).
        channel_activations: INT8 only: a tensor whose channels' ranges
            over the calibration data spread widely (a HardSwish behind a
            folded BatchNorm) gets one scale per channel where the conv or
            table writing it and the convs reading it take one
            (csrc/engine/lower_int8_channel_grids.cc); the calibration cache
            keeps the per-tensor thresholds, which bound every channel's. A
            build from the cache alone (no data) has no per-channel ranges
            and stays per tensor; ``distributed`` calibration merges the
            workers' (the maxima per channel).
        accuracy_target: INT8 only, needs ``accuracy_check``: keep the
            fewest, most sensitive layers in float32 so that the score on the
            held-out samples reaches this (int8rt/accuracy/mixed.py); the
            score is the lowest centred cosine between INT8 and FP32 outputs,
            or ``accuracy_metric(fp32_outputs, int8_outputs)`` (higher is
            better). What was chosen and its latency: ``engine.build_report()``.
        accuracy_bf16: with ``accuracy_target``, where BF16 kernels run
            natively (AVX512-BF16), the layers kept out of int8 that have a
            BF16 kernel that pays (Conv of one group, Gemm with constant
            weights, MatMul) run in BF16 where the target is still met with
            them so, measured as the set was; else the fewest most sensitive
            of them stay FP32, else all (int8rt/accuracy/mixed_bf16.py).
            ``False`` keeps them FP32 (``int8rt build --accuracy-fp32``).
    """

    precision: str = "int8"
    calibrator: Any = None
    layer_precisions: Optional[dict[str, str]] = None
    bf16: bool = False
    channels_last: bool = False
    channel_blocked: bool = True
    device: str = "cpu"
    max_isa: Optional[str] = None
    num_threads: Optional[int] = None
    optimize: bool = True
    pointwise_tables: bool = True
    int8_gates: bool = True
    int8_matmul_pairs: bool = True
    progress: Union[bool, Progress] = False
    batch_size: Optional[int] = None
    input_shapes: Optional[Mapping[str, Any]] = None
    distributed: Any = None
    accuracy_check: bool = True
    holdout_every: int = 4
    calibration_groups: Optional[Sequence[Hashable]] = None
    auto_parts: int = 0
    equalize: Optional[bool] = None
    smoothquant: bool = False
    smoothquant_alpha: float = 0.5
    bias_correction: Optional[bool] = None
    unsigned_activations: Optional[bool] = None
    asymmetric_activations: bool = True
    channel_activations: bool = True
    accuracy_target: Optional[float] = None
    accuracy_metric: Optional[Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], float]] = None
    accuracy_bf16: bool = True


def devices() -> dict[str, str]:
    """The devices int8rt knows ("cpu", "cuda"), each mapped to ``"available"``
    or to the reason it cannot run engines here (not in this build, no GPU,
    no driver...): the message ``build_engine`` would raise."""
    out: dict[str, str] = {}
    for device in dict.fromkeys([*_core.known_devices(), "cuda"]):
        try:
            _core.require_device(device)
            out[device] = "available"
        except _core.NotSupportedError as e:
            out[device] = str(e)
    return out


def _to_network(model: ModelSource, batch_size: Optional[int],
                input_shapes: Optional[Mapping[str, Any]] = None) -> Network:
    if isinstance(model, _core.Network):
        network = copy.deepcopy(model) if input_shapes else model  # the caller's network stays as it was
    else:
        from .onnx import import_model

        network = import_model(model, batch_size=batch_size)
    for name, shapes in (input_shapes or {}).items():
        network.set_shape_range(name, *_shape_range(name, shapes))
    return network


def _shape_range(name: str, shapes: Any) -> tuple[list[int], list[int], list[int]]:
    """``(min, opt, max)`` from a triple of shapes or one shape."""
    seq = list(shapes)
    if seq and all(isinstance(s, (int, np.integer)) for s in seq):
        seq = [seq, seq, seq]
    if len(seq) != 3:
        raise ValueError(f"input_shapes['{name}'] must be (min, opt, max) shapes or one shape, got {shapes!r}")
    mn, opt, mx = ([int(d) for d in s] for s in seq)
    return mn, opt, mx


@contextlib.contextmanager
def _build_settings(config: BuilderConfig) -> Iterator[None]:
    """Applies max_isa / num_threads for the build and restores them after."""
    old_threads = _core.get_num_threads()
    old_isa = get_max_isa() if config.max_isa is not None else None
    try:
        if config.num_threads is not None:
            _core.set_num_threads(int(config.num_threads))
        if config.max_isa is not None:
            set_max_isa(config.max_isa)
        yield
    finally:
        if config.num_threads is not None:
            _core.set_num_threads(old_threads)
        if config.max_isa is not None:
            set_max_isa(None)
            if old_isa is not None and old_isa != get_max_isa():
                set_max_isa(old_isa)


def _builder_args(config: BuilderConfig) -> dict[str, Any]:
    """The native Builder's options from the config (the driver's and, when
    sharded, every worker's)."""
    return dict(precision=config.precision, layer_precisions=dict(config.layer_precisions or {}),
                optimize=config.optimize, device=config.device, pointwise_tables=config.pointwise_tables,
                int8_gates=config.int8_gates, bf16=config.bf16, int8_matmul_pairs=config.int8_matmul_pairs,
                channels_last=config.channels_last, channel_blocked=config.channel_blocked,
                unsigned_activations=bool(config.unsigned_activations) and config.precision == "int8",
                asymmetric_activations=bool(config.asymmetric_activations) and config.precision == "int8",
                channel_activations=bool(config.channel_activations) and config.precision == "int8")


def _calibrate(builder: _core.Builder, network: Network, model: ModelSource, config: BuilderConfig,
               calibrator: IInt8Calibrator, run: CalibrationRun, session: CalibrationSession,
               rewrites: "_Rewrites") -> CalibrationResult:
    """Runs TensorRT's calibration loop with the builder's float32 network as
    the forward pass; activations go straight from C++ into the histograms
    (on Ray workers when ``config.distributed`` says so). ``run``
    (accuracy/run.py) holds samples out for the accuracy check and chooses
    the auto calibrator's thresholds."""
    shapes = {t["name"]: t["shape"] for t in map(network.tensor, network.inputs())}
    inputs = {name: shapes[name] for name in builder.input_names()}
    dtypes = {t["name"]: t["dtype"] for t in map(network.tensor, network.inputs())}
    smoothing = rewrites.smoothing
    if not session.from_cache and config.distributed is not None:
        # the workers' per-channel maxima, merged (calib/distributed.py); SmoothQuant's statistics on the driver
        tap = smoothing.tapped if smoothing is not None else lambda feed: feed
        sharded = config.distributed.calibrate(
            model, config.batch_size, _builder_args(config), session, calibrator, inputs, config.progress,
            wrap=lambda feed: run.wrap(tap(_shapes_to(builder, feed)), session), rewrites=rewrites.calls,
            dtypes=dtypes, report=rewrites.keep_report_lines)
        _keep_calibration_keys(builder, rewrites, sharded.keys)
        _keep_channel_ranges(builder, rewrites, calibrator, sharded.ranges)
    elif not session.from_cache:

        def feed(inputs: dict[str, np.ndarray]) -> None:
            arrays = input_arrays(calibrator, inputs, dtypes)
            session.observe_with(lambda collector: builder.calibrate_batch(arrays, collector._native))

        def observe(inputs: dict[str, np.ndarray], rows: Optional[np.ndarray], collector: Any) -> None:
            # The auto choice's own histograms: the rows of the batch just run,
            # without a second float32 pass where the batch leads every tensor;
            # a whole batch (rows None: a fixed batch) as it ran.
            if rows is None:
                builder.observe_last(collector._native)
                return
            if builder.observe_rows([int(r) for r in rows], collector._native):
                return
            builder.calibrate_batch(input_arrays(calibrator, inputs, dtypes), collector._native)

        if smoothing is not None:  # SmoothQuant's statistics from the same batches
            feed, observe = smoothing.feed(feed, builder), smoothing.observe(observe)
        pull_batches(calibrator, session, list(inputs), run.wrap(feed, session, observe), progress=config.progress,
                     input_shapes=inputs, owner=type(calibrator).__name__)
        # the calibration batches' alone: auto's later passes leave them
        _keep_calibration_keys(builder, rewrites, builder.calibration_keys())
        _keep_channel_ranges(builder, rewrites, calibrator, builder.channel_ranges())
    if session.from_cache:
        # what the cache cannot hold, from its sidecar (calib/channel_ranges.py)
        ranges, shapes, keys = channel_ranges.from_calibrator(calibrator)
        if ranges:
            builder.set_channel_ranges(ranges)
            rewrites.keep_channel_ranges(ranges)
        _keep_calibration_keys(builder, rewrites, keys)
        # a profile the user gave says the shapes; so does a network whose
        # declared dims the stored ones do not fit (a cache shared by the
        # same network exported at another fixed size)
        if shapes and not config.input_shapes and _shapes_fit(inputs, shapes):
            builder.set_calibration_shapes(shapes)
            rewrites.keep_calibration_shapes(shapes)
        return session.finish(progress=config.progress)
    rewrites.keep_calibration_shapes(builder.calibration_shapes())
    if smoothing is not None:
        run.rewritten(smoothing.finish(
            lambda at, calls: rewrites.splice(lambda: _core.Builder(network, **_builder_args(config)), at, calls),
            [(session.collector, "stats"), (run.fit_collector, "fit")]))
    if not run.auto:  # the calibrator's own search, shown by finish()
        return session.finish(amaxes=run.thresholds(session), progress=config.progress)
    tensors = len(session.collector)
    # auto: runs trial engines, with no step to report until all are done (a total would show
    # "0/299 tensors (0%)" for the whole of PP-OCR rec's 49 s): elapsed time, then the count
    with phase(config.progress, "thresholds", total=None, unit="tensor") as step:
        amaxes = run.thresholds(session)
        step.update(tensors)
    return session.finish(amaxes=amaxes)


def _shapes_fit(declared: dict[str, list[int]], stored: dict[str, list[int]]) -> bool:
    """Whether ``stored`` (a cache sidecar's calibration shapes) names
    exactly the builder's inputs, each of their rank and equal to every
    static dim declared (-1: any)."""
    return stored.keys() == declared.keys() and all(
        len(stored[n]) == len(d) and all(x < 0 or x == y for x, y in zip(d, stored[n]))
        for n, d in declared.items())


def _keep_channel_ranges(builder: Any, rewrites: "_Rewrites", calibrator: Any, ranges: dict[str, list[float]]) -> None:
    """The calibration's per-channel maxima fixed in ``builder`` (later
    passes leave them), replayed on every builder made from here on, and
    written beside the calibrator's cache (TensorRT's holds one scale) with
    the input shapes the builder took from the first batch and the key
    counts it recorded, which a build from the cache has no batch to learn
    from."""
    builder.set_channel_ranges(ranges)
    rewrites.keep_channel_ranges(ranges)
    channel_ranges.to_calibrator(calibrator, ranges, builder.calibration_shapes(), builder.calibration_keys())


def _keep_calibration_keys(builder: Any, rewrites: "_Rewrites", keys: dict[str, int]) -> None:
    """The fewest last-axis elements calibration saw per tensor (this
    process's batches, the Ray workers' merged, or a cache's sidecar) set on
    ``builder`` and replayed on every builder made from here on."""
    if keys:
        builder.set_calibration_keys(keys)
        rewrites.keep_calibration_keys(keys)


def _shapes_to(builder: _core.Builder, feed: Callable[[dict[str, np.ndarray]], None]
               ) -> Callable[[dict[str, np.ndarray]], None]:
    """The driver's feed of sharded calibration, whose builder runs no batch
    (the workers do): the first batch's input shapes go to it
    (``Builder.set_calibration_shapes``) as ``calibrate_batch`` would take
    them, so that the engine lowers with the shapes the workers calibrated."""
    first = True

    def take(inputs: dict[str, np.ndarray]) -> None:
        nonlocal first
        if first:
            first = False
            builder.set_calibration_shapes({n: list(np.shape(a)) for n, a in inputs.items()})
        feed(inputs)
    return take


class _Rewrites:
    """The float32-equivalent rewrites made before calibration (cross-layer
    equalization, SmoothQuant): stands in for the builder while they run,
    records each change so that the builders automatic mixed precision
    makes get the same network (:meth:`replay`), and keeps the tensors CLE
    rescaled (tensor -> per-channel factors) for the engine's metadata."""

    def __init__(self, builder: _core.Builder) -> None:
        self._builder = builder
        self.calls: list[tuple[str, tuple]] = []  # (method, arguments): plain data and float32 arrays, sent to Ray workers
        self.rescaled: dict[str, list[float]] = {}
        self.smoothing: Any = None  # SmoothQuant measured by the calibration pass (smoothquant.InPass)

    def optimized_network(self) -> Network:
        return self._builder.optimized_network()

    def set_node_constants(self, updates: list) -> None:
        self.calls.append(("set_node_constants", (updates,)))
        self._builder.set_node_constants(updates)

    def insert_channel_scale(self, tensor: str, consumers: list[str], factors: list[float]) -> None:
        self.calls.append(("insert_channel_scale", (tensor, consumers, factors)))
        self._builder.insert_channel_scale(tensor, consumers, factors)

    def keep_channel_ranges(self, ranges: dict[str, list[float]]) -> None:
        """Hands the per-channel ranges calibration measured
        (``Builder.channel_ranges``) to every builder made from here on
        (automatic mixed precision, bias correction, auto's trials); a copy
        whose network is rewritten (equalized) measures its own."""
        if ranges:
            self.calls.append(("set_channel_ranges", (ranges,)))

    def keep_calibration_keys(self, keys: dict[str, int]) -> None:
        """Hands the fewest last-axis elements calibration saw per tensor
        (``Builder.calibration_keys``) to every builder made from here on,
        which sees no calibration batch or only some: their engines hold
        attention probabilities on the same key-count grid
        (csrc/engine/ops/int8/probs_keys.h) as the calibrated builder's."""
        if keys:
            self.calls.append(("set_calibration_keys", (keys,)))

    def keep_report_lines(self, lines: list[str]) -> None:
        """Adds what calibration on Ray workers reported (calib/distributed.py:
        tensors it left out) to the builder's report and to every builder
        made from here on, whose engines then say it as one process's do."""
        self.calls.append(("add_report_lines", (list(lines),)))
        self._builder.add_report_lines(list(lines))

    def keep_calibration_shapes(self, shapes: dict[str, list[int]]) -> None:
        """Hands the input shapes the calibrating builder took the network's
        shapes from (``Builder.calibration_shapes``: no profile, dynamic
        dimensions beyond the batch) to every builder made from here on,
        which sees no calibration batch: without them auto's engines were
        lowered with those dimensions unknown (Silero VAD: 9 of 82 layers
        int8 against minmax's 38 of 86; benchmarks/RESULTS.md §87-88)."""
        if shapes:
            self.calls.append(("set_calibration_shapes", (shapes,)))

    def equalized_copy(self, make: Callable[[], _core.Builder], skip: set[str], computed: Any = None
                       ) -> tuple[_core.Builder, dict[str, list[float]], Callable[[], None]]:
        """For the auto calibrator's trial of cross-layer equalization after
        calibration (accuracy/run.py; the calibrated builder's constants can
        no longer change): a new builder (``make()``) with the rewrites so
        far and the equalization applied, the rescaled tensors, and the
        function that adopts it as this object's builder, recording the
        equalization for :meth:`replay` and the engine's metadata.
        ``computed``: the equalization computed already for this builder's
        network (``equalize.Plan``), applied where the copy's nodes match."""
        from .accuracy import equalize

        copy = _Rewrites(self.replay(make()))
        rescaled = equalize.equalize_network(copy, skip=skip, computed=computed)

        def adopt() -> None:
            self.calls += copy.calls
            self.rescaled = rescaled
            self._builder = copy._builder
        return copy._builder, rescaled, adopt

    def splice(self, make: Callable[[], _core.Builder], at: int, calls: list[tuple[str, tuple]]) -> _core.Builder:
        """A rewrite made after the calibration pass as if made before it
        (SmoothQuant, smoothquant.InPass): ``calls`` go into the recorded
        rewrites at ``at`` (before what calibration recorded, such as the
        channel ranges, which a rewrite would drop), and a new builder
        (``make()``) with them all becomes this object's."""
        self.calls[at:at] = calls
        self._builder = self.replay(make())
        return self._builder

    def replay(self, builder: _core.Builder) -> _core.Builder:
        for name, args in self.calls:
            getattr(builder, name)(*args)
        return builder

    def rewrite(self, network: Network, config: BuilderConfig, calibrator: IInt8Calibrator,
                session: CalibrationSession) -> None:
        """Applies what ``config`` asks for before calibration; SmoothQuant
        is measured by the calibration pass and made after it
        (:attr:`smoothing`, :meth:`splice`), and skipped when the
        calibration cache is used (no data to measure). With
        ``distributed`` calibration the workers repeat :attr:`calls`."""
        from .accuracy import equalize, smoothquant

        skip = {k for k, v in (config.layer_precisions or {}).items() if v in ("fp32", "bf16")}
        if config.equalize:
            self.rescaled = equalize.equalize_network(self, skip=skip)
        if not config.smoothquant or not smoothquant.find_sites(self.optimized_network(), skip):
            return
        if session.from_cache:
            logger.warning("smoothquant skipped: the scales come from the calibration cache, so there is no data "
                           "to measure the activations on (the cache holds every original tensor's scale, also "
                           "when it was written by a build with smoothquant)")
            return
        net = self.optimized_network()
        self.smoothing = smoothquant.InPass(net, smoothquant.find_sites(net, skip), config.smoothquant_alpha,
                                            at=len(self.calls))


def is_pre_quantized(network: Network) -> bool:
    """Whether the imported network quantizes activations itself (a QuantizeLinear node)."""
    return any(n["op"] == "QuantizeLinear" for n in network.nodes())


def _layer_names(network: Any) -> list[str]:
    """The network's node names and, scoped, its If branches' (the lowering
    of a branch honours ``layer_precisions`` under the branch's scope)."""
    from .accuracy.taps import scoped_networks

    return [scope + n["name"] for scope, net in scoped_networks(network) for n in net.nodes()]


def build_engine(model: ModelSource, config: Optional[BuilderConfig] = None) -> Engine:
    """Builds an engine from an ONNX model (path, bytes or ``onnx.ModelProto``)
    or an :class:`int8rt.Network`.

    INT8 builds need ``config.calibrator``, except for a pre-quantized model
    (QuantizeLinear / DequantizeLinear nodes, as ONNX Runtime's
    ``quantize_static`` or NNCF write them), which builds from its own
    scales and zero points, as TensorRT builds explicitly quantized
    networks (csrc/engine/lower_int8_qdq.cc); see :class:`BuilderConfig`.
    Unsupported operators raise :class:`int8rt.NotSupportedError` naming the
    node before any calibration work is done.
    """
    config = config or BuilderConfig()
    if config.precision not in ("int8", "fp32"):
        raise ValueError(f"precision must be 'int8' or 'fp32', got {config.precision!r}")
    _core.require_device(config.device)  # NotSupportedError saying why, before any work
    if config.accuracy_target is not None and not config.accuracy_check:
        raise ValueError("BuilderConfig.accuracy_target needs accuracy_check=True (it is met on held-out samples)")
    with _build_settings(config):
        with phase(config.progress, "import", total=1) as step:
            network = _to_network(model, config.batch_size, config.input_shapes)
            check_names(sorted(config.layer_precisions or {}), _layer_names(network),
                        "layer_precisions (int8rt build --fp32-layers)")
            explicit = config.precision == "int8" and config.calibrator is None
            if explicit and not is_pre_quantized(network):
                raise ValueError("an INT8 build needs BuilderConfig.calibrator (or precision='fp32'), "
                                 "unless the model is pre-quantized (QuantizeLinear nodes)")
            # A pre-quantized model without a calibrator keeps its activation Q/DQ for the lowering.
            builder = _core.Builder(network, **_builder_args(config), keep_activation_qdq=explicit)
            step.update()
        if explicit:
            with phase(config.progress, "build", total=1) as step:
                engine = Engine(builder.build({}))  # the model's own Q/DQ scales and zero points
                step.update()
            return engine
        if config.precision != "int8":
            with phase(config.progress, "build", total=1) as step:
                engine = Engine(builder.build({}))
                step.update()
            return engine
        calibrator = make_calibrator(config.calibrator)  # a TensorRT-style calibrator, or a reader/iterable
        session = CalibrationSession(calibrator)
        args = _builder_args(config)  # unsigned_activations may be switched on or off by auto (unsigned_trial)

        def unsigned_trial(on: bool = True) -> tuple[_core.Builder, Callable[[], None]]:
            trial = rewrites.replay(_core.Builder(network, **{**args, "unsigned_activations": on}))
            return trial, lambda: args.update(unsigned_activations=on)

        def float_trial(layers: dict[str, str]) -> tuple[_core.Builder, Callable[[], None]]:  # auto's float stem
            precisions = {**args["layer_precisions"], **layers}
            trial = rewrites.replay(_core.Builder(network, **{**args, "layer_precisions": precisions}))
            return trial, lambda: args.update(layer_precisions=precisions)

        rewrites = _Rewrites(builder)
        rewrites.rewrite(network, config, calibrator, session)
        run = CalibrationRun(builder, calibrator, holdout_every=config.holdout_every, measure=config.accuracy_check,
                             groups=config.calibration_groups, parts=config.auto_parts,
                             bias_correction=config.bias_correction,
                             fp32_layers={k for k, v in (config.layer_precisions or {}).items()
                                          if v in ("fp32", "bf16")},
                             fresh=lambda: rewrites.replay(_core.Builder(network, **args)),
                             unsigned=config.unsigned_activations,
                             unsigned_trial=unsigned_trial if config.unsigned_activations is None else None,
                             unsigned_cost=unsigned_form.speed_cost(config.device),
                             # args: with unsigned activations where auto kept them (decided first)
                             equalize=None if config.equalize is not None else
                             lambda skip, computed: rewrites.equalized_copy(lambda: _core.Builder(network, **args),
                                                                            skip, computed),
                             equalized=bool(rewrites.rescaled), float_trial=float_trial)
        result = _calibrate(builder, network, model, config, calibrator, run, session, rewrites)
        run.before_build(result)
        builder = run.builder  # another one where auto kept cross-layer equalization or unsigned activations

        def rebuild(fp32_nodes: set[str], bf16_nodes: Sequence[str] = ()) -> Any:  # mixed precision's candidates
            kept = {**{n: "fp32" for n in fp32_nodes}, **mixed_bf16.bf16_precisions(network, bf16_nodes)}
            precisions = {**args["layer_precisions"], **kept}  # auto's float stem too
            return run.corrected(rewrites.replay(_core.Builder(network, **dict(args, layer_precisions=precisions))),
                                 {k for k, v in precisions.items() if v in ("fp32", "bf16")}).build(result.scales)

        with phase(config.progress, "build", total=1) as step:
            built = run.built(result.scales)  # auto lowered this engine already
            engine = Engine(built if built is not None else builder.build(result.scales))
            step.update()
        engine = run.finish(engine, result, accuracy_target=config.accuracy_target,
                            accuracy_metric=config.accuracy_metric, rebuild=rebuild, progress=config.progress,
                            bf16_off=mixed_bf16.bf16_unavailable(config.accuracy_bf16, config.bf16, config.device))
        if rewrites.rescaled:  # int8rt compare sets the model's own values beside the engine's with them
            engine = Engine(engine._native.with_metadata({**engine.metadata,
                                                          RESCALED_KEY: json.dumps(rewrites.rescaled)}))
    for line in engine.report():
        if line.startswith("warning: "):  # e.g. a cache that leaves no layer in int8 (int8_coverage.h)
            logger.warning("%s", line[len("warning: "):], extra={"in_build_report": True})
    return engine
