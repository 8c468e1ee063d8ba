"""Ray-sharded calibration: the float32 forward passes of calibration run on
Ray workers, each streaming its shard into its own histograms; the driver
merges the histograms and searches the thresholds (DESIGN.md: histograms are
mergeable, so sharded calibration is a merge of partial results).

The driver keeps TensorRT's loop: it pulls batches from the calibrator
(``get_batch``, checked as always, with the progress bar) and sends batch
``i`` to worker ``i mod k``, at most ``max_in_flight`` batches queued per
worker. Each worker (a Ray actor) imports the ONNX model once, builds the
same float32 network as the driver's builder and observes its batches in the
order sent. At the end the driver merges the workers' collectors in worker
order and finishes the session (scales, ``write_calibration_cache``).

Exactness. With the ``power_of_two`` range policy the merged histograms are
the single-process ones bit for bit, whatever the split (csrc/calib/
histogram.cc), so the scales and the engine are identical. With ``extend``
(the default) each worker's grid is set by its own first batch and merging
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

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .. import _core
from .collector import Collector

__all__ = ["RayCalibration", "init_ray", "model_bytes"]

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


class _ShardWorker:
    """One Ray actor: the float32 network and one shard's histograms."""

    def __init__(self, onnx_bytes: bytes, import_batch: Optional[int], builder_args: dict[str, Any],
                 empty: Collector, num_threads: int) -> None:
        from ..onnx import import_model

        _core.set_num_threads(num_threads)
        network = import_model(onnx_bytes, batch_size=import_batch)
        self._builder = _core.Builder(network, **builder_args)
        self._collector = empty  # a copy of the driver's empty collector: same method and options
        self._batches = 0

    def observe(self, inputs: dict[str, np.ndarray]) -> int:
        self._builder.calibrate_batch(inputs, self._collector._native)
        self._batches += 1
        return self._batches

    def collector(self) -> Collector:
        return self._collector


@dataclass
class RayCalibration:
    """Runs the calibration batches of an INT8 build on Ray workers:
    ``BuilderConfig(calibrator=..., distributed=RayCalibration(num_workers=4))``
    or ``int8rt build --ray [ADDRESS]``.

    Attributes:
        address: the cluster to join (``"auto"``, ``"ray://host:10001"``,
            ...); None starts a local one. Ignored when Ray is already
            initialised in this process.
        num_workers: actors to start (None: the cluster's CPU count).
        threads_per_worker: int8rt threads inside each worker.
        max_in_flight: batches queued per worker before the driver waits.
    """

    address: Optional[str] = None
    num_workers: Optional[int] = None
    threads_per_worker: int = 1
    max_in_flight: int = 2

    def calibrate(self, model: Any, import_batch: Optional[int], builder_args: dict[str, Any], session: Any,
                  calibrator: Any, input_names: Sequence[str], progress: Any) -> None:
        """Pulls the calibrator's batches into workers and merges their
        histograms into ``session`` (a CalibrationSession not from cache)."""
        from .session import pull_batches

        ray = _ray()
        started = False
        if not ray.is_initialized():
            init_ray(self.address, include_dashboard=False, log_to_driver=False)
            started = True
        try:
            workers = self._start(ray, model_bytes(model), import_batch, builder_args, session.collector)
            pending: list[Any] = []
            limit = len(workers) * max(1, int(self.max_in_flight))

            def feed(inputs: dict[str, np.ndarray]) -> None:
                def submit(_: Collector) -> None:
                    arrays = {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in inputs.items()}
                    pending.append(workers[session.num_batches % len(workers)].observe.remote(arrays))
                    while len(pending) > limit:
                        done, rest = ray.wait(pending, num_returns=1)
                        ray.get(done)  # raises the worker's error (NaN, shape) here
                        pending[:] = rest

                session.observe_with(submit)

            pull_batches(calibrator, session, input_names, feed, progress=progress)
            ray.get(pending)
            for shard in ray.get([w.collector.remote() for w in workers]):
                session.collector.merge(shard)
        finally:
            if started:
                ray.shutdown()

    def _start(self, ray: Any, onnx_bytes: bytes, import_batch: Optional[int], builder_args: dict[str, Any],
               collector: Collector) -> list[Any]:
        count = self.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if count < 1:
            raise ValueError(f"RayCalibration.num_workers must be >= 1, got {count}")
        if len(collector):
            raise _core.InvalidArgumentError("sharded calibration needs a session that has observed nothing yet")
        actor = ray.remote(num_cpus=1)(_ShardWorker)
        model_ref = ray.put(onnx_bytes)
        args = dict(builder_args, device="cpu")  # calibration runs on the CPU whatever the target
        logger.info("sharded calibration on %d Ray workers", count)
        return [actor.remote(model_ref, import_batch, args, collector, int(self.threads_per_worker))
                for _ in range(count)]
