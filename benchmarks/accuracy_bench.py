"""INT8 accuracy of every calibration method on real networks: int8rt
(entropy2, entropy, minmax, percentile, mse, auto) vs ONNX Runtime's
quantize_static (MinMax, Entropy, Percentile) vs NNCF's default
post-training INT8 evaluated in OpenVINO, same calibration and evaluation
data, metrics a constant output cannot pass.

Networks (nothing downloaded at run time):
  digits  the bundled digits CNN (python/int8rt/data), real labels
  collapse  tests/accuracy_models.py: raw digit pixels, a spiky first ReLU (not a real network)
  cls     PP-OCR text-direction classifier      (rapidocr-onnxruntime wheel)
  rec     PP-OCRv4 text recogniser, CTC          (rapidocr-onnxruntime wheel)
  det     PP-OCRv4 text detector, DB probability map (rapidocr-onnxruntime wheel)
The OCR data are text lines rendered from matplotlib's fonts
(benchmarks/realnets/text_images.py): calibration seed 1, evaluation seed 2.

Metrics against int8rt's FP32 engine (equal to ONNX Runtime FP32 to 1e-4):
centred cosine of the outputs (each side minus its mean over the evaluation
inputs: a constant output scores 0), relative L2, top-1 agreement beside the
share a constant output would get (classifiers), same decoded text (rec),
IoU of the text masks p > 0.3 (det); and the task's own metric against the
labels where there are labels. "calib s" is the whole build: calibration,
threshold search and lowering for int8rt; quantize_static (with
quant_pre_process) for ONNX Runtime; wall clock. "CPU s" is the same
build's process CPU time (every thread; int8rt rows), which other
processes' load inflates far less.

int8rt engines are built with accuracy_check=False, so every method sees all
calibration samples, as ONNX Runtime does; auto decides bias correction and
cross-layer equalization itself (BuilderConfig's default None), the other
methods go without; "+ bias corr." rows add BuilderConfig(bias_correction=True),
"no bias corr., no CLE" (group nocorr) turns both off for auto; the "warnings" table builds again with
the default check (every 4th sample held out) and counts what it flags.

NNCF rows (group nncf; skipped with the reason when openvino or nncf is
missing): nncf.quantize with its defaults (preset PERFORMANCE, fast bias
correction; and with bias correction off) on all calibration samples (realnets/openvino_engines.py),
evaluated by OpenVINO's CPU plugin twice: with INFERENCE_PRECISION_HINT f32
(the quantization's own error) and with OpenVINO's default hint (bf16 for
the layers NNCF leaves in float, on a CPU with AVX512-BF16).

Usage: PYTHONPATH=python python3 benchmarks/accuracy_bench.py [--models digits,cls,rec,det]
       [--ort-hist digits,cls] [--groups int8rt,bc,checked,ort,nncf] [--json out.json]
Needs: pip install onnx onnxruntime pillow matplotlib; pip install --no-deps rapidocr-onnxruntime==1.4.4;
       NNCF rows: pip install int8rt[peers] (openvino, nncf)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realnets import engines as E  # noqa: E402
from realnets import openvino_engines as O  # noqa: E402

METHODS = ("entropy2", "entropy", "minmax", "percentile", "mse", "auto")
CHECKED = ("entropy2", "minmax", "auto")
BIAS_CORRECTED = ("minmax", "mse", "auto")


def digits_task():
    from int8rt.quickstart import DATA_PATH, MODEL_PATH

    d = np.load(DATA_PATH)
    return dict(name="digits_cnn (bundled)", model=MODEL_PATH.read_bytes(), calib=d["calib"], eval=d["test_x"],
                labels=d["test_y"], kind="classes")


def collapse_task():
    """tests/accuracy_models.py: the CNN on which TensorRT's entropy collapses."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    from accuracy_models import entropy_collapse_case

    case = entropy_collapse_case()
    return dict(name="entropy collapse CNN (tests/accuracy_models.py)", model=case.model, calib=case.calib,
                eval=case.eval_x, labels=case.eval_y, kind="classes")


