"""INT8 CNNs on an AVX2-only CPU (RESULTS.md section 224): int8rt's saved
INT8 engines run by two int8rt trees (base and branch) in alternated worker
processes, each worker timing its tree's engine and OpenVINO's INT8 model
(NNCF, e2e_bench's --models-dir cache) alternately, 1 thread, process CPU
time per call (the machine is shared: wall time says nothing), medians.

  --save DIR: builds with e2e_bench's own subject / build (the --calibrator
      given) each --models network's int8rt INT8 engine once and saves it with
      the timed feeds: DIR/NET/engine.i8rt, x1.npy, x8.npy, input_name, ov_xml.
  default: per network and batch, --rounds rounds of (base, branch) workers
      (their order alternating), each --runs calls per implementation after a
      warm-up; prints per round int8rt base / branch / OV medians (ms) and, at
      the end, the median over rounds of branch / base and OV / int8rt.
      --unsigned-off: the same build with unsigned activations never adopted.
  --dir2 DIR2: no trees; --dir's and DIR2's engines and OpenVINO INT8
      alternating in one process (engines_ab), --profile: per layer kind.
  --layers: each worker also takes --runs per-layer profiles
      (ctx.profile(clock="thread_cpu")); prints per layer the base and branch
      medians over rounds and their ratio (the --top largest), by kernel.

Usage: PYTHONPATH=python python benchmarks/avx2e2e_ab.py --save /tmp/avx2e2e/eng \
           --models mobilenet_v2 --models-dir /tmp/avx2e2e/models [--calibrator auto]
       python benchmarks/avx2e2e_ab.py --dir /tmp/avx2e2e/eng --base /tmp/avx2e2e/base/python \
           --branch python --models mobilenet_v2 [--batches 1 8 --rounds 4 --runs 40 --layers]
       PYTHONPATH=python python benchmarks/avx2e2e_ab.py --dir /tmp/avx2e2e/eng --dir2 /tmp/avx2e2e/eng_symm \
           --models resnet50 --rounds 5 --runs 5 [--profile]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def save(args: argparse.Namespace) -> None:
    """Builds and saves each network's int8rt INT8 engine and feeds."""
    import hashlib

    import numpy as np
    sys.path.insert(0, str(HERE))
    import e2e_bench as B

    for name in args.models:
        s = B.subject(name, 224, args.models_dir)
        if args.unsigned_off:  # the same build with unsigned activations never adopted
            import int8rt
            s.engines["int8rt int8"] = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(
                precision="int8", calibrator=B.CALIBRATORS[args.calibrator](s.calib_feeds),
                unsigned_activations=False))
        else:
            B.build(s, args.models_dir, ["int8rt int8"], args.calibrator)
        if "int8rt int8" not in s.engines:
            print(f"{name}: {s.errors}")
            continue
        out = args.save / name
        out.mkdir(parents=True, exist_ok=True)
        s.engines["int8rt int8"].save(str(out / "engine.i8rt"))
        for b in (1, 8):
            np.save(out / f"x{b}.npy", s.feed(b)[s.input_name])
        (out / "input_name").write_text(s.input_name)
        key = hashlib.sha1(s.onnx_path.read_bytes()).hexdigest()[:12]
        (out / "ov_xml").write_text(str(args.models_dir / f"{s.name}.{key}.ov_int8.xml"))
        print(f"{name}: saved ({s.build_s.get('int8rt int8', 0):.0f} s to build)", flush=True)


