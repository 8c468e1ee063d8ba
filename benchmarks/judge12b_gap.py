"""acc63: auto against the best single method on MTCNN RNet / ONet / PNet and
PESTO over more calibration draws, as paired per-draw differences with a
standard error; and auto with other rules for its whole-network choice,
each an alternative to auto_choice.choose's steps 3-4 put in for the run
(the library is not changed):

- ``auto``: the library's choice, as it is.
- ``auto=<label>``: the choice forced to set ``<label>`` (minmax, mse,
  percentile 99.99, entropy): auto's engine with that set's thresholds,
  every later decision (unsigned grid, bias correction, equalization)
  auto's own. The best of them per draw is what any rule choosing among
  the sets could reach.
- ``pooled``: cross-fitting. Step 3's rule (the default, mse, unless
  another set is clearly lower: decision_rule.paired_below) judged on the
  held-out slice and the kept samples' ``crossval.FOLDS - 1`` folds
  together, each fold scored with thresholds fitted without it
  (crossval.Folds): every calibration sample judges, none with thresholds
  that saw it; ``pooled+4``: then step 4's worst-fold override as the
  library applies it.
- ``pooled-min``: the lowest relative L2 over the same pooled samples, no
  default.

judge12b_rules.py replays these rules and others on what ``--json``
records; ``python benchmarks/judge12b_gap.py --with-rule RULE SCRIPT ARGS...``
runs another benchmark script (accuracy_bench.py, issue11_gap_probe.py)
with auto's choice made by RULE.

Every engine is built from the same calibration samples of the draw and
evaluated on the same evaluation samples (calib15_mtcnn.py /
calib16_pesto.py's splits), relative L2 of the outputs to int8rt's FP32
engine (accuracy_bench.metrics_row). Calibration time: the process CPU
time of each build.

Usage: PYTHONPATH=python:tests:benchmarks python benchmarks/judge12b_gap.py --net rnet --draws 1-8 \
           --wheel /tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl [--variants auto,pooled] [--json out.json]
       ... --net pesto --draws 1-4 --wheel /tmp/calib16/dl/pesto_pitch-2.0.1-py3-none-any.whl \
           --archives /tmp/calib16/dl/pysptk-1.0.1.tar.gz /tmp/calib16/dl/amfm_decompy-1.0.12.2-py3-none-any.whl
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from typing import Any, Callable, Iterator, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SINGLES = ("minmax", "percentile", "mse", "entropy")


def _pooled_errors(choice: Any, label: str, folds: Any) -> Any:
    """Set ``label``'s errors on the held-out slice and on every other fold, as one sample list."""
    from int8rt.accuracy import auto_choice as AC

    parts = [choice.errors[label]] + list(folds.errors(label))
    return AC._Errors(np.concatenate([e.err for e in parts]), np.concatenate([e.ref for e in parts]))


def _rule_pooled(lowest: bool, guard: bool) -> Callable[[Any, Any, Any], str]:
    def rule(choice: Any, sets: Any, folds: Any) -> str:
        from int8rt.accuracy import auto_choice as AC

        if folds is None:  # no folds (a state network, too few samples): as before
            return choice.label
        pooled = {k: _pooled_errors(choice, k, folds) for k in sets}
        if lowest:
            return min(pooled, key=lambda k: pooled[k].relative_l2)
        start = AC.DEFAULT_METHOD if AC.DEFAULT_METHOD in sets else choice.label
        challengers = [k for k in sets if pooled[k].clearly_below(pooled[start])]
        start = min(challengers, key=lambda k: pooled[k].relative_l2) if challengers else start
        if guard:  # step 4's worst-fold override, as auto_choice.choose applies it
            worst = {k: AC.worst_fold(choice.errors[k], folds.errors(k)) for k in sets}
            beyond = {k: max(e.relative_l2 for e in folds.errors(k)) for k in sets}
            best = min(worst, key=worst.__getitem__)
            if worst[best] < (1 - AC.FOLD_GAIN) * worst[start] and beyond[best] < (1 - AC.FOLD_GAIN) * beyond[start]:
                start = best
        return start
    return rule


