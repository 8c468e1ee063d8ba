"""Which FP32 engine drifts on convmixer_768_32 (benchmarks/realnets/new_models.py)?
int8rt FP32 and ONNX Runtime FP32 against the same timm module run by torch in
float64, at every block (the residual Add and the block's output), and the
local error of each op kind: one op (or one block's chain) fed the float64
activation rounded to float32, so the error it adds alone is measured, not
the error it inherits and amplifies. Errors: max |y - y64| / max |y64| and
the RMS ratio; "float32(exact)" is the float64 result rounded to float32,
the least error a float32 engine can have.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/convmixer_drift.py \
    [--dir /tmp/newnets/models] [-n 4] [--block 10]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import new_models as M  # noqa: E402

NAME = "convmixer_768_32"


def rel(a: np.ndarray, r: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - r)) / np.max(np.abs(r)))


def rms(a: np.ndarray, r: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(np.float64) - r) ** 2) / np.mean(r ** 2)))


def fp32_run(path: Path, x: np.ndarray) -> dict:
    """int8rt FP32 outputs of the model at ``path`` for input ``x``."""
    import int8rt

    engine = int8rt.build_engine(str(path), int8rt.BuilderConfig(precision="fp32"))
    return engine.create_execution_context().run({"x": x})


def per_block(path: Path, x: np.ndarray, model64) -> None:
    """int8rt and ORT with every block's residual Add and output as extra outputs."""
    import onnx
    import torch

    acts: list[np.ndarray] = []
    hooks = []
    for b in model64.blocks:
        hooks.append(b[0].register_forward_hook(lambda m, i, o: acts.append(o.numpy())))
        hooks.append(b.register_forward_hook(lambda m, i, o: acts.append(o.numpy())))
    with torch.no_grad():
        out64 = model64(torch.from_numpy(x.astype(np.float64))).numpy()
    for h in hooks:
        h.remove()
    mo = onnx.load(str(path))
    adds = [n.output[0] for n in mo.graph.node if n.op_type == "Add"]
    bns = [n.output[0] for n in mo.graph.node if n.op_type == "BatchNormalization"]  # stem, then 2 per block
    names = [t for i in range(len(model64.blocks)) for t in (adds[i], bns[2 + 2 * i])]
    assert len(names) == len(acts)
    for t in names:
        mo.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, ["N", 768, 32, 32]))
    tapped = path.parent / "convmixer_taps.onnx"
    onnx.save(mo, str(tapped), save_as_external_data=True, location=tapped.name + ".data")
    ort = M.ort_session(str(tapped)).run(None, {"x": x})
    ours = fp32_run(tapped, x)
    plain = fp32_run(path, x)
    ort0 = M.ort_session(str(path)).run(None, {"x": x})[0]
    print(f"logits (untapped model): int8rt vs float64 {rel(plain['out'], out64):.2e}, ORT vs float64 "
          f"{rel(ort0, out64):.2e}, int8rt vs ORT {rel(plain['out'], ort0.astype(np.float64)):.2e}")
    print("| block | tensor | int8rt vs float64 | ORT vs float64 | int8rt vs ORT |\n|---|---|---|---|---|")
    for i, t in enumerate(names):
        if i % 8 in (0, 7) or i == len(names) - 1:
            print(f"| {i // 2} | {t} | {rel(ours[t], acts[i]):.2e} | {rel(ort[1 + i], acts[i]):.2e} | "
                  f"{rel(ours[t], ort[1 + i].astype(np.float64)):.2e} |")


