"""compat27: engine files under the version rule (csrc/engine/format_features.h),
read by this int8rt and by an int8rt from before the rule (main's build), and
the save / load times of both.

Writes, with this worktree's int8rt: the bundled digits CNN (FP32, INT8),
ResNet-18 (benchmarks/e2e_models.py, random weights; FP32, INT8 with MinMax
over 8 random images), a QAttention with a talking-heads mix and one with
probabilities on the unsigned grid (probs_zero_point). Prints each file's
stamp, then loads every file in a child process per reader (this int8rt,
the old one) and says whether it loaded with the writer's output bytes or
how it was refused (plus the INT8 ResNet-18 file stamped 3, as the writer
before the rule wrote it). Then times Engine.serialize and Engine.load of
the ResNet-18 FP32 file and that INT8 one (process CPU time per call, medians), old and new child
processes alternated.

    cd /work/wt/compat27 && PYTHONPATH=python python benchmarks/compat27_old_reader.py \\
        --old-python /work/main/python --dir /tmp/compat27/models
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
H = 4


def write_engines(out: Path) -> dict:
    import int8rt
    from int8rt import _core
    from int8rt.quickstart import DATA_PATH, MODEL_PATH
    sys.path.insert(0, str(HERE))
    import torch
    from e2e_models import make_model

    rng = np.random.default_rng(0)
    digits = np.load(DATA_PATH)
    resnet = out / "resnet18.onnx"
    torch.onnx.export(make_model("resnet18"), torch.zeros(1, 3, 224, 224), str(resnet), dynamo=False,
                      input_names=["input"], output_names=["logits"], opset_version=17)
    cal = int8rt.make_calibrator({"input": np.ascontiguousarray(digits["calib"][:128])}, algorithm="minmax",
                                 batch_size=32)
    rcal = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(8)]
    rcal_calibrator = int8rt.make_calibrator({"input": np.concatenate(rcal)}, algorithm="minmax", batch_size=1)
    engines = {
        "digits_fp32": (int8rt.build_engine(MODEL_PATH.read_bytes(), int8rt.BuilderConfig(precision="fp32")),
                        {"input": np.ascontiguousarray(digits["test_x"][:8])}),
        "digits_int8": (int8rt.build_engine(MODEL_PATH.read_bytes(), int8rt.BuilderConfig(
            calibrator=cal, accuracy_check=False)), {"input": np.ascontiguousarray(digits["test_x"][:8])}),
        "resnet18_fp32": (int8rt.build_engine(resnet.read_bytes(), int8rt.BuilderConfig(precision="fp32")),
                          {"input": rcal[0]}),
        "resnet18_int8": (int8rt.build_engine(resnet.read_bytes(), int8rt.BuilderConfig(
            calibrator=rcal_calibrator, accuracy_check=False)), {"input": rcal[0]}),
    }
    base = {"q_scale": 0.02, "k_scale": 0.03, "v_scale": 0.05, "k_transposed": 1, "probs_scale": 1 / 127,
            "out_scale": 0.01}
    w = (np.eye(H) + 0.3 * rng.standard_normal((H, H))).astype(np.float32)
    mix = [float(x) for x in w.ravel()]
    qkv = {c: rng.integers(-128, 128, (1, H, 5, 8), dtype=np.int8) for c in "qkv"}
    for name, attrs in (("attention_head_mix", {"probs_head_mix": mix}),
                        ("attention_probs_zero_point", {"probs_zero_point": -128, "probs_scale": 1 / 255})):
        net = _core.Network()
        ins = [net.add_input(c, [1, H, 5, 8], "int8") for c in "qkv"]
        q_y = net.add_node("int8rt.QAttention", "attention", ins, dict(base, **attrs), ["q_y"])[0]
        y = net.add_node("int8rt.Dequantize", "as_float", [q_y], {"scale": 0.01, "logical": 1}, ["y"])[0]
        for t in (q_y, y):
            net.set_shape(t, [1, H, 5, 8])
        net.mark_output(y)
        engines[name] = (int8rt.Engine(_core.Engine.create(net, {"precision": "int8"})), qkv)
    files = {}
    for name, (engine, feeds) in engines.items():
        path = out / f"{name}.i8rt"
        engine.save(path)
        outs = engine.create_execution_context().run(feeds)
        np.savez(out / f"{name}_io.npz", **{f"in_{k}": v for k, v in feeds.items()},
                 **{f"out_{k}": v for k, v in outs.items()})
        files[name] = struct.unpack("<I", path.read_bytes()[8:12])[0]
    # ResNet-18 INT8 as the writer before the rule stamped it (3; its QConv out_scales are a legacy entry),
    # so that both readers load it: the INT8 file of the timings.
    data = (out / "resnet18_int8.i8rt").read_bytes()
    (out / "resnet18_int8_as3.i8rt").write_bytes(data[:8] + struct.pack("<I", 3) + data[12:])
    (out / "resnet18_int8_as3_io.npz").write_bytes((out / "resnet18_int8_io.npz").read_bytes())
    files["resnet18_int8_as3"] = 3
    return files


def child_read(out: Path, names: list) -> None:
    """Loads each file with the int8rt on this process's path; prints one JSON line per file."""
    import int8rt
    for name in names:
        io = np.load(out / f"{name}_io.npz")
        feeds = {k[3:]: io[k] for k in io.files if k.startswith("in_")}
        try:
            engine = int8rt.Engine.load(out / f"{name}.i8rt")
            got = engine.create_execution_context().run(feeds)
            same = all(got[k[4:]].tobytes() == io[k].tobytes() for k in io.files if k.startswith("out_"))
            print(json.dumps({"name": name, "result": "loaded, same output bytes" if same else "loaded, OUTPUT DIFFERS"}))
        except Exception as e:  # the refusal is the result
            print(json.dumps({"name": name, "result": f"refused: {type(e).__name__}: {e}"}))