def _rule_forced(label: str) -> Callable[[Any, Any, Any], str]:
    return lambda choice, sets, folds: label if label in sets else choice.label


@contextlib.contextmanager
def choice_rule(variant: str, picked: list[str], record: Optional[list[dict]] = None) -> Iterator[None]:
    """auto_choice.choose with ``variant``'s rule (module docstring) for the
    duration; each choice's label is appended to ``picked``. With
    ``record``, each choice appends every set's per-sample errors on the
    held-out slice and on each other fold (label -> list of (err, ref),
    the held-out slice first), for the rules judge12b_rules.py replays."""
    from int8rt.accuracy import auto_choice as AC

    rule: Optional[Callable[[Any, Any, Any], str]] = None
    if variant.startswith("auto="):
        rule = _rule_forced(variant.split("=", 1)[1])
    elif variant in ("pooled", "pooled+4", "pooled-min"):
        rule = _rule_pooled(variant == "pooled-min", variant == "pooled+4")
    elif variant != "auto":
        raise SystemExit(f"unknown variant {variant}")
    original = AC.choose

    def choose(build: Any, sets: Any, int8_names: Any, judge: Any, engines: Any = None, folds: Any = None) -> Any:
        c = original(build, sets, int8_names, judge, engines=engines, folds=folds)
        if record is not None and folds is not None:
            record.append({k: [(e.err.tolist(), e.ref.tolist()) for e in [c.errors[k]] + list(folds.errors(k))]
                           for k in sets})
        label = c.label if rule is None else rule(c, sets, folds)
        # step 3's pick on the held-out slice, where step 4's folds overrode it
        step3 = f"{c.held_label}->" if c.held_label and c.held_label != c.label else ""
        if label != c.label:
            if label not in c.engines:
                c.engines[label] = build({n: AC.scale_from_amax(a) for n, a in sets[label][0].items()})
            if label not in c.errors:
                c.errors[label] = judge(c.engines[label])
            c = dataclasses.replace(c, label=label, amaxes=dict(sets[label][0]), methods=dict(sets[label][1]),
                                    held_label=label)
        picked.append(step3 + label)
        return c

    AC.choose = choose
    try:
        yield
    finally:
        AC.choose = original


def _draws(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(d) for d in text.split(",")]


