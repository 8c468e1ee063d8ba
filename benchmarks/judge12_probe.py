"""acc57: why auto's held-out judge picks minmax / mse on MTCNN's ONet
(and PESTO) while percentile is closer to float32 on the evaluation data.

For one calibration draw, auto is built as benchmarks/accuracy_bench.py
builds it (batch 16, its defaults); auto_choice.judge_for / choose are
wrapped to keep the judge and each whole-network set's engine (thresholds
from the fit samples only, no bias correction: what step 3 compares).
Each of those engines is then scored side by side:

- on the held-out samples, as the judge reads them (centred with the gain
  fit, and uncentred: ``_Errors.plain``), with the largest share one sample
  carries of the set's squared error;
- on the evaluation samples by the same Scorer (centred, uncentred);
- on the evaluation samples by the benchmark's metric (plain relative L2 of
  the outputs, metrics.relative_l2);
- the same engine judged on every evaluation subset of the held-out size
  (random, ``--subsets``): how often each set would be the lowest, and how
  often the default would be clearly beaten, on held-out sets drawn from
  the evaluation data (the judge's sampling noise);
- each set's folds (crossval.py), the sample that carries its worst fold
  (its index in the calibration draw), each set's worst interleaved group
  of the evaluation samples (the folds' minimax criterion read on them),
  and ``--challenger`` against the default sample by sample on the
  evaluation data (the paired tests on all of it and on random subsets).

Usage: PYTHONPATH=python:benchmarks python benchmarks/judge12_probe.py --net onet --draw 2
       PYTHONPATH=python:benchmarks python benchmarks/judge12_probe.py --net pesto --draw 1 --wheel /tmp/calib16/dl/pesto_pitch-2.0.1-py3-none-any.whl
       [--wheel /tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl] [--subsets 400]
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def probe(model: bytes, xc: np.ndarray, xe: np.ndarray, subsets: int, seed: int = 0, holdout_every: int = 4) -> dict[str, Any]:
    """The figures of the module docstring for one (model, calibration, evaluation)."""
    from realnets import engines as E
    import int8rt
    from int8rt.accuracy import auto_choice, metrics as M

    kept: dict[str, Any] = {}
    judge_for, choose = auto_choice.judge_for, auto_choice.choose

    def judge_for_kept(network, fit, held, batch_size, reference=None):
        out = judge_for(network, fit, held, batch_size, reference)
        kept.setdefault("network", network)
        kept.setdefault("judge", out[0])
        kept.setdefault("batch", batch_size)
        return out

    def choose_kept(build, sets, int8_names, judge, engines=None, folds=None):
        choice = choose(build, sets, int8_names, judge, engines=engines, folds=folds)
        kept.setdefault("choice", choice)
        kept.setdefault("sets", sets)
        kept.setdefault("build", build)
        kept.setdefault("folds", folds)
        return choice

    auto_choice.judge_for, auto_choice.choose = judge_for_kept, choose_kept
    try:
        int8rt.set_num_threads(2)
        from int8rt.data_calibrator import make_calibrator
        calibrator = make_calibrator({E._input_name(model): xc}, algorithm="auto", batch_size=16)
        engine = int8rt.build_engine(model, int8rt.BuilderConfig(calibrator=calibrator, accuracy_check=False,
                                                                 holdout_every=holdout_every))
    finally:
        auto_choice.judge_for, auto_choice.choose = judge_for, choose
    choice, judge = kept["choice"], kept["judge"]
    fp32, _ = E.int8rt_engine(model, "fp32", None, None)
    ref = E.run_batched(E.int8rt_runner(fp32), xe)
    name = E._input_name(model)
    on_eval = auto_choice.Scorer(kept["network"], [{name: xe}], kept["batch"])
    rows = {}
    for label in choice.errors:
        eng = choice.engines.get(label)
        if eng is None:  # a twin of a set already scored
            amaxes = kept["sets"][label][0]
            from int8rt._numerics import scale_from_amax
            eng = kept["build"]({n: scale_from_amax(a) for n, a in amaxes.items()})
        held = choice.errors[label]
        ev = on_eval(eng)
        out = E.run_batched(E.int8rt_runner(eng), xe)
        rows[label] = dict(held=held.relative_l2, held_plain=held.plain.relative_l2 if held.plain else None,
                           held_top_share=float(held.err.max() / max(held.err.sum(), 1e-30)),
                           eval=ev.relative_l2, eval_plain=ev.plain.relative_l2 if ev.plain else None,
                           eval_metric=float(M.relative_l2(ref, out)), _ev=ev, _held=held)
    final = float(M.relative_l2(ref, E.run_batched(E.int8rt_runner(engine), xe)))
    # the judge's sampling noise: the same engines judged on evaluation subsets of the held-out size
    n_held = len(choice.errors[auto_choice.DEFAULT_METHOD].err)
    rng = np.random.default_rng(seed)
    wins = {k: 0 for k in rows}
    beats_default = {k: 0 for k in rows}
    for _ in range(subsets):
        pick = rng.choice(len(xe), n_held, replace=False)
        sub = {k: auto_choice._Errors(r["_ev"].err[pick], r["_ev"].ref[pick]) for k, r in rows.items()}
        wins[min(sub, key=lambda k: sub[k].relative_l2)] += 1
        for k in sub:
            beats_default[k] += int(k != auto_choice.DEFAULT_METHOD and sub[k].clearly_below(sub[auto_choice.DEFAULT_METHOD]))
    return dict(rows=rows, label=choice.label, fold_errors=choice.folds, fold_data=_fold_data(kept.get("folds")), held_label=choice.held_label, worst=choice.worst, n_held=n_held,
                final=final, wins=wins, beats_default=beats_default, subsets=subsets,
                report=engine.build_report().auto_choice)


def _fold_data(folds: Any) -> list[np.ndarray]:
    """The first input of each fold's samples (crossval.Folds, after it scored; [] without folds)."""
    if folds is None:
        return []
    return [next(iter(scorer.data[0].values())) for _, scorer in getattr(folds, "_folds", [])]


