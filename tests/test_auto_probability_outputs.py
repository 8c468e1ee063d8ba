"""auto judges a Softmax's output by its log-probabilities
(python/int8rt/accuracy/auto_choice.py, ``Scorer``): an ``[N, C]`` output
whose rows are probabilities is compared as log(p) centred over the classes
(the Softmax's input less its row mean), then centred over the samples with
the gain fit, as every class-score output. Oracle: the same relative error
written out in NumPy from the description. Also: logits are compared as they
are; a constant output scores 1; and the property that motivates it (PP-OCR
cls, RESULTS_accuracy.md 2026-12-04 evening): on probabilities one sample
near the decision boundary carries the error of a slice of confident ones,
on log-probabilities every sample counts. Per-time-step probabilities
(``[N, T, C]``, a CTC recogniser's output) likewise: log(p) centred over
the classes at each step, then centred over the samples."""
from __future__ import annotations

import numpy as np
import pytest

from int8rt.accuracy import auto_choice
from int8rt.accuracy.auto_choice import Scorer

N, C, CHUNK = 24, 3, 8


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class _Engine:
    """Stands in for an INT8 engine: returns fixed outputs chunk by chunk."""

    def __init__(self, out: np.ndarray, name: str = "y") -> None:
        self.out, self.name = out, name

    def create_execution_context(self):
        engine = self

        class _Context:
            def __init__(self) -> None:
                self.at = 0

            def run(self, chunk):
                n = len(chunk["x"])
                self.at += n
                return {engine.name: engine.out[self.at - n:self.at]}

        return _Context()


def _scorer(ref: np.ndarray) -> Scorer:
    data = {"x": np.zeros((N, 1), np.float32)}
    reference = [{"y": ref[i:i + CHUNK]} for i in range(0, N, CHUNK)]
    return Scorer(None, data, CHUNK, reference)


def _oracle(got: np.ndarray, ref: np.ndarray) -> float:
    """Relative L2 after centring over the samples and the best gain >= 0."""
    g, r = got - got.mean(axis=0), ref - ref.mean(axis=0)
    gain = max(0.0, float(np.vdot(g, r) / np.vdot(g, g))) if np.vdot(g, g) > 0 else 0.0
    return float(np.linalg.norm(g * gain - r) / np.linalg.norm(r))


def _logp(p: np.ndarray) -> np.ndarray:
    lp = np.log(np.maximum(p.astype(np.float64), np.finfo(np.float32).tiny))
    return lp - lp.mean(axis=-1, keepdims=True)


@pytest.fixture
def logits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, (N, C))
    return z, z + rng.normal(0, 0.3, (N, C))


def test_probabilities_are_judged_as_centred_log_probabilities(logits) -> None:
    z, zq = logits
    ref, got = _softmax(z), _softmax(zq)
    scorer = _scorer(ref)
    assert scorer.probabilities == {"y"}
    err = scorer(_Engine(got)).relative_l2
    assert err == pytest.approx(_oracle(_logp(got), _logp(ref)), rel=1e-6)
    assert abs(err - _oracle(got.astype(np.float64), ref.astype(np.float64))) > 0.01  # not the old metric


def test_logits_are_judged_as_they_are(logits) -> None:
    z, zq = logits
    scorer = _scorer(z.astype(np.float32))
    assert scorer.probabilities == set()
    err = scorer(_Engine(zq.astype(np.float32))).relative_l2
    assert err == pytest.approx(_oracle(zq.astype(np.float32).astype(np.float64), z.astype(np.float32)), rel=1e-6)


def test_a_constant_output_scores_one(logits) -> None:
    z, _ = logits
    ref = _softmax(z)
    assert _scorer(ref)(_Engine(np.repeat(ref[:1], N, axis=0))).relative_l2 == pytest.approx(1.0)


def test_one_boundary_sample_does_not_carry_the_error(monkeypatch) -> None:
    """Confident samples (logit gap 12) with the same logit error as one
    sample at the boundary (gap 0.2): on probabilities the boundary sample
    holds nearly all of the error, on log-probabilities a share near its
    count's."""
    rng = np.random.default_rng(1)
    gap = np.full(N, 12.0)
    gap[5] = 0.2
    sign = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    z = np.stack([sign * gap / 2, -sign * gap / 2], axis=1)
    zq = z + rng.normal(0, 0.25, (N, 2))
    ref, got = _softmax(z), _softmax(zq)
    shares = {}
    for name in ("log p", "p"):
        if name == "p":  # probabilities as they are (the Scorer before)
            monkeypatch.setattr(auto_choice, "_probability_outputs", lambda outputs, centred: set())
        e = _scorer(ref)(_Engine(got)).err
        shares[name] = e[5] / e.sum()
    assert shares["p"] > 0.5, shares
    assert shares["log p"] < 0.2, shares


T = 5


@pytest.fixture
def step_logits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    z = rng.normal(0, 4, (N, T, C))
    return z, z + rng.normal(0, 0.3, (N, T, C))


def test_step_probabilities_are_judged_as_centred_log_probabilities(step_logits) -> None:
    z, zq = step_logits
    ref, got = _softmax(z), _softmax(zq)
    scorer = _scorer(ref)
    assert scorer.probabilities == {"y"} and scorer.centred == {"y"}
    err = scorer(_Engine(got)).relative_l2
    assert err == pytest.approx(_oracle(_logp(got), _logp(ref)), rel=1e-6)
    assert abs(err - _oracle(got.astype(np.float64), ref.astype(np.float64))) > 0.01  # not the old metric
    # a constant output (every sample the first one's steps) cannot pass
    assert scorer(_Engine(np.repeat(ref[:1], N, axis=0))).relative_l2 == pytest.approx(1.0)


def test_step_outputs_that_are_not_probabilities_are_judged_as_they_are(step_logits) -> None:
    z, zq = step_logits
    scorer = _scorer(z.astype(np.float32))
    assert scorer.probabilities == set() and scorer.centred == set()
    got, ref = zq.astype(np.float32).astype(np.float64), z.astype(np.float32).astype(np.float64)
    assert scorer(_Engine(zq.astype(np.float32))).relative_l2 == pytest.approx(
        float(np.linalg.norm(got - ref) / np.linalg.norm(ref)), rel=1e-6)


def test_one_boundary_step_does_not_carry_the_error(monkeypatch) -> None:
    """CTC-like steps: every step confident (gap 12) but one of one sample
    (gap 0.2), the same logit error everywhere. On probabilities that step
    holds nearly all of the error, on log-probabilities a share near its
    count's (1 of N * T steps)."""
    rng = np.random.default_rng(3)
    gap = np.full((N, T), 12.0)
    gap[5, 2] = 0.2
    sign = np.where(np.arange(N * T).reshape(N, T) % 2 == 0, 1.0, -1.0)
    z = np.stack([sign * gap / 2, -sign * gap / 2], axis=-1)
    zq = z + rng.normal(0, 0.25, (N, T, 2))
    ref, got = _softmax(z), _softmax(zq)
    shares = {}
    for name in ("log p", "p"):
        if name == "p":  # per-step probabilities as they are (the Scorer at 47140d2)
            monkeypatch.setattr(auto_choice, "_step_probability_outputs", lambda *args: set())
        e = _scorer(ref)(_Engine(got)).err
        shares[name] = e[5] / e.sum()
    assert shares["p"] > 0.5, shares
    assert shares["log p"] < 0.2, shares
