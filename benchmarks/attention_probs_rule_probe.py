"""ONNX Runtime's rule for a Softmax output ([0, 1], whatever the data) tried on
int8rt's INT8 attention (RESULTS.md §135; the finding: §133.2): the network
is calibrated at its export size with ``--algorithm`` (the cache written to a
scratch file), then built twice from caches: as calibrated, and with every
Softmax output's threshold set to 1 (scale 1/127 in the cache: the
probabilities' grid is then [0, 1] in 255 steps on the unsigned grid, as ONNX
Runtime's uint8 Softmax output, or 127 on the symmetric one). Both are
evaluated at each of ``--sizes`` against ONNX Runtime FP32 at that size
(newnets_bench.py's metrics: centred cosine / top-1 on varying inputs).

Usage (from /tmp):
    PYTHONPATH=<repo>/python python3 <repo>/benchmarks/attention_probs_rule_probe.py dinov2 --dir D
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402
from realnets import new_models as M, seg_models  # noqa: E402


def softmax_outputs(path: str) -> set:
    import onnx

    return {n.output[0] for n in onnx.load(path, load_external_data=False).graph.node if n.op_type == "Softmax"}


def with_unit_threshold(cache: str, names: set) -> str:
    """The cache text with each of `names` at scale 1/127 (TensorRT's format:
    the float32 scale's bits, big-endian hex)."""
    unit = struct.pack(">f", 1.0 / 127.0).hex()
    lines = []
    for line in open(cache).read().splitlines():
        name = line.rsplit(": ", 1)[0]
        lines.append(f"{name}: {unit}" if name in names else line)
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithm", default="minmax")
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[224, 168, 134, 112])
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=32)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    path = str(path)
    calib = net.feeds(args.calib, 2)
    fp32 = M.ort_session(path)
    scratch = tempfile.mkdtemp(prefix="probs_rule_")
    cache = os.path.join(scratch, "calibrated.cache")
    unit_cache = os.path.join(scratch, "unit.cache")

    def engine(cache_file: str):
        cfg = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        cfg.calibrator = make_calibrator(calib, algorithm=args.algorithm, batch_size=8, cache_file=cache_file)
        ctx = int8rt.build_engine(path, cfg).create_execution_context()
        return lambda f: ctx.run(f)["out"]

    calibrated = engine(cache)
    names = softmax_outputs(path)
    with open(unit_cache, "w") as f:
        f.write(with_unit_threshold(cache, names))
    unit = engine(unit_cache)
    print(f"{len(names)} Softmax outputs set to threshold 1", flush=True)
    for size in args.sizes:
        ev = {"x": seg_models.images(args.eval, (size, size), 1)}
        ref = B.run_all(lambda f: fp32.run(None, f)[0], ev, 4)
        print(f"size {size}: calibrated {B.metrics(net, B.run_all(calibrated, ev, 4), ref)} "
              f"threshold 1 {B.metrics(net, B.run_all(unit, ev, 4), ref)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
