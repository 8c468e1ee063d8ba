"""Per-layer times of an engine saved by avx2e2e_ab.py --save (DIR/NET with
engine.i8rt, input_name and x{batch}.npy), measured in a worker process per
tree so that two builds of int8rt alternate on one machine. Used by the
per-layer A/B scripts (avx2gap_table_layers.py, avx2det16_lut_layers.py,
avx2det17_layers.py, vnni21_layers.py): layer_minima inside the worker,
compared_trees (alternate_passes per network and batch, then each tree
against the first) and tree_changes from the driver, parse_args for the
command line they share, floats_and_kernels to word a worker's result."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional


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


def alternate_passes(script: str, args: argparse.Namespace, net: str, batch: int,
                     describe: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, list[float]]]:
    """``args.passes`` passes of ``script``'s worker on ``net`` at ``batch``,
    the trees' order reversed every other pass; prints each worker's result
    as ``describe`` words it and returns {tree: {key: [value per pass]}} for
    every float the workers returned."""
    sums: dict[str, dict[str, list[float]]] = {str(t): {} for t in args.trees}
    for p in range(args.passes):
        for tree in (args.trees if p % 2 == 0 else args.trees[::-1]):
            o = run_worker(script, tree, args.dir / net, batch, args.rounds)
            for k, v in o.items():
                if isinstance(v, float):
                    sums[str(tree)].setdefault(k, []).append(v)
            print(f"{net} b{batch} pass {p} {tree}: {describe(o)}", flush=True)
    return sums


def compared_trees(script: str, args: argparse.Namespace, describe: Callable[[dict[str, Any]], str]
                   ) -> Iterator[tuple[str, int, Path, Path, dict[str, dict[str, list[float]]]]]:
    """For each of ``args.models`` and ``args.batches``: ``alternate_passes``,
    then (net, batch, first tree, other tree, its result) per tree after the
    first; the load average printed at the end."""
    for net in args.models:
        for batch in args.batches:
            sums = alternate_passes(script, args, net, batch, describe)
            first, *rest = args.trees
            for tree in rest:
                yield net, batch, first, tree, sums
    print("load", open("/proc/loadavg").read().split()[:3])


def floats_and_kernels(o: dict[str, Any], unique: bool = False) -> str:
    """A worker's result in words: its float values, then its ' kernel'
    entries (``unique``: each name once, sorted)."""
    kernels = [str(o[k]) for k in o if k.endswith(" kernel")]
    return (", ".join(f"{k} {v:.3f}" for k, v in o.items() if isinstance(v, float))
            + "; kernels " + ", ".join(sorted(set(kernels)) if unique else kernels))


def tree_changes(sums: dict[str, dict[str, list[float]]], first: Path, tree: Path,
                 keys: Optional[list[str]] = None) -> list[tuple[str, float, float, float, float]]:
    """Per key of ``alternate_passes``' result (``keys``, or every key of the
    first tree): (key, median over passes of ``first``, of ``tree``, minimum of
    ``first``, of ``tree``)."""
    a, b = sums[str(first)], sums[str(tree)]
    return [(k, statistics.median(a[k]), statistics.median(b[k]), min(a[k]), min(b[k])) for k in (keys or list(a))]


def parse_args(doc: str, models: str, passes: int,
               worker: Callable[[Path, int, int], dict]) -> Optional[argparse.Namespace]:
    """The per-layer A/B scripts' command line (--dir, --trees, --models,
    --batches, --rounds, --passes; --worker / --batch inside a worker). In a
    worker, prints ``worker(dir, batch, rounds)`` as JSON and returns None;
    in the driver, prints the load average and returns the arguments."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, help="the --save folder (required but in a worker)")
    ap.add_argument("--trees", nargs="+", type=Path, default=[])
    ap.add_argument("--models", nargs="+", default=[models])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=passes)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.batch, args.rounds)))
        return None
    print("load", open("/proc/loadavg").read().split()[:3])
    return args
