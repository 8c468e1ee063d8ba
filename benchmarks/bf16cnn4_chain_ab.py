"""The image chain (engine/bf16_blocked_chain.h, RESULTS.md section 215) against
its unchained twin in one process, alternated: the twin is the same ONNX
network with the stem's activation also a network output, which leaves no cut
of the run with one tensor read after it, so nothing is chained (same
layers, same kernels, same bits: checked). The twin also converts that extra
output out of the region (an int8rt.FromBf16x16c the chained engine does not
run), so besides whole runs (process CPU medians, alternated call by call)
this prints the twin's whole run less its extra exit's profiled time, and each engine's profiled sum of layers without that conversion
(thread-CPU medians of alternated ctx.profile calls; neither network's region
has another exit), the like-for-like figure.
1 thread, AMX.

Usage (from /tmp): PYTHONPATH=<tree>/python python3 <tree>/benchmarks/bf16cnn4_chain_ab.py [--nets ...] [--batches 1 8]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8rt  # noqa: E402
from amxbf16_nets import build  # noqa: E402
from bench_util import load_line  # noqa: E402
from bf16_nets_bench import cnn  # noqa: E402


def twin(path: str, out: Path) -> Path:
    """The network with its first Relu / Clip output also a network output."""
    import onnx
    m = onnx.shape_inference.infer_shapes(onnx.load(path))
    act = next(n for n in m.graph.node if n.op_type in ("Relu", "Clip"))
    m.graph.output.append(next(v for v in m.graph.value_info if v.name == act.output[0]))
    onnx.save(m, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet50", "mobilenet_v2"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    print(f"int8rt {Path(int8rt.__file__).parent}")
    for name in args.nets:
        net = cnn(name, tmp)
        chained, plain = build(net.path, "amx", True), build(twin(net.path, tmp / f"{name}_twin.onnx"), "amx", True)
        assert any(la["op"] == "int8rt.Bf16ImageChain" for la in chained.layers())
        assert not any(la["op"] == "int8rt.Bf16ImageChain" for la in plain.layers())
        cc, cp = chained.create_execution_context(), plain.create_execution_context()
        for b in args.batches:
            f = net.feed(b, 3)
            same = np.array_equal(cc.run(f)["logits"].view(np.uint32), cp.run(f)["logits"].view(np.uint32))
            whole = {"chained": [], "unchained": []}
            prof = {"chained": [], "unchained": []}
            exit_ms = []  # the twin's extra exit, per profile
            rounds = args.rounds * (4 if b == 1 else 1)
            for r in range(rounds):
                pairs = (("chained", cc), ("unchained", cp)) if r % 2 else (("unchained", cp), ("chained", cc))
                for k, ctx in pairs:
                    s = time.process_time()
                    ctx.run(f)
                    whole[k].append(time.process_time() - s)
                for k, ctx in pairs:
                    rows = ctx.profile(f, 1, clock="thread_cpu")
                    prof[k].append(sum(la["ms"] for la in rows if la["op"] != "int8rt.FromBf16x16c"))
                    if k == "unchained":
                        exit_ms.append(sum(la["ms"] for la in rows if la["op"] == "int8rt.FromBf16x16c"))
            w = {k: np.median(v) * 1e3 for k, v in whole.items()}
            p = {k: np.median(v) for k, v in prof.items()}
            plain_less_exit = w["unchained"] - np.median(exit_ms)
            print(f"{name} b{b}: whole runs chained {w['chained']:.2f} / unchained {w['unchained']:.2f} ms "
                  f"(x{w['chained'] / w['unchained']:.3f}; the twin less its exit's profiled "
                  f"{np.median(exit_ms):.2f} ms: x{w['chained'] / plain_less_exit:.3f}); layers without the twin's extra exit chained "
                  f"{p['chained']:.2f} / unchained {p['unchained']:.2f} ms (x{p['chained'] / p['unchained']:.3f}); "
                  f"same bits {same}; {load_line()}", flush=True)


if __name__ == "__main__":
    main()
