"""An exact q/k migration measured in int8rt (issue 12, LeViT's q and k):
q k^T is unchanged when q's channel c is multiplied by a_c and k's by
1 / a_c, so SmoothQuant's move between the two operands of the scores
(a_c = sqrt(amax_k,c / amax_q,c), alpha 0.5, per head and channel, from
the calibration set's FP32 q and k) can even their ranges at no change to
the float network. Applied here to the ONNX file, where q and k come out
of a BatchNormalization (LeViT: Linear -> BN -> Reshape [B, N, heads, P]
-> Split on the last axis -> Transpose): the BN's gamma and beta of q's
channel h * P + offset + c times a, of k's channel the inverse (new
initializers: the exporter shares identical constants between BNs).

Prints the migrated FP32 network's distance to the original (ONNX Runtime)
and, for each method, int8rt INT8 centred cosine / top-1 on varying inputs
against ONNX Runtime FP32 of the original, both engines built from the
same calibration data (newnets_bench.metrics).

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_qk_migration.py levit_128 \
    --methods minmax,auto --dir /tmp/lead/models
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import newnets_bench as B  # noqa: E402
from attention_qk_probe import attentions  # noqa: E402
from realnets import new_models as M  # noqa: E402


def bn_channels(model, t: str):
    """(BN node, first channel, head stride P, transposed) of operand t =
    Transpose(Split(Reshape(BN(.), [B, N, heads, P]))[i]) (or without the
    Split), else None."""
    import onnx

    prod = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    n = prod.get(t)
    if n is None or n.op_type != "Transpose":
        return None
    perm = list(onnx.helper.get_attribute_value(n.attribute[0]))
    offset, n = 0, prod.get(n.input[0])
    if n is not None and n.op_type == "Split":
        sizes = onnx.numpy_helper.to_array(inits[n.input[1]]).tolist()
        offset = sum(sizes[:list(n.output).index(prod[t].input[0])])
        n = prod.get(n.input[0])
    if n is None or n.op_type != "Reshape":
        return None
    bn = prod.get(n.input[0])
    if bn is None or bn.op_type != "BatchNormalization":
        return None
    p = int(onnx.numpy_helper.to_array(inits[n.input[1]])[-1])
    return bn, offset, p, perm == [0, 2, 3, 1]


def migrated(model, cal: dict[str, np.ndarray], atts: list[dict]):
    """A copy of the model with every attention's q and k migrated (module docstring); also how many."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name: i for i in out.graph.initializer}
    nodes = {n.name: n for n in out.graph.node}
    factors: dict[str, np.ndarray] = {}  # BN name -> per-channel factor
    done = 0
    for att in atts:
        sq, sk = bn_channels(model, att["q"]), bn_channels(model, att["kT"])
        if not sq or not sk or sq[3] or not sk[3]:
            continue
        q, kT = cal[att["q"]], cal[att["kT"]]                 # [B, h, M, d], [B, h, d, N]
        aq, ak = np.abs(q).max(axis=(0, 2)), np.abs(kT).max(axis=(0, 3))  # [h, d]
        a = np.sqrt(np.maximum(ak, 1e-12) / np.maximum(aq, 1e-12))
        for (bn, offset, p, _), f in ((sq, a), (sk, 1 / a)):
            c = len(onnx.numpy_helper.to_array(inits[bn.input[1]]))
            v = factors.setdefault(bn.name, np.ones(c, np.float64))
            for h in range(f.shape[0]):
                v[h * p + offset:h * p + offset + f.shape[1]] *= f[h]
        done += 1
    for name, f in factors.items():
        bn = nodes[name]
        for slot in (1, 2):  # gamma, beta
            src = onnx.numpy_helper.to_array(inits[bn.input[slot]]).astype(np.float64)
            new = f"{bn.input[slot]}::qk_migrated::{name}"
            out.graph.initializer.append(onnx.numpy_helper.from_array((src * f).astype(np.float32), new))
            bn.input[slot] = new
    return out, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(M.NETS))
    ap.add_argument("--methods", default="minmax,auto")
    ap.add_argument("--dir", default="/tmp/lead/models")
    ap.add_argument("--eval-seeds", default="1,3")
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort

    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    model = onnx.load(str(path))
    atts = attentions(model)
    calib = net.feeds(32, 2)
    sets = {int(s): net.feeds(32, int(s)) for s in args.eval_seeds.split(",")}
    names = sorted({t for a in atts for t in (a["q"], a["kT"])})
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "probe.onnx")
        onnx.save(probe, p, save_as_external_data=True)
        s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        parts = [dict(zip(names, s.run(names, {k: v[i:i + 4] for k, v in calib.items()}))) for i in range(0, 32, 4)]
        cal = {k: np.concatenate([d[k] for d in parts]) for k in names}
        moved, done = migrated(model, cal, atts)
        mpath = os.path.join(tmp, "migrated.onnx")
        onnx.save(moved, mpath, save_as_external_data=True)
        sess, msess = M.ort_session(str(path)), M.ort_session(mpath)
        refs = {s: B.run_all(lambda f: sess.run(None, f)[0], e, 4) for s, e in sets.items()}
        for s, e in sets.items():
            got = B.run_all(lambda f: msess.run(None, f)[0], e, 4)
            print(f"{args.name}: {done} of {len(atts)} attentions migrated; FP32 migrated vs original, seed {s}: "
                  f"max |diff| / max |ref| {np.max(np.abs(got - refs[s])) / np.max(np.abs(refs[s])):.2e}", flush=True)
        for algo in args.methods.split(","):
            for label, src in (("original", str(path)), ("q/k migrated", mpath)):
                config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
                config.calibrator = make_calibrator(calib, algorithm=algo, batch_size=8)
                ctx = int8rt.build_engine(src, config).create_execution_context()
                print(f"{args.name} {algo} {label}: " + "; ".join(
                    f"seed {s}: " + ", ".join(f"{k} {v:.4g}" for k, v in B.metrics(
                        net, B.run_all(lambda f: ctx.run(f)["out"], e, 4), refs[s]).items())
                    for s, e in sets.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
