"""int8rt FP32 against ONNX Runtime FP32 on any ONNX file with one image input:
both run one thread, alternating in one process; medians of process and thread
CPU time per run (the steadier figures on a shared machine) and their ratio.

The first input's symbolic dimensions take the batch size; the data are seeded
Gaussian. ONNX Runtime: realnets/engines-style session (intra_op_num_threads
1, spinning off, fp32_peer_bench.ort_session). Used for RESULTS.md section 59
(issue 14 §3) on the e2e_bench / new_models exports.

Usage: cd /tmp && PYTHONPATH=<repo>/python python3 <repo>/benchmarks/fp32_onnx_ab.py MODEL.onnx
       [--batch 1] [--rounds 9] [--channels-last]
--channels-last adds an engine with channels-last regions (BuilderConfig.channels_last=True,
RESULTS.md section 113) as a third implementation in the alternation.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8rt  # noqa: E402
from fp32_peer_bench import ort_session  # noqa: E402


def seeded_feeds(path: str, batch: int) -> Dict[str, np.ndarray]:
    """Seeded Gaussian data for the model's first input, symbolic dims = batch."""
    import onnx
    inp = onnx.load(path, load_external_data=False).graph.input[0]
    shape = [d.dim_value if d.dim_value > 0 else batch for d in inp.type.tensor_type.shape.dim]
    shape[0] = batch
    return {inp.name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}


def alternate(impls: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, List[float]]:
    """Per implementation the median process and thread CPU ms per call, alternating."""
    for f in impls.values():
        f()
        f()
    times: Dict[str, List[List[float]]] = {k: [[], []] for k in impls}
    for _ in range(rounds):
        for k, f in impls.items():
            p0, t0 = time.process_time(), time.thread_time()
            f()
            times[k][0].append((time.process_time() - p0) * 1e3)
            times[k][1].append((time.thread_time() - t0) * 1e3)
    return {k: [float(np.median(v[0])), float(np.median(v[1]))] for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--channels-last", action="store_true",
                    help="also an int8rt FP32 engine built with channels_last=True (NHWC regions between "
                         "convs), alternated with the other two; its outputs must equal the default engine's")
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    feeds = seeded_feeds(args.model, args.batch)
    ctx = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    sess = ort_session(Path(args.model))
    impls = {"int8rt": lambda: ctx.run(feeds), "ORT": lambda: sess.run(None, feeds)}
    if args.channels_last:
        nhwc = int8rt.build_engine(args.model, int8rt.BuilderConfig(precision="fp32", channels_last=True))
        ctx1 = nhwc.create_execution_context()
        same = all(np.array_equal(a, b) for a, b in zip(ctx.run(feeds).values(), ctx1.run(feeds).values()))
        convs = sum("layout=nhwc" in layer["detail"] for layer in nhwc.layers())
        impls["nhwc"] = lambda: ctx1.run(feeds)
    m = alternate(impls, args.rounds)
    (pa, ta), (po, to) = m["int8rt"], m["ORT"]
    print(f"{os.path.basename(args.model)} b{args.batch}: process ms int8rt {pa:.2f} ORT {po:.2f} ratio "
          f"{pa / po:.2f}; thread ms {ta:.2f} {to:.2f} ratio {ta / to:.2f}; load {os.getloadavg()[0]:.1f}")
    if args.channels_last:
        pn, tn = m["nhwc"]
        print(f"  channels-last engine ({convs} convs on NHWC tensors): process ms {pn:.2f} (ORT ratio "
              f"{pn / po:.2f}), thread ms {tn:.2f} (ORT ratio {tn / to:.2f}); channels-last / default thread "
              f"{tn / ta:.3f}; outputs {'bit-identical' if same else 'DIFFER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