def _worst_group(errors: Any, groups: int) -> float:
    """The largest relative L2 over ``groups`` interleaved groups of the samples (sample i in group i % groups)."""
    g = np.arange(len(errors.err)) % groups
    return max(float(np.sqrt(errors.err[g == i].sum() / errors.ref[g == i].sum())) for i in range(groups))


def print_extra(res: dict[str, Any], calib: np.ndarray, challenger: str, ids: np.ndarray, seed: int = 0) -> None:
    """Each set's folds (its worst fold's top sample: which calibration sample, its share), its
    worst interleaved group of the evaluation samples, and ``challenger`` against the default
    per evaluation sample (paired tests on all of them, and on random subsets of 12 / 36 / 100).
    ``ids``: each calibration sample's index in the data set (printed for the worst fold's top sample)."""
    from int8rt.accuracy import auto_choice, decision_rule as D

    for k, folds in res["fold_errors"].items():
        g = int(np.argmax([e.relative_l2 for e in folds]))
        e = folds[g]
        j = int(np.argmax(e.err))
        where = ""
        if g < len(res["fold_data"]):
            row = res["fold_data"][g][j]
            where = f", data set sample {[int(ids[i]) for i in range(len(calib)) if np.array_equal(calib[i], row)]}"
        rest = float(np.sqrt(np.delete(e.err, j).sum() / np.delete(e.ref, j).sum()))
        print(f"folds {k}: {[round(x.relative_l2, 4) for x in folds]}; worst fold {g + 1}: its top sample carries "
              f"{e.err[j] / e.err.sum():.2f}{where}; without it {rest:.4f}")
    for k, r in res["rows"].items():
        print(f"evaluation {k}: all {r['eval']:.4f}, worst of 4 interleaved groups {_worst_group(r['_ev'], 4):.4f}, "
              f"of 8 {_worst_group(r['_ev'], 8):.4f}")
    a, b = res["rows"][challenger]["_ev"], res["rows"][auto_choice.DEFAULT_METHOD]["_ev"]
    diff = a.err - b.err
    t = float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))))
    gain = -diff.sum()
    top5 = float(np.sort(-diff)[::-1][:5].sum() / gain) if gain > 0 else float("nan")
    print(f"{challenger} against {auto_choice.DEFAULT_METHOD} per evaluation sample: lower on {int((diff < 0).sum())}/"
          f"{len(diff)}, t = {t:.2f}, t-test {D.t_below(diff)}, signed-rank {D.rank_below(diff)}; the 5 samples it "
          f"gains most on carry {top5:.2f}x the net gain")
    rng = np.random.default_rng(seed)
    parts = []
    for n in (12, 36, len(diff)):
        reps = 400 if n < len(diff) else 1
        lower = clearly = 0
        for _ in range(reps):
            pick = rng.choice(len(diff), n, replace=False)
            ea, eb = auto_choice._Errors(a.err[pick], a.ref[pick]), auto_choice._Errors(b.err[pick], b.ref[pick])
            lower += ea.relative_l2 < eb.relative_l2
            clearly += ea.clearly_below(eb)
        parts.append(f"{n} samples: lower {lower / reps:.2f}, clearly below {clearly / reps:.2f}")
    print(f"{challenger} against {auto_choice.DEFAULT_METHOD} on random evaluation subsets: " + "; ".join(parts))
    print()


