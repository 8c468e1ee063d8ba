"""Two int8rt trees against each other and OpenVINO INT8 on saved engines
(RESULTS.md section 139): EfficientNet-B0, MobileNetV3, PP-OCR rec.

A kernel change cannot be timed base against branch inside one process (one
``int8rt._core`` per process, and an engine file keeps its lowered graph but
runs the loading tree's kernels). So ``time`` starts one worker process per
tag, each importing int8rt from that tag's tree (``--trees base=DIR``) and
loading ``DIR/<net>.<tag>.i8rt`` (sei8_se_gates.py ``save`` writes them), and
alternates them with OpenVINO INT8 (in this process, 1 thread): round by
round each implementation runs once and reports its own process CPU time,
medians per implementation. ``profile`` asks each worker for the engine
profiler's per-layer thread CPU ms (Engine.profile) summed by op. ``text``
decodes PP-OCR rec's output on rendered text lines from each tag's engine.

    PYTHONPATH=/tmp/sei9/base/python python benchmarks/sei8_se_gates.py save --tag base --dir /tmp/sei9 \\
        --nets efficientnet_b0 mobilenet_v3 ppocr_rec
    PYTHONPATH=python python benchmarks/sei8_se_gates.py save --tag new --dir /tmp/sei9 --nets ...
    python benchmarks/sei9_ab.py time --dir /tmp/sei9 --trees base=/tmp/sei9/base/python new=python
    python benchmarks/sei9_ab.py profile --dir /tmp/sei9 --trees base=/tmp/sei9/base/python new=python
    python benchmarks/sei9_ab.py text --dir /tmp/sei9 --trees base=/tmp/sei9/base/python new=python
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETS = ["efficientnet_b0", "mobilenet_v3", "ppocr_rec"]


def worker(args: argparse.Namespace) -> None:
    """Serves one engine over stdin / stdout: 'run B' -> CPU seconds of one
    run at batch B; 'profile B R' -> per-op thread CPU ms (medians of R
    profiles of 5 runs)."""
    sys.path.insert(0, str(HERE))
    import e2e_bench as B
    import int8rt
    import numpy as np

    int8rt.set_num_threads(1)
    s = B.subject(args.net, 224, args.dir / "models")
    ctx = int8rt.Engine.load(str(args.dir / f"{args.net}.{args.tag}.i8rt")).create_execution_context()
    feeds = {}
    for line in sys.stdin:
        cmd = line.split()
        batch = int(cmd[1])
        if cmd[0] != "file" and batch not in feeds:
            feeds[batch] = s.feed(batch)
            ctx.run(feeds[batch])  # warm-up: plan and buffers for this shape
        if cmd[0] == "file":  # 'file B IN OUT': the engine's output on the array in IN, saved to OUT
            np.save(cmd[3], next(iter(ctx.run({s.input_name: np.load(cmd[2])}).values())))
            print(json.dumps(cmd[3]), flush=True)
            continue
        if cmd[0] == "run":
            t0 = time.process_time()
            ctx.run(feeds[batch])
            reply = time.process_time() - t0
        else:
            per_op: dict = {}
            for _ in range(int(cmd[2])):
                sums = Counter()
                for r in ctx.profile(feeds[batch], runs=5, clock="thread_cpu"):
                    sums[r["op"]] += r["ms"]
                    sums["all layers"] += r["ms"]
                for op, ms in sums.items():
                    per_op.setdefault(op, []).append(ms)
            reply = {op: statistics.median(v) for op, v in per_op.items()}
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, tree: str, net: str, tag: str, root: Path):
        env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
        self.p = subprocess.Popen([sys.executable, __file__, "worker", "--net", net, "--tag", tag, "--dir", str(root)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, line: str):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def workers(args: argparse.Namespace, net: str) -> dict:
    return {tag: Worker(tree, net, tag, args.dir) for tag, tree in (t.split("=", 1) for t in args.trees)}


def time_nets(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    import e2e_bench as B
    from bench_util import load_line, machine_line
    from sei8_se_gates import ov_int8

    print(machine_line())
    models = args.dir / "models"
    for net in args.nets:
        s = B.subject(net, 224, models)
        ov_int8(s, models)
        ws = workers(args, net)
        for batch in args.batches:
            run = B.runners(s, 1, batch)
            x = s.feed(batch)
            ov = run["OV int8"]
            ov(x)
            samples = {f"int8rt {tag}": [] for tag in ws}
            samples["OV int8"] = []
            for tag, w in ws.items():
                w.ask(f"run {batch}")
            for _ in range(args.rounds):
                for tag, w in ws.items():
                    samples[f"int8rt {tag}"].append(w.ask(f"run {batch}"))
                t0 = time.process_time()
                ov(x)
                samples["OV int8"].append(time.process_time() - t0)
            med = {k: statistics.median(v) for k, v in samples.items()}
            first = f"int8rt {next(iter(ws))}"
            print(f"\n{net} batch {batch} 1 thread, median CPU ms of {args.rounds} rounds ({load_line()}); "
                  f"x {first.split()[1]}: ratio of medians [median of the rounds' ratios]")
            for impl, sec in med.items():
                paired = statistics.median(a / b for a, b in zip(samples[impl], samples[first]))
                line = f"  {impl:14s} {sec * 1e3:9.3f}  {sec / med[first]:5.3f}x [{paired:5.3f}x] {first.split()[1]}"
                if impl != "OV int8":
                    line += f"  OV int8 / this {med['OV int8'] / sec:5.3f}"
                print(line)
        for w in ws.values():
            w.close()


def profile_nets(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    from bench_util import load_line

    for net in args.nets:
        ws = workers(args, net)
        for batch in args.batches:
            prof = {tag: w.ask(f"profile {batch} {args.rounds}") for tag, w in ws.items()}
            print(f"\n{net} batch {batch}: per-layer thread CPU ms by op, medians of {args.rounds} profiles of 5 runs "
                  f"({load_line()})")
            ops = sorted({op for p in prof.values() for op in p}, key=lambda o: -max(p.get(o, 0.0) for p in prof.values()))
            for op in ops:
                cells = "  ".join(f"{tag} {p.get(op, 0.0):8.3f} ({100 * p.get(op, 0.0) / p['all layers']:4.1f}%)"
                                  for tag, p in prof.items())
                print(f"  {op:28s} {cells}")
        for w in ws.values():
            w.close()


def decoded_text(args: argparse.Namespace) -> None:
    """PP-OCR rec's decoded text (greedy CTC, realnets/ocr_models.py) from
    each tag's engine on `--lines` rendered text lines (seed 3), against
    each other and the lines' text."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    from realnets.ocr_models import models_dir, rec_task
    from realnets.text_images import text_lines

    task = rec_task(models_dir())
    x, texts = task.make_inputs(text_lines(args.lines, seed=3), 103)
    path = args.dir / "rec_lines.npy"
    np.save(path, x.astype(np.float32))
    outs = {}
    for tag, w in workers(args, "ppocr_rec").items():
        out = args.dir / f"rec_lines.{tag}.out.npy"
        w.ask(f"file 0 {path} {out}")
        w.close()
        outs[tag] = np.load(out)
        print(f"{tag}: {task.score(outs[tag], texts)} on {len(texts)} lines; "
              f"output sha1 {hashlib.sha1(outs[tag].tobytes()).hexdigest()[:12]}")
    tags = list(outs)
    print(f"decoded text {tags[0]} vs {tags[-1]}: {task.agree(outs[tags[-1]], outs[tags[0]])} of the lines identical")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["time", "profile", "text", "worker"])
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--trees", nargs="+", default=["base=/tmp/sei9/base/python", "new=python"],
                   help="TAG=PYTHONPATH of each tree; engines DIR/<net>.<TAG>.i8rt")
    p.add_argument("--nets", nargs="+", default=NETS)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--lines", type=int, default=64, help="text: rendered lines")
    p.add_argument("--net", help=argparse.SUPPRESS)
    p.add_argument("--tag", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.what == "worker":
        worker(args)
        return
    print(" ".join(sys.argv), flush=True)
    {"time": time_nets, "profile": profile_nets, "text": decoded_text}[args.what](args)


if __name__ == "__main__":
    main()
