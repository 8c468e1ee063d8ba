"""Would unsigned activations (zero point -128, scale = threshold / 255 on
tensors that are never negative) close int8rt's gap to ONNX Runtime / NNCF?
A fake-quantization simulation, before any engine change (issue 12).

Method: int8rt places the quantization (``int8rt.export_qdq`` with an mse
engine's scales: the Q/DQ pairs sit on every tensor int8rt holds in int8,
weights per channel with int8rt's formula). ONNX Runtime then runs that Q/DQ
model with its graph optimizations off, i.e. QuantizeLinear ->
DequantizeLinear in float around float32 convolutions: fake quantization.
Variants differ only in the activation pairs on tensors proven non-negative
in the ONNX graph (Relu, Clip with min >= 0, and MaxPool / Concat / Split /
Reshape / Transpose / Slice / pooling of such tensors):

  sym (int8rt today)  scale t / 127, zero point 0, t = int8rt's mse threshold
  u8, same t          scale t / 255, zero point -128 (int8 codes q - 128)
  u8, mse(255)        t re-searched by int8rt's mse over the same histograms
                      with is_unsigned=True (255 steps over [0, t])
  u8, GAP symmetric   as "same t", but the inputs of GlobalAveragePool stay
                      symmetric (int8rt's pool takes no zero point)

Also, same process: int8rt's own mse and auto engines (bias correction as
auto decides), so the simulation's "sym" row can be checked against the
engine it stands for. Networks and data: peers_bench.py's (random-weight
torchvision nets, 32 calibration / 16 evaluation Gaussian images).

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/unsigned_sim.py [--models shufflenet_v2,resnet50]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt.accuracy import metrics as M  # noqa: E402
from int8rt.calib.histogram import Histogram  # noqa: E402

PASS_THROUGH = {"MaxPool", "Reshape", "Transpose", "Flatten", "Split", "Slice", "Squeeze", "Unsqueeze",
                "Identity", "GlobalAveragePool", "AveragePool", "Concat", "Resize", "Gather"}


def nonnegative_tensors(model) -> set[str]:
    """Tensors of the float graph that are >= 0 for every input: Relu,
    Clip(min >= 0) outputs, and what the ops above make of such tensors only."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(a.t) for n in model.graph.node if n.op_type == "Constant"
              for a in n.attribute if a.name == "value"}
    inits.update(consts)
    out: set[str] = set()
    for n in model.graph.node:  # topological order (ONNX requires it)
        if n.op_type == "Relu":
            out.update(n.output)
        elif n.op_type == "Clip":
            lo = next((a.f for a in n.attribute if a.name == "min"), None)
            if lo is None and len(n.input) > 1 and n.input[1] in inits:
                lo = float(inits[n.input[1]])
            if lo is not None and lo >= 0:
                out.update(n.output)
        elif n.op_type in PASS_THROUGH:
            data = [n.input[0]] if n.op_type != "Concat" else list(n.input)
            if all(d in out for d in data):
                out.update(n.output)
    return out


def activation_qs(qdq) -> dict[str, list]:
    """Source tensor -> its activation QuantizeLinear nodes (input 0 not a
    weight). A tensor int8rt produces in int8 is exported as its producer's
    ``<name>_float`` copy, quantized back to ``<name>`` (_qdq_graph.py)."""
    inits = {i.name for i in qdq.graph.initializer}
    dq_outs = {n.output[0] for n in qdq.graph.node if n.op_type == "DequantizeLinear"}
    qs: dict[str, list] = {}
    for n in qdq.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits:
            x = n.input[0]
            if x.endswith("_float") and x[:-len("_float")] in dq_outs:
                x = x[:-len("_float")]
            qs.setdefault(x, []).append(n)
    return qs


def with_unsigned(qdq, tensors: dict[str, float]):
    """A copy of the Q/DQ model where each named tensor's Q -> DQ pairs use
    scale t / 255 and int8 zero point -128 (t: the given threshold)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(qdq)
    inits = {i.name: i for i in m.graph.initializer}
    consumers: dict[str, list] = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for tensor, qs in activation_qs(m).items():
        if tensor not in tensors:
            continue
        for q in qs:
            nodes = [q] + [d for d in consumers.get(q.output[0], []) if d.op_type == "DequantizeLinear"]
            for k, node in enumerate(nodes):
                tag = f"{node.name}_u8_{k}"
                s = numpy_helper.from_array(np.array(tensors[tensor] / 255.0, np.float32), f"{tag}_scale")
                z = numpy_helper.from_array(np.array(-128, np.int8), f"{tag}_zp")
                m.graph.initializer.extend([s, z])
                node.input[1], node.input[2] = s.name, z.name
    del inits
    return m


def ort_runner(model) -> Callable[[dict], np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # the Q/DQ scales left unused by the rewrite are not news
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # fake quantization, no QLinear fusion
    opts.intra_op_num_threads = 2
    s = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda feed: s.run(None, feed)[0]


def histograms(path: str, names: list[str], calib: list[dict]) -> dict[str, Histogram]:
    """int8rt's histograms (default 2048 bins, extend policy) of the float
    tensors, batch by batch as a calibration feeds them."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(path)
    known = {o.name for o in m.graph.output}
    m.graph.output.extend([onnx.ValueInfoProto(name=n) for n in names if n not in known])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    s = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = [o.name for o in s.get_outputs()]
    hists = {n: Histogram() for n in names}
    for feed in calib:
        for name, value in zip(outs, s.run(outs, feed)):
            if name in hists:
                hists[name].collect(np.ascontiguousarray(value, np.float32))
    return hists


