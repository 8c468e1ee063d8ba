"""The ``int8rt`` command line: the trtexec of int8rt.

    int8rt build MODEL.onnx --calib-data DATA.npz --calibrator auto -o model.i8rt
    int8rt run model.i8rt --input IN.npz --output OUT.npz
    int8rt bench model.i8rt --batch-size 8 --threads 2
    int8rt inspect model.i8rt
    int8rt compare MODEL.onnx --engine model.i8rt --data IN.npz
    int8rt report model.i8rt DIR
    int8rt quickstart
    int8rt --cmake-dir
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

__all__ = ["main"]


def _parse_shapes(text: str, flag: str) -> dict[str, list[int]]:
    """trtexec's shape syntax: ``name:1x3x640x640[,name2:...]``."""
    shapes: dict[str, list[int]] = {}
    for item in filter(None, text.split(",")):
        name, sep, dims = item.rpartition(":")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise ValueError(f"{flag}: '{item}' is not NAME:DxDx... (e.g. x:1x3x640x640)") from None
    return shapes


def _input_shapes(args: argparse.Namespace) -> Optional[dict[str, tuple[list[int], list[int], list[int]]]]:
    """BuilderConfig.input_shapes from --shapes (min = opt = max) and
    --min-shapes / --opt-shapes / --max-shapes (all three, as in trtexec)."""
    fixed = _parse_shapes(args.shapes, "--shapes") if args.shapes else {}
    ranged = [_parse_shapes(v, f) if v else {} for v, f in
              ((args.min_shapes, "--min-shapes"), (args.opt_shapes, "--opt-shapes"), (args.max_shapes, "--max-shapes"))]
    names = set(ranged[0]) | set(ranged[1]) | set(ranged[2])
    for name in sorted(names):
        missing = [f for r, f in zip(ranged, ("--min-shapes", "--opt-shapes", "--max-shapes")) if name not in r]
        if missing:
            raise ValueError(f"input '{name}' needs {', '.join(missing)} too (a profile is min, opt and max)")
    both = sorted(names & set(fixed))
    if both:
        raise ValueError(f"input '{both[0]}' is in --shapes and in --min/--opt/--max-shapes: give one")
    out = {name: (dims, dims, dims) for name, dims in fixed.items()}
    out.update({name: (ranged[0][name], ranged[1][name], ranged[2][name]) for name in names})
    return out or None