def print_probe(title: str, res: dict[str, Any]) -> None:
    print(f"### {title}: auto chose {res['label']} (held-out slice alone: {res['held_label']}), "
          f"{res['n_held']} held-out samples; auto's engine on evaluation {res['final']:.4f}")
    print("| set | held-out centred | held-out uncentred | top sample's share | eval centred | eval uncentred | "
          "eval metric (bench rel L2) | worst fold | lowest on eval subsets | clearly below mse on subsets |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, r in res["rows"].items():
        print(f"| {k} | {r['held']:.4f} | {r['held_plain'] or float('nan'):.4f} | {r['held_top_share']:.2f} | "
              f"{r['eval']:.4f} | {r['eval_plain'] or float('nan'):.4f} | {r['eval_metric']:.4f} | "
              f"{res['worst'].get(k, float('nan')):.4f} | {res['wins'][k]}/{res['subsets']} | "
              f"{res['beats_default'][k]}/{res['subsets']} |")
    print(f"decisions: { {k: v for k, v in res['report'].items() if k in ('thresholds', 'held_out_choice', 'bias_correction', 'errors', 'worst_fold_errors', 'samples')} }")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", default="onet", help="pnet, rnet, onet (MTCNN) or pesto (--wheel: its wheel)")
    ap.add_argument("--draw", type=int, default=1)
    ap.add_argument("--wheel", default="/tmp/calib16/dl/facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("--subsets", type=int, default=400)
    ap.add_argument("--challenger", default="percentile 99.99", help="the set compared with the default per sample")
    ap.add_argument("--holdout-every", type=int, default=4, help="BuilderConfig.holdout_every (accuracy_bench: 4)")
    args = ap.parse_args()
    if args.net == "pesto":  # benchmarks/calib16_pesto.py's data and draws
        import calib16_pesto as PE

        model, encoder, _ = PE.load(args.wheel)
        x = PE.frames(model)
        idx = np.arange(len(x))
        calib = idx[idx % 4 == (0 if args.draw == 1 else 2)]
        calib = calib[:len(calib) // 16 * 16]
        xc = x[calib]
        res = probe(PE.onnx_model(encoder), xc, x[idx % 2 == 1], args.subsets, holdout_every=args.holdout_every)
    else:
        import calib15_mtcnn as C

        x, labels = C.lfw_subset()
        calib, evaluation = C.split(labels, args.draw)
        xs = C.stage_inputs(x, C.SIZES[args.net])
        xc = xs[calib]
        res = probe(C.mtcnn_model(args.wheel, args.net), xc, xs[evaluation], args.subsets,
                    holdout_every=args.holdout_every)
    print_probe(f"{args.net}, draw {args.draw}, holdout_every {args.holdout_every}", res)
    print_extra(res, xc, args.challenger, calib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
