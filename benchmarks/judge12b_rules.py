"""acc63: choice rules for auto's whole-network set replayed on what
judge12b_gap.py recorded (``--json`` of a run with the ``auto`` variant and
every ``auto=<label>`` variant): per draw, each set's per-sample errors on
the held-out slice and on the kept samples' other folds (thresholds fitted
without the fold), and the evaluation relative L2 of auto's engine forced
to each set. A rule maps the recorded judgement to a set; its figure on a
draw is that set's forced engine's evaluation error (what auto would have
built choosing it: every later decision follows the chosen set).

Rules (auto_choice.py's steps named as there):
- ``auto``: the recorded choice (steps 3 and 4), as the library made it.
- ``step3``: step 3 alone on the held-out slice (mse unless another set is
  clearly lower: decision_rule.paired_below and MIN_GAIN).
- ``pooled``: step 3's rule on the held-out slice and the other folds
  pooled (every calibration sample judges, out of fold): cross-fitting.
- ``pooled+4``: ``pooled``, then step 4's worst-fold override as the
  library applies it.
- ``pooled-min``: the lowest pooled relative L2.
- ``mean-min``: the lowest mean over the folds of the relative L2.
- ``worst-min``: the lowest worst-fold relative L2 (step 4's criterion alone).
- ``vote``: the set most often lowest over 200 bootstrap resamples of the
  pooled samples (seeded).
- ``vote-default``: ``vote``'s set where it is below the default (mse) on
  at least 80 % of the resamples, else mse (added after the others were
  seen: exploratory).
- ``oracle``: the set with the lowest evaluation error (no rule reaches it).

Usage: PYTHONPATH=python python benchmarks/judge12b_rules.py /tmp/judge12b/rec_rnet.json [...]
"""
from __future__ import annotations

import json
import sys
from typing import Callable

import numpy as np

SINGLES = ("minmax", "percentile", "mse", "entropy")
FOLD_GAIN = 0.1