def _cmd_build(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt.data_calibrator import load_calibration_data, make_calibrator

    if args.model is None and args.ray and Path(args.ray).is_file():
        args.model, args.ray = args.ray, ""  # `--ray model.onnx`: the optional ADDRESS took the model
    if args.model is None:
        raise ValueError("no model given: int8rt build MODEL.onnx -o ENGINE ...")
    config = int8rt.BuilderConfig(precision=args.precision, max_isa=args.max_isa, num_threads=args.threads,
                                  device=args.device, progress=_progress(args), optimize=not args.no_optimize,
                                  pointwise_tables=not args.no_pointwise_tables, int8_gates=not args.no_int8_gates,
                                  int8_matmul_pairs=not args.no_int8_matmul_pairs,
                                  batch_size=args.static_batch, input_shapes=_input_shapes(args),
                                  layer_precisions={**{name: "fp32" for name in args.fp32_layers or []},
                                                    **{name: "bf16" for name in args.bf16_layers or []}},
                                  bf16=args.bf16, channels_last=args.channels_last, channel_blocked=args.channel_blocked,
                                  accuracy_check=not args.no_accuracy_check, holdout_every=args.holdout_every,
                                  calibration_groups=args.calibration_groups.split(",") if args.calibration_groups else None,
                                  bias_correction=args.bias_correction, accuracy_target=args.accuracy_target,
                                  accuracy_bf16=not args.accuracy_fp32,
                                  equalize=args.equalize, unsigned_activations=args.unsigned_activations,
                                  asymmetric_activations=args.asymmetric_activations,
                                  channel_activations=args.channel_activations,
                                  smoothquant=args.smoothquant,
                                  smoothquant_alpha=args.smoothquant_alpha, auto_parts=args.auto_parts)
    if args.precision == "int8":
        if args.calibrator_class:
            module_name, _, class_name = args.calibrator_class.partition(":")
            if not class_name:
                raise ValueError("--calibrator-class must look like module:Class")
            sys.path.insert(0, os.getcwd())
            config.calibrator = getattr(importlib.import_module(module_name), class_name)()
        elif args.calib_data or args.cache:
            network = int8rt.onnx.import_model(args.model, batch_size=args.static_batch)
            names = [network.tensor(i)["name"] for i in network.inputs()]
            shapes = {network.tensor(i)["name"]: network.tensor(i)["shape"] for i in network.inputs()}
            data = load_calibration_data(args.calib_data, names, shapes, images=image_options(args),
                                         report=print, batch_size=args.batch_size) if args.calib_data else {
                n: np.zeros((0,), np.float32) for n in names}
            # the histogram options where given; else each calibrator's own (auto: power_of_two, 4096 bins)
            histogram = {k: v for k, v in (("policy", args.policy or ("power_of_two" if args.ray is not None else None)),
                                           ("num_bins", args.num_bins)) if v is not None}
            config.calibrator = make_calibrator(data, algorithm=_calibrator_name(args), batch_size=args.batch_size,
                                                cache_file=args.cache, nonfinite=args.nonfinite, **histogram)
        elif not int8rt.builder.is_pre_quantized(int8rt.onnx.import_model(args.model,
                                                                      batch_size=args.static_batch)):
            raise ValueError("an INT8 build needs --calib-data, --cache or --calibrator-class "
                             "(or a pre-quantized model: QuantizeLinear nodes)")
    if args.ray is not None:
        from int8rt.calib.distributed import RayCalibration

        config.distributed = RayCalibration(address=args.ray or None, num_workers=args.ray_workers)
    t0 = time.perf_counter()
    # This command prints the build report, warnings included: not logged a second time.
    shown = _InBuildReport()
    logging.getLogger("int8rt").addFilter(shown)
    try:
        engine = int8rt.build_engine(args.model, config)
    finally:
        logging.getLogger("int8rt").removeFilter(shown)
    engine.save(args.output)
    layers = engine.layers()
    n_int8 = sum(1 for layer in layers if layer["precision"] == "int8")
    n_bf16 = sum(1 for layer in layers if layer["precision"] == "bf16")
    plan = engine.int8_plan()  # an If's branches are lowered inside it: their layers are the plan's scoped ones
    n_branches = sum(1 for layer in plan.layers if layer.scope) if plan is not None else 0
    print(f"built {args.output}: {engine.precision}, {n_int8}/{len(layers)} layers int8, "
          + (f"{n_branches} int8 layers inside If branches, " if n_branches else "")
          + (f"{n_bf16} bf16, " if n_bf16 else "") + f"{time.perf_counter() - t0:.2f} s")
    for line in engine.report():  # e.g. scales that leave no layer in int8 (docs/reliability.md)
        if line.startswith("warning: "):
            print(f"WARNING: {line[len('warning: '):]}")
    if args.cache:
        print(f"calibration cache: {args.cache}")
    from int8rt.accuracy.report import rescaled_tensors

    rescaled = rescaled_tensors(engine.metadata)  # cross-layer equalization's: their rows say so
    if engine.precision == "int8":
        print(engine.build_report().format(rescaled=rescaled))
    if args.report:
        from int8rt.accuracy.html import write_html

        print(f"report: {write_html(engine.build_report(), args.report, title=f'int8rt: {args.output}', rescaled=rescaled)}")
    return 0


def add_image_options(parser: argparse.ArgumentParser, title: str) -> None:
    """The flags that say how a folder of images becomes input arrays
    (``build --calib-data``, ``compare --data``); :func:`image_options` reads them."""
    img = parser.add_argument_group(title, "each image: resized to --size, (pixel/255 - mean) / std per channel")
    img.add_argument("--mean", type=float, nargs="+", default=[0.0], metavar="M",
                     help="per-channel mean, or one for all (default 0; ImageNet: 0.485 0.456 0.406)")
    img.add_argument("--std", type=float, nargs="+", default=[1.0], metavar="S",
                     help="per-channel std, or one for all (default 1; ImageNet: 0.229 0.224 0.225)")
    img.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                     help="resize to H W (default: the model input's height and width)")
    img.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="input layout (default NCHW)")
    img.add_argument("--color", choices=["RGB", "BGR", "GRAY"],
                     help="channel order (default: GRAY for a 1-channel input, else RGB)")


