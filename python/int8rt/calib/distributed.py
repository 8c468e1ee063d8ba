"""Ray-sharded calibration: the float32 forward passes of calibration run on
Ray workers, each streaming its shard into its own histograms; the driver
merges the histograms and searches the thresholds (DESIGN.md: histograms are
mergeable, so sharded calibration is a merge of partial results).

The driver keeps TensorRT's loop: it pulls batches from the calibrator
(``get_batch``, checked as always, with the progress bar), groups them
``batches_per_task`` at a time and sends each group to a Ray task, at most
``num_workers`` tasks running at once. A task runs its batches through
the same float32 network as the driver's builder (imported once per worker
process and cached there) into a copy of the driver's empty collector and
returns it with the per-channel maxima its builder measured over every batch
it ran for this build (``Builder.channel_ranges``, for
``channel_activations``) and the lines its builder's report gained from the
batches (what calibration left out: a tensor holding +-inf on the first
batch, shapes that depend on input values; ``Builder.report``); the driver
merges the returned collectors in submission order (so the result is
deterministic), the maxima channel by channel (:func:`merge_channel_ranges`:
a max, exact in any order) and the report lines into its builder's report
(``Builder.add_report_lines``: each line once, in submission order), so the
engine's report and the printed build say what one process's would; then
the builder finishes the session (scales, ``write_calibration_cache``, the
ranges beside it).

Exactness. With the ``power_of_two`` range policy the merged histograms are
the single-process ones bit for bit, whatever the split (csrc/calib/
histogram.cc), so the scales and the engine are identical. With ``extend``
(the default) each task's grid is set by its own first batch and merging
re-bins finer grids onto the coarsest by bin centre: MinMax scales stay exact
(the max is exact), histogram methods (entropy, percentile, MSE) see each count
moved by at most one bin of the coarsest shard's grid, and their thresholds
may move accordingly. Use ``policy="power_of_two"`` for reproducible sharding.

Ray is an optional dependency (``pip install int8rt[ray]``); int8rt must be
importable on the workers (installed there, or on ``PYTHONPATH``: for a
local cluster started here, the driver's int8rt folder is put on the
workers' ``PYTHONPATH``).
"""
from __future__ import annotations

import collections
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from .. import _core
from .collector import Collector

Feed = Callable[[dict[str, np.ndarray]], None]

__all__ = ["RayCalibration", "init_ray", "merge_channel_ranges", "model_bytes"]

ChannelRanges = dict[str, list[float]]

logger = logging.getLogger("int8rt")


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("sharded calibration needs Ray: pip install 'int8rt[ray]' (or pip install ray)") from None
    return ray


def init_ray(address: Optional[str] = None, **kwargs: Any) -> None:
    """``ray.init(address, **kwargs)``, with this int8rt's folder put on the
    workers' ``PYTHONPATH`` (so a source checkout works on a local cluster)."""
    ray = _ray()
    package_parent = str(Path(__file__).resolve().parents[2])
    paths = [package_parent, *filter(None, [os.environ.get("PYTHONPATH")])]
    runtime_env = dict(kwargs.pop("runtime_env", None) or {})
    env_vars = dict(runtime_env.get("env_vars", {}))
    env_vars.setdefault("PYTHONPATH", os.pathsep.join(paths))
    runtime_env["env_vars"] = env_vars
    ray.init(address=address, runtime_env=runtime_env, **kwargs)


