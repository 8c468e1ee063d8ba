"""Swin's shifted-window attentions fused (int8rt.QAttention with two masks
and a view of the batch, swin branch) against the engine int8rt built
before: the same lowered network with each such layer put back as the
unfused chain main's lowering gave it, every other byte equal.

The "before" twin (``unfused_twin``) replaces each QAttention that has a
mask view (mask_view / mask2_view: the ones the Reshape pair used to keep
unfused) by QMatMul -> [Mul / Div] -> Add(mask) -> Reshape
(view) -> Add(mask2) -> Reshape (back) -> Softmax -> int8rt.Quantize at the
probabilities' symmetric scale (threshold / 127, no zero point: the
zero-point pass proves no bound for a Softmax) -> QMatMul, the layers and
scales main's lowering emits for that graph; the scores QMatMul writes int8
at the scores' calibrated scale and a Dequantize follows where that scale
exists, as main's lowering did (the bias Add counts as an int8 reader of
the scores, then declines: lower_matmul_pair's int8_output_wanted), else
float. ``--check-main REPO``: also
builds the engine with REPO's int8rt in a subprocess (same calibration)
and reports whether its output equals the twin's bit for bit (a check that
the twin is main's engine).

Metrics as newnets_bench.metrics: centred cosine, top-1 on the inputs whose
FP32 top-1 varies, against ONNX Runtime FP32; ``--ort`` adds ONNX Runtime
INT8 reduce_range (wheelnets_bench.ort_int8) on the same data; ``--speed``
latency of the two engines, 1 thread, batch 1 and 8, alternated in one
process, medians and the median per-round ratio.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_window_bench.py swin_tiny \
    --methods minmax [--ort] [--speed] [--check-main /work/main] --dir /tmp/attnzp/models
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import newnets_bench as B  # noqa: E402
from attention_probs_acc import latency  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402


def unfused_twin(engine: Any, model_path: str) -> tuple[Any, int]:
    """The engine with every viewed-mask QAttention as its unfused chain
    (module docstring); returns it and how many layers were unfused.
    ``model_path``: the ONNX file it was built from (the scores' tensor names)."""
    import onnx

    import int8rt
    from int8rt import _core

    output_of = {n.name: n.output[0] for n in onnx.load(model_path, load_external_data=False).graph.node if n.output}
    scales = engine.scales()

    version, tensors, nodes, inputs, outputs, extra = engine._native.network().__getstate__()
    tensors = list(tensors)
    sym_of = {}
    for s in engine.scales().values():
        g = _core.lower_bounded_grid(s, 0.0)
        if g is not None:
            sym_of.setdefault(np.float32(g[0]).tobytes(), s)

    def tensor(name: str, dtype: str = "float32", data: Any = None) -> int:
        shape = list(data.shape) if data is not None else []
        tensors.append((name, dtype, shape, data is not None, -1, data))
        return len(tensors) - 1

    out_nodes, changed = [], 0
    for name, op, ins, outs, attrs in nodes:
        if op != "int8rt.QAttention" or not (attrs.get("mask_view") or attrs.get("mask2_view")):
            out_nodes.append((name, op, ins, outs, attrs))
            continue
        changed += 1
        q, k, v, masks = ins[0], ins[1], ins[2], ins[3:]
        qs, ks = tensors[q][2], tensors[k][2]
        m_rows, n_cols = qs[-2], ks[-2] if attrs.get("k_transposed") else ks[-1]
        scores_shape = list(qs[:-2]) + [m_rows, n_cols]
        s = tensor(name + "::scores")
        qk = {"a_scale": attrs["q_scale"], "b_scale": attrs["k_scale"], "logical": 1}
        if attrs.get("k_transposed"):
            qk["b_transposed"] = 1
        scores_scale = scales.get(output_of.get(name.split("+")[0], ""))
        if scores_scale:
            qk["out_scale"] = float(scores_scale)
            s8 = tensor(name + "::scores::int8", "int8")
            out_nodes.append((name + "::qk", "int8rt.QMatMul", [q, k], [s8], qk))
            out_nodes.append((name + "::dequantize", "int8rt.Dequantize", [s8], [s],
                              {"scale": float(scores_scale), "logical": 1}))
        else:
            out_nodes.append((name + "::qk", "int8rt.QMatMul", [q, k], [s], qk))
        if attrs.get("scores_factor"):
            c = tensor(name + "::factor", data=np.array(attrs["scores_factor"], np.float32))
            t = tensor(name + "::scaled")
            out_nodes.append((name + "::scale", "Div" if attrs.get("scores_divide") else "Mul", [s, c], [t], {}))
            s = t
        for i, (mask, key) in enumerate(zip(masks, ("mask_view", "mask2_view"))):
            view = attrs.get(key)
            if view:
                target = tensor(f"{name}::view{i}", "int64", np.array(list(view) + [m_rows, n_cols], np.int64))
                t = tensor(f"{name}::viewed{i}")
                out_nodes.append((f"{name}::view{i}", "Reshape", [s, target], [t], {}))
                s = t
            t = tensor(f"{name}::masked{i}")
            out_nodes.append((f"{name}::add{i}", "Add", [s, mask], [t], {}))
            s = t
            if view:
                back = tensor(f"{name}::back{i}", "int64", np.array([-1] + scores_shape[1:], np.int64))
                t = tensor(f"{name}::unviewed{i}")
                out_nodes.append((f"{name}::unview{i}", "Reshape", [s, back], [t], {}))
                s = t
        p = tensor(name + "::probs")
        out_nodes.append((name + "::softmax", "Softmax", [s], [p], {"axis": -1}))
        probs_scale = attrs["probs_scale"]
        if attrs.get("probs_zero_point"):
            probs_scale = float(sym_of[np.float32(probs_scale).tobytes()])
        pq = tensor(name + "::probs::int8", "int8")
        out_nodes.append((name + "::quantize", "int8rt.Quantize", [p], [pq], {"scale": probs_scale, "logical": 1}))
        pv = {"a_scale": probs_scale, "b_scale": attrs["v_scale"], "logical": 1}
        for key in ("out_scale", "v_transposed"):
            if attrs.get(key):
                pv[key] = attrs[key]
        out_nodes.append((name + "::pv", "int8rt.QMatMul", [pq, v], outs, pv))
    for i, (_, _, _, outs, _) in enumerate(out_nodes):  # producers follow the new node order
        for o in outs:
            tensors[o] = tensors[o][:4] + (i,) + tensors[o][5:]
    net = _core.Network.__new__(_core.Network)
    net.__setstate__((version, tensors, out_nodes, inputs, outputs, extra))
    return int8rt.Engine(_core.Engine.create(net, dict(engine.metadata))), changed


MAIN_RUN = """
import sys, numpy as np, int8rt
from int8rt.data_calibrator import make_calibrator
d = np.load(sys.argv[1])
calib = {k[2:]: d[k] for k in d.files if k.startswith("c:")}
evals = {k[2:]: d[k] for k in d.files if k.startswith("e:")}
int8rt.set_num_threads(1)
config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
config.calibrator = make_calibrator(calib, algorithm=sys.argv[3], batch_size=8)
e = int8rt.build_engine(sys.argv[2], config)
ctx = e.create_execution_context()
n = len(next(iter(evals.values())))
out = np.concatenate([ctx.run({k: v[i:i + 4] for k, v in evals.items()})["out"] for i in range(0, n, 4)])
np.save(sys.argv[4], out)
"""


def main_engine_output(repo: str, path: Path, algo: str, calib: dict, evals: dict) -> np.ndarray:
    """REPO's int8rt engine (same method and calibration data) on evals, in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.npz")
        np.savez(data, **{f"c:{k}": v for k, v in calib.items()}, **{f"e:{k}": v for k, v in evals.items()})
        out = os.path.join(tmp, "out.npy")
        env = dict(os.environ, PYTHONPATH=os.path.join(repo, "python"))
        subprocess.run([sys.executable, "-c", MAIN_RUN, data, str(path), algo, out], check=True, env=env)
        return np.load(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--methods", default="minmax")
    ap.add_argument("--dir", default="/tmp/attnzp/models")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seeds", default="1")
    ap.add_argument("--ort", action="store_true")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--check-main", default="", help="a checkout whose build is the 'before' engine")
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    print(machine_line())
    net, path = M.exported(args.name, args.dir)
    calib = net.feeds(args.calib, args.calib_seed)
    sets = {int(s): net.feeds(args.eval, int(s)) for s in args.eval_seeds.split(",")}
    sess = M.ort_session(str(path))
    refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}

    def show(label: str, outs: dict[int, np.ndarray]) -> None:
        for s, out in outs.items():
            m = B.metrics(net, out, refs[s])
            print(f"{args.name} {label} calibration seed {args.calib_seed} evaluation seed {s}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)

    if args.ort:
        from wheelnets_bench import ort_int8
        q, build_s, _ = ort_int8(str(path), calib, 8, reduce_range=True, symmetric_activations=False)
        qs = M.ort_session(q)
        show(f"ONNX Runtime INT8 reduce_range (build {build_s:.0f} s)",
             {s: B.run_all(lambda f: qs.run(None, f)[0], e, 4) for s, e in sets.items()})
    for algo in args.methods.split(","):
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8)
        t0 = time.perf_counter()
        after = int8rt.build_engine(str(path), config)
        build_s = time.perf_counter() - t0
        before, changed = unfused_twin(after, str(path))
        total = sum(1 for n in after._native.network().nodes() if n["op"] == "int8rt.QAttention")
        engines = {"before (viewed masks unfused)": before, "after (all fused)": after}
        ctxs = {k: e.create_execution_context() for k, e in engines.items()}
        outs = {label: {s: B.run_all(lambda f, c=c: c.run(f)["out"], e, 4) for s, e in sets.items()}
                for label, c in ctxs.items()}
        for label, o in outs.items():
            show(f"{algo} (build {build_s:.0f} s, {total} QAttention, {changed} with views) {label}", o)
        if args.check_main:
            first = min(sets)
            ref = main_engine_output(args.check_main, path, algo, calib, sets[first])
            twin = outs["before (viewed masks unfused)"][first]
            same = ref.shape == twin.shape and np.array_equal(ref.view(np.uint32), twin.view(np.uint32))
            print(f"{args.check_main}'s engine == the unfused twin bit for bit: {same}"
                  + ("" if same else f" (max |diff| {np.max(np.abs(ref - twin)):.3g})"), flush=True)
        if args.speed:
            first = next(iter(sets.values()))
            for batch in (1, 8):
                feed = {k: np.ascontiguousarray(v[:batch]) for k, v in first.items()}
                r = latency({k: (lambda c=c: c.run(feed)) for k, c in ctxs.items()}, args.rounds, args.min_time)
                print(f"{args.name} {algo} batch {batch}, 1 thread, {args.rounds} rounds: "
                      + ", ".join(f"{k} {v:.2f} ms" for k, v in r.items() if k != "ratio")
                      + f", after / before {r['ratio']:.3f}; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