def task_for(net: str, draw: int, args: argparse.Namespace) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(model, calibration inputs, evaluation inputs) of ``net`` at ``draw``:
    MTCNN's stages and PESTO as calib15_mtcnn.py / calib16_pesto.py split
    them; PP-OCR's text-direction classifier ("cls") as accuracy_bench.py
    makes it (256 calibration lines, 1000 evaluation lines of seed 2), the
    calibration lines of seed ``10 + draw`` (accuracy_bench's are seed 1)."""
    if net == "cls":
        from realnets.ocr_models import cls_task, models_dir, static_input_model
        from realnets.text_images import text_lines

        task = cls_task(models_dir())
        onnx = static_input_model(task.onnx_file, task.chw).SerializeToString()
        xc, _ = task.make_inputs(text_lines(256, seed=10 + draw), 101)
        xe, _ = task.make_inputs(text_lines(1000, seed=2), 102)
        return onnx, xc, xe
    if net == "pesto":
        import calib16_pesto as P

        if not hasattr(task_for, "_pesto"):
            model, encoder, _ = P.load(args.wheel)
            task_for._pesto = (P.onnx_model(encoder), P.frames(model, tuple(args.archives)))  # type: ignore[attr-defined]
        onnx, x = task_for._pesto  # type: ignore[attr-defined]
        calib, evaluation = P.split(len(x), draw)
        return onnx, x[calib], x[evaluation]
    import calib15_mtcnn as M

    if not hasattr(task_for, net):
        x, labels = M.lfw_subset()
        setattr(task_for, net, (M.mtcnn_model(args.wheel, net), M.stage_inputs(x, M.SIZES[net]), labels))
    onnx, xs, labels = getattr(task_for, net)
    calib, evaluation = M.split(labels, draw)
    return onnx, xs[calib], xs[evaluation]


def paired(a: list[float], b: list[float]) -> tuple[float, float, int]:
    """Mean of a - b, its standard error, and how many draws have a < b."""
    d = np.asarray(a) - np.asarray(b)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se, int(np.sum(d < 0))


def with_rule(argv: list[str]) -> int:
    """``--with-rule RULE SCRIPT ARGS...``: SCRIPT run as ``__main__`` with
    auto's choice made by RULE (a variant of :func:`choice_rule`); the sets
    it chose are printed at the end."""
    import runpy

    rule, script, rest = argv[0], argv[1], argv[2:]
    picked: list[str] = []
    sys.argv = [script, *rest]
    code = 0
    with choice_rule(rule, picked):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as e:
            code = int(e.code or 0)
    print(f"judge12b rule {rule}: auto chose {picked}", flush=True)
    return code


def main() -> int:
    if sys.argv[1:2] == ["--with-rule"]:
        return with_rule(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", required=True, choices=("pnet", "rnet", "onet", "pesto", "cls"))
    ap.add_argument("--wheel", default="", help="the network's wheel (MTCNN, PESTO)")
    ap.add_argument("--archives", nargs="*", default=[])
    ap.add_argument("--draws", default="1-4")
    ap.add_argument("--singles", default=",".join(SINGLES))
    ap.add_argument("--variants", default="auto")
    ap.add_argument("--json")
    args = ap.parse_args()

    import int8rt
    import accuracy_bench as AB
    from int8rt.accuracy import metrics as Mx

    int8rt.set_num_threads(2)
    singles = [s for s in args.singles.split(",") if s]
    variants = [v for v in args.variants.split(",") if v]
    rows: dict[str, dict[int, float]] = {k: {} for k in singles + variants}
    cpu: dict[str, dict[int, float]] = {k: {} for k in rows}
    picks: dict[str, dict[int, str]] = {k: {} for k in variants}
    records: dict[int, list[dict]] = {}
    for draw in _draws(args.draws):
        model, xc, xe = task_for(args.net, draw, args)
        fp32, _ = AB.E.int8rt_engine(model, "fp32", None, None)
        ref = AB.E.run_batched(AB.E.int8rt_runner(fp32), xe)
        for label in singles + variants:
            picked: list[str] = []
            record = records.setdefault(draw, []) if label == "auto" else None
            with choice_rule(label, picked, record) if label in variants else contextlib.nullcontext():
                engine, _, secs = AB.int8rt_build(model, xc, "auto" if label in variants else label, check=False)
            out = AB.E.run_batched(AB.E.int8rt_runner(engine), xe)
            rows[label][draw], cpu[label][draw] = Mx.relative_l2(ref, out), secs
            if label in variants:
                picks[label][draw] = ",".join(picked)
            print(f"{args.net} draw {draw} {label}: rel_l2 {rows[label][draw]:.4f} cpu {secs:.1f} s"
                  + (f" chose {picks[label][draw]}" if label in variants else ""), file=sys.stderr, flush=True)
    draws = _draws(args.draws)
    print(f"| {args.net} | " + " | ".join(f"draw {d}" for d in draws) + " | mean | build CPU s (mean) |")
    print("|---|" + "---|" * (len(draws) + 2))
    for label in rows:
        vals = [rows[label][d] for d in draws]
        chose = f" ({', '.join(picks[label][d] for d in draws)})" if label in picks else ""
        print(f"| {label}{chose} | " + " | ".join(f"{v:.4f}" for v in vals)
              + f" | {np.mean(vals):.4f} | {np.mean([cpu[label][d] for d in draws]):.1f} |")
    if singles:
        best = min(singles, key=lambda k: np.mean([rows[k][d] for d in draws]))
        for label in variants:
            for other in [best] + (["auto"] if "auto" in variants and label != "auto" else []):
                m, se, n = paired([rows[label][d] for d in draws], [rows[other][d] for d in draws])
                print(f"{args.net}: {label} - {other}: {m:+.4f} +- {se:.4f} (SE), {label} lower on {n} of {len(draws)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"net": args.net, "draws": draws, "rel_l2": rows, "cpu_s": cpu, "picks": picks,
                       "judged": records}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