def model_bytes(model: Any) -> bytes:
    """The ONNX model's bytes, to send to the workers (a path, bytes or a ModelProto)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return Path(model).read_bytes()
    if callable(getattr(model, "SerializeToString", None)):
        return model.SerializeToString()
    raise _core.NotSupportedError(
        f"sharded calibration needs an ONNX model (path, bytes or ModelProto) to send to the workers, "
        f"got {type(model).__name__}; an int8rt.Network cannot be shipped yet")


# Per worker process: the last float32 builder, keyed by (model digest,
# import batch, builder options), and how many lines its report held before
# any batch (those of the graph passes, which the driver's builder has too).
# Ray reuses worker processes across tasks, so a calibration's later tasks
# (and later calibrations of the same model) skip the import.
_builder_cache: dict[tuple, tuple[Any, int]] = {}


def _cached_builder(key: tuple, onnx_bytes: bytes, import_batch: Optional[int], builder_args: dict[str, Any],
                    rewrites: Sequence[tuple[str, tuple]] = ()) -> Any:
    if key not in _builder_cache:
        from ..onnx import import_model

        _builder_cache.clear()
        builder = _core.Builder(import_model(onnx_bytes, batch_size=import_batch), **builder_args)
        for method, args in rewrites:  # the driver's CLE / SmoothQuant (builder.py _Rewrites), as data
            getattr(builder, method)(*args)
        _builder_cache[key] = (builder, len(builder.report()))
    return _builder_cache[key]


def _observe_shard(key: tuple, onnx_bytes: bytes, import_batch: Optional[int], builder_args: dict[str, Any],
                   empty: Collector, num_threads: int, batches: list[dict[str, np.ndarray]],
                   rewrites: Sequence[tuple[str, tuple]] = ()
                   ) -> tuple[Collector, ChannelRanges, set[str], dict[str, int], list[str]]:
    """A Ray task: the batches through the float32 network (rewritten as the
    driver's was) into ``empty`` (a copy of the driver's empty collector:
    same method and options); the builder's per-channel maxima, the tensors
    whose channel count varied (which have none), and the fewest last-axis
    elements per tensor over every batch this worker ran for the
    build (``key`` names the build, so a cached builder holds no other
    build's); and the lines its report gained from those batches (what
    calibration left out)."""
    _core.set_num_threads(num_threads)
    builder, before = _cached_builder(key, onnx_bytes, import_batch, builder_args, rewrites)
    for inputs in batches:
        builder.calibrate_batch(inputs, empty._native)
    return (empty, builder.channel_ranges(), set(builder.varied_channel_counts()), builder.calibration_keys(),
            list(builder.report()[before:]))


def _log_lines(lines: list[str]) -> None:
    for line in lines:
        logger.warning("Ray worker: %s", line)


def merge_channel_ranges(into: ChannelRanges, other: ChannelRanges, varied: set[str]) -> ChannelRanges:
    """``into`` with ``other``'s per-channel maxima merged in, channel by
    channel (max |x| of the union of the batches), as one builder measures
    them (``Builder.channel_ranges``): a tensor whose channel count differs
    between the two, or that is in ``varied`` (a shard's
    ``Builder.varied_channel_counts``, to which this adds it), has none.
    Returns ``into``."""
    for name, values in other.items():
        mine = into.get(name)
        if name in varied:
            continue
        if mine is None:
            into[name] = list(values)
        elif len(mine) == len(values):
            into[name] = [max(a, b) for a, b in zip(mine, values)]
        else:
            varied.add(name)
    for name in varied:
        into.pop(name, None)
    return into


def merge_calibration_keys(into: dict[str, int], other: Mapping[str, int]) -> dict[str, int]:
    """``into`` with ``other``'s key counts merged in: the fewest last-axis
    elements per tensor over the union of the batches
    (``Builder.calibration_keys``). Returns ``into``."""
    for name, n in other.items():
        into[name] = min(into.get(name, n), n)
    return into


class ShardedCalibration(NamedTuple):
    """What the workers measured beside their histograms, merged over every
    shard: per-channel maxima (:func:`merge_channel_ranges`) and the fewest
    last-axis elements per tensor (:func:`merge_calibration_keys`)."""

    ranges: ChannelRanges
    keys: dict[str, int]


@dataclass
class RayCalibration:
    """Runs the calibration batches of an INT8 build on Ray workers:
    ``BuilderConfig(calibrator=..., distributed=RayCalibration(num_workers=4))``
    or ``int8rt build --ray [ADDRESS]``.

    Attributes:
        address: the cluster to join (``"auto"``, ``"ray://host:10001"``,
            ...); None starts a local one. Ignored when Ray is already
            initialised in this process.
        num_workers: Ray tasks running at once, one CPU each (None: the
            cluster's CPU count); the driver waits for a free one before it
            sends the next group, so its memory stays bounded.
        threads_per_worker: int8rt threads inside each task.
        batches_per_task: calibration batches sent to a worker in one task.
    """

    address: Optional[str] = None
    num_workers: Optional[int] = None
    threads_per_worker: int = 1
    batches_per_task: int = 4

    def calibrate(self, model: Any, import_batch: Optional[int], builder_args: dict[str, Any], session: Any,
                  calibrator: Any, inputs: Mapping[str, Sequence[int]], progress: Any,
                  wrap: Optional[Callable[[Feed], Feed]] = None,
                  rewrites: Sequence[tuple[str, tuple]] = (),
                  dtypes: Optional[Mapping[str, str]] = None,
                  report: Optional[Callable[[list[str]], None]] = None) -> ShardedCalibration:
        """Pulls the calibrator's batches, runs them on Ray and merges the
        shards' histograms into ``session`` (a CalibrationSession that has
        observed nothing and is not from a cache); returns the shards'
        per-channel maxima and key counts, merged (:class:`ShardedCalibration`).
        ``report(lines)`` gets, shard by shard in submission order, the lines
        the workers' builders reported from their batches (the driver's
        builder adds them: ``Builder.add_report_lines``); without it they
        are logged at WARNING.
        ``inputs``: the network's input names (in ``get_batch`` order) and
        shapes (-1: any size); ``dtypes``: their dtypes (float32 where
        absent), each batch checked and converted against them as in one
        process (an int64 sample rate, a bool mask; a 0-d input stays 0-d).
        ``wrap`` decorates the driver's feed (the builder's accuracy check
        holds samples out there, on the driver). ``rewrites``: the builder
        calls (method name, arguments) that rewrote the driver's network
        before calibration (cross-layer equalization, SmoothQuant); each
        worker repeats them on its own builder."""

        ray = _ray()
        if len(session.collector):
            raise _core.InvalidArgumentError("sharded calibration needs a session that has observed nothing yet")
        started = False
        if not ray.is_initialized():
            init_ray(self.address, include_dashboard=False, log_to_driver=False)
            started = True
        try:
            return self._run(ray, model, import_batch, builder_args, session, calibrator, inputs, progress, wrap,
                             list(rewrites), dict(dtypes or {}), report or _log_lines)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, model: Any, import_batch: Optional[int], builder_args: dict[str, Any], session: Any,
             calibrator: Any, inputs: Mapping[str, Sequence[int]], progress: Any,
             wrap: Optional[Callable[[Feed], Feed]], rewrites: list[tuple[str, tuple]],
             dtypes: dict[str, str], report: Callable[[list[str]], None]) -> ShardedCalibration:
        from .session import input_arrays, pull_batches

        workers = self.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if workers < 1 or self.batches_per_task < 1:
            raise ValueError(f"RayCalibration: num_workers and batches_per_task must be >= 1, "
                             f"got {workers} and {self.batches_per_task}")
        collector = session.collector
        if collector.policy != "power_of_two" and collector.algorithm != "minmax":
            logger.warning("sharded calibration with policy %r is approximate for %s (shards' histograms are "
                           "re-binned when merged); policy='power_of_two' gives the single-process result exactly",
                           collector.policy, collector.algorithm)
        onnx_bytes = model_bytes(model)
        args = dict(builder_args, device="cpu")  # calibration runs on the CPU whatever the target
        key = (hashlib.sha256(onnx_bytes).hexdigest(), import_batch, repr(sorted(args.items())),
               hashlib.sha256(repr(rewrites).encode()).hexdigest(), os.urandom(8).hex())  # this build's
        task = ray.remote(num_cpus=1)(_observe_shard)
        model_ref, empty_ref, rewrites_ref = ray.put(onnx_bytes), ray.put(session.collector), ray.put(rewrites)
        unmerged: collections.deque = collections.deque()  # task results, merged in submission order
        ranges: ChannelRanges = {}
        varied: set[str] = set()  # tensors whose channel count varied: no ranges
        keys: dict[str, int] = {}
        reported: set[str] = set()  # the workers' report lines handed to `report` so far
        running: set = set()  # submitted tasks not known to be finished: at most `workers`
        chunk: list[dict[str, np.ndarray]] = []
        logger.info("sharded calibration: %d Ray workers, %d batches per task", workers, self.batches_per_task)

        def merge_finished() -> None:
            while unmerged and unmerged[0] not in running:
                shard, shard_ranges, shard_varied, shard_keys, lines = ray.get(unmerged.popleft())  # a worker's error
                session.collector.merge(shard)
                varied.update(shard_varied)
                merge_channel_ranges(ranges, shard_ranges, varied)
                merge_calibration_keys(keys, shard_keys)
                fresh = [line for line in lines if line not in reported]  # a worker's later shards repeat them
                if fresh:
                    reported.update(fresh)
                    report(fresh)

        def submit() -> None:
            while len(running) >= workers:  # a free worker first: any task may finish first
                done, _ = ray.wait(list(running), num_returns=1)
                running.difference_update(done)
            merge_finished()
            ref = task.remote(key, model_ref, import_batch, args, empty_ref, int(self.threads_per_worker), list(chunk),
                              rewrites_ref)
            running.add(ref)
            unmerged.append(ref)
            chunk.clear()

        def feed(inputs: dict[str, np.ndarray]) -> None:
            arrays = input_arrays(calibrator, inputs, dtypes)

            def take(_: Collector) -> None:
                chunk.append(arrays)
                if len(chunk) == self.batches_per_task:
                    submit()

            session.observe_with(take)

        if wrap is not None:
            feed = wrap(feed)
        pull_batches(calibrator, session, list(inputs), feed, progress=progress, input_shapes=inputs)
        if chunk:
            submit()
        running.clear()
        merge_finished()  # ray.get waits for the rest, in order
        # by name, as Builder.channel_ranges gives them (a std::map): a tensor
        # first seen by a later shard (a branch its batches took) is no later
        # in the sidecar than in one process's
        return ShardedCalibration(dict(sorted(ranges.items())), dict(sorted(keys.items())))
