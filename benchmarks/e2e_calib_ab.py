"""int8rt INT8 built with IInt8EntropyCalibrator2 against the same network
built with IInt8AutoCalibrator (e2e_bench.py's --calibrator choices, the same
calibration feeds), both engines timed in one process, alternating: does the
calibrator change the engine's speed, and by how much?

Per network: each engine's layer count, its layers that are not int8 (by
op) and the layer kinds where the engines differ (per-channel lookup tables
show as lookup_channels_s8_*); per batch: each engine's median (process CPU
time with --cpu-time), auto ÷ entropy and each engine's relative L2 error
against ONNX Runtime FP32 (and, at batches of 2 or more, the centred cosine
over the batch's samples). --no-equalize
adds a third engine, auto with BuilderConfig(equalize=False), to see what
cross-layer equalization (which auto keeps where it helps) does to the
speed; --no-channel-activations adds auto with channel_activations=False
(no per-channel activation grids, lower_int8_channel_grids.cc).

Usage: PYTHONPATH=python python benchmarks/e2e_calib_ab.py --models resnet50 ppocr_rec \
           --models-dir /tmp/e2eall/models --batches 1 8 --rounds 11 --cpu-time
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import e2e_bench as B  # first: sets the thread environment and sys.path
from bench_util import load_line, machine_line, time_alternating
import e2e_feeds as F
from realnets import engines as E
from int8rt.accuracy import metrics as M


def layer_kinds(engine) -> Counter:
    """As e2e_bench.describe counts them (a convert's detail carries its scale, which is not a kind)."""
    return Counter(f"{layer['precision']}:{layer['detail'].split(' ')[0]}" if layer["precision"] != "convert"
                   else "convert" for layer in engine.layers())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet50", "ppocr_rec"], choices=B.MODELS)
    ap.add_argument("--models-dir", type=Path, default=None, help="as e2e_bench.py's (the ONNX files are reused)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--size", type=int, default=224, help="input height = width (random networks)")
    ap.add_argument("--rounds", type=int, default=11, help="minimum alternating rounds")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds each engine runs at least")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    ap.add_argument("--no-equalize", action="store_true", help="also time auto with equalize=False")
    ap.add_argument("--no-channel-activations", action="store_true",
                    help="also time auto with channel_activations=False")
    args = ap.parse_args()
    B.set_threads(1)
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.models_dir or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        for name in args.models:
            s = B.subject(name, args.size, tmp)
            if s is None:
                continue
            variants = [(c, c, {}) for c in B.CALIBRATORS]
            if args.no_equalize:
                variants.append(("auto noeq", "auto", {"equalize": False}))
            if args.no_channel_activations:
                variants.append(("auto nochan", "auto", {"channel_activations": False}))
            engines = {}
            for label, calib, extra in variants:
                t0 = time.perf_counter()
                engines[label] = B.int8rt.build_engine(s.onnx_path, B.int8rt.BuilderConfig(
                    precision="int8", calibrator=B.CALIBRATORS[calib](s.calib_feeds), **extra))
                seconds = time.perf_counter() - t0
                print(f"{s.name}: {label} ({B.CALIBRATOR_NAMES[calib]}) engine built in {seconds:.1f} s")
            kinds = {c: layer_kinds(e) for c, e in engines.items()}
            every = sorted(set().union(*kinds.values()))
            differ = [k for k in every if len({kinds[c][k] for c in engines}) > 1]
            for c, e in engines.items():
                floats = Counter(layer["op"] for layer in e.layers() if layer["precision"] != "int8")
                print(f"{s.name}: {c}: {len(e.layers())} layers; not int8, by op: "
                      + ", ".join(f"{k} x{n}" for k, n in sorted(floats.items())))
            print(f"{s.name}: layer kinds that differ ({' / '.join(engines)}): "
                  + (", ".join(f"{k} " + "/".join(str(kinds[c][k]) for c in engines) for k in differ) or "none"))
            ort = F.ort_runner(E.ort_session(s.onnx_path.read_bytes(), 1))
            for batch in args.batches:
                x = s.feed(batch)
                ref = ort(x)
                run = {c: F.int8rt_runner(e) for c, e in engines.items()}
                med = time_alternating({c: (lambda f=f: f(x)) for c, f in run.items()}, args.rounds, args.min_time,
                                       clock=time.process_time if args.cpu_time else time.perf_counter)
                outs = {c: f(x) for c, f in run.items()}
                errs = {c: f"rel L2 {M.relative_l2(ref, y):.3f}" + (f", centred cos {M.centred_cosine(ref, y):.4f}"
                                                                   if batch > 1 else "") for c, y in outs.items()}
                print(f"{s.name}  batch {batch}  1 thread  ({load_line()}): "
                      + ", ".join(f"{c} {med[c] * 1e3:.3f} ms ({errs[c]})" for c in engines)
                      + "; " + ", ".join(f"{c} ÷ entropy {med[c] / med['entropy']:.3f}"
                                         for c in engines if c != "entropy"))


if __name__ == "__main__":
    main()
