"""The paired tests every "clearly below" decision of auto reads
(python/int8rt/accuracy/decision_rule.py, ``paired_below``: Student's t or
Wilcoxon's signed ranks): the signed-rank tail against SciPy (exact and
normal) and against a count over every sign pattern where ranks tie; and a
toy where the t-test alone errs toward the default and the pair does not,
judged on evaluation data by centred cosine.

The toy (the CRNNs' shape of evidence, RESULTS_accuracy.md acc36): a
linear layer reads a non-negative activation; the default engine holds it
on the signed int8 grid at threshold 3 (127 steps of 3/127, clipping the
rare sample with a channel at 4.5), the challenger on the unsigned grid at
threshold 5 (255 steps of 5/255: finer, and clipping nothing). On 16
held-out samples, one of them spiking, the challenger is lower on every
sample; the default's one clipped sample inflates the differences' spread
and the t-test reads t about -1."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from int8rt.accuracy import auto_choice, decision_rule as D
from int8rt.accuracy.auto_choice import Scorer, _Errors

CH, OUT, CHUNK = 64, 16, 8
W = np.random.default_rng(7).normal(0, 1, (CH, OUT))


def _activations(n: int, seed: int) -> np.ndarray:
    """Post-ReLU activations; every 16th sample has one channel at 4.5."""
    x = np.maximum(np.random.default_rng(seed).normal(0.5, 0.6, (n, CH)), 0.0)
    x[::16, 5] = 4.5
    return x.astype(np.float32)


def _quantize(x: np.ndarray, threshold: float, levels: int) -> np.ndarray:
    step = threshold / levels
    return np.clip(np.round(x / step), 0, levels) * step


class _Engine:
    """Stands in for an INT8 engine: the layer on its activation grid."""

    def __init__(self, threshold: float, levels: int) -> None:
        self.threshold, self.levels = threshold, levels

    def create_execution_context(self):
        return self

    def run(self, chunk):
        return {"y": _quantize(chunk["x"], self.threshold, self.levels) @ W}


DEFAULT, CHALLENGER = _Engine(3.0, 127), _Engine(5.0, 255)


def _centred_cosine(got: np.ndarray, ref: np.ndarray) -> float:
    g, r = got - got.mean(axis=0), ref - ref.mean(axis=0)
    return float((g * r).sum() / np.sqrt((g * g).sum() * (r * r).sum()))


def _signs_tail(ranks: np.ndarray, w: float) -> float:
    """P(sum of positively signed ranks <= w), counted over all 2^n sign patterns."""
    sums = [sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=len(ranks))]
    return float(np.mean(np.array(sums) <= w + 1e-9))


def test_rank_tail_is_wilcoxons() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 5, 8, 16, 40, 64):
        d = rng.normal(-0.3, 1.0, n)
        ranks = D._midranks(np.abs(d))
        got = D.rank_tail(ranks, float(ranks[d > 0].sum()))
        assert got == pytest.approx(stats.wilcoxon(d, alternative="less", method="exact").pvalue, rel=1e-12)
    d = rng.normal(-0.1, 1.0, 150)  # past RANK_EXACT_MAX: the normal approximation, continuity-corrected
    ranks = D._midranks(np.abs(d))
    want = stats.wilcoxon(d, alternative="less", method="approx", correction=True).pvalue
    assert D.rank_tail(ranks, float(ranks[d > 0].sum())) == pytest.approx(want, rel=1e-9)
    for seed in range(4):  # ties: midranks, the null counted over every sign pattern
        d = np.round(np.random.default_rng(seed).normal(-0.2, 1.0, 11), 1)
        d = d[d != 0]
        ranks = D._midranks(np.abs(d))
        assert len(set(ranks.tolist())) < len(ranks)
        w = float(ranks[d > 0].sum())
        assert D.rank_tail(ranks, w) == pytest.approx(_signs_tail(ranks, w), abs=1e-12)


def test_midranks_share_ties() -> None:
    assert D._midranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


def test_one_sample_carries_neither_test() -> None:
    """Lower on 1 of 16 samples by a lot, higher on 15 by a little: the
    mean difference is negative, and neither test takes it."""
    diff = np.r_[-10.0, np.full(15, 0.01)]
    assert diff.mean() < 0
    assert not D.t_below(diff) and not D.rank_below(diff) and not D.paired_below(diff, np.zeros(16))
    # 5 of 8 lower, mean 10% lower (test_auto_choice's "mixed"): neither
    mixed = np.array([0.4, 0.5, 0.6, 0.7, 0.8, 1.2, 1.3, 1.7]) - 1.0
    assert not D.t_below(mixed) and not D.rank_below(mixed)


def test_a_set_lower_on_every_sample_beats_a_default_with_one_bad_sample() -> None:
    held, evaluation = _activations(16, 1), _activations(512, 2)
    data = {"x": held}
    reference = [{"y": held[i:i + CHUNK] @ W} for i in range(0, len(held), CHUNK)]
    judge = Scorer(None, data, CHUNK, reference)
    default, challenger = judge(DEFAULT), judge(CHALLENGER)
    assert int((challenger.err < default.err).sum()) == 16
    assert challenger.relative_l2 < (1.0 - D.MIN_GAIN) * default.relative_l2
    diff = challenger.err - default.err
    t = diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))
    assert -1.2 < t < -0.8 and not D.t_below(diff)  # the t-test alone: not clearly below
    assert D.rank_below(diff) and challenger.clearly_below(default)  # 2^-16 by the ranks
    sets = {"mse": ({"x": 3.0}, {"x": "mse"}), "minmax": ({"x": 5.0}, {"x": "minmax"})}
    choice = auto_choice.choose(None, sets, {"x"}, judge, {"mse": DEFAULT, "minmax": CHALLENGER})
    assert choice.label == "minmax"
    # On evaluation samples (512, a spike every 16th) the chosen engine is the closer one.
    ref = evaluation @ W
    chosen = _centred_cosine(CHALLENGER.run({"x": evaluation})["y"], ref)
    kept_by_t = _centred_cosine(DEFAULT.run({"x": evaluation})["y"], ref)
    assert chosen > 0.9999 and kept_by_t < 0.999, (chosen, kept_by_t)


def test_equal_engines_are_not_below() -> None:
    err = np.random.default_rng(3).uniform(0, 1, 16)
    same = _Errors(err.copy(), np.ones(16))
    assert not same.clearly_below(_Errors(err, np.ones(16))) and not D.rank_below(np.zeros(16))
