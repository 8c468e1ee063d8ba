"""SmoothQuant on and off on a HuggingFace BERT (issue 12, section 2).

``transformers.BertModel`` exported by ``torch.onnx`` as transformer_bench.py
does (small config: 4 layers, 256 wide; ``--base`` for BERT-base; random
weights, or ``--outliers`` to give the LayerNorms' gains a few channels 20x
wider, as trained transformers have and random initialisation lacks).
int8rt INT8 with each calibrator and ``smoothquant`` off / on (alpha 0.5 and
the ``--alphas`` given), same calibration batches (16 x 8 padded token
sequences, seed 1), evaluated on 8 x 4 others (seed 2): centred cosine and
relative L2 of ``last_hidden_state`` against int8rt FP32, and the build time.

    PYTHONPATH=python python benchmarks/smoothquant_bench.py [--base] [--outliers] [--seq 64]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import int8rt  # noqa: E402
from transformer_bench import centred_cosine, export_bert, token_batches  # noqa: E402


def add_outliers(path: str, seed: int = 0) -> None:
    """Multiplies 4 channels of every LayerNorm gain by 20: another model
    (the weights reading them are left as they are), one with the activation
    outlier channels of trained transformers."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    inits = {i.name: i for i in model.graph.initializer}
    rng = np.random.default_rng(seed)
    for node in model.graph.node:
        if node.op_type == "LayerNormalization" and len(node.input) > 1 and node.input[1] in inits:
            g = numpy_helper.to_array(inits[node.input[1]]).copy()
            g[rng.choice(len(g), 4, replace=False)] *= 20.0
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(g.astype(np.float32), node.input[1]))
    onnx.save(model, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", action="store_true")
    ap.add_argument("--outliers", action="store_true")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--methods", default="minmax,auto")
    ap.add_argument("--alphas", default="0.5")
    args = ap.parse_args()
    vocab = 30522 if args.base else 8000
    path = os.path.join(tempfile.mkdtemp(), "bert.onnx")
    export_bert(path, args.base, vocab)
    if args.outliers:
        add_outliers(path)
    calib = token_batches(16, 8, args.seq, vocab, seed=1)
    evals = token_batches(8, 4, args.seq, vocab, seed=2)
    int8rt.set_num_threads(2)
    fp32 = int8rt.build_engine(path, int8rt.BuilderConfig(precision="fp32")).create_execution_context()
    ref = [fp32.run(b)["last_hidden_state"] for b in evals]
    print(f"BERT {'base' if args.base else 'small (4 layers, 256 wide)'}, sequence {args.seq}, random weights"
          f"{', LayerNorm gains with 20x outlier channels' if args.outliers else ''}")
    print("| calibrator | smoothquant | centred cosine | rel. L2 | build s |")
    print("|---|---|---|---|---|")
    for method in args.methods.split(","):
        for alpha in [None, *(float(a) for a in args.alphas.split(","))]:
            config = int8rt.BuilderConfig(calibrator=int8rt.make_calibrator(calib, algorithm=method),
                                          accuracy_check=False, smoothquant=alpha is not None,
                                          smoothquant_alpha=alpha or 0.5)
            t0 = time.perf_counter()
            ctx = int8rt.build_engine(path, config).create_execution_context()
            secs = time.perf_counter() - t0
            got = [ctx.run(b)["last_hidden_state"] for b in evals]
            g, r = np.concatenate([x.ravel() for x in got]), np.concatenate([x.ravel() for x in ref])
            rel = float(np.linalg.norm(g - r) / np.linalg.norm(r))
            label = "off" if alpha is None else f"on, alpha {alpha}"
            print(f"| {method} | {label} | {centred_cosine(got, ref):.6f} | {rel:.5f} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