def image_options(args: argparse.Namespace) -> "object":
    from int8rt.calib.images import ImageOptions

    return ImageOptions(mean=tuple(args.mean), std=tuple(args.std), size=tuple(args.size) if args.size else None,
                        layout=args.layout, color=args.color)


def _progress(args: argparse.Namespace) -> "object":
    """Bars on a terminal, a plain line every --progress-interval seconds when
    piped, nothing with -q / --no-progress."""
    import int8rt

    if args.quiet or args.no_progress:
        return False
    return int8rt.Progress(sys.stderr, interval=args.progress_interval)


def _calibrator_name(args: argparse.Namespace) -> str:
    """--calibrator, or when not given: the algorithm of an existing --cache
    (so the cache is used, as before auto became the default), else auto."""
    if args.calibrator:
        return args.calibrator
    if args.cache and os.path.exists(args.cache):
        import int8rt
        from int8rt.data_calibrator import CALIBRATOR_CLASSES

        algorithm = int8rt.calib.read_cache(Path(args.cache))[0]
        for name, cls in CALIBRATOR_CLASSES.items():
            if cls.get_algorithm(None).cache_name == algorithm:  # a constant of the class; self unused
                return name
    return "auto"


def _npz_inputs(path: str) -> dict[str, np.ndarray]:
    """One array per input name from an .npz: float data as float32, integer
    and bool data (an int64 sample rate, a mask) and 0-d arrays as they are."""
    with np.load(path) as z:
        # np.asarray, not np.ascontiguousarray, which makes a 0-d array 1-d
        return {name: np.asarray(z[name], dtype=np.float32 if z[name].dtype.kind == "f" else None, order="C")
                for name in z.files}


