"""Per-layer CPU time of one network's auto engine with u8 codes and with int8 codes (INT8RT_U8_CODES=0),
the two engines profiled in turn for several rounds (ExecutionContext.profile, thread CPU clock, medians of each
layer's time over rounds): which convs gain or lose with u8 codes (RESULTS.md section 137).
Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python benchmarks/r50u8_layers.py --model ppocr_det [--batch 8]"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8rt  # noqa: E402
import e2e_bench as B  # noqa: E402
import e2e_subjects as S  # noqa: E402
from r50u8_ab import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--models-dir", default="/tmp/e2eall/models")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5, help="runs per profile call")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    s = S.subject(args.model, args.size, Path(args.models_dir))
    cal = B.CALIBRATORS["auto"](s.calib_feeds)
    data = int8rt.build_engine(s.onnx_path, int8rt.BuilderConfig(precision="int8", calibrator=cal,
                                                                 progress=False)).serialize()
    engines = {k: e.create_execution_context() for k, e in (("u8", load(data, True)), ("s8", load(data, False)))}
    x = {s.input_name: np.concatenate([f[s.input_name] for f in s.calib_feeds])[:args.batch].astype(np.float32)}
    times = {k: {} for k in engines}
    detail = {}
    for r in range(args.rounds):
        for k in (list(engines) if r % 2 == 0 else list(engines)[::-1]):
            for row in engines[k].profile(x, args.runs, clock="thread_cpu"):
                times[k].setdefault(row["name"], []).append(float(row["ms"]))
                if k == "u8":
                    detail[row["name"]] = row.get("detail", "")
    med = {k: {n: float(np.median(v)) for n, v in t.items()} for k, t in times.items()}
    rows = sorted(med["u8"], key=lambda n: med["u8"][n] - med["s8"].get(n, 0.0))
    print(f"{args.model} b{args.batch}: layer sum u8 {sum(med['u8'].values()):.2f} ms, s8 {sum(med['s8'].values()):.2f} ms")
    print("  u8 ms   s8 ms  u8/s8  layer (u8 engine's detail)")
    for n in rows[:args.top // 2] + rows[-args.top // 2:]:
        print(f"{med['u8'][n]:7.3f} {med['s8'][n]:7.3f} {med['u8'][n] / max(med['s8'][n], 1e-9):6.3f}  {n}: {detail[n]}")


if __name__ == "__main__":
    main()