def child_time(out: Path, names: list, repeats: int) -> None:
    """Median process CPU seconds of Engine.load and Engine.serialize per file."""
    import int8rt
    int8rt.set_num_threads(1)
    res = {}
    for name in names:
        path = out / f"{name}.i8rt"
        loads, saves = [], []
        for _ in range(repeats):
            t = time.process_time()
            engine = int8rt.Engine.load(path)
            loads.append(time.process_time() - t)
            t = time.process_time()
            engine.serialize()
            saves.append(time.process_time() - t)
        res[name] = (statistics.median(loads), statistics.median(saves))
    print(json.dumps(res))


def run_child(python_path: str, args: list) -> list:
    env = dict(os.environ, PYTHONPATH=python_path, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith(("{", "["))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-python", default="/work/main/python", help="PYTHONPATH of the int8rt before the rule")
    ap.add_argument("--dir", default="/tmp/compat27/models")
    ap.add_argument("--rounds", type=int, default=5, help="alternated old / new timing processes")
    ap.add_argument("--repeats", type=int, default=5, help="loads and saves per file in each process")
    ap.add_argument("--child", choices=["read", "time"], help=argparse.SUPPRESS)
    ap.add_argument("--names", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = Path(a.dir)
    if a.child == "read":
        return child_read(out, a.names.split(","))
    if a.child == "time":
        return child_time(out, a.names.split(","), a.repeats)
    print("$ PYTHONPATH=python python benchmarks/compat27_old_reader.py " + " ".join(sys.argv[1:]))
    print("date:", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), " load average:", os.getloadavg())
    new_python = str(HERE.parent / "python")
    out.mkdir(parents=True, exist_ok=True)
    stamps = write_engines(out)
    names = list(stamps)
    readers = {"new (this branch)": new_python, f"old ({a.old_python})": a.old_python}
    results = {label: {r["name"]: r["result"] for r in run_child(p, ["--child", "read", "--dir", a.dir,
                                                                         "--names", ",".join(names)])}
               for label, p in readers.items()}
    print("\n| file | stamp | " + " | ".join(readers) + " |\n|---|---|" + "---|" * len(readers))
    for n in names:
        print(f"| {n} | {stamps[n]} | " + " | ".join(results[label][n] for label in readers) + " |")
    timed = ["resnet18_fp32", "resnet18_int8_as3"]
    samples = {label: [] for label in readers}
    for _ in range(a.rounds):
        for label, p in readers.items():
            samples[label] += run_child(p, ["--child", "time", "--dir", a.dir, "--names", ",".join(timed),
                                            "--repeats", str(a.repeats)])
    print(f"\nprocess CPU ms per call, median over {a.rounds} alternated processes x {a.repeats} calls "
          "(1 thread); ratio new / old")
    print("| file | load new | load old | ratio | serialize new | serialize old | ratio |\n|---|---|---|---|---|---|---|")
    new_label, old_label = list(readers)
    for n in timed:
        med = {label: [statistics.median(s[n][i] for s in samples[label]) * 1e3 for i in (0, 1)] for label in readers}
        ln, sn = med[new_label]
        lo, so = med[old_label]
        print(f"| {n} | {ln:.2f} | {lo:.2f} | {ln / lo:.3f} | {sn:.2f} | {so:.2f} | {sn / so:.3f} |")
    print("\nload average at the end:", os.getloadavg())


if __name__ == "__main__":
    main()