def rel(err: np.ndarray, ref: np.ndarray) -> float:
    return float(np.sqrt(err.sum() / max(ref.sum(), 1e-30)))


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def main() -> int:
    from int8rt.accuracy.auto_choice import DEFAULT_METHOD, MIN_GAIN
    from int8rt.accuracy.decision_rule import paired_below

    def clearly(a: tuple, b: tuple) -> bool:
        return rel(*a) < (1.0 - MIN_GAIN) * rel(*b) and paired_below(a[0], b[0])

    def step3(errs: dict) -> str:
        start = DEFAULT_METHOD
        ch = [k for k in errs if clearly(errs[k], errs[start])]
        return min(ch, key=lambda k: rel(*errs[k])) if ch else start

    def step4(start: str, folds: dict) -> str:
        worst = {k: max(rel(e, r) for e, r in f) for k, f in folds.items()}
        beyond = {k: max(rel(e, r) for e, r in f[1:]) for k, f in folds.items()}
        best = min(worst, key=worst.__getitem__)
        if worst[best] < (1 - FOLD_GAIN) * worst[start] and beyond[best] < (1 - FOLD_GAIN) * beyond[start]:
            return best
        return start

    def pooled(folds: dict) -> dict:
        return {k: (np.concatenate([e for e, _ in f]), np.concatenate([r for _, r in f])) for k, f in folds.items()}

    def vote(folds: dict, seed: int) -> str:
        p = pooled(folds)
        n = len(next(iter(p.values()))[0])
        rng = np.random.default_rng(seed)
        wins: dict[str, int] = {k: 0 for k in p}
        for _ in range(200):
            i = rng.integers(0, n, n)
            wins[min(p, key=lambda k: rel(p[k][0][i], p[k][1][i]))] += 1
        return max(wins, key=lambda k: (wins[k], k == DEFAULT_METHOD))

    def vote_default(folds: dict, seed: int, share: float = 0.8) -> str:
        """``vote``'s set where it is below the default on at least ``share``
        of the resamples, else the default."""
        p = pooled(folds)
        n = len(next(iter(p.values()))[0])
        rng = np.random.default_rng(seed)
        wins: dict[str, int] = {k: 0 for k in p}
        below = {k: 0 for k in p}
        for _ in range(200):
            i = rng.integers(0, n, n)
            r = {k: rel(p[k][0][i], p[k][1][i]) for k in p}
            wins[min(r, key=r.__getitem__)] += 1
            for k in p:
                below[k] += r[k] < r[DEFAULT_METHOD]
        best = max(wins, key=lambda k: (wins[k], k == DEFAULT_METHOD))
        return best if below[best] >= share * 200 else DEFAULT_METHOD

    rules: dict[str, Callable[[dict, int], str]] = {
        "step3": lambda f, d: step3({k: v[0] for k, v in f.items()}),
        "pooled": lambda f, d: step3(pooled(f)),
        "pooled+4": lambda f, d: step4(step3(pooled(f)), f),
        "pooled-min": lambda f, d: min(pooled(f), key=lambda k: rel(*pooled(f)[k])),
        "mean-min": lambda f, d: min(f, key=lambda k: np.mean([rel(e, r) for e, r in f[k]])),
        "worst-min": lambda f, d: min(f, key=lambda k: max(rel(e, r) for e, r in f[k])),
        "vote": lambda f, d: vote(f, d),
        "vote-default": lambda f, d: vote_default(f, d),
    }
    for path in sys.argv[1:]:
        data = load(path)
        net, draws, rows = data["net"], data["draws"], data["rel_l2"]
        best = min(SINGLES, key=lambda k: np.mean([rows[k][str(d)] for d in draws]))
        table: dict[str, list[float]] = {"auto": [rows["auto"][str(d)] for d in draws]}
        chosen: dict[str, list[str]] = {"auto": [data["picks"]["auto"][str(d)].split("->")[-1] for d in draws]}
        for name, rule in list(rules.items()) + [("oracle", None)]:
            table[name], chosen[name] = [], []
            for d in draws:
                rec = data["judged"][str(d)][0]
                folds = {k: [(np.asarray(e), np.asarray(r)) for e, r in v] for k, v in rec.items()}
                if name == "oracle":
                    label = min(folds, key=lambda k: rows.get(f"auto={k}", {}).get(str(d), np.inf))
                else:
                    label = rule(folds, d)
                chosen[name].append(label)
                table[name].append(rows[f"auto={label}"][str(d)] if f"auto={label}" in rows else np.nan)
        print(f"\n{net}: best single method by mean {best} {np.mean([rows[best][str(d)] for d in draws]):.4f}; "
              f"{len(draws)} draws")
        print("| rule | mean | - best single (SE, lower on) | - auto (SE, lower on) | sets chosen |")
        print("|---|---|---|---|---|")
        ref_best = np.asarray([rows[best][str(d)] for d in draws])
        ref_auto = np.asarray(table["auto"])
        for name, vals in table.items():
            v = np.asarray(vals)
            cells = []
            for ref in (ref_best, ref_auto):
                diff = v - ref
                cells.append(f"{diff.mean():+.4f} ({diff.std(ddof=1) / np.sqrt(len(diff)):.4f}, {int((diff < 0).sum())})")
            short = [c.replace("percentile 99.99", "p99.99") for c in chosen[name]]
            print(f"| {name} | {v.mean():.4f} | {cells[0]} | {cells[1]} | {' '.join(short)} |")
        # How often the judgement orders two sets as the evaluation does, over
        # every pair of sets whose evaluation errors differ by less than 25 %
        # (the close calls the rules must make; a collapsed set is easy).
        agree = {"held-out": [0, 0], "pooled": [0, 0], "worst fold": [0, 0]}
        for d in draws:
            rec = data["judged"][str(d)][0]
            folds = {k: [(np.asarray(e), np.asarray(r)) for e, r in v] for k, v in rec.items()}
            p = pooled(folds)
            score = {"held-out": {k: rel(*f[0]) for k, f in folds.items()},
                     "pooled": {k: rel(*p[k]) for k in p},
                     "worst fold": {k: max(rel(e, r) for e, r in f) for k, f in folds.items()}}
            ev = {k: rows[f"auto={k}"][str(d)] for k in folds if f"auto={k}" in rows}
            labels = sorted(ev)
            for i, a in enumerate(labels):
                for b in labels[i + 1:]:
                    if max(ev[a], ev[b]) > 1.25 * min(ev[a], ev[b]) or ev[a] == ev[b]:
                        continue
                    for name, sc in score.items():
                        if sc[a] == sc[b]:
                            continue
                        agree[name][0] += (sc[a] < sc[b]) == (ev[a] < ev[b])
                        agree[name][1] += 1
        print("close pairs ordered as the evaluation orders them: "
              + ", ".join(f"{k} {a} of {n}" for k, (a, n) in agree.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
