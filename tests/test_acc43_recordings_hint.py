"""The build report's recordings line tells a user whose calibration stream
runs several recordings together how to name them (recordings.NAME_THEM;
RESULTS_accuracy.md acc43: no change point in Silero VAD's input tells the
clips of such a stream apart from the silences inside one clip, and named
they stream at 0.937 against 0.759 mean centred cosine)."""
from __future__ import annotations

import numpy as np

from int8rt.accuracy import recordings
from int8rt.accuracy.recordings import NAME_THEM, Recordings, recordings_line


def _inferred(count: int) -> Recordings:
    """Inferred recordings as run.py meets them: ``count`` seen, learnt from a fed-back state."""
    source = Recordings()
    source.count = count
    source.how = "inferred from the state fed back (stateN -> state) or reset"
    return source


def test_one_inferred_recording_says_how_to_name_them() -> None:
    line = recordings_line(_inferred(1), np.zeros(8, int))
    assert line.startswith("1 recordings, inferred from the state fed back (stateN -> state)")
    assert line.endswith(NAME_THEM)
    assert "calibration_groups" in line and "reset" in NAME_THEM


def test_two_inferred_recordings_say_it_too() -> None:
    assert recordings_line(_inferred(2), np.array([0, 0, 1, 1])).endswith(NAME_THEM)


def test_enough_recordings_or_given_labels_say_nothing_more() -> None:
    assert NAME_THEM not in recordings_line(_inferred(3), np.array([0, 1, 2, 0, 1, 2]))
    given = Recordings(["a"] * 4)
    given.label(0, {})
    line = recordings_line(given, np.zeros(4, int))
    assert line.startswith("1 recordings, given (BuilderConfig.calibration_groups)")
    assert NAME_THEM not in line and line.endswith("(one recording cannot show what another costs)")
    assert recordings.MIN_GROUPS == 3
