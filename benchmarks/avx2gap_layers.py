"""Where int8rt INT8 loses to OpenVINO INT8 on an AVX2-only CPU, per layer
(RESULTS.md section 233): the saved engines of avx2e2e_ab.py --save
(DIR/NET/engine.i8rt, x1.npy, x8.npy, input_name, ov_xml) profiled at one
thread, int8rt's ExecutionContext.profile (calling thread's CPU clock) and
OpenVINO's PERF_COUNT (a fresh compile per round, wall time per node)
alternating; per layer the minimum over rounds (load only adds to a time).

Both profiles are grouped by "anchor": the ONNX Conv node a layer comes from
(int8rt layers carry the ONNX node's name; OpenVINO node names extend it,
".../WithoutBiases", matched by the longest Conv name they start with), or,
for the other layers, their kind (realnets/profile_kinds.py); a conv that
int8rt runs inside an earlier conv's layer (an inverted-residual block at
batch > 1) counts under that conv, OpenVINO's node for it too. Prints the
anchors' classes (stem / depthwise / 1x1 / RxS, as e2e_amx_ov_kinds.py),
ranked by int8rt - OpenVINO, then the --top convs with the largest loss:
their weights' shape, int8rt's kernel (the profile's detail: the kernel
INT8RT_LOG=dispatch names) and OpenVINO's implementation.

Usage: PYTHONPATH=python python benchmarks/avx2gap_layers.py --dir /tmp/avx2gap/eng \
           --models efficientnet_lite0 mobilenet_v3 --batches 1 8 [--rounds 6 --top 12] \
           [--onnx-dir /tmp/lead/e2emodels]
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import int8rt  # noqa: E402
from bench_util import load_line, machine_line  # noqa: E402
from e2e_amx_ov_kinds import conv_classes  # noqa: E402
from e2e_amx_rule_projection import conv_shapes  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402
from realnets import profile_kinds as P  # noqa: E402


def anchor(name: str, convs: Dict[str, Tuple[int, int, int, int]]) -> str:
    """The ONNX Conv node ``name`` is, or extends ("name/..."); "" if none."""
    if name in convs:
        return name
    return max((k for k in convs if name.startswith(k + "/")), key=len, default="")


def profiles(d: Path, batch: int, rounds: int) -> Tuple[List[dict], List[dict]]:
    """(int8rt, OpenVINO) per-layer profiles, minimum over ``rounds``
    alternating rounds of 2 runs each."""
    import openvino

    int8rt.set_num_threads(1)
    engine = int8rt.Engine.load(str(d / "engine.i8rt"))
    x = np.load(d / f"x{batch}.npy")
    feed = {(d / "input_name").read_text().strip(): x}
    ctx = engine.create_execution_context()
    model = openvino.Core().read_model((d / "ov_xml").read_text().strip())

    def compile_fn():
        return O.compile_model(model, 1, None, x.shape, perf_count=True)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(ctx.profile(feed, 2, clock="thread_cpu"))
        theirs.append(O.profile(compile_fn, x, 2))
    return P.merge_profiles(ours, np.min), P.merge_profiles(theirs, np.min)


def report(net: str, batch: int, ours: List[dict], ov: List[dict], onnx_path: Path, top: int) -> None:
    convs = conv_shapes(onnx_path)
    classes = conv_classes(onnx_path)
    # anchor -> [int8rt ms, int8rt layers, OV ms, OV nodes, int8rt kernels, OV execs]
    acc: Dict[str, list] = defaultdict(lambda: [0.0, 0, 0.0, 0, set(), set()])
    # A conv that int8rt ran inside an earlier layer (an inverted-residual
    # block fused into its expansion conv's layer at batch > 1: 0 ms in every
    # profile) counts, with OpenVINO's node for it, under that layer's conv.
    owner: Dict[str, str] = {}
    last = ""
    for la in ours:
        a = anchor(la["name"], convs) if P.kind_int8rt(la) in ("conv", "depthwise conv") else ""
        if a and la["ms"] == 0.0 and last:
            owner[a] = last
        elif a:
            owner[a], last = a, a
        key = owner.get(a, a) or P.kind_int8rt(la)
        acc[key][0] += la["ms"]
        acc[key][1] += 1
        acc[key][4].add(la["detail"].split(" ")[0])
    for node in ov:
        a = anchor(node["name"], convs)
        key = owner.get(a, a) or P.kind_openvino(node)
        acc[key][2] += node["ms"]
        acc[key][3] += 1
        acc[key][5].add(node["exec"])
    by_class: Dict[str, List[float]] = defaultdict(lambda: [0.0, 0, 0.0])
    for key, (a, na, o, no, _, _) in acc.items():
        c = classes.get(key, key)
        by_class[c][0] += a
        by_class[c][1] += 1
        by_class[c][2] += o
    print(f"\n### {net} batch {batch} ({load_line()})\n")
    print("| class | int8rt ms | OpenVINO ms | int8rt - OV ms | int8rt / OV |")
    print("|---|---:|---:|---:|---:|")
    for c, (a, n, o) in sorted(by_class.items(), key=lambda kv: -(kv[1][0] - kv[1][2])):
        print(f"| {c} ({n}) | {a:.3f} | {o:.3f} | {a - o:+.3f} | {a / o:.2f} |" if o > 0 else
              f"| {c} ({n}) | {a:.3f} | 0 | {a:+.3f} | - |")
    ta, to = sum(v[0] for v in acc.values()), sum(v[2] for v in acc.values())
    print(f"| **sum** | {ta:.3f} | {to:.3f} | {ta - to:+.3f} | {ta / to:.2f} |\n")
    rows = sorted(((k, v) for k, v in acc.items() if k in convs), key=lambda kv: -(kv[1][0] - kv[1][2]))
    print("| conv (K/g, C/g, RxS, g), with the convs run inside it | int8rt ms | OV ms | diff | int8rt kernel(s) | OV exec |")
    print("|---|---:|---:|---:|---|---|")
    for k, (a, na, o, no, ks, es) in rows[:top]:
        inside = sum(1 for o in owner.values() if o == k) - 1
        print(f"| {k} {convs[k]}{f' +{inside}' if inside > 0 else ''} | {a:.3f} | {o:.3f} | {a - o:+.3f} | {', '.join(sorted(ks))} | "
              f"{', '.join(sorted(es))} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--onnx-dir", type=Path, default=Path("/tmp/lead/e2emodels"))
    args = ap.parse_args()
    print(machine_line())
    print(f"int8rt {int8rt.__version__} (ISA {int8rt.get_max_isa()}), {O.versions()}")
    for net in args.models:
        for batch in args.batches:
            ours, ov = profiles(args.dir / net, batch, args.rounds)
            report(net, batch, ours, ov, args.onnx_dir / f"{net}.onnx", args.top)
    print(f"\nend: {load_line()}")


if __name__ == "__main__":
    main()
