"""The BF16 image chain's span, two trees against each other (RESULTS.md
section 262): a network's int8rt FP32+bf16 engine profiled layer by layer
(``ExecutionContext.profile``, thread CPU, medians of ROUNDS profiles of 3
runs, 1 thread) under each tree, the trees' processes alternated (A, B, A,
B, ...); per pass it prints each tree's chain layer, the layers the other
tree has and this one has not (what one tree chains and the other runs over
the batch), their sum (the span) and the whole engine's sum, then B / A of
the span and of the whole. Prints each process's 12 slowest layers too.

Usage (from the repository root):
  python3 benchmarks/bf16v3_chain_span.py --trees /tmp/base /tmp/branch [--net mobilenet_v3] [--batch 8]
      [--passes 2] [--rounds 5] [--models-dir /tmp/bf16v3/models]
(each tree: a directory whose python/int8rt holds its built extension)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHAIN = "int8rt.Bf16ImageChain"


def profile_here(net: str, batch: int, rounds: int, models_dir: str) -> list:
    """[(layer name, op, median thread-CPU ms)] of this process's int8rt."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    import int8rt
    from e2e_subjects import subject

    int8rt.set_num_threads(1)
    s = subject(net, 224, Path(models_dir))
    feed = s.feed(batch)
    with contextlib.redirect_stdout(io.StringIO()):
        engine = int8rt.build_engine(str(s.onnx_path), int8rt.BuilderConfig(precision="fp32", bf16=True))
    ctx = engine.create_execution_context()
    profs = [ctx.profile(feed, 3, clock="thread_cpu") for _ in range(rounds)]
    return [(la["name"], la["op"], float(np.median([p[i]["ms"] for p in profs]))) for i, la in enumerate(profs[0])]


def one_process(tree: str, args: argparse.Namespace) -> list:
    env = dict(os.environ, PYTHONPATH=str(Path(tree) / "python"))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", "--net", args.net, "--batch", str(args.batch),
           "--rounds", str(args.rounds), "--models-dir", args.models_dir]
    out = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def trees_parser(doc: str, net: str, models_dir: str) -> argparse.ArgumentParser:
    """The two-tree profile scripts' options (this one's, ocrdet23_layers.py's, det24_layers.py's): --trees A B,
    --net, --batch, --passes, --rounds, --models-dir and the internal --one."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs=2, metavar=("A", "B"))
    ap.add_argument("--net", default=net)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models-dir", default=models_dir)
    ap.add_argument("--one", action="store_true", help="internal: profile this process's int8rt, print JSON")
    return ap


def options_or_profile(ap: argparse.ArgumentParser) -> "argparse.Namespace | None":
    """The two-tree scripts' start: parses ``ap``; under the internal --one profiles this process's int8rt,
    prints the JSON and returns None; otherwise prints the machine and run header and returns the options."""
    args = ap.parse_args()
    if args.one:
        print(json.dumps(profile_here(args.net, args.batch, args.rounds, args.models_dir)))
        return None
    sys.path.insert(0, str(HERE))
    from bench_util import machine_line

    print(machine_line())
    print(f"{args.net} batch {args.batch}, 1 thread, thread CPU ms, medians of {args.rounds} profiles of 3 runs")
    return args


def main() -> None:
    ap = trees_parser(__doc__, "mobilenet_v3", "/tmp/bf16v3/models")
    args = options_or_profile(ap)
    if args is None:
        return
    from bench_util import load_line
    a, b = args.trees
    for p in range(args.passes):
        rows = {t: one_process(t, args) for t in (a, b)}
        names = {t: {r[0] for r in rows[t]} for t in (a, b)}
        span, whole = {}, {}
        for t, other in ((a, b), (b, a)):
            own = [r for r in rows[t] if r[1] == CHAIN or r[0] not in names[other]]
            span[t], whole[t] = sum(r[2] for r in own), sum(r[2] for r in rows[t])
            print(f"\npass {p + 1}, tree {t}: span {span[t]:.3f} ms of {whole[t]:.3f} ms ({len(own)} layers); "
                  f"{load_line()}")
            for name, op, ms in own:
                print(f"  {ms:8.3f}  {op}  {name}")
            print("  slowest layers:")
            for name, op, ms in sorted(rows[t], key=lambda r: -r[2])[:12]:
                print(f"  {ms:8.3f}  {op}  {name}")
        print(f"\npass {p + 1}: B / A span {span[b] / span[a]:.3f}, whole {whole[b] / whole[a]:.3f}")


if __name__ == "__main__":
    main()
