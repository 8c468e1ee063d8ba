"""FP32 vs BF16 layers (issue 13, "BF16 layers"): speed of the Conv and GEMM
layers, and the accuracy effect of BF16 on a real network.

Part 1, single layers: one-node ONNX models (MatMul with a constant B;
Conv with constant weights and a bias), each built twice as an FP32 engine,
once with ``bf16=True``. The two engines of a layer run alternately in this
process (benchmarks/realnets/timing.py); medians in ms, and GFLOPS
(2 * M * N * K per run). Shapes: GEMMs at M = 128 of a BERT-base block
(768x768, 768x3072, 3072x768), and the dense Convs of the PP-OCRv4
detector at a 640x640 input (read from the model, each distinct shape once).

Part 2, whole networks, per layer: the PP-OCRv4 detector (640x640) as FP32
and FP32 + bf16 engines, ``ExecutionContext.profile`` medians summed per op
and precision, on a page of rendered text lines; the probability maps of
the two engines compared (max / mean difference, pixels on opposite sides
of DBNet's 0.3 threshold).

Part 3, accuracy: the PP-OCRv4 recogniser as in benchmarks/realnets_bench.py
(rendered text lines, seed 1 calibration / seed 2 evaluation): int8rt FP32,
FP32 with every Conv / MatMul in BF16, INT8 (minmax; entropy2 scores 0 on
this network, RESULTS_realnets.md), INT8 with ``accuracy_target`` (the
accuracy machinery keeps the most sensitive layers in float) and the same
with those fallback layers in BF16 (``bf16=True``); line / character
accuracy, agreement of the decoded text with int8rt FP32, layer counts per
precision and batch-1 latency (alternating medians).

Usage: PYTHONPATH=python python3 benchmarks/bf16_bench.py [--threads 1] [--quick]
       [--parts layers,det,rec]
Needs for parts det / rec: onnx, onnxruntime, pillow, matplotlib,
rapidocr-onnxruntime (--no-deps), as benchmarks/realnets_bench.py.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import machine_line  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402

GEMMS = [("bert 768x768 @M=128", 128, 768, 768), ("bert 768x3072 @M=128", 128, 768, 3072),
         ("bert 3072x768 @M=128", 128, 3072, 768)]


def one_node_model(op: str, x_shape, weights: dict, attrs: dict) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    node = helper.make_node(op, ["x", *weights], ["y"], **attrs)
    graph = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    return model.SerializeToString()


def pair(model: bytes):
    fp32 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", optimize=False))
    bf16 = int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", optimize=False, bf16=True))
    kernel = bf16.layers()[0]["detail"]
    assert bf16.layers()[0]["precision"] == "bf16", kernel
    return fp32, bf16, kernel.split("kernel=")[-1]


def runner(engine):
    ctx = engine.create_execution_context()
    return lambda x: ctx.run({"x": x})


def time_pair(model: bytes, x: np.ndarray, rounds: int, budget: float):
    fp32, bf16, kernel = pair(model)
    ms = alternating_medians({"fp32": runner(fp32), "bf16": runner(bf16)}, x, rounds=rounds, budget_s=budget)
    return ms["fp32"], ms["bf16"], kernel


def det_path():
    from realnets.ocr_models import models_dir

    folder = models_dir()
    return None if folder is None else os.path.join(folder, "ch_PP-OCRv4_det_infer.onnx")


def det_model(size: int) -> bytes:
    from realnets.ocr_models import static_input_model

    return static_input_model(det_path(), (3, size, size)).SerializeToString()


def det_convs(size: int) -> list:
    """(C, H, W, M, k, stride, pad, group) of every distinct dense Conv of the detector."""
    import onnx

    model = onnx.load_from_string(det_model(size))
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in
              list(model.graph.value_info) + list(model.graph.input)}
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    for node in model.graph.node:  # Paddle exports keep weights in Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            inits[node.output[0]] = list(node.attribute[0].t.dims)
    out = []
    for node in model.graph.node:
        if node.op_type != "Conv" or node.input[1] not in inits:
            continue
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        w, xs = inits[node.input[1]], shapes.get(node.input[0])
        g = a.get("group", 1)
        if not xs or g > 1 and w[1] == 1 or xs[2] * xs[3] == 1:  # depthwise: no BF16 kernel; SE 1x1@1x1: tiny
            continue
        pads = a.get("pads", [0, 0, 0, 0])
        key = (xs[1], xs[2], xs[3], w[0], w[2], a.get("strides", [1, 1])[0], pads[0], g)
        if key not in out:
            out.append(key)
    return out


def part_layers(args) -> None:
    rng = np.random.default_rng(0)
    print(f"\n## single layers ({args.threads} thread(s)), median ms over alternating runs")
    print(f"{'layer':<44} {'fp32 ms':>9} {'bf16 ms':>9} {'speedup':>8} {'fp32 GF/s':>10} {'bf16 GF/s':>10}  kernel")
    rows = []
    for name, M, K, N in GEMMS:
        model = one_node_model("MatMul", (M, K), {"w": rng.standard_normal((K, N)).astype(np.float32)}, {})
        rows.append((name, 2.0 * M * N * K, model, rng.standard_normal((M, K)).astype(np.float32)))
    if det_path() and os.path.exists(det_path()):
        for C, H, W, M, k, s, p, g in det_convs(args.det_size):
            wt = (rng.standard_normal((M, C // g, k, k)) * 0.1).astype(np.float32)
            attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=g)
            model = one_node_model("Conv", (1, C, H, W), {"w": wt, "b": np.zeros(M, np.float32)}, attrs)
            oh, ow = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
            flops = 2.0 * M * oh * ow * (C // g) * k * k
            rows.append((f"det conv {k}x{k}/{s} {C}->{M} @{H}x{W}" + (f" g{g}" if g > 1 else ""), flops, model,
                         rng.standard_normal((1, C, H, W)).astype(np.float32)))
    total32 = total16 = 0.0
    for name, flops, model, x in rows:
        t32, t16, kernel = time_pair(model, x, args.rounds, args.budget)
        total32, total16 = total32 + t32, total16 + t16
        print(f"{name:<44} {t32:9.3f} {t16:9.3f} {t32 / t16:7.2f}x {flops / t32 / 1e6:10.1f} "
              f"{flops / t16 / 1e6:10.1f}  {kernel}")
    print(f"{'sum':<44} {total32:9.3f} {total16:9.3f} {total32 / total16:7.2f}x")


def det_page(size: int, seed: int = 3) -> np.ndarray:
    """A size x size "page" of rendered text lines (benchmarks/realnets/text_images.py)
    on white, normalised as rapidocr's detector input ((x/255 - mean) / std, ImageNet)."""
    from realnets.text_images import text_lines

    page = np.full((size, size, 3), 255, np.uint8)
    y = 8
    for line in text_lines(64, seed):
        h, w = line.image.shape[:2]
        if y + h > size - 8:
            break
        w = min(w, size - 16)
        page[y:y + h, 8:8 + w] = line.image[:, :w]
        y += h + 6
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = (page / 255.0 - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)