def worker(args: argparse.Namespace) -> None:
    """One tree: its engine and OpenVINO's model alternating; JSON on stdout."""
    import numpy as np

    import int8rt
    sys.path.insert(0, str(HERE))
    from realnets import openvino_engines as O

    d = args.dir / args.net
    int8rt.set_num_threads(1)
    engine = int8rt.Engine.load(str(d / "engine.i8rt"))
    name = (d / "input_name").read_text().strip()
    x = np.load(d / f"x{args.batch}.npy")
    ctx = engine.create_execution_context()
    feed = {name: x}
    impls = {"int8rt": lambda: ctx.run(feed)}
    if not args.no_ov:
        import openvino
        model = openvino.Core().read_model((d / "ov_xml").read_text().strip())
        ov = O.runner(O.compile_model(model, 1, None, x.shape))
        impls["ov"] = lambda: ov(x)
    for f in impls.values():
        for _ in range(2):
            f()
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        for k, f in impls.items():
            t0 = time.process_time()
            f()
            times[k].append(time.process_time() - t0)
    out = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    if args.layers:
        profs = [ctx.profile(feed, 1, clock="thread_cpu") for _ in range(args.runs)]
        out["layers"] = [{"name": la["name"], "detail": la["detail"].split(" ")[0],
                          "ms": statistics.median(p[i]["ms"] for p in profs)} for i, la in enumerate(profs[0])]
    print(json.dumps(out))


def engines_ab(args: argparse.Namespace) -> None:
    """Two saved engine folders (--dir, --dir2: e.g. the auto build and its
    --unsigned-off twin) and OpenVINO INT8 alternating in one process with this
    tree, per network and batch: --rounds rounds of --runs calls each, process
    CPU medians; with --profile also per layer kind int8rt's ctx.profile
    (thread CPU, median of --runs) of --dir2's engine beside OpenVINO's
    PERF_COUNT (wall, minimum over 4 fresh compiles; realnets/profile_kinds.py)."""
    import numpy as np
    import openvino

    import int8rt
    sys.path.insert(0, str(HERE))
    from realnets import openvino_engines as O
    from realnets import profile_kinds as P

    int8rt.set_num_threads(1)
    for net in args.models:
        d1, d2 = args.dir / net, args.dir2 / net
        name = (d1 / "input_name").read_text().strip()
        model = openvino.Core().read_model((d1 / "ov_xml").read_text().strip())
        for b in args.batches:
            x = np.load(d1 / f"x{b}.npy")
            c1 = int8rt.Engine.load(str(d1 / "engine.i8rt")).create_execution_context()
            c2 = int8rt.Engine.load(str(d2 / "engine.i8rt")).create_execution_context()
            ov = O.runner(O.compile_model(model, 1, None, x.shape))
            fns = {args.dir.name: lambda: c1.run({name: x}), args.dir2.name: lambda: c2.run({name: x}),
                   "OV int8": lambda: ov(x)}
            for f in fns.values():
                f()
                f()
            t: dict[str, list[float]] = defaultdict(list)
            for _ in range(args.rounds):
                for k, f in fns.items():
                    s = []
                    for _ in range(args.runs):
                        t0 = time.process_time()
                        f()
                        s.append(time.process_time() - t0)
                    t[k].append(statistics.median(s))
            m = {k: 1e3 * statistics.median(v) for k, v in t.items()}
            a, z = m[args.dir.name], m[args.dir2.name]
            print(f"{net} b{b} (load {open('/proc/loadavg').read().split()[0]}): "
                  + ", ".join(f"{k} {v:.2f} ms" for k, v in m.items())
                  + f"; OV / {args.dir.name} {m['OV int8'] / a:.3f}, OV / {args.dir2.name} {m['OV int8'] / z:.3f},"
                  f" {args.dir2.name} / {args.dir.name} {z / a:.3f}", flush=True)
            if not args.profile:
                continue
            profs = [c2.profile({name: x}, 1, clock="thread_cpu") for _ in range(args.runs)]
            ours = [dict(la, ms=statistics.median(p[i]["ms"] for p in profs)) for i, la in enumerate(profs[0])]
            ovp = [O.profile(lambda: O.compile_model(model, 1, None, x.shape, perf_count=True), x, 4)
                   for _ in range(4)]
            theirs = P.merge_profiles(ovp, np.min)
            print("\n".join(P.compare_table(ours, theirs)))
            print("\n".join(P.slowest_int8rt(ours, 6, 6)))
            print("\n".join(P.slowest_openvino(theirs, 6, 6)))


