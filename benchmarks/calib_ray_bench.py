"""Calibration time against the number of Ray workers (int8rt.calib.distributed).

One local Ray cluster (num_cpus = the machine's CPUs) for the whole run. For
each worker count, int8rt.build_engine calibrates the model with
IInt8EntropyCalibrator2 (policy power_of_two, so every run gives the same
scales, which is checked) and the time of the calibration loop plus the
merge and threshold search is taken (the import and INT8 lowering are the
same in every case and are left out: `calibrate` and `thresholds` phases of
int8rt.progress, measured by a Progress sink). "1 process" is the ordinary
single-process build, with all CPUs' threads (the default) and with one
thread (each Ray worker runs one thread). Each count runs --rounds times, counts alternating;
medians are reported. A first run per count comes before and is reported
apart: in it each Ray worker process imports int8rt and the model and
builds the network (cached in the process for later tasks).

Model: the ResNet-18-like network of e2e_models.py at 112x112 (random
weights, exported by torch.onnx.export(dynamo=False)) or the bundled digits
CNN; calibration data: seeded normal batches.

Usage: PYTHONPATH=python python3 benchmarks/calib_ray_bench.py
       [--model resnet18|digits] [--batches 16] [--batch-size 8] [--workers 1 2] [--rounds 3]
       [--batches-per-task 2]
"""
from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_util import load_line, machine_line  # noqa: E402

import int8rt  # noqa: E402
from int8rt.calib.distributed import RayCalibration, init_ray  # noqa: E402
from int8rt.data_calibrator import make_calibrator  # noqa: E402
from int8rt.quickstart import MODEL_PATH  # noqa: E402


def export_resnet(tmp: Path, size: int) -> Path:
    import torch
    from e2e_models import make_model

    path = tmp / "resnet18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(make_model("resnet18"), torch.zeros(1, 3, size, size), str(path), dynamo=False,
                          input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    return path


def calibration_seconds(model: Path, data: np.ndarray, batch_size: int, workers: int,
                        batches_per_task: int = 2) -> tuple[float, dict]:
    """Seconds of the calibrate + thresholds phases, and the scales.
    workers: 0 = one process with all CPUs' threads, -1 = one process, one thread."""
    log = io.StringIO()
    config = int8rt.BuilderConfig(
        num_threads=1 if workers == -1 else None,
        calibrator=make_calibrator({"input": data}, batch_size=batch_size, policy="power_of_two"),
        progress=int8rt.Progress(log, bars=False, interval=1e9),
        distributed=RayCalibration(num_workers=workers, batches_per_task=batches_per_task) if workers > 0 else None)
    scales = int8rt.build_engine(model, config).scales()
    done = dict(re.findall(r"^int8rt (\w+): done in ([\d.]+) s", log.getvalue(), re.M))
    return float(done["calibrate"]) + float(done["thresholds"]), scales


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["resnet18", "digits"], default="resnet18")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches-per-task", type=int, default=2)
    args = ap.parse_args()

    import ray

    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "resnet18":
            model, shape = export_resnet(Path(tmp), args.size), (3, args.size, args.size)
        else:
            model, shape = MODEL_PATH, (1, 8, 8)
        data = np.random.default_rng(0).standard_normal((args.batches * args.batch_size, *shape), dtype=np.float32)
        init_ray(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        try:
            counts = [0, -1, *args.workers]  # 0, -1: the single-process build with all threads, with one
            reference = None
            cold: dict[int, float] = {}
            for w in counts:  # first run: Ray's worker processes import int8rt and build the network
                cold[w], reference = calibration_seconds(model, data, args.batch_size, w, args.batches_per_task)
            times: dict[int, list[float]] = {w: [] for w in counts}
            for _ in range(args.rounds):
                for w in counts:
                    seconds, scales = calibration_seconds(model, data, args.batch_size, w, args.batches_per_task)
                    reference = reference or scales
                    assert scales == reference, f"{w} workers: scales differ from the single-process build"
                    times[w].append(seconds)
        finally:
            ray.shutdown()
    print(f"{args.model}, {args.batches} batches of {args.batch_size}, EntropyCalibration2, power_of_two, "
          f"{args.batches_per_task} batches per Ray task, {args.rounds} rounds; {load_line()}")
    base = float(np.median(times[0]))
    print(f"{'':>24} {'median s':>9} {'vs 1 process':>13} {'first run s':>12}")
    for w in counts:
        med = float(np.median(times[w]))
        label = {0: f"1 process, {os.cpu_count()} threads", -1: "1 process, 1 thread"}.get(
            w, f"{w} Ray worker{'s' if w > 1 else ''}")
        print(f"{label:>24} {med:9.3f} {base / med:12.2f}x {cold[w]:12.3f}")
    print("scales identical across all runs: yes")


if __name__ == "__main__":
    main()