def part_det(args) -> None:
    if not det_path() or not os.path.exists(det_path()):
        print("\n(det: rapidocr-onnxruntime not installed; skipped)")
        return
    model = det_model(args.det_size)
    x = det_page(args.det_size)
    engines = {"fp32": int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")),
               "fp32+bf16": int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32", bf16=True))}
    print(f"\n## PP-OCRv4 det {args.det_size}x{args.det_size}, batch 1, per-layer profile medians ({args.threads} thread(s))")
    totals = {}
    for name, engine in engines.items():
        prof = engine.create_execution_context().profile({"x": x} if "x" in engine.input_names else
                                                         {engine.input_names[0]: x}, runs=args.profile_runs)
        by = {}
        for layer in prof:
            key = (layer["op"], layer["precision"])
            by[key] = by.get(key, 0.0) + layer["ms"]
        totals[name] = sum(by.values())
        print(f"{name}: sum of layers {totals[name]:.1f} ms; " +
              ", ".join(f"{op} {prec} {ms:.1f}" for (op, prec), ms in sorted(by.items(), key=lambda kv: -kv[1])[:6]))
    name = engines["fp32"].input_names[0]
    ms = alternating_medians({k: (lambda e: (lambda v: e.run({name: v})))(e) for k, e in engines.items()}, x,
                             rounds=args.rounds, budget_s=args.budget)
    y32, y16 = (engines[k].run({name: x})[engines[k].output_names[0]] for k in ("fp32", "fp32+bf16"))
    print(f"whole network, alternating medians: fp32 {ms['fp32']:.1f} ms, fp32+bf16 {ms['fp32+bf16']:.1f} ms "
          f"({ms['fp32'] / ms['fp32+bf16']:.2f}x); probability map max |d| {np.abs(y32 - y16).max():.4f}, "
          f"mean |d| {np.abs(y32 - y16).mean():.2e}, text pixels (> 0.3) {np.mean(y32 > 0.3):.4f}, "
          f"pixels on opposite sides of 0.3: {int(np.sum((y32 > 0.3) != (y16 > 0.3)))} of {y32.size}")


def part_rec(args) -> None:
    from realnets import engines as E
    from realnets.ocr_models import models_dir, rec_task
    from realnets.text_images import text_lines

    if models_dir() is None:
        print("\n(rec: rapidocr-onnxruntime not installed; skipped)")
        return
    from realnets.ocr_models import static_input_model
    from int8rt.data_calibrator import make_calibrator

    task = rec_task(models_dir())
    model = static_input_model(task.onnx_file, task.chw).SerializeToString()
    n_cal, n_eval = (32, 64) if args.quick else (64, 300)
    calib, _ = task.make_inputs(text_lines(n_cal, 1), 1)
    x, labels = task.make_inputs(text_lines(n_eval, 2), 2)
    name = E._input_name(model)

    def build(precision: str, bf16: bool, target=None):
        config = int8rt.BuilderConfig(precision=precision, bf16=bf16, accuracy_check=target is not None,
                                      accuracy_target=target)
        if precision == "int8":
            config.calibrator = make_calibrator({name: calib}, algorithm="minmax", batch_size=16)
        return int8rt.build_engine(model, config)

    engines = {"fp32": build("fp32", False), "fp32 + bf16": build("fp32", True),
               "int8 minmax": build("int8", False),
               f"int8 target {args.target}": build("int8", False, args.target),
               f"int8 target {args.target} + bf16": build("int8", True, args.target)}
    outs = {k: E.run_batched(E.int8rt_runner(e), x) for k, e in engines.items()}
    ms = alternating_medians({k: E.int8rt_runner(e) for k, e in engines.items()}, x[:1], rounds=args.rounds,
                             budget_s=args.budget)
    print(f"\n## PP-OCRv4 rec, {n_eval} rendered lines (calibration {n_cal}), {args.threads} thread(s)")
    for k, e in engines.items():
        counts = {}
        for layer in e.layers():
            counts[layer["precision"]] = counts.get(layer["precision"], 0) + 1
        s, a = task.score(outs[k], labels), task.agree(outs[k], outs["fp32"])
        print(f"{k:<26} " + ", ".join(f"{m} {v:.4f}" for m, v in {**s, **a}.items()) +
              f"; max |d probs| vs fp32 {np.abs(outs[k] - outs['fp32']).max():.4f}; batch-1 {ms[k]:.2f} ms; "
              f"layers {counts}")
        if "target" in k:
            print("    " + "; ".join(line for line in e.report() if line.startswith(("bf16:", "accuracy"))))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--parts", default="layers,det,rec")
    p.add_argument("--det-size", type=int, default=640)
    p.add_argument("--target", type=float, default=0.99, help="accuracy_target of the mixed INT8 rec engines")
    args = p.parse_args()
    args.rounds, args.budget, args.profile_runs = (15, 3.0, 5) if args.quick else (50, 10.0, 15)
    if args.threads:
        int8rt._core.set_num_threads(args.threads)
    args.threads = int8rt._core.get_num_threads()
    print(machine_line())
    print("BF16 kernel:", dict((n, r or "eligible") for n, _, r in
                               __import__("int8rt._testing", fromlist=["kernels"]).kernels.gemm_bf16_candidates()))
    parts = args.parts.split(",")
    if "layers" in parts:
        part_layers(args)
    if "det" in parts:
        part_det(args)
    if "rec" in parts:
        part_rec(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
