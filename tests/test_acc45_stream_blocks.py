"""auto on one long unlabelled stream of a network that carries a state
(python/int8rt/accuracy/recordings.py, "Blocks of one stream"; issue 12,
RESULTS_accuracy.md acc45): where a state is fed back and fewer than three
recordings are seen, the held-out batches are labelled by contiguous blocks
of the stream, cut 3, 5 and 8 ways, and a change of auto's engine must be
lower overall and on the worst block under every cut. Unit tests of the
labels, the spread and the rule; end to end on Silero VAD (the wheel's
model) calibrated on three clips run together with the state carried
across, nothing named, scored streamed on a fourth clip by centred cosine
(which a constant output cannot pass)."""
from __future__ import annotations

import numpy as np
import pytest

from int8rt.accuracy import recordings
from int8rt.accuracy.auto_choice import _Errors
from int8rt.accuracy.taps import WholeBatch
from test_recordings import _ccos, _silero, _silero_streams, _streamed


def _fed_back(n_held: int, total: int, given=None) -> tuple[recordings.Recordings, list[WholeBatch]]:
    """A Recordings that learnt a state pair (stateN -> state), and ``n_held``
    held-out whole batches spread over a stream of ``total``, one recording."""
    rec = recordings.Recordings(given)
    feed = {"x": np.ones((2, 3), np.float32), "state": np.zeros((2, 4), np.float32)}
    rec.label(0, feed)
    rec.ran(0, feed, lambda: {"y": np.zeros((2, 1), np.float32), "stateN": np.ones((2, 4), np.float32)})
    held = [WholeBatch(dict(feed), 2, group=0, index=i * total // n_held) for i in range(n_held)]
    return rec, held


def test_one_stream_is_cut_into_blocks_every_way() -> None:
    rec, held = _fed_back(32, 128)
    assert rec.blocks(held, 128)
    assert [b.group for b in held[:2]] == [(0, 0, 0), (0, 0, 0)]
    assert held[16].group == (1, 2, 4) and held[-1].group == (2, 4, 7)  # batch 64 of 128; batch 124
    assert "cut 3 / 5 / 8 ways" in rec.how
    labels = recordings.batch_groups(held)
    assert labels.shape == (32, 3)
    picked = recordings.spread_groups(held, 64)  # 64 samples over 8 blocks: 2 batches (of 2 samples) at least
    assert len({b.group[-1] for b in picked}) == 8 and all(
        sum(b.group[-1] == k for b in picked) >= recordings.MIN_BATCHES for k in range(8))
    assert "worst block for every cut" in recordings.recordings_line(rec, recordings.batch_groups(picked))


def test_no_blocks_where_recordings_are_seen_named_or_too_few_batches() -> None:
    rec, held = _fed_back(12, 128)  # the finest cut leaves blocks with one held-out batch: the prior
    assert not rec.blocks(held, 128) and held[0].group == 0
    rec, held = _fed_back(32, 128, given=["a"] * 128)  # named: the user's recordings, as given
    assert not rec.blocks(held, 128)
    rec, held = _fed_back(32, 128)
    for i, b in enumerate(held):
        b.group = i * 3 // 32  # three recordings inferred (resets): recordings, not blocks
    assert not rec.blocks(held, 128)
    plain = recordings.Recordings()  # no state fed back
    plain.ran(0, {"x": np.ones((2, 3))}, lambda: {"y": np.zeros((2, 1))})
    assert not plain.blocks([WholeBatch({"x": np.ones((2, 3))}, 2, 0, i) for i in range(32)], 32)


def _errors(per_batch: list[float], labels: np.ndarray) -> _Errors:
    err = np.array(per_batch, np.float64) ** 2
    return _Errors(err, np.ones_like(err), groups=labels)


def test_a_change_must_hold_on_the_worst_block_of_every_cut() -> None:
    labels = np.array([tuple(i * k // 40 for k in recordings.BLOCK_COUNTS) for i in range(40)])
    default = [0.3] * 40
    assert _errors([0.1] * 40, labels).clearly_below(_errors(default, labels))
    # far lower overall, but batches 20-22 high: the cut into 8 has them in one block of 5 (20-24), whose
    # error is above the default's; the cut into 3 spreads them over 13 batches and is below it
    spiky = [0.1] * 40
    spiky[20:23] = [0.45] * 3
    worst = {k: max(recordings.group_errors(_errors(spiky, labels), labels[:, j]).values())
             for j, k in enumerate(recordings.BLOCK_COUNTS)}
    assert worst[3] < 0.3 < worst[8], worst
    assert recordings.below(_errors(spiky, labels[:, 0]), _errors(default, labels[:, 0]), 0.01)  # cut 3 alone
    assert not _errors(spiky, labels).clearly_below(_errors(default, labels))  # every cut: not below
    assert set(recordings.group_errors(_errors(spiky, labels))) == {
        f"{k}:{g}" for k in recordings.BLOCK_COUNTS for g in range(k)}


def test_silero_unlabelled_three_clip_stream_judged_by_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/test_recordings.py's three clips (ARCTIC, amfm-decompy's, a
    speech-like signal) run together with the state carried across and
    nothing named: one recording is inferred. Judged by blocks, auto takes
    entropy, lower on the worst block of every cut; the rule before (the
    prior: mse, no correction) streams further from float32 on a fourth
    clip (another speech-like signal)."""
    from audio_signals import speech_like
    from test_audio_models import speech_clip

    clips = [speech_clip("pysptk", "example_audio_data/arctic_a0007.wav"), speech_clip("amfm_decompy", "sample.wav"),
             speech_like(3.0, seed=102)]
    parts = [_silero_streams(np.asarray(c, np.float32), 1 + i, 15.0) for i, c in enumerate(clips)]
    fp32 = _silero({})
    _, feeds = _streamed(fp32, np.concatenate(parts))
    evaluation = _silero_streams(np.asarray(speech_like(3.0, seed=101), np.float32), 2, 10.0)
    want, _ = _streamed(fp32, evaluation)
    new = _silero({"accuracy_check": True}, feeds)
    choice = new.build_report().auto_choice
    assert choice["recordings"].startswith("1 recordings, inferred from the state fed back (stateN -> state)")
    assert "cut 3 / 5 / 8 ways" in choice["recordings"] and "calibration_groups" in choice["recordings"]
    assert choice["thresholds"] == "entropy"
    errs = choice["recording_errors"]
    for k in recordings.BLOCK_COUNTS:
        worst = {s: max(v for g, v in e.items() if g.startswith(f"{k}:")) for s, e in errs.items()}
        assert worst["entropy"] < 0.99 * worst["mse"], (k, worst)
    monkeypatch.setattr(recordings.Recordings, "blocks", lambda self, held, total: False)  # the rule before
    old = _silero({"accuracy_check": True}, feeds)
    assert old.build_report().auto_choice["thresholds"] == "mse"
    got_new, got_old = _ccos(_streamed(new, evaluation)[0], want), _ccos(_streamed(old, evaluation)[0], want)
    assert got_new > got_old + 0.1, (got_new, got_old)
