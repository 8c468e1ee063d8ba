"""The SE gates' table-form layers per tree (RESULTS.md section 233): for
each saved engine (avx2e2e_ab.py --save's DIR/NET) and batch, the
int8rt.QChannelMul and int8rt.QGlobalAveragePool layers that read x through
a float table, their thread CPU time (minimum over --rounds profiles of 2
runs, 1 thread) summed, beside the sum of all layers. The trees alternate
as worker processes (--trees: python/ folders), --passes times.

Usage: python benchmarks/avx2gap_table_layers.py --dir /tmp/avx2gap/eng \
           --trees /tmp/avx2gap/base/python python --models mobilenet_v3 ppocr_det ppocr_rec [--passes 2]
"""
from __future__ import annotations

from pathlib import Path

from saved_engine_layers import layer_minima, parse_args, run_worker


def worker(d: Path, batch: int, rounds: int) -> dict:
    """{gate, pool, all: ms sums, n: table layers} of one engine on this tree."""
    out = {"gate": 0.0, "pool": 0.0, "all": 0.0, "n": 0}
    for layer, ms in layer_minima(d, batch, rounds):
        out["all"] += ms
        if "x through a float table" in layer["detail"]:
            out["gate" if layer["op"].endswith("QChannelMul") else "pool"] += ms
            out["n"] += 1
    return out


def main() -> None:
    args = parse_args(__doc__, "mobilenet_v3", 2, worker)
    if args is None:
        return
    for net in args.models:
        for batch in args.batches:
            for p in range(args.passes):
                for tree in args.trees:
                    o = run_worker(__file__, tree, args.dir / net, batch, args.rounds)
                    print(f"{net} b{batch} pass {p} {tree}: {o['n']} table layers, gates {o['gate']:.3f} ms, "
                          f"pools {o['pool']:.3f} ms, all layers {o['all']:.3f} ms", flush=True)
    print("load", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
