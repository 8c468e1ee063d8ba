"""nets20: which tensors make one calibration method's engine trail another's on held-out inputs.

Both methods calibrate on the same inputs (newnets_methods.py's: ``--calib`` inputs of ``--calib-seed``, batches
of 8) and write TensorRT calibration caches; the tensors whose scales differ are ranked by how much more the
``--chosen`` method clips (other scale / chosen scale, largest first). Then engines are built from the chosen
method's cache with some of those tensors given the other method's scale (a present cache skips calibration, so
only the scales differ); each engine's centred cosine
(and top-1 on the varying inputs) to ONNX Runtime FP32 on the evaluation inputs is printed, with the evaluation
inputs' largest |value| of that tensor over its two thresholds (from int8rt's FP32 taps).
To name the tensors: all of them at the other method's scale, then bisection (the half, in rank order, that
recovers more of the gap, while it recovers at least half of it), then the tensors left one at a time.

Usage (from the repo root): PYTHONPATH=python python benchmarks/nets20_blame.py ecaresnet26t --chosen mse \
    --other minmax [--calib-seed 2] [--eval-seed 1] [--dir /tmp/nets20/models] [--single 8] [--swap x]
"""
from __future__ import annotations

import argparse
import math
import os
import struct
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402
import realnets.new_families2  # noqa: E402,F401 - adds the nets17 architectures to M.NETS


def read_cache(path: Path) -> Tuple[str, Dict[str, str]]:
    """TensorRT's calibration cache: the header line and {tensor: the hex of its float32 scale's bits}."""
    lines = path.read_text().splitlines()
    return lines[0], dict(ln.rsplit(": ", 1) for ln in lines[1:])


def scale(bits: str) -> float:
    return struct.unpack(">f", struct.pack(">I", int(bits, 16)))[0]


def write_cache(path: Path, header: str, scales: Dict[str, str]) -> None:
    path.write_text("\n".join([header] + [f"{k}: {v}" for k, v in scales.items()]) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--chosen", default="mse")
    ap.add_argument("--other", default="minmax")
    ap.add_argument("--dir", default="/tmp/nets20/models")
    ap.add_argument("--work", default="/tmp/nets20/blame", help="caches and mixed caches go here")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seed", type=int, default=1)
    ap.add_argument("--single", type=int, default=8, help="also the top this many tensors one at a time")
    ap.add_argument("--swap", help="comma-separated tensors: only these at the other method's scale (no bisection)")
    args = ap.parse_args()
    import int8rt
    from int8rt import _core
    from int8rt.accuracy.taps import fp32_tap_engine
    from int8rt.builder import _to_network
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    print(machine_line(), flush=True)
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.calib, args.calib_seed)
    evals = net.feeds(args.eval, args.eval_seed)
    sess = M.ort_session(str(path))
    ref = B.run_all(lambda f: sess.run(None, f)[0], evals, 4)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{args.name}_c{args.calib}_s{args.calib_seed}"

    def build(algo: str, cache: Path) -> dict:
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8, cache_file=str(cache))
        ctx = int8rt.build_engine(str(path), config).create_execution_context()
        return B.metrics(net, B.run_all(lambda f: ctx.run(f)["out"], evals, 4), ref)

    def show(m: dict) -> str:
        return ", ".join(f"{k} {v:.4g}" for k, v in m.items())

    caches = {a: work / f"{stem}_{a}.cache" for a in (args.chosen, args.other)}
    for a, c in caches.items():
        t0 = time.perf_counter()
        m = build(a, c)
        print(f"{args.name} {a} (calibration seed {args.calib_seed}, evaluation seed {args.eval_seed}, "
              f"{time.perf_counter() - t0:.0f} s): {show(m)}", flush=True)
    header, chosen_bits = read_cache(caches[args.chosen])
    _, other_bits = read_cache(caches[args.other])
    chosen = {k: scale(v) for k, v in chosen_bits.items()}
    other = {k: scale(v) for k, v in other_bits.items()}
    ranked: List[Tuple[float, str]] = sorted(
        ((math.log(other[k] / chosen[k]), k) for k in chosen if k in other and other[k] != chosen[k]
         and chosen[k] > 0 and other[k] > 0), reverse=True)
    print(f"{len(chosen)} tensors in the {args.chosen} cache, {len(ranked)} with another {args.other} scale; "
          f"{sum(1 for r, _ in ranked if r > 0)} where {args.chosen} clips more")

    # the evaluation inputs' largest |value| of each tensor (int8rt's float engine, tapped)
    names = [k for _, k in ranked]
    network = _core.Builder(_to_network(str(path), None), "fp32").optimized_network()  # as compare.py taps it
    present = {t["name"] for t in network.tensors()}
    tctx = fp32_tap_engine(network, [k for k in names if k in present and k not in evals]).create_execution_context()
    top: Dict[str, float] = {k: float(np.max(np.abs(v))) for k, v in evals.items() if k in names}
    for b in B._batches(evals, 4):
        out = tctx.run(b)
        for k in names:
            if k in out:
                top[k] = max(top.get(k, 0.0), float(np.max(np.abs(out[k]))))

    def mixed(keys: List[str], tag: str) -> dict:
        scales = dict(chosen_bits)
        for k in keys:
            scales[k] = other_bits[k]
        c = work / f"{stem}_{args.chosen}_with_{args.other}_{tag}.cache"
        write_cache(c, header, scales)
        return build(args.chosen, c)

    base, full = mixed([], "none")["ccos"], mixed(names, "all")
    print(f"all {len(names)} at {args.other}'s scale: {show(full)}", flush=True)
    if args.swap:
        keys = args.swap.split(",")
        print(f"{', '.join(keys)} alone at {args.other}'s scale (evaluation max |x| over {args.chosen}'s threshold / "
              f"over {args.other}'s: " + ", ".join(f"{top.get(k, float('nan')) / (127 * chosen[k]):.2f} / "
                                                   f"{top.get(k, float('nan')) / (127 * other[k]):.2f}" for k in keys)
              + f"): {show(mixed(keys, 'swap'))}", flush=True)
        return 0
    # bisection: keep the half (in rank order) whose swap recovers more of the gap, while it recovers at least half
    part, step = names, 0
    while len(part) > 1:
        halves = [part[:len(part) // 2], part[len(part) // 2:]]
        got = [mixed(h, f"b{step}{i}") for i, h in enumerate(halves)]
        for h, m in zip(halves, got):
            print(f"  {len(h):3d} tensors ({h[0]} .. {h[-1]}) at {args.other}'s scale: {show(m)}", flush=True)
        best = int(got[1]["ccos"] > got[0]["ccos"])
        if got[best]["ccos"] - base < 0.5 * (full["ccos"] - base):
            print(f"  neither half recovers half of the gap ({base:.4f} -> {full['ccos']:.4f}): "
                  f"{len(part)} tensors act together")
            break
        part, step = halves[best], step + 1
    print(f"tensors left (rank of {len(names)}: {args.other} scale / {args.chosen} scale; evaluation max |x| over "
          f"{args.chosen}'s threshold and over {args.other}'s), then up to --single of them alone:")
    for i, name in enumerate(part):
        t = top.get(name, float("nan"))
        alone = f": {show(mixed([name], 'one'))}" if i < args.single else ""
        print(f"  {name} (rank {names.index(name) + 1}): x{other[name] / chosen[name]:.3f}; "
              f"{t / (127 * chosen[name]):.2f} / {t / (127 * other[name]):.2f}{alone}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
