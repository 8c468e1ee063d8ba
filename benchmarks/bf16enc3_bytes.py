"""Whether two builds of int8rt give the same bytes on the BF16 encoders
(RESULTS.md section 209): for each package (PYTHONPATH) a fresh process
builds int8rt's FP32 + bf16 engine (``bf16=True``) of e2e_feeds.py's
encoders (BERT-base, MiniLM; sequence 128), optionally under an ISA cap,
runs it on the timed feed at each batch and answers a SHA-256 of every
output's bytes, plus the engine report's bf16 lines; the parent prints
both and whether they are equal. 1 thread.

Usage: python3 benchmarks/bf16enc3_bytes.py --packages BASE/python NEW/python
       [--models bert_base minilm] [--batches 1 8] [--max-isa amx|avx512bf16|ref]
       [--models-dir /tmp/e2eamx/models]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(models: list[str], batches: list[int], models_dir: str, cap: str | None) -> None:
    """Prints one JSON object: {model: {"report": [...], "b<batch>": {output: sha256}}}."""
    sys.path.insert(0, HERE)
    from bf16enc2_ab import bf16_engines

    result = {}
    for name, (eng, feed_of) in bf16_engines(models, models_dir, cap).items():
        entry = {"report": [line for line in eng.report() if line.startswith("bf16")]}
        for batch in batches:
            outs = eng.run(feed_of(batch))
            entry[f"b{batch}"] = {k: hashlib.sha256(v.tobytes()).hexdigest()[:16] for k, v in sorted(outs.items())}
        result[name] = entry
    print(json.dumps(result), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", nargs=2, required=True, help="PYTHONPATH of the two builds")
    ap.add_argument("--models", nargs="+", default=["bert_base", "minilm"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--max-isa", default=None)
    ap.add_argument("--models-dir", default="/tmp/e2eamx/models")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.models, args.batches, args.models_dir, args.max_isa)
        return
    results = []
    for pkg in args.packages:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--packages", pkg, pkg, "--models", *args.models,
               "--batches", *map(str, args.batches), "--models-dir", args.models_dir]
        if args.max_isa:
            cmd += ["--max-isa", args.max_isa]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=pkg),
                             cwd="/tmp").stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    same = True
    for model in args.models:
        for i, pkg in enumerate(args.packages):
            print(f"{model} {pkg}: " + " | ".join(results[i][model]["report"]))
        for batch in args.batches:
            a, b = (r[model][f"b{batch}"] for r in results)
            same &= a == b
            print(f"{model} b{batch} cap={args.max_isa or 'none'}: {'SAME BYTES' if a == b else 'DIFFER'} {a} {b}")
    print("all equal" if same else "NOT all equal")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
