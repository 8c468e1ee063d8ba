"""A lowering change measured end to end (RESULTS.md section 179): the base
build running the engine it built (--base-dir, e2e10_layers.py --save with
the base tree) against this tree running the engine it built from the same
model and calibration (--dir, the same with this tree), and OpenVINO INT8 on
the NNCF IR saved beside, alternated call by call in one process, 1 thread,
process CPU medians at batch 1 and --batch. The two int8rt engines' outputs
are compared byte for byte (a fusion that keeps the arithmetic keeps them),
and this tree also runs the base engine's bytes (the build alone, no new
lowering) as a control.

    python benchmarks/before_build.py <base checkout>/python/int8rt /tmp/before
    PYTHONPATH=python python benchmarks/bertfuse_ab.py --dir /tmp/bertfuse/minilm_fused \\
        --base-dir /tmp/bertfuse/minilm --before /tmp/before --batch 8 --rounds 9
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_util  # noqa: E402
import e2e_feeds as F  # noqa: E402
from e2e10_layers import load_feed  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True, help="this tree's saved engine (e2e10_layers.py --save)")
    ap.add_argument("--base-dir", type=Path, required=True, help="the base build's saved engine, same model")
    ap.add_argument("--before", required=True, help="before_build.py's folder: the base build")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    import int8rt
    import openvino as ov
    from before_build import import_before
    base = import_before(args.before)
    int8rt.set_num_threads(1)
    base.set_num_threads(1)
    engines = {"this": int8rt.Engine.deserialize((args.dir / "engine.i8rt").read_bytes()),
               "base": base.Engine.deserialize((args.base_dir / "engine.i8rt").read_bytes()),
               "this, base bytes": int8rt.Engine.deserialize((args.base_dir / "engine.i8rt").read_bytes())}
    model = ov.Core().read_model(str(args.base_dir / "ov_int8.xml"))
    print(bench_util.machine_line(), f"int8rt {Path(int8rt.__file__).parent}", f"base {args.before}")
    for b in (1, args.batch):
        feed = load_feed(args.base_dir, b)
        ctxs = {k: e.create_execution_context() for k, e in engines.items()}
        outs = {k: c.run(feed) for k, c in ctxs.items()}
        same = {k: all(np.array_equal(o[n], outs["base"][n]) for n in o) for k, o in outs.items()}
        ov_run = F.ov_runner(O.compile_model(F.ov_static(model, feed), 1, None))
        impls = {k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}
        impls["OV int8"] = lambda: ov_run(feed)
        load0 = os.getloadavg()[0]
        t = bench_util.alternating_samples(impls, args.rounds, min_time=(0.3 if b == 1 else 1.0) * args.rounds,
                                           clock=time.process_time)
        med = {k: float(np.median(v)) * 1e3 for k, v in t.items()}
        print(f"batch {b}: " + ", ".join(f"{k} {m:.3f} ms ({m / med['this']:.3f})" for k, m in med.items()) +
              f"; ratios ÷ this; outputs == base: {same}; {len(t['OV int8'])} calls each, "
              f"load {load0:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