def main() -> None:
    import onnx

    from peers_bench import cnn_subject

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="shufflenet_v2,resnet50")
    args = ap.parse_args()
    int8rt.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp())
    for name in args.models.split(","):
        path, calib, evals, out = cnn_subject(name, tmp)
        fp32 = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
        ref = np.concatenate([fp32.run(f)[out] for f in evals])
        rows: list[tuple[str, np.ndarray]] = []

        def engine(method: str, **config) -> int8rt.Engine:
            cal = int8rt.make_calibrator(calib, algorithm=method)
            return int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=cal, accuracy_check=False, **config))

        mse = engine("mse", bias_correction=False)
        rows.append(("int8rt engine mse", np.concatenate([mse.run(f)[out] for f in evals])))
        auto = engine("auto")
        rows.append((f"int8rt engine auto ({auto.build_report().auto_choice})",
                     np.concatenate([auto.run(f)[out] for f in evals])))
        qdq_path = tmp / f"{name}_qdq.onnx"
        int8rt.export_qdq(path, mse.scales(), qdq_path)
        qdq = onnx.load(str(qdq_path))
        nonneg = nonnegative_tensors(onnx.load(path))
        acts = sorted(activation_qs(qdq))
        unsigned = [t for t in acts if t in nonneg]
        hists = histograms(path, acts, calib)
        t_sym = {t: hists[t].compute_amax("mse") for t in acts}
        t_u8 = {t: hists[t].compute_amax("mse", is_unsigned=True) for t in unsigned}
        engine_t = {t: float(mse.scales()[t]) * 127 for t in acts if t in mse.scales()}
        off = max(abs(t_sym[t] / engine_t[t] - 1) for t in engine_t)
        print(f"\n### {name}: {len(acts)} activation Q/DQ tensors, {len(unsigned)} non-negative; "
              f"simulated mse thresholds vs the engine's: max relative difference {off:.2e}; "
              f"unsigned mse threshold / signed: median {np.median([t_u8[t] / t_sym[t] for t in unsigned]):.3f}\n")
        pooled = {n.input[0] for n in onnx.load(path).graph.node if n.op_type == "GlobalAveragePool"}
        from onnx import numpy_helper

        inits = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
        t_engine = {t: float(inits[qs[0].input[1]]) * 127 for t, qs in activation_qs(qdq).items()}
        variants = {
            "sim: sym (engine's scales)": qdq,
            # each tensor's own threshold, also for what int8rt moves as bytes at its input's scale
            # (max pool, split, slice, shuffle outputs): not what an engine moving bytes can do
            "sim: u8 on non-negative, each tensor's own t": with_unsigned(qdq, {t: t_sym[t] for t in unsigned}),
            "sim: u8 on non-negative, own t re-searched for 255 steps": with_unsigned(qdq, t_u8),
            # int8rt's thresholds as its engine holds them (a moved tensor at its input's)
            "sim: u8 on non-negative, the engine's t": with_unsigned(qdq, {t: t_engine[t] for t in unsigned}),
            # and as the lowering does it: a GlobalAveragePool takes no zero point, its input stays symmetric
            "sim: u8, the engine's t, GlobalAveragePool inputs symmetric": with_unsigned(
                qdq, {t: t_engine[t] for t in unsigned if t not in pooled}),
        }
        for label, model in variants.items():
            run = ort_runner(model)
            rows.append((label, np.concatenate([run(f) for f in evals])))
        print("| engine | centred_cos | rel_l2 | top-1 agree | load |")
        print("|---|---|---|---|---|")
        for label, got in rows:
            print(f"| {label} | {M.centred_cosine(ref, got):.4f} | {M.relative_l2(ref, got):.4f} | "
                  f"{M.top1_agreement(ref, got):.3f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
