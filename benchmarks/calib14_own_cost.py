"""acc48: what auto's sets on the calibrators' own histograms
(python/int8rt/accuracy/own_histograms.py) cost in build time and memory.
One process; per round, auto built with the own sets ("on") and without
("off": own_histograms.same_settings patched to say the session's
collector bins as the calibrators do, so no second collector is made),
alternated, on: the bundled digits CNN (check off: the choice reads a
collector of its own, folds paired; 4 batches of 32), PP-OCR cls
(accuracy_bench.py's task; check off) and Silero VAD calibrated on ARCTIC
alone (acc45's single fit, 125 batches of 8 stream steps; check on).
Prints the median CPU seconds of the build (process time, less inflated by
other jobs than wall clock) per model and form, their ratio, the load
average, the own histograms' bytes (the second collectors' uint64 counts,
at their largest: the session's and the choice's) and the choice.

    PYTHONPATH=python:tests:benchmarks python benchmarks/calib14_own_cost.py [--models digits,cls,silero] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402


def _tasks(keys: list[str]) -> dict:
    import int8rt
    from accuracy_bench import digits_task, ocr_task

    out = {}
    for key in keys:
        if key == "silero":
            from silero_clips_loco import calibration
            from silero_fixed import network
            from test_audio_models import silero_file

            path = silero_file("silero_vad.onnx")
            fp32 = int8rt.build_engine(network(path), int8rt.BuilderConfig(precision="fp32"))
            feeds, _ = calibration(fp32, ["arctic"], "none")
            out[key] = (network(path), [dict(f) for f in feeds], True)
        else:
            task = digits_task() if key == "digits" else ocr_task("cls", 256, 16)
            calib = task["calib"]
            out[key] = (task["model"], [{_input(task["model"]): calib[i:i + 32]} for i in range(0, len(calib), 32)],
                        False)
    return out


def _input(model: bytes) -> str:
    import onnx

    return onnx.load_from_string(model).graph.input[0].name


def _build(model, feeds, check: bool, on: bool) -> tuple[float, int, str]:
    """One auto build: CPU seconds, the own histograms' bytes, the choice."""
    import int8rt
    from int8rt.accuracy import own_histograms, run

    made: list = []
    new, same = run.CalibrationRun._new_collector, own_histograms.same_settings

    def recording(self, session, own=False):
        c = new(self, session, own)
        if own:
            made.append(c)
        return c

    run.CalibrationRun._new_collector = recording
    if not on:
        own_histograms.same_settings = lambda collector: True
    try:
        t0 = time.process_time()
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(
            calibrator=int8rt.make_calibrator([dict(f) for f in feeds], algorithm="auto"), accuracy_check=check))
        cpu = time.process_time() - t0
    finally:
        run.CalibrationRun._new_collector, own_histograms.same_settings = new, same
    # the session's and the choice's second collectors live through the build; the folds' are made after
    held = sorted((sum(c.histogram(n).counts.nbytes for n in c.names) for c in made), reverse=True)[:2]
    choice = engine.build_report().auto_choice or {}
    sets = {k: v for k, v in choice.get("errors", {}).items() if k.split()[0] in ("minmax", "mse", "percentile", "entropy")}
    return cpu, sum(held), f"{choice.get('thresholds')} (held-out relative L2 of the sets: {sets})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="digits,cls,silero")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(machine_line(), flush=True)
    tasks = _tasks(args.models.split(","))
    for key, (model, feeds, check) in tasks.items():
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for r in range(args.rounds):
            for on in ((True, False) if r % 2 == 0 else (False, True)):
                seconds, nbytes, choice = _build(model, feeds, check, on)
                cpu[on].append(seconds)
                print(f"{key} round {r} {'on ' if on else 'off'}: {seconds:.2f} CPU s, own histograms "
                      f"{nbytes / 1e6:.2f} MB, chose {choice}", flush=True)
        on, off = np.median(cpu[True]), np.median(cpu[False])
        print(f"{key}: median CPU s on {on:.2f} / off {off:.2f} = {on / off:.3f}; {machine_line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
