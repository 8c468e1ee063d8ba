"""How stable the auto calibrator's decisions and engine are (issue 12,
"auto's decisions robust"): auto built under several histogram settings in
one process, each decision's evidence on the held-out samples as a paired
per-sample comparison, and how far the plain mse engine moves when its
thresholds alone are perturbed.

For each --settings entry (``policy:bins``) the auto engine is built
(accuracy_check=False, as accuracy_bench.py and peers_bench.py build it) and
measured against int8rt FP32 on the evaluation set: centred cosine,
relative L2, top-1 agreement for [N, C] outputs, build CPU seconds (the
process's). Then each of auto's on/off decisions (unsigned activations,
cross-layer equalization, bias correction) and the best other threshold set
against mse is given as the paired comparison of the judge's per-sample
squared errors (auto_choice.Scorer) of the two engines: their relative-L2
ratio, the paired t statistic (mean difference over its standard error;
negative: the change is lower) and on how many samples the change is
lower. The errors are recorded by wrapping ``Scorer.__call__`` for the
run and matched to the build report's errors by value.

--jitter A --draws N: the mse calibrator's engine (auto's histograms,
power_of_two 4096) rebuilt N times from its calibration cache with every
threshold multiplied by (1 + A u), u uniform in [-1, 1] (seed 0): the
spread of centred cosine that threshold changes of that size make with no
decision changed; and the bootstrap standard error of the unperturbed
engine's centred cosine over the evaluation samples (200 resamples).

Models: cls (PP-OCR text direction, 256 calibration / 1000 evaluation text
lines, batch 16, accuracy_bench.py's), det (PP-OCRv4 detector, 32 / 64
pages, accuracy_bench.py's), or an exported torch network of
benchmarks/e2e_models.py (shufflenet_v2, resnet50, ...: 4 batches of 8
Gaussian images, 16 evaluation images, peers_bench.py's data).

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/auto_stability_bench.py --model cls \\
        [--settings power_of_two:4096,power_of_two:2048,extend:2048] [--jitter 0.02 --draws 6]
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt.accuracy import auto_choice  # noqa: E402
from int8rt.accuracy import metrics as M  # noqa: E402

# auto's report labels of each on/off decision: (without, with)
DECISIONS = {"unsigned": ("unsigned off", "unsigned on"), "equalization": ("equalization off", "equalization on"),
             "bias correction": ("bias correction off", "bias correction on")}


def subject(key: str) -> tuple[bytes, np.ndarray, np.ndarray, int]:
    """(ONNX bytes, calibration inputs, evaluation inputs, calibration batch size)."""
    import accuracy_bench as AB

    if key == "cls":
        t = AB.ocr_task("cls", 256, 1000)
        return t["model"], t["calib"], t["eval"], 16
    if key == "det":
        from realnets.ocr_models import models_dir

        t = AB.det_task(models_dir(), 32, 64)
        return t["model"], t["calib"], t["eval"], 16
    from e2e_bench import export

    s = export(key, 224, Path(tempfile.mkdtemp()))
    x = np.random.default_rng(1).standard_normal((16, 3, 224, 224), dtype=np.float32)
    return Path(s.onnx_path).read_bytes(), np.concatenate(s.calib), x, len(s.calib[0])


def paired(new: np.ndarray, old: np.ndarray) -> str:
    """Relative-L2 ratio, paired t and samples lower of ``new`` against ``old`` (per-sample squared errors)."""
    d = new - old
    se = float(np.std(d, ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    t = float(np.mean(d)) / se if se > 0 else float("nan")
    return f"ratio {np.sqrt(new.sum() / old.sum()):.3f}, t {t:+.2f}, lower on {int(np.sum(d < 0))}/{len(d)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="cls")
    ap.add_argument("--settings", default="power_of_two:4096,power_of_two:2048,extend:2048")
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--draws", type=int, default=6)
    args = ap.parse_args()
    model, xc, xe, batch = subject(args.model)
    int8rt.set_num_threads(2)
    import accuracy_bench as AB

    name = AB.E._input_name(model)

    def run(engine: int8rt.Engine) -> np.ndarray:
        outs = [engine.run({name: xe[i:i + 8]}) for i in range(0, len(xe), 8)]
        key = next(iter(outs[0]))
        return np.concatenate([o[key] for o in outs])

    ref = run(int8rt.build_engine(model, int8rt.BuilderConfig(precision="fp32")))
    recorded: list[Any] = []
    scorer_call: Callable = auto_choice.Scorer.__call__

    def recording(self: auto_choice.Scorer, engine: Any) -> Any:
        errors = scorer_call(self, engine)
        recorded.append(errors)
        return errors

    print(f"{args.model}: calibration {len(xc)}, evaluation {len(xe)}, batch {batch}; load {os.getloadavg()[0]:.1f}")
    auto_choice.Scorer.__call__ = recording
    try:
        for setting in args.settings.split(","):
            policy, bins = setting.split(":")
            recorded.clear()
            calibrator = int8rt.make_calibrator({name: xc}, algorithm="auto", batch_size=batch, policy=policy,
                                                num_bins=int(bins))
            c0 = time.process_time()
            engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False))
            cpu = time.process_time() - c0
            out = run(engine)
            choice = engine.build_report().auto_choice
            agree = f", agree {M.top1_agreement(ref, out):.3f}" if out.ndim == 2 else ""
            print(f"\n{setting}: centred cos {M.centred_cosine(ref, out):.4f}, rel L2 {M.relative_l2(ref, out):.4f}"
                  f"{agree}, CPU s {cpu:.1f}; thresholds {choice['thresholds']}, unsigned "
                  f"{choice.get('unsigned_activations')}, equalization {choice.get('equalization')}, bias correction "
                  f"{choice.get('bias_correction')}")
            by_value = {round(e.relative_l2, 6): e.err for e in recorded}
            errors = choice["errors"]
            others = [k for k in auto_choice.GLOBAL_METHODS if k != "mse" and k in errors]
            best = min(others, key=errors.get)
            pairs = {f"thresholds {best} vs mse": ("mse", best),
                     **{k: v for k, v in DECISIONS.items() if all(x in errors for x in v)}}
            for label, (old, new) in pairs.items():
                a, b = by_value.get(errors[new]), by_value.get(errors[old])
                evidence = paired(a, b) if a is not None and b is not None else "per-sample errors not recorded"
                print(f"  {label}: held-out rel L2 {errors[old]:.4g} -> {errors[new]:.4g}; {evidence}")
    finally:
        auto_choice.Scorer.__call__ = scorer_call
    if args.jitter > 0:
        jitter(model, name, xc, batch, run, ref, args.jitter, args.draws)


def jitter(model: bytes, name: str, xc: np.ndarray, batch: int, run: Callable, ref: np.ndarray, amp: float,
           draws: int) -> None:
    """The mse engine and ``draws`` rebuilds of it from a perturbed calibration cache (module docstring)."""
    folder = tempfile.mkdtemp()
    base = os.path.join(folder, "mse.cache")
    calibrator = int8rt.make_calibrator({name: xc}, algorithm="mse", batch_size=batch, cache_file=base,
                                        policy="power_of_two", num_bins=4096)
    out = run(int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False)))
    rng = np.random.default_rng(0)
    boot = [M.centred_cosine(ref[i], out[i]) for i in (rng.integers(0, len(ref), len(ref)) for _ in range(200))]
    print(f"\nmse (power_of_two:4096): centred cos {M.centred_cosine(ref, out):.4f}, bootstrap SE over the evaluation "
          f"samples {np.std(boot):.4f}")
    header, *lines = Path(base).read_text().splitlines()
    cos = []
    for d in range(draws):
        text = [header]
        for line in lines:  # "tensor: XXXXXXXX", the float32 scale's bits in hex (calib/cache.py)
            tensor, bits = line.rsplit(": ", 1)
            scale = struct.unpack(">f", bytes.fromhex(bits))[0] * (1 + amp * rng.uniform(-1, 1))
            text.append(f"{tensor}: {struct.pack('>f', scale).hex()}")
        path = os.path.join(folder, f"jitter{d}.cache")
        Path(path).write_text("\n".join(text) + "\n")
        calibrator = int8rt.make_calibrator({name: xc}, algorithm="mse", batch_size=batch, cache_file=path)
        got = run(int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False)))
        cos.append(M.centred_cosine(ref, got))
    print(f"thresholds x (1 +- {amp}), {draws} draws: centred cos " + " ".join(f"{c:.4f}" for c in cos)
          + f"; mean {np.mean(cos):.4f}, sd {np.std(cos, ddof=1):.4f}")


if __name__ == "__main__":
    main()
