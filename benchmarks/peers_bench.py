"""int8rt's calibrators against ONNX Runtime's and NNCF's post-training INT8
on exported torch networks (issue 12, "Peers"), same ONNX file, same
calibration and evaluation data, one process.

Networks (nothing downloaded at run time):
  resnet50, shufflenet_v2, ...  benchmarks/e2e_models.py (torchvision
      architectures, random weights, BatchNorm statistics from data),
      224x224; calibration 4 batches of 8 seeded Gaussian images (seed 0,
      auto_build_bench.py's), evaluation 16 others (seed 1); output logits
  bert  transformer_bench.py's HuggingFace BertModel (hidden 256, 4
      layers, random weights), token ids with padding; calibration 8
      batches of 8 sequences (seed 1), evaluation 4 batches (seed 2);
      output last_hidden_state

Engines: int8rt FP32 (the reference) and INT8 with each --methods
calibrator (auto decides bias correction itself), auto also with bias correction off and forced on, cross-layer equalization
(CNNs) or SmoothQuant (BERT) on; ONNX Runtime quantize_static (QDQ,
per-channel weights, its defaults otherwise) with MinMax / Entropy /
Percentile after quant_pre_process; NNCF (nncf.quantize on the OpenVINO
model, default preset, its fast bias correction on and off; BERT with
model_type=TRANSFORMER, which adds SmoothQuant, and without it), run by
OpenVINO's CPU plugin with INFERENCE_PRECISION_HINT f32. int8rt builds use
accuracy_check=False (every sample calibrates, as for the peers).

Metrics against int8rt FP32 (per sample, flattened): centred cosine (each
side minus its mean over the evaluation samples: a constant output scores
0), relative L2, top-1 agreement for [N, C] outputs; "calib s" is the
whole quantization (int8rt: build_engine; ORT: pre-process + quantize;
NNCF: quantize), wall clock, on a shared machine: compare within a table;
"CPU s" the same as the process's CPU time (every thread), which the load
of other processes inflates far less.

    cd /tmp && PYTHONPATH=$REPO/python python $REPO/benchmarks/peers_bench.py \\
        [--models resnet50,shufflenet_v2,bert] [--methods minmax,mse,percentile,entropy2,auto] [--groups int8rt,corr,ort,nncf]
        (--groups ort_s8: ORT MinMax / Percentile with symmetric int8 activations, int8rt's numerics;
         --groups ort_rr: ORT MinMax / Percentile with reduce_range, as its docs advise on x86 without VNNI;
         --groups unsigned: auto with unsigned activations forced off / on, docs/numerics.md)
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from int8rt.accuracy import metrics as M  # noqa: E402

Feeds = list[dict[str, np.ndarray]]


def cnn_subject(name: str, tmp: Path) -> tuple[str, Feeds, Feeds, str]:
    from e2e_bench import export

    subject = export(name, 224, tmp)
    x = np.random.default_rng(1).standard_normal((16, 3, 224, 224), dtype=np.float32)
    return str(subject.onnx_path), [{"input": b} for b in subject.calib], [{"input": x[:8]}, {"input": x[8:]}], "logits"


def bert_subject(tmp: Path) -> tuple[str, Feeds, Feeds, str]:
    from transformer_bench import export_bert, token_batches

    path = str(tmp / "bert.onnx")
    vocab = 1000
    export_bert(path, False, vocab)
    return path, token_batches(8, 8, 64, vocab, seed=1), token_batches(4, 8, 64, vocab, seed=2), "last_hidden_state"


def ort_int8(path: str, calib: Feeds, method: str, tmp: str) -> Callable[[dict], np.ndarray]:
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self):
            return next(self.it, None)

    pre, dst = (os.path.join(tmp, f"{stem}_{method.replace(' ', '_')}.onnx") for stem in ("pre", "int8"))
    try:
        quant_pre_process(path, pre)
    except Exception:  # noqa: BLE001 - ORT's symbolic shape inference gives up on some exports
        quant_pre_process(path, pre, skip_symbolic_shape=True)
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    # "<method> s8": activations as int8rt holds them (symmetric int8, so a
    # non-negative tensor gets codes 0..127 only), instead of ORT's default
    # asymmetric uint8 (0..255 over [min, max]): what the numerics cost.
    # "<method> rr": ORT's reduce_range (7-bit weights and activations), which
    # its docs suggest on x86 without VNNI, where MLAS's uint8 x int8 products
    # add pairs in saturating int16.
    base, _, variant = method.partition(" ")
    options = {"s8": dict(activation_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True}),
               "rr": dict(reduce_range=True)}.get(variant, {})
    with contextlib.redirect_stdout(sys.stderr):
        quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        calibrate_method=methods[base], **options)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(dst, opts, providers=["CPUExecutionProvider"])
    return lambda feed: session.run(None, feed)[0]


def nncf_int8(path: str, calib: Feeds, **options: Any) -> Callable[[dict], np.ndarray]:
    from realnets import openvino_engines as O

    q, _ = O.nncf_int8(path, calib, **options)
    compiled = O.compile_model(q, 2, "f32")
    return lambda feed: compiled(feed)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50,shufflenet_v2,bert")
    ap.add_argument("--methods", default="minmax,mse,percentile,entropy2,auto")
    ap.add_argument("--groups", default="int8rt,corr,ort,nncf")
    args = ap.parse_args()
    groups = set(args.groups.split(","))
    logging.getLogger("nncf").setLevel(logging.ERROR)
    int8rt.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp())
    for name in args.models.split(","):
        path, calib, evals, out = bert_subject(tmp) if name == "bert" else cnn_subject(name, tmp)
        fp32 = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))
        ref = np.concatenate([fp32.run(f)[out] for f in evals])
        builds: list[tuple[str, Callable[[], Callable[[dict], np.ndarray]]]] = []

        decisions: list[str] = []  # auto's choices, printed under the table

        def int8rt_engine(method: str, **config: Any) -> Callable[[], Callable[[dict], np.ndarray]]:
            def make() -> Callable[[dict], np.ndarray]:
                calibrator = int8rt.make_calibrator(calib, algorithm=method)
                engine = int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                                        **config))
                report = engine.build_report()
                if getattr(report, "auto_choice", None):
                    decisions.append(f"{method} {config or ''}: {report.auto_choice}; seconds {report.seconds}")
                return lambda feed: engine.run(feed)[out]
            return make

        if "int8rt" in groups:
            builds += [(f"int8rt {m}", int8rt_engine(m)) for m in args.methods.split(",")]
        if "corr" in groups:
            builds.append(("int8rt auto, bias corr. off", int8rt_engine("auto", bias_correction=False)))
            builds.append(("int8rt auto + bias corr.", int8rt_engine("auto", bias_correction=True)))
            if name == "bert":
                builds.append(("int8rt auto + SmoothQuant", int8rt_engine("auto", smoothquant=True)))
                builds.append(("int8rt mse + SmoothQuant", int8rt_engine("mse", smoothquant=True)))
            else:
                builds.append(("int8rt auto + CLE", int8rt_engine("auto", equalize=True)))
        if "unsigned" in groups:  # auto decides unsigned activations itself; these force it
            builds.append(("int8rt auto, unsigned off", int8rt_engine("auto", unsigned_activations=False)))
            builds.append(("int8rt auto, unsigned forced", int8rt_engine("auto", unsigned_activations=True)))
        if "ort" in groups:
            builds += [(f"ORT {m}", lambda m=m: ort_int8(path, calib, m, str(tmp))) for m in ("minmax", "entropy", "percentile")]
        if "ort_s8" in groups:  # ORT with int8rt's activation numerics (symmetric int8)
            builds += [(f"ORT {m}, symmetric int8 activations", lambda m=m: ort_int8(path, calib, f"{m} s8", str(tmp)))
                       for m in ("minmax", "percentile")]
        if "ort_rr" in groups:  # ORT with reduce_range (x86 CPUs without VNNI)
            builds += [(f"ORT {m}, reduce_range", lambda m=m: ort_int8(path, calib, f"{m} rr", str(tmp)))
                       for m in ("minmax", "percentile")]
        if "nncf" in groups:
            builds.append(("NNCF default", lambda: nncf_int8(path, calib)))
            builds.append(("NNCF, bias correction off", lambda: nncf_int8(path, calib, bias_correction=False)))
            if name == "bert":
                import nncf

                builds.append(("NNCF TRANSFORMER (SmoothQuant)",
                               lambda: nncf_int8(path, calib, model_type=nncf.ModelType.TRANSFORMER)))
        print(f"\n### {name}: calibration {sum(len(next(iter(f.values()))) for f in calib)} samples, evaluation "
              f"{len(ref)}\n")
        print("| engine | centred_cos | rel_l2 | top-1 agree | calib s | CPU s | load |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for label, make in builds:
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                run = make()
                secs, cpu = time.perf_counter() - t0, time.process_time() - c0
                got = np.concatenate([run(f) for f in evals])
            except Exception as e:  # noqa: BLE001 - recorded in the table, the other engines still run
                print(f"| {label} | failed: {type(e).__name__}: {str(e)[:150]} | | | | | |", flush=True)
                continue
            agree = f"{M.top1_agreement(ref, got):.3f}" if M.looks_like_class_scores(ref.shape) else "-"
            print(f"| {label} | {M.centred_cosine(ref, got):.4f} | {M.relative_l2(ref, got):.4f} | {agree} | "
                  f"{secs:.1f} | {cpu:.1f} | {os.getloadavg()[0]:.1f} |", flush=True)
        for line in decisions:
            print(f"- {line}")


if __name__ == "__main__":
    main()
