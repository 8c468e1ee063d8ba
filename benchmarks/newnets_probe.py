"""Where a new network's INT8 error comes from (RESULTS.md §133, sections 2-3):

- ``sizes NAME``: an image network's INT8 engines (int8rt with ``--algorithm``
  and the builder options given, ONNX Runtime's quantize_static) calibrated at
  the export's size (int8rt with ``--mixed``: half at the smallest size), evaluated at other sizes against FP32 at that size; and
  each Softmax output's maximum per size (ONNX Runtime FP32), which an int8
  attention product's calibrated threshold has to cover.
- ``types NAME``: the int8rt INT8 engine with one op type at a time kept in
  float32 (``layer_precisions``), at ``--size`` where given.

Metrics as newnets_bench.py's (centred cosine / top-1 on varying inputs).
Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/newnets_probe.py sizes dinov2 --dir D
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from realnets import new_models as M, seg_models  # noqa: E402


def int8rt_engine(path: str, calib: M.Feeds, algorithm: str, skip=(), **options):
    """The int8rt INT8 engine of ``path`` calibrated on ``calib`` (batches of
    8) by ``algorithm``, the layers ``skip`` in float32, BuilderConfig
    ``options`` set."""
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
    cfg.calibrator = make_calibrator(calib, algorithm=algorithm, batch_size=8)
    cfg.layer_precisions = {n: "fp32" for n in skip}
    for k, v in options.items():
        setattr(cfg, k, v)
    return int8rt.build_engine(path, cfg)


def int8rt_context(path: str, calib: M.Feeds, algorithm: str, skip=(), **options):
    ctx = int8rt_engine(path, calib, algorithm, skip, **options).create_execution_context()
    return lambda f: ctx.run(f)["out"]


def softmax_maxima(path: str, feeds: M.Feeds) -> list:
    """Each Softmax output's maximum over ``feeds`` (ONNX Runtime FP32, the outputs added to a copy)."""
    import onnx

    m = onnx.load(path)
    outs = [n.output[0] for n in m.graph.node if n.op_type == "Softmax"]
    m.graph.output.extend(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs)
    probe = Path(path).with_suffix(".softmax.onnx")
    onnx.save(m, str(probe), save_as_external_data=True, location=probe.name + ".data")
    s = M.ort_session(str(probe))
    return [round(float(v.max()), 4) for v in s.run(outs, feeds)]


def sizes(net: M.NewNet, path: str, args) -> None:
    from wheelnets_bench import ort_int8

    calib = net.feeds(args.calib, 2)
    fp32 = M.ort_session(path)
    mine = calib
    if args.mixed:  # half the calibration batches at the smallest evaluated size
        small = {"x": seg_models.images(args.calib // 2, (min(args.sizes),) * 2, 2)}
        mine = list(B._batches({"x": calib["x"][:args.calib // 2]}, 8)) + list(B._batches(small, 8))
    ours = int8rt_context(path, mine, args.algorithm, **args.options)
    q, _, _ = ort_int8(path, calib, 8)
    qs = M.ort_session(q)
    for size in args.sizes:
        ev = {"x": seg_models.images(args.eval, (size, size), 1)}
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)
        print(f"size {size}: int8rt {B.metrics(net, B.run_all(ours, ev, 4), ref)} "
              f"ort {B.metrics(net, B.run_all(lambda f: qs.run(None, f)[0], ev, 4), ref)} "
              f"softmax max {softmax_maxima(path, {'x': ev['x'][:8]})}", flush=True)


def types(net: M.NewNet, path: str, args) -> None:
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    calib = net.feeds(args.calib, 2)
    ev = {"x": seg_models.images(args.eval, (args.size, args.size), 1)} if args.size else net.feeds(args.eval, 1)
    fp32 = M.ort_session(path)
    ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)

    def score(skip):
        run = int8rt_context(path, calib, args.algorithm, skip, **args.options)
        return round(B.centred_cosine(B.run_all(run, ev, 4), ref), 4)

    import int8rt

    print("all int8:", score(()), flush=True)
    for t in sorted({n.op_type for n in graph.node}):
        names = [n.name for n in graph.node if n.op_type == t]
        try:
            print(f"{t} ({len(names)}) in float32:", score(names), flush=True)
        except int8rt.InvalidArgumentError:  # the importer folded or fused some of them: no such layer
            print(f"{t} ({len(names)}): not all are layers after import", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=("sizes", "types"))
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithm", default="auto")
    ap.add_argument("--option", action="append", default=[], help="a BuilderConfig field, e.g. int8_matmul_pairs=False")
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[224, 168, 134, 112])
    ap.add_argument("--mixed", action="store_true", help="sizes: int8rt calibrated on half export-size, half smallest-size images")
    ap.add_argument("--size", type=int, help="types: evaluate image networks at this size")
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    args.options = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.option)}
    import int8rt

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    (sizes if args.probe == "sizes" else types)(net, str(path), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