def run_tree(args: argparse.Namespace, tree: Path, net: str, batch: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--dir", str(args.dir), "--net", net, "--batch", str(batch),
           "--runs", str(args.runs)] + (["--layers"] if args.layers else []) + (["--no-ov"] if args.no_ov else [])
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()), OMP_WAIT_POLICY="PASSIVE")
    res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    print(f"load {open('/proc/loadavg').read().split()[:3]}; 1 thread, process CPU medians of {args.runs} calls")
    for net in args.models:
        for batch in args.batches:
            rows = defaultdict(list)
            layers: dict[str, dict[str, list]] = {"base": defaultdict(list), "branch": defaultdict(list)}
            detail: dict[str, str] = {}
            for r in range(args.rounds):
                order = [("base", args.base), ("branch", args.branch)]
                for tree, path in (order if r % 2 == 0 else order[::-1]):
                    got = run_tree(args, path, net, batch)
                    rows[tree].append(got["int8rt"])
                    if "ov" in got:
                        rows[f"ov ({tree})"].append(got["ov"])
                    for la in got.get("layers", []):
                        layers[tree][la["name"]].append(la["ms"])
                        detail[la["name"]] = la["detail"]
                print(f"{net} b{batch} round {r}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items()),
                      flush=True)
            med = {k: statistics.median(v) for k, v in rows.items()}
            ratios = [b / a for a, b in zip(rows["base"], rows["branch"])]
            line = (f"{net} b{batch}: int8rt base {med['base']:.3f} ms, branch {med['branch']:.3f} ms "
                    f"(branch / base per round {', '.join(f'{q:.3f}' for q in ratios)})")
            if "ov (base)" in med:
                line += (f"; OV {med['ov (base)']:.3f} / {med['ov (branch)']:.3f} ms; OV / int8rt "
                         f"base {med['ov (base)'] / med['base']:.3f}, branch {med['ov (branch)'] / med['branch']:.3f}")
            print(line + f" (load {open('/proc/loadavg').read().split()[0]})", flush=True)
            if args.layers:
                table = []
                for lname, v in layers["base"].items():
                    a, b = statistics.median(v), statistics.median(layers["branch"].get(lname, [float("nan")]))
                    table.append((a, b, lname))
                total_a, total_b = sum(t[0] for t in table), sum(t[1] for t in table)
                print(f"  layers: sum base {total_a:.3f} ms, branch {total_b:.3f} ms ({total_b / total_a:.3f})")
                for a, b, lname in sorted(table, reverse=True)[:args.top]:
                    print(f"  {lname[:48]:48s} {detail[lname][:34]:34s} {a:8.4f} {b:8.4f} {b / a:6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--save", type=Path, help="build and save the engines and feeds here")
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/avx2e2e/models"))
    ap.add_argument("--calibrator", default="auto", choices=["auto", "entropy"])
    ap.add_argument("--unsigned-off", action="store_true",
                    help="--save: build with BuilderConfig(unsigned_activations=False)")
    ap.add_argument("--dir", type=Path, help="the --save folder")
    ap.add_argument("--dir2", type=Path, help="a second --save folder: its engines against --dir's (engines_ab)")
    ap.add_argument("--profile", action="store_true", help="with --dir2: per layer kind against OpenVINO")
    ap.add_argument("--base", type=Path, help="the base tree's python/ folder")
    ap.add_argument("--branch", type=Path, help="the branch tree's python/ folder")
    ap.add_argument("--models", nargs="+", default=["mobilenet_v2"])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-ov", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--net", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.save:
        save(args)
    elif args.dir2:
        engines_ab(args)
    elif args.worker:
        worker(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
