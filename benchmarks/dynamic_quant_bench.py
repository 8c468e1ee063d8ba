"""Models quantized by ONNX Runtime's quantize_dynamic (or older integer-op files), int8rt
against ONNX Runtime on the same file.

- ddddocr's ``common_old.onnx`` (the ddddocr wheel, ``pip install --no-deps ddddocr``): a CNN of
  21 ConvInteger blocks (uint8 x uint8, run-time DynamicQuantizeLinear of every activation), a
  bidirectional com.microsoft DynamicQuantizeLSTM (H = 512) and a MatMulInteger to 8210 characters;
  its batch is fixed at 1 in the file. Inputs: rendered 4-6 character captchas, grey 64 x 160
  (benchmarks/realnets/wheel_models.py), and the wheel's own logo.png prepared as ddddocr prepares
  an image. Agreement: greedy CTC text equal to ONNX Runtime's, max |logit difference|.
- A HuggingFace BERT (``transformers.BertModel``, transformer_bench.py's small config: 4 layers, width
  256, random weights) exported by torch.onnx, then ``quantize_dynamic(weight_type=QInt8)``
  (DynamicQuantizeLinear + MatMulInteger + Cast + Mul). Batch 1 and 8, sequence 32, padded rows.
  Agreement: max |difference| and cosine of last_hidden_state against ONNX Runtime's.

Both engines run the file as it is: int8rt builds it with ``precision="fp32"`` (the integer ops are
the file's; no calibration), ONNX Runtime with its default graph optimizations. 1 thread each, one
process, engines alternated; medians of wall time and of process CPU time (the machine is shared).

    cd /tmp && PYTHONPATH=<worktree>/python python <worktree>/benchmarks/dynamic_quant_bench.py --rounds 30
"""
from __future__ import annotations

import argparse
import os
import sys
import sysconfig
import tempfile
import time
from typing import Callable, Dict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402
from int8rt.builder import BuilderConfig, build_engine  # noqa: E402


def ort_session(path: str):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def timed(impls: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, Dict[str, float]]:
    wall = time_alternating(impls, rounds)
    cpu = time_alternating(impls, rounds, clock=time.process_time)
    return {name: {"wall_ms": wall[name] * 1e3, "cpu_ms": cpu[name] * 1e3} for name in impls}


def ddddocr(rounds: int, n_eval: int) -> None:
    from realnets.wheel_models import _captchas, ctc_strings
    import importlib.util
    from PIL import Image
    path = os.path.join(sysconfig.get_paths()["purelib"], "ddddocr", "common_old.onnx")
    if not os.path.exists(path):
        print("ddddocr: not installed, skipped")
        return
    spec = importlib.util.spec_from_file_location("_charsets", os.path.join(os.path.dirname(path), "charsets.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    charset = list(mod.CHARSET_OLD)
    t0 = time.perf_counter()
    ctx = build_engine(path, BuilderConfig(precision="fp32")).create_execution_context()
    build_s = time.perf_counter() - t0
    sess = ort_session(path)
    xs, truth = _captchas(n_eval, seed=12, width=160)
    logo = Image.open(os.path.join(os.path.dirname(path), "logo.png"))
    logo = logo.resize((int(logo.size[0] * 64 / logo.size[1]), 64), Image.LANCZOS).convert("L")
    logo_x = (np.asarray(logo, np.float32) / 255.0)[None, None]
    same = ours_truth = ort_truth = 0
    worst = 0.0
    for i in range(n_eval):
        x = xs[i:i + 1]
        a = next(iter(ctx.run({"input1": x}).values()))
        b = sess.run(None, {"input1": x})[0]
        worst = max(worst, float(np.abs(a - b).max() / np.abs(b).max()))
        sa, sb = ctc_strings(a, charset)[0], ctc_strings(b, charset)[0]
        same += sa == sb
        ours_truth += sa.lower() == truth[i]
        ort_truth += sb.lower() == truth[i]
    a = next(iter(ctx.run({"input1": logo_x}).values()))
    b = sess.run(None, {"input1": logo_x})[0]
    print(f"ddddocr common_old.onnx: int8rt build {build_s:.2f} s; {n_eval} captchas: same text as ONNX Runtime "
          f"{same}/{n_eval}, ground truth int8rt {ours_truth}/{n_eval} ORT {ort_truth}/{n_eval}; max |diff| / "
          f"max |logit| {worst:.2e}; logo.png ({logo_x.shape[3]} wide): max |diff| {np.abs(a - b).max():.2e}, "
          f"text int8rt {ctc_strings(a, charset)[0]!r} ORT {ctc_strings(b, charset)[0]!r}")
    feed = {"input1": xs[:1]}
    t = timed({"int8rt": lambda: ctx.run(feed), "ort": lambda: sess.run(None, feed)}, rounds)
    print("  batch 1 (64x160): " + "; ".join(f"{k} wall {v['wall_ms']:.2f} ms cpu {v['cpu_ms']:.2f} ms" for k, v in t.items())
          + f"; ORT / int8rt wall {t['ort']['wall_ms'] / t['int8rt']['wall_ms']:.2f}x cpu "
          f"{t['ort']['cpu_ms'] / t['int8rt']['cpu_ms']:.2f}x")


def bert(rounds: int, seq: int) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformer_bench import export_bert, token_batches
    vocab = 1000
    with tempfile.TemporaryDirectory() as d:
        fp32, q = os.path.join(d, "bert.onnx"), os.path.join(d, "bert_q.onnx")
        export_bert(fp32, base=False, vocab=vocab)
        quantize_dynamic(fp32, q, weight_type=QuantType.QInt8)
        t0 = time.perf_counter()
        ctx = build_engine(q, BuilderConfig(precision="fp32")).create_execution_context()
        build_s = time.perf_counter() - t0
        sess = ort_session(q)
        sess_fp32 = ort_session(fp32)
        for batch in (1, 8):
            feeds = token_batches(4, batch, seq, vocab, seed=7)
            worst, cos = 0.0, 1.0
            for f in feeds:
                a = next(iter(ctx.run(f).values()))
                b = sess.run(None, f)[0]
                worst = max(worst, float(np.abs(a - b).max()))
                cos = min(cos, float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())))
            f = feeds[0]
            t = timed({"int8rt": lambda: ctx.run(f), "ort": lambda: sess.run(None, f),
                       "ort_fp32": lambda: sess_fp32.run(None, f)}, rounds)
            print(f"BERT quantize_dynamic (4 layers, width 256, seq {seq}) batch {batch}: int8rt build {build_s:.2f} s; "
                  f"vs ORT max |diff| {worst:.2e}, min cosine {cos:.6f}; " +
                  "; ".join(f"{k} wall {v['wall_ms']:.2f} ms cpu {v['cpu_ms']:.2f} ms" for k, v in t.items()) +
                  f"; ORT / int8rt wall {t['ort']['wall_ms'] / t['int8rt']['wall_ms']:.2f}x cpu "
                  f"{t['ort']['cpu_ms'] / t['int8rt']['cpu_ms']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--eval", type=int, default=50, help="ddddocr captchas compared with ONNX Runtime")
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--only", choices=["ddddocr", "bert"])
    args = ap.parse_args()
    int8rt.set_num_threads(1)
    print(machine_line())
    if args.only in (None, "ddddocr"):
        ddddocr(args.rounds, args.eval)
    if args.only in (None, "bert"):
        bert(args.rounds, args.seq)
    print(machine_line())


if __name__ == "__main__":
    main()
