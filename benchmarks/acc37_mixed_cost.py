"""acc37: what automatic mixed precision's choice costs, timed apart from the build.

For each engine: the chosen float32 layers and, where the report has them (acc37 on), their summed
float cost and the set the sensitivity ranking alone would keep; then every engine given, and the
float32 engine of the model, run alternated on the same batch (first BATCH samples of DATA.npz),
median process CPU ms (all the engine's threads) (the machine is shared: CPU time, not wall). Follows acc35's table
(RESULTS_accuracy.md), whose latencies came from the build's own timing.
Usage: python benchmarks/acc37_mixed_cost.py MODEL.onnx DATA.npz BATCH ENGINE... [--runs N]
"""
import argparse
import time

import numpy as np

import int8rt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("batch", type=int)
    ap.add_argument("engines", nargs="+")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    z = np.load(args.data)
    feed = {k: np.ascontiguousarray(z[k][:args.batch]) for k in z.files}
    engines = {p: int8rt.Engine.load(p) for p in args.engines}
    for path, e in engines.items():
        mp = e.build_report().mixed_precision or {}
        cost = mp.get("float_ms") or {}
        line = f"{path}: {len(mp.get('float_layers', []))} float32 layers, score {mp.get('score', float('nan')):.4f}"
        if cost:
            other = mp.get("by_sensitivity") or []
            line += (f", ranked by {mp['ranking']}, float cost {sum(cost[n] for n in mp['float_layers']):.2f} ms "
                     f"(sensitivity alone: {len(other)} layers, {sum(cost[n] for n in other):.2f} ms)")
        print(line)
    engines["float32"] = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32"))
    contexts = {p: e.create_execution_context() for p, e in engines.items()}
    times = {p: [] for p in contexts}
    for ctx in contexts.values():
        ctx.run(feed)
    for _ in range(args.runs):
        for p, ctx in contexts.items():
            t0 = time.process_time()
            ctx.run(feed)
            times[p].append((time.process_time() - t0) * 1e3)
    fp32 = float(np.median(times["float32"]))
    for p, t in times.items():
        print(f"{p}: {np.median(t):.1f} ms process CPU (median of {args.runs}, batch {args.batch}), "
              f"{np.median(t) / fp32:.2f} x float32")


if __name__ == "__main__":
    main()