def local(x: np.ndarray, model64, blk: int, d: Path) -> None:
    """One op / one chain of block ``blk`` fed float32(float64 input)."""
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    store: dict[str, np.ndarray] = {}
    b = model64.blocks[blk]
    b[0].fn[0].register_forward_hook(lambda m, i, o: store.update(dw_in=i[0].numpy(), dw_out=o.numpy()))
    b[0].fn[2].register_forward_hook(lambda m, i, o: store.update(bn1_in=i[0].numpy(), bn1_out=o.numpy()))
    b[0].register_forward_hook(lambda m, i, o: store.update(res_out=o.numpy()))
    b[1].register_forward_hook(lambda m, i, o: store.update(pw_in=i[0].numpy(), pw_out=o.numpy()))
    b[3].register_forward_hook(lambda m, i, o: store.update(blk_out=o.numpy()))
    with torch.no_grad():
        model64(torch.from_numpy(x.astype(np.float64)))

    def init(name, t):
        return numpy_helper.from_array(t.detach().numpy().astype(np.float32), name)

    def bn(m, inp, out):
        return ([helper.make_node("BatchNormalization", [inp, "g", "b", "m", "v"], [out], epsilon=m.eps)],
                [init("g", m.weight), init("b", m.bias), init("m", m.running_mean), init("v", m.running_var)])

    dw, bn1, pw, bn2 = b[0].fn[0], b[0].fn[2], b[1], b[3]
    k = dw.kernel_size[0]
    dwc = [helper.make_node("Conv", ["x", "dw", "dwb"], ["c"], group=dw.groups, pads=[k // 2] * 4, kernel_shape=[k, k])]
    dwi = [init("dw", dw.weight), init("dwb", dw.bias)]
    pwc = [helper.make_node("Conv", ["x", "pw", "pwb"], ["c"], kernel_shape=[1, 1])]
    pwi = [init("pw", pw.weight), init("pwb", pw.bias)]
    relu = [helper.make_node("Relu", ["c"], ["r"])]
    residual = [helper.make_node("Add", ["z", "x"], ["y"])]
    cases = {
        f"depthwise conv {k}x{k}": (dwc, dwi, "c", "dw_in", "dw_out"),
        "BatchNormalization (after ReLU)": (bn(bn1, "x", "y")[0], bn(bn1, "x", "y")[1], "y", "bn1_in", "bn1_out"),
        "pointwise conv 1x1 (K = 768)": (pwc, pwi, "c", "pw_in", "pw_out"),
        "dw conv + ReLU + BN + residual Add": (dwc + relu + bn(bn1, "r", "z")[0] + residual,
                                               dwi + bn(bn1, "r", "z")[1], "y", "dw_in", "res_out"),
        "pw conv + ReLU + BN": (pwc + relu + bn(bn2, "r", "y")[0], pwi + bn(bn2, "r", "y")[1], "y", "pw_in", "blk_out"),
    }
    print(f"\nblock {blk}, local error (max-rel / rms-rel against float64)\n"
          "| op | int8rt FP32 | ORT FP32 | float32(exact) |\n|---|---|---|---|")
    for label, (nodes, inits, y, i, o) in cases.items():
        shape = list(store[i].shape)
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, shape)], inits)
        p = d / "convmixer_local.onnx"
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
        xin, ref = store[i].astype(np.float32), store[o]
        ort = M.ort_session(str(p)).run(None, {"x": xin})[0]
        ours = fp32_run(p, xin)[y]
        best = ref.astype(np.float32)
        print(f"| {label} | {rel(ours, ref):.2e} / {rms(ours, ref):.2e} | {rel(ort, ref):.2e} / {rms(ort, ref):.2e} | "
              f"{rel(best, ref):.2e} / {rms(best, ref):.2e} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("-n", type=int, default=4, help="evaluation images")
    ap.add_argument("--block", type=int, action="append", help="blocks for the local errors (default 10, 25)")
    args = ap.parse_args()
    import int8rt

    int8rt.set_num_threads(1)
    print(machine_line())
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    net = M.NETS[NAME]
    path = d / f"{NAME}.onnx"
    if not path.exists():
        M.export(net, path)
    x = net.feeds(args.n, 1)["x"]
    model64 = net.build().double()
    per_block(path, x, model64)
    for blk in args.block or [10, 25]:
        local(x, model64, blk, d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
