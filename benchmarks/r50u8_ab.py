"""ResNet-50 INT8 built with the auto calibrator (e2e_bench's export and calibration feeds), its engine
file loaded twice: with u8 codes (the default; csrc/engine/ops/int8/u8_codes.h) and with every tensor held
as int8 codes (INT8RT_U8_CODES=0, the previous engine's kernels). Prints how many convs read / write u8
codes, checks the two engines' outputs are the same bytes, then times both alternated in one process
(process CPU time, medians) at each batch (RESULTS.md section 137).
Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python benchmarks/r50u8_ab.py [--batches 1 8] [--rounds 9]
       [--models-dir /tmp/e2eall/models] [--model resnet50]"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402
import e2e_subjects as S  # noqa: E402


def load(data: bytes, u8_codes: bool) -> int8rt.Engine:
    """The engine file's layers made with or without u8 codes (chosen at load)."""
    if not u8_codes:
        os.environ["INT8RT_U8_CODES"] = "0"
    try:
        return int8rt.Engine.deserialize(data)
    finally:
        os.environ.pop("INT8RT_U8_CODES", None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", default="/tmp/e2eall/models")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    s = S.subject(args.model, args.size, Path(args.models_dir))
    cal = B.CALIBRATORS["auto"](s.calib_feeds)
    built = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=cal, progress=False))
    data = built.serialize()
    engines = {"u8 codes": load(data, True), "int8 codes": load(data, False)}
    for k, e in engines.items():
        d = [layer["detail"] for layer in e.layers() if layer["op"] == "int8rt.QConv"]
        print(f"{k}: {len(d)} convs, {sum('(input u8 codes)' in x for x in d)} read u8 codes, "
              f"{sum('(output u8 codes)' in x for x in d)} write them, {sum('(input >= 0)' in x for x in d)} input >= 0")
    x_all = np.concatenate([f[s.input_name] for f in s.calib_feeds]).astype(np.float32)
    for batch in args.batches:
        x = x_all[:batch]
        ctx = {k: e.create_execution_context() for k, e in engines.items()}
        outs = {k: c.run({s.input_name: x}) for k, c in ctx.items()}
        same = all(np.array_equal(outs["u8 codes"][n], outs["int8 codes"][n]) for n in outs["u8 codes"])
        t = {k: [] for k in ctx}
        for r in range(args.rounds):
            for k in (list(ctx) if r % 2 == 0 else list(ctx)[::-1]):
                t0 = time.process_time()
                ctx[k].run({s.input_name: x})
                t[k].append(time.process_time() - t0)
        med = {k: 1e3 * float(np.median(v)) for k, v in t.items()}
        print(f"b{batch}: outputs same bytes: {same}; " +
              "; ".join(f"{k} {v:.2f} ms" for k, v in med.items()) +
              f"; u8 / int8 codes {med['u8 codes'] / med['int8 codes']:.3f}")


if __name__ == "__main__":
    main()