def _cmd_run(args: argparse.Namespace) -> int:
    import int8rt

    engine = int8rt.Engine.load(args.engine)
    inputs = _npz_inputs(args.input)
    outputs = engine.create_execution_context().run(inputs)
    if args.output:
        tmp = f"{args.output}.tmp.{os.getpid()}.npz"
        np.savez(tmp, **outputs)
        os.replace(tmp, args.output)
        print(f"wrote {args.output}: " + ", ".join(f"{k}{tuple(v.shape)}" for k, v in outputs.items()))
    else:
        for name, value in outputs.items():
            print(f"{name}: shape {tuple(value.shape)}\n{value}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import int8rt

    if args.threads:
        int8rt.set_num_threads(args.threads)
    engine = int8rt.Engine.load(args.engine)
    rng = np.random.default_rng(0)
    inputs = _npz_inputs(args.input) if args.input else {}
    for name in engine.input_names if not args.input else ():
        shape = [args.batch_size if d < 0 else d for d in engine.tensor_shape(name)]
        inputs[name] = rng.standard_normal(shape).astype(np.float32)
    batch = next((a.shape[0] for a in inputs.values() if a.ndim), 1) if args.input else args.batch_size
    ctx = engine.create_execution_context()
    for _ in range(args.warmup):
        ctx.run(inputs)
    times = []
    deadline = time.perf_counter() + args.duration
    while len(times) < args.iterations or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        ctx.run(inputs)
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 100000:
            break
    t = np.array(times)
    print(f"engine: {args.engine} ({engine.precision}), batch {batch}, "
          f"threads {int8rt.get_num_threads()}, {len(t)} runs")
    print(f"latency ms: min {t.min():.3f}  mean {t.mean():.3f}  median {np.median(t):.3f}  "
          f"p90 {np.percentile(t, 90):.3f}  p99 {np.percentile(t, 99):.3f}  max {t.max():.3f}")
    print(f"throughput: {batch * 1e3 / np.median(t):.1f} samples/s")
    if args.profile:
        _print_profile(ctx.profile(inputs, runs=max(3, min(len(t), 50))), args.profile)
    return 0


def _print_profile(layers: list, top: int) -> None:
    """The `top` slowest layers and the time per op type and precision."""
    total = sum(layer["ms"] for layer in layers) or 1e-30
    print(f"per-layer profile (median ms per layer, sum {total:.3f} ms):")
    width = max(len(layer["name"]) for layer in layers)
    for layer in sorted(layers, key=lambda layer: -layer["ms"])[:top]:
        print(f"  {layer['ms']:9.3f} {100 * layer['ms'] / total:5.1f}%  {layer['name']:<{width}}  "
              f"{layer['op']:<26} {layer['precision']:<8} {layer['detail']}")
    by_op: dict = {}
    for layer in layers:
        key = (layer["op"], layer["precision"])
        count, ms = by_op.get(key, (0, 0.0))
        by_op[key] = (count + 1, ms + layer["ms"])
    print("by op:")
    for (op, precision), (count, ms) in sorted(by_op.items(), key=lambda kv: -kv[1][1]):
        print(f"  {ms:9.3f} {100 * ms / total:5.1f}%  {op:<26} {precision:<8} x{count}")


def _cmd_inspect(args: argparse.Namespace) -> int:
    import int8rt
    from int8rt._numerics import amax_from_scale

    engine = int8rt.Engine.load(args.engine)
    print(f"engine: {args.engine}")
    for key in ("precision", "int8rt_version"):
        print(f"  {key}: {engine.metadata.get(key, '')}")
    print(f"  device: {engine.device_name}")
    for line in engine.report():  # e.g. an int8 engine with no layer in int8 (docs/reliability.md)
        if line.startswith("warning: "):
            print(f"  WARNING: {line[len('warning: '):]}")
    for name in engine.input_names:
        profile = engine.shape_range(name)
        limits = f" (profile min {profile[0]}, opt {profile[1]}, max {profile[2]})" if profile else ""
        print(f"  input  {name}: {engine.tensor_shape(name)}{limits}")
    for name in engine.output_names:
        print(f"  output {name}: {engine.tensor_shape(name)}")
    layers = engine.layers(branches=True)  # an If's branch layers, scoped, before it
    width = max((len(layer["name"]) for layer in layers), default=4)
    reasons = _float_reasons(engine.report(), engine.precision)
    print(f"\nlayers ({len(layers)}):")
    for layer in layers:
        print(f"  {layer['name']:<{width}}  {layer['op']:<28} {layer['precision']:<8} {layer['detail']}")
        if layer["precision"] == "fp32":
            print(f"  {'':<{width}}    why fp32: {_float_reason(reasons, layer['name'])}")
    scales = engine.scales()
    if scales:
        print(f"\nactivation scales ({len(scales)} tensors):")
        for name, scale in scales.items():
            print(f"  {name}: {scale:.6g} (amax {amax_from_scale(scale):.6g})")
    report = engine.report()
    if report:
        print("\nbuilder decisions:")
        for line in report:
            print(f"  {line}")
    return 0


_FLOAT_LINE = re.compile(r"^layer '(?P<name>.+)' (?:kept in float32 \((?P<asked>requested)\)"
                         r"|\([^)]*\) stays float32: (?P<why>.+))$")
# A branch's lowering reports under its scope ("pick/then_branch/: layer ..."),
# and a branch left float32 as a whole in one line ("If 'pick' else_branch: ...").
_SCOPED_LINE = re.compile(r"^(?P<scope>\S+/): (?P<line>.+)$")
_FLOAT_BRANCH = re.compile(r"^If '(?P<node>.+)' (?P<branch>then_branch|else_branch): (?P<why>.+ stays float32)$")


def _float_reasons(report: Sequence[str], precision: str) -> dict:
    """Layer name -> why it runs in float32, from the builder's report
    (branch layers by scoped name; a branch left float32 as a whole by its
    scope: :func:`_float_reason` looks both up)."""
    from int8rt import _core

    if precision == "fp32":
        return {"": "the engine was built in FP32 (--precision fp32)"}  # the scope of every layer
    reasons = {}
    for line in report:
        scoped = _SCOPED_LINE.match(line)
        scope, line = (scoped["scope"], scoped["line"]) if scoped else ("", line)
        m, branch = _FLOAT_LINE.match(line), _FLOAT_BRANCH.match(line)
        if m:
            reasons[scope + m["name"]] = ("kept in FP32 as asked (--fp32-layers / layer_precisions)" if m["asked"]
                                          else m["why"])
        elif branch:
            reasons[scope + _core.branch_scope(branch["node"], branch["branch"])] = branch["why"]
    return reasons


def _float_reason(reasons: dict, name: str) -> str:
    """Why layer ``name`` runs in float32: its own line, else the line of
    the innermost scope around it that stayed float32 as a whole ("": the
    engine)."""
    scopes = [""] + [name[: i + 1] for i, c in enumerate(name) if c == "/"] + [name]
    return next((reasons[k] for k in reversed(scopes) if k in reasons),
                "not recorded (an engine file from an older int8rt)")


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from int8rt.quickstart import run_quickstart

    run_quickstart(out_dir=Path(args.out_dir) if args.out_dir else None)
    return 0


def _parser() -> argparse.ArgumentParser:
    from int8rt.data_calibrator import CALIBRATOR_CLASSES, RENAMED_CALIBRATORS

    p = argparse.ArgumentParser(prog="int8rt", description="Post-training INT8: calibrate, build, run.")
    p.add_argument("--cmake-dir", action="store_true", help="print the CMake package folder and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log int8rt's decisions")
    sub = p.add_subparsers(dest="command")

    b = sub.add_parser("build", help="build an engine from an ONNX model")
    b.add_argument("model", nargs="?", help="ONNX model file")
    b.add_argument("-o", "--output", required=True, help="engine file to write")
    b.add_argument("--precision", choices=["int8", "fp32"], default="int8")
    b.add_argument("--calib-data", help=".npz (one array per input, first axis = samples), .npy, or a folder of them or of images")
    add_image_options(b, "calibration images (--calib-data is a folder of images)")
    b.add_argument("--calibrator", choices=[*CALIBRATOR_CLASSES, *RENAMED_CALIBRATORS],
                   metavar="{%s}" % ",".join(CALIBRATOR_CLASSES),
                   help="auto (default; with an existing --cache, the cache's algorithm): the method, and bias "
                   "correction on or off, closest to float32 on held-out calibration samples; entropy is "
                   "TensorRT's default (EntropyCalibration2; entropy2 until 2026-12-05, still accepted), "
                   "entropy_legacy its EntropyCalibration")
    b.add_argument("--report", metavar="DIR", help="also write the build report as DIR/index.html")
    b.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=None,
                   help="fold the per-channel mean shift of int8 conv/GEMM outputs into their biases (default: "
                   "the auto calibrator keeps it where its held-out samples show it helps; others: off)")
    b.add_argument("--unsigned-activations", action=argparse.BooleanOptionalAction, default=None,
                   help="hold non-negative (post-ReLU) tensors unsigned, zero point -128 and 256 levels over "
                   "[0, threshold], where every reader takes a zero point (default: the auto calibrator keeps "
                   "it where its held-out samples show it helps; others: off; docs/numerics.md)")
    b.add_argument("--asymmetric-activations", action=argparse.BooleanOptionalAction, default=True,
                   help="hold element-wise table outputs in [lo, threshold] with lo < 0 (SiLU, HardSwish, GELU) "
                   "over 256 levels with a zero point, where every reader takes one (default: on; "
                   "docs/numerics.md)")
    b.add_argument("--channel-activations", action=argparse.BooleanOptionalAction, default=True,
                   help="one scale per channel for tensors whose channels' calibrated ranges spread widely, "
                   "where the conv or table writing them and the convs reading them take one (default: on; "
                   "docs/numerics.md)")
    b.add_argument("--equalize", action=argparse.BooleanOptionalAction, default=None,
                   help="cross-layer equalization of conv -> (ReLU) -> conv pairs (default: the auto calibrator "
                   "keeps it where its held-out samples show it helps; others: off)")
    b.add_argument("--auto-parts", type=int, default=0, metavar="K",
                   help="auto calibrator only: after its whole-network choice, let each of K contiguous parts of the "
                   "network take another method's thresholds where the held-out samples clearly favour it "
                   "(default 0: off; measured in RESULTS_accuracy.md acc40, not a default)")
    b.add_argument("--smoothquant", action=argparse.BooleanOptionalAction, default=False,
                   help="SmoothQuant: move activation outliers into the weights of MatMul/Gemm layers (default: off)")
    b.add_argument("--smoothquant-alpha", type=float, default=0.5, metavar="A",
                   help="SmoothQuant's migration strength (default 0.5)")
    b.add_argument("--accuracy-target", type=float, metavar="COS",
                   help="keep the fewest, most sensitive layers in FP32 so that the outputs' centred cosine "
                        "with FP32 on the held-out samples reaches COS (e.g. 0.99); they run BF16 where the CPU has "
                        "AVX512-BF16 and the target is still met so (else FP32)")
    b.add_argument("--accuracy-fp32", action="store_true",
                   help="with --accuracy-target: keep the layers it leaves out of int8 in FP32, not BF16 "
                        "(BuilderConfig.accuracy_bf16=False)")
    b.add_argument("--no-accuracy-check", action="store_true",
                   help="calibrate on every sample (as TensorRT; auto still holds samples out for its choice) "
                   "and skip the INT8-vs-FP32 check")
    b.add_argument("--holdout-every", type=int, default=4, metavar="K",
                   help="the accuracy check (and auto's choice) holds out one calibration sample in K (default 4)")
    b.add_argument("--calibration-groups", metavar="LABELS",
                   help="auto only: the recording each calibration batch comes from, comma-separated, one label per "
                        "batch in order, e.g. a,a,a,b,b,c (BuilderConfig.calibration_groups; default: inferred where "
                        "the network feeds a state back)")
    b.add_argument("--calibrator-class", help="a calibrator class of yours, as module:Class (constructed with no arguments)")
    b.add_argument("--batch-size", type=int, default=32, help="calibration batch size")
    b.add_argument("--cache", help="calibration cache file: read if present (skips calibration), written after")
    b.add_argument("--policy", choices=["extend", "power_of_two"],
                   help="histogram range policy (default: extend, auto's power_of_two (its choices then do not "
                        "depend on --batch-size); power_of_two with --ray, whose shards then merge bit-exactly "
                        "into the single-process result)")
    b.add_argument("--num-bins", type=int, help="histogram bins per tensor (default 2048, auto's 4096)")
    b.add_argument("--nonfinite", choices=["error", "skip"], default="error",
                   help="NaN/Inf in an activation: stop with an error naming the tensor, or skip those values")
    b.add_argument("--fp32-layers", nargs="*", help="layer (ONNX node) names to keep in FP32")
    b.add_argument("--bf16-layers", nargs="*",
                   help="layer (ONNX node) names to keep out of int8 and run in BF16 (Conv / Gemm with "
                        "constant weights, MatMul)")
    b.add_argument("--bf16", action="store_true",
                   help="float layers that have a BF16 kernel run in BF16 (TensorRT's --bf16): with --precision "
                        "int8 those left out of int8, with fp32 all of them")
    b.add_argument("--channels-last", action="store_true",
                   help="with --precision fp32: keep the tensors between consecutive float convs channels-last "
                        "(NHWC), converted at the region's edges; the same output bits (BuilderConfig.channels_last)")
    b.add_argument("--channel-blocked", action=argparse.BooleanOptionalAction, default=True,
                   help="with --precision fp32: keep the tensors between 1x1 / depthwise convs channel-blocked "
                        "(NCHW16c), converted at the region's edges; on by default on AVX-512 CPUs, --no-channel-blocked for an "
                        "engine that will run on a CPU without AVX-512 (BuilderConfig.channel_blocked)")
    b.add_argument("--static-batch", type=int, metavar="N",
                   help="fix a symbolic batch axis to N at import (BuilderConfig.batch_size)")
    b.add_argument("--shapes", metavar="NAME:DIMS", help="fix dynamic input dims for this engine, as trtexec: "
                   "x:1x3x640x640[,y:...] (min = opt = max; other shapes are refused at run time)")
    for which in ("min", "opt", "max"):
        b.add_argument(f"--{which}-shapes", f"--{which}Shapes", dest=f"{which}_shapes", metavar="NAME:DIMS",
                       help=f"optimization profile {which} per input, as trtexec (give all three)")
    b.add_argument("--no-optimize", action="store_true", help="skip the graph passes (BN folding, fusions)")
    b.add_argument("--no-pointwise-tables", action="store_true",
                   help="keep element-wise chains between int8 layers in float32 instead of int8 tables")
    b.add_argument("--no-int8-gates", action="store_true",
                   help="keep squeeze-and-excitation gates, their pools and the chain before them in float32")
    b.add_argument("--no-int8-matmul-pairs", action="store_true",
                   help="keep MatMuls of two activations (attention) in float32 instead of int8")
    b.add_argument("--max-isa", help="cap the CPU kernels (ref, avx2, avxvnni, avx512, avx512vnni, avx512bf16, amx)")
    b.add_argument("--threads", type=int)
    b.add_argument("--device", default="cpu",
                   help="where the engine runs: cpu (default) or cuda (a CUDA build of int8rt and a GPU)")
    b.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run calibration batches on Ray workers: a local cluster, or join ADDRESS (auto, ray://...)")
    b.add_argument("--ray-workers", type=int, metavar="N", help="Ray workers (default: the cluster's CPUs)")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (bars on a terminal, a line every few seconds otherwise)")
    b.add_argument("--no-progress", action="store_true", help="same as --quiet")
    b.add_argument("--progress-interval", type=float, default=5.0, metavar="SECONDS",
                   help="seconds between progress lines when stderr is not a terminal (default 5)")
    b.set_defaults(fn=_cmd_build)

    r = sub.add_parser("run", help="run an engine on inputs from an .npz file")
    r.add_argument("engine")
    r.add_argument("--input", required=True, help=".npz with one array per input name")
    r.add_argument("--output", help=".npz to write (default: print)")
    r.set_defaults(fn=_cmd_run)

    be = sub.add_parser("bench", help="latency percentiles and throughput")
    be.add_argument("engine")
    be.add_argument("--batch-size", type=int, default=1)
    be.add_argument("--input", help=".npz with one array per input name, instead of random float32 inputs of "
                                    "--batch-size (needed for integer inputs, e.g. an If's sample rate)")
    be.add_argument("--threads", type=int)
    be.add_argument("--iterations", type=int, default=100)
    be.add_argument("--duration", type=float, default=2.0, help="minimum seconds to run")
    be.add_argument("--warmup", type=int, default=10)
    be.add_argument("--profile", type=int, nargs="?", const=20, default=0, metavar="TOP",
                    help="also time every layer and print the TOP slowest (default 20) and the time per op")
    be.set_defaults(fn=_cmd_bench)

    i = sub.add_parser("inspect", help="layers, precisions, kernels and scales of an engine")
    i.add_argument("engine")
    i.set_defaults(fn=_cmd_inspect)

    from int8rt._cli_accuracy import add_accuracy_parsers

    add_accuracy_parsers(sub)

    q = sub.add_parser("quickstart", help="calibrate, build and run the bundled digits CNN")
    q.add_argument("--out-dir", help="also write the INT8 engine and cache, and the example's model and data, here")
    q.set_defaults(fn=_cmd_quickstart)
    return p


class _InBuildReport(logging.Filter):
    """Drops log records that the build report repeats (logged with
    ``extra={"in_build_report": True}``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "in_build_report", False)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="int8rt: %(message)s")
    if args.cmake_dir:
        from int8rt.cmake_dir import cmake_dir

        print(cmake_dir())
        return 0
    if not getattr(args, "fn", None):
        _parser().print_help()
        return 2
    import int8rt

    try:
        return args.fn(args)
    except (int8rt.Error, OSError, KeyError, ValueError, ImportError) as e:
        # str(KeyError) is the repr of its argument (quotes and all): print the message itself;
        # an OSError's "[Errno 17] File exists: 'x'" without its errno.
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        if isinstance(e, OSError) and e.strerror and e.filename:
            message = f"{e.strerror}: '{e.filename}'"
        print(f"int8rt {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
