"""Silero VAD 6 (STFT as Conv1d, Conv1d encoder, LSTM, Conv1d decoder; state in
and out): int8rt FP32 / INT8 vs ONNX Runtime FP32 / INT8, on real speech.

Model: silero_vad.onnx from the silero-vad wheel (If on the sample rate;
int8rt imports it unchanged with ``input_values={"sr": 16000}`` and fixed
shapes, which fold every If). Audio: speech clips shipped in PyPI packages
(benchmarks/realnets/vad.py): calibration = amfm-decompy's sample.wav at 4
gains, clean and with white noise at 15 dB SNR (8 streams, 27 chunks each);
evaluation = pysptk's CMU ARCTIC arctic_a0007.wav at 2 gains, clean and at
10 dB SNR (4 streams, 125 chunks each). Chunks of 512 samples after 64 of
context, the state carried: the model runs as silero's OnnxWrapper runs it.

Engines: int8rt FP32; int8rt INT8 (MinMax, and Entropy2 for accuracy; and
MinMax with the LSTM kept float32, to see what the int8 LSTM changes);
ONNX Runtime FP32 on the unchanged model (``sr`` fed); ONNX Runtime INT8:
quant_pre_process then quantize_static (QDQ, per-channel weights, MinMax)
(and Entropy, for accuracy) on ``int8rt.onnx.specialize(...)``'s graph for each batch size (the same
If-free graph int8rt builds from: on the unchanged model quant_pre_process's
symbolic shape inference raises AssertionError in _infer_If), calibrated on
the same feeds (input chunk and the state
ONNX Runtime FP32 had there). Metric vs ONNX Runtime FP32, per chunk speech
probability: centred cosine, mean / max |diff|, agreement of speech
decisions at 0.5. Latency: one streaming step at batch 1 and 8, 1 thread,
medians of runs alternated between the engines in this process.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/vad_bench.py [--rounds 300]
Needs: pip install --no-deps silero-vad pysptk amfm-decompy; onnx, onnxruntime, scipy.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import machine_line  # noqa: E402
from realnets import vad as V  # noqa: E402
from realnets.timing import alternating_medians  # noqa: E402


def missing() -> list[str]:
    need = [("onnx", "onnx"), ("onnxruntime", "onnxruntime"), ("scipy", "scipy"), ("silero_vad", "silero-vad"),
            ("pysptk", "pysptk"), ("amfm_decompy", "amfm-decompy")]
    return [pip for mod, pip in need if importlib.util.find_spec(mod) is None]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300, help="alternated timing rounds per batch size")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if missing():
        print("vad_bench: needs " + ", ".join(missing()) + " (pip install --no-deps ...)")
        return 2
    import int8rt

    path = V.model_path()
    with open(path, "rb") as f:
        model = f.read()
    print(machine_line())
    calib_streams = V.variants(V.speech("amfm"), 1, [1.0, 0.7, 0.5, 0.25], [None, 15.0])
    eval_streams = V.variants(V.speech("arctic"), 2, [1.0, 0.4], [None, 10.0])
    x_cal = V.chunked(calib_streams)                 # [27, 8, 576]
    x_eval = V.chunked(eval_streams)                 # [125, 4, 576]
    int8rt.set_num_threads(1)
    ort_fp32 = V.ort_step(V.ort_session(model), bind_sr=True)
    _, feeds8 = V.run_stream(ort_fp32, x_cal)        # the states ORT FP32 had: the calibration feeds
    feeds1 = [{k: (v[i:i + 1] if k == "input" else v[:, i:i + 1]) for k, v in f.items()}
              for i in range(x_cal.shape[1]) for f in feeds8]
    result: dict = {"machine": machine_line(), "calib_chunks": len(feeds1), "eval_chunks": int(np.prod(x_eval.shape[:2])),
                    "accuracy": {}, "latency_ms": {}, "build_s": {}}
    steps: dict = {1: {"ONNX Runtime FP32": ort_fp32}, 8: {"ONNX Runtime FP32": ort_fp32}}
    cache: list = []
    for batch, feeds in ((1, feeds1), (8, feeds8)):
        t0 = time.perf_counter()
        steps[batch]["int8rt FP32"] = V.int8rt_step(int8rt.build_engine(V.int8rt_network(batch, path),
                                                                        int8rt.BuilderConfig(precision="fp32")))
        algs = [("minmax", int8rt.IInt8MinMaxCalibrator)] + ([("entropy2", int8rt.IInt8EntropyCalibrator2)]
                                                             if batch == 1 else [])
        for alg, base in algs:
            box = cache if alg == "minmax" else []  # batch 8 replays batch 1's MinMax cache: the same scales
            t0 = time.perf_counter()
            engine = int8rt.build_engine(V.int8rt_network(batch, path), int8rt.BuilderConfig(
                calibrator=V.FeedCalibrator.make(base, feeds, box), accuracy_check=False))
            result["build_s"][f"int8rt INT8 {alg} b{batch}"] = time.perf_counter() - t0
            steps[batch][f"int8rt INT8 {alg}"] = V.int8rt_step(engine)
            if batch == 1 and alg == "minmax":
                result["int8rt_layers"] = [f"{lay['op']}: {lay['detail']}" for lay in engine.layers()
                                           if lay["op"] in ("int8rt.QLSTM", "int8rt.QConv")]
        # The same scales with the LSTM kept float32: what the int8 LSTM costs or gains.
        network = V.int8rt_network(batch, path)
        lstm = [n["name"] for n in network.nodes() if n["op"] == "LSTM"]
        steps[batch]["int8rt INT8 minmax, LSTM fp32"] = V.int8rt_step(int8rt.build_engine(network, int8rt.BuilderConfig(
            calibrator=V.FeedCalibrator.make(int8rt.IInt8MinMaxCalibrator, feeds, list(cache)), accuracy_check=False,
            layer_precisions={name: "fp32" for name in lstm})))
        special = int8rt.onnx.specialize(path, input_shapes={"input": [batch, 576], "state": [2, batch, 128]},
                                         input_values={"sr": V.RATE}).SerializeToString()
        t0 = time.perf_counter()
        quantized = V.ort_quantize(special, feeds, "minmax")
        result["build_s"][f"ONNX Runtime INT8 minmax b{batch}"] = time.perf_counter() - t0
        steps[batch]["ONNX Runtime INT8 minmax"] = V.ort_step(V.ort_session(quantized), bind_sr=False)
        if batch == 1:
            steps[batch]["ONNX Runtime INT8 entropy"] = V.ort_step(
                V.ort_session(V.ort_quantize(special, feeds, "entropy")), bind_sr=False)
        print(f"built batch {batch} engines", flush=True)

    # Accuracy: each evaluation stream alone (batch 1), and the 4 streams twice over as one batch of 8.
    for batch in (1, 8):
        x = x_eval if batch == 8 else None
        ref_runs, runs = {}, {}
        for name, step in steps[batch].items():
            if batch == 1:
                probs = np.concatenate([V.run_stream(step, x_eval[:, i:i + 1])[0] for i in range(x_eval.shape[1])], 1)
            else:
                probs = V.run_stream(step, np.concatenate([x_eval, x_eval[:, ::-1]], axis=1))[0]
            runs[name] = probs
        ref_runs = runs["ONNX Runtime FP32"]
        result["accuracy"][f"b{batch}"] = {name: V.scores(p, ref_runs) for name, p in runs.items()
                                           if name != "ONNX Runtime FP32"}
        result["accuracy"][f"b{batch}"]["speech fraction (ORT FP32 > 0.5)"] = float(np.mean(ref_runs > 0.5))
        del x

    # Latency: one step on a mid-stream feed, alternated.
    for batch in (1, 8):
        stream = x_eval if batch == 1 else np.concatenate([x_eval, x_eval[:, ::-1]], axis=1)
        _, feeds = V.run_stream(steps[batch]["ONNX Runtime FP32"], stream[:41, :batch])
        feed = feeds[40]
        runners = {name: (lambda f, s=step: s(f)) for name, step in steps[batch].items()
                   if "entropy" not in name}  # the same graphs as their MinMax twins
        result["latency_ms"][f"b{batch}"] = alternating_medians(runners, feed, rounds=args.rounds, warmup=5)
    result["load_after"] = machine_line()

    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