def ocr_task(key: str, calib_n: int, eval_n: int):
    from realnets.ocr_models import cls_task, models_dir, rec_task, static_input_model
    from realnets.text_images import text_lines

    folder = models_dir()
    if folder is None:
        return None
    if key == "det":
        return det_task(folder, calib_n, eval_n)
    task = {"cls": cls_task, "rec": rec_task}[key](folder)
    xc, _ = task.make_inputs(text_lines(calib_n, seed=1), 101)
    xe, labels = task.make_inputs(text_lines(eval_n, seed=2), 102)
    return dict(name=task.name, model=static_input_model(task.onnx_file, task.chw).SerializeToString(),
                calib=xc, eval=xe, labels=labels, kind="classes" if key == "cls" else "ctc", task=task)


def det_pages(n: int, seed: int, size: tuple[int, int] = (160, 320)) -> np.ndarray:
    """``n`` pages of ``size`` (H, W), white, with rendered text lines 40 px
    high every 50 px from the top (three on a 160x320 page), normalised as
    rapidocr's detector does: (x/255 - ImageNet mean) / std, BGR, [n, 3, H, W]."""
    from PIL import Image

    from realnets.text_images import text_lines

    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    height, width = size
    per_page = max(1, (height - 10) // 50)
    lines = text_lines(per_page * n, seed=seed)
    out = []
    for i in range(n):
        page = np.full((height, width, 3), 255, np.uint8)
        y = 8
        for line in lines[per_page * i:per_page * (i + 1)]:
            img = line.image
            h = 40
            w = min(width - 16, int(img.shape[1] * h / img.shape[0]))
            page[y:y + h, 8:8 + w] = np.asarray(Image.fromarray(img).resize((w, h)))
            y += 50
        a = page[:, :, ::-1].astype(np.float32).transpose(2, 0, 1) / 255.0
        out.append((a - mean) / std)
    return np.stack(out).astype(np.float32)


def det_task(folder: str, calib_n: int, eval_n: int):
    """det_pages of 160x320 for the detector fixed to that size."""
    from realnets.ocr_models import static_input_model

    path = os.path.join(folder, "ch_PP-OCRv4_det_infer.onnx")
    return dict(name="ppocrv4_det_mobile", model=static_input_model(path, (3, 160, 320)).SerializeToString(),
                calib=det_pages(calib_n, 1), eval=det_pages(eval_n, 2), labels=None, kind="map")


def metrics_row(task, out: np.ndarray, ref: np.ndarray) -> dict:
    from int8rt.accuracy import metrics as M

    row = {"centred_cos": M.centred_cosine(ref, out), "rel_l2": M.relative_l2(ref, out)}
    if task["kind"] == "classes":
        row["agree"] = M.top1_agreement(ref, out)
        row["const"] = M.constant_baseline(ref)
        row["top1"] = float(np.mean(out.argmax(1) == np.asarray(task["labels"])))
    elif task["kind"] == "ctc":
        row.update(task["task"].score(out, task["labels"]))
        row["agree"] = task["task"].agree(out, ref)["agree"]
    else:
        a, b = out > 0.3, ref > 0.3
        row["mask_iou"] = float(np.sum(a & b) / max(1, np.sum(a | b)))
    return row


def int8rt_build(model: bytes, calib: np.ndarray, algorithm: str, check: bool, batch: int = 16,
                 bias_correction=None, equalize=None, smoothquant=None):
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    name = E._input_name(model)
    config = int8rt.BuilderConfig(calibrator=make_calibrator({name: calib}, algorithm=algorithm, batch_size=batch),
                                  accuracy_check=check, bias_correction=bias_correction, equalize=equalize,
                                  smoothquant=smoothquant)
    t0, c0 = time.perf_counter(), time.process_time()
    engine = int8rt.build_engine(model, config)
    return engine, time.perf_counter() - t0, time.process_time() - c0


def evaluate(task, ort_methods: tuple[str, ...], groups: set[str], log, methods: tuple[str, ...] = METHODS) -> dict:
    import int8rt

    int8rt.set_num_threads(2)
    model, xc, xe = task["model"], task["calib"], task["eval"]
    fp32, _ = E.int8rt_engine(model, "fp32", None, None)
    ref = E.run_batched(E.int8rt_runner(fp32), xe)
    rows, warnings = {}, {}
    if task["labels"] is not None and task["kind"] != "map":
        rows["FP32 (int8rt)"] = {**metrics_row(task, ref, ref), "calib_s": 0.0}
    # (method, bias correction, equalize, smoothquant); None: the builder's default (on for auto only)
    builds = [(alg, None, None, None) for alg in methods if "int8rt" in groups]
    builds += [(alg, False, False, None) for alg in methods if "nocorr" in groups and alg == "auto"]
    builds += [(alg, True, None, None) for alg in BIAS_CORRECTED if "bc" in groups and alg in methods]
    builds += [(alg, False, True, None) for alg in methods if "eq" in groups and alg != "auto"]
    builds += [(alg, False, None, True) for alg in methods if "sq" in groups and alg != "auto"]
    builds += [(alg, False, False, None) for alg in methods if "noeq" in groups and alg == "auto"]
    builds += [(alg, False, None, False) for alg in methods if "nosq" in groups and alg == "auto"]
    builds += [(alg, False, False, False) for alg in methods if "plain" in groups and alg == "auto"]
    for alg, bc, eq, sq in builds:
        label = (f"int8rt {alg}" + {None: "", True: " + bias corr.", False: ", no bias corr."}[bc]
                 + {None: "", True: " + CLE", False: ", no CLE"}[eq]
                 + {None: "", True: " + SmoothQuant", False: ", no SmoothQuant"}[sq])
        engine, secs, cpu = int8rt_build(model, xc, alg, check=False, bias_correction=bc, equalize=eq, smoothquant=sq)
        rows[label] = {**metrics_row(task, E.run_batched(E.int8rt_runner(engine), xe), ref), "calib_s": secs,
                       "cpu_s": cpu}
        log(f"  {label}: {rows[label]}")
        if getattr(engine.build_report(), "auto_choice", None):
            log(f"    auto's decisions: {engine.build_report().auto_choice}")
    for alg in [a for a in CHECKED if a in methods] if "checked" in groups else ():
        engine, secs, _ = int8rt_build(model, xc, alg, check=True)
        r = engine.build_report()
        flagged = [t.name for t in r.tensors if t.warning]
        warnings[alg] = {"tensor_warnings": len(flagged), "output_warning": any(w.startswith("output") for w in r.warnings),
                         "examples": flagged[:3], "check_s": r.seconds.get("check", 0.0),
                         "centred_cos_on_check": r.outputs[0].centred_cosine if r.outputs else None}
        log(f"  checked {alg}: {warnings[alg]}")
    for method in ort_methods if "ort" in groups else ():
        try:
            qmodel, secs = E.ort_quantize(model, xc, method)
        except Exception as e:  # noqa: BLE001 - recorded in the results, the other engines still run
            rows[f"ORT {method}"] = {"error": f"{type(e).__name__}: {e}"[:200]}
            continue
        out = E.run_batched(E.ort_runner(E.ort_session(qmodel, 2)), xe)
        rows[f"ORT {method}"] = {**metrics_row(task, out, ref), "calib_s": secs}
        log(f"  ORT {method}: {rows[f'ORT {method}']}")
    if "nncf" in groups:
        rows.update(nncf_rows(task, model, xc, xe, ref, log))
    return {"task": task["name"], "calib": len(xc), "eval": len(xe), "rows": rows, "warnings": warnings}


def nncf_rows(task, model: bytes, xc: np.ndarray, xe: np.ndarray, ref: np.ndarray, log) -> dict:
    """NNCF's default INT8, evaluated in OpenVINO with the f32 and the default precision hint."""
    reason = O.available()
    if reason is not None:
        return {"NNCF default": {"error": reason}}
    try:
        qmodel, secs = O.nncf_int8(model, xc)
    except Exception as e:  # noqa: BLE001 - recorded in the results, the other engines still run
        return {"NNCF default": {"error": f"{type(e).__name__}: {e}"[:200]}}
    rows = {}
    for label, hint in (("NNCF default, OpenVINO f32", "f32"), ("NNCF default, OpenVINO default hint", None)):
        compiled = O.compile_model(qmodel, 2, hint)
        out = E.run_batched(O.runner(compiled), xe)
        label += f" ({compiled.get_property('INFERENCE_PRECISION_HINT').to_string()})" if hint is None else ""
        rows[label] = {**metrics_row(task, out, ref), "calib_s": secs}
        log(f"  {label}: {rows[label]}")
    try:
        qmodel, secs = O.nncf_int8(model, xc, bias_correction=False)
        out = E.run_batched(O.runner(O.compile_model(qmodel, 2, "f32")), xe)
        rows["NNCF, bias correction off, OpenVINO f32"] = {**metrics_row(task, out, ref), "calib_s": secs}
    except Exception as e:  # noqa: BLE001 - recorded in the results, the other engines still run
        rows["NNCF, bias correction off, OpenVINO f32"] = {"error": f"{type(e).__name__}: {e}"[:200]}
    return rows


def print_report(result: dict) -> None:
    rows = result["rows"]
    cols = []
    for row in rows.values():
        cols += [k for k in row if k not in cols and k not in ("calib_s", "cpu_s", "error")]
    print(f"\n### {result['task']} (calibration {result['calib']}, evaluation {result['eval']} samples)\n")
    print("| engine | " + " | ".join(cols) + " | calib s | CPU s |")
    print("|---" * (len(cols) + 3) + "|")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error']} |")
            continue
        cells = [f"{row[c]:.4f}" if isinstance(row.get(c), float) else "-" for c in cols]
        cpu = f"{row['cpu_s']:.1f}" if "cpu_s" in row else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {row['calib_s']:.1f} | {cpu} |")
    if not result["warnings"]:
        sys.stdout.flush()
        return
    print("\naccuracy check (default build, every 4th calibration sample held out):\n")
    print("| method | tensors warned | output warned | e.g. | check s |")
    print("|---|---|---|---|---|")
    for alg, w in result["warnings"].items():
        print(f"| {alg} | {w['tensor_warnings']} | {'yes' if w['output_warning'] else 'no'} | "
              f"{', '.join(w['examples']) or '-'} | {w['check_s']:.1f} |")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="digits,cls,rec,det")
    ap.add_argument("--ort-hist", default="digits,cls",
                    help="networks on which ORT's Entropy and Percentile also run (they keep every activation "
                         "of every batch in memory: 13 GiB on rec, see RESULTS_realnets.md)")
    ap.add_argument("--sizes", default="cls:256:1000,rec:64:300,det:32:64", help="key:calib:eval per OCR net")
    ap.add_argument("--groups", default="int8rt,bc,checked,ort,nncf",
                    help="what to run: int8rt (each method; auto decides bias correction and CLE), bc (bias "
                         "correction on), nocorr (auto with bias correction and CLE off), eq / sq (the "
                         "methods but auto with CLE / SmoothQuant on), noeq / nosq / plain (auto with CLE / "
                         "SmoothQuant / both off; SmoothQuant is off by default), checked (the default "
                         "check's warnings), ort (ONNX Runtime quantize_static), nncf (NNCF INT8 in OpenVINO)")
    ap.add_argument("--methods", default=",".join(METHODS), help="int8rt calibrators to run")
    ap.add_argument("--json")
    args = ap.parse_args()
    sizes = {k: (int(c), int(e)) for k, c, e in (s.split(":") for s in args.sizes.split(","))}
    hist = set(args.ort_hist.split(","))
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    results = []
    for key in args.models.split(","):
        task = (digits_task() if key == "digits" else collapse_task() if key == "collapse"
                else ocr_task(key, *sizes[key]))
        if task is None:
            print(f"skipping {key}: rapidocr-onnxruntime is not installed")
            continue
        log(f"{task['name']}: calibration {len(task['calib'])}, evaluation {len(task['eval'])}")
        ort = ("minmax", "entropy", "percentile") if key in hist else ("minmax",)
        result = evaluate(task, ort, set(args.groups.split(",")), log, tuple(args.methods.split(",")))
        print_report(result)
        results.append(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
