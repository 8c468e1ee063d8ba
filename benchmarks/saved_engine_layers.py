"""Per-layer times of an engine saved by avx2e2e_ab.py --save (DIR/NET with
engine.i8rt, input_name and x{batch}.npy), measured in a worker process per
tree so that two builds of int8rt alternate on one machine. Used by the
per-layer A/B scripts (avx2gap_table_layers.py, avx2det16_lut_layers.py):
layer_minima inside the worker, run_worker from the driver."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def layer_minima(d: Path, batch: int, rounds: int) -> list[tuple[dict[str, Any], float]]:
    """Each layer's profile row of the saved engine in ``d`` and its thread CPU
    milliseconds, the minimum over ``rounds`` profiles of 2 runs, 1 thread."""
    import numpy as np

    import int8rt
    int8rt.set_num_threads(1)
    engine = int8rt.Engine.load(str(d / "engine.i8rt"))
    feed = {(d / "input_name").read_text().strip(): np.load(d / f"x{batch}.npy")}
    ctx = engine.create_execution_context()
    profs = [ctx.profile(feed, 2, clock="thread_cpu") for _ in range(rounds)]
    return [(layer, min(p[i]["ms"] for p in profs)) for i, layer in enumerate(profs[0])]


def run_worker(script: str, tree: Path, d: Path, batch: int, rounds: int) -> dict[str, Any]:
    """Run ``script --worker d --batch batch --rounds rounds`` with int8rt from
    ``tree`` (a python/ folder) and return the JSON object it printed last."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    r = subprocess.run([sys.executable, script, "--worker", str(d), "--batch", str(batch), "--rounds", str(rounds)],
                       env=env, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])
