"""A HuggingFace BERT encoder as users export it, int8rt against ONNX Runtime.

``transformers.BertModel`` (random weights: a small config, or ``--base``
for BERT-base's shape) wrapped to take ``input_ids`` and ``attention_mask``
and exported by ``torch.onnx.export`` with dynamic batch and sequence axes
(HuggingFace's attention-mask arithmetic, the embedding Gathers and the
Shape chains included). The same ONNX file goes, unchanged, to:

- int8rt FP32 and INT8 (``BuilderConfig`` default calibrator, ``auto``);
- ONNX Runtime FP32 and INT8 (``quant_pre_process`` then ``quantize_static``,
  QDQ, per-channel, MinMax), on the same calibration batches;
- OpenVINO INT8 where openvino and nncf are installed (``nncf.quantize``
  with ``model_type=TRANSFORMER``, the preset NNCF's documentation gives for
  transformers, on the same batches; compiled for 1 thread, latency hint).

Accuracy: the centred cosine of ``last_hidden_state`` against ONNX Runtime
FP32 on held-out token sequences with padding (cosine after subtracting the
mean output over the evaluation inputs). Latency: batch 1 and 8 at the
sequence length given, 1 thread, one process, implementations alternated,
medians.

    pip install transformers   # pure Python; torch==2.13.0 from the test extra
    PYTHONPATH=python python benchmarks/transformer_bench.py [--base] [--seq 128] [--isa-cap avxvnni]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings

# Helper threads of the libraries loaded here must not spin beside the timed
# engines: torch's OpenMP workers (torch exports the networks in this
# process; a perf run of ResNet-50 FP32 found ~20% of the samples in them)
# and numpy's OpenBLAS server (seen in perf). Only the PyTorch rows use them.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from bench_util import add_isa_cap_and_cpu_time_args, isa_cap, machine_line, time_alternating  # noqa: E402


def hide_broken_torchvision() -> None:
    """transformers imports torchvision when it is installed; a torchvision
    wheel built for another torch fails at import ("operator torchvision::nms
    does not exist", the PyPI wheel beside torch 2.13's CPU build). BERT needs
    none of it, so a torchvision that does not import is hidden."""
    if "torchvision" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means: not usable
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]


def export_bert(path: str, base: bool, vocab: int):
    """A random-weight BertModel (BERT-base's shape with ``base``, else 4 layers x 256) exported to ``path``;
    returns the model."""
    import torch
    hide_broken_torchvision()
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = (BertConfig(vocab_size=vocab) if base else
           BertConfig(vocab_size=vocab, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                      intermediate_size=1024))
    model = BertModel(cfg).eval()
    export_encoder(model, path, vocab)
    return model


def export_encoder(bert, path: str, vocab: int, names: tuple[str, str] = ("input_ids", "attention_mask"),
                   dynamo: bool = False) -> None:
    """A HuggingFace encoder taking (input_ids, attention_mask) and returning last_hidden_state,
    exported by ``torch.onnx.export`` as users do: dynamic batch and sequence axes, default opset;
    the ONNX inputs named ``names``, the TorchScript exporter or (``dynamo``) the default one."""
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.randint(0, vocab, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(Encoder(), (ids, mask), path, input_names=list(names),
                          output_names=["last_hidden_state"], dynamo=dynamo,
                          dynamic_axes={names[0]: axes, names[1]: axes, "last_hidden_state": axes})


def token_batches(n: int, batch: int, seq: int, vocab: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Random token ids; each row padded after a random length (mask 0 there)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ids = rng.integers(0, vocab, (batch, seq), dtype=np.int64)
        lengths = rng.integers(seq // 4, seq + 1, batch)
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        out.append({"input_ids": ids * mask, "attention_mask": mask})
    return out


def ort_int8(path: str, calib: list[dict[str, np.ndarray]], tmp: str) -> str:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self):
            return next(self.it, None)

    pre, dst = os.path.join(tmp, "pre.onnx"), os.path.join(tmp, "int8.onnx")
    try:
        quant_pre_process(path, pre)
    except Exception:  # noqa: BLE001 - ORT's symbolic shape inference gives up on some exports
        quant_pre_process(path, pre, skip_symbolic_shape=True)
    with contextlib.redirect_stdout(sys.stderr):
        quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        calibrate_method=CalibrationMethod.MinMax)
    return dst


def ov_int8(path: str, calib: list[dict[str, np.ndarray]], precision: str | None = None, saved: str | None = None):
    """NNCF's INT8 of the ONNX file compiled for 1 CPU thread (precision hint
    `precision`, None for OpenVINO's default), as (feed -> output function,
    its kernels); None when openvino or nncf is missing. With `saved` (an
    OpenVINO IR .xml path) the quantized model is read from there when it
    exists, else quantized and saved there (float weights kept float32)."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        return None
    nncf.set_log_level(logging.ERROR)
    core = ov.Core()
    if saved is not None and os.path.exists(saved):
        q = core.read_model(saved)
    else:
        with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars
            q = nncf.quantize(core.read_model(path), nncf.Dataset(calib), subset_size=len(calib),
                              model_type=nncf.ModelType.TRANSFORMER)
        if saved is not None:
            ov.save_model(q, saved, compress_to_fp16=False)
    config = {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY"}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(q, "CPU", config)
    from realnets import openvino_engines
    return (lambda feed: compiled(feed)[0]), openvino_engines.kernels(compiled)


def centred_cosine(got: list[np.ndarray], ref: list[np.ndarray]) -> float:
    g, r = np.stack(got).astype(np.float64), np.stack(ref).astype(np.float64)
    g, r = g - r.mean(axis=0), r - r.mean(axis=0)
    return float((g * r).sum() / np.sqrt((g * g).sum() * (r * r).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", action="store_true", help="BERT-base's shape (12 layers, 768 wide)")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    add_isa_cap_and_cpu_time_args(ap)
    args = ap.parse_args()
    cap_line = isa_cap(args.isa_cap) if args.isa_cap else None  # before openvino loads
    import onnxruntime as ort

    vocab = 30522 if args.base else 8000
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "bert.onnx")
    export_bert(path, args.base, vocab)
    calib = token_batches(16, 8, args.seq, vocab, seed=1)
    evals = token_batches(8, 4, args.seq, vocab, seed=2)
    int8rt.set_num_threads(1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    engines = {"int8rt INT8": int8rt.build_engine(path, int8rt.BuilderConfig(calibrator=calib)),
               "int8rt FP32": int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32"))}
    sessions = {"ORT FP32": ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"]),
                "ORT INT8": ort.InferenceSession(ort_int8(path, calib, tmp), opts, providers=["CPUExecutionProvider"])}
    runs = {name: (lambda feed, c=e.create_execution_context(): c.run(feed)["last_hidden_state"])
            for name, e in engines.items()}
    runs.update({name: (lambda feed, s=s: s.run(None, feed)[0]) for name, s in sessions.items()})
    ov = ov_int8(path, calib, "f32" if args.isa_cap else None)
    if ov is not None:
        runs["OV INT8"], ov_kernels = ov
    ref = [runs["ORT FP32"](b) for b in evals]
    int8_layers = sum(layer["precision"] == "int8" for layer in engines["int8rt INT8"].layers())
    print(machine_line())
    print(f"BERT {'base' if args.base else 'small (4 layers, 256 wide)'}, sequence {args.seq}, random weights; "
          f"int8rt INT8 runs {int8_layers} of {len(engines['int8rt INT8'].layers())} layers in int8")
    if cap_line:
        print(cap_line)
    if ov is not None:
        print(f"OV INT8 kernels: {ov_kernels}")
    print(f"| implementation | centred cosine vs ORT FP32 | batch 1 {'CPU ' if args.cpu_time else ''}ms"
          f" | batch 8 {'CPU ' if args.cpu_time else ''}ms |")
    print("|---|---|---|---|")
    feeds = {b: token_batches(1, b, args.seq, vocab, seed=3)[0] for b in (1, 8)}
    clock = time.process_time if args.cpu_time else time.perf_counter
    times = {b: time_alternating({n: (lambda r=r, f=feeds[b]: r(f)) for n, r in runs.items()}, args.rounds,
                                 clock=clock)
             for b in (1, 8)}
    for name, run in runs.items():
        cos = centred_cosine([run(b) for b in evals], ref)
        print(f"| {name} | {cos:.4f} | {times[1][name] * 1e3:.2f} | {times[8][name] * 1e3:.2f} |", flush=True)


if __name__ == "__main__":
    main()
