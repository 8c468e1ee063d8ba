"""Does a second thread speed up int8rt INT8 at batch 8? int8rt only, one
execution context per network, 1 and 2 threads alternating run by run (7
rounds), wall clock medians and minima, the load average printed (on a
shared machine the second core is rarely free).

Engines: files saved with Engine.save (e.g. by batch_scaling_bench.py's
build, or int8rt.build_engine(...).save(path)), input Gaussian N x 3 x 224 x 224.

Usage: PYTHONPATH=<tree>/python python3 threads_batch_bench.py ENGINE_FILE... [--batch 8] [--rounds 7]
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import engine_files_parser  # noqa: E402


def main() -> None:
    args = engine_files_parser(__doc__).parse_args()
    for path in args.engines:
        e = int8rt.Engine.load(path)
        ctx, name = e.create_execution_context(), e.input_names[0]
        x = np.random.default_rng(1).standard_normal((args.batch, 3, 224, 224), dtype=np.float32)
        ctx.run({name: x})
        samples: dict = {1: [], 2: []}
        for _ in range(args.rounds):
            for t in (1, 2):
                int8rt.set_num_threads(t)
                w0 = time.perf_counter()
                ctx.run({name: x})
                samples[t].append(time.perf_counter() - w0)
        med = {t: statistics.median(v) * 1e3 for t, v in samples.items()}
        print(f"{os.path.basename(path)} batch {args.batch} wall median ms: 1 thread {med[1]:.1f}, 2 threads "
              f"{med[2]:.1f} ({med[1] / med[2]:.2f}x; minima {min(samples[1]) * 1e3:.1f} / "
              f"{min(samples[2]) * 1e3:.1f}); load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
