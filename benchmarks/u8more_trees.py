"""One saved engine file timed by whichever int8rt tree PYTHONPATH names, for base-against-branch runs that
alternate processes (RESULTS.md section 150: the cost of the AVX2 epilogue's u8-code xors on the tiers that
hold int8 codes). With --save, builds the auto-calibrated engine (r50u8_ab.py's subject and calibrator) and
writes it; otherwise loads it under the environment given (INT8RT_MAX_ISA, INT8RT_U8_CODES), runs it at one
batch, 1 thread, and prints the median process CPU time of the rounds and the output's checksum.
Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python benchmarks/u8more_trees.py --save /tmp/u8more/r50.i8rt
       OPENBLAS_NUM_THREADS=1 INT8RT_MAX_ISA=avx2 PYTHONPATH=<tree>/python python benchmarks/u8more_trees.py \
           --engine /tmp/u8more/r50.i8rt [--batch 8] [--rounds 9]"""
import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402
import e2e_subjects as S  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", default="/tmp/e2eall/models")
    ap.add_argument("--save")
    ap.add_argument("--engine")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    s = S.subject(args.model, args.size, Path(args.models_dir))
    if args.save:
        cal = B.CALIBRATORS["auto"](s.calib_feeds)
        config = int8rt.BuilderConfig(precision="int8", calibrator=cal, progress=False)
        Path(args.save).write_bytes(int8rt.build_engine(s.onnx_path, config).serialize())
        return
    engine = int8rt.Engine.deserialize(Path(args.engine).read_bytes())
    ctx = engine.create_execution_context()
    x = {s.input_name: np.concatenate([f[s.input_name] for f in s.calib_feeds])[:args.batch].astype(np.float32)}
    out = ctx.run(x)
    digest = hashlib.sha1(b"".join(np.ascontiguousarray(v).tobytes() for v in out.values())).hexdigest()[:12]
    t = []
    for _ in range(args.rounds):
        t0 = time.process_time()
        ctx.run(x)
        t.append(time.process_time() - t0)
    print(f"{int8rt.__file__.rsplit('/int8rt/', 1)[0]} isa={os.environ.get('INT8RT_MAX_ISA', '-')} "
          f"u8={os.environ.get('INT8RT_U8_CODES', '-')} b{args.batch}: {1e3 * float(np.median(t)):.2f} ms "
          f"output {digest} load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
